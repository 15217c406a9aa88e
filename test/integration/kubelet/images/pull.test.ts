// Pulls through FileImageStore: from Debian's docker-registry on loopback (anonymous and htpasswd Basic
// auth, images pushed by skopeo), and from an in-test HTTP registry that demands Bearer tokens from a token
// server and serves a multi-platform index (the Docker Hub flow, which no test can reach).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { FileImageStore } from '../../../../src/kubelet/images/store.js';
import { hostPlatform } from '../../../../src/kubelet/images/oci.js';
import { isRuntimeError } from '../../../../src/kubelet/runtime/types.js';
import { buildBusyboxImage, layerTar, pushImage, REGISTRY_USER, startRegistry, writeOciLayout, type BuiltImage, type RunningRegistry } from '../../../support/images.js';
import { tempDir } from '../../../support/tmp.js';

const tmp = tempDir('k8ts-pull-');
let busybox: BuiltImage;
let registry: RunningRegistry;
let authRegistry: RunningRegistry;

before(async () => {
  busybox = await buildBusyboxImage(join(tmp.path, 'busybox'), 'localhost/lab/busybox:1.35');
  [registry, authRegistry] = await Promise.all([startRegistry(join(tmp.path, 'registry')), startRegistry(join(tmp.path, 'auth-registry'), { basicAuth: true })]);
});
after(async () => {
  await Promise.all([registry?.stop(), authRegistry?.stop()]);
  tmp.remove();
});

const newStore = (name: string) => new FileImageStore({ root: join(tmp.path, name, 'agent', 'images') });

/** Counts fetches whose URL matches, while `fn` runs. */
async function countingFetches<T>(pattern: RegExp, fn: () => Promise<T>): Promise<{ result: T; count: number }> {
  const real = globalThis.fetch;
  let count = 0;
  globalThis.fetch = (input, init) => {
    if (pattern.test(String(input instanceof Request ? input.url : input))) count++;
    return real(input, init);
  };
  try {
    return { result: await fn(), count };
  } finally {
    globalThis.fetch = real;
  }
}

describe('pulling from a real registry on loopback', () => {
  it('pulls an image skopeo pushed from an OCI layout; three concurrent pulls share one download', async () => {
    const ref = `${registry.host}/lab/busybox:1`;
    pushImage({ ociDir: busybox.ociDir, ref: 'localhost/lab/busybox:1.35' }, ref);
    const store = newStore('pull-oci');
    const { result: ids, count } = await countingFetches(/\/blobs\//, () =>
      Promise.all([store.pullImage({ image: ref }), store.pullImage({ image: ref }), store.pullImage({ image: ref })]),
    );
    assert.deepEqual(ids, [busybox.configDigest, busybox.configDigest, busybox.configDigest]);
    assert.equal(count, 2, 'one config and one layer download');
    const img = await store.get(ref);
    assert.ok(img);
    assert.deepEqual(img.repoTags, [ref]);
    assert.deepEqual(img.repoDigests, [`${registry.host}/lab/busybox@${busybox.manifestDigest}`]);
    assert.equal(execFileSync(join(img.layers[0]!, 'bin/busybox'), ['echo', 'pulled'], { encoding: 'utf8' }), 'pulled\n');
    // Pulling again finds the layer unpacked and downloads no blob.
    const again = await countingFetches(/\/blobs\//, () => store.pullImage({ image: ref }));
    assert.equal(again.count, 0);
    // By digest: the same image, no tag added.
    const byDigest = `${registry.host}/lab/busybox@${busybox.manifestDigest}`;
    assert.equal(await store.pullImage({ image: byDigest }), busybox.configDigest);
    assert.equal((await store.imageStatus({ image: byDigest }))?.id, busybox.configDigest);
  });

  it('pulls a Docker schema2 image (pushed from a docker-archive)', async () => {
    const ref = `${registry.host}/lab/busybox-docker:2`;
    pushImage({ dockerArchive: busybox.dockerArchive }, ref);
    const manifest = await fetch(`http://${registry.host}/v2/lab/busybox-docker/manifests/2`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
    const store = newStore('pull-docker');
    const id = await store.pullImage({ image: ref });
    const img = await store.get(ref);
    assert.equal(img?.id, id);
    assert.deepEqual(img?.config.Cmd, ['/bin/sh']);
  });

  it('a tag the registry does not have is ImageNotFound with containerd’s message', async () => {
    const ref = `${registry.host}/lab/nothere:1`;
    await assert.rejects(newStore('pull-404').pullImage({ image: ref }), (err: unknown) => {
      assert.ok(isRuntimeError(err, 'ImageNotFound'), String(err));
      assert.equal(err.message, `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`);
      return true;
    });
  });

  it('Basic auth (htpasswd): refused without credentials, pulled with them', async () => {
    const ref = `${authRegistry.host}/private/busybox:1`;
    pushImage({ ociDir: busybox.ociDir, ref: 'localhost/lab/busybox:1.35' }, ref, REGISTRY_USER);
    const store = newStore('pull-basic');
    await assert.rejects(store.pullImage({ image: ref }), (err: unknown) => {
      assert.ok(isRuntimeError(err, 'ImagePullFailed'), String(err));
      assert.match(err.message, /pull access denied, repository does not exist or may require authorization: server message: unauthorized/);
      return true;
    });
    await assert.rejects(store.pullImage({ image: ref }, { username: 'k8ts', password: 'wrong' }), (err: unknown) => isRuntimeError(err, 'ImagePullFailed'));
    assert.equal(await store.pullImage({ image: ref }, { auth: Buffer.from(`${REGISTRY_USER.username}:${REGISTRY_USER.password}`).toString('base64') }), busybox.configDigest);
  });
});

/** A registry double: Bearer tokens from /token (Basic-authenticated), blobs and manifests from maps. */
async function startTokenRegistry(content: { manifests: Map<string, { type: string; body: Buffer }>; blobs: Map<string, Buffer> }) {
  const issued = new Set<string>();
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const host = req.headers.host!;
    log.push(`${req.method} ${url.pathname}`);
    if (url.pathname === '/token') {
      const want = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      assert.equal(url.searchParams.get('service'), 'test-registry');
      assert.equal(url.searchParams.get('scope'), 'repository:team/app:pull');
      const token = `tok-${issued.size + 1}`;
      issued.add(token);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    if (!auth || !issued.has(auth)) {
      res
        .writeHead(401, {
          'Content-Type': 'application/json',
          'WWW-Authenticate': `Bearer realm="http://${host}/token",service="test-registry"${url.pathname === '/v2/' ? '' : ',scope="repository:team/app:pull"'}`,
        })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
    const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
    const found = m && (m[1] === 'manifests' ? content.manifests.get(m[2]!) : content.blobs.get(m[2]!));
    if (!found) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
      return;
    }
    if (Buffer.isBuffer(found)) res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(found);
    else res.writeHead(200, { 'Content-Type': found.type }).end(found.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { host: `127.0.0.1:${port}`, log, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('pulling with Bearer tokens and a multi-platform index (registry double)', () => {
  it('gets a token with Basic credentials, picks the host platform from the index, verifies blobs', async (t) => {
    const here = hostPlatform();
    const other = here.architecture === 'amd64' ? 'arm64' : 'amd64';
    const dir = join(tmp.path, 'multi');
    const mine = await writeOciLayout(join(dir, 'mine'), { layers: [[{ name: 'platform', content: here.architecture }]], architecture: here.architecture });
    const theirs = await writeOciLayout(join(dir, 'theirs'), { layers: [[{ name: 'platform', content: other }]], architecture: other });
    const blobs = new Map<string, Buffer>();
    const manifests = new Map<string, { type: string; body: Buffer }>();
    for (const [w, d] of [[mine, 'mine'], [theirs, 'theirs']] as const) {
      for (const digest of [w.configDigest, ...w.layerDigests]) blobs.set(digest, readFileSync(join(dir, d, 'blobs', 'sha256', digest.slice(7))));
      manifests.set(w.manifestDigest, { type: 'application/vnd.oci.image.manifest.v1+json', body: readFileSync(join(dir, d, 'blobs', 'sha256', w.manifestDigest.slice(7))) });
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: theirs.manifestDigest, size: manifests.get(theirs.manifestDigest)!.body.length, platform: { os: 'linux', architecture: other } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: mine.manifestDigest, size: manifests.get(mine.manifestDigest)!.body.length, platform: { os: 'linux', architecture: here.architecture } },
        ],
      }),
    );
    manifests.set('v1', { type: 'application/vnd.oci.image.index.v1+json', body: index });
    const reg = await startTokenRegistry({ manifests, blobs });
    t.after(() => reg.stop());

    const store = newStore('pull-bearer');
    const ref = `${reg.host}/team/app:v1`;
    await assert.rejects(store.pullImage({ image: ref }, { username: 'alice', password: 'nope' }), (err: unknown) => {
      assert.ok(isRuntimeError(err, 'ImagePullFailed'), String(err));
      assert.match(err.message, /failed to authorize: failed to fetch oauth token: unexpected status from GET request to http:\/\/127\.0\.0\.1:\d+\/token: 401/);
      return true;
    });
    const id = await store.pullImage({ image: ref }, { username: 'alice', password: 'wonderland' });
    assert.equal(id, mine.configDigest);
    const img = await store.get(ref);
    assert.equal(readFileSync(join(img!.layers[0]!, 'platform'), 'utf8'), here.architecture);
    assert.deepEqual(img!.repoDigests, [`${reg.host}/team/app@${mine.manifestDigest}`]);
    assert.ok(!reg.log.some((l) => l.includes(theirs.layerDigests[0]!)), 'the other platform’s layer is not downloaded');

    // A blob whose bytes do not match its digest is refused.
    const bad = await writeOciLayout(join(dir, 'bad'), { layers: [[{ name: 'f', content: 'good' }]] });
    manifests.set('bad', { type: 'application/vnd.oci.image.manifest.v1+json', body: readFileSync(join(dir, 'bad', 'blobs', 'sha256', bad.manifestDigest.slice(7))) });
    blobs.set(bad.configDigest, readFileSync(join(dir, 'bad', 'blobs', 'sha256', bad.configDigest.slice(7))));
    const tampered = gzipSync(await layerTar([{ name: 'f', content: 'evil' }]));
    blobs.set(bad.layerDigests[0]!, tampered);
    await assert.rejects(store.pullImage({ image: `${reg.host}/team/app:bad` }, { username: 'alice', password: 'wonderland' }), (err: unknown) => {
      assert.ok(isRuntimeError(err, 'ImagePullFailed'), String(err));
      assert.match(err.message, new RegExp(`unexpected commit digest sha256:${createHash('sha256').update(tampered).digest('hex')}, expected ${bad.layerDigests[0]}`));
      return true;
    });
    assert.equal(await store.get(`${reg.host}/team/app:bad`), undefined);
  });
});

