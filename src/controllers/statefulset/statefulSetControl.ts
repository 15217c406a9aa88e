// The StatefulSet update loop (upstream's stateful_set_control.go updateStatefulSet): make pods
// <start>…<start+replicas-1> exist, healthy and at the right revision; OrderedReady creates in
// ascending order and waits for each pod to be Running, Ready and available; scale-down and
// rolling updates go from the highest ordinal down; Parallel lifts the waiting.
// Writes go through `StatefulPodOps`, so tests can run this against a recording fake.

import type { StatefulSet, StatefulSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../../client/apiError.js';
import type { Revision } from '../history/controllerHistory.js';
import {
  allowsBurst,
  applyRevision,
  endOrdinal,
  identityMatches,
  isCreated,
  isFailed,
  isPending,
  isRunningAndAvailable,
  isRunningAndReady,
  isSucceeded,
  isTerminating,
  isUnavailable,
  newVersionedStatefulSetPod,
  ordinalOf,
  podInOrdinalRange,
  podRevision,
  replicaCounts,
  startOrdinal,
  statefulSetMaxUnavailable,
  storageMatches,
} from './statefulSetUtil.js';

/** The writes the update loop makes (upstream's StatefulPodControl). */
export interface StatefulPodOps {
  /** Creates the pod's claims, then the pod; records SuccessfulCreate/FailedCreate. */
  createStatefulPod(set: Readonly<StatefulSet>, pod: Pod): Promise<void>;
  /** Fixes identity, storage and claim ownership of an existing pod. */
  updateStatefulPod(set: Readonly<StatefulSet>, pod: Pod): Promise<void>;
  /** Deletes the pod; records SuccessfulDelete/FailedDelete. */
  deleteStatefulPod(set: Readonly<StatefulSet>, pod: Readonly<Pod>): Promise<void>;
  /** WhenScaled=Delete and a claim still owned by a previous pod of this name: wait for its deletion. */
  podClaimIsStale(set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean;
  claimsMatchRetentionPolicy(set: Readonly<StatefulSet>, pod: Readonly<Pod>): boolean;
  updatePodClaimForRetentionPolicy(set: Readonly<StatefulSet>, pod: Readonly<Pod>): Promise<void>;
  createMissingPersistentVolumeClaims(set: Readonly<StatefulSet>, pod: Readonly<Pod>): Promise<void>;
}

/** Upstream's cap on parallel requests in Parallel mode. */
export const MAX_BATCH_SIZE = 500;

/** Runs `fn` over indexes 0…n-1 in doubling batches, stopping at the first failing batch. */
async function slowStartBatch(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  for (let batch = Math.min(n, 1); batch > 0; batch = Math.min(Math.min(2 * batch, n - next), MAX_BATCH_SIZE)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, k) => fn(next + k)));
    next += batch;
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) throw failed[0]!.reason;
  }
}

/** Monotonic: one by one, stopping when asked; burst: all at once in slow-start batches. */
async function runForAll(n: number, fn: (i: number) => Promise<boolean>, monotonic: boolean): Promise<boolean> {
  if (monotonic) {
    for (let i = 0; i < n; i++) if (await fn(i)) return true;
    return false;
  }
  await slowStartBatch(n, fn);
  return false;
}

export interface UpdateResult {
  status: StatefulSetStatus;
  error?: Error;
}

/**
 * One pass of the update loop. Returns the status the pods add up to (always, so it can be
 * recorded) and the first error, if a write failed.
 */
export async function updateStatefulSet(opts: {
  set: Readonly<StatefulSet>;
  currentRevision: Readonly<Revision>;
  updateRevision: Readonly<Revision>;
  collisionCount: number;
  pods: readonly Readonly<Pod>[];
  ops: StatefulPodOps;
  now: () => number;
}): Promise<UpdateResult> {
  const { set, currentRevision, updateRevision, ops } = opts;
  const now = opts.now;
  const currentSet = applyRevision(set, currentRevision);
  const updateSet = applyRevision(set, updateRevision);
  const minReady = set.spec?.minReadySeconds ?? 0;
  const curName = currentRevision.metadata!.name!;
  const updName = updateRevision.metadata!.name!;

  const status: StatefulSetStatus = {
    replicas: 0,
    observedGeneration: set.metadata?.generation ?? 0,
    currentRevision: curName,
    updateRevision: updName,
    collisionCount: opts.collisionCount,
  };
  const recount = (...lists: ReadonlyArray<readonly (Readonly<Pod> | undefined)[]>) => {
    const c = { replicas: 0, readyReplicas: 0, availableReplicas: 0, currentReplicas: 0, updatedReplicas: 0 };
    for (const l of lists) {
      const x = replicaCounts(l, minReady, curName, updName, now());
      for (const k of Object.keys(c) as Array<keyof typeof c>) c[k] += x[k];
    }
    Object.assign(status, c);
  };
  recount(opts.pods);

  const start = startOrdinal(set);
  const end = endOrdinal(set);
  const replicas: Array<Readonly<Pod>> = new Array<Readonly<Pod>>(Math.max(0, end - start + 1));
  const condemned: Readonly<Pod>[] = [];
  for (const p of opts.pods) {
    if (podInOrdinalRange(p, set)) replicas[ordinalOf(p) - start] = p;
    else if (ordinalOf(p) >= 0) condemned.push(p);
  }
  for (let ord = start; ord <= end; ord++) {
    if (!replicas[ord - start]) replicas[ord - start] = newVersionedStatefulSetPod(currentSet, updateSet, curName, updName, ord);
  }
  condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));

  let firstUnavailable: Readonly<Pod> | undefined;
  for (const p of replicas) if (!firstUnavailable && isUnavailable(p, minReady, now())) firstUnavailable = p;
  for (let i = condemned.length - 1; i >= 0; i--) if (!firstUnavailable && isUnavailable(condemned[i]!, minReady, now())) firstUnavailable = condemned[i];

  if (set.metadata?.deletionTimestamp) return { status };
  const monotonic = !allowsBurst(set);
  const done = (error?: unknown): UpdateResult => {
    recount(replicas, condemned);
    return error ? { status, error: error instanceof Error ? error : new Error(String(error)) } : { status };
  };

  const processReplica = async (i: number): Promise<boolean> => {
    const pod = replicas[i]!;
    // Finished pods (Failed, or Succeeded after e.g. a node reboot) are deleted; a fresh one is
    // created once the old one is gone from the API.
    if (isFailed(pod) || isSucceeded(pod)) {
      if (!isTerminating(pod)) await ops.deleteStatefulPod(set, pod);
      return true;
    }
    if (!isCreated(pod)) {
      if (ops.podClaimIsStale(set, pod)) return true;
      await ops.createStatefulPod(set, pod as Pod);
      if (monotonic) return true;
    }
    if (isPending(pod)) await ops.createMissingPersistentVolumeClaims(set, pod);
    if (isTerminating(pod) && monotonic) return true;
    if (!isRunningAndReady(pod) && monotonic) return true;
    if (!isRunningAndAvailable(pod, minReady, now()) && monotonic) return true;
    let retentionMatch = true;
    try {
      retentionMatch = ops.claimsMatchRetentionPolicy(updateSet, pod);
    } catch {
      retentionMatch = true;
    }
    if (identityMatches(set, pod) && storageMatches(set, pod) && retentionMatch) return false;
    await ops.updateStatefulPod(updateSet, structuredClone(pod) as Pod);
    return false;
  };
  try {
    if (await runForAll(replicas.length, processReplica, monotonic)) return done();
  } catch (err) {
    return done(err);
  }

  const fixPodClaim = async (i: number): Promise<boolean> => {
    if (!ops.claimsMatchRetentionPolicy(updateSet, condemned[i]!)) await ops.updatePodClaimForRetentionPolicy(updateSet, condemned[i]!);
    return false;
  };
  try {
    if (await runForAll(condemned.length, fixPodClaim, monotonic)) return done();
  } catch (err) {
    return done(err);
  }

  // Scale down from the highest ordinal, in OrderedReady only while everything else is healthy.
  const processCondemned = async (i: number): Promise<boolean> => {
    const pod = condemned[i]!;
    if (isTerminating(pod)) return monotonic;
    if (monotonic && pod !== firstUnavailable && (!isRunningAndReady(pod) || !isRunningAndAvailable(pod, minReady, now()))) return true;
    await ops.deleteStatefulPod(set, pod);
    return true;
  };
  try {
    if (await runForAll(condemned.length, processCondemned, monotonic)) return done();
  } catch (err) {
    return done(err);
  }
  recount(replicas, condemned);

  if (set.spec?.updateStrategy?.type === 'OnDelete') return { status };
  const rolling = set.spec?.updateStrategy?.rollingUpdate;
  const updateMin = rolling?.partition ?? 0;
  try {
    if (rolling?.maxUnavailable !== undefined) {
      // maxUnavailable (upstream's MaxUnavailableStatefulSet): several pods at once, highest first.
      const maxUnavailable = statefulSetMaxUnavailable(rolling.maxUnavailable, replicas.length);
      const unavailable = replicas.filter((p) => isUnavailable(p, minReady, now())).length;
      if (unavailable > maxUnavailable) return { status };
      let budget = maxUnavailable - unavailable;
      for (let target = replicas.length - 1; target >= updateMin && budget > 0; target--) {
        const p = replicas[target]!;
        if (podRevision(p) !== updName && !isTerminating(p)) {
          await deleteIgnoringNotFound(ops, set, p);
          budget--;
          status.currentReplicas = (status.currentReplicas ?? 0) - 1;
        }
      }
      return { status };
    }
    // One pod at a time: delete the highest-ordinal pod not at the update revision once all above it are available.
    for (let target = replicas.length - 1; target >= updateMin; target--) {
      const p = replicas[target]!;
      if (podRevision(p) !== updName && !isTerminating(p)) {
        await deleteIgnoringNotFound(ops, set, p);
        status.currentReplicas = (status.currentReplicas ?? 0) - 1;
        return { status };
      }
      if (isUnavailable(p, minReady, now())) return { status };
    }
  } catch (err) {
    return { status, error: err instanceof Error ? err : new Error(String(err)) };
  }
  return { status };
}

async function deleteIgnoringNotFound(ops: StatefulPodOps, set: Readonly<StatefulSet>, pod: Readonly<Pod>): Promise<void> {
  try {
    await ops.deleteStatefulPod(set, pod);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
