// Builds small OCI image layout tars offline from busybox-static: the pause image k8ts gives
// containerd as its sandbox_image (no registry needed), and busybox images for tests.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import tar from 'tar-stream';

type TarHeader = Partial<tar.Header> & Pick<tar.Header, 'name'>;

export interface BusyboxImageOptions {
  /** The tag written as `org.opencontainers.image.ref.name` (import with a base name to get `<base>:<tag>`). */
  tag: string;
  /** Image config Entrypoint and Cmd. */
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  /** busybox applets to link in /bin (`sh`, `sleep`…); default: every applet the binary lists. */
  applets?: string[];
  busyboxPath?: string;
  architecture?: string;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** The OCI architecture name of this host (`amd64`, `arm64`…). */
export function hostArchitecture(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

function packTar(entries: { header: TarHeader; body?: Buffer }[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
    for (const e of entries) {
      if (e.body) pack.entry(e.header, e.body);
      else pack.entry(e.header);
    }
    pack.finalize();
  });
}

/** The applet names a busybox binary provides (`busybox --list`), read from the binary's output. */
async function busyboxApplets(busyboxPath: string): Promise<string[]> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) =>
    execFile(busyboxPath, ['--list'], (err, stdout) => (err ? reject(err) : resolve(stdout.split('\n').filter((a) => a && a !== 'busybox')))),
  );
}

/** One uncompressed layer: /bin/busybox, applet symlinks, /etc/passwd and /etc/group, empty /tmp /proc /sys /dev. */
export async function busyboxLayer(opts: Pick<BusyboxImageOptions, 'applets' | 'busyboxPath'> = {}): Promise<Buffer> {
  const busyboxPath = opts.busyboxPath ?? '/bin/busybox';
  const binary = await readFile(busyboxPath);
  const applets = opts.applets ?? (await busyboxApplets(busyboxPath));
  const mtime = new Date(0);
  const dir = (name: string, mode = 0o755): { header: TarHeader } => ({ header: { name, type: 'directory', mode, mtime } });
  const file = (name: string, body: Buffer, mode = 0o644): { header: TarHeader; body: Buffer } => ({ header: { name, type: 'file', mode, mtime, size: body.length }, body });
  return packTar([
    dir('bin/'),
    file('bin/busybox', binary, 0o755),
    ...applets.map((a) => ({ header: { name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox', mode: 0o777, mtime } })),
    dir('etc/'),
    file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n')),
    file('etc/group', Buffer.from('root:x:0:\nnobody:x:65534:\n')),
    dir('tmp/', 0o1777),
    dir('proc/'),
    dir('sys/'),
    dir('dev/'),
    dir('root/', 0o700),
  ]);
}

/** Writes an OCI image layout tar (oci-layout, index.json, blobs) holding one busybox image; returns its config digest. */
export async function writeBusyboxOciArchive(file: string, opts: BusyboxImageOptions): Promise<string> {
  const layer = await busyboxLayer(opts);
  const layerDigest = `sha256:${sha256(layer)}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? hostArchitecture(),
      os: 'linux',
      config: {
        Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
        ...(opts.cmd ? { Cmd: opts.cmd } : {}),
        WorkingDir: '/',
      },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      history: [{ created_by: 'k8ts: busybox-static layer' }],
    }),
  );
  const configDigest = `sha256:${sha256(config)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = `sha256:${sha256(manifest)}`;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': opts.tag },
        },
      ],
    }),
  );
  const mtime = new Date(0);
  const blob = (digest: string, body: Buffer): { header: TarHeader; body: Buffer } => ({
    header: { name: `blobs/sha256/${digest.slice('sha256:'.length)}`, type: 'file', mode: 0o644, mtime, size: body.length },
    body,
  });
  const archive = await packTar([
    { header: { name: 'oci-layout', type: 'file', mode: 0o644, mtime, size: 30 }, body: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { header: { name: 'index.json', type: 'file', mode: 0o644, mtime, size: index.length }, body: index },
    { header: { name: 'blobs/', type: 'directory', mode: 0o755, mtime } },
    { header: { name: 'blobs/sha256/', type: 'directory', mode: 0o755, mtime } },
    blob(layerDigest, layer),
    blob(configDigest, config),
    blob(manifestDigest, manifest),
  ]);
  await writeFile(file, archive);
  return configDigest;
}

/** The pause image: busybox `sleep` for ever, the process that holds a pod sandbox's namespaces. */
export function writePauseImageArchive(file: string, tag: string): Promise<string> {
  return writeBusyboxOciArchive(file, { tag, entrypoint: ['/bin/sleep', '2147483647'], applets: ['sleep', 'sh'] });
}
