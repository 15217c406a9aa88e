// Pure parts of the node lifecycle controller: how a node's health is judged from its Lease and
// status (tryUpdateNodeHealth), which taints its conditions call for, and how a zone's share of
// unhealthy nodes sets its eviction rate — all as upstream 1.32.

import type { Node, NodeCondition, Taint } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';

export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NODE_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_NODE_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_NODE_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';
export const TAINT_NODE_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const EXCLUDE_DISRUPTION_LABEL = 'node.kubernetes.io/exclude-disruption';

export const UNREACHABLE_TAINT: Readonly<Taint> = { key: TAINT_NODE_UNREACHABLE, effect: 'NoExecute' };
export const NOT_READY_TAINT: Readonly<Taint> = { key: TAINT_NODE_NOT_READY, effect: 'NoExecute' };

/** Which NoSchedule taint a condition in a given status calls for (nodeConditionToTaintKeyStatusMap). */
const CONDITION_TAINTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Ready: { False: TAINT_NODE_NOT_READY, Unknown: TAINT_NODE_UNREACHABLE },
  MemoryPressure: { True: TAINT_NODE_MEMORY_PRESSURE },
  DiskPressure: { True: TAINT_NODE_DISK_PRESSURE },
  NetworkUnavailable: { True: TAINT_NODE_NETWORK_UNAVAILABLE },
  PIDPressure: { True: TAINT_NODE_PID_PRESSURE },
};
const CONDITION_TAINT_KEYS = new Set(Object.values(CONDITION_TAINTS).flatMap((m) => Object.values(m)));

/** Same key and effect (upstream's Taint.MatchTaint). */
export function taintMatches(a: Readonly<Taint>, b: Readonly<Taint>): boolean {
  return a.key === b.key && a.effect === b.effect;
}

export function taintExists(taints: readonly Readonly<Taint>[] | undefined, t: Readonly<Taint>): boolean {
  return (taints ?? []).some((x) => taintMatches(x, t));
}

/** The NoSchedule taints a node's conditions (and spec.unschedulable) call for, minus what it has. */
export function noScheduleTaintChanges(node: Readonly<Node>): { add: Taint[]; remove: Taint[] } {
  const want: Taint[] = [];
  for (const c of node.status?.conditions ?? []) {
    const key = CONDITION_TAINTS[c.type]?.[c.status];
    if (key) want.push({ key, effect: 'NoSchedule' });
  }
  if (node.spec?.unschedulable) want.push({ key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' });
  const have = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' && (CONDITION_TAINT_KEYS.has(t.key) || t.key === TAINT_NODE_UNSCHEDULABLE));
  return {
    add: want.filter((w) => !have.some((h) => taintMatches(h, w))),
    remove: have.filter((h) => !want.some((w) => taintMatches(h, w))),
  };
}

/** `taints` with `remove` dropped and `add` added (stamped `timeAdded`), as SwapNodeControllerTaint. */
export function swapTaints(taints: readonly Readonly<Taint>[] | undefined, add: readonly Readonly<Taint>[], remove: readonly Readonly<Taint>[], nowIso: string): Taint[] {
  const out = (taints ?? []).filter((t) => !remove.some((r) => taintMatches(r, t))).map((t) => ({ ...t }));
  for (const a of add) {
    const i = out.findIndex((t) => taintMatches(t, a));
    const next = { ...a, timeAdded: nowIso };
    if (i < 0) out.push(next);
    else if (out[i]!.value !== a.value) out[i] = next;
  }
  return out;
}

/** Upstream's GetZoneKey: region and zone labels, '' when neither is set. */
export function zoneKey(node: Readonly<Node>): string {
  const l = node.metadata?.labels ?? {};
  const zone = l['topology.kubernetes.io/zone'] ?? l['failure-domain.beta.kubernetes.io/zone'] ?? '';
  const region = l['topology.kubernetes.io/region'] ?? l['failure-domain.beta.kubernetes.io/region'] ?? '';
  return region === '' && zone === '' ? '' : `${region}:\x00:${zone}`;
}

export type ZoneState = 'Initial' | 'Normal' | 'FullDisruption' | 'PartialDisruption';

/** Upstream's ComputeZoneState: [number not ready, state]. */
export function computeZoneState(readyConditions: readonly (Readonly<NodeCondition> | undefined)[], unhealthyZoneThreshold: number): [number, ZoneState] {
  let ready = 0;
  let notReady = 0;
  for (const c of readyConditions) {
    if (c?.status === 'True') ready++;
    else notReady++;
  }
  if (ready === 0 && notReady > 0) return [notReady, 'FullDisruption'];
  if (notReady > 2 && notReady / (notReady + ready) >= unhealthyZoneThreshold) return [notReady, 'PartialDisruption'];
  return [notReady, 'Normal'];
}

/** The taint-queue rate for a zone in `state` of `size` nodes (setLimiterInZone with upstream's QPS funcs). */
export function zoneEvictionQPS(state: ZoneState, size: number, o: { nodeEvictionRate: number; secondaryNodeEvictionRate: number; largeClusterSizeThreshold: number }): number {
  switch (state) {
    case 'PartialDisruption':
      return size > o.largeClusterSizeThreshold ? o.secondaryNodeEvictionRate : 0;
    case 'FullDisruption':
    case 'Normal':
    case 'Initial':
      return o.nodeEvictionRate;
  }
}

export interface NodeHealthData {
  probeTimestamp: number;
  readyTransitionTimestamp: number;
  status: Node['status'];
  lease?: Readonly<Lease> | undefined;
}

export interface HealthUpdate {
  health: NodeHealthData;
  /** The Ready condition as found on the node (a fake Unknown one if it never had one). */
  observedReady: NodeCondition;
  /** The Ready condition after this pass (undefined when the node has none and was not marked). */
  currentReady: NodeCondition | undefined;
  /** The node with conditions set to Unknown, to write to status; undefined when nothing changes. */
  write?: Node;
}

const getCondition = (status: Node['status'] | undefined, type: string) => status?.conditions?.find((c) => c.type === type);
const renewTime = (l: Readonly<Lease> | undefined) => (l?.spec?.renewTime ? Date.parse(l.spec.renewTime) || 0 : 0);
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Upstream's tryUpdateNodeHealth: the probe time moves when the Ready condition's heartbeat or the
 * node's Lease renewal changes; past `gracePeriodMs` without either, Ready, MemoryPressure,
 * DiskPressure and PIDPressure become Unknown ("Kubelet stopped posting node status.").
 */
export function tryUpdateNodeHealth(nodeIn: Readonly<Node>, saved: NodeHealthData | undefined, lease: Readonly<Lease> | undefined, now: number, gracePeriodMs: number, startupGracePeriodMs: number): HealthUpdate {
  let node = structuredClone(nodeIn) as Node;
  const created = Date.parse(node.metadata?.creationTimestamp ?? '') || now;
  const currentReady0 = getCondition(node.status, 'Ready');
  let health = saved;
  let grace: number;
  let observedReady: NodeCondition;
  if (!currentReady0) {
    observedReady = { type: 'Ready', status: 'Unknown', lastHeartbeatTime: node.metadata?.creationTimestamp ?? isoSeconds(created), lastTransitionTime: node.metadata?.creationTimestamp ?? isoSeconds(created) };
    grace = startupGracePeriodMs;
    health = health ? { ...health, status: node.status } : { status: node.status, probeTimestamp: created, readyTransitionTimestamp: created };
  } else {
    observedReady = { ...currentReady0 };
    grace = gracePeriodMs;
  }
  const savedReady = saved ? getCondition(saved.status, 'Ready') : undefined;
  const savedLease = saved?.lease;
  if (!saved && !health) {
    health = { status: node.status, probeTimestamp: now, readyTransitionTimestamp: now };
  } else if (!saved) {
    // (no saved data and no Ready condition: the fake one above)
  } else if (!savedReady && currentReady0) {
    health = { status: node.status, probeTimestamp: now, readyTransitionTimestamp: now };
  } else if (savedReady && !currentReady0) {
    health = { status: node.status, probeTimestamp: now, readyTransitionTimestamp: now };
  } else if (savedReady && currentReady0 && savedReady.lastHeartbeatTime !== currentReady0.lastHeartbeatTime) {
    const transition = savedReady.lastTransitionTime !== currentReady0.lastTransitionTime ? now : saved.readyTransitionTimestamp;
    health = { status: node.status, probeTimestamp: now, readyTransitionTimestamp: transition };
  }
  let h: NodeHealthData = { ...health! };
  if (saved?.lease && !h.lease) h.lease = saved.lease;
  // A renewed Lease is a heartbeat.
  if (lease && (!savedLease || renewTime(savedLease) < renewTime(lease) || (renewTime(savedLease) === renewTime(lease) && (savedLease.spec?.renewTime ?? '') < (lease.spec?.renewTime ?? '')))) {
    h = { ...h, lease, probeTimestamp: now };
  }
  let currentReady = currentReady0 ? { ...currentReady0 } : undefined;
  if (now > h.probeTimestamp + grace) {
    const nowIso = isoSeconds(now);
    const conditions: NodeCondition[] = [...(node.status?.conditions ?? [])];
    for (const type of ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']) {
      const i = conditions.findIndex((x) => x.type === type);
      const c = conditions[i];
      if (!c) {
        conditions.push({ type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: node.metadata?.creationTimestamp ?? nowIso, lastTransitionTime: nowIso });
      } else if (c.status !== 'Unknown') {
        conditions[i] = { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: nowIso };
      }
    }
    node = { ...node, status: { ...node.status, conditions } };
    currentReady = { ...getCondition(node.status, 'Ready')! };
    if (JSON.stringify(currentReady) !== JSON.stringify(observedReady)) {
      return { health: { status: node.status, probeTimestamp: h.probeTimestamp, readyTransitionTimestamp: now, lease }, observedReady, currentReady, write: node };
    }
  }
  return { health: h, observedReady, currentReady };
}
