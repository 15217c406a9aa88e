// Pure pieces of the Job controller (upstream job_controller.go helpers, util/utils.go): finished
// checks, condition bookkeeping, which pods count as failed, how many pods should run, and the
// selector the API server would have generated.

import type { Job, JobCondition } from 'kubernetes-types/batch/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { fromLabelSelector, type Requirement } from '../../api/labels.js';
import { compareForDeletion } from '../replicaset/podRanking.js';
import { duplicatedIndexPodsForRemoval } from './indexedJob.js';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
/** spec.managedBy value meaning "this controller" (as when unset). */
export const JOB_CONTROLLER_NAME = 'kubernetes.io/job-controller';
export const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_CONTROLLER_UID_LABEL = 'controller-uid';
export const LEGACY_JOB_NAME_LABEL = 'job-name';

export type JobConditionType = 'Complete' | 'Failed' | 'Suspended' | 'FailureTarget' | 'SuccessCriteriaMet';

export const REASON_BACKOFF_LIMIT_EXCEEDED = 'BackoffLimitExceeded';
export const REASON_DEADLINE_EXCEEDED = 'DeadlineExceeded';
export const REASON_POD_FAILURE_POLICY = 'PodFailurePolicy';
export const REASON_MAX_FAILED_INDEXES_EXCEEDED = 'MaxFailedIndexesExceeded';
export const REASON_FAILED_INDEXES = 'FailedIndexes';
export const REASON_SUCCESS_POLICY = 'SuccessPolicy';
export const MESSAGE_BACKOFF_LIMIT_EXCEEDED = 'Job has reached the specified backoff limit';
export const MESSAGE_DEADLINE_EXCEEDED = 'Job was active longer than specified deadline';


/** RFC 3339 with second precision, as metav1.Time serializes. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export function findCondition(conditions: readonly JobCondition[] | undefined, type: string): JobCondition | undefined {
  return conditions?.find((c) => c.type === type);
}

const conditionTrue = (job: Readonly<Job>, type: string): boolean => findCondition(job.status?.conditions, type)?.status === 'True';

/** Complete or Failed (upstream util.IsJobFinished). */
export function isJobFinished(job: Readonly<Job>): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export const isJobSucceeded = (job: Readonly<Job>): boolean => conditionTrue(job, 'Complete');

/** A condition as upstream's newCondition; an empty reason or message is omitted as in Go's JSON. */
export function newCondition(type: JobConditionType, status: 'True' | 'False', reason: string, message: string, now: number): JobCondition {
  const t = rfc3339(now);
  return { type, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}), lastProbeTime: t, lastTransitionTime: t };
}

/**
 * Upstream ensureJobConditionStatus: updates the condition of `type` when its status, reason or
 * message differ, or appends it unless the new status is False (nothing → False means nothing).
 */
export function ensureJobConditionStatus(list: JobCondition[] | undefined, type: JobConditionType, status: 'True' | 'False', reason: string, message: string, now: number): { conditions: JobCondition[]; changed: boolean } {
  const conditions = [...(list ?? [])];
  const i = conditions.findIndex((c) => c.type === type);
  if (i >= 0) {
    const c = conditions[i]!;
    if (c.status !== status || (c.reason ?? '') !== reason || (c.message ?? '') !== message) {
      conditions[i] = newCondition(type, status, reason, message, now);
      return { conditions, changed: true };
    }
    return { conditions, changed: false };
  }
  if (status !== 'False') return { conditions: [...conditions, newCondition(type, status, reason, message, now)], changed: true };
  return { conditions, changed: false };
}

export const isIndexedJob = (job: Readonly<Job>): boolean => job.spec?.completionMode === 'Indexed';
export const hasBackoffLimitPerIndex = (job: Readonly<Job>): boolean => job.spec?.backoffLimitPerIndex !== undefined && job.spec.backoffLimitPerIndex !== null;
export const jobSuspended = (job: Readonly<Job>): boolean => job.spec?.suspend === true;

/** Pods are replaced only once Failed (not while terminating): podReplacementPolicy Failed, or any podFailurePolicy. */
export function onlyReplaceFailedPods(job: Readonly<Job>): boolean {
  return job.spec?.podReplacementPolicy === 'Failed' || job.spec?.podFailurePolicy !== undefined;
}

/** Failed phase; or, unless only failed pods are replaced, being deleted without having succeeded. */
export function isPodFailed(p: Readonly<Pod>, job: Readonly<Job>): boolean {
  if (p.status?.phase === 'Failed') return true;
  if (onlyReplaceFailedPods(job)) return false;
  return !!p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded';
}

/** Being deleted but not yet terminal (upstream FilterTerminatingPods). */
export function isPodTerminating(p: Readonly<Pod>): boolean {
  return !!p.metadata?.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}

export const hasJobTrackingFinalizer = (p: Readonly<Pod>): boolean => p.metadata?.finalizers?.includes(JOB_TRACKING_FINALIZER) ?? false;

/** spec.managedBy naming another controller: this one must leave the Job alone. */
export function managedByExternalController(job: Readonly<Job>): string | undefined {
  const m = job.spec?.managedBy;
  return m !== undefined && m !== JOB_CONTROLLER_NAME ? m : undefined;
}

/** For restartPolicy OnFailure: container restarts of running/pending pods reach backoffLimit. */
export function pastBackoffLimitOnFailure(job: Readonly<Job>, pods: readonly Readonly<Pod>[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue;
    for (const s of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) restarts += s.restartCount ?? 0;
  }
  const limit = job.spec.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

/** How many pods should be active (upstream manageJob's wantActive). */
export function wantActivePods(job: Readonly<Job>, active: number, succeeded: number): number {
  const parallelism = job.spec?.parallelism ?? 1;
  const completions = job.spec?.completions;
  if (completions === undefined || completions === null) return succeeded > 0 ? active : parallelism;
  return Math.max(0, Math.min(completions - succeeded, parallelism));
}

/**
 * Active pods to remove (upstream activePodsForRemoval): for Indexed Jobs first pods with a
 * repeated, missing or out-of-range index, then at least `rmAtLeast` pods, earliest-stage first.
 */
export function activePodsForRemoval<P extends Readonly<Pod>>(job: Readonly<Job>, pods: readonly P[], rmAtLeast: number): P[] {
  let rm: P[] = [];
  let left: P[] = [...pods];
  if (isIndexedJob(job)) ({ rm, left } = duplicatedIndexPodsForRemoval(pods, job.spec?.completions ?? 0, (a, b) => compareForDeletion(a, b)));
  if (rm.length < rmAtLeast) {
    left.sort((a, b) => compareForDeletion(a, b));
    rm = [...rm, ...left.slice(0, rmAtLeast - rm.length)];
  }
  return rm;
}

/**
 * The Job's selector. k8ts' API server does not (yet) generate one as upstream's Job strategy does,
 * so a Job without spec.selector (and without manualSelector) is treated as if it had the
 * generated `batch.kubernetes.io/controller-uid=<uid>` selector.
 */
export function jobSelector(job: Readonly<Job>): Requirement[] {
  if (job.spec?.selector) return fromLabelSelector(job.spec.selector);
  if (job.spec?.manualSelector === true || !job.metadata?.uid) return [];
  return [{ key: CONTROLLER_UID_LABEL, op: 'Equals', values: [job.metadata.uid] }];
}

/** Labels upstream's Job strategy adds to the template when it generates the selector. */
export function generatedTemplateLabels(job: Readonly<Job>): Record<string, string> {
  if (job.spec?.selector || job.spec?.manualSelector === true) return {};
  const uid = job.metadata?.uid ?? '';
  const name = job.metadata?.name ?? '';
  return { [CONTROLLER_UID_LABEL]: uid, [JOB_NAME_LABEL]: name, [LEGACY_CONTROLLER_UID_LABEL]: uid, [LEGACY_JOB_NAME_LABEL]: name };
}
