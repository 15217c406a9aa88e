// The CronJob controller (upstream cronjob-controller, ControllerV2 in 1.32): creates a Job per
// due schedule time (named after the time, so a run is never created twice), honours
// concurrencyPolicy, startingDeadlineSeconds and suspend, keeps status.active,
// lastScheduleTime and lastSuccessfulTime, prunes finished Jobs beyond the history limits, and
// requeues each CronJob for its next schedule time. A schedule it cannot use is reported with an
// event and left alone until the CronJob changes (no retry loop).

import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import { isAlreadyExists, isNotFound } from '../../client/apiError.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { controllerOf } from '../controllerRef.js';
import { errorText, keyOf, newQueue, runQueueWorkers, splitKey, type Controller, type ControllerContext } from '../controller.js';
import { byJobStartTime, finishedStatus, formatSchedule, isJobFinished, jobFromTemplate, jobName, nextScheduleTime, nextScheduleTimeDuration } from './cronJobUtils.js';
import { parseStandard, Zone, type CronSchedule } from '../../api/cronSchedule.js';

export const CRONJOB_CONTROLLER = 'cronjob-controller';

export interface CronJobControllerOptions {
  /** The clock (ms since the epoch); tests inject a shifted one to reach schedule times quickly. */
  now?: () => number;
}

type CronJobObj = CronJob & KubeObject;
type JobObj = Job & KubeObject;

const cronJobSubject = (cj: Readonly<CronJob>): KubeObject => ({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: cj.metadata ?? {} });
const jobRef = (j: Readonly<Job>): ObjectReference => ({
  kind: 'Job',
  namespace: j.metadata?.namespace,
  name: j.metadata?.name,
  uid: j.metadata?.uid,
  apiVersion: 'batch/v1',
  resourceVersion: j.metadata?.resourceVersion,
});
const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export function newCronJobController(ctx: ControllerContext, opts: CronJobControllerOptions = {}): Controller {
  const log = ctx.log.child({ controller: CRONJOB_CONTROLLER });
  const now = opts.now ?? Date.now;
  const queue = newQueue('cronjob');
  const cronJobs = ctx.informers.informerFor<CronJobObj>('batch', 'v1', 'cronjobs');
  const jobs = ctx.informers.informerFor<JobObj>('batch', 'v1', 'jobs');
  const cronJobClient = ctx.client.resource<CronJobObj>('batch', 'v1', 'cronjobs');
  const jobClient = ctx.client.resource<JobObj>('batch', 'v1', 'jobs');
  const recorder = ctx.recorder(CRONJOB_CONTROLLER);
  const event = (cj: Readonly<CronJob>, type: 'Normal' | 'Warning', reason: string, message: string) => recorder.event(cronJobSubject(cj), type, reason, message);

  const resolveControllerRef = (namespace: string | undefined, ref: ReturnType<typeof controllerOf>): Readonly<CronJobObj> | undefined => {
    if (!ref || ref.kind !== 'CronJob') return undefined;
    const cj = cronJobs.get(namespace, ref.name);
    return cj && cj.metadata?.uid === ref.uid ? cj : undefined;
  };
  const enqueueOwner = (j: Readonly<Job>) => {
    const cj = resolveControllerRef(j.metadata?.namespace, controllerOf(j));
    if (cj) queue.add(keyOf(cj));
  };

  jobs.addEventHandler({
    onAdd: enqueueOwner,
    onUpdate: (old, cur) => {
      if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
      const oldRef = controllerOf(old);
      if (oldRef && JSON.stringify(oldRef) !== JSON.stringify(controllerOf(cur))) enqueueOwner(old);
      enqueueOwner(cur);
    },
    onDelete: enqueueOwner,
  });
  cronJobs.addEventHandler({
    onAdd: (cj) => queue.add(keyOf(cj)),
    onUpdate: (old, cur) => {
      // A new schedule or zone: look again when it is next due (sooner ones the queue keeps).
      if (old.spec?.schedule !== cur.spec?.schedule || old.spec?.timeZone !== cur.spec?.timeZone) {
        let sched: CronSchedule;
        try {
          sched = parseStandard(formatSchedule(cur).spec);
        } catch {
          event(cur, 'Warning', 'UnParseableCronJobSchedule', `unparseable schedule for cronjob: ${cur.spec?.schedule}`);
          return;
        }
        const d = nextScheduleTimeDuration(cur, now(), sched);
        if (d !== undefined) queue.addAfter(keyOf(cur), d);
        return;
      }
      queue.add(keyOf(cur));
    },
    onDelete: (cj) => queue.add(keyOf(cj)),
  });

  /** Deletes a Job (background propagation, as upstream's jobControl) and drops it from status.active. */
  async function deleteJob(cj: CronJobObj, job: Readonly<Job>): Promise<boolean> {
    try {
      await jobClient.delete(job.metadata?.namespace, job.metadata!.name!, { propagationPolicy: 'Background' });
    } catch (err) {
      event(cj, 'Warning', 'FailedDelete', `Deleted job: ${errorText(err)}`);
      log.error({ err: errorText(err), job: job.metadata?.name }, 'deleting job of cronjob');
      return false;
    }
    deleteFromActiveList(cj, job.metadata?.uid);
    event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata?.name}`);
    return true;
  }

  /** Keeps at most the history limits of successful and failed Jobs, deleting the oldest. */
  async function cleanupFinishedJobs(cj: CronJobObj, children: readonly Readonly<JobObj>[]): Promise<boolean> {
    const sl = cj.spec?.successfulJobsHistoryLimit;
    const fl = cj.spec?.failedJobsHistoryLimit;
    if (sl === undefined && fl === undefined) return false;
    let update = false;
    const removeOldest = async (list: Readonly<JobObj>[], max: number) => {
      const n = list.length - max;
      if (n <= 0) return;
      list.sort(byJobStartTime);
      for (const j of list.slice(0, n)) if (await deleteJob(cj, j)) update = true;
    };
    if (sl !== undefined) await removeOldest(children.filter((j) => finishedStatus(j) === 'Complete'), sl);
    if (fl !== undefined) await removeOldest(children.filter((j) => finishedStatus(j) === 'Failed'), fl);
    return update;
  }

  /** One reconcile of a CronJob against its Jobs; returns when to look again (ms) and whether status changed. */
  async function syncCronJob(cj: CronJobObj, children: readonly Readonly<JobObj>[]): Promise<{ requeueAfter?: number; update: boolean }> {
    const t = now();
    let update = false;
    const childUIDs = new Set<string>();
    for (const j of children) {
      childUIDs.add(j.metadata?.uid ?? '');
      const found = inActiveList(cj, j.metadata?.uid);
      if (!found && !isJobFinished(j)) {
        const fresh = await cronJobClient.get(cj.metadata?.namespace, cj.metadata!.name!);
        if (inActiveList(fresh, j.metadata?.uid)) {
          // Our cache was behind: continue from the fresh status.
          Object.assign(cj, { status: fresh.status, metadata: fresh.metadata });
          continue;
        }
        // Created by someone else (kubectl create job --from) or before a crash lost our status write.
        event(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata?.name}`);
      } else if (found && isJobFinished(j)) {
        deleteFromActiveList(cj, j.metadata?.uid);
        event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata?.name}, status: ${finishedStatus(j)}`);
        update = true;
      } else if (finishedStatus(j) === 'Complete') {
        // Finished jobs need not be in the active list for their completion time to count.
        const done = j.status?.completionTime;
        cj.status ??= {};
        if (done && (!cj.status.lastSuccessfulTime || Date.parse(done) > Date.parse(cj.status.lastSuccessfulTime))) {
          cj.status.lastSuccessfulTime = done;
          update = true;
        }
      }
    }
    // Forget active references whose Job is really gone, or the CronJob would stay active forever.
    for (const ref of [...(cj.status?.active ?? [])]) {
      if (childUIDs.has(ref.uid ?? '')) continue;
      try {
        await jobClient.get(ref.namespace, ref.name!);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        event(cj, 'Normal', 'MissingJob', `Active job went missing: ${ref.name}`);
        deleteFromActiveList(cj, ref.uid);
        update = true;
      }
    }
    if (cj.metadata?.deletionTimestamp) return { update };

    if (cj.spec?.timeZone !== undefined && cj.spec.timeZone !== null) {
      try {
        Zone.load(cj.spec.timeZone);
      } catch (err) {
        event(cj, 'Warning', 'UnknownTimeZone', `invalid timeZone: ${JSON.stringify(cj.spec.timeZone)}: ${errorText(err)}`);
        return { update };
      }
    }
    if (cj.spec?.suspend === true) return { update };

    const formatted = formatSchedule(cj);
    if (formatted.unsupportedTZ) {
      event(cj, 'Warning', 'UnsupportedSchedule', `CRON_TZ or TZ used in schedule ${JSON.stringify(cj.spec?.schedule)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`);
    }
    let sched: CronSchedule;
    try {
      sched = parseStandard(formatted.spec);
    } catch (err) {
      event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec?.schedule)} : ${errorText(err)}`);
      return { update };
    }
    let due: { time: number | undefined; tooMany: boolean };
    try {
      due = nextScheduleTime(cj, t, sched);
    } catch (err) {
      event(cj, 'Warning', 'InvalidSchedule', `invalid schedule: ${cj.spec?.schedule} : ${errorText(err)}`);
      return { update };
    }
    if (due.tooMany) event(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
    const requeue = (): { requeueAfter?: number; update: boolean } => {
      const d = nextScheduleTimeDuration(cj, t, sched);
      return d === undefined ? { update } : { requeueAfter: d, update };
    };
    const scheduled = due.time;
    if (scheduled === undefined) return requeue();

    const deadline = cj.spec?.startingDeadlineSeconds;
    if (deadline !== undefined && deadline !== null && scheduled + deadline * 1000 < t) {
      event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc1123z(scheduled)}`);
      return requeue();
    }
    const name = jobName(cj, scheduled);
    const last = cj.status?.lastScheduleTime ? Date.parse(cj.status.lastScheduleTime) : undefined;
    if ((cj.status?.active ?? []).some((r) => r.name === name && r.namespace === cj.metadata?.namespace) || last === scheduled) return requeue();
    if (cj.spec?.concurrencyPolicy === 'Forbid' && (cj.status?.active ?? []).length > 0) {
      // The active list may be stale, so Forbid is best effort, as upstream.
      event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return requeue();
    }
    if (cj.spec?.concurrencyPolicy === 'Replace') {
      for (const ref of [...(cj.status?.active ?? [])]) {
        let job: JobObj;
        try {
          job = await jobClient.get(ref.namespace, ref.name!);
        } catch (err) {
          event(cj, 'Warning', 'FailedGet', `Get job: ${errorText(err)}`);
          throw err;
        }
        if (!(await deleteJob(cj, job))) throw new Error(`could not replace job ${job.metadata?.namespace}/${job.metadata?.name}`);
        update = true;
      }
    }

    const req = jobFromTemplate(cj, scheduled);
    let created: JobObj;
    let alreadyExisted = false;
    try {
      created = await jobClient.create(req as JobObj, { namespace: cj.metadata?.namespace });
    } catch (err) {
      if (/is being terminated|NamespaceTerminating/.test(errorText(err))) throw err;
      if (!isAlreadyExists(err)) {
        event(cj, 'Warning', 'FailedCreate', `Error creating job: ${errorText(err)}`);
        throw err;
      }
      // Ours from an earlier sync whose status write was lost: re-add it; someone else's: leave it.
      alreadyExisted = true;
      created = await jobClient.get(cj.metadata?.namespace, name);
      if (controllerOf(created)?.uid !== cj.metadata?.uid) return { update };
      if (inActiveList(cj, created.metadata?.uid)) return { update };
    }
    if (alreadyExisted) log.info({ cronjob: keyOf(cj), job: name }, 'job already exists');
    else event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata?.name}`);
    cj.status ??= {};
    cj.status.active = [...(cj.status.active ?? []), jobRef(created)];
    cj.status.lastScheduleTime = rfc3339(scheduled);
    update = true;
    return requeue();
  }

  async function sync(key: string): Promise<void> {
    const [ns, name] = splitKey(key);
    const shared = cronJobs.get(ns, name);
    if (!shared) return;
    const children = jobs.list(ns).filter((j) => {
      const ref = controllerOf(j);
      return ref?.kind === 'CronJob' && ref.name === name;
    });
    const cj = structuredClone(shared) as CronJobObj;
    const cleaned = await cleanupFinishedJobs(cj, children);
    let result: { requeueAfter?: number; update: boolean } = { update: false };
    let syncErr: unknown;
    try {
      result = await syncCronJob(cj, children);
    } catch (err) {
      syncErr = err;
      log.info({ cronjob: key, err: errorText(err) }, 'error reconciling cronjob');
    }
    if (cleaned || result.update) {
      try {
        await cronJobClient.updateStatus({ ...cj, apiVersion: 'batch/v1', kind: 'CronJob' });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
    }
    if (result.requeueAfter !== undefined) {
      queue.addAfter(key, result.requeueAfter);
      return;
    }
    if (syncErr) throw syncErr;
  }

  return {
    name: CRONJOB_CONTROLLER,
    run: (signal) =>
      runQueueWorkers({ name: 'cronjob', queue, sync, workers: ctx.options.concurrentCronJobSyncs, synced: [() => cronJobs.hasSynced(), () => jobs.hasSynced()], log }, signal),
  };
}

function inActiveList(cj: Readonly<CronJob>, uid: string | undefined): boolean {
  return (cj.status?.active ?? []).some((r) => r.uid === uid);
}

function deleteFromActiveList(cj: CronJob, uid: string | undefined): void {
  if (!cj.status?.active) return;
  cj.status.active = cj.status.active.filter((r) => r.uid !== uid);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC1123Z in UTC: `Mon, 02 Jan 2006 15:04:05 +0000`. */
export function rfc1123z(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

export { jobName };
