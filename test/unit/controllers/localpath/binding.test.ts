import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { localPathStorageClass, localPathVolume, removeVolumeDir, shouldProvision, unsupportedAccessModes } from '../../../../src/controllers/localpathprovisioner/provisioner.js';
import { defaultStorageClass, findBestMatchForClaim, isDelayBindingMode, volumeMismatch } from '../../../../src/controllers/persistentvolume/binding.js';

const claim = (o: { size?: string; cls?: string; modes?: string[]; volumeName?: string; anns?: Record<string, string>; selector?: Record<string, string> } = {}): PersistentVolumeClaim => ({
  metadata: { name: 'data', namespace: 'ns', uid: 'c-uid', annotations: o.anns ?? {} },
  spec: {
    accessModes: o.modes ?? ['ReadWriteOnce'],
    resources: { requests: { storage: o.size ?? '1Gi' } },
    ...(o.cls !== undefined ? { storageClassName: o.cls } : {}),
    ...(o.volumeName ? { volumeName: o.volumeName } : {}),
    ...(o.selector ? { selector: { matchLabels: o.selector } } : {}),
  },
});
const pv = (name: string, o: { size?: string; cls?: string; modes?: string[]; claimRef?: { name: string; namespace: string; uid?: string }; phase?: string; labels?: Record<string, string>; mode?: string } = {}): PersistentVolume => ({
  metadata: { name, labels: o.labels ?? {} },
  spec: { capacity: { storage: o.size ?? '1Gi' }, accessModes: o.modes ?? ['ReadWriteOnce'], storageClassName: o.cls ?? '', ...(o.claimRef ? { claimRef: o.claimRef } : {}), ...(o.mode ? { volumeMode: o.mode } : {}) },
  status: { phase: o.phase ?? 'Available' },
});

describe('PV binder volume matching (upstream FindMatchingVolume / checkVolumeSatisfyClaim)', () => {
  const cases: Array<{ name: string; volumes: PersistentVolume[]; claim: PersistentVolumeClaim; delay?: boolean; want: string | undefined }> = [
    { name: 'the smallest volume that is big enough wins', volumes: [pv('big', { size: '10Gi' }), pv('fit', { size: '2Gi' }), pv('small', { size: '500Mi' })], claim: claim(), want: 'fit' },
    { name: 'a volume of another class is not chosen', volumes: [pv('other', { cls: 'fast' })], claim: claim(), want: undefined },
    { name: 'the class must be equal', volumes: [pv('fast', { cls: 'fast' })], claim: claim({ cls: 'fast' }), want: 'fast' },
    { name: 'access modes of the claim must all be offered', volumes: [pv('rwo')], claim: claim({ modes: ['ReadWriteMany'] }), want: undefined },
    { name: 'a block volume does not serve a filesystem claim', volumes: [pv('blk', { mode: 'Block' })], claim: claim(), want: undefined },
    { name: 'a volume bound to another claim is skipped', volumes: [pv('taken', { claimRef: { name: 'other', namespace: 'ns', uid: 'x' } })], claim: claim(), want: undefined },
    { name: 'a volume pre-bound to this claim wins over a better fit', volumes: [pv('fit'), pv('pre', { size: '5Gi', claimRef: { name: 'data', namespace: 'ns' } })], claim: claim(), want: 'pre' },
    { name: 'a released volume is not reused', volumes: [pv('rel', { phase: 'Released' })], claim: claim(), want: undefined },
    { name: 'the claim selector must match the volume labels', volumes: [pv('a', { labels: { tier: 'a' } }), pv('b', { size: '5Gi', labels: { tier: 'b' } })], claim: claim({ selector: { tier: 'b' } }), want: 'b' },
    { name: 'delayed binding leaves unbound volumes to the scheduler', volumes: [pv('fit')], claim: claim(), delay: true, want: undefined },
    { name: 'delayed binding still completes a pre-bound volume', volumes: [pv('pre', { claimRef: { name: 'data', namespace: 'ns', uid: 'c-uid' } })], claim: claim(), delay: true, want: 'pre' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(findBestMatchForClaim(c.volumes, c.claim, c.delay ?? false)?.metadata?.name, c.want));

  it('explains mismatches', () => {
    assert.equal(volumeMismatch(pv('s', { size: '1Mi' }), claim()), 'requested PV is too small');
    assert.equal(volumeMismatch(pv('c', { cls: 'x' }), claim()), 'storageClassName does not match');
    assert.equal(volumeMismatch(pv('ok'), claim()), '');
  });

  it('finds delayed binding from the class and the newest default class', () => {
    const wffc: StorageClass = { metadata: { name: 'w' }, provisioner: 'p', volumeBindingMode: 'WaitForFirstConsumer' };
    assert.equal(isDelayBindingMode(claim({ cls: 'w' }), (n) => (n === 'w' ? wffc : undefined)), true);
    assert.equal(isDelayBindingMode(claim({ cls: 'missing' }), () => undefined), false);
    const a: StorageClass = { metadata: { name: 'a', creationTimestamp: '2026-01-01T00:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'p' };
    const b: StorageClass = { metadata: { name: 'b', creationTimestamp: '2026-02-01T00:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'p' };
    const c: StorageClass = { metadata: { name: 'c', creationTimestamp: '2026-03-01T00:00:00Z' }, provisioner: 'p' };
    assert.equal(defaultStorageClass([a, b, c])?.metadata?.name, 'b');
    assert.equal(defaultStorageClass([c]), undefined);
  });
});

describe('local-path provisioner decisions', () => {
  const sc = { ...localPathStorageClass(), metadata: { name: 'local-path' } };
  const ready = { 'volume.kubernetes.io/storage-provisioner': 'rancher.io/local-path', 'volume.kubernetes.io/selected-node': 'n1' };
  const cases: Array<[string, PersistentVolumeClaim, StorageClass | undefined, boolean]> = [
    ['provisions once the PV controller handed it over and the scheduler chose a node', claim({ cls: 'local-path', anns: ready }), sc, true],
    ['waits for the scheduler', claim({ cls: 'local-path', anns: { 'volume.kubernetes.io/storage-provisioner': 'rancher.io/local-path' } }), sc, false],
    ['waits for the PV controller', claim({ cls: 'local-path', anns: { 'volume.kubernetes.io/selected-node': 'n1' } }), sc, false],
    ['ignores claims of other provisioners', claim({ cls: 'x', anns: ready }), { metadata: { name: 'x' }, provisioner: 'ebs.csi.aws.com' }, false],
    ['ignores claims already bound', claim({ cls: 'local-path', anns: ready, volumeName: 'pv' }), sc, false],
  ];
  for (const [name, c, cls, want] of cases) it(name, () => assert.equal(shouldProvision(c, cls), want));

  it('refuses ReadWriteMany as rancher does', () => {
    assert.equal(unsupportedAccessModes(claim({ modes: ['ReadWriteMany'] })), 'NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes');
    assert.equal(unsupportedAccessModes(claim({ modes: ['ReadWriteOnce', 'ReadWriteOncePod'] })), '');
  });

  it('builds rancher\'s PV: pvc-<uid>, <root>/pvc-<uid>_<ns>_<name>, DirectoryOrCreate, node affinity, pre-bound', () => {
    const v = localPathVolume(claim({ cls: 'local-path', size: '3Gi' }), sc, 'n1', 'host-1', '/var/lib/k8ts/storage');
    assert.deepEqual(v.metadata, { name: 'pvc-c-uid', annotations: { 'pv.kubernetes.io/provisioned-by': 'rancher.io/local-path', 'local.path.provisioner/selected-node': 'n1' } });
    assert.deepEqual(v.spec?.hostPath, { path: '/var/lib/k8ts/storage/pvc-c-uid_ns_data', type: 'DirectoryOrCreate' });
    assert.deepEqual(v.spec?.capacity, { storage: '3Gi' });
    assert.equal(v.spec?.persistentVolumeReclaimPolicy, 'Delete');
    assert.deepEqual(v.spec?.nodeAffinity?.required?.nodeSelectorTerms, [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['host-1'] }] }]);
    assert.deepEqual(v.spec?.claimRef, { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'ns', name: 'data', uid: 'c-uid' });
  });

  it('deletes only pvc-* directories directly under the storage root', async () => {
    await assert.rejects(removeVolumeDir('/etc', '/var/lib/k8ts/storage'), /refusing to delete \/etc/);
    await assert.rejects(removeVolumeDir('/var/lib/k8ts/storage/other', '/var/lib/k8ts/storage'), /refusing/);
    await assert.rejects(removeVolumeDir('/var/lib/k8ts/storage/a/pvc-x', '/var/lib/k8ts/storage'), /refusing/);
  });
});
