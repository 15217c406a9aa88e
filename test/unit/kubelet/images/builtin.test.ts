// The built-in image k8ts.io/k8ts:v<version>: its root filesystem plan over a described host, its
// config and id, and the store that serves it without a pull and everything else from the inner store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  BuiltinImageStore,
  builtinImageConfig,
  builtinImageId,
  builtinImageReference,
  isBuiltinRepository,
  planBuiltinRootfs,
  type K8tsInstall,
  type PathKind,
} from '../../../../src/kubelet/images/builtin.js';
import { resolveProcessArgs, mergeEnv, DEFAULT_PATH_ENV } from '../../../../src/kubelet/runtime/process/ociSpec.js';
import { RuntimeError, type Image } from '../../../../src/kubelet/runtime/types.js';
import type { ImageStore, LocalImage } from '../../../../src/kubelet/images/types.js';
import { tempDir } from '../../../support/tmp.js';

const install: K8tsInstall = { dir: '/work/k8ts', version: '1.2.3', node: '/usr/bin/node' };

/** A merged-/usr Debian host with a checkout whose node_modules is a symlink elsewhere. */
const mergedUsr: Record<string, PathKind> = {
  '/usr': { kind: 'dir' },
  '/bin': { kind: 'symlink', target: 'usr/bin', resolved: '/usr/bin' },
  '/sbin': { kind: 'symlink', target: 'usr/sbin', resolved: '/usr/sbin' },
  '/lib': { kind: 'symlink', target: 'usr/lib', resolved: '/usr/lib' },
  '/lib64': { kind: 'symlink', target: 'usr/lib64', resolved: '/usr/lib64' },
  '/etc/ssl': { kind: 'dir' },
  '/etc/alternatives': { kind: 'dir' },
  '/etc/passwd': { kind: 'file' },
  '/etc/localtime': { kind: 'symlink', target: '/usr/share/zoneinfo/Etc/UTC', resolved: '/usr/share/zoneinfo/Etc/UTC' },
  '/work/k8ts': { kind: 'dir' },
  '/work/k8ts/node_modules': { kind: 'symlink', target: '/work/main/node_modules', resolved: '/work/main/node_modules' },
  '/usr/bin/node': { kind: 'file' },
};
/** An older host with real /bin and /lib, k8ts installed under /opt and Node from nvm. */
const splitRoot: Record<string, PathKind> = {
  '/usr': { kind: 'dir' },
  '/bin': { kind: 'dir' },
  '/lib': { kind: 'dir' },
  '/opt/k8ts': { kind: 'dir' },
  '/opt/k8ts/node_modules': { kind: 'dir' },
  '/root/.nvm/node': { kind: 'file' },
};

describe('planBuiltinRootfs', () => {
  it('recreates /bin, /sbin, /lib, /lib64 as the host\'s symlinks on a merged-/usr host and binds /usr read-only', () => {
    const plan = planBuiltinRootfs(install, (p) => mergedUsr[p]);
    assert.deepEqual(plan.symlinks, [
      { path: '/bin', target: 'usr/bin' },
      { path: '/sbin', target: 'usr/sbin' },
      { path: '/lib', target: 'usr/lib' },
      { path: '/lib64', target: 'usr/lib64' },
    ]);
    const mounts = plan.mounts.map((m) => `${m.hostPath} -> ${m.containerPath}${m.readonly ? ' ro' : ''}`);
    assert.deepEqual(mounts, [
      '/usr -> /usr ro',
      '/etc/ssl -> /etc/ssl ro',
      '/etc/alternatives -> /etc/alternatives ro',
      '/etc/passwd -> /etc/passwd ro',
      '/usr/share/zoneinfo/Etc/UTC -> /etc/localtime ro',
      '/work/k8ts -> /work/k8ts ro',
      '/work/main/node_modules -> /work/main/node_modules ro',
    ]);
  });

  it('binds real root dirs, the install dir and a Node binary outside /usr on a split-root host', () => {
    const plan = planBuiltinRootfs({ dir: '/opt/k8ts', version: '1', node: '/root/.nvm/node' }, (p) => splitRoot[p]);
    assert.deepEqual(plan.symlinks, []);
    assert.deepEqual(
      plan.mounts.map((m) => m.containerPath),
      ['/usr', '/bin', '/lib', '/opt/k8ts', '/root/.nvm/node'],
    );
    assert.ok(plan.mounts.every((m) => m.readonly));
  });

  it('puts a launcher on PATH that runs this installation\'s CLI with this Node binary', () => {
    const plan = planBuiltinRootfs(install, (p) => mergedUsr[p]);
    assert.equal(plan.launcher, "#!/bin/sh\n# k8ts 1.2.3 from /work/k8ts\nexec '/usr/bin/node' '/work/k8ts/bin/k8ts' \"$@\"\n");
    assert.ok(plan.dirs.includes('/k8ts/bin'));
    assert.ok(plan.dirs.includes('/tmp'));
  });
});

describe('the built-in image config', () => {
  const cfg = builtinImageConfig(install);
  const cases: { name: string; command: string[]; args: string[]; want: string[] }[] = [
    { name: 'a pod command k8ts … runs as given', command: ['k8ts', 'proxy', '--config=/c'], args: [], want: ['k8ts', 'proxy', '--config=/c'] },
    { name: 'pod args alone go to the k8ts entrypoint', command: [], args: ['dns', '--conf', '/etc/coredns/Corefile'], want: ['k8ts', 'dns', '--conf', '/etc/coredns/Corefile'] },
    { name: 'neither prints the CLI help', command: [], args: [], want: ['k8ts', '--help'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(resolveProcessArgs(c.command, c.args, cfg), c.want));
  it('puts the launcher directory first on PATH, over the runtime default', () => {
    const env = mergeEnv([[DEFAULT_PATH_ENV], cfg.Env ?? []]);
    assert.match(env[0]!, /^PATH=\/k8ts\/bin:/);
  });
  it('names the image k8ts.io/k8ts:v<version> and gives a new id when the installation changes', () => {
    assert.equal(builtinImageReference('1.2.3'), 'k8ts.io/k8ts:v1.2.3');
    const a = builtinImageId(install, planBuiltinRootfs(install, (p) => mergedUsr[p]));
    const moved = { ...install, dir: '/opt/k8ts' };
    const b = builtinImageId(moved, planBuiltinRootfs(moved, (p) => mergedUsr[p]));
    assert.match(a, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(a, b);
  });
  it('recognises its repository in any spelling and nothing else', () => {
    assert.equal(isBuiltinRepository('k8ts.io/k8ts:v1.2.3'), true);
    assert.equal(isBuiltinRepository('k8ts.io/k8ts'), true);
    assert.equal(isBuiltinRepository('docker.io/library/k8ts:v1'), false);
    assert.equal(isBuiltinRepository('busybox'), false);
  });
});

/** The inner store: one ordinary image. */
function innerStore(): ImageStore & { calls: string[] } {
  const calls: string[] = [];
  const busybox: Image = { id: 'sha256:bb', repoTags: ['docker.io/library/busybox:1'], repoDigests: [], size: 1n, username: '', pinned: false };
  return {
    calls,
    get: async (ref: string) => (calls.push(`get ${ref}`), undefined as LocalImage | undefined),
    listImages: async () => [busybox],
    imageStatus: async (s: { image: string }) => (calls.push(`status ${s.image}`), s.image.includes('busybox') ? busybox : undefined),
    pullImage: async (s: { image: string }) => (calls.push(`pull ${s.image}`), 'sha256:bb'),
    removeImage: async (s: { image: string }) => void calls.push(`remove ${s.image}`),
    imageFsInfo: async () => [],
    importArchive: async () => [],
  } as unknown as ImageStore & { calls: string[] };
}

describe('BuiltinImageStore', () => {
  const make = (root: string) => {
    const inner = innerStore();
    const here = { dir: join(root, 'install'), version: '1.2.3', node: process.execPath };
    return { inner, store: new BuiltinImageStore(inner, { root: join(root, 'builtin'), install: here }) };
  };

  it('serves the built-in image by reference and id without asking the inner store, pinned', async () => {
    const tmp = tempDir('k8ts-builtin-');
    try {
      const { inner, store } = make(tmp.path);
      const img = await store.imageStatus({ image: 'k8ts.io/k8ts:v1.2.3' });
      assert.equal(img?.id, store.id);
      assert.equal(img?.pinned, true);
      assert.deepEqual(img?.repoTags, ['k8ts.io/k8ts:v1.2.3']);
      assert.equal(await store.pullImage({ image: 'k8ts.io/k8ts:v1.2.3' }), store.id);
      assert.equal((await store.get(store.id))?.id, store.id);
      await store.removeImage({ image: store.id });
      assert.deepEqual(inner.calls, []);
      const all = await store.listImages();
      assert.deepEqual(all.map((i) => i.id), [store.id, 'sha256:bb']);
    } finally {
      tmp.remove();
    }
  });

  it('writes its layer once: mount points, the host symlinks and an executable launcher; the image carries its read-only binds', async () => {
    const tmp = tempDir('k8ts-builtin-');
    try {
      const { store } = make(tmp.path);
      const img = (await store.get('k8ts.io/k8ts:v1.2.3'))!;
      const layer = img.layers[0]!;
      const launcher = join(layer, 'k8ts', 'bin', 'k8ts');
      assert.ok(statSync(launcher).mode & 0o111, 'the launcher is executable');
      assert.match(readFileSync(launcher, 'utf8'), /bin\/k8ts" "\$@"|bin\/k8ts' "\$@"/);
      assert.equal(statSync(join(layer, 'tmp')).mode & 0o7777, 0o1777);
      for (const m of img.hostMounts ?? []) {
        assert.ok(m.readonly, `${m.containerPath} is read-only`);
        assert.ok(existsSync(join(layer, m.containerPath)), `mount point ${m.containerPath} exists in the layer`);
      }
      if (readlinkSafe('/bin')) assert.equal(readlinkSync(join(layer, 'bin')), readlinkSafe('/bin'));
      assert.equal((await store.get('k8ts.io/k8ts:v1.2.3'))!.layers[0], layer);
    } finally {
      tmp.remove();
    }
  });

  it('sends other images to the inner store', async () => {
    const tmp = tempDir('k8ts-builtin-');
    try {
      const { inner, store } = make(tmp.path);
      assert.equal((await store.imageStatus({ image: 'busybox:1' }))?.id, 'sha256:bb');
      assert.equal(await store.pullImage({ image: 'busybox:1' }), 'sha256:bb');
      assert.deepEqual(inner.calls, ['status busybox:1', 'pull busybox:1']);
    } finally {
      tmp.remove();
    }
  });

  it('answers a built-in reference of another version with an error naming this node\'s image, without a pull', async () => {
    const tmp = tempDir('k8ts-builtin-');
    try {
      const { inner, store } = make(tmp.path);
      assert.equal(await store.imageStatus({ image: 'k8ts.io/k8ts:v9.9.9' }), undefined);
      await assert.rejects(store.pullImage({ image: 'k8ts.io/k8ts:v9.9.9' }), (err: unknown) => err instanceof RuntimeError && err.code === 'ImageNotFound' && /k8ts\.io\/k8ts:v1\.2\.3/.test(err.message));
      assert.deepEqual(inner.calls, []);
    } finally {
      tmp.remove();
    }
  });
});

function readlinkSafe(p: string): string | undefined {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
}
