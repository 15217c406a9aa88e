// Pure planning for the Endpoints controller: a Service and its pods → the Endpoints object it
// should have (subsets packed as upstream's RepackSubsets, truncated at 1000 addresses), or
// nothing when the current one already says that.

import type { EndpointAddress, EndpointPort, Endpoints, EndpointSubset, Pod, Service } from 'kubernetes-types/core/v1.js';
import { isPodReady } from '../controllerRef.js';
import { findPort, formatRFC3339Nano, HEADLESS_SERVICE_LABEL, isIPv6, isServiceIPSet, LAST_CHANGE_TRIGGER_TIME_ANNOTATION, podIPs, shouldPodBeInEndpoints, shouldSetHostname } from './endpointUtil.js';

/** Upstream's maxCapacity: more addresses than this are truncated. */
export const MAX_ENDPOINTS_CAPACITY = 1000;
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';
export const TRUNCATED = 'truncated';

/** The address of `pod` in the Service's (primary) IP family, or undefined if it has none. */
export function podToEndpointAddress(svc: Readonly<Service>, pod: Readonly<Pod>): EndpointAddress | undefined {
  let v6: boolean;
  const families = svc.spec?.ipFamilies ?? [];
  if (families.length) v6 = families[0] === 'IPv6';
  else if (isServiceIPSet(svc)) v6 = isIPv6(svc.spec?.clusterIP);
  else v6 = isIPv6(pod.status?.podIP);
  const ip = podIPs(pod).find((a) => isIPv6(a) === v6);
  if (!ip) return undefined;
  return {
    ip,
    nodeName: pod.spec?.nodeName ?? '',
    targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
  };
}

export interface DesiredSubsets {
  subsets: EndpointSubset[];
  ready: number;
  notReady: number;
}

/** Every (pod, port) as its own subset, ready or not, then repacked (syncService's loop). */
export function desiredSubsets(svc: Readonly<Service>, pods: readonly Readonly<Pod>[]): DesiredSubsets {
  const publishNotReady = svc.spec?.publishNotReadyAddresses ?? false;
  const raw: EndpointSubset[] = [];
  let ready = 0;
  let notReady = 0;
  const add = (pod: Readonly<Pod>, addr: EndpointAddress, port: EndpointPort | undefined) => {
    const ports = port ? [port] : [];
    if (publishNotReady || isPodReady(pod)) {
      raw.push({ addresses: [addr], ports });
      ready++;
    } else {
      raw.push({ notReadyAddresses: [addr], ports });
      notReady++;
    }
  };
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const addr = podToEndpointAddress(svc, pod);
    if (!addr) continue;
    if (shouldSetHostname(pod, svc)) addr.hostname = pod.spec!.hostname!;
    const ports = svc.spec?.ports ?? [];
    if (ports.length === 0) {
      // A headless Service may have no ports; its addresses are published without any.
      if (svc.spec?.clusterIP === 'None') add(pod, addr, undefined);
      continue;
    }
    for (const sp of ports) {
      const num = findPort(pod, sp);
      if (num === undefined) continue;
      // name is omitempty on the wire: an unnamed port has none.
      const ep: EndpointPort = { ...(sp.name ? { name: sp.name } : {}), port: num, protocol: sp.protocol ?? 'TCP' };
      if (sp.appProtocol !== undefined) ep.appProtocol = sp.appProtocol;
      add(pod, { ...addr }, ep);
    }
  }
  return { subsets: repackSubsets(raw), ready, notReady };
}

const addrKey = (a: EndpointAddress) => `${a.ip}/${a.targetRef?.uid ?? ''}`;
const portKey = (p: EndpointPort) => JSON.stringify([p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? null]);

/**
 * Upstream's RepackSubsets: one subset per distinct set of addresses sharing the same ports; an
 * address not ready on a port stays not ready there even if another subset lists it ready.
 * Output is sorted (addresses by IP then UID) so equal inputs give equal outputs.
 */
export function repackSubsets(subsets: readonly EndpointSubset[]): EndpointSubset[] {
  const allAddrs = new Map<string, EndpointAddress>();
  // port key → (address key → ready)
  const byPort = new Map<string, { port: EndpointPort | undefined; addrs: Map<string, boolean> }>();
  const map = (s: EndpointSubset, port: EndpointPort | undefined) => {
    const pk = port ? portKey(port) : '<none>';
    let entry = byPort.get(pk);
    if (!entry) byPort.set(pk, (entry = { port, addrs: new Map() }));
    const one = (a: EndpointAddress, ready: boolean) => {
      const k = addrKey(a);
      if (!allAddrs.has(k)) allAddrs.set(k, a);
      const was = entry.addrs.get(k);
      if (was === undefined || was) entry.addrs.set(k, ready);
    };
    for (const a of s.addresses ?? []) one(a, true);
    for (const a of s.notReadyAddresses ?? []) one(a, false);
  };
  for (const s of subsets) {
    if (!s.ports?.length) map(s, undefined);
    else for (const p of s.ports) map(s, p);
  }
  // Ports with the same addresses (and readiness) share a subset.
  const groups = new Map<string, { ports: EndpointPort[]; hasNone: boolean; addrs: Map<string, boolean> }>();
  for (const { port, addrs } of byPort.values()) {
    if (addrs.size === 0) continue;
    const sig = JSON.stringify([...addrs.entries()].sort(([a], [b]) => cmp(a, b)));
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = { ports: [], hasNone: false, addrs }));
    if (port) g.ports.push(port);
    else g.hasNone = true;
  }
  const out: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const ready: EndpointAddress[] = [];
    const notReady: EndpointAddress[] = [];
    for (const [k, r] of g.addrs) (r ? ready : notReady).push(allAddrs.get(k)!);
    const s: EndpointSubset = {};
    if (ready.length) s.addresses = ready.sort(lessAddress);
    if (notReady.length) s.notReadyAddresses = notReady.sort(lessAddress);
    if (g.ports.length) s.ports = g.ports.sort((a, b) => cmp(portKey(a), portKey(b)));
    out.push(s);
  }
  return out.sort((a, b) => cmp(JSON.stringify(a.ports ?? []), JSON.stringify(b.ports ?? [])) || cmp(JSON.stringify(a), JSON.stringify(b)));
}

function lessAddress(a: EndpointAddress, b: EndpointAddress): number {
  return cmp(a.ip, b.ip) || cmp(a.targetRef?.uid ?? '', b.targetRef?.uid ?? '');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Upstream's truncateEndpoints: over 1000 addresses, each subset keeps its proportional share
 * (rounded up, capped by what is left), ready addresses first. Returns whether it truncated.
 */
export function truncateEndpoints(subsets: EndpointSubset[]): boolean {
  let totalReady = 0;
  let totalNotReady = 0;
  for (const s of subsets) {
    totalReady += s.addresses?.length ?? 0;
    totalNotReady += s.notReadyAddresses?.length ?? 0;
  }
  if (totalReady + totalNotReady <= MAX_ENDPOINTS_CAPACITY) return false;
  const truncateReady = totalReady > MAX_ENDPOINTS_CAPACITY;
  const max = truncateReady ? MAX_ENDPOINTS_CAPACITY : MAX_ENDPOINTS_CAPACITY - totalReady;
  const numTotal = truncateReady ? totalReady : totalNotReady;
  let canBeAdded = max;
  for (const s of subsets) {
    const inSubset = truncateReady ? (s.addresses?.length ?? 0) : (s.notReadyAddresses?.length ?? 0);
    const toBeAdded = Math.min(Math.ceil((inSubset / numTotal) * max), canBeAdded);
    if (truncateReady) {
      s.addresses = (s.addresses ?? []).slice(0, toBeAdded);
      delete s.notReadyAddresses;
      canBeAdded -= s.addresses.length;
      if (!s.addresses.length) delete s.addresses;
    } else {
      s.notReadyAddresses = (s.notReadyAddresses ?? []).slice(0, toBeAdded);
      canBeAdded -= s.notReadyAddresses.length;
      if (!s.notReadyAddresses.length) delete s.notReadyAddresses;
    }
  }
  return true;
}

/** False when the stored addresses exceed capacity or the over-capacity annotation is stale. */
export function capacityAnnotationSetCorrectly(annotations: Readonly<Record<string, string>> | undefined, subsets: readonly EndpointSubset[] | undefined): boolean {
  let n = 0;
  for (const s of subsets ?? []) n += (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0);
  if (n > MAX_ENDPOINTS_CAPACITY) return false;
  return !(annotations && OVER_CAPACITY_ANNOTATION in annotations);
}

/** Subsets compared as upstream does: ignoring targetRef resourceVersions and empty-vs-missing lists. */
export function subsetsEqual(a: readonly EndpointSubset[] | undefined, b: readonly EndpointSubset[] | undefined): boolean {
  return JSON.stringify(normalizeSubsets(a)) === JSON.stringify(normalizeSubsets(b));
}

function normalizeSubsets(s: readonly EndpointSubset[] | undefined): unknown {
  const addr = (a: EndpointAddress) => [a.ip, a.hostname ?? '', a.nodeName ?? '', a.targetRef ? [a.targetRef.kind ?? '', a.targetRef.namespace ?? '', a.targetRef.name ?? '', a.targetRef.uid ?? ''] : null];
  return (s ?? []).map((x) => [(x.addresses ?? []).map(addr), (x.notReadyAddresses ?? []).map(addr), (x.ports ?? []).map((p) => [p.name ?? '', p.port, p.protocol ?? 'TCP', p.appProtocol ?? null])]);
}

function labelsEqual(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => b?.[k] === a?.[k]);
}

/**
 * The Endpoints object `svc` should have given `pods` and what is stored (`current`), or
 * undefined when `current` already matches. `triggerTime` (ms, 0 = none) becomes the
 * last-change-trigger-time annotation.
 */
export function planEndpoints(svc: Readonly<Service>, pods: readonly Readonly<Pod>[], current: Readonly<Endpoints> | undefined, triggerTime: number): Endpoints | undefined {
  const { subsets } = desiredSubsets(svc, pods);
  const creating = !current?.metadata?.resourceVersion;
  const currentLabels = { ...(current?.metadata?.labels ?? {}) };
  delete currentLabels[HEADLESS_SERVICE_LABEL];
  if (!creating && subsetsEqual(current?.subsets, subsets) && labelsEqual(currentLabels, svc.metadata?.labels) && capacityAnnotationSetCorrectly(current?.metadata?.annotations, current?.subsets)) {
    return undefined;
  }
  const annotations: Record<string, string> = { ...(current?.metadata?.annotations ?? {}) };
  if (triggerTime) annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = formatRFC3339Nano(triggerTime);
  else delete annotations[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
  if (truncateEndpoints(subsets)) annotations[OVER_CAPACITY_ANNOTATION] = TRUNCATED;
  else delete annotations[OVER_CAPACITY_ANNOTATION];
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}) };
  if (!isServiceIPSet(svc)) labels[HEADLESS_SERVICE_LABEL] = '';
  else delete labels[HEADLESS_SERVICE_LABEL];
  const base = current ? structuredClone(current) as Endpoints : { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: svc.metadata?.name ?? '', namespace: svc.metadata?.namespace ?? '' } };
  return {
    ...base,
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { ...base.metadata, labels, annotations },
    subsets,
  };
}
