// The StatefulSet controller (upstream's statefulset-controller): stable names `<set>-<ordinal>`,
// stable storage from volumeClaimTemplates, ordered or parallel pod management, RollingUpdate with
// partition (and maxUnavailable) or OnDelete, and template history as ControllerRevisions.

import type { StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, matches } from '../../api/labels.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/apiError.js';
import type { EventRecorder } from '../../client/events.js';
import type { Lister } from '../../client/lister.js';
import type { KubeObject } from '../../client/resourceClient.js';
import type { RestClient } from '../../client/restClient.js';
import { claimChildren, controllerOf, enqueueOwnersOfUpdatedPod, type PodOwnerLookup } from '../controllerRef.js';
import { errorText, keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { ControllerHistory, equalRevision, listControllerRevisions, nextRevision, sortControllerRevisions, type Revision } from '../history/controllerHistory.js';
import { updateStatefulSet, type StatefulPodOps } from './statefulSetControl.js';
import {
  claimOwnerRefsFor,
  claimsForPod,
  completeRollingUpdate,
  hasStaleOwnerRef,
  identityMatches,
  inconsistentStatus,
  isClaimOwnerUpToDate,
  isMemberOf,
  newStatefulSetRevision,
  ordinalOf,
  ownerOf,
  podRevision,
  retentionPolicy,
  storageMatches,
  updateIdentity,
  updateStorage,
  type PVC,
  type STS,
} from './statefulSetUtil.js';

type PodObj = Pod & KubeObject;

/** Upstream's recordPodEvent: `create Pod web-0 in StatefulSet web successful`. */
function recordPodEvent(recorder: EventRecorder, verb: string, set: Readonly<STS>, pod: Readonly<Pod>, err?: unknown): void {
  const title = verb[0]!.toUpperCase() + verb.slice(1);
  if (!err) recorder.event(set as KubeObject, 'Normal', `Successful${title}`, `${verb} Pod ${pod.metadata?.name} in StatefulSet ${set.metadata?.name} successful`);
  else recorder.event(set as KubeObject, 'Warning', `Failed${title}`, `${verb} Pod ${pod.metadata?.name} in StatefulSet ${set.metadata?.name} failed error: ${errorText(err)}`);
}

/** Upstream's recordClaimEvent: `create Claim data-web-0 Pod web-0 in StatefulSet web success`. */
function recordClaimEvent(recorder: EventRecorder, verb: string, set: Readonly<STS>, pod: Readonly<Pod>, claim: string, err?: unknown): void {
  const title = verb[0]!.toUpperCase() + verb.slice(1);
  if (!err) recorder.event(set as KubeObject, 'Normal', `Successful${title}`, `${verb} Claim ${claim} Pod ${pod.metadata?.name} in StatefulSet ${set.metadata?.name} success`);
  else recorder.event(set as KubeObject, 'Warning', `Failed${title}`, `${verb} Claim ${claim} for Pod ${pod.metadata?.name} in StatefulSet ${set.metadata?.name} failed error: ${errorText(err)}`);
}

/** StatefulPodOps over the API: writes through the client, reads claims from the informer cache. */
export function realStatefulPodOps(client: RestClient, claims: Lister<PVC>, recorder: EventRecorder): StatefulPodOps {
  const podClient = client.resource<PodObj>('', 'v1', 'pods');
  const pvcClient = client.resource<PVC>('', 'v1', 'persistentvolumeclaims');

  async function createClaims(set: Readonly<STS>, pod: Readonly<Pod>): Promise<void> {
    const errors: string[] = [];
    for (const claim of claimsForPod(set, pod).values()) {
      const name = claim.metadata!.name!;
      if (claims.get(set.metadata?.namespace, name)) continue;
      try {
        await pvcClient.create(claim, { namespace: set.metadata?.namespace });
        recordClaimEvent(recorder, 'create', set, pod, name);
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        errors.push(`failed to create PVC ${name}: ${errorText(err)}`);
        recordClaimEvent(recorder, 'create', set, pod, name, err);
      }
    }
    if (errors.length) throw new Error(errors.join('; '));
  }

  async function updateClaimsForRetention(set: Readonly<STS>, pod: Readonly<Pod>): Promise<void> {
    for (const t of set.spec?.volumeClaimTemplates ?? []) {
      const name = `${t.metadata?.name}-${set.metadata?.name}-${ordinalOf(pod)}`;
      const claim = claims.get(set.metadata?.namespace, name);
      if (!claim || isClaimOwnerUpToDate(claim, set, pod)) continue;
      const updated = { ...(structuredClone(claim) as PVC) };
      updated.metadata = { ...updated.metadata, ownerReferences: claimOwnerRefsFor(claim, set, pod) };
      try {
        await pvcClient.update(updated);
      } catch (err) {
        throw new Error(`could not update claim ${name} for delete policy ownerRefs: ${errorText(err)}`);
      }
    }
  }

  return {
    async createStatefulPod(set, pod) {
      try {
        await createClaims(set, pod);
      } catch (err) {
        recordPodEvent(recorder, 'create', set, pod, err);
        throw err;
      }
      let created: PodObj;
      try {
        created = await podClient.create(pod as PodObj, { namespace: set.metadata?.namespace });
      } catch (err) {
        // Already exists: a stale cache, the next sync sees it.
        if (!isAlreadyExists(err)) recordPodEvent(recorder, 'create', set, pod, err);
        throw err;
      }
      try {
        await updateClaimsForRetention(set, created);
      } catch (err) {
        recordPodEvent(recorder, 'update', set, pod, err);
        throw err;
      }
      recordPodEvent(recorder, 'create', set, pod);
    },
    async updateStatefulPod(set, pod) {
      for (let attempt = 0; ; attempt++) {
        let consistent = true;
        if (!identityMatches(set, pod)) {
          updateIdentity(set, pod);
          consistent = false;
        }
        if (!storageMatches(set, pod)) {
          updateStorage(set, pod);
          consistent = false;
          try {
            await createClaims(set, pod);
          } catch (err) {
            recordPodEvent(recorder, 'update', set, pod, err);
            throw err;
          }
        }
        if (!this.claimsMatchRetentionPolicy(set, pod)) {
          try {
            await updateClaimsForRetention(set, pod);
          } catch (err) {
            recordPodEvent(recorder, 'update', set, pod, err);
            throw err;
          }
          consistent = false;
        }
        if (consistent) return;
        try {
          await podClient.update(pod as PodObj);
          recordPodEvent(recorder, 'update', set, pod);
          return;
        } catch (err) {
          if (!isConflict(err) || attempt >= 4) {
            recordPodEvent(recorder, 'update', set, pod, err);
            throw err;
          }
          pod = await podClient.get(set.metadata?.namespace, pod.metadata!.name!);
        }
      }
    },
    async deleteStatefulPod(set, pod) {
      try {
        await podClient.delete(pod.metadata?.namespace, pod.metadata!.name!);
        recordPodEvent(recorder, 'delete', set, pod);
      } catch (err) {
        recordPodEvent(recorder, 'delete', set, pod, err);
        throw err;
      }
    },
    podClaimIsStale(set, pod) {
      if (retentionPolicy(set).whenScaled === 'Retain') return false;
      for (const claim of claimsForPod(set, pod).values()) {
        const pvc = claims.get(claim.metadata?.namespace, claim.metadata!.name!);
        if (pvc && hasStaleOwnerRef(pvc, pod, 'v1', 'Pod')) return true;
      }
      return false;
    },
    claimsMatchRetentionPolicy(set, pod) {
      for (const t of set.spec?.volumeClaimTemplates ?? []) {
        const claim = claims.get(set.metadata?.namespace, `${t.metadata?.name}-${set.metadata?.name}-${ordinalOf(pod)}`);
        if (claim && !isClaimOwnerUpToDate(claim, set, pod)) return false;
      }
      return true;
    },
    updatePodClaimForRetentionPolicy: updateClaimsForRetention,
    async createMissingPersistentVolumeClaims(set, pod) {
      await createClaims(set, pod);
      try {
        await updateClaimsForRetention(set, pod);
      } catch (err) {
        recordPodEvent(recorder, 'update', set, pod, err);
        throw err;
      }
    },
  };
}

export function newStatefulSetController(ctx: ControllerContext): Controller {
  const name = 'statefulset-controller';
  const log = ctx.log.child({ controller: 'statefulset' });
  const queue = newQueue('statefulset');
  const setInformer = ctx.informers.informerFor<STS>('apps', 'v1', 'statefulsets');
  const podInformer = ctx.informers.informerFor<PodObj>('', 'v1', 'pods');
  const pvcInformer = ctx.informers.informerFor<PVC>('', 'v1', 'persistentvolumeclaims');
  const revInformer = ctx.informers.informerFor<Revision>('apps', 'v1', 'controllerrevisions');
  const setClient = ctx.client.resource<STS>('apps', 'v1', 'statefulsets');
  const recorder = ctx.recorder('statefulset-controller');
  const ops = realStatefulPodOps(ctx.client, pvcInformer, recorder);
  const history = new ControllerHistory(ctx.client);

  const enqueue = (set: Readonly<STS>) => queue.add(keyOf(set));
  const resolve = (ns: string | undefined, ref: { kind: string; name: string; uid: string } | undefined): Readonly<STS> | undefined => {
    if (!ref || ref.kind !== 'StatefulSet') return undefined;
    const set = setInformer.get(ns, ref.name);
    return set && set.metadata?.uid === ref.uid ? set : undefined;
  };
  const setsForPod = (p: Readonly<Pod>) =>
    setInformer.list(p.metadata?.namespace).filter((s) => {
      const sel = fromLabelSelector(s.spec?.selector);
      return sel.length > 0 && matches(sel, p.metadata?.labels);
    });

  const podOwners: PodOwnerLookup<Readonly<STS>> = { resolve, matching: setsForPod, enqueue, enqueueAfter: (s, ms) => queue.addAfter(keyOf(s), ms), minReadySeconds: (s) => s.spec?.minReadySeconds ?? 0 };

  setInformer.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
  const podDeleted = (p: Readonly<Pod>) => {
    const set = resolve(p.metadata?.namespace, controllerOf(p));
    if (set) enqueue(set);
  };
  podInformer.addEventHandler({
    onAdd: (p) => {
      if (p.metadata?.deletionTimestamp) return podDeleted(p);
      const ref = controllerOf(p);
      if (ref) {
        const set = resolve(p.metadata?.namespace, ref);
        if (set) enqueue(set);
        return;
      }
      for (const s of setsForPod(p)) enqueue(s);
    },
    onUpdate: (old, cur) => {
      if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
      enqueueOwnersOfUpdatedPod(old, cur, podOwners);
    },
    onDelete: podDeleted,
  });

  async function recheck(set: Readonly<STS>): Promise<void> {
    const fresh = await setClient.get(set.metadata?.namespace, set.metadata!.name!);
    if (fresh.metadata?.uid !== set.metadata?.uid) throw new Error(`original StatefulSet ${keyOf(set)} is gone: got uid ${fresh.metadata?.uid}, wanted ${set.metadata?.uid}`);
    if (fresh.metadata?.deletionTimestamp) throw new Error(`StatefulSet ${keyOf(set)} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  }

  /** The set's pods: its own plus orphans named as its members and matching its selector. */
  async function podsFor(set: Readonly<STS>): Promise<Readonly<PodObj>[]> {
    const candidates = podInformer.list(set.metadata?.namespace).filter((p) => {
      const ref = controllerOf(p);
      return ref ? ref.uid === set.metadata?.uid : isMemberOf(set, p);
    });
    return claimChildren<PodObj>({
      owner: ownerOf(set),
      selector: fromLabelSelector(set.spec?.selector),
      candidates,
      client: ctx.client,
      group: '',
      version: 'v1',
      plural: 'pods',
      canAdopt: () => recheck(set),
    });
  }

  async function adoptOrphanRevisions(set: Readonly<STS>): Promise<void> {
    const orphans = listControllerRevisions(revInformer, ownerOf(set), fromLabelSelector(set.spec?.selector)).filter((r) => !controllerOf(r));
    if (orphans.length === 0) return;
    try {
      await recheck(set);
    } catch (err) {
      throw new Error(`can't adopt ControllerRevisions: ${errorText(err)}`);
    }
    for (const r of orphans) await history.adopt(ownerOf(set), r);
  }

  /** The current and update revisions, creating or renumbering the update revision (upstream's getStatefulSetRevisions). */
  async function revisionsFor(set: Readonly<STS>, revisions: readonly Readonly<Revision>[]): Promise<{ current: Readonly<Revision>; update: Readonly<Revision>; collisionCount: number }> {
    let collisionCount = set.status?.collisionCount ?? 0;
    let update: Readonly<Revision> = newStatefulSetRevision(set, nextRevision(revisions), collisionCount);
    const equal = revisions.filter((r) => equalRevision(r, update));
    const last = revisions[revisions.length - 1];
    if (equal.length > 0 && equalRevision(last, equal[equal.length - 1])) {
      update = last!;
    } else if (equal.length > 0) {
      // A rollback: the old equivalent revision becomes the newest.
      update = await history.updateRevision(equal[equal.length - 1]!, update.revision ?? 0);
    } else {
      const created = await history.create(ownerOf(set), update, collisionCount);
      update = created.revision;
      collisionCount = created.collisionCount;
    }
    const current = revisions.find((r) => r.metadata?.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount };
  }

  /** Deletes the oldest revisions beyond revisionHistoryLimit that no pod and neither status revision uses. */
  async function truncateHistory(set: Readonly<STS>, pods: readonly Readonly<Pod>[], revisions: readonly Readonly<Revision>[], current?: Readonly<Revision>, update?: Readonly<Revision>): Promise<void> {
    const live = new Set<string>();
    if (current) live.add(current.metadata!.name!);
    if (update) live.add(update.metadata!.name!);
    for (const p of pods) live.add(podRevision(p));
    const old = revisions.filter((r) => !live.has(r.metadata!.name!));
    const limit = set.spec?.revisionHistoryLimit ?? 10;
    if (limit < 0 || old.length <= limit) return;
    for (const r of old.slice(0, old.length - limit)) await history.delete(r);
  }

  async function writeStatus(set: Readonly<STS>, status: StatefulSetStatus): Promise<void> {
    completeRollingUpdate(set, status);
    if (!inconsistentStatus(set, status)) return;
    let target = set;
    for (let attempt = 0; ; attempt++) {
      try {
        await setClient.updateStatus({ ...(structuredClone(target) as STS), status });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt >= 4) throw err;
        target = setInformer.get(set.metadata?.namespace, set.metadata!.name!) ?? (await setClient.get(set.metadata?.namespace, set.metadata!.name!));
      }
    }
  }

  async function sync(key: string): Promise<void> {
    const [ns, setName] = splitKey(key);
    const set = setInformer.get(ns, setName);
    if (!set) return;
    await adoptOrphanRevisions(set);
    const pods = await podsFor(set);
    const revisions = sortControllerRevisions(listControllerRevisions(revInformer, ownerOf(set), fromLabelSelector(set.spec?.selector)));
    let current: Readonly<Revision> | undefined;
    let update: Readonly<Revision> | undefined;
    let err: unknown;
    let status: StatefulSetStatus | undefined;
    try {
      const r = await revisionsFor(set, revisions);
      current = r.current;
      update = r.update;
      const result = await updateStatefulSet({ set, currentRevision: r.current, updateRevision: r.update, collisionCount: r.collisionCount, pods, ops, now: Date.now });
      status = result.status;
      err = result.error;
      try {
        await writeStatus(set, result.status);
      } catch (statusErr) {
        if (err) log.warn({ err: errorText(statusErr), key }, 'could not update status');
        else err = statusErr;
      }
    } catch (e) {
      err = e;
    }
    try {
      await truncateHistory(set, pods, revisions, current, update);
    } catch (e) {
      err ??= e;
    }
    if (err) throw err;
    const mrs = set.spec?.minReadySeconds ?? 0;
    if (mrs > 0 && status && status.availableReplicas !== (set.spec?.replicas ?? 1)) queue.addAfter(key, mrs * 1000);
  }

  return {
    name,
    run: (signal) =>
      runQueueWorkers(
        {
          name: 'statefulset',
          queue,
          sync,
          workers: ctx.options.concurrentStatefulSetSyncs,
          synced: [() => setInformer.hasSynced(), () => podInformer.hasSynced(), () => pvcInformer.hasSynced(), () => revInformer.hasSynced()],
          log,
        },
        signal,
      ),
  };
}
