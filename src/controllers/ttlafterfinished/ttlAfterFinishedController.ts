// The TTL-after-finished controller (upstream ttl-after-finished-controller): deletes a finished
// Job (Complete or Failed) `spec.ttlSecondsAfterFinished` after the finishing condition's
// lastTransitionTime, with foreground propagation so its pods go first, re-checking a fresh copy
// before deleting since the TTL may have changed.

import type { Job } from 'kubernetes-types/batch/v1.js';
import { isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { isJobFinished } from '../job/jobUtil.js';

export const TTL_AFTER_FINISHED_CONTROLLER = 'ttl-after-finished-controller';

export interface TTLAfterFinishedControllerOptions {
  now?: () => number;
}

type JobObj = Job & KubeObject;

/** A finished Job with a TTL. */
export function needsCleanup(job: Readonly<Job>): boolean {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  return ttl !== undefined && ttl !== null && isJobFinished(job);
}

/** When the Job finished: the lastTransitionTime of its True Complete or Failed condition. */
export function jobFinishTime(job: Readonly<Job>): number {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') {
      const t = Date.parse(c.lastTransitionTime ?? '');
      if (!Number.isFinite(t)) throw new Error(`unable to find the time when the Job ${job.metadata?.namespace}/${job.metadata?.name} finished`);
      return t;
    }
  }
  throw new Error(`unable to find the status of the finished Job ${job.metadata?.namespace}/${job.metadata?.name}`);
}

/** Remaining ms until the Job expires at `now` (≤ 0: expired), or undefined if it needs no clean-up. */
export function timeLeft(job: Readonly<Job>, now: number): { remainingMs: number; expireAt: number } | undefined {
  if (job.metadata?.deletionTimestamp || !needsCleanup(job)) return undefined;
  const expireAt = jobFinishTime(job) + job.spec!.ttlSecondsAfterFinished! * 1000;
  return { remainingMs: expireAt - now, expireAt };
}

export function newTTLAfterFinishedController(ctx: ControllerContext, opts: TTLAfterFinishedControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: TTL_AFTER_FINISHED_CONTROLLER });
  const now = opts.now ?? Date.now;
  const queue = newQueue('ttl_jobs_to_delete');
  const jobs = ctx.informers.informerFor<JobObj>('batch', 'v1', 'jobs');
  const jobClient = ctx.client.resource<JobObj>('batch', 'v1', 'jobs');

  const enqueueIfNeeded = (j: Readonly<Job>) => {
    if (j.metadata?.deletionTimestamp === undefined && needsCleanup(j)) queue.add(keyOf(j));
  };
  jobs.addEventHandler({ onAdd: enqueueIfNeeded, onUpdate: (_old, cur) => enqueueIfNeeded(cur) });

  /** Whether `job` has expired; if it will later, requeues it for then. */
  function expired(job: Readonly<Job>): boolean {
    const left = timeLeft(job, now());
    if (!left) return false;
    if (jobFinishTime(job) > now()) log.info({ job: keyOf(job) }, 'Warning: Found Job finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred.');
    if (left.remainingMs <= 0) return true;
    queue.addAfter(keyOf(job), left.remainingMs);
    return false;
  }

  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const [ns, name] = splitKey(key);
    const cached = jobs.get(ns, name);
    if (!cached || !expired(cached)) return;
    // The cache may be stale (the TTL may have just changed): decide on a fresh read.
    let fresh: JobObj;
    try {
      fresh = await jobClient.get(ns, name, { signal });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!expired(fresh)) return;
    log.debug({ job: key }, 'Cleaning up Job');
    await jobClient.delete(ns, name, { propagationPolicy: 'Foreground', preconditions: { uid: fresh.metadata?.uid }, signal }).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  return {
    name: TTL_AFTER_FINISHED_CONTROLLER,
    run: (signal) => runQueueWorkers({ name: 'ttl_jobs_to_delete', queue, sync, workers: 5, synced: [() => jobs.hasSynced()], log }, signal),
  };
}
