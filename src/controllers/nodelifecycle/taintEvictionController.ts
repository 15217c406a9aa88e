// Taint-based eviction (upstream `taint-eviction-controller`, formerly the node lifecycle
// controller's NoExecuteTaintManager): pods on a node with NoExecute taints they do not tolerate
// are deleted at once; pods tolerating them for tolerationSeconds are deleted when that runs out.

import type { Node, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { isConflict, isNotFound } from '../../client/apiError.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { evictionDecision, noExecuteTaints } from './taintEvictionPlan.js';

export const TAINT_EVICTION_CONTROLLER = 'taint-eviction-controller';
const NODE_NAME_INDEX = 'spec.nodeName';
/** Upstream's retries of one eviction. */
const DELETE_RETRIES = 5;

interface ScheduledEviction {
  createdAt: number;
  fireAt: number;
  cancel(): void;
}

/**
 * Upstream's TimedWorkerQueue: one timer per pod. A pod whose eviction ran keeps a null entry so
 * it is not scheduled again until its deletion is observed.
 */
export class TimedWorkerQueue {
  private readonly workers = new Map<string, ScheduledEviction | null>();

  constructor(private readonly run: (key: string) => Promise<boolean>) {}

  add(key: string, createdAt: number, fireAt: number): void {
    if (this.workers.has(key)) return;
    const t = setTimeout(() => {
      void this.run(key).then((ok) => {
        if (this.workers.get(key)?.cancel !== cancel) return;
        if (ok) this.workers.set(key, null);
        else this.workers.delete(key);
      });
    }, Math.max(0, fireAt - Date.now()));
    t.unref();
    const cancel = () => clearTimeout(t);
    this.workers.set(key, { createdAt, fireAt, cancel });
  }

  /** Cancels a pending eviction; true if one was pending. */
  cancel(key: string): boolean {
    const w = this.workers.get(key);
    if (w === undefined) return false;
    this.workers.delete(key);
    if (w === null) return false;
    w.cancel();
    return true;
  }

  get(key: string): ScheduledEviction | null | undefined {
    return this.workers.get(key);
  }

  stop(): void {
    for (const w of this.workers.values()) w?.cancel();
    this.workers.clear();
  }
}

const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function newTaintEvictionController(ctx: ControllerContext): Controller {
  const log = ctx.log.child({ controller: TAINT_EVICTION_CONTROLLER });
  const nodeQueue = newQueue(`${TAINT_EVICTION_CONTROLLER}-nodes`);
  const podQueue = newQueue(`${TAINT_EVICTION_CONTROLLER}-pods`);
  const nodes = ctx.informers.informerFor<Node>('', 'v1', 'nodes');
  const pods = ctx.informers.informerFor<Pod>('', 'v1', 'pods', { indexers: { [NODE_NAME_INDEX]: (p: Readonly<Pod>) => (p.spec?.nodeName ? [p.spec.nodeName] : []) } });
  const podClient = ctx.client.resource<Pod>('', 'v1', 'pods');
  const recorder = ctx.recorder(TAINT_EVICTION_CONTROLLER);
  const podRef = (key: string) => {
    const [namespace, name] = splitKey(key);
    return { apiVersion: 'v1', kind: 'Pod', name, namespace: namespace ?? '' };
  };

  /** Upstream's addConditionAndDeletePod: DisruptionTarget=True (DeletionByTaintManager), then delete. */
  async function addConditionAndDeletePod(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const pod = await podClient.get(ns, name);
    const conds = pod.status?.conditions ?? [];
    const existing = conds.find((c) => c.type === 'DisruptionTarget');
    const want: PodCondition = { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' };
    if (!existing || existing.status !== want.status || existing.reason !== want.reason || existing.message !== want.message) {
      const next: PodCondition = { ...want, lastTransitionTime: existing?.status === want.status ? existing.lastTransitionTime! : nowIso() };
      const conditions = existing ? conds.map((c) => (c.type === 'DisruptionTarget' ? next : c)) : [...conds, next];
      await podClient.updateStatus({ ...pod, status: { ...pod.status, conditions } });
    }
    await podClient.delete(ns, name, { preconditions: { uid: pod.metadata?.uid ?? '' } });
  }

  const evictions = new TimedWorkerQueue(async (key) => {
    log.info({ pod: key }, 'deleting pod');
    recorder.event(podRef(key), 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${key}`);
    let lastErr: unknown;
    for (let i = 0; i < DELETE_RETRIES; i++) {
      try {
        await addConditionAndDeletePod(key);
        return true;
      } catch (err) {
        if (isNotFound(err)) return true;
        lastErr = err;
        if (!isConflict(err)) await new Promise((r) => setTimeout(r, 10));
      }
    }
    log.warn({ err: lastErr, pod: key }, 'failed to evict pod');
    return false;
  });

  const cancelWithEvent = (key: string) => {
    if (evictions.cancel(key)) recorder.event(podRef(key), 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${key}`);
  };

  /** Upstream's processPodOnNode. */
  function processPod(pod: Readonly<Pod>, node: Readonly<Node>, now: number): void {
    const key = keyOf(pod);
    const d = evictionDecision(node.spec?.taints ?? [], pod.spec?.tolerations, now);
    switch (d.kind) {
      case 'cancel':
        cancelWithEvent(key);
        return;
      case 'evictNow':
        cancelWithEvent(key);
        evictions.add(key, now, now);
        return;
      case 'evictAt': {
        const scheduled = evictions.get(key);
        let start = now;
        if (scheduled) {
          start = scheduled.createdAt;
          // Already due no later than now + toleration: keep it.
          if (start + (d.at - now) < d.at) return;
          cancelWithEvent(key);
        }
        evictions.add(key, start, start + (d.at - now));
        return;
      }
    }
  }

  nodes.addEventHandler({
    onAdd: (n) => nodeQueue.add(keyOf(n)),
    onUpdate: (o, n) => {
      if (JSON.stringify(noExecuteTaints(o.spec?.taints)) !== JSON.stringify(noExecuteTaints(n.spec?.taints))) nodeQueue.add(keyOf(n));
    },
    onDelete: (n) => nodeQueue.add(keyOf(n)),
  });
  pods.addEventHandler({
    onAdd: (p) => podQueue.add(keyOf(p)),
    onUpdate: (o, p) => {
      if (o.spec?.nodeName !== p.spec?.nodeName || JSON.stringify(o.spec?.tolerations ?? []) !== JSON.stringify(p.spec?.tolerations ?? [])) podQueue.add(keyOf(p));
    },
    onDelete: (p) => podQueue.add(keyOf(p)),
  });

  async function syncNode(name: string): Promise<void> {
    const node = nodes.get(undefined, name);
    if (!node) return;
    const assigned = pods.byIndex(NODE_NAME_INDEX, name);
    if (noExecuteTaints(node.spec?.taints).length === 0) {
      for (const p of assigned) cancelWithEvent(keyOf(p));
      return;
    }
    const now = Date.now();
    for (const p of assigned) processPod(p, node, now);
  }

  async function syncPod(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const pod = pods.get(ns, name);
    if (!pod) {
      cancelWithEvent(key);
      return;
    }
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) return;
    const node = nodes.get(undefined, nodeName);
    // A node without NoExecute taints cancelled this pod's eviction when they went.
    if (!node || noExecuteTaints(node.spec?.taints).length === 0) return;
    processPod(pod, node, Date.now());
  }

  return {
    name: TAINT_EVICTION_CONTROLLER,
    async run(signal) {
      const synced = [() => nodes.hasSynced(), () => pods.hasSynced()];
      try {
        await Promise.all([
          runQueueWorkers({ name: `${TAINT_EVICTION_CONTROLLER}-nodes`, queue: nodeQueue, sync: syncNode, workers: 1, synced, log }, signal),
          runQueueWorkers({ name: `${TAINT_EVICTION_CONTROLLER}-pods`, queue: podQueue, sync: syncPod, workers: 4, synced, log }, signal),
        ]);
      } finally {
        evictions.stop();
      }
    },
  };
}
