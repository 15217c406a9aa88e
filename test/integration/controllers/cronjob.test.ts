// The CronJob controller (with the Job controller) against a real k8ts server and the real kubectl.
// Its clock is shifted so that the next minute boundary is seconds away, and moved a minute ahead
// (plus a touch of the CronJob) for the following run, so `*/1 * * * *` runs without waiting minutes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CronJob, Job } from 'kubernetes-types/batch/v1.js';
import type { Event, Pod } from 'kubernetes-types/core/v1.js';
import { newCronJobController } from '../../../src/controllers/cronjob/cronJobController.js';
import { newJobController } from '../../../src/controllers/job/jobController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';

const cronJobYaml = (name: string, spec: string, podCommand = 'true') => `apiVersion: batch/v1
kind: CronJob
metadata: {name: ${name}, namespace: default}
spec:
${spec}
  jobTemplate:
    metadata: {labels: {cron: ${name}}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: busybox:1.36, command: [sh, -c, '${podCommand}']}]
`;

describe('cronjob-controller with kubectl', { timeout: 60_000 }, () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  let offset = 0;
  const now = () => Date.now() + offset;
  const get = async <T>(kind: string, name: string): Promise<T> => JSON.parse((await s.kubectl(['get', kind, name, '-o', 'json'])).stdout) as T;
  const jobsOf = async (cron: string): Promise<Job[]> => (JSON.parse((await s.kubectl(['get', 'jobs', '-l', `cron=${cron}`, '-o', 'json'])).stdout) as { items: Job[] }).items;
  const eventsOf = async (name: string): Promise<Event[]> =>
    (JSON.parse((await s.kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name},involvedObject.kind=CronJob`, '-o', 'json'])).stdout) as { items: Event[] }).items;
  const waitFor = async <T>(what: string, check: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** Shifts the controller's clock to 2.5 s before the next minute boundary. */
  const nearNextMinute = () => {
    const t = now();
    offset += 60_000 - (t % 60_000) - 2500;
  };
  const touch = (name: string) => s.kubectl(['annotate', 'cronjob', name, `touched=${Date.now()}`, '--overwrite']);

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    // Pods of cronjob "forever" keep running; all others succeed.
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'], outcome: (p) => (p.metadata?.labels?.['batch.kubernetes.io/job-name']?.startsWith('forever-') ? 'Running' : 'Succeeded') });
    h.run(newJobController(h.ctx, { syncBatchPeriodMs: 200 }), newCronJobController(h.ctx, { now }));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('runs */1 * * * * every minute, named after the minute, and keeps one successful Job', async () => {
    // The CronJob must be created in the minute the shifted clock is in.
    if (Date.now() % 60_000 > 55_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 200));
    offset = 0;
    nearNextMinute();
    const spec = "  schedule: '*/1 * * * *'\n  timeZone: Asia/Tokyo\n  successfulJobsHistoryLimit: 1";
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: cronJobYaml('every', spec) })).code, 0);
    const first = await waitFor('the first Job', async () => (await jobsOf('every'))[0]);
    const minute = Math.floor(now() / 60_000);
    assert.equal(first.metadata?.name, `every-${minute}`);
    assert.equal(first.metadata?.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], new Date(minute * 60_000 + 9 * 3_600_000).toISOString().replace(/\.000Z$/, '+09:00'));
    assert.equal(first.metadata?.ownerReferences?.[0]?.kind, 'CronJob');
    const w = await s.kubectl(['wait', '--for=condition=complete', `job/${first.metadata?.name}`, '--timeout=20s'], { timeoutMs: 25_000 });
    assert.equal(w.code, 0, w.stderr);
    const cj = await waitFor('lastSuccessfulTime', async () => {
      const c = await get<CronJob>('cronjob', 'every');
      return c.status?.lastSuccessfulTime && (c.status.active ?? []).length === 0 ? c : undefined;
    });
    assert.equal(cj.status?.lastScheduleTime, new Date(minute * 60_000).toISOString().replace(/\.000Z$/, 'Z'));

    // A minute later (for the controller) the next run replaces the first in the history.
    offset += 60_000;
    await touch('every');
    const second = await waitFor('the second Job', async () => (await jobsOf('every')).find((j) => j.metadata?.name === `every-${minute + 1}`));
    assert.ok(second);
    await waitFor('the first Job to be deleted', async () => (await jobsOf('every')).every((j) => j.metadata?.name !== first.metadata?.name));
    const reasons = (await eventsOf('every')).map((e) => `${e.reason}: ${e.message}`);
    for (const want of [`SuccessfulCreate: Created job every-${minute}`, `SuccessfulCreate: Created job every-${minute + 1}`, `SawCompletedJob: Saw completed job: every-${minute}, status: Complete`, `SuccessfulDelete: Deleted job every-${minute}`]) {
      assert.ok(reasons.includes(want), `missing ${want} in ${reasons.join(' | ')}`);
    }
  });

  it('kubectl create job --from=cronjob runs the template now; the controller reports it as unexpected', async () => {
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: cronJobYaml('manual', "  schedule: '0 0 1 1 *'") })).code, 0);
    const r = await s.kubectl(['create', 'job', '--from=cronjob/manual', 'manual-now']);
    assert.equal(r.code, 0, r.stderr);
    const w = await s.kubectl(['wait', '--for=condition=complete', 'job/manual-now', '--timeout=20s'], { timeoutMs: 25_000 });
    assert.equal(w.code, 0, w.stderr);
    const job = await get<Job>('job', 'manual-now');
    assert.equal(job.metadata?.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
    assert.equal(job.metadata?.ownerReferences?.[0]?.name, 'manual');
    await waitFor('lastSuccessfulTime', async () => (await get<CronJob>('cronjob', 'manual')).status?.lastSuccessfulTime);
    const ev = await waitFor('UnexpectedJob', async () => (await eventsOf('manual')).find((e) => e.reason === 'UnexpectedJob'));
    assert.equal(ev.message, 'Saw a job that the controller did not create or forgot: manual-now');
  });

  it('Replace deletes the running Job at the next schedule; Forbid skips the run', async () => {
    nearNextMinute();
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: cronJobYaml('forever', "  schedule: '* * * * *'\n  concurrencyPolicy: Replace") })).code, 0);
    const first = await waitFor('the first Job', async () => (await jobsOf('forever'))[0]);
    await waitFor('it to be active', async () => ((await get<CronJob>('cronjob', 'forever')).status?.active ?? []).length === 1);
    offset += 60_000;
    await touch('forever');
    await waitFor('a second Job in place of the first', async () => {
      const cj = await get<CronJob>('cronjob', 'forever');
      const active = cj.status?.active ?? [];
      return active.length === 1 && active[0]!.name !== first.metadata?.name;
    });
    assert.ok((await eventsOf('forever')).some((e) => e.reason === 'SuccessfulDelete' && e.message === `Deleted job ${first.metadata?.name}`));

    assert.equal((await s.kubectl(['patch', 'cronjob', 'forever', '--type=merge', '-p', '{"spec":{"concurrencyPolicy":"Forbid"}}'])).code, 0);
    offset += 60_000;
    await touch('forever');
    await waitFor('JobAlreadyActive', async () => (await eventsOf('forever')).find((e) => e.reason === 'JobAlreadyActive'));
    assert.equal(((await get<CronJob>('cronjob', 'forever')).status?.active ?? []).length, 1);
  });

  it('reports a schedule that never fires, or does not parse, once and does not retry', async () => {
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: cronJobYaml('feb31', "  schedule: '59 23 31 2 *'") })).code, 0);
    const ev = await waitFor('InvalidSchedule', async () => (await eventsOf('feb31')).find((e) => e.reason === 'InvalidSchedule'));
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, 'invalid schedule: 59 23 31 2 * : time difference between two schedules is less than 1 second');
    // A schedule that does not parse is refused by the API server's validation, as upstream's.
    const bad = await s.kubectl(['apply', '-f', '-'], { input: cronJobYaml('garbage', "  schedule: 'every day'") });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.schedule: Invalid value: "every day": expected exactly 5 fields, found 2: \[every day\]/);
    await new Promise((r) => setTimeout(r, 2000));
    const again = (await eventsOf('feb31')).find((e) => e.reason === 'InvalidSchedule');
    assert.equal(again?.count ?? 1, 1);
    assert.equal((await jobsOf('feb31')).length, 0);
  });

  it('starts nothing while suspended', async () => {
    nearNextMinute();
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: cronJobYaml('asleep', "  schedule: '* * * * *'\n  suspend: true") })).code, 0);
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal((await jobsOf('asleep')).length, 0);
    const pods = (JSON.parse((await s.kubectl(['get', 'pods', '-l', 'cron=asleep', '-o', 'json'])).stdout) as { items: Pod[] }).items;
    assert.equal(pods.length, 0);
  });
});
