import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistentVolumeClaim, Pod, Volume } from 'kubernetes-types/core/v1.js';
import { CycleState } from '../../../../src/scheduler/framework/cycleState.js';
import { PodInfo } from '../../../../src/scheduler/framework/nodeInfo.js';
import { Code, isPlugin } from '../../../../src/scheduler/framework/types.js';
import { ErrReasonDiskConflict, ErrReasonReadWriteOncePodConflict, VolumeRestrictions } from '../../../../src/scheduler/plugins/volumeRestrictions.js';
import { fakeHandle, makeClaim, makeNode, nodeInfos, pod } from './spreadBuilders.js';

const S = Code.Success;
const U = Code.Unschedulable;
const UU = Code.UnschedulableAndUnresolvable;

const gce = (pdName: string, readOnly = false): Volume => ({ name: `gce-${pdName}`, gcePersistentDisk: { pdName, readOnly } });
const aws = (volumeID: string): Volume => ({ name: `aws-${volumeID}`, awsElasticBlockStore: { volumeID } });
const rbd = (monitors: string[], image: string, readOnly = false): Volume => ({ name: `rbd-${image}`, rbd: { monitors, image, pool: 'rbd', readOnly } });
const iscsi = (iqn: string, readOnly = false): Volume => ({ name: `iscsi-${iqn}`, iscsi: { iqn, targetPortal: '127.0.0.1:3260', lun: 0, readOnly } });

const rwop1 = makeClaim('claim-with-rwop-1', { accessModes: ['ReadWriteOncePod'] });
const rwop2 = makeClaim('claim-with-rwop-2', { accessModes: ['ReadWriteOncePod'] });
const rwx = makeClaim('claim-with-rwx', { accessModes: ['ReadWriteMany'] });

function run(p: Pod, existing: Pod[], pvcs: PersistentVolumeClaim[] = [rwop1, rwop2, rwx]): { pre: Code; reasons: readonly string[]; code: Code; filterReasons: readonly string[] } {
  const nodes = [makeNode('node-1'), makeNode('node-2')];
  const infos = nodeInfos(nodes, existing);
  const pl = VolumeRestrictions.create(undefined, fakeHandle({ infos, pvcs }));
  assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
  const state = new CycleState();
  const pre = pl.preFilter(state, p, infos).status;
  if (pre && pre.code !== Code.Success) return { pre: pre.code, reasons: pre.reasons, code: S, filterReasons: [] };
  const s = pl.filter(state, p, infos[0]!);
  return { pre: S, reasons: [], code: s?.code ?? S, filterReasons: s?.reasons ?? [] };
}

describe('VolumeRestrictions', () => {
  it('skips a pod without volumes', () => assert.equal(run(pod('p').build(), []).pre, Code.Skip));

  it('a missing claim is unresolvable with the API not-found message', () => {
    const got = run(pod('p').claim('claim-with-rwop-1').build(), [], []);
    assert.equal(got.pre, UU);
    assert.deepEqual(got.reasons, ['persistentvolumeclaim "claim-with-rwop-1" not found']);
  });

  it('a ReadWriteOncePod claim nobody uses: nothing to check', () => assert.equal(run(pod('p').claim('claim-with-rwop-1').build(), [pod('o').on('node-2').claim('claim-with-rwx').build()]).pre, Code.Skip));

  it('a ReadWriteOncePod claim used by a pod on another node is unschedulable (preemption can help)', () => {
    const got = run(pod('p').claim('claim-with-rwop-1').build(), [pod('o').on('node-2').claim('claim-with-rwop-1').build()]);
    assert.equal(got.code, U);
    assert.deepEqual(got.filterReasons, [ErrReasonReadWriteOncePodConflict]);
  });

  it('ReadWriteMany claims shared by pods do not conflict', () => assert.equal(run(pod('p').claim('claim-with-rwx').build(), [pod('o').on('node-1').claim('claim-with-rwx').build()]).pre, Code.Skip));

  const disks: Array<[string, Volume, Volume, Code]> = [
    ['the same GCE PD read-write conflicts', gce('foo'), gce('foo'), U],
    ['the same GCE PD read-only on both sides does not conflict', gce('foo', true), gce('foo', true), S],
    ['different GCE PDs do not conflict', gce('foo'), gce('bar'), S],
    ['the same AWS EBS volume conflicts even read-only', aws('foo'), aws('foo'), U],
    ['RBD images sharing a monitor, pool and image conflict', rbd(['a', 'b'], 'img'), rbd(['b', 'c'], 'img'), U],
    ['RBD images without a common monitor do not conflict', rbd(['a'], 'img'), rbd(['c'], 'img'), S],
    ['the same iSCSI IQN read-write conflicts', iscsi('iqn.2016-12.server:storage.target01'), iscsi('iqn.2016-12.server:storage.target01'), U],
    ['the same iSCSI IQN read-only on both sides does not conflict', iscsi('iqn.x', true), iscsi('iqn.x', true), S],
  ];
  for (const [name, mine, theirs, want] of disks) {
    it(name, () => {
      const got = run(pod('p').volume(mine).build(), [pod('o').on('node-1').volume(theirs).build()]);
      assert.equal(got.code, want);
      if (want === U) assert.deepEqual(got.filterReasons, [ErrReasonDiskConflict]);
    });
  }

  it('preemption: removing the pod that uses the claim resolves the conflict', () => {
    const holder = pod('o').on('node-2').claim('claim-with-rwop-1').build();
    const infos = nodeInfos([makeNode('node-1'), makeNode('node-2')], [holder]);
    const pl = VolumeRestrictions.create(undefined, fakeHandle({ infos, pvcs: [rwop1] }));
    assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
    const p = pod('p').claim('claim-with-rwop-1').build();
    const state = new CycleState();
    pl.preFilter(state, p, infos);
    const what = state.clone();
    pl.preFilterExtensions!()!.removePod(what, p, new PodInfo(holder), infos[1]!);
    assert.equal(pl.filter(what, p, infos[1]!)?.code ?? S, S);
    assert.equal(pl.filter(state, p, infos[1]!)?.code, U);
  });

  it('requeues on the deletion of a pod using the same claim only', () => {
    const pl = VolumeRestrictions.create(undefined, fakeHandle());
    assert.ok(isPlugin(pl, 'enqueue'));
    const del = pl.eventsToRegister().find((e) => e.event.resource === 'Pod')!;
    const p = pod('p').claim('claim-with-rwop-1').build();
    assert.equal(del.hint!(p, pod('o').claim('claim-with-rwop-1').build(), undefined), 'Queue');
    assert.equal(del.hint!(p, pod('o').claim('other').build(), undefined), 'QueueSkip');
  });
});
