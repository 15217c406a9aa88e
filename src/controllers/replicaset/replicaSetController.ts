// The ReplicaSet controller (and, with another adapter, the ReplicationController one): keeps
// exactly `spec.replicas` active pods matching the selector, adopting orphans and releasing pods
// that stop matching; never acts on an owner while its own creates/deletes are unobserved.

import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { fromLabelSelector, matches, type Requirement } from '../../api/labels.js';
import { isNotFound } from '../../client/apiError.js';
import type { SharedInformer } from '../../client/informer.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { claimChildren, controllerOf, enqueueOwnersOfUpdatedPod, isPodActive, isPodAvailable, isPodReady, PodControl, type Owner, type PodOwnerLookup } from '../controllerRef.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { Expectations } from '../expectations.js';
import { podsToDelete } from './podRanking.js';

/** Upstream's cap on creates/deletes per sync. */
export const BURST_REPLICAS = 500;

/** The shape both ReplicaSet and ReplicationController share, after adapting the selector. */
interface ReplicatedObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { generation?: number; deletionTimestamp?: string };
  spec?: { replicas?: number; minReadySeconds?: number; template?: PodTemplateSpec; selector?: unknown };
  status?: ReplicaSetStatusLike;
}

interface ReplicaSetStatusLike {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }>;
}

interface Kind {
  name: string;
  component: string;
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** The owner's selector as requirements; [] means "nothing" (a nil selector selects no pods). */
  selector(obj: ReplicatedObject): Requirement[];
}

export const REPLICA_SET_KIND: Kind = {
  name: 'replicaset',
  component: 'replicaset-controller',
  group: 'apps',
  version: 'v1',
  plural: 'replicasets',
  kind: 'ReplicaSet',
  selector: (o) => fromLabelSelector(o.spec?.selector as LabelSelector | undefined),
};

export const REPLICATION_CONTROLLER_KIND: Kind = {
  name: 'replicationcontroller',
  component: 'replication-controller',
  group: '',
  version: 'v1',
  plural: 'replicationcontrollers',
  kind: 'ReplicationController',
  // An RC's selector is a plain map, defaulted from the template's labels.
  selector: (o) => Object.entries((o.spec?.selector as Record<string, string> | undefined) ?? o.spec?.template?.metadata?.labels ?? {}).map(([key, v]) => ({ key, op: 'Equals' as const, values: [v] })),
};

/** The status a sync computes from the pods it manages. */
export function calculateStatus(rs: Readonly<ReplicatedObject>, pods: readonly Readonly<Pod>[], kind: Kind, now: number, createError?: Error): ReplicaSetStatusLike {
  const templateLabels = rs.spec?.template?.metadata?.labels ?? {};
  const tmplReqs: Requirement[] = Object.entries(templateLabels).map(([key, v]) => ({ key, op: 'Equals', values: [v] }));
  const minReady = rs.spec?.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    if (matches(tmplReqs, p.metadata?.labels)) fullyLabeled++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, minReady, now)) available++;
    }
  }
  const status: ReplicaSetStatusLike = {
    replicas: pods.length,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.metadata?.generation ?? 0,
  };
  const old = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
  const failure = rs.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
  if (createError) {
    const want = pods.length < (rs.spec?.replicas ?? 1) ? 'FailedCreate' : 'FailedDelete';
    const message = createError.message;
    status.conditions = [...old, { type: 'ReplicaFailure', status: 'True', reason: want, message, lastTransitionTime: failure?.reason === want ? failure.lastTransitionTime! : new Date(now).toISOString().replace(/\.\d+Z$/, 'Z') }];
  } else if (old.length) {
    status.conditions = old;
  }
  void kind;
  return status;
}

function sameStatus(a: ReplicaSetStatusLike | undefined, b: ReplicaSetStatusLike): boolean {
  if (!a) return false;
  const norm = (s: ReplicaSetStatusLike) => JSON.stringify([s.replicas ?? 0, s.fullyLabeledReplicas ?? 0, s.readyReplicas ?? 0, s.availableReplicas ?? 0, s.observedGeneration ?? 0, s.conditions ?? []]);
  return norm(a) === norm(b);
}

export function newReplicaSetController(ctx: ControllerContext, kind: Kind = REPLICA_SET_KIND): Controller {
  const log = ctx.log.child({ controller: kind.name });
  const queue = newQueue(kind.name);
  const expectations = new Expectations();
  const owners = ctx.informers.informerFor<ReplicatedObject>(kind.group, kind.version, kind.plural);
  const pods = ctx.informers.informerFor<Pod>('', 'v1', 'pods');
  const ownerClient = ctx.client.resource<ReplicatedObject>(kind.group, kind.version, kind.plural);
  const recorder = ctx.recorder(kind.component);
  const podControl = new PodControl(ctx.client, recorder);
  const workers = kind.name === 'replicaset' ? ctx.options.concurrentReplicaSetSyncs : ctx.options.concurrentReplicaSetSyncs;

  const ownerFor = (p: Readonly<Pod>): Readonly<ReplicatedObject> | undefined => {
    const ref = controllerOf(p);
    return ref ? podOwners.resolve(p.metadata?.namespace, ref) : undefined;
  };
  // Orphans: every owner whose selector matches may want to adopt it.
  const ownersMatching = (p: Readonly<Pod>) => owners.list(p.metadata?.namespace).filter((o) => {
    const sel = kind.selector(o);
    return sel.length > 0 && matches(sel, p.metadata?.labels);
  });

  const podOwners: PodOwnerLookup<Readonly<ReplicatedObject>> = {
    resolve: (ns, ref) => {
      if (ref.kind !== kind.kind) return undefined;
      const o = owners.get(ns, ref.name);
      return o && o.metadata?.uid === ref.uid ? o : undefined;
    },
    matching: ownersMatching,
    enqueue: (o) => queue.add(keyOf(o)),
    enqueueAfter: (o, ms) => queue.addAfter(keyOf(o), ms),
    minReadySeconds: (o) => o.spec?.minReadySeconds ?? 0,
  };

  owners.addEventHandler({
    onAdd: (o) => queue.add(keyOf(o)),
    onUpdate: (_o, n) => queue.add(keyOf(n)),
    onDelete: (o) => {
      expectations.delete(keyOf(o));
      queue.add(keyOf(o));
    },
  });
  pods.addEventHandler({
    onAdd: (p) => {
      if (p.metadata?.deletionTimestamp) {
        const o = ownerFor(p);
        if (o) {
          expectations.deletionObserved(keyOf(o), keyOf(p));
          queue.add(keyOf(o));
        }
        return;
      }
      const ref = controllerOf(p);
      if (ref) {
        const o = ownerFor(p);
        if (!o) return;
        expectations.creationObserved(keyOf(o));
        queue.add(keyOf(o));
        return;
      }
      for (const o of ownersMatching(p)) queue.add(keyOf(o));
    },
    onUpdate: (old, p) => {
      if (old.metadata?.resourceVersion === p.metadata?.resourceVersion) return;
      if (p.metadata?.deletionTimestamp && !old.metadata?.deletionTimestamp) {
        // A graceful delete is the deletion this owner expected: act now, not when it finally goes.
        const o = ownerFor(p);
        if (o) expectations.deletionObserved(keyOf(o), keyOf(p));
      }
      enqueueOwnersOfUpdatedPod(old, p, podOwners);
    },
    onDelete: (p) => {
      const o = ownerFor(p);
      if (!o) return;
      expectations.deletionObserved(keyOf(o), keyOf(p));
      queue.add(keyOf(o));
    },
  });

  async function manageReplicas(rs: Readonly<ReplicatedObject>, filtered: readonly Readonly<Pod>[], key: string, signal: AbortSignal): Promise<Error | undefined> {
    const want = rs.spec?.replicas ?? 1;
    const diff = filtered.length - want;
    const owner: Owner = { apiVersion: kind.group ? `${kind.group}/${kind.version}` : kind.version, kind: kind.kind, metadata: rs.metadata! };
    if (diff < 0) {
      const n = Math.min(-diff, BURST_REPLICAS);
      expectations.expectCreations(key, n);
      // Slow start: 1, 2, 4, … creations at a time, stopping at the first failing batch (a quota
      // or admission error would fail them all).
      let created = 0;
      let batch = 1;
      while (created < n) {
        const size = Math.min(batch, n - created);
        const results = await Promise.allSettled(Array.from({ length: size }, () => podControl.createPod(rs.spec!.template!, owner, signal)));
        const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
        created += size;
        if (failed.length) {
          // Neither the failed nor the skipped creates will ever be observed.
          expectations.lowerCreations(key, failed.length + (n - created));
          const err = failed[0]!.reason as Error;
          // A namespace being deleted refuses creates: that is not the ReplicaSet's failure.
          if (/is being terminated/.test(err.message)) return undefined;
          return err;
        }
        batch *= 2;
      }
      return undefined;
    }
    if (diff > 0) {
      const n = Math.min(diff, BURST_REPLICAS);
      const related = pods.list(rs.metadata?.namespace).filter((p) => controllerOf(p)?.uid === rs.metadata?.uid);
      const victims = podsToDelete(filtered, related, n);
      expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      const results = await Promise.allSettled(victims.map((p) => podControl.deletePod(p.metadata!.namespace!, p.metadata!.name!, owner, signal)));
      let firstErr: Error | undefined;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled' && !r.value) expectations.deletionObserved(key, keyOf(victims[i]!));
        if (r.status === 'rejected') {
          expectations.deletionObserved(key, keyOf(victims[i]!));
          firstErr ??= r.reason as Error;
        }
      });
      return firstErr;
    }
    return undefined;
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const rs = owners.get(ns, name);
    if (!rs) {
      expectations.delete(key);
      return;
    }
    const needsSync = expectations.satisfied(key);
    const selector = kind.selector(rs);
    const candidates = pods.list(ns).filter((p) => isPodActive(p));
    const filtered = await claimChildren<Pod & KubeObject>({
      owner: { apiVersion: kind.group ? `${kind.group}/${kind.version}` : kind.version, kind: kind.kind, metadata: rs.metadata! },
      selector,
      candidates: candidates as Readonly<Pod & KubeObject>[],
      client: ctx.client,
      group: '',
      version: 'v1',
      plural: 'pods',
      canAdopt: async () => {
        const fresh = await ownerClient.get(ns, name);
        if (fresh.metadata?.uid !== rs.metadata?.uid) throw new Error(`original ${kind.kind} ${key} is gone: got uid ${fresh.metadata?.uid}, wanted ${rs.metadata?.uid}`);
        if (fresh.metadata?.deletionTimestamp) throw new Error(`${kind.kind} ${key} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      },
    });
    let manageErr: Error | undefined;
    if (needsSync && !rs.metadata?.deletionTimestamp && rs.spec?.template) manageErr = await manageReplicas(rs, filtered, key, signal);
    const status = calculateStatus(rs, filtered, kind, Date.now(), manageErr);
    if (!sameStatus(rs.status, status)) {
      try {
        await ownerClient.updateStatus({ ...rs, status } as ReplicatedObject);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const mrs = rs.spec?.minReadySeconds ?? 0;
    if (!manageErr && mrs > 0 && status.readyReplicas === (rs.spec?.replicas ?? 1) && status.availableReplicas !== status.readyReplicas) queue.addAfter(key, mrs * 1000);
    if (manageErr) throw manageErr;
  }

  return {
    name: kind.name,
    run: (signal) => runQueueWorkers({ name: kind.name, queue, sync, workers, synced: [() => owners.hasSynced(), () => pods.hasSynced()], log }, signal),
  };
}

export type { ReplicaSet, SharedInformer };
