// batch/v1 printers. Jobs: NAME STATUS COMPLETIONS DURATION AGE; cronjobs: NAME SCHEDULE TIMEZONE SUSPEND
// ACTIVE LAST SCHEDULE AGE (both wide: CONTAINERS IMAGES SELECTOR).
import type { CronJob, Job, JobCondition } from 'kubernetes-types/batch/v1.js';
import { boolPtr, containerCells, formatLabelSelector } from '../format.js';
import { ageSince, humanDuration, parseTime } from '../humanDuration.js';
import { AGE_COLUMN, column, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, printer, SELECTOR_COLUMN } from '../printer.js';

function hasCondition(conditions: readonly JobCondition[] | undefined, type: string): boolean {
  // The first condition of the type decides.
  return (conditions ?? []).find((c) => c.type === type)?.status === 'True';
}

/** Complete, Failed, Terminating, Suspended, FailureTarget or Running, in that order of precedence. */
export function jobStatus(job: Readonly<Job>): string {
  const conditions = job.status?.conditions;
  if (hasCondition(conditions, 'Complete')) return 'Complete';
  if (hasCondition(conditions, 'Failed')) return 'Failed';
  if (job.metadata?.deletionTimestamp) return 'Terminating';
  if (hasCondition(conditions, 'Suspended')) return 'Suspended';
  if (hasCondition(conditions, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

/** `succeeded/completions`; without completions `succeeded/1`, or `succeeded/1 of parallelism` when parallel. */
export function jobCompletions(job: Readonly<Job>): string {
  const succeeded = job.status?.succeeded ?? 0;
  const completions = job.spec?.completions;
  if (completions !== undefined && completions !== null) return `${succeeded}/${completions}`;
  const parallelism = job.spec?.parallelism ?? 0;
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** Start to completion, or start to now while running; '' before the job started. */
export function jobDuration(job: Readonly<Job>, now: Date): string {
  const start = parseTime(job.status?.startTime);
  if (start === undefined) return '';
  const end = parseTime(job.status?.completionTime);
  return humanDuration((end ?? now.getTime()) - start);
}

export const jobPrinter = printer<Job>(
  [
    NAME_COLUMN,
    column('Status', 'string', 'Where the job stands: Running, Complete, Failed, Suspended, FailureTarget or Terminating.'),
    column('Completions', 'string', 'Succeeded pods of the completions wanted.'),
    column('Duration', 'string', 'How long the job ran, or has been running.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
  ],
  (job, ctx) => {
    const [names, images] = containerCells(job.spec?.template?.spec?.containers);
    return [
      job.metadata?.name ?? '',
      jobStatus(job),
      jobCompletions(job),
      jobDuration(job, ctx.now),
      ageSince(job.metadata?.creationTimestamp, ctx.now),
      names,
      images,
      formatLabelSelector(job.spec?.selector),
    ];
  },
);

export const cronJobPrinter = printer<CronJob>(
  [
    NAME_COLUMN,
    column('Schedule', 'string', 'The cron schedule of the job.'),
    column('Timezone', 'string', 'The time zone the schedule is read in.'),
    column('Suspend', 'boolean', 'Whether new runs are held back.'),
    column('Active', 'integer', 'How many of its jobs are running.'),
    column('Last Schedule', 'string', 'How long ago a job was last scheduled.'),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
  ],
  (cj, ctx) => {
    const template = cj.spec?.jobTemplate?.spec;
    const [names, images] = containerCells(template?.template?.spec?.containers);
    const last = cj.status?.lastScheduleTime;
    return [
      cj.metadata?.name ?? '',
      cj.spec?.schedule ?? '',
      cj.spec?.timeZone ?? '<none>',
      boolPtr(cj.spec?.suspend ?? false), // defaulted to false
      (cj.status?.active ?? []).length,
      last === undefined || last === null ? '<none>' : ageSince(last, ctx.now),
      ageSince(cj.metadata?.creationTimestamp, ctx.now),
      names,
      images,
      formatLabelSelector(template?.selector),
    ];
  },
);
