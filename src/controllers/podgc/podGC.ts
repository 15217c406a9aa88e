// The pod garbage collector (upstream's pod-garbage-collector-controller): every 20 s it deletes
// terminated pods beyond --terminated-pod-gc-threshold (evicted and oldest first), terminating pods
// on not-ready nodes tainted out-of-service, pods bound to nodes that no longer exist (after a 40 s
// quarantine and a live GET), and terminating pods that were never scheduled. Pods not yet
// terminal are marked Failed first (orphans also get a DisruptionTarget condition).
import type { Node, Pod, PodCondition } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { DelayingQueue } from '../../client/workqueue.js';
import { errorText, type Controller, type ControllerContext } from '../controller.js';

export const POD_GC_CONTROLLER = 'pod-garbage-collector-controller';
export const GC_CHECK_PERIOD_MS = 20_000;
export const QUARANTINE_TIME_MS = 40_000;
export const TAINT_NODE_OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';

export interface PodGCOptions {
  gcCheckPeriodMs?: number;
  quarantineTimeMs?: number;
}

type P = Readonly<Pod>;

/** Upstream's isPodTerminated: any phase but Pending, Running and Unknown. */
export function isPodTerminated(p: P): boolean {
  const phase = p.status?.phase ?? '';
  return phase !== 'Pending' && phase !== 'Running' && phase !== 'Unknown';
}

function isEvicted(p: P): boolean {
  return p.status?.phase === 'Failed' && p.status.reason === 'Evicted';
}

/** Evicted pods first, then oldest first, names breaking ties (upstream's byEvictionAndCreationTimestamp). */
export function byEvictionAndCreationTimestamp(a: P, b: P): number {
  const ea = isEvicted(a);
  const eb = isEvicted(b);
  if (ea !== eb) return ea ? -1 : 1;
  const ta = Date.parse(a.metadata?.creationTimestamp ?? '') || 0;
  const tb = Date.parse(b.metadata?.creationTimestamp ?? '') || 0;
  if (ta !== tb) return ta - tb;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** The terminated pods to delete so that at most `threshold` remain. */
export function terminatedPodsToDelete(pods: readonly P[], threshold: number): P[] {
  const terminated = pods.filter(isPodTerminated);
  const n = terminated.length - threshold;
  if (threshold <= 0 || n <= 0) return [];
  return [...terminated].sort(byEvictionAndCreationTimestamp).slice(0, n);
}

function isNodeReady(n: Readonly<Node>): boolean {
  return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Terminating pods whose node is not ready and tainted node.kubernetes.io/out-of-service. */
export function terminatingPodsOnOutOfServiceNodes(pods: readonly P[], nodeOf: (name: string) => Readonly<Node> | undefined): P[] {
  return pods
    .filter((p) => {
      if (!p.metadata?.deletionTimestamp) return false;
      const node = nodeOf(p.spec?.nodeName ?? '');
      return node !== undefined && !isNodeReady(node) && (node.spec?.taints ?? []).some((t) => t.key === TAINT_NODE_OUT_OF_SERVICE);
    })
    .sort(byEvictionAndCreationTimestamp);
}

/** Terminating pods never bound to a node: no kubelet will ever finish their deletion. */
export function unscheduledTerminatingPods(pods: readonly P[]): P[] {
  return pods.filter((p) => p.metadata?.deletionTimestamp && !p.spec?.nodeName);
}

export const ORPHANED_POD_CONDITION: PodCondition = { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists' };

export function newPodGC(ctx: ControllerContext, opts: PodGCOptions = {}): Controller {
  const log = ctx.log.child({ controller: 'podgc' });
  const period = opts.gcCheckPeriodMs ?? GC_CHECK_PERIOD_MS;
  const quarantine = opts.quarantineTimeMs ?? QUARANTINE_TIME_MS;
  const threshold = ctx.options.terminatedPodGCThreshold;
  const pods = ctx.informers.informerFor<Pod & KubeObject>('', 'v1', 'pods');
  const nodes = ctx.informers.informerFor<Node & KubeObject>('', 'v1', 'nodes');
  const podClient = ctx.client.resource<Pod>('', 'v1', 'pods');
  const nodeClient = ctx.client.resource<Node>('', 'v1', 'nodes');
  const nodeQueue = new DelayingQueue<string>({ name: 'orphaned_pods_nodes' });

  async function markFailedAndDeletePod(p: P, condition: PodCondition | undefined, signal: AbortSignal): Promise<void> {
    const ns = p.metadata!.namespace!;
    const name = p.metadata!.name!;
    log.info({ pod: `${ns}/${name}` }, 'PodGC is force deleting Pod');
    try {
      // Failed before deleted: an orphaned pod would otherwise stay Running forever (no kubelet will say otherwise).
      if (p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') {
        const status: Record<string, unknown> = { phase: 'Failed' };
        if (condition) {
          const old = p.status?.conditions?.find((c) => c.type === condition.type);
          const lastTransitionTime = old && old.status === condition.status ? old.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, 'Z');
          status.conditions = [{ ...condition, lastTransitionTime }];
        }
        await podClient.patch(ns, name, { metadata: { uid: p.metadata?.uid }, status }, { type: 'strategic', subresource: 'status', signal });
      }
      await podClient.delete(ns, name, { gracePeriodSeconds: 0, signal });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  async function deleteAll(list: readonly P[], condition: PodCondition | undefined, signal: AbortSignal): Promise<void> {
    const results = await Promise.allSettled(list.map((p) => markFailedAndDeletePod(p, condition, signal)));
    for (const r of results) if (r.status === 'rejected' && !signal.aborted) log.warn({ err: errorText(r.reason) }, 'failed to delete pod');
  }

  async function discoverDeletedNodes(existing: ReadonlySet<string>, signal: AbortSignal): Promise<Set<string>> {
    const deleted = new Set<string>();
    while (nodeQueue.len() > 0) {
      const name = await nodeQueue.get(signal);
      if (name === undefined) break;
      try {
        if (existing.has(name)) continue;
        await nodeClient.get(undefined, name, { signal });
      } catch (err) {
        if (isNotFound(err)) deleted.add(name);
        else log.warn({ err: errorText(err), node: name }, 'error while getting node');
      } finally {
        nodeQueue.done(name);
      }
    }
    return deleted;
  }

  async function gc(signal: AbortSignal): Promise<void> {
    const all = pods.list();
    if (threshold > 0) await deleteAll(terminatedPodsToDelete(all, threshold), undefined, signal);
    await deleteAll(terminatingPodsOnOutOfServiceNodes(all, (n) => nodes.get(undefined, n)), undefined, signal);
    // Orphans: nodes missing from the cache are quarantined, then checked with a GET.
    const existing = new Set(nodes.list().map((n) => n.metadata!.name!));
    for (const p of all) {
      const node = p.spec?.nodeName;
      if (node && !existing.has(node)) nodeQueue.addAfter(node, quarantine);
    }
    const deleted = await discoverDeletedNodes(existing, signal);
    await deleteAll(
      all.filter((p) => deleted.has(p.spec?.nodeName ?? '')),
      ORPHANED_POD_CONDITION,
      signal,
    );
    await deleteAll(unscheduledTerminatingPods(all), undefined, signal);
  }

  return {
    name: POD_GC_CONTROLLER,
    async run(signal) {
      while (!(pods.hasSynced() && nodes.hasSynced())) {
        if (signal.aborted) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      const onAbort = () => nodeQueue.shutDown();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        while (!signal.aborted) {
          await gc(signal).catch((err: unknown) => {
            if (!signal.aborted) log.warn({ err: errorText(err) }, 'pod garbage collection failed');
          });
          await new Promise<void>((resolve) => {
            const t = setTimeout(done, period);
            function done() {
              clearTimeout(t);
              signal.removeEventListener('abort', done);
              resolve();
            }
            signal.addEventListener('abort', done, { once: true });
          });
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
