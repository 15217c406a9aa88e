// The local-path provisioner and the PV binder against a real k8ts server whose scheduler places
// the pod (VolumeBinding sets selected-node), with the kubelet's VolumeManager setting up the claim.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Event, Node, PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { newLocalPathProvisioner } from '../../../../src/controllers/localpathprovisioner/provisioner.js';
import { newEphemeralVolumeController } from '../../../../src/controllers/persistentvolume/ephemeralController.js';
import { newPersistentVolumeController } from '../../../../src/controllers/persistentvolume/pvController.js';
import { VolumeManager } from '../../../../src/kubelet/volumes/manager.js';
import { isMountPoint, mountPointsUnder } from '../../../../src/kubelet/volumes/mounts.js';
import { controllerHarness, type Harness } from '../../../support/controllerHarness.js';
import { nodeObject } from '../../../support/fakeKubelet.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { tempDir } from '../../../support/tmp.js';

describe('local-path provisioner and PV binder', { timeout: 120_000 }, () => {
  let s: RunningServer;
  let h: Harness;
  const storage = tempDir('k8ts-t-storage-');
  const podsDir = tempDir('k8ts-t-pods-');
  const staticDir = tempDir('k8ts-t-static-');
  const pvcs = () => h.client.resource<PersistentVolumeClaim>('', 'v1', 'persistentvolumeclaims');
  const pvs = () => h.client.resource<PersistentVolume>('', 'v1', 'persistentvolumes');
  const pods = () => h.client.resource<Pod>('', 'v1', 'pods');
  const waitFor = async <T>(what: string, get: () => Promise<T | undefined>, ms = 30_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await get().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  const claimWhere = (name: string, ok: (c: PersistentVolumeClaim) => boolean) => async () => {
    const c = await pvcs().get('default', name);
    return ok(c) ? c : undefined;
  };

  before(async () => {
    // The controllers under test run here, not also in the server's own controller manager.
    s = await startK8tsServer(['--disable-agent', '--disable-controller-manager']);
    h = await controllerHarness(s.kubeconfig);
    await h.client.resource<Node>('', 'v1', 'nodes').create(nodeObject('n1'));
    h.run(newPersistentVolumeController(h.ctx, { syncPeriodMs: 2000 }), newEphemeralVolumeController(h.ctx), newLocalPathProvisioner(h.ctx, { storageRoot: storage.path, localNodeName: 'n1' }));
  });
  after(async () => {
    await h.stop();
    await s.stop();
    storage.remove();
    podsDir.remove();
    staticDir.remove();
  });

  it('creates the default local-path StorageClass as k3s has it', async () => {
    const sc = await waitFor('storageclass', () => h.client.resource<StorageClass>('storage.k8s.io', 'v1', 'storageclasses').get(undefined, 'local-path'));
    assert.equal(sc.provisioner, 'rancher.io/local-path');
    assert.equal(sc.volumeBindingMode, 'WaitForFirstConsumer');
    assert.equal(sc.reclaimPolicy, 'Delete');
    assert.equal(sc.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
    const r = await s.kubectl(['get', 'storageclass']);
    assert.match(r.stdout, /local-path \(default\)\s+rancher\.io\/local-path\s+Delete\s+WaitForFirstConsumer/);
  });

  it('a PVC without a class gets local-path, waits for its first consumer, then is provisioned on the scheduled node, bound, and set up by the kubelet', async () => {
    await pvcs().create({ metadata: { name: 'data', namespace: 'default' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const pending = await waitFor('default class and Pending', claimWhere('data', (c) => c.spec?.storageClassName === 'local-path' && c.status?.phase === 'Pending'));
    await waitFor('WaitForFirstConsumer event', async () => {
      const evs = (await h.client.resource<Event>('', 'v1', 'events').list({ namespace: 'default', fieldSelector: 'involvedObject.name=data' })).items;
      return evs.find((e) => e.reason === 'WaitForFirstConsumer' && e.message === 'waiting for first consumer to be created before binding');
    });
    const pod = await pods().create({
      metadata: { name: 'db', namespace: 'default' },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'd', mountPath: '/data' }] }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] },
    });
    const bound = await waitFor('claim Bound', claimWhere('data', (c) => c.status?.phase === 'Bound'));
    const pvName = `pvc-${pending.metadata!.uid!}`;
    assert.equal(bound.spec?.volumeName, pvName);
    assert.equal(bound.metadata?.annotations?.['volume.kubernetes.io/selected-node'], 'n1');
    assert.equal(bound.metadata?.annotations?.['volume.kubernetes.io/storage-provisioner'], 'rancher.io/local-path');
    assert.equal(bound.metadata?.annotations?.['pv.kubernetes.io/bind-completed'], 'yes');
    assert.deepEqual(bound.status?.capacity, { storage: '1Gi' });
    const pv = await waitFor('PV Bound', async () => {
      const v = await pvs().get(undefined, pvName);
      return v.status?.phase === 'Bound' ? v : undefined;
    });
    const dir = join(storage.path, `${pvName}_default_data`);
    assert.deepEqual(pv.spec?.hostPath, { path: dir, type: 'DirectoryOrCreate' });
    assert.equal(pv.spec?.claimRef?.uid, pending.metadata!.uid);
    assert.deepEqual(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions, [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }]);
    assert.equal(pv.metadata?.annotations?.['pv.kubernetes.io/provisioned-by'], 'rancher.io/local-path');
    const scheduled = await waitFor('pod scheduled', async () => {
      const p = await pods().get('default', 'db');
      return p.spec?.nodeName ? p : undefined;
    });
    assert.equal(scheduled.spec?.nodeName, 'n1');
    const kubelet = new VolumeManager({ client: h.client, nodeName: 'n1', podsDir: podsDir.path });
    const volumes = await kubelet.setUpPod(scheduled);
    assert.equal(volumes.get('d')?.hostPath, dir);
    assert.equal(statSync(dir).isDirectory(), true, 'the kubelet created the directory (DirectoryOrCreate)');
    writeFileSync(join(dir, 'db.sqlite'), 'data');
    await kubelet.tearDownPod(pod.metadata!.uid!);
    assert.equal(existsSync(join(dir, 'db.sqlite')), true, 'teardown never touches PV data');
    const pvcList = await s.kubectl(['get', 'pvc', 'data']);
    assert.match(pvcList.stdout, new RegExp(`data\\s+Bound\\s+${pvName}\\s+1Gi\\s+RWO\\s+local-path`));

    await pods().delete('default', 'db', { gracePeriodSeconds: 0 });
    await pvcs().delete('default', 'data');
    await waitFor('PV deleted after release', async () => pvs().get(undefined, pvName).then(() => undefined, () => true));
    assert.equal(existsSync(dir), false, 'reclaim policy Delete removed the directory on this node');
  });

  it('a generic ephemeral volume gets a pod-owned claim, provisioned and bound like any other', async () => {
    const pod = await pods().create({
      metadata: { name: 'eph', namespace: 'default' },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: 'busybox' }],
        volumes: [{ name: 'scratch', ephemeral: { volumeClaimTemplate: { metadata: { labels: { kind: 'scratch' } }, spec: { storageClassName: 'local-path', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } } } }],
      },
    });
    const claim = await waitFor('ephemeral claim Bound', claimWhere('eph-scratch', (c) => c.status?.phase === 'Bound'), 60_000);
    assert.deepEqual(claim.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [['Pod', 'eph', pod.metadata!.uid, true]]);
    assert.equal(claim.metadata?.labels?.kind, 'scratch');
    const scheduled = await waitFor('pod scheduled', async () => {
      const p = await pods().get('default', 'eph');
      return p.spec?.nodeName ? p : undefined;
    });
    const kubelet = new VolumeManager({ client: h.client, nodeName: 'n1', podsDir: podsDir.path });
    const volumes = await kubelet.setUpPod(scheduled);
    assert.equal(volumes.get('scratch')?.hostPath, join(storage.path, `${claim.spec!.volumeName!}_default_eph-scratch`));
    assert.equal(statSync(volumes.get('scratch')!.hostPath).mode & 0o777, 0o777);
    const impostor: Pod = { ...scheduled, metadata: { ...scheduled.metadata, uid: 'someone-else' } };
    await assert.rejects(kubelet.setUpPod(impostor), { message: 'error processing PVC default/eph-scratch: PVC default/eph-scratch was not created for pod default/eph (pod is not owner)' });
    await kubelet.tearDownPod(scheduled.metadata!.uid!);
    await kubelet.tearDownPod('someone-else');
  });

  it('a pod on a claim that is not bound yet fails setup with upstream\'s message', async () => {
    await pvcs().create({ metadata: { name: 'later', namespace: 'default' }, spec: { storageClassName: 'nothing-here', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const kubelet = new VolumeManager({ client: h.client, nodeName: 'n1', podsDir: podsDir.path });
    const pod: Pod = { metadata: { name: 'w', namespace: 'default', uid: 'uid-w' }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'later' } }] } };
    await assert.rejects(kubelet.setUpPod(pod), { name: 'VolumeError', message: 'error processing PVC default/later: PVC is not bound' });
    const missing: Pod = { ...pod, spec: { ...pod.spec!, volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'ghost' } }] } };
    await assert.rejects(kubelet.setUpPod(missing), { name: 'VolumeError', message: 'error processing PVC default/ghost: failed to fetch PVC from API server: persistentvolumeclaims "ghost" not found' });
    await kubelet.tearDownPod('uid-w');
  });

  it('a local PV is bind-mounted into the pod volume dir and unmounted on teardown, its data kept', async () => {
    const path = join(staticDir.path, 'local-disk');
    mkdirSync(path);
    writeFileSync(join(path, 'keep'), 'x');
    await pvs().create({
      metadata: { name: 'local-pv' },
      spec: {
        storageClassName: 'local-storage',
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        local: { path },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] } },
      },
    });
    await pvcs().create({ metadata: { name: 'local-claim', namespace: 'default' }, spec: { storageClassName: 'local-storage', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    await waitFor('local claim Bound', claimWhere('local-claim', (c) => c.status?.phase === 'Bound' && c.spec?.volumeName === 'local-pv'));
    const kubelet = new VolumeManager({ client: h.client, nodeName: 'n1', podsDir: podsDir.path });
    const pod: Pod = { metadata: { name: 'lp', namespace: 'default', uid: 'uid-lp' }, spec: { containers: [{ name: 'c', image: 'x' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'local-claim', readOnly: true } }] } };
    const volumes = await kubelet.setUpPod(pod);
    const dir = join(podsDir.path, 'uid-lp', 'volumes', 'kubernetes.io~local-volume', 'local-pv');
    assert.deepEqual(volumes.get('d'), { hostPath: dir, readOnly: true, plugin: 'kubernetes.io/local-volume' });
    assert.equal(await isMountPoint(dir), true);
    assert.equal(readFileSync(join(dir, 'keep'), 'utf8'), 'x');
    await kubelet.setUpPod(pod); // idempotent: no second mount
    assert.equal((await mountPointsUnder(dir)).length, 1);
    await kubelet.tearDownPod('uid-lp');
    assert.equal(await isMountPoint(dir), false);
    assert.equal(readFileSync(join(path, 'keep'), 'utf8'), 'x', 'PV data survives teardown');
  });

  it('binds a claim to a matching pre-provisioned PV (smallest that fits) and releases it, retained, when the claim goes', async () => {
    const mk = (name: string, size: string): PersistentVolume => ({
      metadata: { name },
      spec: { storageClassName: 'manual', capacity: { storage: size }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', hostPath: { path: join(staticDir.path, name), type: 'DirectoryOrCreate' } },
    });
    await pvs().create(mk('big', '10Gi'));
    await pvs().create(mk('small', '2Gi'));
    await pvs().create(mk('tiny', '100Mi'));
    await waitFor('PVs Available', async () => ((await pvs().get(undefined, 'small')).status?.phase === 'Available' ? true : undefined));
    await pvcs().create({ metadata: { name: 'static', namespace: 'default' }, spec: { storageClassName: 'manual', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const c = await waitFor('static claim Bound', claimWhere('static', (x) => x.status?.phase === 'Bound'));
    assert.equal(c.spec?.volumeName, 'small');
    assert.equal(c.metadata?.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    const pv = await waitFor('small Bound', async () => {
      const v = await pvs().get(undefined, 'small');
      return v.status?.phase === 'Bound' ? v : undefined;
    });
    assert.equal(pv.spec?.claimRef?.name, 'static');
    assert.equal(pv.metadata?.annotations?.['pv.kubernetes.io/bound-by-controller'], 'yes');
    await pvcs().delete('default', 'static');
    await waitFor('small Released', async () => ((await pvs().get(undefined, 'small')).status?.phase === 'Released' ? true : undefined));
    assert.equal((await pvs().get(undefined, 'big')).status?.phase, 'Available');
  });
});
