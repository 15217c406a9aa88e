// Which endpoints of a service port take which traffic (upstream pkg/proxy/topology.go
// CategorizeEndpoints): Cluster vs Local traffic policy, with the serving-terminating fallback.
// Shared by the nftables and IPVS modes. Topology hints are not applied (the model has no node labels).
import type { EndpointInfo, ServicePortInfo } from './types.js';

/** NodePort, externalIPs or LoadBalancer IPs: traffic from outside the cluster can arrive. */
export function externallyAccessible(svc: ServicePortInfo): boolean {
  return svc.nodePort !== 0 || svc.externalIPs.length > 0 || svc.loadBalancerVIPs.length > 0;
}

/** Some traffic of this port is spread over every endpoint in the cluster. */
export function usesClusterEndpoints(svc: ServicePortInfo): boolean {
  return !svc.internalPolicyLocal || (externallyAccessible(svc) && !svc.externalPolicyLocal);
}

/** Some traffic of this port goes only to this node's endpoints. */
export function usesLocalEndpoints(svc: ServicePortInfo): boolean {
  return svc.internalPolicyLocal || (svc.externalPolicyLocal && externallyAccessible(svc));
}

export interface CategorizedEndpoints {
  /** Endpoints for Cluster policy: the ready ones, else the serving-terminating ones. */
  clusterEndpoints: EndpointInfo[];
  /** Endpoints for Local policy: this node's ready ones, else its serving-terminating ones. */
  localEndpoints: EndpointInfo[];
  /** Every endpoint some rule of this port can reach (the endpoint chains / real servers to write). */
  allReachable: EndpointInfo[];
  /** The port has usable endpoints somewhere in the cluster (else traffic is rejected). */
  hasAnyEndpoints: boolean;
}

/** Splits a port's endpoints by traffic policy, keeping the input order. Pure. */
export function categorizeEndpoints(endpoints: readonly EndpointInfo[], svc: ServicePortInfo): CategorizedEndpoints {
  let clusterEndpoints: EndpointInfo[] = [];
  let localEndpoints: EndpointInfo[] = [];
  let hasAnyEndpoints = false;
  if (usesClusterEndpoints(svc)) {
    clusterEndpoints = endpoints.filter((e) => e.ready);
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((e) => e.serving && e.terminating);
    hasAnyEndpoints = clusterEndpoints.length > 0;
  }
  if (!usesLocalEndpoints(svc)) return { clusterEndpoints, localEndpoints, allReachable: clusterEndpoints, hasAnyEndpoints };

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

  if (!usesClusterEndpoints(svc)) return { clusterEndpoints, localEndpoints, allReachable: localEndpoints, hasAnyEndpoints };
  // Ready local endpoints are already among the ready cluster ones; terminating local ones may not be.
  if (!localServingTerminating || localReady) return { clusterEndpoints, localEndpoints, allReachable: clusterEndpoints, hasAnyEndpoints };
  const seen = new Set(clusterEndpoints.map((e) => `${e.ip}|${e.port}`));
  const allReachable = [...clusterEndpoints, ...localEndpoints.filter((e) => !seen.has(`${e.ip}|${e.port}`))];
  return { clusterEndpoints, localEndpoints, allReachable, hasAnyEndpoints };
}
