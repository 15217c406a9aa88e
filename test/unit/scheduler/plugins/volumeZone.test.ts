import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { CycleState } from '../../../../src/scheduler/framework/cycleState.js';
import { NodeInfo } from '../../../../src/scheduler/framework/nodeInfo.js';
import { Code, isPlugin } from '../../../../src/scheduler/framework/types.js';
import { ErrReasonConflict, VolumeZone, labelZonesToSet } from '../../../../src/scheduler/plugins/volumeZone.js';
import { fakeHandle, makeClaim, makeNode, makeStorageClass, makeVolume, pod } from './spreadBuilders.js';

const S = Code.Success;
const UU = Code.UnschedulableAndUnresolvable;
const BETA_ZONE = 'failure-domain.beta.kubernetes.io/zone';
const BETA_REGION = 'failure-domain.beta.kubernetes.io/region';
const ZONE = 'topology.kubernetes.io/zone';
const REGION = 'topology.kubernetes.io/region';

const pvs: PersistentVolume[] = [
  makeVolume('Vol_1', { labels: { [BETA_ZONE]: 'us-west1-a' } }),
  makeVolume('Vol_2', { labels: { [BETA_REGION]: 'us-west1', 'uselessLabel': 'none' } }),
  makeVolume('Vol_3', { labels: { [BETA_REGION]: 'us-west1' } }),
  makeVolume('Vol_Stable_1', { labels: { [ZONE]: 'us-west1-a' } }),
  makeVolume('Vol_Stable_2', { labels: { [REGION]: 'us-west1', 'uselessLabel': 'none' } }),
  makeVolume('Vol_Multi', { labels: { [ZONE]: 'us-west1-a__us-west1-b' } }),
];
const pvcs: PersistentVolumeClaim[] = [
  makeClaim('PVC_1', { volumeName: 'Vol_1', bound: true }),
  makeClaim('PVC_2', { volumeName: 'Vol_2', bound: true }),
  makeClaim('PVC_3', { volumeName: 'Vol_3', bound: true }),
  makeClaim('PVC_4', { volumeName: 'Vol_not_exist', bound: true }),
  makeClaim('PVC_Stable_1', { volumeName: 'Vol_Stable_1', bound: true }),
  makeClaim('PVC_Stable_2', { volumeName: 'Vol_Stable_2', bound: true }),
  makeClaim('PVC_Multi', { volumeName: 'Vol_Multi', bound: true }),
  makeClaim('PVC_WFFC', { class: 'wffc' }),
  makeClaim('PVC_Immediate', { class: 'immediate' }),
];
const classes: StorageClass[] = [makeStorageClass('wffc', 'WaitForFirstConsumer'), makeStorageClass('immediate', 'Immediate')];

function run(p: Pod, node: Node): { code: Code; reasons: readonly string[] } {
  const pl = VolumeZone.create(undefined, fakeHandle({ pvs, pvcs, storageClasses: classes }));
  assert.ok(isPlugin(pl, 'preFilter') && isPlugin(pl, 'filter'));
  const state = new CycleState();
  const ni = new NodeInfo(node);
  const pre = pl.preFilter(state, p, [ni]).status;
  if (pre?.code === Code.Skip) return { code: S, reasons: [] };
  if (pre && pre.code !== S) return { code: pre.code, reasons: pre.reasons };
  const s = pl.filter(state, p, ni);
  return { code: s?.code ?? S, reasons: s?.reasons ?? [] };
}

describe('VolumeZone', () => {
  const cases: Array<[string, Pod, Node, Code, string?]> = [
    ['a pod without volumes fits', pod('p').build(), makeNode('host1', { [BETA_ZONE]: 'us-west1-a' }), S],
    ['a node without zone labels fits any volume', pod('p').claim('PVC_1').build(), makeNode('host1', { uselessLabel: 'none' }), S],
    ['beta zone label matches', pod('p').claim('PVC_1').build(), makeNode('host1', { [BETA_ZONE]: 'us-west1-a', uselessLabel: 'none' }), S],
    ['beta region label matches', pod('p').claim('PVC_2').build(), makeNode('host1', { [BETA_REGION]: 'us-west1' }), S],
    ['beta zone label mismatches', pod('p').claim('PVC_1').build(), makeNode('host1', { [BETA_ZONE]: 'no_us-west1-a' }), UU, ErrReasonConflict],
    ['beta region label mismatches', pod('p').claim('PVC_2').build(), makeNode('host1', { [BETA_REGION]: 'no_us-west1' }), UU, ErrReasonConflict],
    ['GA zone label matches', pod('p').claim('PVC_Stable_1').build(), makeNode('host1', { [ZONE]: 'us-west1-a' }), S],
    ['GA zone label mismatches', pod('p').claim('PVC_Stable_1').build(), makeNode('host1', { [ZONE]: 'us-west1-b' }), UU, ErrReasonConflict],
    ['a beta PV label matches the node GA label', pod('p').claim('PVC_1').build(), makeNode('host1', { [ZONE]: 'us-west1-a' }), S],
    ['a beta PV region label mismatches the node GA label', pod('p').claim('PVC_3').build(), makeNode('host1', { [REGION]: 'us-east1' }), UU, ErrReasonConflict],
    ['a multi-zone label admits either zone', pod('p').claim('PVC_Multi').build(), makeNode('host1', { [ZONE]: 'us-west1-b' }), S],
    ['an unbound WaitForFirstConsumer claim is left to VolumeBinding', pod('p').claim('PVC_WFFC').build(), makeNode('host1', { [ZONE]: 'x' }), S],
    ['an unbound Immediate claim is unresolvable', pod('p').claim('PVC_Immediate').build(), makeNode('host1', { [ZONE]: 'x' }), UU, 'PersistentVolume had no name'],
    ['a missing claim is unresolvable', pod('p').claim('PVC_none').build(), makeNode('host1'), UU, 'persistentvolumeclaim "PVC_none" not found'],
    ['a claim bound to a missing PV is unresolvable', pod('p').claim('PVC_4').build(), makeNode('host1'), UU, 'persistentvolume "Vol_not_exist" not found'],
  ];
  for (const [name, p, node, want, reason] of cases) {
    it(name, () => {
      const got = run(p, node);
      assert.equal(got.code, want);
      if (reason) assert.deepEqual(got.reasons, [reason]);
    });
  }

  it('parses multi-zone label values', () => {
    assert.deepEqual([...labelZonesToSet('a__b')!].sort(), ['a', 'b']);
    assert.equal(labelZonesToSet('a____b'), undefined);
  });
});
