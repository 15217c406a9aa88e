// Pure planning for the EndpointSlice controller, as upstream's reconciler: per address family
// and per distinct port set, keep endpoints in the slices that already hold them, fill slices that
// change anyway, put leftovers in the best-fitting untouched slice, and only then create new ones;
// creates that coincide with deletes become updates of the slices to delete.

import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { isPodReady } from '../controllerRef.js';
import { findPort, formatRFC3339Nano, HEADLESS_SERVICE_LABEL, isIPv6, isServiceIPSet, LAST_CHANGE_TRIGGER_TIME_ANNOTATION, podIPs, shouldPodBeInEndpoints, shouldSetHostname } from '../endpoints/endpointUtil.js';

export const ENDPOINTSLICE_CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100;
const ZONE_LABEL = 'topology.kubernetes.io/zone';

export type AddressType = 'IPv4' | 'IPv6';

export interface SlicePlan {
  create: EndpointSlice[];
  update: EndpointSlice[];
  delete: EndpointSlice[];
  /** Problems that should requeue the Service (e.g. a pod's node is not known yet). */
  errors: string[];
}

export interface SlicePlanInput {
  service: Readonly<Service>;
  pods: readonly Readonly<Pod>[];
  existing: readonly Readonly<EndpointSlice>[];
  node(name: string): Readonly<Node> | undefined;
  maxEndpointsPerSlice: number;
  /** ms since the epoch, 0 = none. */
  triggerTime: number;
}

/** Upstream's getAddressTypesForService. */
export function addressTypesForService(svc: Readonly<Service>): Set<AddressType> {
  const out = new Set<AddressType>();
  for (const f of svc.spec?.ipFamilies ?? []) {
    if (f === 'IPv4') out.add('IPv4');
    if (f === 'IPv6') out.add('IPv6');
  }
  if (out.size) return out;
  if (isServiceIPSet(svc)) return new Set([isIPv6(svc.spec?.clusterIP) ? 'IPv6' : 'IPv4']);
  return new Set(['IPv4', 'IPv6']);
}

export function ownedBy(slice: Readonly<EndpointSlice>, svc: Readonly<Service>): boolean {
  return (slice.metadata?.ownerReferences ?? []).some((o) => o.uid === svc.metadata?.uid && o.kind === 'Service' && o.apiVersion === 'v1');
}

/** The ports a pod serves for the Service (unresolvable named ports are left out). */
export function endpointPorts(svc: Readonly<Service>, pod: Readonly<Pod>): EndpointPort[] {
  const out: EndpointPort[] = [];
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0 && svc.spec?.clusterIP === 'None') return out;
  for (const sp of ports) {
    const n = findPort(pod, sp);
    if (n === undefined) continue;
    const p: EndpointPort = { name: sp.name ?? '', port: n, protocol: sp.protocol ?? 'TCP' };
    if (sp.appProtocol !== undefined) p.appProtocol = sp.appProtocol;
    out.push(p);
  }
  return out;
}

/** A key identical for equal port sets, whatever their order (NewPortMapKey). */
export function portMapKey(ports: readonly EndpointPort[] | undefined): string {
  const norm = (ports ?? []).map((p) => [p.name ?? '', p.protocol ?? 'TCP', p.port ?? 0, p.appProtocol ?? null] as const);
  norm.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return JSON.stringify(norm);
}

/** Upstream's podToEndpoint: ready only when serving and not terminating (or publishNotReadyAddresses). */
export function podToEndpoint(pod: Readonly<Pod>, node: Readonly<Node> | undefined, svc: Readonly<Service>, addressType: AddressType): Endpoint {
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata?.deletionTimestamp;
  const ready = (svc.spec?.publishNotReadyAddresses ?? false) || (serving && !terminating);
  const ep: Endpoint = {
    addresses: podIPs(pod).filter((ip) => isIPv6(ip) === (addressType === 'IPv6')),
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
  };
  if (pod.spec?.nodeName) ep.nodeName = pod.spec.nodeName;
  const zone = node?.metadata?.labels?.[ZONE_LABEL];
  if (zone) ep.zone = zone;
  if (shouldSetHostname(pod, svc)) ep.hostname = pod.spec!.hostname!;
  return ep;
}

/** The identity of an endpoint across syncs: its addresses, hostname and pod (hashEndpoint). */
export function endpointKey(ep: Readonly<Endpoint>): string {
  return JSON.stringify([[...(ep.addresses ?? [])].sort(), ep.hostname ?? '', ep.targetRef?.namespace ?? '', ep.targetRef?.name ?? '']);
}

/** Whether two endpoints with the same key also agree on everything else (EndpointsEqualBeyondHash). */
export function endpointsEqualBeyondHash(a: Readonly<Endpoint>, b: Readonly<Endpoint>): boolean {
  const rest = (e: Readonly<Endpoint>) =>
    JSON.stringify([
      e.conditions?.ready ?? null,
      e.conditions?.serving ?? null,
      e.conditions?.terminating ?? null,
      e.zone ?? null,
      e.nodeName ?? null,
      e.hints ?? null,
      e.targetRef ? [e.targetRef.kind ?? '', e.targetRef.namespace ?? '', e.targetRef.name ?? '', e.targetRef.uid ?? ''] : null,
    ]);
  return rest(a) === rest(b);
}

const RESERVED_LABELS = new Set([LABEL_SERVICE_NAME, LABEL_MANAGED_BY, HEADLESS_SERVICE_LABEL]);

/** The labels a slice of `svc` should carry, and whether its non-reserved ones differ from the Service's. */
export function sliceLabels(slice: Readonly<EndpointSlice>, svc: Readonly<Service>): [Record<string, string>, boolean] {
  const ep: Record<string, string> = {};
  const want: Record<string, string> = {};
  for (const [k, v] of Object.entries(slice.metadata?.labels ?? {})) if (!RESERVED_LABELS.has(k)) ep[k] = v;
  for (const [k, v] of Object.entries(svc.metadata?.labels ?? {})) if (!RESERVED_LABELS.has(k)) want[k] = v;
  const changed = Object.keys(ep).length !== Object.keys(want).length || Object.entries(ep).some(([k, v]) => want[k] !== v);
  if (!isServiceIPSet(svc)) want[HEADLESS_SERVICE_LABEL] = '';
  want[LABEL_SERVICE_NAME] = svc.metadata?.name ?? '';
  want[LABEL_MANAGED_BY] = ENDPOINTSLICE_CONTROLLER_NAME;
  return [want, changed];
}

/** A new, unnamed slice of `svc` (generateName `<service>-`), owned by it. */
export function newEndpointSlice(svc: Readonly<Service>, ports: EndpointPort[], addressType: AddressType): EndpointSlice {
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${svc.metadata?.name ?? ''}-`,
      namespace: svc.metadata?.namespace ?? '',
      labels: {},
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata?.name ?? '', uid: svc.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    addressType,
    endpoints: [],
    ports,
  };
  slice.metadata!.labels = sliceLabels(slice, svc)[0];
  return slice;
}

function isPlaceholderEqual(existing: Readonly<EndpointSlice>, placeholder: Readonly<EndpointSlice>): boolean {
  const l1 = existing.metadata?.labels ?? {};
  const l2 = placeholder.metadata?.labels ?? {};
  const sameLabels = Object.keys(l1).length === Object.keys(l2).length && Object.entries(l1).every(([k, v]) => l2[k] === v);
  return (
    sameLabels &&
    (existing.metadata?.namespace ?? '') === (placeholder.metadata?.namespace ?? '') &&
    existing.addressType === placeholder.addressType &&
    (existing.endpoints ?? []).length === 0 &&
    (existing.ports ?? []).length === 0 &&
    (placeholder.ports ?? []).length === 0
  );
}

/** An ordered set of desired endpoints keyed by endpointKey (upstream's EndpointSet). */
class EndpointSet {
  private readonly m = new Map<string, Endpoint>();
  insert(e: Endpoint): void {
    this.m.set(endpointKey(e), e);
  }
  get(e: Readonly<Endpoint>): Endpoint | undefined {
    return this.m.get(endpointKey(e));
  }
  delete(e: Readonly<Endpoint>): void {
    this.m.delete(endpointKey(e));
  }
  get size(): number {
    return this.m.size;
  }
  pop(): Endpoint {
    const [k, v] = this.m.entries().next().value as [string, Endpoint];
    this.m.delete(k);
    return v;
  }
}

/** Upstream's getSliceToFill: the unchanged slice whose free room fits `n` most tightly. */
export function sliceToFill(slices: readonly EndpointSlice[], n: number, max: number): EndpointSlice | undefined {
  let closest = max;
  let best: EndpointSlice | undefined;
  for (const s of slices) {
    const diff = max - (n + (s.endpoints?.length ?? 0));
    if (diff >= 0 && diff < closest) {
      closest = diff;
      best = s;
      if (closest === 0) break;
    }
  }
  return best;
}

function reconcileByPortMapping(svc: Readonly<Service>, existing: readonly Readonly<EndpointSlice>[], desired: EndpointSet, ports: EndpointPort[], addressType: AddressType, max: number) {
  const byName = new Map<string, EndpointSlice>();
  const unchanged = new Set<string>();
  const toUpdate = new Set<string>();
  const toDelete = new Set<string>();
  // 1. Keep desired endpoints where they are; drop the rest.
  for (const s of existing) {
    const name = s.metadata?.name ?? '';
    byName.set(name, s as EndpointSlice);
    const kept: Endpoint[] = [];
    let updated = false;
    for (const e of s.endpoints ?? []) {
      const got = desired.get(e);
      if (!got) continue;
      kept.push(got);
      if (!endpointsEqualBeyondHash(got, e)) updated = true;
      desired.delete(e);
    }
    const [labels, labelsChanged] = sliceLabels(s, svc);
    if (updated || (s.endpoints ?? []).length !== kept.length) {
      if (kept.length === 0) toDelete.add(name);
      else {
        const copy = structuredClone(s) as EndpointSlice;
        copy.endpoints = kept;
        copy.metadata = { ...copy.metadata, labels };
        byName.set(name, copy);
        toUpdate.add(name);
      }
    } else if (labelsChanged) {
      const copy = structuredClone(s) as EndpointSlice;
      copy.endpoints ??= [];
      copy.metadata = { ...copy.metadata, labels };
      byName.set(name, copy);
      toUpdate.add(name);
    } else {
      unchanged.add(name);
    }
  }
  // 2. Fill the slices being updated anyway, fullest first.
  if (desired.size > 0 && toUpdate.size > 0) {
    const slices = [...toUpdate].map((n) => byName.get(n)!).sort((a, b) => (b.endpoints?.length ?? 0) - (a.endpoints?.length ?? 0));
    for (const s of slices) while (desired.size > 0 && s.endpoints.length < max) s.endpoints.push(desired.pop());
  }
  // 3. Leftovers: into the best-fitting untouched slice if they fit in one, else new slices.
  const create: EndpointSlice[] = [];
  while (desired.size > 0) {
    let fill: EndpointSlice | undefined;
    if (desired.size < max && unchanged.size > 0) {
      const found = sliceToFill([...unchanged].map((n) => byName.get(n)!), desired.size, max);
      if (found) {
        fill = structuredClone(found) as EndpointSlice;
        fill.endpoints ??= [];
        byName.set(fill.metadata!.name!, fill);
      }
    }
    fill ??= newEndpointSlice(svc, ports, addressType);
    while (desired.size > 0 && fill.endpoints.length < max) fill.endpoints.push(desired.pop());
    if (fill.metadata?.name) {
      toUpdate.add(fill.metadata.name);
      unchanged.delete(fill.metadata.name);
    } else {
      create.push(fill);
    }
  }
  return { create, update: [...toUpdate].map((n) => byName.get(n)!), delete: [...toDelete].map((n) => byName.get(n)!) };
}

function reconcileByAddressType(input: SlicePlanInput, existing: readonly Readonly<EndpointSlice>[], addressType: AddressType, plan: SlicePlan): void {
  const { service: svc, maxEndpointsPerSlice: max } = input;
  const create: EndpointSlice[] = [];
  const update: EndpointSlice[] = [];
  const del: EndpointSlice[] = [];
  const existingByPorts = new Map<string, EndpointSlice[]>();
  for (const s of existing) {
    if (!ownedBy(s, svc)) {
      del.push(s as EndpointSlice);
      continue;
    }
    const k = portMapKey(s.ports);
    existingByPorts.set(k, [...(existingByPorts.get(k) ?? []), s as EndpointSlice]);
  }
  const desiredByPorts = new Map<string, { set: EndpointSet; ports: EndpointPort[] }>();
  for (const pod of input.pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports = endpointPorts(svc, pod);
    const k = portMapKey(ports);
    let d = desiredByPorts.get(k);
    if (!d) desiredByPorts.set(k, (d = { set: new EndpointSet(), ports }));
    const nodeName = pod.spec?.nodeName ?? '';
    const node = input.node(nodeName);
    if (!node && !svc.spec?.publishNotReadyAddresses) {
      plan.errors.push(`skipping Pod ${pod.metadata?.name} for Service ${svc.metadata?.namespace}/${svc.metadata?.name}: Node ${nodeName} Not Found`);
      continue;
    }
    const ep = podToEndpoint(pod, node, svc, addressType);
    if (ep.addresses.length > 0) d.set.insert(ep);
  }
  for (const [k, d] of desiredByPorts) {
    const r = reconcileByPortMapping(svc, existingByPorts.get(k) ?? [], d.set, d.ports, addressType, max);
    create.push(...r.create);
    update.push(...r.update);
    del.push(...r.delete);
  }
  for (const [k, slices] of existingByPorts) if (!desiredByPorts.has(k)) del.push(...slices);
  // A Service with no endpoints of this family still gets one empty slice.
  if (existing.length === del.length && create.length < 1) {
    const placeholder = newEndpointSlice(svc, [], addressType);
    if (del.length === 1 && isPlaceholderEqual(del[0]!, placeholder)) del.length = 0;
    else create.push(placeholder);
  }
  finalize(svc, create, update, del, input.triggerTime, plan);
}

/** Turns creates into updates of slices that would be deleted; stamps the trigger time. */
function finalize(svc: Readonly<Service>, create: EndpointSlice[], update: EndpointSlice[], del: EndpointSlice[], triggerTime: number, plan: SlicePlan): void {
  for (let i = 0; i < del.length; ) {
    if (create.length === 0) break;
    const victim = del[i]!;
    const slice = create[create.length - 1]!;
    if (victim.addressType === slice.addressType && ownedBy(victim, svc)) {
      slice.metadata = { ...slice.metadata, name: victim.metadata?.name ?? '' };
      delete slice.metadata.generateName;
      create.pop();
      update.push(slice);
      del.splice(i, 1);
    } else {
      i++;
    }
  }
  const stamp = (s: EndpointSlice) => {
    const a = { ...(s.metadata?.annotations ?? {}) };
    if (triggerTime) a[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = formatRFC3339Nano(triggerTime);
    else delete a[LAST_CHANGE_TRIGGER_TIME_ANNOTATION];
    s.metadata = { ...s.metadata, annotations: a };
  };
  // No new slices for a Service being deleted: the garbage collector is removing them.
  if (!svc.metadata?.deletionTimestamp) {
    for (const s of create) stamp(s);
    plan.create.push(...create);
  }
  for (const s of update) stamp(s);
  plan.update.push(...update);
  plan.delete.push(...del);
}

/** What to create, update and delete so the Service's slices match its pods (upstream's Reconcile). */
export function planEndpointSlices(input: SlicePlanInput): SlicePlan {
  const plan: SlicePlan = { create: [], update: [], delete: [], errors: [] };
  const types = addressTypesForService(input.service);
  const byType = new Map<string, Readonly<EndpointSlice>[]>();
  const unsupported: EndpointSlice[] = [];
  for (const s of input.existing) {
    if (!types.has(s.addressType as AddressType)) {
      unsupported.push(s as EndpointSlice);
      continue;
    }
    byType.set(s.addressType, [...(byType.get(s.addressType) ?? []), s]);
  }
  for (const t of types) reconcileByAddressType(input, byType.get(t) ?? [], t, plan);
  plan.delete.push(...unsupported);
  return plan;
}
