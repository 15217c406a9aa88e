import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { countHealthyPods, disruptedPodMap, expectedPodCount, failSafeStatus, pdbStatus, scaledValue } from '../../../../src/controllers/disruption/pdbStatus.js';

const pdb = (spec: PodDisruptionBudget['spec'], status?: PodDisruptionBudget['status']): PodDisruptionBudget => ({ metadata: { name: 'b', namespace: 'default', generation: 2 }, spec, ...(status ? { status } : {}) });
const pod = (name: string, ready = true, deleting = false): Pod => ({
  metadata: { name, ...(deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

describe('PodDisruptionBudget math', () => {
  const cases: Array<{ name: string; spec: PodDisruptionBudget['spec']; pods: number; scale: number; want: [expected: number, desired: number] }> = [
    { name: 'minAvailable int: expected is the pod count', spec: { minAvailable: 2 }, pods: 3, scale: 5, want: [3, 2] },
    { name: 'minAvailable percent rounds up over the controllers’ scale', spec: { minAvailable: '50%' }, pods: 3, scale: 5, want: [5, 3] },
    { name: 'maxUnavailable int', spec: { maxUnavailable: 1 }, pods: 3, scale: 3, want: [3, 2] },
    { name: 'maxUnavailable percent rounds up (more may be unavailable)', spec: { maxUnavailable: '30%' }, pods: 3, scale: 5, want: [5, 3] },
    { name: 'maxUnavailable larger than the scale gives 0 desired', spec: { maxUnavailable: 10 }, pods: 3, scale: 3, want: [3, 0] },
    { name: 'neither set: nothing expected', spec: {}, pods: 3, scale: 3, want: [0, 0] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = expectedPodCount(pdb(c.spec), c.pods, () => c.scale);
      assert.deepEqual([r.expectedCount, r.desiredHealthy], c.want);
    });
  }

  it('rejects percentages that are not', () => {
    assert.throws(() => scaledValue('50', 10, true), /not a percentage/);
    assert.equal(scaledValue('33%', 10, false), 3);
  });

  it('counts ready pods, not those being deleted or evicted in the last two minutes', () => {
    const now = Date.parse('2024-01-01T00:10:00Z');
    const pods = [pod('a'), pod('b', false), pod('c', true, true), pod('d'), pod('e')];
    const budget = pdb({ minAvailable: 1 }, { currentHealthy: 0, desiredHealthy: 0, expectedPods: 0, disruptionsAllowed: 0, disruptedPods: { d: '2024-01-01T00:09:00Z', e: '2024-01-01T00:07:00Z' } });
    const { disrupted, recheckAt, overdue } = disruptedPodMap(budget, pods, now);
    assert.deepEqual(disrupted, { d: '2024-01-01T00:09:00Z' });
    assert.equal(recheckAt, Date.parse('2024-01-01T00:11:00Z'));
    assert.deepEqual(overdue.map((p) => p.metadata?.name), ['e']);
    assert.equal(countHealthyPods(pods, disrupted, now), 2);
  });

  it('status: disruptionsAllowed = healthy − desired, never negative, 0 without expected pods; conditions as upstream', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    const ok = pdbStatus(pdb({ maxUnavailable: 1 }), 3, 2, 3, {}, now)!;
    assert.deepEqual([ok.disruptionsAllowed, ok.observedGeneration], [1, 2]);
    assert.deepEqual(ok.conditions!.map((c) => [c.type, c.status, c.reason, c.observedGeneration]), [['DisruptionAllowed', 'True', 'SufficientPods', 2]]);
    const none = pdbStatus(pdb({ minAvailable: 2 }), 1, 2, 2, {}, now)!;
    assert.deepEqual([none.disruptionsAllowed, none.conditions![0]!.reason], [0, 'InsufficientPods']);
    assert.equal(pdbStatus(pdb({ minAvailable: 0 }), 3, 0, 0, {}, now)!.disruptionsAllowed, 0);
    assert.equal(pdbStatus(pdb({ maxUnavailable: 1 }, ok), 3, 2, 3, {}, now + 1000), undefined, 'an up-to-date status is not rewritten');
    const failed = failSafeStatus(pdb({ maxUnavailable: 1 }, ok), 'found no controllers for pod "x"', now);
    assert.deepEqual([failed.disruptionsAllowed, failed.conditions![0]!.status, failed.conditions![0]!.reason, failed.conditions![0]!.message], [0, 'False', 'SyncFailed', 'found no controllers for pod "x"']);
  });
});
