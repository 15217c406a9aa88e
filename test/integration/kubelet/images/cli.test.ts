// `k8ts images …` run as separate processes against a data dir that a FileImageStore in this process
// (standing in for the running kubelet) also uses.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageStoreRoot } from '../../../../src/cli/imagesCommand.js';
import { FileImageStore } from '../../../../src/kubelet/images/store.js';
import { buildBusyboxImage, pushImage, startRegistry, type BuiltImage, type RunningRegistry } from '../../../support/images.js';
import { tempDir } from '../../../support/tmp.js';

const tmp = tempDir('k8ts-images-cli-');
const dataDir = join(tmp.path, 'data');
let busybox: BuiltImage;
let registry: RunningRegistry;
before(async () => {
  busybox = await buildBusyboxImage(join(tmp.path, 'busybox'), 'localhost/lab/busybox:1.35');
  registry = await startRegistry(join(tmp.path, 'registry'));
});
after(async () => {
  await registry?.stop();
  tmp.remove();
});

const commandModule = new URL('../../../../src/cli/imagesCommand.js', import.meta.url).href;
const script = `
const { Command } = await import('commander');
const { registerImagesCommand } = await import(${JSON.stringify(commandModule)});
const program = new Command('k8ts').exitOverride();
registerImagesCommand(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;

function k8ts(...args: string[]) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { encoding: 'utf8', env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('k8ts images', () => {
  it('import, ls, pull, rm; a running kubelet’s store sees each change without a restart', async () => {
    const kubelet = new FileImageStore({ root: imageStoreRoot(dataDir) });
    assert.deepEqual(await kubelet.listImages(), []);

    const imp = k8ts('images', 'import', busybox.dockerArchive, '--data-dir', dataDir);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal(imp.stdout, `imported localhost/lab/busybox:1.35 (${(await kubelet.get('localhost/lab/busybox:1.35'))!.id})\n`);

    const ref = `${registry.host}/lab/busybox:2`;
    pushImage({ ociDir: busybox.ociDir, ref: 'localhost/lab/busybox:1.35' }, ref);
    const pull = k8ts('images', 'pull', ref, '--data-dir', dataDir);
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(pull.stdout, `Image is up to date for ${busybox.configDigest}\n`);
    assert.equal((await kubelet.get(ref))?.id, busybox.configDigest);

    const ls = k8ts('images', 'ls', '--data-dir', dataDir);
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stdout.trimEnd().split('\n').map((l) => l.split(/\s{3,}/));
    assert.deepEqual(lines[0], ['IMAGE', 'TAG', 'IMAGE ID', 'SIZE']);
    assert.deepEqual(
      lines.slice(1).map((l) => l.slice(0, 2)).sort(),
      [
        [`${registry.host}/lab/busybox`, '2'],
        ['localhost/lab/busybox', '1.35'],
      ].sort(),
    );
    for (const l of lines.slice(1)) {
      assert.match(l[2]!, /^[a-f0-9]{13}$/);
      assert.match(l[3]!, /^[\d.]+(kB|MB)$/);
    }

    // Both names are one image (skopeo kept the config, so the id is the same); rm removes the image
    // with every tag, as CRI RemoveImage (crictl rmi) does.
    const rm = k8ts('images', 'rm', ref, '--data-dir', dataDir);
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(rm.stdout.trimEnd().split('\n').sort(), [`Deleted: ${ref}`, 'Deleted: localhost/lab/busybox:1.35'].sort());
    assert.equal(await kubelet.get(ref), undefined);
    assert.deepEqual(await kubelet.listImages(), []);

    const missing = k8ts('images', 'rm', 'localhost/nothing:1', '--data-dir', dataDir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such image localhost\/nothing:1/);
  });

  it('two imports running at once into one store both land (the index is updated under a lock)', async () => {
    const dir = join(tmp.path, 'concurrent');
    const other = await buildBusyboxImage(join(tmp.path, 'other'), 'localhost/lab/other:1', { Cmd: ['/bin/true'] });
    const run = (file: string) =>
      new Promise<number | null>((resolve) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script, 'images', 'import', file, '--data-dir', dir], { stdio: 'ignore', env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
        c.once('close', resolve);
      });
    assert.deepEqual(await Promise.all([run(busybox.dockerArchive), run(other.ociArchive)]), [0, 0]);
    const store = new FileImageStore({ root: imageStoreRoot(dir) });
    assert.deepEqual((await store.listImages()).flatMap((i) => i.repoTags).sort(), ['localhost/lab/busybox:1.35', 'localhost/lab/other:1']);
  });

  it('reports a bad archive and a failed pull in one line and exits 1', () => {
    const bad = k8ts('images', 'import', join(tmp.path, 'nope.tar'), '--data-dir', dataDir);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: importing .*nope\.tar: .*no such file\n$/);
    const pull = k8ts('images', 'pull', `${registry.host}/lab/missing:1`, '--data-dir', dataDir);
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, /^Error: failed to pull and unpack image ".*\/lab\/missing:1": failed to resolve reference .*: not found\n$/);
  });
});
