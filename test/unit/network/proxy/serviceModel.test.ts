import { endpoint, servicePort } from '../../../support/proxyStateBuilders.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice, Endpoint } from 'kubernetes-types/discovery/v1.js';
import { categorizeEndpoints, endpointsFromSlices, servicePortsFromService } from '../../../../src/network/proxy/serviceModel.js';
import type { EndpointInfo, ServicePortInfo } from '../../../../src/network/proxy/types.js';

function service(spec: Service['spec'], status?: Service['status']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name: 'web', resourceVersion: '1' }, spec, ...(status ? { status } : {}) };
}

function slice(name: string, endpoints: Endpoint[], ports: EndpointSlice['ports'] = [{ name: 'http', port: 8080, protocol: 'TCP' }], addressType = 'IPv4'): EndpointSlice {
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'ns', name, labels: { 'kubernetes.io/service-name': 'web' }, resourceVersion: '1' }, addressType, endpoints, ports };
}

const ep = (ip: string, conditions: Endpoint['conditions'] = {}, nodeName = 'node-a'): Endpoint => ({ addresses: [ip], conditions, nodeName });

describe('servicePortsFromService', () => {
  const cases: Array<{ name: string; svc: Service; family?: 'IPv4' | 'IPv6'; want: Record<string, Partial<ServicePortInfo>> }> = [
    {
      name: 'a ClusterIP service gives one entry per port, keyed ns/name:port, protocol defaulting to TCP',
      svc: service({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5'], ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] }),
      want: { 'ns/web:http': { clusterIP: '10.96.0.5', port: 80, protocol: 'TCP', nodePort: 0 }, 'ns/web:dns': { port: 53, protocol: 'UDP' } },
    },
    { name: 'a headless service (clusterIP None) is not in the model', svc: service({ clusterIP: 'None', ports: [{ port: 80 }] }), want: {} },
    { name: 'an ExternalName service is not in the model', svc: service({ type: 'ExternalName', externalName: 'example.com', ports: [{ port: 80 }] }), want: {} },
    { name: 'a service without a cluster IP of the asked family is not in the model', svc: service({ clusterIP: '10.96.0.5', ports: [{ port: 80 }] }), family: 'IPv6', want: {} },
    {
      name: 'a dual-stack service gives the IPv6 cluster IP and only IPv6 external IPs for the IPv6 family',
      svc: service({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5', 'fd00::5'], externalIPs: ['192.0.2.1', '2001:db8::1'], ports: [{ port: 80 }] }),
      family: 'IPv6',
      want: { 'ns/web': { clusterIP: 'fd00::5', externalIPs: ['2001:db8::1'] } },
    },
    {
      name: 'ClientIP affinity without a timeout gets upstream\'s 10800 seconds',
      svc: service({ clusterIP: '10.96.0.5', sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }),
      want: { 'ns/web': { stickyMaxAgeSeconds: 10800 } },
    },
    {
      name: 'a LoadBalancer with externalTrafficPolicy Local has its VIPs (VIP mode only), source ranges and health check port',
      svc: service(
        { type: 'LoadBalancer', clusterIP: '10.96.0.5', externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, loadBalancerSourceRanges: ['203.0.113.0/24'], ports: [{ port: 80, nodePort: 30080 }] },
        { loadBalancer: { ingress: [{ ip: '198.51.100.1' }, { ip: '198.51.100.2', ipMode: 'Proxy' }, { hostname: 'lb.example' }] } },
      ),
      want: { 'ns/web': { nodePort: 30080, loadBalancerVIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'], externalPolicyLocal: true, healthCheckNodePort: 31000 } },
    },
    {
      name: 'externalTrafficPolicy Local on a plain ClusterIP service (not externally reachable) does not count',
      svc: service({ clusterIP: '10.96.0.5', externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', ports: [{ port: 80 }] }),
      want: { 'ns/web': { externalPolicyLocal: false, internalPolicyLocal: true } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = servicePortsFromService(c.svc, c.family ?? 'IPv4');
      assert.deepEqual([...got.keys()].sort(), Object.keys(c.want).sort());
      for (const [k, want] of Object.entries(c.want)) {
        const info = got.get(k)!;
        for (const [field, v] of Object.entries(want)) assert.deepEqual(info[field as keyof ServicePortInfo], v, `${k}.${field}`);
      }
    });
  }
});

describe('endpointsFromSlices', () => {
  it('reads conditions as upstream: unset ready is ready, unset serving is serving, unset terminating is not terminating', () => {
    const got = endpointsFromSlices([slice('a', [ep('10.0.0.1'), ep('10.0.0.2', { ready: false, serving: true, terminating: true }, 'node-b')])], 'node-a', 'IPv4');
    assert.deepEqual(got.get('ns/web:http'), [
      { ip: '10.0.0.1', port: 8080, ready: true, serving: true, terminating: false, isLocal: true, nodeName: 'node-a' },
      { ip: '10.0.0.2', port: 8080, ready: false, serving: true, terminating: true, isLocal: false, nodeName: 'node-b' },
    ]);
  });
  it('merges the slices of one service and lists an endpoint present in two slices once', () => {
    const got = endpointsFromSlices([slice('b', [ep('10.0.0.3'), ep('10.0.0.1')]), slice('a', [ep('10.0.0.1')])], 'node-a', 'IPv4');
    assert.deepEqual(got.get('ns/web:http')!.map((e) => e.ip), ['10.0.0.1', '10.0.0.3']);
  });
  it('skips slices of the other family, endpoints without addresses and ports without a number', () => {
    const got = endpointsFromSlices(
      [slice('v6', [ep('fd00::1')], undefined, 'IPv6'), slice('a', [{ addresses: [] }, ep('10.0.0.1')], [{ name: 'http', port: 8080 }, { name: 'none' }])],
      'node-a',
      'IPv4',
    );
    assert.deepEqual([...got.keys()], ['ns/web:http']);
    assert.equal(got.get('ns/web:http')!.length, 1);
  });
});

describe('categorizeEndpoints', () => {
  const svc = (p: Partial<ServicePortInfo> = {}): ServicePortInfo => servicePort('web', '10.96.0.5', 80, { name: { namespace: 'ns', name: 'web', port: '', protocol: 'TCP' }, ...p });
  const e = (ip: string, p: Partial<EndpointInfo> = {}): EndpointInfo => endpoint(ip, 8080, p);
  const ips = (list: EndpointInfo[]) => list.map((x) => x.ip);
  const cases: Array<{ name: string; svc: ServicePortInfo; eps: EndpointInfo[]; cluster: string[]; local: string[]; all: string[]; any: boolean }> = [
    { name: 'Cluster policy uses every ready endpoint and no local chain', svc: svc(), eps: [e('1'), e('2', { isLocal: true }), e('3', { ready: false, serving: false })], cluster: ['1', '2'], local: [], all: ['1', '2'], any: true },
    {
      name: 'with no ready endpoint, Cluster policy falls back to serving-terminating ones',
      svc: svc(),
      eps: [e('1', { ready: false, serving: true, terminating: true }), e('2', { ready: false, serving: false, terminating: true })],
      cluster: ['1'],
      local: [],
      all: ['1'],
      any: true,
    },
    { name: 'terminating endpoints are ignored while a ready one exists', svc: svc(), eps: [e('1'), e('2', { ready: false, serving: true, terminating: true })], cluster: ['1'], local: [], all: ['1'], any: true },
    { name: 'no usable endpoint anywhere means no endpoints', svc: svc(), eps: [e('1', { ready: false, serving: false })], cluster: [], local: [], all: [], any: false },
    {
      name: 'internalTrafficPolicy Local on a ClusterIP-only port uses only local ready endpoints, yet knows remote ones exist',
      svc: svc({ internalPolicyLocal: true }),
      eps: [e('1'), e('2', { isLocal: true })],
      cluster: [],
      local: ['2'],
      all: ['2'],
      any: true,
    },
    {
      name: 'internalTrafficPolicy Local with only remote endpoints has endpoints but no local ones',
      svc: svc({ internalPolicyLocal: true }),
      eps: [e('1')],
      cluster: [],
      local: [],
      all: [],
      any: true,
    },
    {
      name: 'externalTrafficPolicy Local on a NodePort keeps Cluster endpoints (pods short-circuit) and adds the local ones',
      svc: svc({ nodePort: 30080, externalPolicyLocal: true }),
      eps: [e('1'), e('2', { isLocal: true })],
      cluster: ['1', '2'],
      local: ['2'],
      all: ['1', '2'],
      any: true,
    },
    {
      name: 'Local policy falls back to local serving-terminating endpoints when no local one is ready',
      svc: svc({ nodePort: 30080, externalPolicyLocal: true }),
      eps: [e('1'), e('2', { isLocal: true, ready: false, serving: true, terminating: true })],
      cluster: ['1'],
      local: ['2'],
      all: ['1', '2'],
      any: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = categorizeEndpoints(c.eps, c.svc);
      assert.deepEqual(ips(got.clusterEndpoints), c.cluster, 'cluster');
      assert.deepEqual(ips(got.localEndpoints), c.local, 'local');
      assert.deepEqual(ips(got.allReachableEndpoints), c.all, 'all');
      assert.equal(got.hasAnyEndpoints, c.any, 'hasAnyEndpoints');
    });
  }
});
