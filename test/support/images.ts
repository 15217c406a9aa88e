// Images for tests, built offline: OCI layouts written here in TypeScript (layers are tar-stream tars),
// docker-archives converted from them by skopeo, a real registry (Debian's docker-registry) on a free
// loopback port, and pushes with skopeo. Nothing here touches the internet.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { OciImageConfig } from '../../src/kubelet/images/types.js';
import { tempDir } from './tmp.js';

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  content?: string | Buffer;
  linkname?: string;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** An uncompressed layer tar from entries, in order. */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date('2024-01-02T03:04:05Z'),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
    };
    if (type === 'file') pack.entry(header, typeof e.content === 'string' ? Buffer.from(e.content) : (e.content ?? Buffer.alloc(0)));
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface WrittenImage {
  manifestDigest: string;
  /** The image id. */
  configDigest: string;
  diffIds: string[];
  layerDigests: string[];
}

/**
 * Writes an OCI image layout at `dir` (created) holding one image whose index entry carries
 * `org.opencontainers.image.ref.name = refName` (a full reference or a bare tag, as umoci writes).
 */
export async function writeOciLayout(
  dir: string,
  opts: { refName?: string; layers: LayerEntry[][]; config?: OciImageConfig; gzip?: boolean; architecture?: string; os?: string; layerMediaType?: string },
): Promise<WrittenImage> {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const h = sha256(b);
    writeFileSync(join(dir, 'blobs', 'sha256', h), b);
    return `sha256:${h}`;
  };
  const diffIds: string[] = [];
  const layers = [];
  for (const entries of opts.layers) {
    const raw = await layerTar(entries);
    diffIds.push(`sha256:${sha256(raw)}`);
    const blob = opts.gzip === false ? raw : gzipSync(raw);
    const mediaType = opts.layerMediaType ?? (opts.gzip === false ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip');
    layers.push({ mediaType, digest: put(blob), size: blob.length });
  }
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-02T03:04:05Z',
      architecture: opts.architecture ?? 'amd64',
      os: opts.os ?? 'linux',
      config: opts.config ?? {},
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'k8ts test' })),
    }),
  );
  const configDigest = put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers,
    }),
  );
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          ...(opts.refName ? { annotations: { 'org.opencontainers.image.ref.name': opts.refName } } : {}),
        },
      ],
    }),
  );
  return { manifestDigest, configDigest, diffIds, layerDigests: layers.map((l) => l.digest) };
}

/** The busybox root filesystem layer: /bin/busybox (busybox-static) with every applet as a symlink, /etc/passwd, /etc/group. */
export function busyboxLayer(): LayerEntry[] {
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', mode: 0o755, content: readFileSync('/bin/busybox') },
    ...applets.map((a): LayerEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { name: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'proc/', type: 'directory' },
    { name: 'sys/', type: 'directory' },
    { name: 'dev/', type: 'directory' },
    { name: 'root/', type: 'directory', mode: 0o700 },
  ];
}

export interface BuiltImage extends WrittenImage {
  /** The OCI layout directory. */
  ociDir: string;
  /** `tar -C ociDir -cf` of it. */
  ociArchive: string;
  /** The docker-archive skopeo wrote from the layout, tagged `ref`. */
  dockerArchive: string;
}

/** Tars a directory's contents (what `tar -C dir -cf file .` writes). */
export function tarDirectory(dir: string, file: string): void {
  execFileSync('tar', ['-C', dir, '-cf', file, '.']);
}

/**
 * Builds a busybox image offline under `dir`: an OCI layout (ref name = `ref`), the same as a tar,
 * and a docker-archive tagged `ref` (converted with skopeo, as `docker save` would write it).
 */
export async function buildBusyboxImage(dir: string, ref: string, config: OciImageConfig = {}): Promise<BuiltImage> {
  const ociDir = join(dir, 'oci');
  const written = await writeOciLayout(ociDir, {
    refName: ref,
    layers: [busyboxLayer()],
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], WorkingDir: '/', ...config },
  });
  const ociArchive = join(dir, 'oci.tar');
  tarDirectory(ociDir, ociArchive);
  const dockerArchive = join(dir, 'docker.tar');
  execFileSync('skopeo', ['copy', '-q', `oci:${ociDir}:${ref}`, `docker-archive:${dockerArchive}:${ref}`]);
  return { ...written, ociDir, ociArchive, dockerArchive };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Credentials the htpasswd registry accepts (the bcrypt hash below is of this password, cost 4). */
export const REGISTRY_USER = { username: 'k8ts', password: 'k8ts-pass' };
const REGISTRY_HTPASSWD = 'k8ts:$2b$04$SLTXSHLeJLMzdaU4AaIl2OgDUnbNgfxi11XNteSFD6vcl7ansIrPG\n';

export interface RunningRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's docker-registry on a free loopback port with its config and storage in `dir` (default: a
 * temp dir removed by stop()); `basicAuth` turns on htpasswd auth for REGISTRY_USER.
 */
export async function startRegistry(dirArg?: string, opts: { basicAuth?: boolean } = {}): Promise<RunningRegistry> {
  const own = dirArg ? undefined : tempDir('k8ts-t-registry-');
  const dir = dirArg ?? own!.path;
  const port = await freePort();
  mkdirSync(join(dir, 'data'), { recursive: true });
  const auth = opts.basicAuth ? `auth:\n  htpasswd:\n    realm: k8ts-test\n    path: ${join(dir, 'htpasswd')}\n` : '';
  if (opts.basicAuth) writeFileSync(join(dir, 'htpasswd'), REGISTRY_HTPASSWD);
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    own?.remove();
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host, stop };
}

/** Pushes an OCI layout dir (`oci:` source) or a docker-archive file to `docker://<ref>` with skopeo, over plain HTTP. */
export function pushImage(source: { ociDir: string; ref?: string } | { dockerArchive: string }, ref: string, creds?: { username: string; password: string }): void {
  const src = 'ociDir' in source ? `oci:${source.ociDir}${source.ref ? `:${source.ref}` : ''}` : `docker-archive:${source.dockerArchive}`;
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', `${creds.username}:${creds.password}`] : []), src, `docker://${ref}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}
