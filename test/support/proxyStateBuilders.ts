// Small builders for the kube-proxy model (src/network/proxy/types.ts) shared by proxy-mode tests.
import type { EndpointInfo, ProxyChanges, ProxyState, ServicePortInfo } from '../../src/network/proxy/types.js';
import { servicePortNameKey } from '../../src/network/proxy/types.js';

/** A TCP port `http` of service `default/<name>` with no NodePort, affinity or Local policy unless given. */
export function servicePort(name: string, clusterIP: string, port: number, extra: Partial<ServicePortInfo> = {}): ServicePortInfo {
  const protocol = extra.protocol ?? 'TCP';
  return {
    name: { namespace: 'default', name, port: 'http', protocol },
    clusterIP,
    port,
    protocol,
    nodePort: 0,
    externalIPs: [],
    loadBalancerVIPs: [],
    loadBalancerSourceRanges: [],
    stickyMaxAgeSeconds: 0,
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    healthCheckNodePort: 0,
    ...extra,
  };
}

/** A ready, remote endpoint unless told otherwise. */
export function endpoint(ip: string, port: number, extra: Partial<EndpointInfo> = {}): EndpointInfo {
  return { ip, port, ready: true, serving: true, terminating: false, isLocal: false, ...extra };
}

/** An IPv4 state of services with their endpoints (keyed as the proxy keys them). */
export function proxyState(entries: Array<[ServicePortInfo, EndpointInfo[]]>, extra: Partial<ProxyState> = {}): ProxyState {
  return {
    family: 'IPv4',
    services: new Map(entries.map(([s]) => [servicePortNameKey(s.name), s])),
    endpoints: new Map(entries.map(([s, e]) => [servicePortNameKey(s.name), e])),
    nodeName: 'node-1',
    nodeIPs: [],
    clusterCIDRs: ['10.244.0.0/16'],
    masqueradeAll: false,
    masqueradeBit: 14,
    localhostNodePorts: false,
    ...extra,
  };
}

export const FULL: ProxyChanges = { full: true, services: new Set(), endpoints: new Set() };

/** A partial change naming services (by `default/<name>:http`) whose spec or endpoints changed. */
export function changed(opts: { services?: string[]; endpoints?: string[] }): ProxyChanges {
  const key = (n: string) => `default/${n}:http`;
  return { full: false, services: new Set((opts.services ?? []).map(key)), endpoints: new Set((opts.endpoints ?? []).map(key)) };
}
