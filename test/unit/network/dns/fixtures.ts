// Small builders of the objects the DNS tests serve: namespaces, Services and EndpointSlices.
import type { Namespace, Service, ServiceSpec } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';

export function namespace(name: string): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function service(name: string, ns: string, spec: ServiceSpec): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec };
}

export function clusterIPService(name: string, ns: string, ip: string, ports: Array<{ name?: string; port: number; protocol?: string }>): Service {
  return service(name, ns, { clusterIP: ip, clusterIPs: [ip], ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? 'TCP' })) });
}

export function headlessService(name: string, ns: string, ports: Array<{ name?: string; port: number }>): Service {
  return service(name, ns, { clusterIP: 'None', clusterIPs: ['None'], ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: 'TCP' })) });
}

export interface EndpointSpec {
  ip: string;
  hostname?: string;
  ready?: boolean;
  pod?: string;
}

export function endpointSlice(svc: string, ns: string, endpoints: EndpointSpec[], ports: Array<{ name?: string; port: number; protocol?: string }>, sliceName = `${svc}-abcde`): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
    addressType: endpoints[0]?.ip.includes(':') ? 'IPv6' : 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.ready !== undefined ? { conditions: { ready: e.ready } } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: ns } } : {}),
    })),
    ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

/** The cluster most DNS tests answer from. */
export function standardObjects(): { namespaces: Namespace[]; services: Service[]; endpointSlices: EndpointSlice[] } {
  return {
    namespaces: [namespace('default'), namespace('kube-system'), namespace('shop')],
    services: [
      clusterIPService('kubernetes', 'default', '10.96.0.1', [{ name: 'https', port: 443 }]),
      clusterIPService('kube-dns', 'kube-system', '10.96.0.10', [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        { name: 'metrics', port: 9153, protocol: 'TCP' },
      ]),
      clusterIPService('api', 'shop', '10.96.5.5', [{ name: 'http', port: 80 }, { name: 'grpc', port: 9090 }]),
      clusterIPService('noports', 'shop', '10.96.5.6', []),
      service('dual', 'shop', { clusterIP: '10.96.5.7', clusterIPs: ['10.96.5.7', 'fd00:10:96::5:7'], ipFamilies: ['IPv4', 'IPv6'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
      headlessService('web', 'default', [{ name: 'http', port: 80 }]),
      headlessService('empty', 'default', [{ name: 'http', port: 80 }]),
      service('ext', 'default', { type: 'ExternalName', externalName: 'db.example.org' }),
      service('alias', 'default', { type: 'ExternalName', externalName: 'kubernetes.default.svc.cluster.local' }),
    ],
    endpointSlices: [
      endpointSlice('web', 'default', [{ ip: '10.244.1.5', hostname: 'web-0', pod: 'web-0' }, { ip: '10.244.2.7', pod: 'web-7f9c' }, { ip: '10.244.2.9', ready: false, pod: 'web-dead' }], [{ name: 'http', port: 80 }]),
      endpointSlice('api', 'shop', [{ ip: '10.244.3.3', pod: 'api-1' }], [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090 }]),
    ],
  };
}
