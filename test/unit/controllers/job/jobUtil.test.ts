import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import {
  activePodsForRemoval,
  ensureJobConditionStatus,
  generatedTemplateLabels,
  isJobFinished,
  isPodFailed,
  jobSelector,
  managedByExternalController,
  pastBackoffLimitOnFailure,
  wantActivePods,
} from '../../../../src/controllers/job/jobUtil.js';

const NOW = Date.parse('2024-01-01T00:00:00Z');
const job = (spec: Partial<NonNullable<Job['spec']>> = {}, status: Job['status'] = {}): Job => ({ metadata: { name: 'j', namespace: 'ns', uid: 'u1' }, spec: { template: {}, ...spec }, status });

describe('wantActivePods', () => {
  const cases: Array<{ name: string; spec: Partial<NonNullable<Job['spec']>>; active: number; succeeded: number; want: number }> = [
    { name: 'completions bound by parallelism', spec: { completions: 5, parallelism: 2 }, active: 0, succeeded: 0, want: 2 },
    { name: 'only the remaining completions', spec: { completions: 5, parallelism: 4 }, active: 1, succeeded: 3, want: 2 },
    { name: 'never negative', spec: { completions: 2, parallelism: 2 }, active: 1, succeeded: 3, want: 0 },
    { name: 'work queue (no completions): parallelism until a success', spec: { parallelism: 3 }, active: 1, succeeded: 0, want: 3 },
    { name: 'work queue after a success: leave what runs', spec: { parallelism: 3 }, active: 2, succeeded: 1, want: 2 },
  ];
  for (const c of cases) it(c.name, () => assert.equal(wantActivePods(job(c.spec), c.active, c.succeeded), c.want));
});

describe('ensureJobConditionStatus', () => {
  it('appends a True condition, never a new False one', () => {
    const a = ensureJobConditionStatus([], 'Suspended', 'True', 'JobSuspended', 'Job suspended', NOW);
    assert.equal(a.changed, true);
    assert.deepEqual(a.conditions, [{ type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended', lastProbeTime: '2024-01-01T00:00:00Z', lastTransitionTime: '2024-01-01T00:00:00Z' }]);
    assert.deepEqual(ensureJobConditionStatus([], 'Suspended', 'False', 'JobResumed', 'Job resumed', NOW), { conditions: [], changed: false });
  });
  it('updates on a status, reason or message change only', () => {
    const start = ensureJobConditionStatus([], 'Suspended', 'True', 'JobSuspended', 'Job suspended', NOW).conditions;
    assert.equal(ensureJobConditionStatus(start, 'Suspended', 'True', 'JobSuspended', 'Job suspended', NOW + 5000).changed, false);
    const r = ensureJobConditionStatus(start, 'Suspended', 'False', 'JobResumed', 'Job resumed', NOW + 5000);
    assert.equal(r.changed, true);
    assert.equal(r.conditions[0]?.lastTransitionTime, '2024-01-01T00:00:05Z');
  });
  it('omits empty reasons and messages', () => {
    assert.deepEqual(Object.keys(ensureJobConditionStatus([], 'SuccessCriteriaMet', 'True', '', '', NOW).conditions[0]!), ['type', 'status', 'lastProbeTime', 'lastTransitionTime']);
  });
});

describe('which pods count as failed', () => {
  const pod = (phase: string, deleting = false): Pod => ({ metadata: deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}, status: { phase } });
  const cases: Array<{ name: string; pod: Pod; spec?: Partial<NonNullable<Job['spec']>>; want: boolean }> = [
    { name: 'a Failed pod', pod: pod('Failed'), want: true },
    { name: 'a running pod', pod: pod('Running'), want: false },
    { name: 'a running pod being deleted (TerminatingOrFailed)', pod: pod('Running', true), want: true },
    { name: 'a succeeded pod being deleted', pod: pod('Succeeded', true), want: false },
    { name: 'a terminating pod with podReplacementPolicy Failed', pod: pod('Running', true), spec: { podReplacementPolicy: 'Failed' }, want: false },
    { name: 'a terminating pod with a podFailurePolicy', pod: pod('Running', true), spec: { podFailurePolicy: { rules: [] } }, want: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(isPodFailed(c.pod, job(c.spec)), c.want));
});

describe('job helpers', () => {
  it('is finished when Complete or Failed is True', () => {
    assert.equal(isJobFinished(job({}, { conditions: [{ type: 'SuccessCriteriaMet', status: 'True' }] })), false);
    assert.equal(isJobFinished(job({}, { conditions: [{ type: 'Complete', status: 'True' }] })), true);
    assert.equal(isJobFinished(job({}, { conditions: [{ type: 'Failed', status: 'False' }] })), false);
  });
  it('counts container restarts against backoffLimit for restartPolicy OnFailure', () => {
    const running = (restarts: number): Pod => ({ status: { phase: 'Running', containerStatuses: [{ name: 'c', image: 'i', imageID: '', ready: true, restartCount: restarts }] } });
    const onFailure = (limit: number) => job({ backoffLimit: limit, template: { spec: { restartPolicy: 'OnFailure', containers: [] } } });
    assert.equal(pastBackoffLimitOnFailure(onFailure(3), [running(1), running(1)]), false);
    assert.equal(pastBackoffLimitOnFailure(onFailure(3), [running(2), running(1)]), true);
    assert.equal(pastBackoffLimitOnFailure(onFailure(0), [running(1)]), true);
    assert.equal(pastBackoffLimitOnFailure(job({ backoffLimit: 0 }), [running(5)]), false);
  });
  it('leaves Jobs managed by another controller alone', () => {
    assert.equal(managedByExternalController(job({ managedBy: 'kueue.x-k8s.io/multikueue' })), 'kueue.x-k8s.io/multikueue');
    assert.equal(managedByExternalController(job({ managedBy: 'kubernetes.io/job-controller' })), undefined);
    assert.equal(managedByExternalController(job()), undefined);
  });
  it('uses the generated controller-uid selector and labels when the Job has no selector', () => {
    assert.deepEqual(jobSelector(job()), [{ key: 'batch.kubernetes.io/controller-uid', op: 'Equals', values: ['u1'] }]);
    assert.deepEqual(generatedTemplateLabels(job()), { 'batch.kubernetes.io/controller-uid': 'u1', 'batch.kubernetes.io/job-name': 'j', 'controller-uid': 'u1', 'job-name': 'j' });
    assert.deepEqual(generatedTemplateLabels(job({ selector: { matchLabels: { a: 'b' } } })), {});
    assert.deepEqual(jobSelector(job({ manualSelector: true })), []);
  });
  it('removes earliest-stage pods first, and repeated indexes of Indexed Jobs whatever the count', () => {
    const p = (name: string, phase: string, node?: string, index?: string): Pod => ({ metadata: { name, ...(index ? { annotations: { 'batch.kubernetes.io/job-completion-index': index } } : {}) }, spec: { containers: [], ...(node ? { nodeName: node } : {}) }, status: { phase } });
    assert.deepEqual(activePodsForRemoval(job(), [p('run', 'Running', 'n'), p('unsched', 'Pending'), p('pend', 'Pending', 'n')], 2).map((x) => x.metadata?.name), ['unsched', 'pend']);
    const indexed = job({ completionMode: 'Indexed', completions: 3 });
    assert.deepEqual(activePodsForRemoval(indexed, [p('a', 'Running', 'n', '0'), p('b', 'Pending', 'n', '0'), p('c', 'Running', 'n', '1')], 0).map((x) => x.metadata?.name), ['b']);
  });
});
