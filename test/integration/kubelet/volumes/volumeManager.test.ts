// The VolumeManager against a real k8ts server: pods created through the API (so ServiceAccount
// admission adds kube-api-access-*), volumes set up in a temp podsDir, contents checked on disk.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigMap, Pod, Secret } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig } from '../../../../src/client/config.js';
import { RestClient } from '../../../../src/client/restClient.js';
import { containerMounts } from '../../../../src/kubelet/volumes/containerMounts.js';
import { VolumeManager } from '../../../../src/kubelet/volumes/manager.js';
import { isMountPoint } from '../../../../src/kubelet/volumes/mounts.js';
import { VolumeError } from '../../../../src/kubelet/volumes/types.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { tempDir } from '../../../support/tmp.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

describe('VolumeManager with a real API server', { timeout: 120_000 }, () => {
  let s: RunningServer;
  let client: RestClient;
  let vm: VolumeManager;
  const podsDir = tempDir('k8ts-t-pods-');
  const hostDir = tempDir('k8ts-t-host-');
  const ac = new AbortController();
  const setUp: string[] = [];

  const createPod = async (pod: Pod): Promise<Pod> => {
    const p = await client.resource<Pod>('', 'v1', 'pods').create(pod);
    setUp.push(p.metadata!.uid!);
    return p;
  };
  const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    s = await startK8tsServer(['--disable-agent']);
    client = new RestClient(await loadKubeconfigConfig({ path: s.kubeconfig }), { component: 'kubelet-test', qps: -1 });
    vm = new VolumeManager({ client, nodeName: 'n1', podsDir: podsDir.path, resyncPeriodMs: 300, nodeAllocatable: () => ({ cpu: '2', memory: '1Gi' }) });
    void vm.run(ac.signal);
    // kube-root-ca.crt comes from the root CA publisher of the server's controller manager.
    await waitFor('kube-root-ca.crt in default', async () => client.resource<ConfigMap>('', 'v1', 'configmaps').get('default', 'kube-root-ca.crt').then(() => true, () => false), 30_000);
  });
  after(async () => {
    ac.abort();
    for (const uid of setUp) await vm.tearDownPod(uid).catch(() => undefined);
    client.close();
    await s.stop();
    podsDir.remove();
    hostDir.remove();
  });

  it('projects kube-api-access (a bound token that TokenReview accepts, ca.crt, namespace) and the container mount', async () => {
    const pod = await createPod({ metadata: { name: 'sa', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const vol = pod.spec!.volumes!.find((v) => v.name.startsWith('kube-api-access-'))!;
    assert.ok(vol, 'ServiceAccount admission added the volume');
    const volumes = await vm.setUpPod(pod);
    const dir = volumes.get(vol.name)!.hostPath;
    assert.equal(dir, join(podsDir.path, pod.metadata!.uid!, 'volumes', 'kubernetes.io~projected', vol.name));
    assert.equal(await isMountPoint(dir), true, 'projected volumes are tmpfs');
    assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('..')).sort(), ['ca.crt', 'namespace', 'token']);
    assert.equal(readlinkSync(join(dir, 'token')), '..data/token');
    assert.equal(statSync(join(dir, 'token')).mode & 0o777, 0o644);
    assert.equal(readFileSync(join(dir, 'namespace'), 'utf8'), 'default');
    assert.match(readFileSync(join(dir, 'ca.crt'), 'utf8'), /BEGIN CERTIFICATE/);
    const token = readFileSync(join(dir, 'token'), 'utf8');
    const review = await client.request<{ status: { authenticated?: boolean; user?: { username?: string; extra?: Record<string, string[]> } } }>({
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/tokenreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    assert.equal(review.status.authenticated, true);
    assert.equal(review.status.user?.username, 'system:serviceaccount:default:default');
    assert.deepEqual(review.status.user?.extra?.['authentication.kubernetes.io/pod-name'], ['sa']);
    const mounts = await containerMounts(pod, pod.spec!.containers[0]!, volumes);
    assert.deepEqual(mounts, [{ containerPath: SA_DIR, hostPath: dir, readonly: true, propagation: 'PROPAGATION_PRIVATE' }]);
    // A second sync keeps the cached token and writes nothing new.
    const before = readlinkSync(join(dir, '..data'));
    await vm.setUpPod(pod);
    assert.equal(readlinkSync(join(dir, '..data')), before);
  });

  it('mounts a configMap, and an update of the configMap reaches the file within the resync period', async () => {
    const cms = client.resource<ConfigMap>('', 'v1', 'configmaps');
    await cms.create({ metadata: { name: 'app-config', namespace: 'default' }, data: { 'app.conf': 'v=1', other: 'o' } });
    const pod = await createPod({
      metadata: { name: 'cm', namespace: 'default' },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }, { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' }] }],
        volumes: [{ name: 'cfg', configMap: { name: 'app-config', items: [{ key: 'app.conf', path: 'app.conf' }], defaultMode: 0o440 } }],
      },
    });
    const volumes = await vm.setUpPod(pod);
    const dir = volumes.get('cfg')!.hostPath;
    assert.equal(dir, join(podsDir.path, pod.metadata!.uid!, 'volumes', 'kubernetes.io~configmap', 'cfg'));
    assert.equal(readFileSync(join(dir, 'app.conf'), 'utf8'), 'v=1');
    assert.equal(statSync(join(dir, 'app.conf')).mode & 0o777, 0o440);
    assert.equal(existsSync(join(dir, 'other')), false);
    const mounts = await containerMounts(pod, pod.spec!.containers[0]!, volumes);
    assert.equal(mounts[1]!.hostPath.startsWith(join(dir, '..')), true, 'subPath resolves into the timestamped dir');
    const cm = await cms.get('default', 'app-config');
    await cms.update({ ...cm, data: { 'app.conf': 'v=2' } });
    await waitFor('the updated configMap on disk', () => readFileSync(join(dir, 'app.conf'), 'utf8') === 'v=2', 10_000);
  });

  it('fails a pod whose configMap is missing with upstream\'s FailedMount message, and succeeds once it exists', async () => {
    const pod = await createPod({
      metadata: { name: 'missing', namespace: 'default' },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'cfg', configMap: { name: 'later' } }, { name: 'opt', configMap: { name: 'never', optional: true } }] },
    });
    await assert.rejects(vm.setUpPod(pod), (err: unknown) => {
      assert.ok(err instanceof VolumeError);
      assert.equal(err.reason, 'FailedMount');
      assert.equal(err.message, 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found');
      return true;
    });
    await client.resource<ConfigMap>('', 'v1', 'configmaps').create({ metadata: { name: 'later', namespace: 'default' }, data: { k: 'v' } });
    const volumes = await vm.setUpPod(pod);
    assert.equal(readFileSync(join(volumes.get('cfg')!.hostPath, 'k'), 'utf8'), 'v');
    assert.deepEqual(readdirSync(volumes.get('opt')!.hostPath).filter((n) => !n.startsWith('..')), []);
  });

  it('mounts a secret on tmpfs, and reports a missing secret as upstream', async () => {
    await client.resource<Secret>('', 'v1', 'secrets').create({ metadata: { name: 'db', namespace: 'default' }, stringData: { password: 'hunter2' } });
    const pod = await createPod({
      metadata: { name: 'sec', namespace: 'default' },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'creds', secret: { secretName: 'db', defaultMode: 0o400 } }] },
    });
    const volumes = await vm.setUpPod(pod);
    const dir = volumes.get('creds')!.hostPath;
    assert.equal(await isMountPoint(dir), true);
    assert.equal(readFileSync(join(dir, 'password'), 'utf8'), 'hunter2');
    assert.equal(statSync(join(dir, 'password')).mode & 0o777, 0o400);
    const bad = await createPod({
      metadata: { name: 'sec-missing', namespace: 'default' },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'creds', secret: { secretName: 'nope' } }] },
    });
    await assert.rejects(vm.setUpPod(bad), { name: 'VolumeError', message: 'MountVolume.SetUp failed for volume "creds" : secret "nope" not found' });
  });

  it('mounts emptyDir on disk and medium Memory as a sized tmpfs, and tearDownPod unmounts and removes them', async () => {
    const pod = await createPod({
      metadata: { name: 'ed', namespace: 'default', labels: { app: 'ed' } },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: 'busybox', resources: { limits: { memory: '64Mi' } } }],
        volumes: [
          { name: 'scratch', emptyDir: {} },
          { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'mem', resourceFieldRef: { containerName: 'c', resource: 'limits.memory', divisor: '1Mi' } }] } },
        ],
      },
    });
    const uid = pod.metadata!.uid!;
    const volumes = await vm.setUpPod(pod);
    const scratch = volumes.get('scratch')!.hostPath;
    const mem = volumes.get('mem')!.hostPath;
    assert.equal(statSync(scratch).mode & 0o777, 0o777);
    assert.equal(await isMountPoint(scratch), false);
    assert.equal(await isMountPoint(mem), true);
    const mountLine = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === mem)!;
    assert.match(mountLine, /^tmpfs .* tmpfs .*size=16384k/);
    const info = volumes.get('info')!.hostPath;
    assert.equal(readFileSync(join(info, 'labels'), 'utf8'), 'app="ed"');
    assert.equal(readFileSync(join(info, 'mem'), 'utf8'), '64');
    await vm.tearDownPod(uid);
    assert.equal(await isMountPoint(mem), false);
    assert.equal(existsSync(join(podsDir.path, uid, 'volumes')), false);
  });

  it('checks hostPath types with upstream\'s messages and never deletes hostPath data on teardown', async () => {
    const path = join(hostDir.path, 'data');
    const pod = await createPod({
      metadata: { name: 'hp', namespace: 'default' },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'h', hostPath: { path, type: 'Directory' } }] },
    });
    await assert.rejects(vm.setUpPod(pod), { name: 'VolumeError', message: `MountVolume.SetUp failed for volume "h" : hostPath type check failed: ${path} does not exist` });
    const pod2 = await createPod({
      metadata: { name: 'hp2', namespace: 'default' },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'h', hostPath: { path, type: 'DirectoryOrCreate' } }] },
    });
    const volumes = await vm.setUpPod(pod2);
    assert.equal(volumes.get('h')!.hostPath, path);
    assert.equal(lstatSync(path).isDirectory(), true);
    await vm.tearDownPod(pod2.metadata!.uid!);
    assert.equal(existsSync(path), true);
  });
});
