// The one service/endpoint model every kube-proxy mode programs (upstream pkg/proxy: ServicePort,
// Endpoint, the change trackers' output). Backends (iptables, nftables, ipvs) read this and nothing
// else, so a mode is only a translation from this model to the kernel's rules.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type ProxyMode = 'iptables' | 'nftables' | 'ipvs';
export type IPFamily = 'IPv4' | 'IPv6';

/** Names one port of one Service, as upstream's ServicePortName: `namespace/name:port` (port name may be ''). */
export interface ServicePortName {
  namespace: string;
  name: string;
  /** spec.ports[].name ('' when the Service has one unnamed port). */
  port: string;
  protocol: Protocol;
}

/** `ns/name:port` (or `ns/name` for an unnamed port), the key of services and endpoints maps. */
export function servicePortNameKey(n: ServicePortName): string {
  return n.port ? `${n.namespace}/${n.name}:${n.port}` : `${n.namespace}/${n.name}`;
}

/** What the proxy needs of one Service port, for one IP family. */
export interface ServicePortInfo {
  name: ServicePortName;
  /** spec.clusterIPs of this family ('' never appears; headless Services are not in the model). */
  clusterIP: string;
  port: number;
  protocol: Protocol;
  /** 0 when the port has no NodePort. */
  nodePort: number;
  /** spec.externalIPs of this family. */
  externalIPs: string[];
  /** status.loadBalancer.ingress[].ip of this family (ipMode VIP or unset). */
  loadBalancerVIPs: string[];
  /** spec.loadBalancerSourceRanges of this family, CIDRs. */
  loadBalancerSourceRanges: string[];
  /** sessionAffinity ClientIP: the timeout in seconds; 0 means no affinity. */
  stickyMaxAgeSeconds: number;
  /** externalTrafficPolicy: Local (only for NodePort/LoadBalancer/externalIPs traffic). */
  externalPolicyLocal: boolean;
  /** internalTrafficPolicy: Local. */
  internalPolicyLocal: boolean;
  /** spec.healthCheckNodePort (externalTrafficPolicy Local LoadBalancers), 0 if none. */
  healthCheckNodePort: number;
}

/** One backend of a Service port, from an EndpointSlice endpoint. */
export interface EndpointInfo {
  ip: string;
  port: number;
  /** conditions.ready (unset counts as true, as upstream). */
  ready: boolean;
  /** conditions.serving (unset: same as ready). */
  serving: boolean;
  /** conditions.terminating (unset: false). */
  terminating: boolean;
  /** The endpoint's nodeName is this proxy's node. */
  isLocal: boolean;
  nodeName?: string;
  zoneHints?: string[];
}

/** `ip:port`, how endpoints are named in rule comments and conntrack cleanup. */
export function endpointKey(e: Pick<EndpointInfo, 'ip' | 'port'>): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** The full state a backend programs: every service port and its endpoints, keyed by servicePortNameKey. */
export interface ProxyState {
  family: IPFamily;
  services: ReadonlyMap<string, ServicePortInfo>;
  endpoints: ReadonlyMap<string, readonly EndpointInfo[]>;
  /** This node's name and the addresses NodePorts answer on (nodePortAddresses, resolved). */
  nodeName: string;
  nodeIPs: string[];
  /** The pod network(s) (clusterCIDR); traffic from outside it to a service is masqueraded. */
  clusterCIDRs: string[];
  /** masqueradeAll from KubeProxyConfiguration. */
  masqueradeAll: boolean;
  /** The fwmark bit kube-proxy uses for masquerade (upstream default bit 14 = 0x4000). */
  masqueradeBit: number;
  /** NodePorts also answer on 127.0.0.1 (iptables mode only, as upstream's route_localnet). */
  localhostNodePorts: boolean;
  /**
   * NodePorts answer on every local address (nodePortAddresses unset, upstream's default); nodeIPs
   * then holds the node's own addresses (loadBalancerSourceRanges use them). When absent: true if
   * nodeIPs is empty.
   */
  nodePortsOnAllLocalAddresses?: boolean;
}

/** What changed since the last sync; a full sync (first sync, resync period, after an error) rewrites everything. */
export interface ProxyChanges {
  full: boolean;
  services: ReadonlySet<string>;
  endpoints: ReadonlySet<string>;
}

export interface SyncResult {
  /** Rules (or set elements, or virtual servers) written, for the rule-count metrics. */
  rulesWritten: number;
  /** Total rules in the backend's tables after the sync. */
  rulesTotal: number;
  /** UDP flows to delete: stale service IPs/ports and removed endpoints (conntrack cleanup). */
  staleUDP: { serviceIPs: string[]; nodePorts: number[]; endpoints: Array<{ serviceIP: string; endpointIP: string }> };
}

/** One proxy mode. sync() must leave the previous rules in force when it throws. */
export interface ProxierBackend {
  readonly mode: ProxyMode;
  sync(state: ProxyState, changes: ProxyChanges, signal?: AbortSignal): Promise<SyncResult>;
  /** Removes every rule this mode owns (`k8ts proxy --cleanup`, switching modes). */
  cleanup(): Promise<void>;
}
