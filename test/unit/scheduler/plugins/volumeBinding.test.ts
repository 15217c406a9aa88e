import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { CycleState } from '../../../../src/scheduler/framework/cycleState.js';
import { Code, ConfigError, isPlugin, type Plugin } from '../../../../src/scheduler/framework/types.js';
import {
  ErrReasonBindConflict,
  ErrReasonNodeConflict,
  ErrReasonPVNotExist,
  ErrReasonUnboundImmediateClaims,
  InMemoryVolumeBinder,
  VolumeBinding,
  pvHostnameNodeNames,
  volumeBindingWith,
} from '../../../../src/scheduler/plugins/volumeBinding.js';
import { fakeHandle, makeClaim, makeNode, makeStorageClass, makeVolume, nodeInfos, pod } from './spreadBuilders.js';

const S = Code.Success;
const UU = Code.UnschedulableAndUnresolvable;
const HOST = 'kubernetes.io/hostname';

const nodes = [makeNode('node-1', { [HOST]: 'node-1', 'topology.kubernetes.io/zone': 'z1' }), makeNode('node-2', { [HOST]: 'node-2', 'topology.kubernetes.io/zone': 'z2' })];
const classes: StorageClass[] = [
  makeStorageClass('wait', 'WaitForFirstConsumer', 'kubernetes.io/no-provisioner'),
  makeStorageClass('wait-dynamic', 'WaitForFirstConsumer', 'example.com/csi'),
  makeStorageClass('wait-dynamic-z1', 'WaitForFirstConsumer', 'example.com/csi', ['z1']),
  makeStorageClass('immediate', 'Immediate'),
  makeStorageClass('unset-mode', undefined),
];

interface Cluster {
  pvcs: PersistentVolumeClaim[];
  pvs?: PersistentVolume[];
}

function setup(c: Cluster, binder = new InMemoryVolumeBinder()): { pl: Plugin; binder: InMemoryVolumeBinder; infos: ReturnType<typeof nodeInfos> } {
  const infos = nodeInfos(nodes);
  const pl = volumeBindingWith(binder).create(undefined, fakeHandle({ infos, pvcs: c.pvcs, pvs: c.pvs ?? [], storageClasses: classes }));
  return { pl, binder, infos };
}

/** PreFilter then Filter on every node: the PreFilter status if it rejected, else per-node statuses. */
function filterAll(p: Pod, c: Cluster): { pre?: { code: Code; reasons: readonly string[] }; nodeNames?: string[]; nodes: Record<string, { code: Code; reasons: readonly string[] }> } {
  const { pl, infos } = setup(c);
  assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
  const state = new CycleState();
  const pre = pl.preFilter(state, p, infos);
  const out: Record<string, { code: Code; reasons: readonly string[] }> = {};
  const nodeNames = pre.result?.nodeNames ? [...pre.result.nodeNames].sort() : undefined;
  if (pre.status && pre.status.code !== S) return { pre: { code: pre.status.code, reasons: pre.status.reasons }, nodes: out, ...(nodeNames ? { nodeNames } : {}) };
  for (const ni of infos) {
    const s = pl.filter(state, p, ni);
    out[ni.name] = { code: s?.code ?? S, reasons: s?.reasons ?? [] };
  }
  return { nodes: out, ...(nodeNames ? { nodeNames } : {}) };
}

const withClaim = (...names: string[]) => names.reduce((b, n) => b.claim(n), pod('p')).build();

describe('VolumeBinding PreFilter', () => {
  it('skips a pod without claims', () => assert.equal(filterAll(pod('p').build(), { pvcs: [] }).pre?.code, Code.Skip));

  const rejects: Array<[string, Pod, Cluster, Code, string]> = [
    ['a missing claim is unresolvable', withClaim('pvc-a'), { pvcs: [] }, UU, 'persistentvolumeclaim "pvc-a" not found'],
    ['an unbound immediate claim is unresolvable', withClaim('pvc-a'), { pvcs: [makeClaim('pvc-a', { class: 'immediate' })] }, UU, ErrReasonUnboundImmediateClaims],
    ['a claim without a class is immediate', withClaim('pvc-a'), { pvcs: [makeClaim('pvc-a')] }, UU, ErrReasonUnboundImmediateClaims],
    ['a pre-bound but incomplete WaitForFirstConsumer claim is immediate', withClaim('pvc-a'), { pvcs: [makeClaim('pvc-a', { class: 'wait', volumeName: 'pv-a' })] }, UU, ErrReasonUnboundImmediateClaims],
    ['a claim being deleted is unresolvable', withClaim('pvc-a'), { pvcs: [{ ...makeClaim('pvc-a', { class: 'wait' }), metadata: { ...makeClaim('pvc-a').metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } }] }, UU, 'persistentvolumeclaim "pvc-a" is being deleted'],
    ['a lost claim is unresolvable', withClaim('pvc-a'), { pvcs: [makeClaim('pvc-a', { volumeName: 'gone', phase: 'Lost' })] }, UU, 'persistentvolumeclaim "pvc-a" bound to non-existent persistentvolume "gone"'],
    [
      'a missing generic ephemeral claim waits for its controller',
      pod('p').volume({ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } }).build(),
      { pvcs: [] },
      UU,
      'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"',
    ],
    ['a class without a binding mode is an error', withClaim('pvc-a'), { pvcs: [makeClaim('pvc-a', { class: 'unset-mode' })] }, Code.Error, 'VolumeBindingMode not set for StorageClass "unset-mode"'],
  ];
  for (const [name, p, c, code, reason] of rejects) {
    it(name, () => {
      const got = filterAll(p, c);
      assert.equal(got.pre?.code, code);
      assert.deepEqual(got.pre?.reasons, [reason]);
    });
  }

  it('bound PVs pinned to hostnames narrow the nodes to filter', () => {
    const got = filterAll(withClaim('pvc-a'), {
      pvcs: [makeClaim('pvc-a', { volumeName: 'pv-a', bound: true })],
      pvs: [makeVolume('pv-a', { nodeAffinity: { key: HOST, values: ['node-1'] }, claimRef: { name: 'pvc-a' } })],
    });
    assert.deepEqual(got.nodeNames, ['node-1']);
  });

  it('reads hostname pins per term, intersecting within a term', () => {
    const pv = makeVolume('pv', {});
    pv.spec!.nodeAffinity = {
      required: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: HOST, operator: 'In', values: ['a', 'b'] }, { key: HOST, operator: 'In', values: ['b', 'c'] }] },
          { matchExpressions: [{ key: HOST, operator: 'In', values: ['d'] }] },
        ],
      },
    };
    assert.deepEqual(pvHostnameNodeNames(pv), ['b', 'd']);
  });
});

describe('VolumeBinding Filter', () => {
  const cases: Array<{ name: string; pod: Pod; cluster: Cluster; want: Record<string, [Code, string[]]> }> = [
    {
      name: "a bound PV's node affinity admits only its node",
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { volumeName: 'pv-a', bound: true })], pvs: [makeVolume('pv-a', { nodeAffinity: { key: 'topology.kubernetes.io/zone', values: ['z1'] }, claimRef: { name: 'pvc-a' } })] },
      want: { 'node-1': [S, []], 'node-2': [UU, [ErrReasonNodeConflict]] },
    },
    {
      name: 'a claim bound to a PV that does not exist',
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { volumeName: 'pv-gone', bound: true })] },
      want: { 'node-1': [UU, [ErrReasonPVNotExist]], 'node-2': [UU, [ErrReasonPVNotExist]] },
    },
    {
      name: 'a WaitForFirstConsumer claim binds to an available local PV on its node only',
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { class: 'wait' })], pvs: [makeVolume('pv-local', { class: 'wait', nodeAffinity: { key: HOST, values: ['node-1'] } })] },
      want: { 'node-1': [S, []], 'node-2': [UU, [ErrReasonBindConflict]] },
    },
    {
      name: 'no PV big enough and no provisioner',
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { class: 'wait', storage: '10Gi' })], pvs: [makeVolume('pv-small', { class: 'wait', capacity: '5Gi' })] },
      want: { 'node-1': [UU, [ErrReasonBindConflict]], 'node-2': [UU, [ErrReasonBindConflict]] },
    },
    {
      name: 'a PV with the wrong access modes or class does not match',
      pod: withClaim('pvc-a'),
      cluster: {
        pvcs: [makeClaim('pvc-a', { class: 'wait', accessModes: ['ReadWriteMany'] })],
        pvs: [makeVolume('pv-rwo', { class: 'wait' }), makeVolume('pv-other-class', { class: 'other', accessModes: ['ReadWriteMany'] })],
      },
      want: { 'node-1': [UU, [ErrReasonBindConflict]], 'node-2': [UU, [ErrReasonBindConflict]] },
    },
    {
      name: 'a PV bound to another claim is not available',
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { class: 'wait' })], pvs: [makeVolume('pv-taken', { class: 'wait', claimRef: { name: 'someone-else' } })] },
      want: { 'node-1': [UU, [ErrReasonBindConflict]], 'node-2': [UU, [ErrReasonBindConflict]] },
    },
    {
      name: 'a class with a provisioner accepts dynamic provisioning on any node',
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic' })] },
      want: { 'node-1': [S, []], 'node-2': [S, []] },
    },
    {
      name: "dynamic provisioning honours the class's allowedTopologies",
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic-z1' })] },
      want: { 'node-1': [S, []], 'node-2': [UU, [ErrReasonBindConflict]] },
    },
    {
      name: 'a claim already being provisioned for a node fits only that node',
      pod: withClaim('pvc-a'),
      cluster: { pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic', annotations: { 'volume.kubernetes.io/selected-node': 'node-2' } })] },
      want: { 'node-1': [UU, [ErrReasonBindConflict]], 'node-2': [S, []] },
    },
    {
      name: 'bound and unbound problems are reported together',
      pod: withClaim('pvc-a', 'pvc-b'),
      cluster: {
        pvcs: [makeClaim('pvc-a', { volumeName: 'pv-a', bound: true }), makeClaim('pvc-b', { class: 'wait' })],
        pvs: [makeVolume('pv-a', { nodeAffinity: { key: HOST, values: ['node-1'] }, claimRef: { name: 'pvc-a' } }), makeVolume('pv-b', { class: 'wait', nodeAffinity: { key: HOST, values: ['node-1'] } })],
      },
      want: { 'node-1': [S, []], 'node-2': [UU, [ErrReasonNodeConflict, ErrReasonBindConflict]] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = filterAll(c.pod, c.cluster);
      assert.equal(got.pre, undefined);
      assert.deepEqual(
        Object.fromEntries(Object.entries(got.nodes).map(([k, v]) => [k, [v.code, [...v.reasons]]])),
        c.want,
      );
    });
  }
});

describe('VolumeBinding Reserve, Unreserve and PreBind', () => {
  it('picks the smallest PV that fits and keeps it from the next pod until unreserved', async () => {
    const cluster: Cluster = {
      pvcs: [makeClaim('pvc-a', { class: 'wait', storage: '1Gi' }), makeClaim('pvc-b', { class: 'wait', storage: '1Gi' })],
      pvs: [makeVolume('pv-big', { class: 'wait', capacity: '10Gi' }), makeVolume('pv-small', { class: 'wait', capacity: '2Gi' })],
    };
    const { pl, binder, infos } = setup(cluster);
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve') && isPlugin(pl, 'preBind'));
    const p1 = withClaim('pvc-a');
    const s1 = new CycleState();
    pl.preFilter(s1, p1, infos);
    assert.equal(pl.filter(s1, p1, infos[0]!), undefined);
    assert.equal(await pl.reserve(s1, p1, 'node-1'), undefined);
    assert.equal(await pl.preBind(s1, p1, 'node-1'), undefined);
    assert.deepEqual([...binder.boundVolumes], [['pv-small', 'default/pvc-a']]);

    // The second pod's claim can only get the big PV now.
    const p2 = pod('p2').claim('pvc-b').build();
    const s2 = new CycleState();
    pl.preFilter(s2, p2, infos);
    assert.equal(pl.filter(s2, p2, infos[0]!), undefined);
    await pl.reserve(s2, p2, 'node-1');
    await pl.preBind(s2, p2, 'node-1');
    assert.equal(binder.boundVolumes.get('pv-big'), 'default/pvc-b');

    // Once the first pod is unreserved, its PV is free again.
    await pl.unreserve(s1, p1, 'node-1');
    const p3 = pod('p3').claim('pvc-b').build();
    const s3 = new CycleState();
    pl.preFilter(s3, p3, infos);
    await pl.unreserve(s2, p2, 'node-1');
    assert.equal(pl.filter(s3, p3, infos[0]!), undefined);
  });

  it('a PV assumed for one claim is not offered to another', async () => {
    const cluster: Cluster = { pvcs: [makeClaim('pvc-a', { class: 'wait' }), makeClaim('pvc-b', { class: 'wait' })], pvs: [makeVolume('only', { class: 'wait' })] };
    const { pl, infos } = setup(cluster);
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve'));
    const s1 = new CycleState();
    const p1 = withClaim('pvc-a');
    pl.preFilter(s1, p1, infos);
    pl.filter(s1, p1, infos[0]!);
    await pl.reserve(s1, p1, 'node-1');
    const s2 = new CycleState();
    const p2 = pod('p2').claim('pvc-b').build();
    pl.preFilter(s2, p2, infos);
    assert.deepEqual(pl.filter(s2, p2, infos[0]!)?.reasons, [ErrReasonBindConflict]);
    await pl.unreserve(s1, p1, 'node-1');
    assert.equal(pl.filter(s2, p2, infos[0]!), undefined);
  });

  it('PreBind selects the node for claims to provision dynamically', async () => {
    const { pl, binder, infos } = setup({ pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic' })] });
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve') && isPlugin(pl, 'preBind'));
    const p = withClaim('pvc-a');
    const s = new CycleState();
    pl.preFilter(s, p, infos);
    for (const ni of infos) pl.filter(s, p, ni);
    await pl.reserve(s, p, 'node-2');
    assert.equal(await pl.preBind(s, p, 'node-2'), undefined);
    assert.deepEqual([...binder.selectedNodes], [['default/pvc-a', 'node-2']]);
  });

  it('an assumed provisioning node keeps other nodes out until unreserved', async () => {
    const { pl, infos } = setup({ pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic' })] });
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve'));
    const p = withClaim('pvc-a');
    const s = new CycleState();
    pl.preFilter(s, p, infos);
    for (const ni of infos) pl.filter(s, p, ni);
    await pl.reserve(s, p, 'node-2');
    const again = new CycleState();
    pl.preFilter(again, p, infos);
    assert.deepEqual(pl.filter(again, p, infos[0]!)?.reasons, [ErrReasonBindConflict]);
    await pl.unreserve(s, p, 'node-2');
    assert.equal(pl.filter(again, p, infos[0]!), undefined);
  });

  it('a binder failure fails PreBind with an error', async () => {
    const binder = new InMemoryVolumeBinder();
    binder.failWith = new Error('conflict');
    const { pl, infos } = setup({ pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic' })] }, binder);
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve') && isPlugin(pl, 'preBind'));
    const p = withClaim('pvc-a');
    const s = new CycleState();
    pl.preFilter(s, p, infos);
    pl.filter(s, p, infos[0]!);
    await pl.reserve(s, p, 'node-1');
    const st = await pl.preBind(s, p, 'node-1');
    assert.equal(st?.code, Code.Error);
    assert.deepEqual(st?.reasons, ['conflict']);
  });

  it('pods with only bound claims need no PreBind writes', async () => {
    const { pl, binder, infos } = setup({ pvcs: [makeClaim('pvc-a', { volumeName: 'pv-a', bound: true })], pvs: [makeVolume('pv-a', { claimRef: { name: 'pvc-a' } })] });
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve') && isPlugin(pl, 'preBind'));
    const p = withClaim('pvc-a');
    const s = new CycleState();
    pl.preFilter(s, p, infos);
    pl.filter(s, p, infos[0]!);
    await pl.reserve(s, p, 'node-1');
    assert.equal(await pl.preBind(s, p, 'node-1'), undefined);
    assert.equal(binder.selectedNodes.size + binder.boundVolumes.size, 0);
  });

  it('without a wired binder, a provisioning decision cannot be written', async () => {
    const infos = nodeInfos(nodes);
    const pl = VolumeBinding.create(VolumeBinding.defaultArgs!(), fakeHandle({ infos, pvcs: [makeClaim('pvc-a', { class: 'wait-dynamic' })], storageClasses: classes }));
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter') && isPlugin(pl, 'reserve') && isPlugin(pl, 'preBind'));
    const p = withClaim('pvc-a');
    const s = new CycleState();
    pl.preFilter(s, p, infos);
    pl.filter(s, p, infos[0]!);
    await pl.reserve(s, p, 'node-1');
    assert.equal((await pl.preBind(s, p, 'node-1'))?.code, Code.Error);
  });

  it('refuses a negative bindTimeoutSeconds', () => {
    assert.throws(() => VolumeBinding.create({ bindTimeoutSeconds: -1 }, fakeHandle()), (e: unknown) => e instanceof ConfigError && e.field === 'bindTimeoutSeconds');
  });
});
