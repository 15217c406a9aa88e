// Pure scheduling of the CronJob controller (upstream pkg/controller/cronjob/utils.go): which
// scheduled time is due, how many were missed, when to look again, and the Job a run creates.

import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import { controllerRef } from '../controllerRef.js';
import { isJobFinished } from '../job/jobUtil.js';
import type { CronSchedule } from '../../api/cronSchedule.js';
import { Zone } from '../../api/cronSchedule.js';

export const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Requeue padding against clock skew (upstream nextScheduleDelta). */
export const NEXT_SCHEDULE_DELTA_MS = 100;
/** More missed start times than this are reported as TooManyMissedTimes. */
export const TOO_MANY_MISSED = 100;

export type MissedSchedules = 'none' | 'few' | 'many';

export class InvalidScheduleError extends Error {
  override readonly name = 'InvalidScheduleError';
}

export interface MostRecent {
  /** The last schedule time, or the CronJob's creation (or the starting deadline, when later). */
  earliest: number;
  /** The most recent due time at or before now, if any. */
  mostRecent: number | undefined;
  missed: MissedSchedules;
}

const ts = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
};

/**
 * Upstream mostRecentScheduleTime. Throws InvalidScheduleError when the schedule is well-formed
 * but never (or nonsensically often) fires, e.g. `59 23 31 2 *`.
 */
export function mostRecentScheduleTime(cj: Readonly<CronJob>, now: number, schedule: CronSchedule, includeStartingDeadline: boolean): MostRecent {
  let earliest = ts(cj.status?.lastScheduleTime) ?? ts(cj.metadata?.creationTimestamp) ?? 0;
  const deadline = cj.spec?.startingDeadlineSeconds;
  if (includeStartingDeadline && deadline !== undefined && deadline !== null) {
    // Nothing before the starting deadline can still be started.
    const schedulingDeadline = now - deadline * 1000;
    if (schedulingDeadline > earliest) earliest = schedulingDeadline;
  }
  const t1 = schedule.next(earliest);
  if (t1 !== undefined && now < t1) return { earliest, mostRecent: undefined, missed: 'none' };
  const t2 = t1 === undefined ? undefined : schedule.next(t1);
  if (t1 !== undefined && t2 !== undefined && now < t2) return { earliest, mostRecent: t1, missed: 'none' };
  const between = t1 === undefined || t2 === undefined ? 0 : Math.round((t2 - t1) / 1000);
  if (between < 1) throw new InvalidScheduleError('time difference between two schedules is less than 1 second');
  // A rough count of the missed times: how many intervals fit between the first one and now.
  const elapsed = Math.trunc((now - t1!) / 1000);
  const missedCount = Math.trunc(elapsed / between) + 1;
  // Start a little before the estimated latest time and let the schedule find the real ones.
  let mostRecent: number | undefined;
  const potentialEarliest = t1! + (missedCount - 2) * between * 1000;
  for (let t = schedule.next(potentialEarliest); t !== undefined && t <= now; t = schedule.next(t)) mostRecent = t;
  const missed: MissedSchedules = missedCount > TOO_MANY_MISSED ? 'many' : missedCount > 0 ? 'few' : 'none';
  return { earliest, mostRecent, missed };
}

/** The next due time to act on now, if any (upstream nextScheduleTime); `tooMany` asks for the TooManyMissedTimes warning. */
export function nextScheduleTime(cj: Readonly<CronJob>, now: number, schedule: CronSchedule): { time: number | undefined; tooMany: boolean } {
  const r = mostRecentScheduleTime(cj, now, schedule, true);
  if (r.mostRecent === undefined || r.mostRecent > now) return { time: undefined, tooMany: false };
  return { time: r.mostRecent, tooMany: r.missed === 'many' };
}

/** How long until the next schedule (plus 100 ms); undefined when the schedule never fires again. */
export function nextScheduleTimeDuration(cj: Readonly<CronJob>, now: number, schedule: CronSchedule): number | undefined {
  let from: number;
  try {
    const r = mostRecentScheduleTime(cj, now, schedule, false);
    from = r.mostRecent ?? (r.missed === 'none' ? r.earliest : now);
  } catch {
    // Still aim for the next slot from now.
    from = now;
  }
  const next = schedule.next(from);
  return next === undefined ? undefined : next + NEXT_SCHEDULE_DELTA_MS - now;
}

/** `<cronjob>-<scheduled time in minutes since the epoch>`: one name per run, a lock against doubles. */
export function jobName(cj: Readonly<CronJob>, scheduled: number): string {
  return `${cj.metadata?.name}-${Math.trunc(Math.trunc(scheduled / 1000) / 60)}`;
}

/** The Job a run creates (upstream getJobFromTemplate2). Throws UnknownTimeZoneError for a bad spec.timeZone. */
export function jobFromTemplate(cj: Readonly<CronJob>, scheduled: number): Job {
  const tmpl = cj.spec?.jobTemplate;
  const zone = Zone.load(cj.spec?.timeZone ?? '');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(cj, scheduled),
      namespace: cj.metadata?.namespace,
      labels: { ...(tmpl?.metadata?.labels ?? {}) },
      annotations: { ...(tmpl?.metadata?.annotations ?? {}), [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: zone.formatRFC3339(scheduled) },
      ownerReferences: [controllerRef({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: cj.metadata ?? {} })],
    },
    spec: structuredClone(tmpl?.spec ?? { template: {} }) as Job['spec'],
  };
}

/**
 * The schedule to parse: with spec.timeZone as a TZ= prefix (when the zone loads); a schedule that
 * already names TZ is used as is and reported as unsupported.
 */
export function formatSchedule(cj: Readonly<CronJob>): { spec: string; unsupportedTZ: boolean } {
  const schedule = cj.spec?.schedule ?? '';
  if (schedule.includes('TZ')) return { spec: schedule, unsupportedTZ: true };
  const tz = cj.spec?.timeZone;
  if (tz !== undefined && tz !== null) {
    try {
      Zone.load(tz);
    } catch {
      return { spec: schedule, unsupportedTZ: false };
    }
    return { spec: `TZ=${tz} ${schedule}`, unsupportedTZ: false };
  }
  return { spec: schedule, unsupportedTZ: false };
}

/** Complete or Failed, whichever is True. */
export function finishedStatus(job: Readonly<Job>): 'Complete' | 'Failed' | undefined {
  for (const c of job.status?.conditions ?? []) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

export { isJobFinished };

/** Oldest first by status.startTime (none last), names breaking ties (upstream byJobStartTime). */
export function byJobStartTime(a: Readonly<Job>, b: Readonly<Job>): number {
  const sa = ts(a.status?.startTime);
  const sb = ts(b.status?.startTime);
  if (sa === undefined && sb !== undefined) return 1;
  if (sa !== undefined && sb === undefined) return -1;
  if (sa === sb) return (a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : (a.metadata?.name ?? '') > (b.metadata?.name ?? '') ? 1 : 0;
  return sa! - sb!;
}
