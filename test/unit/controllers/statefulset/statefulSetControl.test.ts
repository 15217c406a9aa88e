// Table tests of the StatefulSet update loop against a recording fake of the pod writes: ordered
// and parallel creation, reverse-order scale down, rolling updates with partition/maxUnavailable,
// OnDelete, finished pods; plus the ordinal, identity and claim-ownership helpers.
import assert from 'node:assert/strict';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { describe, it } from 'node:test';
import { updateStatefulSet, type StatefulPodOps } from '../../../../src/controllers/statefulset/statefulSetControl.js';
import {
  claimOwnerRefsFor,
  completeRollingUpdate,
  isClaimOwnerUpToDate,
  newStatefulSetRevision,
  newVersionedStatefulSetPod,
  parentNameAndOrdinal,
  type PVC,
} from '../../../../src/controllers/statefulset/statefulSetUtil.js';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

interface SetOpts {
  replicas?: number;
  image?: string;
  parallel?: boolean;
  partition?: number;
  maxUnavailable?: number;
  onDelete?: boolean;
  claims?: boolean;
  retention?: { whenDeleted: string; whenScaled: string };
}

function statefulSet(o: SetOpts = {}): StatefulSet {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'set-uid', generation: 1 },
    spec: {
      replicas: o.replicas ?? 3,
      serviceName: 'web',
      selector: { matchLabels: { app: 'web' } },
      ...(o.parallel ? { podManagementPolicy: 'Parallel' } : { podManagementPolicy: 'OrderedReady' }),
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: o.image ?? 'v1' }] } },
      updateStrategy: o.onDelete ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { partition: o.partition ?? 0, ...(o.maxUnavailable ? { maxUnavailable: o.maxUnavailable } : {}) } },
      ...(o.claims ? { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }] } : {}),
      ...(o.retention ? { persistentVolumeClaimRetentionPolicy: o.retention } : {}),
    },
  };
}

const rev1 = newStatefulSetRevision(statefulSet({ image: 'v1' }), 1, 0);
const rev2 = newStatefulSetRevision(statefulSet({ image: 'v2' }), 2, 0);

type PodState = 'ready' | 'pending' | 'notready' | 'failed' | 'succeeded' | 'terminating';

function member(ordinal: number, state: PodState = 'ready', revision = rev1.metadata!.name!): Pod {
  const set = statefulSet();
  const p = newVersionedStatefulSetPod(set, set, revision, revision, ordinal);
  const phase = { ready: 'Running', notready: 'Running', pending: 'Pending', failed: 'Failed', succeeded: 'Succeeded', terminating: 'Running' }[state];
  const ready = state === 'ready' || state === 'terminating';
  return {
    ...p,
    metadata: { ...p.metadata, uid: `uid-${ordinal}`, creationTimestamp: iso(T0), ...(state === 'terminating' ? { deletionTimestamp: iso(T0) } : {}) },
    status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: iso(T0 - 60_000) }] },
  };
}

function fakeOps(): StatefulPodOps & { actions: string[] } {
  const actions: string[] = [];
  return {
    actions,
    createStatefulPod: async (_s, p) => void actions.push(`create ${p.metadata?.name}`),
    updateStatefulPod: async (_s, p) => void actions.push(`update ${p.metadata?.name}`),
    deleteStatefulPod: async (_s, p) => void actions.push(`delete ${p.metadata?.name}`),
    podClaimIsStale: () => false,
    claimsMatchRetentionPolicy: () => true,
    updatePodClaimForRetentionPolicy: async (_s, p) => void actions.push(`claims ${p.metadata?.name}`),
    createMissingPersistentVolumeClaims: async (_s, p) => void actions.push(`missing-claims ${p.metadata?.name}`),
  };
}

describe('updateStatefulSet', () => {
  const cases: Array<{ name: string; set: SetOpts; pods: Pod[]; update?: typeof rev1; want: string[] }> = [
    { name: 'OrderedReady with no pods creates only ordinal 0', set: {}, pods: [], want: ['create web-0'] },
    { name: 'OrderedReady creates the next ordinal once its predecessor is Running and Ready', set: {}, pods: [member(0)], want: ['create web-1'] },
    { name: 'OrderedReady waits while a predecessor is not ready', set: {}, pods: [member(0, 'notready')], want: [] },
    { name: 'OrderedReady waits while a predecessor is Pending (and makes sure its claims exist)', set: {}, pods: [member(0, 'pending')], want: ['missing-claims web-0'] },
    { name: 'OrderedReady fills a gap at a low ordinal first', set: {}, pods: [member(1), member(2)], want: ['create web-0'] },
    { name: 'Parallel creates every missing pod at once', set: { parallel: true }, pods: [], want: ['create web-0', 'create web-1', 'create web-2'] },
    { name: 'Parallel does not wait for unready pods', set: { parallel: true }, pods: [member(0, 'pending')], want: ['missing-claims web-0', 'create web-1', 'create web-2'] },
    { name: 'scale down deletes the highest ordinal first, one at a time', set: { replicas: 1 }, pods: [member(0), member(1), member(2)], want: ['delete web-2'] },
    { name: 'scale down waits for a terminating pod', set: { replicas: 1 }, pods: [member(0), member(1), member(2, 'terminating')], want: [] },
    { name: 'scale down waits while a remaining replica is unhealthy', set: { replicas: 1 }, pods: [member(0, 'notready'), member(1), member(2)], want: [] },
    { name: 'Parallel scale down deletes every condemned pod at once', set: { replicas: 1, parallel: true }, pods: [member(0), member(1), member(2)], want: ['delete web-2', 'delete web-1'] },
    { name: 'a failed pod is deleted, to be recreated after it is gone', set: {}, pods: [member(0, 'failed'), member(1), member(2)], want: ['delete web-0'] },
    { name: 'a succeeded pod is deleted too', set: {}, pods: [member(0), member(1, 'succeeded'), member(2)], want: ['delete web-1'] },
    { name: 'a rolling update deletes the highest ordinal not at the update revision', set: { image: 'v2' }, update: rev2, pods: [member(0), member(1), member(2)], want: ['delete web-2'] },
    {
      name: 'a rolling update waits for the updated pod to become available',
      set: { image: 'v2' },
      update: rev2,
      pods: [member(0), member(1), member(2, 'notready', rev2.metadata!.name!)],
      want: [],
    },
    {
      name: 'a rolling update continues downwards once the updated pod is ready',
      set: { image: 'v2' },
      update: rev2,
      pods: [member(0), member(1), member(2, 'ready', rev2.metadata!.name!)],
      want: ['delete web-1'],
    },
    {
      name: 'a partition keeps ordinals below it at the current revision',
      set: { image: 'v2', partition: 2 },
      update: rev2,
      pods: [member(0), member(1), member(2, 'ready', rev2.metadata!.name!)],
      want: [],
    },
    { name: 'maxUnavailable 2 updates two pods at once', set: { image: 'v2', maxUnavailable: 2 }, update: rev2, pods: [member(0), member(1), member(2)], want: ['delete web-2', 'delete web-1'] },
    { name: 'OnDelete never deletes outdated pods', set: { image: 'v2', onDelete: true }, update: rev2, pods: [member(0), member(1), member(2)], want: [] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ops = fakeOps();
      const set = statefulSet(c.set);
      const r = await updateStatefulSet({ set, currentRevision: rev1, updateRevision: c.update ?? rev1, collisionCount: 0, pods: c.pods, ops, now: () => T0 });
      assert.equal(r.error, undefined);
      assert.deepEqual(ops.actions, c.want);
    });
  }

  it('new pods below the partition are created at the current revision, the rest at the update revision', async () => {
    const set = statefulSet({ image: 'v2', partition: 1, parallel: true });
    const created: Pod[] = [];
    const ops = { ...fakeOps(), createStatefulPod: async (_s: unknown, p: Pod) => void created.push(p) };
    await updateStatefulSet({ set, currentRevision: rev1, updateRevision: rev2, collisionCount: 0, pods: [], ops, now: () => T0 });
    assert.deepEqual(
      created.map((p) => [p.metadata?.name, p.metadata?.labels?.['controller-revision-hash'], p.spec?.containers[0]?.image]),
      [
        ['web-0', rev1.metadata!.name, 'v1'],
        ['web-1', rev2.metadata!.name, 'v2'],
        ['web-2', rev2.metadata!.name, 'v2'],
      ],
    );
  });

  it('reports the counts and revisions in the status', async () => {
    const r = await updateStatefulSet({ set: statefulSet(), currentRevision: rev1, updateRevision: rev1, collisionCount: 0, pods: [member(0), member(1), member(2, 'notready')], ops: fakeOps(), now: () => T0 });
    assert.deepEqual(r.status, {
      replicas: 3,
      readyReplicas: 2,
      availableReplicas: 2,
      currentReplicas: 3,
      updatedReplicas: 3,
      observedGeneration: 1,
      currentRevision: rev1.metadata!.name,
      updateRevision: rev1.metadata!.name,
      collisionCount: 0,
    });
  });
});

describe('statefulset pods', () => {
  it('get ordinal names, hostname, subdomain, identity labels, the revision label and their claims', () => {
    const set = statefulSet({ claims: true });
    const p = newVersionedStatefulSetPod(set, set, 'web-a', 'web-b', 4);
    assert.equal(p.metadata?.name, 'web-4');
    assert.equal(p.metadata?.generateName, 'web-');
    assert.equal(p.spec?.hostname, 'web-4');
    assert.equal(p.spec?.subdomain, 'web');
    assert.deepEqual(p.metadata?.labels, { app: 'web', 'statefulset.kubernetes.io/pod-name': 'web-4', 'apps.kubernetes.io/pod-index': '4', 'controller-revision-hash': 'web-b' });
    assert.deepEqual(p.spec?.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-web-4' } }]);
    assert.deepEqual(p.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'set-uid', controller: true, blockOwnerDeletion: true }]);
  });
  for (const [name, parent, ordinal] of [
    ['web-0', 'web', 0],
    ['my-web-12', 'my-web', 12],
    ['web', '', -1],
    ['web-x', '', -1],
  ] as const) {
    it(`${name} has parent "${parent}" and ordinal ${ordinal}`, () => assert.deepEqual(parentNameAndOrdinal({ metadata: { name } }), { parent, ordinal }));
  }
  it('a revision is named <set>-<hash>, labelled with the hash, and changes with the template', () => {
    assert.match(rev1.metadata!.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(rev1.metadata!.name, `web-${rev1.metadata!.labels!['controller.kubernetes.io/hash']}`);
    assert.notEqual(rev1.metadata!.name, rev2.metadata!.name);
    assert.equal(newStatefulSetRevision(statefulSet({ image: 'v1' }), 7, 0).metadata!.name, rev1.metadata!.name);
  });
});

describe('claim ownership for persistentVolumeClaimRetentionPolicy', () => {
  const claim: PVC = { metadata: { name: 'data-web-2', namespace: 'default' } };
  const pod2 = { ...member(2), metadata: { ...member(2).metadata, uid: 'pod-uid' } };
  const cases: Array<{ name: string; set: SetOpts; want: string[] }> = [
    { name: 'Retain/Retain: no owner', set: { replicas: 3 }, want: [] },
    { name: 'WhenDeleted=Delete: owned by the set', set: { replicas: 3, retention: { whenDeleted: 'Delete', whenScaled: 'Retain' } }, want: ['StatefulSet/web'] },
    { name: 'WhenScaled=Delete, pod in range: no owner', set: { replicas: 3, retention: { whenDeleted: 'Retain', whenScaled: 'Delete' } }, want: [] },
    { name: 'WhenScaled=Delete, pod scaled down: owned by the pod', set: { replicas: 2, retention: { whenDeleted: 'Retain', whenScaled: 'Delete' } }, want: ['Pod/web-2'] },
    { name: 'Delete/Delete, pod scaled down: owned by the pod only', set: { replicas: 2, retention: { whenDeleted: 'Delete', whenScaled: 'Delete' } }, want: ['Pod/web-2'] },
    { name: 'Delete/Delete, pod in range: owned by the set', set: { replicas: 3, retention: { whenDeleted: 'Delete', whenScaled: 'Delete' } }, want: ['StatefulSet/web'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const set = statefulSet(c.set);
      const refs = claimOwnerRefsFor(claim, set, pod2);
      assert.deepEqual(
        refs.map((r) => `${r.kind}/${r.name}`),
        c.want,
      );
      const updated = { ...claim, metadata: { ...claim.metadata, ownerReferences: refs } };
      assert.equal(isClaimOwnerUpToDate(updated, set, pod2), true);
      assert.equal(isClaimOwnerUpToDate(claim, set, pod2), c.want.length === 0);
    });
  }
});

describe('completeRollingUpdate', () => {
  it('makes the update revision current once every replica is updated and ready', () => {
    const s = { replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentReplicas: 1, currentRevision: 'a', updateRevision: 'b' };
    completeRollingUpdate(statefulSet(), s);
    assert.equal(s.currentRevision, 'b');
    assert.equal(s.currentReplicas, 3);
  });
});
