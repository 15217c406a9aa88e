// Which UDP conntrack flows a sync makes stale (upstream pkg/proxy/conntrack/cleanup.go): UDP has no
// connection end, so a flow created while a service rejected, or DNATed to a removed endpoint, would
// keep black-holing packets until it times out. Pure; the runner deletes the flows with conntrack.
import { categorizeEndpoints } from './categorizeEndpoints.js';
import type { EndpointInfo, ProxyChanges, ProxyState, ServicePortInfo, SyncResult } from './types.js';

function serviceIPs(svc: ServicePortInfo): string[] {
  return [svc.clusterIP, ...svc.externalIPs, ...svc.loadBalancerVIPs];
}

function serving(eps: readonly EndpointInfo[] | undefined): EndpointInfo[] {
  return (eps ?? []).filter((e) => e.ready || e.serving);
}

/**
 * Stale UDP flows between two synced states: service IPs of deleted UDP ports, service IPs and
 * NodePorts of UDP ports that went from no usable endpoint to some (their old flows hold a reject),
 * and (service IP, endpoint IP) pairs of endpoints that stopped serving. Only keys named in
 * `changes` are compared unless it is a full sync (or there is no previous state).
 */
export function staleUDPFlows(prev: ProxyState | undefined, next: ProxyState, changes: ProxyChanges): SyncResult['staleUDP'] {
  const ips = new Set<string>();
  const nodePorts = new Set<number>();
  const pairs = new Map<string, { serviceIP: string; endpointIP: string }>();
  if (!prev) return { serviceIPs: [], nodePorts: [], endpoints: [] };
  const keys = changes.full
    ? new Set([...prev.services.keys(), ...next.services.keys()])
    : new Set([...changes.services, ...changes.endpoints]);
  for (const key of keys) {
    const before = prev.services.get(key);
    const after = next.services.get(key);
    if (before?.protocol === 'UDP' && (!after || after.clusterIP !== before.clusterIP)) ips.add(before.clusterIP);
    if (!after || after.protocol !== 'UDP') continue;
    const hadEndpoints = before ? categorizeEndpoints(prev.endpoints.get(key) ?? [], before).hasAnyEndpoints : false;
    const hasEndpoints = categorizeEndpoints(next.endpoints.get(key) ?? [], after).hasAnyEndpoints;
    if (!hadEndpoints && hasEndpoints) {
      for (const ip of serviceIPs(after)) ips.add(ip);
      if (after.nodePort) nodePorts.add(after.nodePort);
    }
    if (!before) continue;
    const still = new Set(serving(next.endpoints.get(key)).map((e) => e.ip));
    for (const e of serving(prev.endpoints.get(key))) {
      if (still.has(e.ip)) continue;
      for (const ip of serviceIPs(after)) pairs.set(`${ip}|${e.ip}`, { serviceIP: ip, endpointIP: e.ip });
    }
  }
  return {
    serviceIPs: [...ips].sort(),
    nodePorts: [...nodePorts].sort((a, b) => a - b),
    endpoints: [...pairs.values()].sort((a, b) => (a.serviceIP + a.endpointIP).localeCompare(b.serviceIP + b.endpointIP)),
  };
}
