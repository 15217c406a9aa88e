// Service and EndpointSlice objects → the proxy model (upstream pkg/proxy serviceport.go,
// endpointslicecache.go, topology.go). Pure functions; the change tracker calls them.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { servicePortNameKey, type EndpointInfo, type IPFamily, type Protocol, type ServicePortInfo } from './types.js';

/** Upstream's default ClientIP affinity timeout (3 hours). */
export const DEFAULT_STICKY_SECONDS = 10800;

export function ipFamilyOf(ip: string): IPFamily {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/** A CIDR's family (by its address part). */
function cidrFamily(cidr: string): IPFamily {
  return ipFamilyOf(cidr.split('/')[0] ?? '');
}

/** spec.clusterIP is set and not "None": headless Services and ExternalName get no rules. */
export function isServiceIPSet(svc: Readonly<Service>): boolean {
  const ip = svc.spec?.clusterIP;
  return !!ip && ip !== 'None';
}

/** NodePort, LoadBalancer, or ClusterIP with externalIPs: traffic from outside reaches it (upstream ExternallyAccessible). */
function externallyAccessible(svc: Readonly<Service>): boolean {
  const t = svc.spec?.type ?? 'ClusterIP';
  return t === 'LoadBalancer' || t === 'NodePort' || (t === 'ClusterIP' && (svc.spec?.externalIPs?.length ?? 0) > 0);
}

/**
 * The ServicePortInfos of one Service for one IP family, keyed by servicePortNameKey. Empty for
 * headless and ExternalName Services and for Services without a cluster IP of `family`.
 */
export function servicePortsFromService(svc: Readonly<Service>, family: IPFamily): Map<string, ServicePortInfo> {
  const out = new Map<string, ServicePortInfo>();
  const spec = svc.spec;
  if (!spec || spec.type === 'ExternalName' || !isServiceIPSet(svc)) return out;
  const clusterIPs = spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP!];
  const clusterIP = clusterIPs.find((ip) => ip !== 'None' && ipFamilyOf(ip) === family);
  if (!clusterIP) return out;
  const namespace = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  const externalIPs = (spec.externalIPs ?? []).filter((ip) => ipFamilyOf(ip) === family);
  const isLB = spec.type === 'LoadBalancer';
  // Only VIP-mode ingress IPs are captured; ipMode Proxy means the load balancer delivers to the node itself.
  const lbVIPs = isLB ? (svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ip && (i.ipMode ?? 'VIP') === 'VIP' && ipFamilyOf(i.ip) === family).map((i) => i.ip!) : [];
  const sourceRanges = isLB ? (spec.loadBalancerSourceRanges ?? []).map((c) => c.trim()).filter((c) => c && cidrFamily(c) === family) : [];
  const sticky = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_STICKY_SECONDS) : 0;
  const externalPolicyLocal = externallyAccessible(svc) && spec.externalTrafficPolicy === 'Local';
  const healthCheckNodePort = isLB && externalPolicyLocal ? (spec.healthCheckNodePort ?? 0) : 0;
  for (const p of spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    const spn = { namespace, name, port: p.name ?? '', protocol };
    out.set(servicePortNameKey(spn), {
      name: spn,
      clusterIP,
      port: p.port,
      protocol,
      nodePort: p.nodePort ?? 0,
      externalIPs,
      loadBalancerVIPs: lbVIPs,
      loadBalancerSourceRanges: sourceRanges,
      stickyMaxAgeSeconds: sticky,
      externalPolicyLocal,
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
      healthCheckNodePort,
    });
  }
  return out;
}

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The Service (`ns/name`) an EndpointSlice belongs to, or undefined when it carries no service-name label. */
export function sliceServiceKey(slice: Readonly<EndpointSlice>): string | undefined {
  const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return svc ? `${slice.metadata?.namespace ?? 'default'}/${svc}` : undefined;
}

/**
 * The endpoints of every port of one Service from all its EndpointSlices, for one family, keyed by
 * servicePortNameKey and sorted by `ip:port`. An endpoint in several slices appears once (the
 * slice that sorts last by name wins, so the result does not depend on arrival order).
 */
export function endpointsFromSlices(slices: readonly Readonly<EndpointSlice>[], nodeName: string, family: IPFamily): Map<string, EndpointInfo[]> {
  const sets = new Map<string, Map<string, EndpointInfo>>();
  const sorted = [...slices].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const slice of sorted) {
    if (slice.addressType !== family) continue;
    const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svcName) continue;
    const namespace = slice.metadata?.namespace ?? 'default';
    for (const port of slice.ports ?? []) {
      // A port without a number cannot be programmed (upstream skips it too).
      if (port.port === undefined || port.port === null) continue;
      const key = servicePortNameKey({ namespace, name: svcName, port: port.name ?? '', protocol: (port.protocol ?? 'TCP') as Protocol });
      let set = sets.get(key);
      if (!set) sets.set(key, (set = new Map()));
      for (const ep of slice.endpoints ?? []) {
        const ip = ep.addresses?.[0];
        if (!ip || ipFamilyOf(ip) !== family) continue;
        const ready = ep.conditions?.ready ?? true;
        const info: EndpointInfo = {
          ip,
          port: port.port,
          ready,
          // As upstream's proxy: an unset serving condition counts as serving.
          serving: ep.conditions?.serving ?? true,
          terminating: ep.conditions?.terminating ?? false,
          isLocal: !!ep.nodeName && ep.nodeName === nodeName,
        };
        if (ep.nodeName) info.nodeName = ep.nodeName;
        const zones = ep.hints?.forZones?.map((z) => z.name);
        if (zones?.length) info.zoneHints = zones;
        set.set(endpointString(info), info);
      }
    }
  }
  const out = new Map<string, EndpointInfo[]>();
  for (const [key, set] of sets) out.set(key, [...set.values()].sort((a, b) => compareEndpoints(a, b)));
  return out;
}

function endpointString(e: Pick<EndpointInfo, 'ip' | 'port'>): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function compareEndpoints(a: EndpointInfo, b: EndpointInfo): number {
  const sa = endpointString(a);
  const sb = endpointString(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** NodePort, LoadBalancer VIPs or external IPs: the port receives "external" traffic. */
export function externallyAccessiblePort(s: ServicePortInfo): boolean {
  return s.nodePort !== 0 || s.loadBalancerVIPs.length > 0 || s.externalIPs.length > 0;
}

/** Cluster endpoints are needed unless internal traffic is Local and nothing external arrives (external Local still short-circuits to Cluster). */
export function usesClusterEndpoints(s: ServicePortInfo): boolean {
  return !s.internalPolicyLocal || externallyAccessiblePort(s);
}

export function usesLocalEndpoints(s: ServicePortInfo): boolean {
  return s.internalPolicyLocal || (s.externalPolicyLocal && externallyAccessiblePort(s));
}

export interface CategorizedEndpoints {
  /** Endpoints for Cluster policy: ready ones, else serving-terminating ones. */
  clusterEndpoints: EndpointInfo[];
  /** Endpoints for Local policy: local ready ones, else local serving-terminating ones. */
  localEndpoints: EndpointInfo[];
  /** The union of the two, each once: the endpoints this node may send to. */
  allReachableEndpoints: EndpointInfo[];
  /** Some usable (ready or serving-terminating) endpoint exists anywhere in the cluster. */
  hasAnyEndpoints: boolean;
}

/**
 * Upstream's CategorizeEndpoints (without topology hints): which endpoints each traffic policy of
 * `svc` may use. Terminating-but-serving endpoints are a fallback only when no ready one exists, so
 * connections drain instead of being refused during a rollout.
 */
export function categorizeEndpoints(endpoints: readonly EndpointInfo[], svc: ServicePortInfo): CategorizedEndpoints {
  let clusterEndpoints: EndpointInfo[] = [];
  let localEndpoints: EndpointInfo[] = [];
  let hasAnyEndpoints = false;
  if (usesClusterEndpoints(svc)) {
    clusterEndpoints = endpoints.filter((e) => e.ready);
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((e) => e.serving && e.terminating);
    hasAnyEndpoints = clusterEndpoints.length > 0;
  }
  if (!usesLocalEndpoints(svc)) return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };
  let localReady = false;
  let localServingTerminating = false;
  for (const e of endpoints) {
    if (e.ready) {
      hasAnyEndpoints = true;
      if (e.isLocal) localReady = true;
    } else if (e.serving && e.terminating) {
      hasAnyEndpoints = true;
      if (e.isLocal) localServingTerminating = true;
    }
  }
  if (localReady) localEndpoints = endpoints.filter((e) => e.isLocal && e.ready);
  else if (localServingTerminating) localEndpoints = endpoints.filter((e) => e.isLocal && e.serving && e.terminating);
  if (!usesClusterEndpoints(svc)) return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints };
  const seen = new Set(clusterEndpoints.map(endpointString));
  const allReachableEndpoints = [...clusterEndpoints, ...localEndpoints.filter((e) => !seen.has(endpointString(e)))];
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints };
}
