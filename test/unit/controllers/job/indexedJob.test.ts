import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import {
  addCompletionIndexEnv,
  completionIndex,
  duplicatedIndexPodsForRemoval,
  firstPendingIndexes,
  formatIndexes,
  parseIndexes,
  podGenerateNameWithIndex,
  setCompletionIndex,
  totalIndexes,
  withIndexes,
} from '../../../../src/controllers/job/indexedJob.js';
import { matchSuccessPolicy } from '../../../../src/controllers/job/successPolicy.js';

describe('completed-index intervals', () => {
  const cases: Array<{ name: string; text: string; completions: number; add?: number[]; want: string; total: number }> = [
    { name: 'empty', text: '', completions: 5, want: '', total: 0 },
    { name: 'pairs stay pairs, runs of three compress', text: '1,2,4-6', completions: 10, want: '1,2,4-6', total: 5 },
    { name: 'adjacent parts merge', text: '1-2,3', completions: 10, want: '1-3', total: 3 },
    { name: 'indexes at or past completions are dropped', text: '1,3-7,9', completions: 5, want: '1,3,4', total: 3 },
    { name: 'corrupt parts are skipped', text: 'x,2,a-b,4', completions: 10, want: '2,4', total: 2 },
    { name: 'new indexes merge in', text: '0,5', completions: 10, add: [1, 2, 7], want: '0-2,5,7', total: 5 },
    { name: 'adding a gap filler joins two runs', text: '0-2,4-6', completions: 10, add: [3], want: '0-6', total: 7 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const iv = withIndexes(parseIndexes(c.text, c.completions), c.add ?? []);
      assert.equal(formatIndexes(iv), c.want);
      assert.equal(totalIndexes(iv), c.total);
    });
  }
});

describe('firstPendingIndexes', () => {
  const cases: Array<{ name: string; nonPending: string; count: number; completions: number; want: number[] }> = [
    { name: 'from zero when nothing is taken', nonPending: '', count: 3, completions: 5, want: [0, 1, 2] },
    { name: 'skips succeeded and active indexes', nonPending: '0,2-4', count: 3, completions: 8, want: [1, 5, 6] },
    { name: 'never beyond completions', nonPending: '1', count: 5, completions: 3, want: [0, 2] },
    { name: 'nothing left', nonPending: '0-3', count: 2, completions: 4, want: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(firstPendingIndexes(parseIndexes(c.nonPending, 100), c.count, c.completions), c.want));
});

describe('pods of an Indexed Job', () => {
  const pod = (name: string, index?: string, phase = 'Running'): Pod => ({ metadata: { name, ...(index !== undefined ? { annotations: { 'batch.kubernetes.io/job-completion-index': index } } : {}) }, status: { phase } });

  it('reads the completion index only when it is a non-negative integer', () => {
    assert.deepEqual(['3', '0', '-1', 'x', '1.5', undefined].map((v) => completionIndex(v === undefined ? undefined : { 'batch.kubernetes.io/job-completion-index': v })), [3, 0, undefined, undefined, undefined, undefined]);
  });

  it('removes pods without an index, out of range, and all but one per repeated index', () => {
    const pods = [pod('a', '0'), pod('b', '1', 'Pending'), pod('c', '1', 'Running'), pod('d'), pod('e', '7'), pod('f', '2')];
    const order = (x: Pod, y: Pod) => (x.status?.phase === y.status?.phase ? 0 : x.status?.phase === 'Pending' ? -1 : 1);
    const { rm, left } = duplicatedIndexPodsForRemoval(pods, 5, order);
    assert.deepEqual(rm.map((p) => p.metadata?.name).sort(), ['b', 'd', 'e']);
    assert.deepEqual(left.map((p) => p.metadata?.name), ['a', 'c', 'f']);
  });

  it('names pods <job>-<index>- within 63 characters', () => {
    assert.equal(podGenerateNameWithIndex('work', 3), 'work-3-');
    const long = 'x'.repeat(60);
    assert.equal(podGenerateNameWithIndex(long, 12), `${'x'.repeat(54)}-12-`);
    assert.equal(podGenerateNameWithIndex(long, 12).length, 58);
  });

  it('sets the index annotation, label, hostname and env', () => {
    const t: PodTemplateSpec = { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c' }, { name: 'd', env: [{ name: 'JOB_COMPLETION_INDEX', value: 'mine' }] }], initContainers: [{ name: 'i' }] } };
    addCompletionIndexEnv(t);
    setCompletionIndex(t, 'work', 4);
    assert.deepEqual(t.metadata, { labels: { app: 'a', 'batch.kubernetes.io/job-completion-index': '4' }, annotations: { 'batch.kubernetes.io/job-completion-index': '4' } });
    assert.equal(t.spec?.hostname, 'work-4');
    assert.deepEqual(t.spec?.containers[0]?.env, [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']" } } }]);
    assert.deepEqual(t.spec?.containers[1]?.env, [{ name: 'JOB_COMPLETION_INDEX', value: 'mine' }]);
    assert.equal(t.spec?.initContainers?.[0]?.env?.length, 1);
  });
});

describe('successPolicy', () => {
  const cases: Array<{ name: string; rules: Array<{ succeededIndexes?: string; succeededCount?: number }>; succeeded: string; want: string | undefined }> = [
    { name: 'no succeeded index matches nothing', rules: [{ succeededCount: 0 }], succeeded: '', want: undefined },
    { name: 'a count of any indexes', rules: [{ succeededCount: 2 }], succeeded: '1,5', want: 'Matched rules at index 0' },
    { name: 'all of the listed indexes', rules: [{ succeededIndexes: '0-2' }], succeeded: '0-3', want: 'Matched rules at index 0' },
    { name: 'not all of the listed indexes', rules: [{ succeededIndexes: '0-2' }], succeeded: '0,2', want: undefined },
    { name: 'a count within the listed indexes, second rule', rules: [{ succeededIndexes: '8-9' }, { succeededIndexes: '0-4', succeededCount: 2 }], succeeded: '1,3,8', want: 'Matched rules at index 1' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(matchSuccessPolicy({ rules: c.rules }, 10, parseIndexes(c.succeeded, 10)), c.want));
});
