// ValidateService as kube-apiserver 1.32 words it: each case is a Service spec and the exact
// field errors kubectl would print.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate } from '../../../src/apiserver/validation.js';
import { validateServiceUpdate } from '../../../src/apiserver/services/validation.js';

type Obj = Record<string, any>;

const base = (spec: Obj, name = 'web'): Obj => ({
  metadata: { name, namespace: 'default' },
  spec: { type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], ...spec },
});
const errors = (obj: Obj): string[] => validate('', 'Service', obj, true).map((e) => e.toString());

describe('ValidateService', () => {
  const cases: Array<[string, Obj, string[]]> = [
    ['a plain ClusterIP Service is valid', base({}), []],
    ['a name must be a DNS-1035 label', base({}, '1web'), [
      `metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    ]],
    ['ports are required unless headless or ExternalName', base({ ports: [] }), ['spec.ports: Required value']],
    ['a port must be 1-65535', base({ ports: [{ port: 70000, protocol: 'TCP', targetPort: 80 }] }), ['spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive']],
    ['several ports need names', base({ ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }, { name: 'b', port: 81, protocol: 'TCP', targetPort: 81 }] }), ['spec.ports[0].name: Required value']],
    ['port names are unique', base({ ports: [{ name: 'a', port: 80, protocol: 'TCP', targetPort: 80 }, { name: 'a', port: 81, protocol: 'TCP', targetPort: 81 }] }), ['spec.ports[1].name: Duplicate value: "a"']],
    ['the protocol is one of SCTP, TCP, UDP', base({ ports: [{ port: 80, protocol: 'HTTP', targetPort: 80 }] }), ['spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']],
    ['a named targetPort follows IANA_SVC_NAME', base({ ports: [{ port: 80, protocol: 'TCP', targetPort: 'http--x' }] }), ['spec.ports[0].targetPort: Invalid value: "http--x": must not contain consecutive hyphens']],
    ['the same port and protocol twice is a duplicate', base({ ports: [{ name: 'a', port: 80, protocol: 'TCP', targetPort: 80 }, { name: 'b', port: 80, protocol: 'TCP', targetPort: 81 }] }), [
      'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ]],
    ['the same port on TCP and UDP is fine', base({ ports: [{ name: 'a', port: 53, protocol: 'TCP', targetPort: 53 }, { name: 'b', port: 53, protocol: 'UDP', targetPort: 53 }] }), []],
    ['a nodePort may not be set on a ClusterIP Service', base({ ports: [{ port: 80, protocol: 'TCP', targetPort: 80, nodePort: 30080 }] }), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]],
    ['an unknown type is refused', base({ type: 'Magic' }), ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']],
    ['ClientIP affinity timeout is at most a day', base({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90000 } } }), [
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 90000: must be greater than 0 and less than 86400',
    ]],
    ['affinity config needs ClientIP affinity', base({ sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } } }), ['spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None']],
    ['externalTrafficPolicy is for externally reachable Services', base({ externalTrafficPolicy: 'Local' }), ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']],
    ['external IPs must be real, non-special IPs', base({ externalTrafficPolicy: 'Cluster', externalIPs: ['1.2.3', '127.0.0.1'] }), [
      'spec.externalIPs[0]: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      'spec.externalIPs[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
    ]],
    ['source ranges are for LoadBalancers and must be CIDRs', base({ loadBalancerSourceRanges: ['10.0.0.0/33'] }), [
      "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
      'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    ]],
    ['a LoadBalancer with Local traffic needs a health check port', base({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', allocateLoadBalancerNodePorts: true }), ['spec.healthCheckNodePort: Required value']],
    ['clusterIPs must start with clusterIP', base({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.6'] }), ['spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: first value must match `clusterIP`']],
    ['None must be the only clusterIP', base({ clusterIP: 'None', clusterIPs: ['None', '10.96.0.6'] }), ['spec.clusterIPs: Invalid value: []string{"None", "10.96.0.6"}: \'None\' must be the first and only value']],
    ['two clusterIPs must be of two families', base({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5', '10.96.0.6'] }), ['spec.clusterIPs: Invalid value: []string{"10.96.0.5", "10.96.0.6"}: may specify no more than one IP for each IP family']],
    ['a clusterIP must match its family', base({ clusterIP: 'fd00::5', clusterIPs: ['fd00::5'], ipFamilies: ['IPv4'] }), ['spec.clusterIPs[0]: Invalid value: "fd00::5": expected an IPv4 value as indicated by `ipFamilies[0]`']],
    ['a NodePort Service may not be headless', base({ type: 'NodePort', externalTrafficPolicy: 'Cluster', clusterIP: 'None', clusterIPs: ['None'] }), ['spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services']],
    ['an ExternalName needs a DNS name', { metadata: { name: 'ext', namespace: 'default' }, spec: { type: 'ExternalName', sessionAffinity: 'None', externalName: 'not_a_name' } }, [
      "spec.externalName: Invalid value: \"not_a_name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]],
  ];
  for (const [name, svc, want] of cases) it(name, () => assert.deepEqual(errors(svc), want));
});

describe('ValidateServiceUpdate', () => {
  const cases: Array<[string, Obj, Obj, string[]]> = [
    ['the clusterIP may not change', { type: 'ClusterIP', clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5'] }, { type: 'ClusterIP', clusterIP: '10.96.0.6', clusterIPs: ['10.96.0.6'] }, [
      'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set',
    ]],
    ['the same clusterIP is fine', { type: 'ClusterIP', clusterIPs: ['10.96.0.5'] }, { type: 'ClusterIP', clusterIPs: ['10.96.0.5'] }, []],
    ['a change to or from ExternalName may change it', { type: 'ExternalName' }, { type: 'ClusterIP', clusterIPs: ['10.96.0.6'] }, []],
    ['the health check port of a Local LoadBalancer is immutable', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30001 }, { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30002 }, [
      'spec.healthCheckNodePort: Forbidden: field is immutable',
    ]],
  ];
  for (const [name, old, next, want] of cases) it(name, () => assert.deepEqual(validateServiceUpdate(next, old).map((e) => e.toString()), want));
});
