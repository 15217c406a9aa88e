// The Job controller (upstream job-controller, 1.32): runs a Job's pods to completion. Pods carry
// the batch.kubernetes.io/job-tracking finalizer until the controller has counted them through
// status.uncountedTerminatedPods; failures are re-created after an exponential back-off until
// backoffLimit, activeDeadlineSeconds or a podFailurePolicy rule ends the Job. Terminal conditions
// are set in two steps as upstream 1.32 (JobManagedBy/JobPodReplacementPolicy on): FailureTarget
// or SuccessCriteriaMet first, Failed or Complete once no pod is left terminating.

import type { Job, JobCondition, UncountedTerminatedPods } from 'kubernetes-types/batch/v1.js';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { matches } from '../../api/labels.js';
import { isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { claimChildren, controllerOf, controllerRef, isPodActive, isPodReady, podFromTemplate, podsPrefix, type Owner } from '../controllerRef.js';
import { errorText, keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { Expectations } from '../expectations.js';
import { DEFAULT_POD_FAILURE_BACKOFF_MS, MAX_POD_FAILURE_BACKOFF_MS, nextBackoffRecord, podFinishedTime, remainingBackoffMs, type BackoffRecord } from './backoff.js';
import {
  addCompletionIndexEnv,
  firstPendingIndexes,
  formatIndexes,
  hasIndex,
  indexAbsoluteFailureCount,
  indexFailureCount,
  JOB_INDEX_FAILURE_COUNT_ANNOTATION,
  JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION,
  parseIndexes,
  podGenerateNameWithIndex,
  podIndex,
  setCompletionIndex,
  totalIndexes,
  withIndexes,
  mergeIntervals,
  type Interval,
} from './indexedJob.js';
import {
  activePodsForRemoval,
  ensureJobConditionStatus,
  findCondition,
  generatedTemplateLabels,
  hasBackoffLimitPerIndex,
  hasJobTrackingFinalizer,
  isIndexedJob,
  isJobFinished,
  isPodFailed,
  isPodTerminating,
  jobSelector,
  jobSuspended,
  JOB_TRACKING_FINALIZER,
  managedByExternalController,
  MESSAGE_BACKOFF_LIMIT_EXCEEDED,
  MESSAGE_DEADLINE_EXCEEDED,
  newCondition,
  onlyReplaceFailedPods,
  pastBackoffLimitOnFailure,
  REASON_BACKOFF_LIMIT_EXCEEDED,
  REASON_DEADLINE_EXCEEDED,
  REASON_FAILED_INDEXES,
  REASON_MAX_FAILED_INDEXES_EXCEEDED,
  REASON_POD_FAILURE_POLICY,
  REASON_SUCCESS_POLICY,
  rfc3339,
  wantActivePods,
} from './jobUtil.js';
import { matchPodFailurePolicy } from './podFailurePolicy.js';
import { matchSuccessPolicy } from './successPolicy.js';

export const JOB_CONTROLLER = 'job-controller';
/** Upstream MaxUncountedPods: keeps .status.uncountedTerminatedPods around 20 KB. */
export const MAX_UNCOUNTED_PODS = 500;
export const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

export interface JobControllerOptions {
  /** The clock (ms since the epoch); tests inject one. */
  now?: () => number;
  /** First pod re-creation back-off after a failure (upstream DefaultJobPodFailureBackOff, 10 s). */
  podFailureBackoffMs?: number;
  /** Cap of that back-off (upstream MaxJobPodFailureBackOff, 10 min). */
  maxPodFailureBackoffMs?: number;
  /** Delay batching pod events into one sync (upstream syncJobBatchPeriod, 1 s). */
  syncBatchPeriodMs?: number;
}

type JobObj = Job & KubeObject;
type PodObj = Pod & KubeObject;

/** What one sync knows (upstream syncJobCtx). */
interface SyncJobCtx {
  key: string;
  job: JobObj;
  pods: Readonly<PodObj>[];
  activePods: Readonly<PodObj>[];
  finishedCondition: JobCondition | undefined;
  succeeded: number;
  failed: number;
  prevSucceededIndexes: Interval[];
  succeededIndexes: Interval[];
  failedIndexes: Interval[] | undefined;
  newBackoffRecord: BackoffRecord;
  expectedRmFinalizers: ReadonlySet<string>;
  uncounted: { succeeded: Set<string>; failed: Set<string> };
  podsWithDelayedDeletionPerIndex: Map<number, Readonly<PodObj>>;
  terminating: number;
  ready: number;
}

const jobOwner = (job: Readonly<Job>): Owner => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: job.metadata ?? {} });
/** Informer objects may lack apiVersion/kind; events need them. */
const jobSubject = (job: Readonly<Job>): KubeObject => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: job.metadata ?? {} });

export function newJobController(ctx: ControllerContext, opts: JobControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: JOB_CONTROLLER });
  const now = opts.now ?? Date.now;
  const backoffBase = opts.podFailureBackoffMs ?? DEFAULT_POD_FAILURE_BACKOFF_MS;
  const backoffMax = opts.maxPodFailureBackoffMs ?? MAX_POD_FAILURE_BACKOFF_MS;
  const batchPeriod = opts.syncBatchPeriodMs ?? 1000;
  const queue = newQueue('job');
  const orphanQueue = newQueue('job_orphan_pod');
  const expectations = new Expectations(now);
  /** Per Job key, UIDs of pods whose finalizer removal was requested but not yet observed. */
  const finalizerExpectations = new Map<string, Set<string>>();
  const backoffStore = new Map<string, BackoffRecord>();
  const jobs = ctx.informers.informerFor<JobObj>('batch', 'v1', 'jobs');
  const pods = ctx.informers.informerFor<PodObj>('', 'v1', 'pods');
  const jobClient = ctx.client.resource<JobObj>('batch', 'v1', 'jobs');
  const podClient = ctx.client.resource<PodObj>('', 'v1', 'pods');
  const recorder = ctx.recorder(JOB_CONTROLLER);

  const enqueueBatched = (job: Readonly<Job>) => queue.addAfter(keyOf(job), batchPeriod);
  const enqueueWithDelay = (job: Readonly<Job>, ms: number) => queue.addAfter(keyOf(job), Math.max(ms, batchPeriod));
  const finalizerRemovalObserved = (jobKey: string, uid: string | undefined) => {
    if (uid) finalizerExpectations.get(jobKey)?.delete(uid);
  };

  const resolveControllerRef = (namespace: string | undefined, ref: ReturnType<typeof controllerOf>): Readonly<JobObj> | undefined => {
    if (!ref || ref.kind !== 'Job') return undefined;
    const job = jobs.get(namespace, ref.name);
    return job && job.metadata?.uid === ref.uid ? job : undefined;
  };
  const jobsMatching = (p: Readonly<Pod>) =>
    jobs.list(p.metadata?.namespace).filter((j) => {
      const sel = jobSelector(j);
      return sel.length > 0 && matches(sel, p.metadata?.labels);
    });
  const enqueueOrphan = (p: Readonly<Pod>) => orphanQueue.add(keyOf(p));

  /** Enqueues the finished Job's pods that still have the finalizer for its removal. */
  const cleanupPodFinalizers = (job: Readonly<Job>) => {
    for (const p of pods.list(job.metadata?.namespace)) {
      if (controllerOf(p)?.uid === job.metadata?.uid && hasJobTrackingFinalizer(p)) enqueueOrphan(p);
    }
  };

  const onPodDeleted = (pod: Readonly<Pod>, final: boolean) => {
    const ref = controllerOf(pod);
    const hasFinalizer = hasJobTrackingFinalizer(pod);
    if (!ref) {
      if (hasFinalizer) enqueueOrphan(pod);
      return;
    }
    const job = resolveControllerRef(pod.metadata?.namespace, ref);
    if (!job || isJobFinished(job)) {
      if (hasFinalizer) enqueueOrphan(pod);
      return;
    }
    const jobKey = keyOf(job);
    expectations.deletionObserved(jobKey, keyOf(pod));
    if (final || !hasFinalizer) finalizerRemovalObserved(jobKey, pod.metadata?.uid);
    enqueueBatched(job);
  };

  jobs.addEventHandler({
    onAdd: (j) => queue.add(keyOf(j)),
    onUpdate: (old, cur) => {
      if (cur.metadata?.generation === old.metadata?.generation) enqueueBatched(cur);
      else queue.add(keyOf(cur));
      // A finished Job must not keep finalizers on its pods; this is the backup path.
      if (isJobFinished(cur)) cleanupPodFinalizers(cur);
      const ads = cur.spec?.activeDeadlineSeconds;
      const start = cur.status?.startTime;
      if (start && ads !== undefined && ads !== old.spec?.activeDeadlineSeconds) {
        queue.addAfter(keyOf(cur), ads * 1000 - (now() - Date.parse(start)));
      }
    },
    onDelete: (j) => {
      queue.add(keyOf(j));
      cleanupPodFinalizers(j);
    },
  });

  pods.addEventHandler({
    onAdd: (p) => {
      if (p.metadata?.deletionTimestamp) {
        // A pod already being deleted (e.g. after a restart) is no creation observation.
        onPodDeleted(p, false);
        return;
      }
      const ref = controllerOf(p);
      if (ref) {
        const job = resolveControllerRef(p.metadata?.namespace, ref);
        if (!job) return;
        expectations.creationObserved(keyOf(job));
        enqueueBatched(job);
        return;
      }
      if (hasJobTrackingFinalizer(p)) enqueueOrphan(p);
      for (const j of jobsMatching(p)) enqueueBatched(j);
    },
    onUpdate: (old, cur) => {
      if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
      if (cur.metadata?.deletionTimestamp) {
        // Act on a graceful delete at once rather than when the kubelet finally removes the pod.
        onPodDeleted(cur, false);
        return;
      }
      const finalizerRemoved = !hasJobTrackingFinalizer(cur);
      const curRef = controllerOf(cur);
      const oldRef = controllerOf(old);
      const refChanged = JSON.stringify(curRef) !== JSON.stringify(oldRef);
      if (refChanged && oldRef) {
        const job = resolveControllerRef(old.metadata?.namespace, oldRef);
        if (job) {
          if (finalizerRemoved) finalizerRemovalObserved(keyOf(job), cur.metadata?.uid);
          enqueueBatched(job);
        }
      }
      if (curRef) {
        const job = resolveControllerRef(cur.metadata?.namespace, curRef);
        if (!job) return;
        if (finalizerRemoved) finalizerRemovalObserved(keyOf(job), cur.metadata?.uid);
        enqueueBatched(job);
        return;
      }
      if (hasJobTrackingFinalizer(cur)) enqueueOrphan(cur);
      const labelsChanged = JSON.stringify(cur.metadata?.labels ?? {}) !== JSON.stringify(old.metadata?.labels ?? {});
      if (labelsChanged || refChanged) for (const j of jobsMatching(cur)) enqueueBatched(j);
    },
    onDelete: (p) => onPodDeleted(p, true),
  });

  async function syncOrphanPod(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const pod = pods.get(ns, name);
    if (!pod) return;
    const ref = controllerOf(pod);
    if (ref) {
      // Owned by something other than a batch/v1 Job: its finalizer is not ours to touch.
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return;
      const job = resolveControllerRef(ns, ref);
      if (job && managedByExternalController(job)) return;
      // Adopted by a running Job: that Job's sync counts it and removes the finalizer.
      if (job && !isJobFinished(job)) return;
    }
    await removeTrackingFinalizer(pod, signal).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  function removeTrackingFinalizer(pod: Readonly<Pod>, signal: AbortSignal): Promise<unknown> {
    if (!hasJobTrackingFinalizer(pod)) return Promise.resolve();
    return podClient.patch(pod.metadata?.namespace, pod.metadata!.name!, { metadata: { '$deleteFromPrimitiveList/finalizers': [JOB_TRACKING_FINALIZER] } }, { type: 'strategic', signal });
  }

  /** The pods this Job manages, adopting matching orphans (adding the finalizer) and releasing non-matching ones. */
  async function getPodsForJob(job: Readonly<JobObj>): Promise<Readonly<PodObj>[]> {
    const ns = job.metadata?.namespace;
    const candidates = pods.list(ns);
    const claimed = await claimChildren<PodObj>({
      owner: jobOwner(job),
      selector: jobSelector(job),
      candidates,
      client: ctx.client,
      group: '',
      version: 'v1',
      plural: 'pods',
      canAdopt: async () => {
        const fresh = await jobClient.get(ns, job.metadata!.name!);
        if (fresh.metadata?.uid !== job.metadata?.uid) throw new Error(`original Job ${ns}/${job.metadata?.name} is gone: got uid ${fresh.metadata?.uid}, wanted ${job.metadata?.uid}`);
        if (fresh.metadata?.deletionTimestamp) throw new Error(`Job ${ns}/${job.metadata?.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      },
    });
    // Adopted pods also get the tracking finalizer, so that they are counted like our own.
    const ownedBefore = new Set(candidates.filter((p) => controllerOf(p)?.uid === job.metadata?.uid).map((p) => p.metadata?.uid));
    const out: Readonly<PodObj>[] = [];
    for (const p of claimed) {
      if (ownedBefore.has(p.metadata?.uid) || hasJobTrackingFinalizer(p)) {
        out.push(p);
        continue;
      }
      try {
        out.push(await podClient.patch(p.metadata?.namespace, p.metadata!.name!, { metadata: { finalizers: [JOB_TRACKING_FINALIZER], uid: p.metadata?.uid } }, { type: 'strategic' }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const shared = jobs.get(ns, name);
    if (!shared) {
      expectations.delete(key);
      finalizerExpectations.delete(key);
      backoffStore.delete(key);
      return;
    }
    if (managedByExternalController(shared)) return;
    // A finished Job is never touched again.
    if (isJobFinished(shared)) {
      backoffStore.delete(key);
      return;
    }
    const job = structuredClone(shared) as JobObj;
    const mode = job.spec?.completionMode;
    if (mode !== undefined && mode !== 'NonIndexed' && mode !== 'Indexed') {
      recorder.event(jobSubject(job), 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
      return;
    }
    job.spec ??= { template: {} };
    job.status ??= {};
    job.status.uncountedTerminatedPods ??= {};
    const uncountedIn = job.status.uncountedTerminatedPods;

    // Expectations first: a pod created after this check is only seen by the next sync.
    const satisfied = expectations.satisfied(key);
    const jobPods = await getPodsForJob(job);
    const activePods = jobPods.filter((p) => isPodActive(p));
    const jc: SyncJobCtx = {
      key,
      job,
      pods: jobPods,
      activePods,
      finishedCondition: undefined,
      succeeded: 0,
      failed: 0,
      prevSucceededIndexes: [],
      succeededIndexes: [],
      failedIndexes: undefined,
      newBackoffRecord: { failuresAfterLastSuccess: 0 },
      expectedRmFinalizers: new Set(finalizerExpectations.get(key) ?? []),
      uncounted: { succeeded: new Set(uncountedIn.succeeded ?? []), failed: new Set(uncountedIn.failed ?? []) },
      podsWithDelayedDeletionPerIndex: new Map(),
      terminating: jobPods.filter(isPodTerminating).length,
      ready: activePods.filter((p) => isPodReady(p)).length,
    };
    let active = activePods.length;
    const newSucceeded = validPods(jc, jc.uncounted.succeeded, (p) => p.status?.phase === 'Succeeded');
    const newFailed = validPods(jc, jc.uncounted.failed, (p) => isPodFailed(p, job));
    jc.succeeded = (job.status.succeeded ?? 0) + newSucceeded.length + jc.uncounted.succeeded.size;
    jc.failed = (job.status.failed ?? 0) + newFailed.filter((p) => matchPodFailurePolicy(job.spec?.podFailurePolicy, p).countFailed).length + jc.uncounted.failed.size;

    // First start; a suspended Job has not started.
    if (!job.status.startTime && !jobSuspended(job)) job.status.startTime = rfc3339(now());
    jc.newBackoffRecord = nextBackoffRecord(backoffStore.get(key), newSucceeded, newFailed);

    const backoffLimit = job.spec.backoffLimit ?? 6;
    jc.finishedCondition = successCriteriaMet(job);
    // Once success criteria are met, pod failures no longer matter.
    if (!jc.finishedCondition) {
      const target = findCondition(job.status.conditions, 'FailureTarget');
      if (target?.status === 'True') jc.finishedCondition = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', now());
      else {
        const msg = failJobMessage(job, jobPods);
        if (msg !== undefined) jc.finishedCondition = newCondition('FailureTarget', 'True', REASON_POD_FAILURE_POLICY, msg, now());
      }
    }
    if (!jc.finishedCondition) {
      if (jc.failed > backoffLimit || pastBackoffLimitOnFailure(job, jobPods)) {
        jc.finishedCondition = newCondition('FailureTarget', 'True', REASON_BACKOFF_LIMIT_EXCEEDED, MESSAGE_BACKOFF_LIMIT_EXCEEDED, now());
      } else if (pastActiveDeadline(job)) {
        jc.finishedCondition = newCondition('FailureTarget', 'True', REASON_DEADLINE_EXCEEDED, MESSAGE_DEADLINE_EXCEEDED, now());
      } else if (job.spec.activeDeadlineSeconds !== undefined && !jobSuspended(job)) {
        queue.addAfter(key, job.spec.activeDeadlineSeconds * 1000 - (now() - Date.parse(job.status.startTime!)));
      }
    }

    if (isIndexedJob(job)) {
      const completions = job.spec.completions ?? 0;
      jc.prevSucceededIndexes = parseIndexes(job.status.completedIndexes, completions);
      jc.succeededIndexes = withIndexes(
        jc.prevSucceededIndexes,
        [...new Set(jobPods.filter((p) => p.status?.phase === 'Succeeded' && hasJobTrackingFinalizer(p)).map(podIndex).filter((ix): ix is number => ix !== undefined && ix < completions))],
      );
      jc.succeeded = totalIndexes(jc.succeededIndexes);
      if (hasBackoffLimitPerIndex(job)) {
        jc.failedIndexes = calculateFailedIndexes(job, jobPods);
        if (!jc.finishedCondition) {
          const failedCount = totalIndexes(jc.failedIndexes);
          if (job.spec.maxFailedIndexes !== undefined && failedCount > job.spec.maxFailedIndexes) {
            jc.finishedCondition = newCondition('FailureTarget', 'True', REASON_MAX_FAILED_INDEXES_EXCEEDED, 'Job has exceeded the specified maximal number of failed indexes', now());
          } else if (failedCount > 0 && failedCount + totalIndexes(jc.succeededIndexes) >= completions) {
            jc.finishedCondition = newCondition('FailureTarget', 'True', REASON_FAILED_INDEXES, 'Job has failed indexes', now());
          }
        }
        jc.podsWithDelayedDeletionPerIndex = podsWithDelayedDeletionPerIndex(jc);
      }
      if (!jc.finishedCondition) {
        const m = matchSuccessPolicy(job.spec.successPolicy, completions, jc.succeededIndexes);
        if (m !== undefined) jc.finishedCondition = newCondition('SuccessCriteriaMet', 'True', REASON_SUCCESS_POLICY, m, now());
      }
    }

    let suspendCondChanged = false;
    let manageErr: Error | undefined;
    if (jc.finishedCondition) {
      // Terminating: delete what still runs, keeping finalizers until the pods are counted.
      const r = await deleteActivePods(job, jc.activePods, signal);
      if (r.deleted !== active || !satisfied) jc.finishedCondition = undefined;
      active -= r.deleted;
      jc.terminating += r.deleted;
      jc.ready -= r.deletedReady;
      manageErr = r.err;
    } else {
      let manageCalled = false;
      if (satisfied && !job.metadata?.deletionTimestamp) {
        const r = await manageJob(jc, signal);
        active = r.active;
        manageErr = r.err;
        manageCalled = true;
      }
      const completions = job.spec.completions;
      const complete = completions === undefined || completions === null ? jc.succeeded > 0 && active === 0 : jc.succeeded >= completions && active === 0;
      if (complete) {
        jc.finishedCondition = newCondition('SuccessCriteriaMet', 'True', '', '', now());
      } else if (manageCalled) {
        // Conditions and events only from the sync that acted (manageJob ran).
        if (jobSuspended(job)) {
          const r = ensureJobConditionStatus(job.status.conditions, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now());
          job.status.conditions = r.conditions;
          if (r.changed) {
            suspendCondChanged = true;
            recorder.event(jobSubject(job), 'Normal', 'Suspended', 'Job suspended');
          }
        } else {
          const r = ensureJobConditionStatus(job.status.conditions, 'Suspended', 'False', 'JobResumed', 'Job resumed', now());
          job.status.conditions = r.conditions;
          if (r.changed) {
            suspendCondChanged = true;
            recorder.event(jobSubject(job), 'Normal', 'Resumed', 'Job resumed');
            // activeDeadlineSeconds counts continuous activity: a resumed Job starts again.
            job.status.startTime = rfc3339(now());
          }
        }
      }
    }

    const needsStatusUpdate = suspendCondChanged || active !== (job.status.active ?? 0) || jc.ready !== job.status.ready || jc.terminating !== job.status.terminating;
    job.status.active = active;
    job.status.ready = jc.ready;
    job.status.terminating = jc.terminating;
    await trackJobStatusAndRemoveFinalizers(jc, needsStatusUpdate, signal);
    if (manageErr) throw manageErr;
  }

  function successCriteriaMet(job: Readonly<Job>): JobCondition | undefined {
    const c = findCondition(job.status?.conditions, 'SuccessCriteriaMet');
    return c?.status === 'True' ? c : undefined;
  }

  function pastActiveDeadline(job: Readonly<Job>): boolean {
    const ads = job.spec?.activeDeadlineSeconds;
    const start = job.status?.startTime;
    if (ads === undefined || ads === null || !start || jobSuspended(job)) return false;
    return now() - Date.parse(start) >= ads * 1000;
  }

  /** Pods with the finalizer, not uncounted, not awaiting finalizer removal, with a valid index when Indexed, passing `filter`. */
  function validPods(jc: SyncJobCtx, uncounted: ReadonlySet<string> | undefined, filter: (p: Readonly<PodObj>) => boolean): Readonly<PodObj>[] {
    const completions = jc.job.spec?.completions ?? 0;
    return jc.pods.filter((p) => {
      const uid = p.metadata?.uid ?? '';
      if (!hasJobTrackingFinalizer(p) || uncounted?.has(uid) || jc.expectedRmFinalizers.has(uid)) return false;
      if (isIndexedJob(jc.job)) {
        const ix = podIndex(p);
        if (ix === undefined || ix >= completions) return false;
      }
      return filter(p);
    });
  }

  function failJobMessage(job: Readonly<Job>, jobPods: readonly Readonly<Pod>[]): string | undefined {
    if (!job.spec?.podFailurePolicy) return undefined;
    for (const p of jobPods) {
      if (!isPodFailed(p, job)) continue;
      const m = matchPodFailurePolicy(job.spec.podFailurePolicy, p);
      if (m.failJobMessage !== undefined) return m.failJobMessage;
    }
    return undefined;
  }

  function isIndexFailed(job: Readonly<Job>, p: Readonly<Pod>): boolean {
    let counted = false;
    if (isPodFailed(p, job)) {
      if (job.spec?.podFailurePolicy) {
        const m = matchPodFailurePolicy(job.spec.podFailurePolicy, p);
        if (m.action === 'FailIndex') return true;
        counted = m.countFailed;
      } else counted = true;
    }
    return counted && indexFailureCount(p) >= (job.spec?.backoffLimitPerIndex ?? 0);
  }

  function calculateFailedIndexes(job: Readonly<Job>, jobPods: readonly Readonly<Pod>[]): Interval[] {
    const completions = job.spec?.completions ?? 0;
    const prev = parseIndexes(job.status?.failedIndexes, completions);
    const failed = jobPods
      .filter((p) => hasJobTrackingFinalizer(p) && isIndexFailed(job, p))
      .map(podIndex)
      .filter((ix): ix is number => ix !== undefined && ix < completions);
    return withIndexes(prev, [...new Set(failed)]);
  }

  /**
   * Per index, the latest failed pod whose finalizer removal waits until its replacement exists, so
   * that the replacement can carry the index's failure count.
   */
  function podsWithDelayedDeletionPerIndex(jc: SyncJobCtx): Map<number, Readonly<PodObj>> {
    const activeIndexes = new Set(jc.activePods.map(podIndex).filter((ix) => ix !== undefined));
    const out = new Map<number, Readonly<PodObj>>();
    for (const p of validPods(jc, undefined, (x) => isPodFailed(x, jc.job))) {
      const ix = podIndex(p)!;
      if (hasIndex(jc.succeededIndexes, ix) || hasIndex(jc.failedIndexes, ix) || activeIndexes.has(ix)) continue;
      const last = out.get(ix);
      if (!last || (indexAbsoluteFailureCount(last) <= indexAbsoluteFailureCount(p) && podFinishedTime(p) >= podFinishedTime(last))) out.set(ix, p);
    }
    return out;
  }

  async function createPod(template: PodTemplateSpec, job: Readonly<JobObj>, generateName: string, signal: AbortSignal): Promise<void> {
    const pod = podFromTemplate(template, jobOwner(job), generateName);
    pod.metadata!.ownerReferences = [controllerRef(jobOwner(job))];
    try {
      const created = await podClient.create(pod as PodObj, { namespace: job.metadata?.namespace, signal });
      recorder.event(jobSubject(job), 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata?.name}`);
    } catch (err) {
      recorder.event(jobSubject(job), 'Warning', 'FailedCreate', `Error creating: ${errorText(err)}`);
      throw err;
    }
  }

  async function deletePod(p: Readonly<Pod>, job: Readonly<Job>, signal: AbortSignal): Promise<void> {
    try {
      await podClient.delete(p.metadata?.namespace, p.metadata!.name!, { signal });
      recorder.event(jobSubject(job), 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata?.name}`);
    } catch (err) {
      if (isNotFound(err)) throw err;
      recorder.event(jobSubject(job), 'Warning', 'FailedDelete', `Error deleting: ${errorText(err)}`);
      throw err;
    }
  }

  /** Deletes (gracefully, keeping finalizers) the active pods of a Job that is finishing. */
  async function deleteActivePods(job: Readonly<Job>, active: readonly Readonly<Pod>[], signal: AbortSignal): Promise<{ deleted: number; deletedReady: number; err?: Error }> {
    let deleted = active.length;
    let deletedReady = 0;
    let err: Error | undefined;
    await Promise.all(
      active.map(async (p) => {
        try {
          await deletePod(p, job, signal);
        } catch (e) {
          if (!isNotFound(e)) {
            deleted--;
            err ??= e as Error;
          }
        }
        if (isPodReady(p)) deletedReady++;
      }),
    );
    return { deleted, deletedReady, ...(err ? { err } : {}) };
  }

  /** Removes the finalizer, then deletes: used when scaling down or suspending, where the pods are not counted. */
  async function deleteJobPods(job: Readonly<Job>, key: string, victims: readonly Readonly<Pod>[], signal: AbortSignal): Promise<{ removed: number; removedReady: number; err?: Error }> {
    let removed = victims.length;
    let removedReady = 0;
    let err: Error | undefined;
    await Promise.all(
      victims.map(async (p) => {
        const fail = (e: unknown) => {
          expectations.deletionObserved(key, keyOf(p));
          if (!isNotFound(e)) {
            removed--;
            err ??= e as Error;
          }
        };
        try {
          await removeTrackingFinalizer(p, signal);
        } catch (e) {
          fail(new Error(`removing completion finalizer: ${errorText(e)}`, { cause: e }));
          return;
        }
        try {
          await deletePod(p, job, signal);
        } catch (e) {
          fail(e);
        }
        if (isPodReady(p)) removedReady++;
      }),
    );
    return { removed, removedReady, ...(err ? { err } : {}) };
  }

  /** Creates or deletes pods to match parallelism/completions; returns the new active count. */
  async function manageJob(jc: SyncJobCtx, signal: AbortSignal): Promise<{ active: number; err?: Error }> {
    const { job, key } = jc;
    let active = jc.activePods.length;
    if (jobSuspended(job)) {
      const victims = activePodsForRemoval(job, jc.activePods, active);
      expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      const r = await deleteJobPods(job, key, victims, signal);
      jc.terminating += r.removed;
      jc.ready -= r.removedReady;
      return { active: active - r.removed, ...(r.err ? { err: r.err } : {}) };
    }
    const wantActive = wantActivePods(job, active, jc.succeeded);
    const rmAtLeast = Math.max(0, active - wantActive);
    const victims = activePodsForRemoval(job, jc.activePods, rmAtLeast).slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
    if (victims.length > 0) {
      // Deleting and creating in one sync is never done; deletion wins.
      expectations.expectDeletions(key, victims.map((p) => keyOf(p)));
      const r = await deleteJobPods(job, key, victims, signal);
      jc.terminating += r.removed;
      jc.ready -= r.removedReady;
      return { active: active - r.removed, ...(r.err ? { err: r.err } : {}) };
    }
    const terminating = onlyReplaceFailedPods(job) ? jc.terminating : 0;
    let diff = wantActive - terminating - active;
    if (diff <= 0) return { active };
    if (!hasBackoffLimitPerIndex(job)) {
      const remaining = remainingBackoffMs(jc.newBackoffRecord.failuresAfterLastSuccess, jc.newBackoffRecord.lastFailureTime, now(), backoffBase, backoffMax);
      if (remaining > 0) {
        enqueueWithDelay(job, remaining);
        // Upstream reports 0 active here; we keep the true count so status.active does not flap.
        return { active };
      }
    }
    diff = Math.min(diff, MAX_POD_CREATE_DELETE_PER_SYNC);
    let indexesToAdd: number[] = [];
    if (isIndexedJob(job)) {
      const completions = job.spec?.completions ?? 0;
      let nonPending = withIndexes(jc.succeededIndexes, jc.activePods.map(podIndex).filter((ix): ix is number => ix !== undefined));
      if (onlyReplaceFailedPods(job)) nonPending = withIndexes(nonPending, jc.pods.filter(isPodTerminating).map(podIndex).filter((ix): ix is number => ix !== undefined));
      if (jc.failedIndexes) nonPending = mergeIntervals(nonPending, jc.failedIndexes);
      indexesToAdd = firstPendingIndexes(nonPending, diff, completions);
      if (hasBackoffLimitPerIndex(job)) {
        const ready: number[] = [];
        let minRemaining: number | undefined;
        for (const ix of indexesToAdd) {
          const last = jc.podsWithDelayedDeletionPerIndex.get(ix);
          const rem = last ? remainingBackoffMs(indexAbsoluteFailureCount(last) + 1, podFinishedTime(last), now(), backoffBase, backoffMax) : 0;
          if (rem === 0) ready.push(ix);
          else if (minRemaining === undefined || rem < minRemaining) minRemaining = rem;
        }
        if (ready.length === 0 && minRemaining !== undefined) {
          enqueueWithDelay(job, minRemaining);
          return { active };
        }
        indexesToAdd = ready;
      }
      diff = indexesToAdd.length;
    }
    if (diff <= 0) return { active };

    expectations.expectCreations(key, diff);
    const template = structuredClone(job.spec!.template) as PodTemplateSpec;
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), ...generatedTemplateLabels(job) };
    if (isIndexedJob(job)) addCompletionIndexEnv(template);
    if (!template.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)) template.metadata.finalizers = [...(template.metadata.finalizers ?? []), JOB_TRACKING_FINALIZER];
    const generic = podsPrefix(job.metadata!.name!);

    // Slow start: batches of 1, 2, 4, … so that a quota or admission error fails fast and once.
    let err: Error | undefined;
    let batch = 1;
    let remaining = diff;
    active += diff;
    while (remaining > 0) {
      const size = Math.min(batch, remaining);
      const results = await Promise.allSettled(
        Array.from({ length: size }, () => {
          const ix = indexesToAdd.shift();
          if (ix === undefined) return createPod(template, job, generic, signal);
          const t = structuredClone(template);
          setCompletionIndex(t, job.metadata!.name!, ix);
          if (hasBackoffLimitPerIndex(job)) addIndexFailureCounts(t, job, jc.podsWithDelayedDeletionPerIndex.get(ix));
          return createPod(t, job, podGenerateNameWithIndex(job.metadata!.name!, ix), signal);
        }),
      );
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      for (const f of failed) {
        expectations.lowerCreations(key, 1);
        active--;
        // A namespace being deleted refuses every create: not the Job's error.
        if (!/is being terminated|NamespaceTerminating/.test(errorText(f.reason))) err ??= f.reason as Error;
      }
      remaining -= size;
      if (failed.length > 0 && remaining > 0) {
        expectations.lowerCreations(key, remaining);
        active -= remaining;
        break;
      }
      batch *= 2;
    }
    return { active, ...(err ? { err } : {}) };
  }

  function addIndexFailureCounts(t: PodTemplateSpec, job: Readonly<Job>, replaced: Readonly<Pod> | undefined): void {
    let failures = 0;
    let ignored = 0;
    if (replaced) {
      failures = indexFailureCount(replaced);
      ignored = indexAbsoluteFailureCount(replaced) - failures;
      if (matchPodFailurePolicy(job.spec?.podFailurePolicy, replaced).countFailed) failures++;
      else ignored++;
    }
    t.metadata!.annotations = { ...(t.metadata!.annotations ?? {}), [JOB_INDEX_FAILURE_COUNT_ANNOTATION]: String(failures) };
    if (ignored > 0) t.metadata!.annotations[JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION] = String(ignored);
  }

  /** Whether a counted pod's finalizer may go now (upstream canRemoveFinalizer). */
  function canRemoveFinalizer(jc: SyncJobCtx, p: Readonly<Pod>, considerFailed: boolean): boolean {
    if (jc.job.metadata?.deletionTimestamp || jc.finishedCondition || p.status?.phase === 'Succeeded') return true;
    if (!considerFailed) return false;
    if (hasBackoffLimitPerIndex(jc.job)) {
      const ix = podIndex(p);
      if (ix !== undefined && jc.podsWithDelayedDeletionPerIndex.get(ix)?.metadata?.uid === p.metadata?.uid) return false;
    }
    return true;
  }

  /**
   * Counts finished pods through status.uncountedTerminatedPods: (1) record their UIDs there, (2)
   * remove their finalizers, (3) move them into succeeded/failed, (4) set the terminal condition
   * once nothing is left uncounted or terminating.
   */
  async function trackJobStatusAndRemoveFinalizers(jc: SyncJobCtx, needsFlushIn: boolean, signal: AbortSignal): Promise<void> {
    let needsFlush = needsFlushIn;
    const job = jc.job;
    const status = job.status!;
    const indexed = isIndexedJob(job);
    const completions = job.spec?.completions ?? 0;
    const uncounted: Required<UncountedTerminatedPods> = { succeeded: [...(status.uncountedTerminatedPods?.succeeded ?? [])], failed: [...(status.uncountedTerminatedPods?.failed ?? [])] };
    status.uncountedTerminatedPods = uncounted;
    const ordered = indexed ? [...jc.pods].sort((a, b) => (podIndex(a) ?? -1) - (podIndex(b) ?? -1)) : jc.pods;
    const uidsWithFinalizer = new Set(jc.pods.filter((p) => hasJobTrackingFinalizer(p) && !jc.expectedRmFinalizers.has(p.metadata?.uid ?? '')).map((p) => p.metadata?.uid ?? ''));
    if (cleanUncountedPodsWithoutFinalizers(status, uidsWithFinalizer)) needsFlush = true;
    const toRemoveFinalizer: Readonly<PodObj>[] = [];
    const newSucceededIndexes: number[] = [];
    let reachedMax = false;
    for (const p of ordered) {
      const uid = p.metadata?.uid ?? '';
      if (!hasJobTrackingFinalizer(p) || jc.expectedRmFinalizers.has(uid)) continue;
      const considerFailed = isPodFailed(p, job);
      if (!canRemoveFinalizer(jc, p, considerFailed)) continue;
      toRemoveFinalizer.push(p);
      if (p.status?.phase === 'Succeeded' && !jc.uncounted.failed.has(uid)) {
        if (indexed) {
          // The index alone is enough to avoid counting a success twice.
          const ix = podIndex(p);
          if (ix !== undefined && ix < completions && !hasIndex(jc.prevSucceededIndexes, ix)) {
            newSucceededIndexes.push(ix);
            needsFlush = true;
          }
        } else if (!jc.uncounted.succeeded.has(uid)) {
          needsFlush = true;
          status.uncountedTerminatedPods.succeeded!.push(uid);
        }
      } else if (considerFailed || (jc.finishedCondition && jc.finishedCondition.type !== 'SuccessCriteriaMet')) {
        // When the Job fails, every pod not yet terminated counts as failed.
        const ix = podIndex(p);
        if (!jc.uncounted.failed.has(uid) && (!indexed || (ix !== undefined && ix < completions))) {
          if (matchPodFailurePolicy(job.spec?.podFailurePolicy, p).countFailed) {
            needsFlush = true;
            status.uncountedTerminatedPods.failed!.push(uid);
          }
        }
      }
      const u = status.uncountedTerminatedPods;
      if (newSucceededIndexes.length + (u.succeeded?.length ?? 0) + (u.failed?.length ?? 0) >= MAX_UNCOUNTED_PODS) {
        reachedMax = true;
        break;
      }
    }
    if (indexed) {
      jc.succeededIndexes = withIndexes(jc.succeededIndexes, newSucceededIndexes);
      const s = formatIndexes(jc.succeededIndexes);
      if (s !== (status.completedIndexes ?? '')) needsFlush = true;
      status.succeeded = totalIndexes(jc.succeededIndexes);
      status.completedIndexes = s;
      const f = jc.failedIndexes ? formatIndexes(jc.failedIndexes) : undefined;
      if (f !== status.failedIndexes) {
        status.failedIndexes = f;
        needsFlush = true;
      }
    }
    if (jc.finishedCondition?.type === 'FailureTarget') {
      // Record why the Job fails before the finalizers (and so the pods) go; Failed follows.
      status.conditions = [...(status.conditions ?? []), jc.finishedCondition];
      needsFlush = true;
      jc.finishedCondition = newCondition('Failed', 'True', jc.finishedCondition.reason ?? '', jc.finishedCondition.message ?? '', now());
    }
    if (jc.finishedCondition?.type === 'SuccessCriteriaMet' && jc.finishedCondition.status === 'True') {
      if (!successCriteriaMet(job)) {
        status.conditions = [...(status.conditions ?? []), jc.finishedCondition];
        needsFlush = true;
      }
      jc.finishedCondition = newCondition('Complete', 'True', jc.finishedCondition.reason ?? '', jc.finishedCondition.message ?? '', now());
    }
    needsFlush = await flushUncountedAndRemoveFinalizers(jc, toRemoveFinalizer, uidsWithFinalizer, needsFlush, signal);
    const finished = !reachedMax && enactJobFinished(jc);
    if (finished) needsFlush = true;
    if (needsFlush) {
      jc.job = await updateStatus(jc.job, signal);
      if (finished) recordJobFinished(jc.job, jc.finishedCondition!);
    }
  }

  /** Moves uncounted UIDs whose pods no longer have the finalizer into the counters. */
  function cleanUncountedPodsWithoutFinalizers(status: NonNullable<Job['status']>, withFinalizer: ReadonlySet<string>): boolean {
    const u = status.uncountedTerminatedPods ?? {};
    let changed = false;
    const keptSucceeded = (u.succeeded ?? []).filter((uid) => withFinalizer.has(uid));
    if (keptSucceeded.length !== (u.succeeded ?? []).length) {
      changed = true;
      status.succeeded = (status.succeeded ?? 0) + (u.succeeded ?? []).length - keptSucceeded.length;
      u.succeeded = keptSucceeded;
    }
    const keptFailed = (u.failed ?? []).filter((uid) => withFinalizer.has(uid));
    if (keptFailed.length !== (u.failed ?? []).length) {
      changed = true;
      status.failed = (status.failed ?? 0) + (u.failed ?? []).length - keptFailed.length;
      u.failed = keptFailed;
    }
    status.uncountedTerminatedPods = u;
    return changed;
  }

  async function flushUncountedAndRemoveFinalizers(jc: SyncJobCtx, toRemove: readonly Readonly<PodObj>[], uidsWithFinalizer: Set<string>, needsFlushIn: boolean, signal: AbortSignal): Promise<boolean> {
    let needsFlush = needsFlushIn;
    if (needsFlush) {
      jc.job = await updateStatus(jc.job, signal);
      backoffStore.set(jc.key, jc.newBackoffRecord);
      needsFlush = false;
    }
    let rmErr: Error | undefined;
    if (toRemove.length > 0) {
      const expected = finalizerExpectations.get(jc.key) ?? new Set<string>();
      finalizerExpectations.set(jc.key, expected);
      for (const p of toRemove) expected.add(p.metadata?.uid ?? '');
      await Promise.all(
        toRemove.map(async (p) => {
          const uid = p.metadata?.uid ?? '';
          try {
            await removeTrackingFinalizer(p, signal);
            uidsWithFinalizer.delete(uid);
          } catch (err) {
            // No pod update will show this removal: stop expecting it.
            finalizerRemovalObserved(jc.key, uid);
            if (isNotFound(err)) uidsWithFinalizer.delete(uid);
            else rmErr ??= new Error(`removing tracking finalizer: ${errorText(err)}`, { cause: err });
          }
        }),
      );
    }
    if (cleanUncountedPodsWithoutFinalizers(jc.job.status!, uidsWithFinalizer)) needsFlush = true;
    if (rmErr) {
      if (needsFlush) jc.job = await updateStatus(jc.job, signal);
      throw rmErr;
    }
    return needsFlush;
  }

  /** Adds Complete/Failed when nothing is uncounted or terminating; returns whether it did. */
  function enactJobFinished(jc: SyncJobCtx): boolean {
    const cond = jc.finishedCondition;
    if (!cond) return false;
    const u = jc.job.status?.uncountedTerminatedPods;
    if ((u?.succeeded?.length ?? 0) + (u?.failed?.length ?? 0) > 0) return false;
    if (jc.terminating > 0) return false;
    const status = jc.job.status!;
    status.conditions = ensureJobConditionStatus(status.conditions, cond.type as 'Complete' | 'Failed', 'True', cond.reason ?? '', cond.message ?? '', now()).conditions;
    if (cond.type === 'Complete') status.completionTime = cond.lastTransitionTime;
    return true;
  }

  function recordJobFinished(job: Readonly<Job>, cond: JobCondition): void {
    if (cond.type === 'Complete') {
      const completions = job.spec?.completions;
      if (completions !== undefined && completions !== null && (job.status?.succeeded ?? 0) > completions) {
        recorder.event(jobSubject(job), 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      }
      recorder.event(jobSubject(job), 'Normal', 'Completed', 'Job completed');
      return;
    }
    recorder.event(jobSubject(job), 'Warning', cond.reason ?? '', cond.message ?? '');
  }

  async function updateStatus(job: JobObj, signal: AbortSignal): Promise<JobObj> {
    // Empty lists are omitted on the wire, as Go's omitempty does.
    const u = job.status?.uncountedTerminatedPods;
    if (u) {
      if (u.succeeded?.length === 0) delete u.succeeded;
      if (u.failed?.length === 0) delete u.failed;
    }
    const got = await jobClient.updateStatus({ ...job, apiVersion: 'batch/v1', kind: 'Job' }, { signal });
    got.status ??= {};
    return got;
  }

  return {
    name: JOB_CONTROLLER,
    async run(signal) {
      const synced = [() => jobs.hasSynced(), () => pods.hasSynced()];
      await Promise.all([
        runQueueWorkers({ name: 'job', queue, sync, workers: ctx.options.concurrentJobSyncs, synced, log }, signal),
        runQueueWorkers({ name: 'job_orphan_pod', queue: orphanQueue, sync: syncOrphanPod, workers: 1, synced, log }, signal),
      ]);
    },
  };
}

export type { Pod };
