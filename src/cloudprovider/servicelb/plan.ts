// ServiceLB's decisions as pure functions: which nodes and addresses may serve a LoadBalancer
// Service, and which of them it may hold without taking an address:port/protocol another Service
// already serves (k3s gets the same rule from its svclb pods' hostPorts).

import type { LoadBalancerIngress, LoadBalancerStatus, Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { LoadBalancerUnavailableError } from '../cloud.js';
import { canonicalIP, compareIPs, ipFamilyOf, type AddressPool, type IPFamily } from './pool.js';

/** k3s: once any node has this label, only nodes labelled `true` serve LoadBalancers. */
export const LABEL_ENABLE_LB = 'svccontroller.k3s.cattle.io/enablelb';
/** k3s: in enablelb mode, a Service with this label is served by nodes with the same value. */
export const LABEL_LB_POOL = 'svccontroller.k3s.cattle.io/lbpool';
/** Upstream: nodes with this label never serve cloud load balancers. */
export const LABEL_EXCLUDE_FROM_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** Upstream: the cluster autoscaler's taint on a node about to go. */
export const TAINT_TO_BE_DELETED = 'ToBeDeletedByClusterAutoscaler';
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

/** The default cloud load balancer serves the Service: type LoadBalancer and no loadBalancerClass (upstream wantsLoadBalancer). */
export function wantsLoadBalancer(svc: Readonly<Service>): boolean {
  return svc.spec?.type === 'LoadBalancer' && !svc.spec.loadBalancerClass;
}

function nodeReady(node: Readonly<Node>): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Nodes the service controller hands to load balancers (upstream's node predicate: Ready, not
 * excluded, not being removed by the autoscaler), and, as ServiceLB's brief asks, not cordoned.
 */
export function nodeUsableForLoadBalancers(node: Readonly<Node>): boolean {
  if (node.metadata?.labels?.[LABEL_EXCLUDE_FROM_LB] !== undefined) return false;
  if ((node.spec?.taints ?? []).some((t) => t.key === TAINT_TO_BE_DELETED)) return false;
  if (node.spec?.unschedulable) return false;
  return nodeReady(node);
}

/** A node change that can change which nodes or addresses serve load balancers. */
export function nodeChangeMatters(oldNode: Readonly<Node>, newNode: Readonly<Node>): boolean {
  if (!!oldNode.spec?.unschedulable !== !!newNode.spec?.unschedulable) return true;
  if (nodeReady(oldNode) !== nodeReady(newNode)) return true;
  if (JSON.stringify(oldNode.metadata?.labels ?? {}) !== JSON.stringify(newNode.metadata?.labels ?? {})) return true;
  if (JSON.stringify(oldNode.spec?.taints ?? []) !== JSON.stringify(newNode.spec?.taints ?? [])) return true;
  return JSON.stringify(oldNode.status?.addresses ?? []) !== JSON.stringify(newNode.status?.addresses ?? []);
}

/** `port/PROTOCOL` of every Service port: what two Services on one address must not share. */
export function servicePortKeys(svc: Readonly<Service>): Set<string> {
  return new Set((svc.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`));
}

/** spec.ipFamilies; else the families of its cluster IPs; else IPv4. */
export function serviceIPFamilies(svc: Readonly<Service>): IPFamily[] {
  const declared = (svc.spec?.ipFamilies ?? []).filter((f): f is IPFamily => f === 'IPv4' || f === 'IPv6');
  if (declared.length) return declared;
  const fromIPs = (svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : [])).map(ipFamilyOf).filter((f): f is IPFamily => !!f);
  return fromIPs.length ? [...new Set(fromIPs)] : ['IPv4'];
}

/** The IPs of a load-balancer status, canonical. */
export function statusIPs(status: Readonly<LoadBalancerStatus> | undefined): string[] {
  return (status?.ingress ?? []).map((i) => (i.ip ? canonicalIP(i.ip) : undefined)).filter((ip): ip is string => !!ip);
}

/** The status for a set of addresses: one `{ip, ipMode: VIP}` each (kube-proxy programs VIPs on every node). */
export function ingressFor(ips: readonly string[]): LoadBalancerStatus {
  return ips.length ? { ingress: ips.map((ip): LoadBalancerIngress => ({ ip, ipMode: 'VIP' })) } : {};
}

/** Upstream's LoadBalancerStatusEqual: the same ingress points (ip, hostname, ipMode, ports), in order. */
export function loadBalancerStatusEqual(a: Readonly<LoadBalancerStatus> | undefined, b: Readonly<LoadBalancerStatus> | undefined): boolean {
  const norm = (s: Readonly<LoadBalancerStatus> | undefined) =>
    JSON.stringify((s?.ingress ?? []).map((i) => [i.ip ?? '', i.hostname ?? '', i.ipMode ?? '', (i.ports ?? []).map((p) => [p.port, p.protocol, p.error ?? ''])]));
  return norm(a) === norm(b);
}

/** A Service as a holder of addresses: what it serves where, and its age for settling ties. */
export interface Holder {
  /** `namespace/name`. */
  key: string;
  uid: string;
  /** metadata.creationTimestamp (RFC 3339, UTC). */
  created: string;
  ips: readonly string[];
  ports: ReadonlySet<string>;
}

/** Builds a Holder from a Service, with `ips` either given or read from its status. */
export function holderOf(svc: Readonly<Service>, ips: readonly string[] = statusIPs(svc.status?.loadBalancer)): Holder {
  return {
    key: `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`,
    uid: svc.metadata?.uid ?? '',
    created: svc.metadata?.creationTimestamp ?? '',
    ips,
    ports: servicePortKeys(svc),
  };
}

/** `a` wins a clash with `b` that both hold: the older Service, then the lesser key. */
export function precedes(a: Holder, b: Holder): boolean {
  if (a.created !== b.created) return a.created !== '' && (b.created === '' || a.created < b.created);
  return a.key !== b.key ? a.key < b.key : a.uid < b.uid;
}

/**
 * The other Services that keep `ip` against `self`: they hold it with a shared port/protocol and
 * `self` does not already hold it with precedence. First come keeps an address; when two both
 * hold one (two writers raced), the older keeps it.
 */
export function clashesAt(ip: string, self: Holder, others: readonly Holder[]): Holder[] {
  return others.filter((o) => o.key !== self.key && o.ips.includes(ip) && [...self.ports].some((p) => o.ports.has(p)) && !(self.ips.includes(ip) && precedes(self, o)));
}

function portsInUse(self: Holder, blocked: ReadonlyMap<string, Holder[]>): LoadBalancerUnavailableError {
  const ports = new Set<string>();
  const by = new Set<string>();
  for (const hs of blocked.values()) {
    for (const h of hs) {
      by.add(h.key);
      for (const p of self.ports) if (h.ports.has(p)) ports.add(p);
    }
  }
  const list = [...ports].sort();
  const where = [...blocked.keys()].sort(compareIPs).join(', ');
  return new LoadBalancerUnavailableError(
    'PortsInUse',
    `${list.length === 1 ? 'port' : 'ports'} ${list.join(', ')} already in use on ${where} by Service ${[...by].sort().join(', ')}`,
  );
}

/** Nodes of `nodes` (already usable) whose ServiceLB may serve `svc`: k3s's enablelb / lbpool node labels. */
export function nodesForService(svc: Readonly<Service>, nodes: readonly Readonly<Node>[], allNodes: readonly Readonly<Node>[]): Readonly<Node>[] {
  const labelMode = allNodes.some((n) => n.metadata?.labels?.[LABEL_ENABLE_LB] !== undefined);
  if (!labelMode) return [...nodes];
  const pool = svc.metadata?.labels?.[LABEL_LB_POOL] ?? '';
  return nodes.filter((n) => n.metadata?.labels?.[LABEL_ENABLE_LB] === 'true' && (pool === '' || n.metadata?.labels?.[LABEL_LB_POOL] === pool));
}

/** Nodes that run a ready pod endpoint of the Service (k3s's rule for externalTrafficPolicy Local). */
export function nodesWithReadyEndpoints(slices: readonly Readonly<EndpointSlice>[]): Set<string> {
  const out = new Set<string>();
  for (const s of slices) {
    for (const e of s.endpoints ?? []) {
      if (e.targetRef?.kind === 'Pod' && e.conditions?.ready === true && e.nodeName) out.add(e.nodeName);
    }
  }
  return out;
}

export interface NodeAddressPlanInput {
  service: Readonly<Service>;
  /** The Service as holder (its current addresses). */
  self: Holder;
  /** Every other Service holding addresses. */
  others: readonly Holder[];
  /** Nodes that may serve it (usable, label rules and traffic policy applied). */
  nodes: readonly Readonly<Node>[];
  /** Why `nodes` is empty when it is, for the message. */
  emptyBecause?: LoadBalancerUnavailableError;
}

/**
 * k3s's default: the Service is reachable on its nodes' addresses — their ExternalIPs when any
 * has one, else their InternalIPs — of the Service's IP families, minus those where another
 * Service already serves one of its ports. spec.loadBalancerIP picks one of them.
 */
export function planFromNodes(input: NodeAddressPlanInput): string[] {
  const { service, self, others, nodes } = input;
  if (nodes.length === 0) throw input.emptyBecause ?? new LoadBalancerUnavailableError('NoEligibleNodes', 'there are no available nodes for LoadBalancer');
  const external = new Set<string>();
  const internal = new Set<string>();
  for (const n of nodes) {
    for (const a of n.status?.addresses ?? []) {
      const ip = canonicalIP(a.address);
      if (!ip) continue;
      if (a.type === 'ExternalIP') external.add(ip);
      else if (a.type === 'InternalIP') internal.add(ip);
    }
  }
  const families = serviceIPFamilies(service);
  const pool = external.size ? external : internal;
  let candidates = families.flatMap((f) => [...pool].filter((ip) => ipFamilyOf(ip) === f).sort(compareIPs));
  if (candidates.length === 0) {
    throw new LoadBalancerUnavailableError('NoAddressOfFamily', `no available node has an ${families.join(' or ')} ${external.size ? 'ExternalIP' : 'InternalIP'} address`);
  }
  const wanted = service.spec?.loadBalancerIP ? canonicalIP(service.spec.loadBalancerIP) : undefined;
  if (service.spec?.loadBalancerIP) {
    if (!wanted || !candidates.includes(wanted)) {
      throw new LoadBalancerUnavailableError('LoadBalancerIPNotInPool', `spec.loadBalancerIP ${service.spec.loadBalancerIP} is not an address of an available node (${candidates.join(', ')})`);
    }
    candidates = [wanted];
  }
  const blocked = new Map<string, Holder[]>();
  const free = candidates.filter((ip) => {
    const c = clashesAt(ip, self, others);
    if (c.length) blocked.set(ip, c);
    return c.length === 0;
  });
  if (free.length === 0) throw portsInUse(self, blocked);
  return free;
}

export interface PoolPlanInput {
  service: Readonly<Service>;
  self: Holder;
  others: readonly Holder[];
  pool: AddressPool;
}

/**
 * With an explicit pool: one address per IP family of the Service. It keeps the address it
 * holds; a new one is the first address no other Service holds, else the first held by others
 * on other ports. spec.loadBalancerIP must lie in the pool.
 */
export function planFromPool(input: PoolPlanInput): string[] {
  const { service, self, others, pool } = input;
  const requested = service.spec?.loadBalancerIP;
  if (requested) {
    const ip = canonicalIP(requested);
    if (!ip || !pool.contains(ip)) throw new LoadBalancerUnavailableError('LoadBalancerIPNotInPool', `spec.loadBalancerIP ${requested} is not in the ServiceLB pool (${pool.toString()})`);
    const c = clashesAt(ip, self, others);
    if (c.length) throw portsInUse(self, new Map([[ip, c]]));
    return [ip];
  }
  const families = serviceIPFamilies(service);
  const optional = (i: number) => i > 0 && service.spec?.ipFamilyPolicy !== 'RequireDualStack';
  const heldByOthers = new Set(others.filter((o) => o.key !== self.key).flatMap((o) => o.ips));
  const out: string[] = [];
  for (const [i, family] of families.entries()) {
    if (!pool.hasFamily(family)) {
      if (optional(i)) continue;
      throw new LoadBalancerUnavailableError('NoAddressOfFamily', `the ServiceLB pool (${pool.toString()}) has no ${family} addresses`);
    }
    const free = (ip: string) => clashesAt(ip, self, others).length === 0;
    let pick = self.ips.find((ip) => ipFamilyOf(ip) === family && pool.contains(ip) && free(ip));
    if (!pick) {
      for (const ip of pool.addresses(family)) {
        if (!heldByOthers.has(ip)) {
          pick = ip;
          break;
        }
      }
    }
    // Every address is someone's: share one on which this Service's ports are free.
    pick ??= [...heldByOthers].filter((ip) => ipFamilyOf(ip) === family && pool.contains(ip)).sort(compareIPs).find(free);
    if (!pick) {
      if (optional(i)) continue;
      throw new LoadBalancerUnavailableError('PoolExhausted', `no ${family} address of the ServiceLB pool (${pool.toString()}) is free for ${[...self.ports].sort().join(', ') || 'this Service'}`);
    }
    out.push(pick);
  }
  return out;
}
