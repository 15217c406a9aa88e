import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deployment, DeploymentStatus, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import {
  maxScaledDown,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  planRollingScaleDown,
  planScale,
  planUnhealthyCleanup,
  replicaSetsToCleanUp,
  resolveFenceposts,
  rolloutStatus,
  setNewReplicaSetAnnotations,
} from '../../../../src/controllers/deployment/rolloutPlanning.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');

function deployment(replicas: number, o: { surge?: number | string; unavailable?: number | string; recreate?: boolean; status?: DeploymentStatus; deadline?: number; history?: number; annotations?: Record<string, string> } = {}): Deployment {
  return {
    metadata: { name: 'web', generation: 1, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
      strategy: o.recreate ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.surge ?? '25%', maxUnavailable: o.unavailable ?? '25%' } },
      ...(o.deadline !== undefined ? { progressDeadlineSeconds: o.deadline } : {}),
      ...(o.history !== undefined ? { revisionHistoryLimit: o.history } : {}),
    },
    ...(o.status ? { status: o.status } : {}),
  };
}

let seq = 0;
function rs(name: string, replicas: number, o: { available?: number; statusReplicas?: number; max?: number; desired?: number; revision?: number; createdSec?: number } = {}): ReplicaSet {
  const annotations: Record<string, string> = {};
  if (o.max !== undefined) annotations['deployment.kubernetes.io/max-replicas'] = String(o.max);
  if (o.desired !== undefined) annotations['deployment.kubernetes.io/desired-replicas'] = String(o.desired);
  if (o.revision !== undefined) annotations['deployment.kubernetes.io/revision'] = String(o.revision);
  return {
    metadata: { name, uid: `uid-${name}-${seq++}`, creationTimestamp: new Date(T0 + (o.createdSec ?? 0) * 1000).toISOString(), annotations, generation: 1 },
    spec: { replicas, selector: { matchLabels: { app: 'web' } } },
    status: { replicas: o.statusReplicas ?? replicas, availableReplicas: o.available ?? replicas, readyReplicas: o.available ?? replicas, observedGeneration: 1 },
  };
}

const sizes = (steps: Array<{ rs: ReplicaSet; replicas: number }>) => Object.fromEntries(steps.map((s) => [s.rs.metadata!.name!, s.replicas]));

describe('fenceposts', () => {
  const cases: Array<[string, number | string, number | string, number, [number, number]]> = [
    ['25%/25% of 10: surge rounds up, unavailable down', '25%', '25%', 10, [3, 2]],
    ['25%/25% of 3', '25%', '25%', 3, [1, 0]],
    ['both zero: unavailable becomes 1', 0, 0, 5, [0, 1]],
    ['0% surge, 0% unavailable of 3 round to zero: unavailable becomes 1', '0%', '10%', 3, [0, 1]],
    ['absolute numbers stay', 2, 1, 10, [2, 1]],
    ['50% of 1 surges 1 and allows 0 unavailable', '50%', '50%', 1, [1, 0]],
  ];
  for (const [name, surge, unavailable, desired, want] of cases) {
    it(name, () => assert.deepEqual(resolveFenceposts(surge, unavailable, desired), want));
  }
  it('caps maxUnavailable at the replicas and gives Recreate no surge or unavailability', () => {
    assert.equal(maxUnavailable(deployment(3, { unavailable: 5 })), 3);
    assert.equal(maxUnavailable(deployment(0)), 0);
    assert.deepEqual([maxSurge(deployment(4, { recreate: true })), maxUnavailable(deployment(4, { recreate: true }))], [0, 0]);
  });
});

describe('new ReplicaSet size (NewRSNewReplicas)', () => {
  const cases: Array<{ name: string; d: Deployment; olds: number[]; newSize: number; want: number }> = [
    { name: 'a fresh rollout surges by maxSurge next to full old ones', d: deployment(10), olds: [10], newSize: 0, want: 3 },
    { name: 'no room left above replicas + surge keeps the size', d: deployment(10), olds: [8], newSize: 5, want: 5 },
    { name: 'never beyond spec.replicas', d: deployment(4, { surge: 10 }), olds: [1], newSize: 2, want: 4 },
    { name: 'maxSurge 0 waits for old ones to go', d: deployment(3, { surge: 0, unavailable: 1 }), olds: [3], newSize: 0, want: 0 },
    { name: 'Recreate takes the full size at once', d: deployment(5, { recreate: true }), olds: [0], newSize: 0, want: 5 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const n = rs('new', c.newSize);
      const all = [...c.olds.map((r, i) => rs(`old${i}`, r)), n];
      assert.equal(newRSNewReplicas(c.d, all, n), c.want);
    });
  }
});

describe('scaling a deployment (sync.go scale)', () => {
  it('scales up proportionally mid-rollout: 3:1 sized for 4 becomes 5:2 at 6 replicas', () => {
    const d = deployment(6, { surge: 1, unavailable: 0 });
    const old = rs('old', 3, { max: 4, desired: 3, createdSec: 0 });
    const nw = rs('new', 1, { max: 4, desired: 3, available: 0, createdSec: 10 });
    const plan = planScale(d, nw, [old]);
    assert.deepEqual(sizes(plan.steps), { old: 5, new: 2 });
    assert.deepEqual([plan.proportional, plan.operation], [true, 'up']);
  });

  it('scales down proportionally: 5:2 sized for 7 becomes 3:1 at 3 replicas', () => {
    const d = deployment(3, { surge: 1, unavailable: 0 });
    const plan = planScale(d, rs('new', 2, { max: 7, available: 0, createdSec: 10 }), [rs('old', 5, { max: 7 })]);
    assert.deepEqual(sizes(plan.steps), { old: 3, new: 1 });
    assert.equal(plan.operation, 'down');
  });

  it('gives rounding leftovers to the largest ReplicaSet', () => {
    // 10 → 11 (+ surge 3 = 14 from 13): fractions round to 0 each; the leftover 1 goes to the largest.
    const d = deployment(11, { surge: 3, unavailable: 0 });
    const plan = planScale(d, rs('new', 3, { max: 13, createdSec: 20 }), [rs('a', 6, { max: 13 }), rs('b', 4, { max: 13, createdSec: 5 })]);
    assert.deepEqual(sizes(plan.steps), { a: 7, b: 4, new: 3 });
  });

  it('scales the only active ReplicaSet to the full size', () => {
    const plan = planScale(deployment(5), rs('new', 3), [rs('old', 0)]);
    assert.deepEqual(sizes(plan.steps), { new: 5 });
    assert.equal(plan.proportional, false);
  });

  it('scales old ones to zero once the new ReplicaSet is saturated', () => {
    const plan = planScale(deployment(3), rs('new', 3, { desired: 3, available: 3 }), [rs('old', 1, { createdSec: -5 })]);
    assert.deepEqual(sizes(plan.steps), { old: 0 });
  });

  it('only refreshes annotations when nothing needs to move', () => {
    const d = deployment(4, { surge: 1, unavailable: 0 });
    const plan = planScale(d, rs('new', 2, { max: 4, createdSec: 9 }), [rs('old', 3, { max: 4 })]);
    assert.deepEqual(sizes(plan.steps), { old: 3, new: 2 });
    assert.deepEqual([plan.proportional, plan.operation], [true, '']);
  });
});

describe('rolling scale-down (reconcileOldReplicaSets)', () => {
  it('bounds the scale-down by minAvailable and the new ReplicaSet’s unavailable pods', () => {
    const d = deployment(10, { surge: 3, unavailable: 2 });
    const nw = rs('new', 3, { available: 1 });
    const old = rs('old', 10);
    // 13 total − (10 − 2) − 2 unavailable new = 3
    assert.equal(maxScaledDown(d, [old, nw], nw), 3);
  });

  it('scales unhealthy old replicas away first, oldest ReplicaSet first', () => {
    const steps = planUnhealthyCleanup([rs('b', 4, { available: 1, createdSec: 5 }), rs('a', 3, { available: 2 })], 3);
    assert.deepEqual(steps.map((s) => [s.rs.metadata?.name, s.replicas]), [
      ['a', 2],
      ['b', 2],
    ]);
  });

  it('keeps available pods at or above replicas − maxUnavailable', () => {
    const d = deployment(3, { surge: 1, unavailable: 0 });
    const nw = rs('new', 1, { available: 1, createdSec: 9 });
    const old = rs('old', 3);
    assert.deepEqual(sizes(planRollingScaleDown(d, [old, nw], [old])), { old: 2 });
    assert.deepEqual(planRollingScaleDown(d, [old, rs('new', 1, { available: 0 })], [old]), []);
  });
});

describe('annotations and history', () => {
  it('copies the deployment’s annotations but not the controller’s or kubectl’s last-applied', () => {
    const d = deployment(2, { annotations: { 'kubernetes.io/change-cause': 'v2', 'deployment.kubernetes.io/revision': '9', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } });
    const a: Record<string, string> = {};
    assert.equal(setNewReplicaSetAnnotations(d, a, 3, false), true);
    assert.deepEqual(a, { 'kubernetes.io/change-cause': 'v2', 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/desired-replicas': '2', 'deployment.kubernetes.io/max-replicas': '3' });
  });

  it('remembers earlier revisions of a ReplicaSet that comes back (rollout undo)', () => {
    const a: Record<string, string> = { 'deployment.kubernetes.io/revision': '1' };
    setNewReplicaSetAnnotations(deployment(2), a, 3, true);
    assert.equal(a['deployment.kubernetes.io/revision-history'], '1');
    setNewReplicaSetAnnotations(deployment(2), a, 5, true);
    assert.deepEqual([a['deployment.kubernetes.io/revision'], a['deployment.kubernetes.io/revision-history']], ['5', '1,3']);
    assert.equal(setNewReplicaSetAnnotations(deployment(2), a, 4, true), false, 'a lower revision changes nothing');
  });

  it('cleans up the oldest empty revisions beyond revisionHistoryLimit only', () => {
    const d = deployment(1, { history: 1 });
    const olds = [rs('r3', 0, { revision: 3 }), rs('r1', 0, { revision: 1 }), rs('r2', 1, { revision: 2 })];
    assert.deepEqual(replicaSetsToCleanUp(d, olds).map((r) => r.metadata?.name), ['r1']);
    assert.deepEqual(replicaSetsToCleanUp(deployment(1), olds), [], 'no limit: keep all');
  });
});

describe('rollout status and conditions (syncRolloutStatus)', () => {
  const progressing = (s: DeploymentStatus) => s.conditions?.find((c) => c.type === 'Progressing');
  const available = (s: DeploymentStatus) => s.conditions?.find((c) => c.type === 'Available');

  it('reports a complete rollout as NewReplicaSetAvailable with minimum availability', () => {
    const d = deployment(3, { deadline: 600, status: { observedGeneration: 1, conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', lastUpdateTime: '2025-01-01T00:00:00Z', lastTransitionTime: '2025-01-01T00:00:00Z' }] } });
    const nw = rs('web-abc', 3);
    const s = rolloutStatus([nw], nw, d, T0 + 5000);
    assert.deepEqual([s.replicas, s.updatedReplicas, s.readyReplicas, s.availableReplicas, s.unavailableReplicas], [3, 3, 3, 3, 0]);
    assert.deepEqual([progressing(s)?.status, progressing(s)?.reason, progressing(s)?.message], ['True', 'NewReplicaSetAvailable', 'ReplicaSet "web-abc" has successfully progressed.']);
    assert.equal(progressing(s)?.lastTransitionTime, '2025-01-01T00:00:00Z', 'status unchanged: transition time kept');
    assert.deepEqual([available(s)?.status, available(s)?.reason, available(s)?.message], ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']);
  });

  it('reports progress as ReplicaSetUpdated and too little availability as MinimumReplicasUnavailable', () => {
    const d = deployment(4, { surge: 1, unavailable: 0, deadline: 600, status: { replicas: 4, updatedReplicas: 0, availableReplicas: 4, conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', lastUpdateTime: '2025-01-01T00:00:00Z', lastTransitionTime: '2025-01-01T00:00:00Z' }] } });
    const nw = rs('web-new', 1, { available: 0, createdSec: 9 });
    const old = rs('web-old', 3);
    const s = rolloutStatus([old, nw], nw, d, T0 + 5000);
    assert.deepEqual([progressing(s)?.reason, progressing(s)?.message], ['ReplicaSetUpdated', 'ReplicaSet "web-new" is progressing.']);
    assert.deepEqual([available(s)?.status, available(s)?.reason, s.unavailableReplicas], ['False', 'MinimumReplicasUnavailable', 1]);
  });

  it('reports ProgressDeadlineExceeded once the Progressing condition is older than the deadline', () => {
    const status: DeploymentStatus = { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1, conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', lastUpdateTime: '2025-01-01T00:00:00Z', lastTransitionTime: '2025-01-01T00:00:00Z' }] };
    const d = deployment(3, { surge: 1, unavailable: 0, deadline: 10, status });
    const nw = rs('web-new', 1, { available: 0, createdSec: 9 });
    const old = rs('web-old', 3);
    assert.equal(progressing(rolloutStatus([old, nw], nw, d, T0 + 9000))?.reason, 'ReplicaSetUpdated', 'not yet');
    const s = rolloutStatus([old, nw], nw, d, T0 + 11_000);
    assert.deepEqual([progressing(s)?.status, progressing(s)?.reason, progressing(s)?.message], ['False', 'ProgressDeadlineExceeded', 'ReplicaSet "web-new" has timed out progressing.']);
  });

  it('drops the Progressing condition without a deadline and carries a ReplicaSet’s ReplicaFailure', () => {
    const d = deployment(2, { status: { conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] } });
    const nw = rs('web-new', 2, { available: 0, statusReplicas: 0 });
    nw.status!.conditions = [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'quota', lastTransitionTime: '2025-01-01T00:00:00Z' }];
    const s = rolloutStatus([nw], nw, d, T0);
    assert.equal(progressing(s), undefined);
    const f = s.conditions?.find((c) => c.type === 'ReplicaFailure');
    assert.deepEqual([f?.reason, f?.message, f?.lastUpdateTime], ['FailedCreate', 'quota', '2025-01-01T00:00:00Z']);
  });
});
