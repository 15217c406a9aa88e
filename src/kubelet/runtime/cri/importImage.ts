// Loads image archives into containerd's k8s.io namespace (where its CRI plugin sees them) with
// `ctr images import`, as CRI has no import call. Docker archives carry their names (RepoTags); OCI
// layouts usually name images by tag only, so they are imported under a base name.
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { RuntimeError } from '../types.js';

export type ArchiveKind = 'docker-archive' | 'oci-layout';

export interface ArchiveImageNames {
  kind: ArchiveKind;
  /** Names the archive itself gives (RepoTags, or full references in OCI annotations). */
  references: string[];
  /** Bare tags of an OCI layout (`org.opencontainers.image.ref.name` = `latest`) that need a base name. */
  tags: string[];
}

async function readIndexFiles(file: string): Promise<Map<string, Buffer>> {
  const wanted = new Set(['manifest.json', 'index.json', 'oci-layout']);
  const found = new Map<string, Buffer>();
  const head = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on('data', (c) => parts.push(c as Buffer));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      if (!wanted.has(name)) {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        found.set(name, Buffer.concat(parts));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    const src = createReadStream(file);
    src.on('error', reject);
    if (gzipped) {
      const gunzip = createGunzip();
      gunzip.on('error', reject);
      src.pipe(gunzip).pipe(extract);
    } else {
      src.pipe(extract);
    }
  });
  return found;
}

/** Reads which images an archive names, and whether it is a docker-archive or an OCI layout. */
export async function archiveImageNames(file: string): Promise<ArchiveImageNames> {
  let files: Map<string, Buffer>;
  try {
    files = await readIndexFiles(file);
  } catch (err) {
    throw new RuntimeError('InvalidArgument', `${file} is not a tar archive: ${(err as Error).message}`, { cause: err });
  }
  const manifest = files.get('manifest.json');
  const index = files.get('index.json');
  if (manifest) {
    const entries = JSON.parse(manifest.toString('utf8')) as { RepoTags?: string[] | null }[];
    return { kind: 'docker-archive', references: entries.flatMap((e) => e.RepoTags ?? []), tags: [] };
  }
  if (index && files.has('oci-layout')) {
    const idx = JSON.parse(index.toString('utf8')) as { manifests?: { annotations?: Record<string, string> }[] };
    const references: string[] = [];
    const tags: string[] = [];
    for (const m of idx.manifests ?? []) {
      const full = m.annotations?.['io.containerd.image.name'];
      const ref = m.annotations?.['org.opencontainers.image.ref.name'];
      if (full) references.push(full);
      else if (ref && /[/:@]/.test(ref)) references.push(ref);
      else if (ref) tags.push(ref);
    }
    return { kind: 'oci-layout', references, tags };
  }
  throw new RuntimeError('InvalidArgument', `${file} is neither a docker archive (manifest.json) nor an OCI image layout (oci-layout, index.json)`);
}

export interface ImportImageOptions {
  /** Repository for images an OCI layout names by tag only (`localhost/app` + `latest` → `localhost/app:latest`). */
  baseName?: string;
  ctrPath?: string;
  /** containerd namespace; `k8s.io` is the one its CRI plugin serves. */
  namespace?: string;
  signal?: AbortSignal;
}

/** The image names `ctr images import` reports (`unpacking NAME (sha256:…)...done`). */
export function parseCtrImportOutput(stdout: string): string[] {
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^unpacking (\S+) \(sha256:[0-9a-f]+\)/.exec(line.trim());
    if (m?.[1]) names.push(m[1]);
  }
  return names;
}

/**
 * Imports every image of `file` into the containerd at `socket` (a path or `unix://` URL);
 * returns the names it now has.
 */
export async function importImageArchive(socket: string, file: string, opts: ImportImageOptions = {}): Promise<string[]> {
  const address = socket.replace(/^unix:\/\//, '');
  const names = await archiveImageNames(file);
  if (names.kind === 'oci-layout' && names.tags.length > 0 && !opts.baseName) {
    throw new RuntimeError(
      'InvalidArgument',
      `${file} names its images only by tag (${names.tags.join(', ')}): give a base name such as localhost/app so they become localhost/app:${names.tags[0]}`,
    );
  }
  if (names.references.length === 0 && names.tags.length === 0) {
    throw new RuntimeError('InvalidArgument', `${file} names no image (no RepoTags or ref.name annotations): re-save it with a name`);
  }
  const args = ['--address', address, '-n', opts.namespace ?? 'k8s.io', 'images', 'import'];
  // With --base-name, ctr drops full names outside the base; only pass it when the archive needs it.
  if (names.kind === 'oci-layout' && names.tags.length > 0 && opts.baseName) args.push('--base-name', opts.baseName);
  args.push(file);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(opts.ctrPath ?? 'ctr', args, { signal: opts.signal, maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) => {
      if (err) reject(new RuntimeError('Internal', `ctr images import ${file} failed: ${(stderr || err.message).trim()}`, { cause: err }));
      else resolve(out);
    });
  });
  const imported = parseCtrImportOutput(stdout);
  if (imported.length === 0) throw new RuntimeError('Internal', `ctr images import ${file} imported nothing: ${stdout.trim()}`);
  return imported;
}
