// The DaemonSet controller (upstream's daemonset-controller): one pod per eligible node, bound
// there through required node affinity and placed by the default scheduler; RollingUpdate within
// maxSurge/maxUnavailable or OnDelete; template history as ControllerRevisions for kubectl rollout.

import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, matches } from '../../api/labels.js';
import { isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { claimChildren, controllerOf, enqueueOwnersOfUpdatedPod, PodControl, type Owner, type PodOwnerLookup } from '../controllerRef.js';
import { errorText, keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { Expectations } from '../expectations.js';
import {
  ControllerHistory,
  fnv32a,
  goJson,
  maxRevision,
  POD_REVISION_HASH_LABEL,
  safeEncodeString,
  templatePatch,
  type Revision,
} from '../history/controllerHistory.js';
import {
  Backoff,
  computeDaemonSetStatus,
  createPodTemplate,
  groupPodsByNode,
  nodeShouldRunDaemonPod,
  planRollingUpdate,
  podsShouldBeOnNode,
  replaceNodeNameAffinity,
  SELECTING_ALL_REASON,
  templateGeneration,
  unscheduledPodsWithoutNode,
  type NodeEvent,
} from './daemonSetUtil.js';

/** Upstream's cap on creates/deletes per sync. */
export const DS_BURST_REPLICAS = 250;
const BACKOFF_GC_INTERVAL_MS = 60_000;

type DS = DaemonSet & KubeObject;

/**
 * The hash naming a DaemonSet's revision and labelling its pods (upstream's ComputeHash: FNV-32a of
 * the template, plus the collision count), safe-encoded.
 */
export function computeTemplateHash(ds: Readonly<DaemonSet>): string {
  let h = fnv32a(new TextEncoder().encode(goJson(ds.spec?.template ?? {})));
  const cc = ds.status?.collisionCount;
  if (cc !== undefined && cc !== null) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, cc >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}

/** The revision data for the DaemonSet's current template (upstream's getPatch). */
export function daemonSetPatchBytes(ds: Readonly<DaemonSet>): string {
  return goJson(templatePatch(ds.spec?.template));
}

export function newDaemonSetController(ctx: ControllerContext): Controller {
  const name = 'daemonset-controller';
  const log = ctx.log.child({ controller: 'daemonset' });
  const queue = newQueue('daemonset');
  // Creations and deletions are expected separately: one sync may ask for both.
  const createExpectations = new Expectations();
  const deleteExpectations = new Expectations();
  const backoff = new Backoff(1000, 15 * 60_000);
  const dsInformer = ctx.informers.informerFor<DS>('apps', 'v1', 'daemonsets');
  const revInformer = ctx.informers.informerFor<Revision>('apps', 'v1', 'controllerrevisions');
  const podInformer = ctx.informers.informerFor<Pod & KubeObject>('', 'v1', 'pods');
  const nodeInformer = ctx.informers.informerFor<Node & KubeObject>('', 'v1', 'nodes');
  const dsClient = ctx.client.resource<DS>('apps', 'v1', 'daemonsets');
  const podClient = ctx.client.resource<Pod>('', 'v1', 'pods');
  const recorder = ctx.recorder('daemonset-controller');
  const podControl = new PodControl(ctx.client, recorder);
  const history = new ControllerHistory(ctx.client);

  const ownerOf = (ds: Readonly<DS>): Owner => ({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: ds.metadata! });
  const resolve = (ns: string | undefined, ref: { kind: string; name: string; uid: string } | undefined): Readonly<DS> | undefined => {
    if (!ref || ref.kind !== 'DaemonSet') return undefined;
    const ds = dsInformer.get(ns, ref.name);
    return ds && ds.metadata?.uid === ref.uid ? ds : undefined;
  };
  const matching = (obj: { metadata?: { namespace?: string; labels?: Record<string, string> } }) =>
    dsInformer.list(obj.metadata?.namespace).filter((ds) => {
      const sel = fromLabelSelector(ds.spec?.selector);
      return sel.length > 0 && matches(sel, obj.metadata?.labels);
    });
  const enqueue = (ds: Readonly<DS>) => queue.add(keyOf(ds));
  const podOwners: PodOwnerLookup<Readonly<DS>> = { resolve, matching, enqueue, enqueueAfter: (ds, ms) => queue.addAfter(keyOf(ds), ms), minReadySeconds: (ds) => ds.spec?.minReadySeconds ?? 0 };

  dsInformer.addEventHandler({
    onAdd: enqueue,
    onUpdate: (old, cur) => {
      if (old.metadata?.uid !== cur.metadata?.uid) {
        createExpectations.delete(keyOf(old));
        deleteExpectations.delete(keyOf(old));
      }
      enqueue(cur);
    },
    onDelete: (ds) => {
      createExpectations.delete(keyOf(ds));
      deleteExpectations.delete(keyOf(ds));
      enqueue(ds);
    },
  });

  revInformer.addEventHandler({
    onAdd: (r) => {
      const ref = controllerOf(r);
      // An owned revision needs nothing; an orphan may be adopted.
      if (ref) return;
      for (const ds of matching(r)) enqueue(ds);
    },
    onUpdate: (old, cur) => {
      if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
      const oldRef = controllerOf(old);
      const curRef = controllerOf(cur);
      const refChanged = JSON.stringify(oldRef) !== JSON.stringify(curRef);
      if (refChanged && oldRef) {
        const ds = resolve(old.metadata?.namespace, oldRef);
        if (ds) enqueue(ds);
      }
      if (curRef) {
        const ds = resolve(cur.metadata?.namespace, curRef);
        if (ds) enqueue(ds);
        return;
      }
      if (refChanged || JSON.stringify(old.metadata?.labels) !== JSON.stringify(cur.metadata?.labels)) for (const ds of matching(cur)) enqueue(ds);
    },
    onDelete: (r) => {
      const ds = resolve(r.metadata?.namespace, controllerOf(r));
      if (ds) enqueue(ds);
    },
  });

  const podDeleted = (p: Readonly<Pod>) => {
    const ds = resolve(p.metadata?.namespace, controllerOf(p));
    if (!ds) return;
    deleteExpectations.deletionObserved(keyOf(ds), keyOf(p));
    enqueue(ds);
  };
  podInformer.addEventHandler({
    onAdd: (p) => {
      if (p.metadata?.deletionTimestamp) return podDeleted(p);
      const ref = controllerOf(p);
      if (ref) {
        const ds = resolve(p.metadata?.namespace, ref);
        if (!ds) return;
        createExpectations.creationObserved(keyOf(ds));
        enqueue(ds);
        return;
      }
      for (const ds of matching(p)) enqueue(ds);
    },
    onUpdate: (old, cur) => {
      if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
      if (cur.metadata?.deletionTimestamp) return podDeleted(cur);
      enqueueOwnersOfUpdatedPod(old, cur, podOwners);
    },
    onDelete: podDeleted,
  });

  nodeInformer.addEventHandler({
    onAdd: (node) => {
      for (const ds of dsInformer.list()) if (nodeShouldRunDaemonPod(node, ds).shouldRun) enqueue(ds);
    },
    onUpdate: (old, cur) => {
      // Eligibility reads only labels and taints (upstream's shouldIgnoreNodeUpdate).
      if (JSON.stringify(old.metadata?.labels) === JSON.stringify(cur.metadata?.labels) && JSON.stringify(old.spec?.taints) === JSON.stringify(cur.spec?.taints)) return;
      for (const ds of dsInformer.list()) {
        const a = nodeShouldRunDaemonPod(old, ds);
        const b = nodeShouldRunDaemonPod(cur, ds);
        if (a.shouldRun !== b.shouldRun || a.shouldContinueRunning !== b.shouldContinueRunning) enqueue(ds);
      }
    },
  });

  const satisfied = (key: string) => createExpectations.satisfied(key) && deleteExpectations.satisfied(key);

  /** The DaemonSet's pods, adopting orphans and releasing pods that stopped matching. */
  async function daemonPods(ds: Readonly<DS>): Promise<Readonly<Pod & KubeObject>[]> {
    const ns = ds.metadata?.namespace;
    return claimChildren<Pod & KubeObject>({
      owner: ownerOf(ds),
      selector: fromLabelSelector(ds.spec?.selector),
      candidates: podInformer.list(ns),
      client: ctx.client,
      group: '',
      version: 'v1',
      plural: 'pods',
      canAdopt: () => recheck(ds),
    });
  }

  async function recheck(ds: Readonly<DS>): Promise<void> {
    const fresh = await dsClient.get(ds.metadata?.namespace, ds.metadata!.name!);
    if (fresh.metadata?.uid !== ds.metadata?.uid) throw new Error(`original DaemonSet ${keyOf(ds)} is gone: got uid ${fresh.metadata?.uid}, wanted ${ds.metadata?.uid}`);
    if (fresh.metadata?.deletionTimestamp) throw new Error(`DaemonSet ${keyOf(ds)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }

  /** Revisions this DaemonSet controls, after adoption/release as upstream's controlledHistories. */
  async function controlledHistories(ds: Readonly<DS>): Promise<Readonly<Revision>[]> {
    const selector = fromLabelSelector(ds.spec?.selector);
    const owner = ownerOf(ds);
    const out: Readonly<Revision>[] = [];
    let adoptChecked: Promise<void> | undefined;
    for (const r of revInformer.list(ds.metadata?.namespace)) {
      const ref = controllerOf(r);
      const sel = selector.length > 0 && matches(selector, r.metadata?.labels);
      if (ref) {
        if (ref.uid !== ds.metadata?.uid) continue;
        if (sel) out.push(r);
        else await history.release(owner, r);
        continue;
      }
      if (!sel || r.metadata?.deletionTimestamp) continue;
      adoptChecked ??= recheck(ds);
      await adoptChecked;
      try {
        out.push(await history.adopt(owner, r));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  /** Splits history into the current revision (created or renumbered as needed) and the old ones (upstream's constructHistory). */
  async function constructHistory(ds: Readonly<DS>): Promise<{ cur: Readonly<Revision>; old: Readonly<Revision>[] }> {
    const patchBytes = daemonSetPatchBytes(ds);
    const current: Readonly<Revision>[] = [];
    const old: Readonly<Revision>[] = [];
    for (let r of await controlledHistories(ds)) {
      if (r.metadata?.labels?.[POD_REVISION_HASH_LABEL] === undefined) {
        // Older revisions lack the pod hash label: use the name, so collisions cannot matter.
        r = await history.update({ ...(structuredClone(r) as Revision), metadata: { ...r.metadata, labels: { ...(r.metadata?.labels ?? {}), [POD_REVISION_HASH_LABEL]: r.metadata!.name! } } });
      }
      if (goJson(r.data) === patchBytes) current.push(r);
      else old.push(r);
    }
    const wanted = maxRevision(old) + 1;
    let cur: Readonly<Revision>;
    if (current.length === 0) {
      cur = await snapshot(ds, wanted);
    } else {
      cur = await dedupCurrent(ds, current);
      if ((cur.revision ?? 0) < wanted) cur = await history.updateRevision(cur, wanted);
    }
    return { cur, old };
  }

  async function snapshot(ds: Readonly<DS>, revision: number): Promise<Revision> {
    const hash = computeTemplateHash(ds);
    const revName = `${ds.metadata!.name}-${hash}`;
    const rev: Revision = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name: revName,
        namespace: ds.metadata?.namespace,
        labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [POD_REVISION_HASH_LABEL]: hash },
        ...(ds.metadata?.annotations ? { annotations: { ...ds.metadata.annotations } } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: ds.metadata!.name!, uid: ds.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      },
      data: templatePatch(ds.spec?.template) as Revision['data'],
      revision,
    };
    try {
      return await history.createRaw(rev);
    } catch (err) {
      if ((err as { code?: number }).code !== 409 || (err as { reason?: string }).reason !== 'AlreadyExists') throw err;
      const existing = await history.get(ds.metadata?.namespace, revName);
      if (goJson(existing.data) === daemonSetPatchBytes(ds)) return existing;
      // A different template hashed to the same name: bump collisionCount and retry.
      const fresh = await dsClient.get(ds.metadata?.namespace, ds.metadata!.name!);
      if ((fresh.status?.collisionCount ?? undefined) !== (ds.status?.collisionCount ?? undefined)) {
        throw new Error(`found a stale collision count (${ds.status?.collisionCount}, expected ${fresh.status?.collisionCount}) of DaemonSet ${ds.metadata!.name} while processing; will retry until it is updated`);
      }
      await dsClient.updateStatus({ ...fresh, status: { ...(fresh.status ?? ({} as NonNullable<DS['status']>)), collisionCount: (fresh.status?.collisionCount ?? 0) + 1 } });
      throw err;
    }
  }

  async function dedupCurrent(ds: Readonly<DS>, current: readonly Readonly<Revision>[]): Promise<Readonly<Revision>> {
    if (current.length === 1) return current[0]!;
    let keep = current[0]!;
    for (const r of current) if ((r.revision ?? 0) >= (keep.revision ?? 0)) keep = r;
    const keepHash = keep.metadata?.labels?.[POD_REVISION_HASH_LABEL];
    for (const p of await daemonPods(ds)) {
      if (p.metadata?.labels?.[POD_REVISION_HASH_LABEL] !== keepHash) {
        await podClient.patch(p.metadata?.namespace, p.metadata!.name!, { metadata: { labels: { [POD_REVISION_HASH_LABEL]: keepHash } } }, { type: 'merge' });
      }
    }
    for (const r of current) if (r.metadata?.name !== keep.metadata?.name) await history.delete(r);
    return keep;
  }

  /** Deletes the oldest revisions beyond revisionHistoryLimit that no pod still runs. */
  async function cleanupHistory(ds: Readonly<DS>, old: readonly Readonly<Revision>[]): Promise<void> {
    const limit = ds.spec?.revisionHistoryLimit ?? 10;
    let toKill = old.length - limit;
    if (toKill <= 0) return;
    const live = new Set<string>();
    for (const p of await daemonPods(ds)) {
      const h = p.metadata?.labels?.[POD_REVISION_HASH_LABEL];
      if (h) live.add(h);
    }
    for (const r of [...old].sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0))) {
      if (toKill <= 0) break;
      if (live.has(r.metadata?.labels?.[POD_REVISION_HASH_LABEL] ?? '')) continue;
      await history.delete(r);
      toKill--;
    }
  }

  function record(ds: Readonly<DS>, events: readonly NodeEvent[]): void {
    for (const e of events) recorder.event(ds as KubeObject, e.type, e.reason, e.message);
  }

  /** Deletes `podsToDelete` and creates pods for `nodesNeeding` (upstream's syncNodes), with expectations and slow start. */
  async function syncNodes(ds: Readonly<DS>, key: string, podsToDelete: readonly string[], nodesNeeding: readonly string[], hash: string, signal: AbortSignal): Promise<void> {
    const ns = ds.metadata!.namespace!;
    const creates = nodesNeeding.slice(0, DS_BURST_REPLICAS);
    const deletes = podsToDelete.slice(0, DS_BURST_REPLICAS);
    createExpectations.expectCreations(key, creates.length);
    deleteExpectations.expectDeletions(
      key,
      deletes.map((n) => `${ns}/${n}`),
    );
    const errors: Error[] = [];
    const template = createPodTemplate(ds.spec!.template!, templateGeneration(ds), hash);
    const owner = ownerOf(ds);
    let pos = 0;
    let batch = Math.min(1, creates.length);
    while (pos < creates.length) {
      const slice = creates.slice(pos, pos + batch);
      const results = await Promise.allSettled(
        slice.map((nodeName) => {
          const t = structuredClone(template);
          t.spec!.affinity = replaceNodeNameAffinity(t.spec!.affinity, nodeName);
          return podControl.createPod(t, owner, signal);
        }),
      );
      let failed = 0;
      for (const r of results) {
        if (r.status === 'fulfilled') continue;
        // A namespace being deleted refuses every create; that is not this DaemonSet's failure.
        if (/is being terminated|because it is being terminated/.test(errorText(r.reason))) continue;
        failed++;
        createExpectations.lowerCreations(key, 1);
        errors.push(r.reason as Error);
      }
      pos += slice.length;
      if (failed > 0) {
        createExpectations.lowerCreations(key, creates.length - pos);
        break;
      }
      batch = Math.min(batch * 2, creates.length - pos);
    }
    const results = await Promise.allSettled(deletes.map((n) => podControl.deletePod(ns, n, owner, signal)));
    results.forEach((r, i) => {
      const podKey = `${ns}/${deletes[i]}`;
      if (r.status === 'rejected') {
        deleteExpectations.deletionObserved(key, podKey);
        errors.push(r.reason as Error);
      } else if (!podInformer.get(ns, deletes[i]!)) {
        // Already gone (its delete event may have come before the expectation was set).
        deleteExpectations.deletionObserved(key, podKey);
      }
    });
    if (errors.length) throw new Error(errors.map((e) => e.message).join('; '));
  }

  async function manage(ds: Readonly<DS>, key: string, nodes: readonly Readonly<Node>[], hash: string, signal: AbortSignal): Promise<void> {
    const nodeToPods = groupPodsByNode(await daemonPods(ds));
    const now = Date.now();
    const nodesNeeding: string[] = [];
    const podsToDelete: string[] = [];
    for (const node of nodes) {
      const plan = podsShouldBeOnNode({ node, ds, pods: nodeToPods.get(node.metadata!.name!), hash, now, backoff });
      if (plan.create) nodesNeeding.push(node.metadata!.name!);
      podsToDelete.push(...plan.delete);
      record(ds, plan.events);
      if (plan.requeueAfterMs !== undefined) queue.addAfter(key, plan.requeueAfterMs);
    }
    podsToDelete.push(...unscheduledPodsWithoutNode(new Set(nodes.map((n) => n.metadata!.name!)), nodeToPods));
    await syncNodes(ds, key, podsToDelete, nodesNeeding, hash, signal);
  }

  async function rollingUpdate(ds: Readonly<DS>, key: string, nodes: readonly Readonly<Node>[], hash: string, signal: AbortSignal): Promise<void> {
    const nodeToPods = groupPodsByNode(await daemonPods(ds));
    const plan = planRollingUpdate({ ds, nodes: new Map(nodes.map((n) => [n.metadata!.name!, n])), nodeToPods, hash, now: Date.now() });
    await syncNodes(ds, key, plan.podsToDelete, plan.nodesToCreate, hash, signal);
  }

  async function updateStatus(ds: Readonly<DS>, nodes: readonly Readonly<Node>[], hash: string, observeGeneration: boolean): Promise<void> {
    const nodeToPods = groupPodsByNode(await daemonPods(ds));
    const counts = computeDaemonSetStatus({ ds, nodes, nodeToPods, hash, now: Date.now() });
    const s = ds.status ?? ({} as NonNullable<DS['status']>);
    const same =
      (s.desiredNumberScheduled ?? 0) === counts.desiredNumberScheduled &&
      (s.currentNumberScheduled ?? 0) === counts.currentNumberScheduled &&
      (s.numberMisscheduled ?? 0) === counts.numberMisscheduled &&
      (s.numberReady ?? 0) === counts.numberReady &&
      (s.updatedNumberScheduled ?? 0) === counts.updatedNumberScheduled &&
      (s.numberAvailable ?? 0) === counts.numberAvailable &&
      (s.numberUnavailable ?? 0) === counts.numberUnavailable &&
      (s.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 0);
    if (!same) {
      let target: DS = structuredClone(ds) as DS;
      for (let attempt = 0; ; attempt++) {
        const status = { ...(target.status ?? {}), ...counts } as NonNullable<DS['status']>;
        if (observeGeneration) status.observedGeneration = ds.metadata?.generation ?? 0;
        try {
          await dsClient.updateStatus({ ...target, status });
          break;
        } catch (err) {
          if (isNotFound(err)) return;
          if (attempt >= 1) throw new Error(`error storing status for daemon set ${keyOf(ds)}: ${errorText(err)}`);
          target = await dsClient.get(ds.metadata?.namespace, ds.metadata!.name!);
        }
      }
    }
    const mrs = ds.spec?.minReadySeconds ?? 0;
    if (mrs > 0 && counts.numberReady !== counts.numberAvailable) queue.addAfter(keyOf(ds), mrs * 1000);
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, dsName] = splitKey(key);
    const ds = dsInformer.get(ns, dsName);
    if (!ds) {
      createExpectations.delete(key);
      deleteExpectations.delete(key);
      return;
    }
    const nodes = nodeInformer.list();
    const sel = ds.spec?.selector as LabelSelector | undefined;
    if (sel && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
      recorder.event(ds as KubeObject, 'Warning', SELECTING_ALL_REASON, 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    // History of a DaemonSet being deleted may already be gone: its status cannot be trusted.
    if (ds.metadata?.deletionTimestamp) return;
    const { cur, old } = await constructHistory(ds);
    const hash = cur.metadata?.labels?.[POD_REVISION_HASH_LABEL] ?? '';
    if (!satisfied(key)) {
      await updateStatus(ds, nodes, hash, false);
      return;
    }
    let err: unknown;
    try {
      await manage(ds, key, nodes, hash, signal);
      if (satisfied(key) && ds.spec?.updateStrategy?.type === 'RollingUpdate') await rollingUpdate(ds, key, nodes, hash, signal);
      await cleanupHistory(ds, old).catch((e: unknown) => {
        throw new Error(`failed to clean up revisions of DaemonSet: ${errorText(e)}`);
      });
    } catch (e) {
      err = e;
    }
    try {
      await updateStatus(ds, nodes, hash, true);
    } catch (statusErr) {
      if (err) log.warn({ err: errorText(statusErr), key }, 'failed to update status');
      else err = statusErr;
    }
    if (err) throw err;
  }

  return {
    name,
    async run(signal) {
      const gc = setInterval(() => backoff.gc(Date.now()), BACKOFF_GC_INTERVAL_MS);
      gc.unref();
      try {
        await runQueueWorkers(
          {
            name: 'daemonset',
            queue,
            sync,
            workers: ctx.options.concurrentDaemonSetSyncs,
            synced: [() => dsInformer.hasSynced(), () => revInformer.hasSynced(), () => podInformer.hasSynced(), () => nodeInformer.hasSynced()],
            log,
          },
          signal,
        );
      } finally {
        clearInterval(gc);
      }
    },
  };
}
