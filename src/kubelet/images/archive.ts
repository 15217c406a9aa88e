// Reads image archives: OCI image layouts (index.json + blobs/, as `skopeo copy … oci-archive:`, umoci or
// `tar -C layout -cf`) and docker-archives (manifest.json with RepoTags, as `docker save` and
// `skopeo copy … docker-archive:` write). The archive is first unpacked into a scratch directory.
import { createReadStream, createWriteStream } from 'node:fs';
import { link, lstat, mkdir, readFile, realpath, symlink } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import {
  documentKind,
  ImageFormatError,
  INDEX_TYPES,
  isDigest,
  MANIFEST_TYPES,
  MediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  selectPlatform,
  sniffCompression,
  type Descriptor,
  type ImageConfigFile,
  type Manifest,
  type Platform,
} from './oci.js';
import { layerPath } from './unpack.js';
import { normalizeReference, ReferenceError } from './reference.js';

const TAG_ONLY = /^[\w][\w.-]{0,127}$/;

/** One image found in an archive, with its blobs as files in the scratch directory. */
export interface ArchiveImage {
  /** Normalised references to tag it with (may be empty: then it is known by id only). */
  refs: string[];
  /** The manifest as stored (OCI layouts); docker-archives have none and the store writes an OCI one. */
  manifest?: { bytes: Buffer; digest: string; mediaType: string; parsed: Manifest };
  config: { bytes: Buffer; parsed: ImageConfigFile; digest?: string };
  /** Layer blobs bottom first; digest is known for OCI layouts, computed for docker-archives. */
  layers: { file: string; mediaType: string; digest?: string }[];
}

export interface ReadArchiveOptions {
  /** For OCI layouts whose ref names are bare tags (`latest`, as umoci writes): the repository to put them in. */
  baseName?: string;
  platform?: Platform;
}

/** Unpacks an archive (tar, or gzip-compressed tar) into `dest`. Only files, directories and links inside `dest`. */
export async function extractArchive(file: string, dest: string, signal?: AbortSignal): Promise<void> {
  const compression = await sniffCompression(file).catch((err: NodeJS.ErrnoException) => {
    throw new ImageFormatError(err.code === 'ENOENT' ? `${file}: no such file` : `${file}: ${err.message}`);
  });
  if (compression === 'zstd') throw new ImageFormatError(`${file} is zstd-compressed; decompress it first (zstd -d)`);
  const extract = tar.extract();
  const input: Readable = createReadStream(file);
  const feed = (compression === 'gzip' ? pipeline(input, createGunzip(), extract, { signal }) : pipeline(input, extract, { signal })).catch(
    (err: unknown) => {
      extract.destroy(err as Error);
      throw err;
    },
  );
  const safeParents = async (rel: string) => {
    let cur = dest;
    for (const part of rel.split('/').slice(0, -1)) {
      cur = join(cur, part);
      const st = await lstat(cur).catch(() => undefined);
      if (!st) await mkdir(cur);
      else if (!st.isDirectory()) throw new ImageFormatError(`${file}: archive entry "${rel}" is below a non-directory`);
    }
  };
  let entries = 0;
  try {
    for await (const entry of extract) {
      entries++;
      const h = entry.header;
      const rel = layerPath(h.name);
      if (rel === undefined) {
        entry.resume();
        continue;
      }
      await safeParents(rel);
      const p = join(dest, rel);
      switch (h.type) {
        case 'file':
        case 'contiguous-file':
          await pipeline(entry, createWriteStream(p, { flags: 'wx' }));
          break;
        case 'directory':
          entry.resume();
          await mkdir(p, { recursive: true });
          break;
        case 'symlink':
          entry.resume();
          await symlink(h.linkname ?? '', p);
          break;
        case 'link': {
          entry.resume();
          const target = layerPath(h.linkname ?? '');
          if (target) await link(join(dest, target), p);
          break;
        }
        default:
          entry.resume();
      }
    }
    await feed;
  } catch (err) {
    await feed.catch(() => undefined);
    if (err instanceof ImageFormatError || (err as Error).name === 'AbortError') throw err;
    const msg = (err as Error).message;
    throw new ImageFormatError(
      /header|unexpected end|incorrect header check/i.test(msg) ? `${file} is not an image archive (a tar file): ${msg}` : `${file}: ${msg}`,
      { cause: err },
    );
  }
  if (entries === 0) throw new ImageFormatError(`${file} is empty: not an image archive`);
}

/** A path named inside the archive, resolved (symlinks too) and kept inside it. */
async function archiveFile(root: string, name: string, what: string): Promise<string> {
  const rel = (() => {
    try {
      return layerPath(name);
    } catch {
      return undefined;
    }
  })();
  if (!rel) throw new ImageFormatError(`${what} "${name}" is not a path inside the archive`);
  let real: string;
  try {
    real = await realpath(join(root, rel));
  } catch {
    throw new ImageFormatError(`${what} "${name}" is missing from the archive`);
  }
  const realRoot = await realpath(root);
  if (!real.startsWith(realRoot + sep)) throw new ImageFormatError(`${what} "${name}" points outside the archive`);
  return real;
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/** Reads what an unpacked archive holds. Throws ImageFormatError naming the first thing that is wrong. */
export async function readArchive(root: string, opts: ReadArchiveOptions = {}): Promise<ArchiveImage[]> {
  if (await exists(join(root, 'manifest.json'))) return readDockerArchive(root);
  if (await exists(join(root, 'index.json'))) return readOciLayout(root, opts);
  throw new ImageFormatError('the archive has neither manifest.json (docker-archive, as docker save writes) nor index.json (OCI image layout)');
}

function normalizeRefs(names: string[], what: string): string[] {
  return names.map((n) => {
    try {
      return normalizeReference(n);
    } catch (err) {
      if (err instanceof ReferenceError) throw new ImageFormatError(`${what}: ${err.message}`);
      throw err;
    }
  });
}

async function readDockerArchive(root: string): Promise<ArchiveImage[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
  } catch (err) {
    throw new ImageFormatError(`docker-archive manifest.json is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new ImageFormatError('docker-archive manifest.json lists no images');
  const out: ArchiveImage[] = [];
  for (const [i, item] of doc.entries()) {
    const it = item as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    if (typeof it.Config !== 'string') throw new ImageFormatError(`docker-archive manifest.json entry ${i} has no Config`);
    if (!Array.isArray(it.Layers) || !it.Layers.every((l) => typeof l === 'string')) {
      throw new ImageFormatError(`docker-archive manifest.json entry ${i} has no Layers list`);
    }
    const configBytes = await readFile(await archiveFile(root, it.Config, 'config'));
    const config = parseImageConfig(configBytes, `image config ${it.Config}`);
    if (config.rootfs.diff_ids.length !== it.Layers.length) {
      throw new ImageFormatError(`image config ${it.Config} lists ${config.rootfs.diff_ids.length} layers but manifest.json lists ${it.Layers.length}`);
    }
    const layers = [];
    for (const l of it.Layers as string[]) layers.push({ file: await archiveFile(root, l, 'layer'), mediaType: MediaType.ociLayer });
    const tags = Array.isArray(it.RepoTags) ? (it.RepoTags.filter((t) => typeof t === 'string') as string[]) : [];
    out.push({ refs: normalizeRefs(tags, `docker-archive manifest.json entry ${i}`), config: { bytes: configBytes, parsed: config }, layers });
  }
  return out;
}

async function readBlob(root: string, d: Descriptor, what: string): Promise<Buffer> {
  const [alg, hex] = d.digest.split(':') as [string, string];
  return readFile(await archiveFile(root, posix.join('blobs', alg, hex), what));
}

async function readOciLayout(root: string, opts: ReadArchiveOptions): Promise<ArchiveImage[]> {
  const index = parseIndex(await readFile(join(root, 'index.json')), 'OCI layout index.json');
  if (index.manifests.length === 0) throw new ImageFormatError('OCI layout index.json lists no images');
  const byManifest = new Map<string, ArchiveImage>();
  for (const top of index.manifests) {
    const name = top.annotations?.['io.containerd.image.name'] ?? top.annotations?.['org.opencontainers.image.ref.name'];
    let refs: string[] = [];
    if (name && TAG_ONLY.test(name) && !top.annotations?.['io.containerd.image.name']) {
      if (opts.baseName) refs = normalizeRefs([`${opts.baseName}:${name}`], 'base name');
    } else if (name) {
      refs = normalizeRefs([name], `OCI layout index.json ref name "${name}"`);
    }
    let desc = top;
    if (INDEX_TYPES.includes(desc.mediaType)) {
      const nested = parseIndex(await readBlob(root, desc, 'image index'), `image index ${desc.digest}`);
      const picked = selectPlatform(nested, opts.platform);
      if (!picked) throw new ImageFormatError(`image index ${desc.digest} has no manifest for this platform`);
      desc = picked;
    }
    if (!MANIFEST_TYPES.includes(desc.mediaType)) throw new ImageFormatError(`index.json entry ${desc.digest} has unsupported media type ${desc.mediaType}`);
    const prev = byManifest.get(desc.digest);
    if (prev) {
      prev.refs.push(...refs.filter((r) => !prev.refs.includes(r)));
      continue;
    }
    const bytes = await readBlob(root, desc, 'manifest');
    const doc = JSON.parse(bytes.toString()) as Record<string, unknown>;
    if (documentKind(doc, desc.mediaType) !== 'manifest') throw new ImageFormatError(`blob ${desc.digest} is not an image manifest`);
    const parsed = parseManifest(bytes, `manifest ${desc.digest}`);
    const configBytes = await readBlob(root, parsed.config, 'config');
    const config = parseImageConfig(configBytes, `image config ${parsed.config.digest}`);
    if (config.rootfs.diff_ids.length !== parsed.layers.length) {
      throw new ImageFormatError(`manifest ${desc.digest} has ${parsed.layers.length} layers but its config lists ${config.rootfs.diff_ids.length}`);
    }
    const layers = [];
    for (const l of parsed.layers) {
      if (!isDigest(l.digest)) throw new ImageFormatError(`layer digest ${l.digest} is not sha256`);
      const [alg, hex] = l.digest.split(':') as [string, string];
      layers.push({ file: await archiveFile(root, posix.join('blobs', alg, hex), 'layer'), mediaType: l.mediaType, digest: l.digest });
    }
    byManifest.set(desc.digest, {
      refs,
      manifest: { bytes, digest: desc.digest, mediaType: parsed.mediaType ?? desc.mediaType, parsed },
      config: { bytes: configBytes, parsed: config, digest: parsed.config.digest },
      layers,
    });
  }
  return [...byManifest.values()];
}
