// FileImageStore against real archives (written by skopeo and by hand), real overlayfs mounts and a real
// registry (Debian's docker-registry) on loopback. Needs root (mknod, trusted xattrs, mount), as CI runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FileImageStore } from '../../../../src/kubelet/images/store.js';
import { ImageFormatError } from '../../../../src/kubelet/images/oci.js';
import { LayerError } from '../../../../src/kubelet/images/unpack.js';
import { isRuntimeError } from '../../../../src/kubelet/runtime/types.js';
import { buildBusyboxImage, freePort, layerTar, tarDirectory, writeOciLayout, type BuiltImage, type LayerEntry } from '../../../support/images.js';
import { tempDir } from '../../../support/tmp.js';

const tmp = tempDir('k8ts-images-');
after(() => tmp.remove());

let busybox: BuiltImage;
before(async () => {
  busybox = await buildBusyboxImage(join(tmp.path, 'busybox'), 'localhost/lab/busybox:1.35');
});

function newStore(name: string): FileImageStore {
  return new FileImageStore({ root: join(tmp.path, name, 'agent', 'images'), gcGraceMs: 0 });
}

// Two layers: the second deletes a file (whiteout), makes a directory opaque, and exercises ownership,
// set-id modes, symlinks and hardlinks.
const lowerLayer: LayerEntry[] = [
  { name: 'a/', type: 'directory' },
  { name: 'a/keep', content: 'kept\n' },
  { name: 'a/gone', content: 'deleted by the upper layer\n' },
  { name: 'd/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
  { name: 'd/old1', content: 'hidden by the opaque dir\n' },
  { name: 'd/sub/', type: 'directory' },
  { name: 'd/sub/old2', content: 'hidden too\n' },
];
const upperLayer: LayerEntry[] = [
  { name: 'a/.wh.gone' },
  { name: 'd/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
  { name: 'd/.wh..wh..opq' },
  { name: 'd/new', content: 'only this is left in d\n', uid: 1000, gid: 1001, mode: 0o640 },
  { name: 'bin/', type: 'directory' },
  { name: 'bin/tool', content: '#!/bin/sh\n', mode: 0o4755 },
  { name: 'bin/tool-link', type: 'link', linkname: 'bin/tool' },
  { name: 'bin/alias', type: 'symlink', linkname: '../a/keep' },
];

describe('FileImageStore: importing archives', () => {
  it('imports a docker-archive written by skopeo, with its RepoTags, and the layer runs', async () => {
    const store = newStore('docker-archive');
    const [img] = await store.importArchive(busybox.dockerArchive);
    assert.ok(img);
    assert.deepEqual(img.repoTags, ['localhost/lab/busybox:1.35']);
    assert.equal(img.repoDigests.length, 1);
    assert.match(img.repoDigests[0]!, /^localhost\/lab\/busybox@sha256:[a-f0-9]{64}$/);
    assert.deepEqual(img.config.Cmd, ['/bin/sh']);
    assert.equal(img.layers.length, 1);
    const layer = img.layers[0]!;
    assert.equal(lstatSync(join(layer, 'bin/busybox')).mode & 0o7777, 0o755);
    assert.equal(readlinkSync(join(layer, 'bin/sh')), 'busybox');
    assert.equal(execFileSync(join(layer, 'bin/busybox'), ['echo', 'hi from the layer'], { encoding: 'utf8' }), 'hi from the layer\n');
    const listed = await store.listImages();
    assert.deepEqual(listed.map((i) => [i.id, i.repoTags]), [[img.id, ['localhost/lab/busybox:1.35']]]);
    assert.ok(listed[0]!.size > 500_000n, `size ${listed[0]!.size}`);
    assert.equal((await store.imageStatus({ image: 'localhost/lab/busybox:1.35' }))?.id, img.id);
  });

  it('imports an OCI layout tar by its ref.name annotation, and reuses an already unpacked layer', async () => {
    const store = newStore('oci');
    const [img] = await store.importArchive(busybox.ociArchive);
    assert.ok(img);
    assert.equal(img.id, busybox.configDigest);
    assert.deepEqual(img.repoTags, ['localhost/lab/busybox:1.35']);
    assert.deepEqual(img.repoDigests, [`localhost/lab/busybox@${busybox.manifestDigest}`]);
    assert.equal(img.layers[0], join(store.root, 'layers', 'sha256', busybox.diffIds[0]!.slice(7)));
    // Same content again under another name: one layer directory, two tags on one image.
    const retag = join(tmp.path, 'retag');
    execFileSync('cp', ['-a', busybox.ociDir, retag]);
    const idx = JSON.parse(readFileSync(join(retag, 'index.json'), 'utf8'));
    idx.manifests[0].annotations['org.opencontainers.image.ref.name'] = 'latest';
    writeFileSync(join(retag, 'index.json'), JSON.stringify(idx));
    tarDirectory(retag, join(tmp.path, 'retag.tar'));
    const [tagged] = await store.importArchive(join(tmp.path, 'retag.tar'), { baseName: 'localhost/lab/busybox' });
    assert.equal(tagged?.id, img.id);
    assert.deepEqual(tagged?.repoTags.sort(), ['localhost/lab/busybox:1.35', 'localhost/lab/busybox:latest']);
    assert.equal(readdirSync(join(store.root, 'layers', 'sha256')).length, 1);
    assert.equal((await store.get('localhost/lab/busybox'))?.id, img.id, 'a bare name means :latest');
    assert.equal((await store.get(img.id.slice(7, 19)))?.id, img.id, 'a unique id prefix finds the image');
  });

  it('applies whiteouts as overlayfs does: deleted files and opaque directories disappear in the mounted rootfs', async (t) => {
    const dir = join(tmp.path, 'whiteout-image');
    await writeOciLayout(dir, { refName: 'localhost/lab/whiteouts:1', layers: [lowerLayer, upperLayer] });
    tarDirectory(dir, join(tmp.path, 'whiteouts.tar'));
    const store = newStore('whiteouts');
    const [img] = await store.importArchive(join(tmp.path, 'whiteouts.tar'));
    assert.ok(img);
    const [lower, upper] = img.layers as [string, string];
    const wh = lstatSync(join(upper, 'a/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a/.wh.gone became a 0/0 character device');
    assert.equal(existsSync(join(upper, 'a/.wh.gone')), false);
    assert.equal(existsSync(join(upper, 'd/.wh..wh..opq')), false);
    const d = lstatSync(join(upper, 'd'));
    assert.deepEqual([d.mode & 0o7777, d.uid, d.gid], [0o750, 1000, 1000]);
    const tool = lstatSync(join(upper, 'bin/tool'));
    assert.equal(tool.mode & 0o7777, 0o4755, 'set-uid bit kept');
    assert.equal(lstatSync(join(upper, 'bin/tool-link')).ino, tool.ino, 'hardlink shares the inode');
    assert.equal(readlinkSync(join(upper, 'bin/alias')), '../a/keep');
    const f = lstatSync(join(upper, 'd/new'));
    assert.deepEqual([f.mode & 0o7777, f.uid, f.gid], [0o640, 1000, 1001]);
    assert.equal(lstatSync(join(upper, 'd/new')).mtime.toISOString(), '2024-01-02T03:04:05.000Z');

    const merged = join(tmp.path, 'merged');
    mkdirSync(merged);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower}`, merged]);
    t.after(() => execFileSync('umount', [merged]));
    assert.deepEqual(readdirSync(join(merged, 'a')).sort(), ['keep']);
    assert.deepEqual(readdirSync(join(merged, 'd')).sort(), ['new'], 'the opaque d hides old1 and sub');
    assert.equal(readFileSync(join(merged, 'bin/alias'), 'utf8'), 'kept\n');

    // The store refuses to delete a layer a mounted overlay uses.
    await store.removeImage({ image: 'localhost/lab/whiteouts:1' });
    assert.equal(await store.get('localhost/lab/whiteouts:1'), undefined);
    assert.ok(existsSync(upper), 'a mounted layer is kept');
  });

  it('without root, opaque directories carry user.overlay.opaque, which an overlay mounted with userxattr honours', async (t) => {
    const nobodyDir = tempDir('k8ts-images-nobody-');
    const merged = join(nobodyDir.path, 'merged');
    t.after(() => {
      if (readFileSync('/proc/self/mounts', 'utf8').includes(merged)) execFileSync('umount', [merged]);
      nobodyDir.remove();
    });
    chmodSync(nobodyDir.path, 0o777);
    await writeOciLayout(join(nobodyDir.path, 'l'), { refName: 'localhost/lab/rootless:1', layers: [lowerLayer, upperLayer] });
    tarDirectory(join(nobodyDir.path, 'l'), join(nobodyDir.path, 'rootless.tar'));
    chmodSync(join(nobodyDir.path, 'rootless.tar'), 0o644);
    const storeModule = new URL('../../../../src/kubelet/images/store.js', import.meta.url).href;
    const script = `const { FileImageStore } = await import(${JSON.stringify(storeModule)});
const [img] = await new FileImageStore({ root: process.argv[1] }).importArchive(process.argv[2]);
process.stdout.write(JSON.stringify(img.layers));`;
    const out = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script, join(nobodyDir.path, 'store'), join(nobodyDir.path, 'rootless.tar')],
      { encoding: 'utf8', env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } },
    );
    const [lower, upper] = JSON.parse(out) as [string, string];
    assert.ok(lstatSync(join(upper, 'a/gone')).isCharacterDevice(), 'whiteout devices need no privilege');
    mkdirSync(merged);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower},userxattr`, merged]);
    assert.deepEqual(readdirSync(join(merged, 'a')), ['keep']);
    assert.deepEqual(readdirSync(join(merged, 'd')), ['new']);
  });

  it('a directory the tar only implies keeps the lower layer’s mode and owner; a whiteout never hides its own layer’s file', async () => {
    const dir = join(tmp.path, 'implied');
    await writeOciLayout(dir, {
      refName: 'localhost/lab/implied:1',
      layers: [
        [
          { name: 'd/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000 },
          { name: 'd/x', content: 'x' },
          { name: 'd/y', content: 'y' },
        ],
        [
          { name: 'd/.wh.x' },
          { name: 'd/z', content: 'z' },
          { name: '.wh.w' },
          { name: 'w', content: 'written after its own whiteout' },
        ],
      ],
    });
    tarDirectory(dir, `${dir}.tar`);
    const [img] = await newStore('implied').importArchive(`${dir}.tar`);
    const upper = img!.layers[1]!;
    const d = lstatSync(join(upper, 'd'));
    assert.deepEqual([d.mode & 0o7777, d.uid, d.gid], [0o700, 1000, 1000]);
    assert.ok(lstatSync(join(upper, 'd/x')).isCharacterDevice());
    assert.equal(readFileSync(join(upper, 'w'), 'utf8'), 'written after its own whiteout');
  });

  it('imports a gzip-compressed docker-archive (docker save | gzip) and an OCI layout whose index.json points at a multi-platform index', async () => {
    const store = newStore('gz');
    writeFileSync(join(tmp.path, 'busybox.tar.gz'), gzipSync(readFileSync(busybox.dockerArchive)));
    const [a] = await store.importArchive(join(tmp.path, 'busybox.tar.gz'));
    assert.deepEqual(a?.repoTags, ['localhost/lab/busybox:1.35']);

    const dir = join(tmp.path, 'nested');
    const arm = await writeOciLayout(join(dir, 'arm'), { layers: [[{ name: 'arch', content: 'arm64' }]], architecture: 'arm64' });
    const amd = await writeOciLayout(dir, { layers: [[{ name: 'arch', content: 'amd64' }]], architecture: 'amd64' });
    execFileSync('sh', ['-c', `cp ${join(dir, 'arm', 'blobs', 'sha256')}/* ${join(dir, 'blobs', 'sha256')}/`]);
    const size = (d: string) => lstatSync(join(dir, 'blobs', 'sha256', d.slice(7))).size;
    const nested = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: arm.manifestDigest, size: size(arm.manifestDigest), platform: { os: 'linux', architecture: 'arm64' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amd.manifestDigest, size: size(amd.manifestDigest), platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    const { createHash } = await import('node:crypto');
    const nestedDigest = `sha256:${createHash('sha256').update(nested).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', 'sha256', nestedDigest.slice(7)), nested);
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: nestedDigest, size: nested.length, annotations: { 'org.opencontainers.image.ref.name': 'localhost/lab/multi:1' } }],
      }),
    );
    tarDirectory(dir, `${dir}.tar`);
    const store2 = new FileImageStore({ root: join(tmp.path, 'nested-store'), platform: { os: 'linux', architecture: 'arm64' } });
    const [b] = await store2.importArchive(`${dir}.tar`);
    assert.equal(b?.id, arm.configDigest);
    assert.equal(readFileSync(join(b!.layers[0]!, 'arch'), 'utf8'), 'arm64');
  });

  it('removing an image deletes its blobs and layers but keeps layers another image shares', async () => {
    const store = newStore('remove');
    const base = join(tmp.path, 'rm-a');
    const other = join(tmp.path, 'rm-b');
    const a = await writeOciLayout(base, { refName: 'localhost/rm/a:1', layers: [lowerLayer] });
    const b = await writeOciLayout(other, { refName: 'localhost/rm/b:1', layers: [lowerLayer, [{ name: 'extra', content: 'x' }]] });
    tarDirectory(base, `${base}.tar`);
    tarDirectory(other, `${other}.tar`);
    await store.importArchive(`${base}.tar`);
    await store.importArchive(`${other}.tar`);
    assert.equal(readdirSync(join(store.root, 'layers', 'sha256')).length, 2);
    await store.removeImage({ image: 'localhost/rm/b:1' });
    assert.deepEqual(readdirSync(join(store.root, 'layers', 'sha256')), [a.diffIds[0]!.slice(7)]);
    assert.equal(existsSync(join(store.root, 'blobs', 'sha256', b.layerDigests[1]!.slice(7))), false);
    assert.equal(existsSync(join(store.root, 'blobs', 'sha256', a.layerDigests[0]!.slice(7))), true);
    await store.removeImage({ image: 'localhost/rm/b:1' }); // gone already: not an error, as CRI
    const [fs] = await store.imageFsInfo();
    assert.ok(fs && fs.usedBytes > 0n && fs.inodesUsed > 0n);
  });

  it('keeps unreferenced blobs and layers younger than the grace period (another process may be mid-pull)', async () => {
    const store = new FileImageStore({ root: join(tmp.path, 'grace', 'agent', 'images') });
    const dir = join(tmp.path, 'grace-a');
    await writeOciLayout(dir, { refName: 'localhost/grace/a:1', layers: [[{ name: 'g', content: 'g' }]] });
    tarDirectory(dir, `${dir}.tar`);
    const [img] = await store.importArchive(`${dir}.tar`);
    await store.removeImage({ image: img!.id });
    assert.equal(await store.get(img!.id), undefined);
    assert.ok(existsSync(img!.layers[0]!), 'a fresh layer survives the collection');
  });

  it('reports pinned images (e.g. the pause image) as pinned', async () => {
    const store = new FileImageStore({ root: join(tmp.path, 'pinned', 'agent', 'images'), pinnedImages: ['localhost/lab/busybox:1.35'] });
    await store.importArchive(busybox.ociArchive);
    assert.equal((await store.imageStatus({ image: 'localhost/lab/busybox:1.35' }))?.pinned, true);
  });

  it('a second store on the same directory (another process) sees new images without a restart', async () => {
    const kubelet = newStore('shared');
    assert.equal(await kubelet.get('localhost/lab/busybox:1.35'), undefined);
    await newStore('shared').importArchive(busybox.dockerArchive);
    assert.equal((await kubelet.get('localhost/lab/busybox:1.35'))?.repoTags[0], 'localhost/lab/busybox:1.35');
  });
});

describe('FileImageStore: bad archives fail with a message that names the problem', () => {
  const cases: { name: string; build: (dir: string) => Promise<string>; error: typeof ImageFormatError | typeof LayerError; match: RegExp }[] = [
    {
      name: 'a file that is not a tar',
      build: async (dir) => (writeFileSync(join(dir, 'x.tar'), 'this is not a tar file at all'.repeat(40)), join(dir, 'x.tar')),
      error: ImageFormatError,
      match: /not an image archive/,
    },
    {
      name: 'a tar with neither manifest.json nor index.json',
      build: async (dir) => (writeFileSync(join(dir, 'x.tar'), await layerTar([{ name: 'hello.txt', content: 'hi' }])), join(dir, 'x.tar')),
      error: ImageFormatError,
      match: /neither manifest\.json .* nor index\.json/,
    },
    {
      name: 'an OCI layout whose layer blob is missing',
      build: async (dir) => {
        const w = await writeOciLayout(join(dir, 'l'), { refName: 'localhost/bad/missing:1', layers: [[{ name: 'f', content: 'x' }]] });
        execFileSync('rm', [join(dir, 'l', 'blobs', 'sha256', w.layerDigests[0]!.slice(7))]);
        tarDirectory(join(dir, 'l'), join(dir, 'x.tar'));
        return join(dir, 'x.tar');
      },
      error: ImageFormatError,
      match: /layer .* is missing from the archive/,
    },
    {
      name: 'a layer whose content does not match the digest the manifest gives',
      build: async (dir) => {
        const w = await writeOciLayout(join(dir, 'l'), { refName: 'localhost/bad/digest:1', layers: [[{ name: 'f', content: 'x' }]] });
        writeFileSync(join(dir, 'l', 'blobs', 'sha256', w.layerDigests[0]!.slice(7)), gzipSync(await layerTar([{ name: 'f', content: 'tampered' }])));
        tarDirectory(join(dir, 'l'), join(dir, 'x.tar'));
        return join(dir, 'x.tar');
      },
      error: ImageFormatError,
      match: /does not match its digest/,
    },
    {
      name: 'a zstd-compressed layer',
      build: async (dir) => {
        const raw = join(dir, 'layer.tar');
        writeFileSync(raw, await layerTar([{ name: 'f', content: 'x' }]));
        execFileSync('zstd', ['-q', raw, '-o', `${raw}.zst`]);
        const w = await writeOciLayout(join(dir, 'l'), { refName: 'localhost/bad/zstd:1', layers: [[{ name: 'f', content: 'x' }]], gzip: false });
        // Swap the layer blob for its zstd form and fix the manifest's descriptor.
        const zst = readFileSync(`${raw}.zst`);
        const { createHash } = await import('node:crypto');
        const zdigest = createHash('sha256').update(zst).digest('hex');
        writeFileSync(join(dir, 'l', 'blobs', 'sha256', zdigest), zst);
        const mpath = join(dir, 'l', 'blobs', 'sha256', w.manifestDigest.slice(7));
        const m = JSON.parse(readFileSync(mpath, 'utf8'));
        m.layers[0] = { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: `sha256:${zdigest}`, size: zst.length };
        const mb = Buffer.from(JSON.stringify(m));
        const mdigest = createHash('sha256').update(mb).digest('hex');
        writeFileSync(join(dir, 'l', 'blobs', 'sha256', mdigest), mb);
        const idx = JSON.parse(readFileSync(join(dir, 'l', 'index.json'), 'utf8'));
        idx.manifests[0].digest = `sha256:${mdigest}`;
        idx.manifests[0].size = mb.length;
        writeFileSync(join(dir, 'l', 'index.json'), JSON.stringify(idx));
        tarDirectory(join(dir, 'l'), join(dir, 'x.tar'));
        return join(dir, 'x.tar');
      },
      error: ImageFormatError,
      match: /zstd-compressed/,
    },
    {
      name: 'a layer that writes through a symlink it planted',
      build: async (dir) => {
        await writeOciLayout(join(dir, 'l'), {
          refName: 'localhost/bad/symlink:1',
          layers: [[{ name: 'etc', type: 'symlink', linkname: '/tmp' }, { name: 'etc/planted', content: 'x' }]],
        });
        tarDirectory(join(dir, 'l'), join(dir, 'x.tar'));
        return join(dir, 'x.tar');
      },
      error: LayerError,
      match: /not a directory/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = join(tmp.path, `bad-${c.name.replace(/\W+/g, '-')}`);
      mkdirSync(dir, { recursive: true });
      const file = await c.build(dir);
      const store = newStore(`bad-store-${c.name.replace(/\W+/g, '-')}`);
      await assert.rejects(store.importArchive(file), (err: Error) => {
        assert.ok(err instanceof c.error, `${err.name}: ${err.message}`);
        assert.match(err.message, c.match);
        return true;
      });
      assert.deepEqual(await store.listImages(), []);
      assert.deepEqual(readdirSync(join(store.root, 'layers', 'sha256')), [], 'no half-unpacked layer is left');
    });
  }

  it('a member that climbs out of the root is kept inside it, as containerd does (the path is cleaned against /)', async () => {
    const dir = join(tmp.path, 'climb');
    await writeOciLayout(dir, { refName: 'localhost/bad/climb:1', layers: [[{ name: '../../escaped', content: 'x' }]] });
    tarDirectory(dir, `${dir}.tar`);
    const store = newStore('climb');
    const [img] = await store.importArchive(`${dir}.tar`);
    assert.equal(readFileSync(join(img!.layers[0]!, 'escaped'), 'utf8'), 'x');
    assert.equal(existsSync(join(store.root, 'layers', 'escaped')), false);
    assert.equal(existsSync(join(store.root, 'escaped')), false);
  });

  it('a missing file says so', async () => {
    await assert.rejects(newStore('missing').importArchive(join(tmp.path, 'nope.tar')), /no such file/);
  });
});

describe('FileImageStore: pull errors that need no registry', () => {
  it('a closed port is RegistryUnavailable with the dial error', async () => {
    const port = await freePort();
    await assert.rejects(newStore('pull-closed').pullImage({ image: `127.0.0.1:${port}/lab/busybox:1` }), (err: unknown) => {
      assert.ok(isRuntimeError(err, 'RegistryUnavailable'), String(err));
      assert.match(err.message, new RegExp(`^failed to pull and unpack image "127\\.0\\.0\\.1:${port}/lab/busybox:1": failed to resolve reference .*connection refused`));
      return true;
    });
  });
  it('a reference that cannot be parsed is InvalidArgument', async () => {
    await assert.rejects(newStore('pull-bad').pullImage({ image: 'UPPER/Case' }), (err: unknown) => isRuntimeError(err, 'InvalidArgument'));
  });
});
