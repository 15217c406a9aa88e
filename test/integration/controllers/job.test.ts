// The Job and TTL-after-finished controllers against a real k8ts server, driven with the real
// kubectl, pods played by the fake kubelet (each pod's outcome chosen per test).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Event, Pod } from 'kubernetes-types/core/v1.js';
import { newJobController } from '../../../src/controllers/job/jobController.js';
import { newTTLAfterFinishedController } from '../../../src/controllers/ttlafterfinished/ttlAfterFinishedController.js';
import { controllerHarness, type Harness } from '../../support/controllerHarness.js';
import { startFakeKubelet, type PodOutcome } from '../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';

/** Per job name, the outcomes of its successive pods (the last one repeats). */
const plans = new Map<string, PodOutcome[]>();
const seen = new Map<string, number>();
function outcome(p: Readonly<Pod>): PodOutcome {
  const job = p.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? '';
  // Indexed plans are per index: `<job>/<index>`.
  const ix = p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'];
  if (ix !== undefined && plans.has(`${job}/${ix}`)) return plans.get(`${job}/${ix}`)![0]!;
  const plan = plans.get(job);
  if (!plan) return 'Succeeded';
  const n = seen.get(job) ?? 0;
  seen.set(job, n + 1);
  return plan[Math.min(n, plan.length - 1)]!;
}

const jobYaml = (name: string, spec: string) => `apiVersion: batch/v1
kind: Job
metadata: {name: ${name}, namespace: default}
spec:
${spec}
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox:1.36, command: [sh, -c, 'true']}]
`;

describe('job-controller and ttl-after-finished-controller with kubectl', { timeout: 60_000 }, () => {
  let s: RunningServer;
  let h: Harness;
  let kubelet: { stop(): Promise<void> };
  const getJob = async (name: string): Promise<Job> => JSON.parse((await s.kubectl(['get', 'job', name, '-o', 'json'])).stdout) as Job;
  const podsOf = async (name: string): Promise<Pod[]> => (JSON.parse((await s.kubectl(['get', 'pods', '-l', `batch.kubernetes.io/job-name=${name}`, '-o', 'json'])).stdout) as { items: Pod[] }).items;
  const eventsOf = async (name: string): Promise<Event[]> =>
    (JSON.parse((await s.kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])).stdout) as { items: Event[] }).items;
  const waitFor = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    kubelet = await startFakeKubelet(h.client, { nodes: ['n1'], outcome });
    h.run(newJobController(h.ctx, { podFailureBackoffMs: 300, syncBatchPeriodMs: 200 }), newTTLAfterFinishedController(h.ctx));
  });
  after(async () => {
    await kubelet?.stop();
    await h?.stop();
    await s?.stop();
  });

  it('completes a Job whose first two pods fail, counting them and dropping every tracking finalizer', async () => {
    plans.set('flaky', ['Failed', 'Failed', 'Succeeded']);
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: jobYaml('flaky', '  backoffLimit: 3') })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=complete', 'job/flaky', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    const job = await getJob('flaky');
    assert.equal(job.status?.succeeded, 1);
    assert.equal(job.status?.failed, 2);
    assert.equal(job.status?.active ?? 0, 0);
    assert.ok(job.status?.startTime && job.status.completionTime);
    assert.deepEqual(
      job.status?.conditions?.map((c) => [c.type, c.status]),
      [
        ['SuccessCriteriaMet', 'True'],
        ['Complete', 'True'],
      ],
    );
    assert.deepEqual(job.status?.uncountedTerminatedPods ?? {}, {});
    const pods = await podsOf('flaky');
    assert.equal(pods.length, 3);
    assert.deepEqual(pods.map((p) => p.metadata?.finalizers ?? []).flat(), []);
    for (const p of pods) {
      assert.equal(p.metadata?.labels?.['batch.kubernetes.io/controller-uid'], job.metadata?.uid);
      assert.equal(p.metadata?.labels?.['job-name'], 'flaky');
      assert.equal(p.metadata?.ownerReferences?.[0]?.kind, 'Job');
    }
    const reasons = (await eventsOf('flaky')).map((e) => e.reason);
    assert.equal(reasons.filter((r) => r === 'SuccessfulCreate').length, 3);
    assert.ok(reasons.includes('Completed'));
  });

  it('fails a Job past its backoffLimit with BackoffLimitExceeded', async () => {
    plans.set('doomed', ['Failed']);
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: jobYaml('doomed', '  backoffLimit: 1') })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=failed', 'job/doomed', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    const job = await getJob('doomed');
    assert.equal(job.status?.failed, 2);
    const failed = job.status?.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'BackoffLimitExceeded');
    assert.equal(failed?.message, 'Job has reached the specified backoff limit');
    assert.equal(job.status?.conditions?.find((c) => c.type === 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(job.status?.completionTime, undefined);
    const ev = (await eventsOf('doomed')).find((e) => e.reason === 'BackoffLimitExceeded');
    assert.equal(ev?.type, 'Warning');
    assert.equal(ev?.message, 'Job has reached the specified backoff limit');
  });

  it('runs an Indexed Job: one pod per index with its annotation, label, hostname and env', async () => {
    plans.delete('indexed');
    const y = jobYaml('indexed', '  completions: 3\n  parallelism: 2\n  completionMode: Indexed');
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: y })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=complete', 'job/indexed', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    const job = await getJob('indexed');
    assert.equal(job.status?.completedIndexes, '0-2');
    assert.equal(job.status?.succeeded, 3);
    const pods = (await podsOf('indexed')).sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    assert.deepEqual(
      pods.map((p) => [p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'], p.metadata?.labels?.['batch.kubernetes.io/job-completion-index'], p.spec?.hostname, p.metadata?.name?.startsWith(`indexed-${p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index']}-`)]),
      [
        ['0', '0', 'indexed-0', true],
        ['1', '1', 'indexed-1', true],
        ['2', '2', 'indexed-2', true],
      ],
    );
    assert.deepEqual(pods[0]!.spec?.containers[0]?.env?.find((e) => e.name === 'JOB_COMPLETION_INDEX')?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['batch.kubernetes.io/job-completion-index']");
  });

  it('with backoffLimitPerIndex, retries a failing index once, then fails only that index', async () => {
    plans.set('perindex/1', ['Failed']);
    const y = jobYaml('perindex', '  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n  backoffLimitPerIndex: 1');
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: y })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=failed', 'job/perindex', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    const job = await getJob('perindex');
    assert.equal(job.status?.completedIndexes, '0,2');
    assert.equal(job.status?.failedIndexes, '1');
    assert.equal(job.status?.failed, 2);
    assert.equal(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'FailedIndexes');
    const index1 = (await podsOf('perindex')).filter((p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === '1');
    assert.deepEqual(index1.map((p) => p.metadata?.annotations?.['batch.kubernetes.io/job-index-failure-count']).sort(), ['0', '1']);
  });

  it('fails a Job past activeDeadlineSeconds, deleting its running pod', async () => {
    plans.set('slow', ['Running']);
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: jobYaml('slow', '  activeDeadlineSeconds: 2') })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=failed', 'job/slow', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    const job = await getJob('slow');
    assert.equal(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'DeadlineExceeded');
    assert.equal(job.status?.failed, 1);
    await waitFor('the pod to go', async () => (await podsOf('slow')).length === 0);
    const reasons = (await eventsOf('slow')).map((e) => e.reason);
    assert.ok(reasons.includes('SuccessfulDelete') && reasons.includes('DeadlineExceeded'), reasons.join());
  });

  it('fails a Job at once when a FailJob podFailurePolicy rule matches the exit code', async () => {
    plans.set('policy', ['Failed']);
    const spec = `  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: main, operator: In, values: [1]}`;
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: jobYaml('policy', spec) })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=failed', 'job/policy', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    const failed = (await getJob('policy')).status?.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'PodFailurePolicy');
    assert.match(failed?.message ?? '', /^Container main for pod default\/policy-\w+ failed with exit code 1 matching FailJob rule at index 0$/);
  });

  it('suspends and resumes a Job', async () => {
    plans.set('paused', ['Running']);
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: jobYaml('paused', '  suspend: true') })).code, 0);
    await waitFor('Suspended condition', async () => (await getJob('paused')).status?.conditions?.some((c) => c.type === 'Suspended' && c.status === 'True') ?? false);
    assert.equal((await podsOf('paused')).length, 0);
    assert.equal((await getJob('paused')).status?.startTime, undefined);
    assert.equal((await s.kubectl(['patch', 'job', 'paused', '--type=merge', '-p', '{"spec":{"suspend":false}}'])).code, 0);
    await waitFor('a ready pod', async () => (await getJob('paused')).status?.ready === 1);
    const job = await getJob('paused');
    assert.equal(job.status?.active, 1);
    assert.equal(job.status?.conditions?.find((c) => c.type === 'Suspended')?.reason, 'JobResumed');
    assert.ok(job.status?.startTime);
  });

  it('deletes a finished Job ttlSecondsAfterFinished later, in the foreground', async () => {
    plans.delete('shortlived');
    assert.equal((await s.kubectl(['apply', '-f', '-'], { input: jobYaml('shortlived', '  ttlSecondsAfterFinished: 1') })).code, 0);
    const w = await s.kubectl(['wait', '--for=condition=complete', 'job/shortlived', '--timeout=30s'], { timeoutMs: 35_000 });
    assert.equal(w.code, 0, w.stderr);
    // Without a garbage collector in this test the foregroundDeletion finalizer keeps the Job visible.
    await waitFor('the Job to be deleted', async () => {
      const r = await s.kubectl(['get', 'job', 'shortlived', '-o', 'json']);
      if (r.code !== 0) return true;
      const j = JSON.parse(r.stdout) as Job;
      return !!j.metadata?.deletionTimestamp && (j.metadata.finalizers ?? []).includes('foregroundDeletion');
    });
  });
});
