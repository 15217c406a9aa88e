// The node lifecycle controller (upstream `node-lifecycle-controller`): watches node Leases and
// status; a node silent for the grace period gets its conditions set to Unknown and its pods
// marked not ready, and nodes are tainted NoExecute (unreachable / not-ready, rate-limited per
// zone) and NoSchedule per their conditions. Taint-based eviction itself is the
// taint-eviction-controller's (taintEvictionController.ts).

import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { Node, NodeCondition, Pod, Taint } from 'kubernetes-types/core/v1.js';
import { isConflict, isNotFound } from '../../client/apiError.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import {
  computeZoneState,
  EXCLUDE_DISRUPTION_LABEL,
  isoSeconds,
  noScheduleTaintChanges,
  NOT_READY_TAINT,
  swapTaints,
  taintExists,
  tryUpdateNodeHealth,
  UNREACHABLE_TAINT,
  zoneEvictionQPS,
  zoneKey,
  type NodeHealthData,
  type ZoneState,
} from './nodeHealth.js';
import { RateLimitedTimedQueue } from './rateLimitedTimedQueue.js';

export const NODE_LIFECYCLE_CONTROLLER = 'node-lifecycle-controller';
const NODE_NAME_INDEX = 'spec.nodeName';
/** Upstream's --node-startup-grace-period default. */
export const DEFAULT_NODE_STARTUP_GRACE_PERIOD_MS = 60_000;
/** Upstream's NodeEvictionPeriod: how often the NoExecute taint queues are worked. */
const NODE_EVICTION_PERIOD_MS = 100;
const NODE_HEALTH_UPDATE_RETRY = 5;

export interface NodeLifecycleOptions {
  nodeStartupGracePeriodMs?: number;
}

/** Upstream's MarkPodsNotReady: Ready=False on each pod of the node, with a NodeNotReady event. */
export async function markPodsNotReady(ctx: ControllerContext, recorder: EventRecorder, pods: readonly Readonly<Pod>[], nodeName: string): Promise<void> {
  const client = ctx.client.resource<Pod>('', 'v1', 'pods');
  const errs: unknown[] = [];
  for (const p of pods) {
    if (p.spec?.nodeName !== nodeName) continue;
    const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
    if (!ready || ready.status === 'False') continue;
    const conditions = p.status!.conditions!.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: isoSeconds(Date.now()) } : c));
    try {
      await client.updateStatus({ ...p, status: { ...p.status, conditions } } as Pod);
    } catch (err) {
      if (isNotFound(err)) continue;
      errs.push(err);
    }
    recorder.event(p as Pod, 'Warning', 'NodeNotReady', 'Node is not ready');
  }
  if (errs.length) throw new Error(errs.map((e) => (e as Error).message).join('; '));
}

export function newNodeLifecycleController(ctx: ControllerContext, opts: NodeLifecycleOptions = {}): Controller {
  const log = ctx.log.child({ controller: NODE_LIFECYCLE_CONTROLLER });
  const o = ctx.options;
  const startupGrace = opts.nodeStartupGracePeriodMs ?? DEFAULT_NODE_STARTUP_GRACE_PERIOD_MS;
  const nodes = ctx.informers.informerFor<Node>('', 'v1', 'nodes');
  const pods = ctx.informers.informerFor<Pod>('', 'v1', 'pods', { indexers: { [NODE_NAME_INDEX]: (p: Readonly<Pod>) => (p.spec?.nodeName ? [p.spec.nodeName] : []) } });
  const leases = ctx.informers.informerFor<Lease>('coordination.k8s.io', 'v1', 'leases', { namespace: 'kube-node-lease' });
  const nodeClient = ctx.client.resource<Node>('', 'v1', 'nodes');
  const recorder = ctx.recorder('node-controller');
  const noScheduleQueue = newQueue(`${NODE_LIFECYCLE_CONTROLLER}-noschedule`);
  const podQueue = newQueue(`${NODE_LIFECYCLE_CONTROLLER}-pods`);

  const known = new Map<string, Readonly<Node>>();
  const health = new Map<string, NodeHealthData>();
  const zoneStates = new Map<string, ZoneState>();
  const tainters = new Map<string, RateLimitedTimedQueue>();
  const nodesToRetry = new Set<string>();

  const nodeRef = (n: Readonly<Node>) => ({ apiVersion: 'v1', kind: 'Node', name: n.metadata?.name ?? '', uid: n.metadata?.uid ?? '', namespace: '' });
  const recordNodeEvent = (n: Readonly<Node>, type: 'Normal' | 'Warning', reason: string, event: string) =>
    recorder.event(nodeRef(n), type, reason, `Node ${n.metadata?.name} event: ${event}`);
  const recordNodeStatusChange = (n: Readonly<Node>, status: string) => recorder.event(nodeRef(n), 'Normal', status, `Node ${n.metadata?.name} status is now: ${status}`);

  nodes.addEventHandler({
    onAdd: (n) => noScheduleQueue.add(keyOf(n)),
    onUpdate: (_o, n) => noScheduleQueue.add(keyOf(n)),
  });
  pods.addEventHandler({
    onAdd: (p) => {
      if (p.spec?.nodeName) podQueue.add(keyOf(p));
    },
    onUpdate: (old, p) => {
      if (p.spec?.nodeName && old.spec?.nodeName !== p.spec.nodeName) podQueue.add(keyOf(p));
    },
  });

  /** Adds and removes taints on the node's latest version (AddOrUpdateTaintOnNode / RemoveTaintOffNode). */
  async function changeTaints(name: string, add: readonly Taint[], remove: readonly Taint[], signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const node = attempt === 0 ? (nodes.get(undefined, name) ?? (await nodeClient.get(undefined, name))) : await nodeClient.get(undefined, name);
      const next = swapTaints(node.spec?.taints, add, remove, isoSeconds(Date.now()));
      const cur = node.spec?.taints ?? [];
      const same = next.length === cur.length && add.every((a) => taintExists(cur, a)) && !remove.some((r) => taintExists(cur, r));
      if (same) return;
      try {
        await nodeClient.update({ ...node, spec: { ...node.spec, taints: next } } as Node, signal ? { signal } : {});
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  /** Upstream's doNoScheduleTaintingPass. */
  async function syncNoSchedule(name: string): Promise<void> {
    const node = nodes.get(undefined, name);
    if (!node) return;
    const { add, remove } = noScheduleTaintChanges(node);
    if (add.length === 0 && remove.length === 0) return;
    await changeTaints(name, add, remove);
  }

  /** Upstream's processPod: a pod landing on a not-ready node is marked not ready too. */
  async function syncPod(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const pod = pods.get(ns, name);
    if (!pod?.spec?.nodeName) return;
    const h = health.get(pod.spec.nodeName);
    if (!h || !nodes.get(undefined, pod.spec.nodeName)) return;
    const ready = h.status?.conditions?.find((c) => c.type === 'Ready');
    if (!ready) return;
    if (ready.status !== 'True') await markPodsNotReady(ctx, recorder, [pod], pod.spec.nodeName);
  }

  const tainterFor = (zone: string) => {
    let q = tainters.get(zone);
    if (!q) {
      tainters.set(zone, (q = new RateLimitedTimedQueue(o.nodeEvictionRate)));
      zoneStates.set(zone, 'Initial');
    }
    return q;
  };

  async function markNodeAsReachable(node: Readonly<Node>): Promise<boolean> {
    const t = node.spec?.taints;
    if (taintExists(t, UNREACHABLE_TAINT) || taintExists(t, NOT_READY_TAINT)) await changeTaints(node.metadata!.name!, [], [UNREACHABLE_TAINT, NOT_READY_TAINT]);
    return tainterFor(zoneKey(node)).remove(node.metadata!.name!);
  }

  function markNodeForTainting(node: Readonly<Node>, status: 'False' | 'Unknown'): boolean {
    const q = tainterFor(zoneKey(node));
    const name = node.metadata!.name!;
    if (status === 'False' && !taintExists(node.spec?.taints, NOT_READY_TAINT)) q.remove(name);
    if (status === 'Unknown' && !taintExists(node.spec?.taints, UNREACHABLE_TAINT)) q.remove(name);
    return q.add(name, node.metadata?.uid ?? '');
  }

  /** Upstream's processTaintBaseEviction, on the Ready condition observed before this pass. */
  async function processTaintBaseEviction(node: Readonly<Node>, observed: string): Promise<void> {
    const name = node.metadata!.name!;
    const taints = node.spec?.taints;
    if (observed === 'False') {
      if (taintExists(taints, UNREACHABLE_TAINT)) await changeTaints(name, [NOT_READY_TAINT], [UNREACHABLE_TAINT]).catch((err: unknown) => log.warn({ err, node: name }, 'failed to swap UnreachableTaint to NotReadyTaint; will try again in the next cycle'));
      else markNodeForTainting(node, 'False');
    } else if (observed === 'Unknown') {
      if (taintExists(taints, NOT_READY_TAINT)) await changeTaints(name, [UNREACHABLE_TAINT], [NOT_READY_TAINT]).catch((err: unknown) => log.warn({ err, node: name }, 'failed to swap NotReadyTaint to UnreachableTaint; will try again in the next cycle'));
      else markNodeForTainting(node, 'Unknown');
    } else if (observed === 'True') {
      await markNodeAsReachable(node).catch((err: unknown) => log.warn({ err, node: name }, 'failed to remove taints from node; will retry in next iteration'));
    }
  }

  /** Upstream's doNoExecuteTaintingPass: swap in the taint matching the node's Ready condition, rate-limited per zone. */
  async function doNoExecuteTaintingPass(): Promise<void> {
    for (const q of tainters.values()) {
      await q.try(async (v) => {
        const node = nodes.get(undefined, v.value);
        if (!node) return [true, 0];
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        if (!ready) return [false, 50];
        let add: Readonly<Taint>;
        let opposite: Readonly<Taint>;
        if (ready.status === 'False') [add, opposite] = [NOT_READY_TAINT, UNREACHABLE_TAINT];
        else if (ready.status === 'Unknown') [add, opposite] = [UNREACHABLE_TAINT, NOT_READY_TAINT];
        else return [true, 0];
        try {
          await changeTaints(v.value, [add], [opposite]);
          return [true, 0];
        } catch (err) {
          log.warn({ err, node: v.value }, 'unable to taint unresponsive node');
          return [false, 0];
        }
      });
    }
  }

  async function updateHealth(nodeIn: Readonly<Node>): Promise<ReturnType<typeof tryUpdateNodeHealth> | undefined> {
    let node: Readonly<Node> = nodeIn;
    const name = node.metadata!.name!;
    for (let i = 0; i < NODE_HEALTH_UPDATE_RETRY; i++) {
      const r = tryUpdateNodeHealth(node, health.get(name), leases.get('kube-node-lease', name), Date.now(), o.nodeMonitorGracePeriodMs, startupGrace);
      if (!r.write) {
        health.set(name, r.health);
        return r;
      }
      try {
        const written = await nodeClient.updateStatus(r.write);
        health.set(name, { ...r.health, status: written.status });
        return r;
      } catch (err) {
        log.warn({ err, node: name }, 'error updating node status');
        try {
          node = await nodeClient.get(undefined, name);
        } catch (e) {
          if (isNotFound(e)) return undefined;
        }
      }
    }
    return undefined;
  }

  /** Upstream's monitorNodeHealth: one pass over every node. */
  async function monitorNodeHealth(): Promise<void> {
    const all = nodes.list();
    const seen = new Set<string>();
    for (const n of all) {
      const name = n.metadata!.name!;
      seen.add(name);
      if (!known.has(name)) {
        log.info({ node: name }, 'controller observed a new Node');
        recordNodeEvent(n, 'Normal', 'RegisteredNode', `Registered Node ${name} in Controller`);
        known.set(name, n);
        tainterFor(zoneKey(n));
        await markNodeAsReachable(n).catch((err: unknown) => log.warn({ err, node: name }, 'failed to remove taints from node'));
      }
    }
    for (const [name, n] of known) {
      if (seen.has(name)) continue;
      recordNodeEvent(n, 'Normal', 'RemovingNode', `Removing Node ${name} from Controller`);
      known.delete(name);
      health.delete(name);
    }
    const zoneConditions = new Map<string, (NodeCondition | undefined)[]>();
    for (const n of all) {
      const name = n.metadata!.name!;
      const r = await updateHealth(n);
      if (!r) continue;
      if (n.metadata?.labels?.[EXCLUDE_DISRUPTION_LABEL] === undefined) {
        const z = zoneKey(n);
        zoneConditions.set(z, [...(zoneConditions.get(z) ?? []), r.currentReady]);
      }
      if (r.currentReady) {
        const fresh = nodes.get(undefined, name) ?? n;
        await processTaintBaseEviction(fresh, r.observedReady.status);
        const onNode = pods.byIndex(NODE_NAME_INDEX, name);
        const becameNotReady = r.currentReady.status !== 'True' && r.observedReady.status === 'True';
        if (becameNotReady) recordNodeStatusChange(n, 'NodeNotReady');
        if (becameNotReady || (nodesToRetry.has(name) && r.observedReady.status !== 'True')) {
          try {
            await markPodsNotReady(ctx, recorder, onNode, name);
          } catch (err) {
            log.warn({ err, node: name }, 'unable to mark all pods NotReady on node; queuing for retry');
            nodesToRetry.add(name);
            continue;
          }
        }
      }
      nodesToRetry.delete(name);
    }
    await handleDisruption(zoneConditions, all);
  }

  /** Upstream's handleDisruption: per-zone eviction rates, and no evictions at all when every zone is down. */
  async function handleDisruption(zoneConditions: Map<string, (NodeCondition | undefined)[]>, all: readonly Readonly<Node>[]): Promise<void> {
    const newStates = new Map<string, ZoneState>();
    let allAreFullyDisrupted = true;
    for (const [z, conds] of zoneConditions) {
      const [, state] = computeZoneState(conds, o.unhealthyZoneThreshold);
      if (state !== 'FullDisruption') allAreFullyDisrupted = false;
      newStates.set(z, state);
      if (!zoneStates.has(z)) {
        zoneStates.set(z, 'Initial');
        tainterFor(z);
      }
    }
    let allWasFullyDisrupted = true;
    for (const [z, s] of [...zoneStates]) {
      if (!zoneConditions.has(z)) {
        zoneStates.delete(z);
        continue;
      }
      if (s !== 'FullDisruption') {
        allWasFullyDisrupted = false;
        break;
      }
    }
    if (allAreFullyDisrupted && allWasFullyDisrupted) return;
    if (allAreFullyDisrupted) {
      log.info('controller detected that all Nodes are not-Ready; entering master disruption mode');
      for (const n of all) await markNodeAsReachable(n).catch((err: unknown) => log.warn({ err, node: n.metadata?.name }, 'failed to remove taints from node'));
      for (const z of zoneStates.keys()) {
        tainterFor(z).swapLimiter(0);
        zoneStates.set(z, 'FullDisruption');
      }
      return;
    }
    if (allWasFullyDisrupted) {
      log.info('controller detected that some Nodes are Ready; exiting master disruption mode');
      const now = Date.now();
      for (const n of all) {
        const h = health.get(n.metadata!.name!);
        if (h) health.set(n.metadata!.name!, { ...h, probeTimestamp: now, readyTransitionTimestamp: now });
      }
      for (const z of zoneStates.keys()) {
        const s = newStates.get(z) ?? 'Normal';
        tainterFor(z).swapLimiter(zoneEvictionQPS(s, zoneConditions.get(z)?.length ?? 0, o));
        zoneStates.set(z, s);
      }
      return;
    }
    for (const [z, s] of zoneStates) {
      const next = newStates.get(z);
      if (!next || next === s) continue;
      log.info({ zone: z, newState: next }, 'controller detected that zone is now in new state');
      tainterFor(z).swapLimiter(zoneEvictionQPS(next, zoneConditions.get(z)?.length ?? 0, o));
      zoneStates.set(z, next);
    }
  }

  async function every(ms: number, fn: () => Promise<void>, what: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, `${what} failed`);
      }
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  return {
    name: NODE_LIFECYCLE_CONTROLLER,
    async run(signal) {
      const synced = [() => nodes.hasSynced(), () => pods.hasSynced(), () => leases.hasSynced()];
      const workers = Promise.all([
        runQueueWorkers({ name: `${NODE_LIFECYCLE_CONTROLLER}-noschedule`, queue: noScheduleQueue, sync: syncNoSchedule, workers: 1, synced, log }, signal),
        runQueueWorkers({ name: `${NODE_LIFECYCLE_CONTROLLER}-pods`, queue: podQueue, sync: syncPod, workers: 1, synced, log }, signal),
      ]);
      while (!synced.every((s) => s()) && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
      await Promise.all([
        workers,
        every(o.nodeMonitorPeriodMs, monitorNodeHealth, 'monitoring node health', signal),
        every(NODE_EVICTION_PERIOD_MS, doNoExecuteTaintingPass, 'tainting unresponsive nodes', signal),
      ]);
    },
  };
}
