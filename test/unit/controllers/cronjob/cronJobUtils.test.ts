import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import { byJobStartTime, formatSchedule, InvalidScheduleError, jobFromTemplate, jobName, mostRecentScheduleTime, nextScheduleTime, nextScheduleTimeDuration } from '../../../../src/controllers/cronjob/cronJobUtils.js';
import { rfc1123z } from '../../../../src/controllers/cronjob/cronJobController.js';
import { parseStandard, Zone } from '../../../../src/api/cronSchedule.js';

const T = (s: string) => Date.parse(s);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.000Z$/, 'Z'));

function cronJob(o: { created?: string; last?: string; deadline?: number; schedule?: string; timeZone?: string } = {}): CronJob {
  return {
    metadata: { name: 'cj', namespace: 'ns', uid: 'u-1', creationTimestamp: o.created ?? '2024-01-01T10:00:30Z' },
    spec: {
      schedule: o.schedule ?? '*/1 * * * *',
      ...(o.timeZone ? { timeZone: o.timeZone } : {}),
      ...(o.deadline !== undefined ? { startingDeadlineSeconds: o.deadline } : {}),
      jobTemplate: { metadata: { labels: { app: 'x' }, annotations: { note: 'y' } }, spec: { template: { spec: { containers: [] } } } },
    },
    status: o.last ? { lastScheduleTime: o.last } : {},
  };
}
const everyMinute = parseStandard('*/1 * * * *', Zone.UTC);

describe('mostRecentScheduleTime / nextScheduleTime', () => {
  const cases: Array<{ name: string; cj: CronJob; now: string; want: { mostRecent?: string; missed: string; earliest: string }; includeDeadline?: boolean }> = [
    { name: 'before the first slot after creation nothing is due', cj: cronJob(), now: '2024-01-01T10:00:50Z', want: { missed: 'none', earliest: '2024-01-01T10:00:30Z' } },
    { name: 'the first slot after creation is due', cj: cronJob(), now: '2024-01-01T10:01:10Z', want: { mostRecent: '2024-01-01T10:01:00Z', missed: 'none', earliest: '2024-01-01T10:00:30Z' } },
    { name: 'after a few missed slots the latest is due', cj: cronJob({ last: '2024-01-01T10:01:00Z' }), now: '2024-01-01T10:05:10Z', want: { mostRecent: '2024-01-01T10:05:00Z', missed: 'few', earliest: '2024-01-01T10:01:00Z' } },
    { name: 'more than 100 missed slots are many', cj: cronJob({ last: '2024-01-01T10:00:00Z' }), now: '2024-01-01T12:00:10Z', want: { mostRecent: '2024-01-01T12:00:00Z', missed: 'many', earliest: '2024-01-01T10:00:00Z' } },
    {
      name: 'a starting deadline moves the earliest time forward',
      cj: cronJob({ last: '2024-01-01T10:00:00Z', deadline: 200 }),
      now: '2024-01-01T12:00:10Z',
      includeDeadline: true,
      want: { mostRecent: '2024-01-01T12:00:00Z', missed: 'few', earliest: '2024-01-01T11:56:50Z' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = mostRecentScheduleTime(c.cj, T(c.now), everyMinute, c.includeDeadline ?? false);
      assert.deepEqual({ mostRecent: iso(r.mostRecent), missed: r.missed, earliest: iso(r.earliest) }, { mostRecent: c.want.mostRecent, missed: c.want.missed, earliest: c.want.earliest });
    });
  }

  it('a schedule that never fires is an InvalidScheduleError', () => {
    assert.throws(() => mostRecentScheduleTime(cronJob({ schedule: '59 23 31 2 *' }), T('2024-06-01T00:00:00Z'), parseStandard('59 23 31 2 *', Zone.UTC), true), InvalidScheduleError);
  });

  it('asks for the TooManyMissedTimes warning only past 100 misses', () => {
    assert.deepEqual(nextScheduleTime(cronJob({ last: '2024-01-01T10:00:00Z' }), T('2024-01-01T12:00:10Z'), everyMinute), { time: T('2024-01-01T12:00:00Z'), tooMany: true });
    assert.deepEqual(nextScheduleTime(cronJob({ last: '2024-01-01T11:00:00Z' }), T('2024-01-01T12:00:10Z'), everyMinute), { time: T('2024-01-01T12:00:00Z'), tooMany: false });
    assert.deepEqual(nextScheduleTime(cronJob(), T('2024-01-01T10:00:40Z'), everyMinute), { time: undefined, tooMany: false });
  });
});

describe('nextScheduleTimeDuration', () => {
  const cases: Array<{ name: string; cj: CronJob; now: string; schedule?: string; want: number | undefined }> = [
    { name: 'the next slot plus 100 ms', cj: cronJob(), now: '2024-01-01T10:00:40Z', want: 20_100 },
    { name: 'after a missed slot, the slot after now', cj: cronJob({ last: '2024-01-01T10:01:00Z' }), now: '2024-01-01T10:05:10Z', want: 50_100 },
    { name: 'hourly from the last schedule', cj: cronJob({ last: '2024-01-01T10:00:00Z' }), now: '2024-01-01T10:20:00Z', schedule: '0 * * * *', want: 40 * 60_000 + 100 },
    { name: 'never for a schedule that never fires', cj: cronJob(), now: '2024-01-01T10:20:00Z', schedule: '59 23 31 2 *', want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(nextScheduleTimeDuration(c.cj, T(c.now), c.schedule ? parseStandard(c.schedule, Zone.UTC) : everyMinute), c.want));
  }
});

describe('the Job of a run', () => {
  it('is named after the scheduled minute since the epoch', () => {
    assert.equal(jobName(cronJob(), T('2024-01-01T10:01:00Z')), `cj-${T('2024-01-01T10:01:00Z') / 60_000}`);
    assert.equal(jobName(cronJob(), T('2024-01-01T10:01:00Z')), 'cj-28401721');
  });
  it('copies the template, owns the Job and records the scheduled time in the CronJob zone', () => {
    const j = jobFromTemplate(cronJob({ timeZone: 'Asia/Tokyo' }), T('2024-01-01T10:01:00Z'));
    assert.deepEqual(j.metadata?.labels, { app: 'x' });
    assert.deepEqual(j.metadata?.annotations, { note: 'y', 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2024-01-01T19:01:00+09:00' });
    assert.deepEqual(j.metadata?.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'cj', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
    assert.equal(jobFromTemplate(cronJob(), T('2024-01-01T10:01:00Z')).metadata?.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2024-01-01T10:01:00Z');
  });
  it('formats MissSchedule times as Go RFC1123Z', () => assert.equal(rfc1123z(T('2024-01-01T10:01:00Z')), 'Mon, 01 Jan 2024 10:01:00 +0000'));
});

describe('formatSchedule', () => {
  const cases: Array<{ name: string; schedule: string; timeZone?: string; want: { spec: string; unsupportedTZ: boolean } }> = [
    { name: 'plain', schedule: '0 * * * *', want: { spec: '0 * * * *', unsupportedTZ: false } },
    { name: 'spec.timeZone becomes a TZ= prefix', schedule: '0 * * * *', timeZone: 'Europe/Paris', want: { spec: 'TZ=Europe/Paris 0 * * * *', unsupportedTZ: false } },
    { name: 'an unknown spec.timeZone is left out', schedule: '0 * * * *', timeZone: 'Bad/Zone', want: { spec: '0 * * * *', unsupportedTZ: false } },
    { name: 'TZ in the schedule is used as is and flagged', schedule: 'CRON_TZ=UTC 0 * * * *', timeZone: 'Europe/Paris', want: { spec: 'CRON_TZ=UTC 0 * * * *', unsupportedTZ: true } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(formatSchedule(cronJob({ schedule: c.schedule, ...(c.timeZone ? { timeZone: c.timeZone } : {}) })), c.want));
});

describe('byJobStartTime', () => {
  it('orders by start time, unstarted last, names breaking ties', () => {
    const j = (name: string, startTime?: string): Job => ({ metadata: { name }, status: startTime ? { startTime } : {} });
    const sorted = [j('d'), j('c', '2024-01-01T10:02:00Z'), j('b', '2024-01-01T10:01:00Z'), j('a', '2024-01-01T10:02:00Z')].sort(byJobStartTime);
    assert.deepEqual(sorted.map((x) => x.metadata?.name), ['b', 'a', 'c', 'd']);
  });
});
