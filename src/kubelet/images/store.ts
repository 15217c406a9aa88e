// The built-in image store, rooted at `<dataDir>/agent/images`:
//   blobs/sha256/<hex>        manifests, configs and layer blobs, content-addressed
//   layers/sha256/<diffid>/   each layer unpacked once (overlay whiteouts), shared by every image using it
//   images.json               image id → manifest, config, layers, repoTags, repoDigests
//   images.lock, tmp/         the writers' lock and scratch space
// Every write is temp + rename, and index updates happen under an inter-process lock, so a running
// kubelet and `k8ts images import` can share the store; readers re-read images.json whenever it changed.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { logger } from '../../util/log.js';
import {
  RuntimeError,
  isRuntimeError,
  nowNanos,
  type AuthConfig,
  type FilesystemUsage,
  type Image,
  type ImageFilter,
  type ImageSpec,
  type PodSandboxConfig,
} from '../runtime/types.js';
import { extractArchive, readArchive, type ArchiveImage } from './archive.js';
import { withFileLock } from './fileLock.js';
import { ImageFormatError, MediaType, openLayerTar, parseImageConfig, sniffCompression, type ImageConfigFile, type Manifest, type Platform } from './oci.js';
import { formatReference, isImageId, normalizeReference, parseReference, ReferenceError, repositoryName, type ImageReference } from './reference.js';
import { RegistryClient } from './registry.js';
import type { ImageStore, LocalImage } from './types.js';
import { hashingTap, LayerError, unpackLayer } from './unpack.js';

const log = logger('images');

export interface FileImageStoreOptions {
  /** The store's directory, `<dataDir>/agent/images`. Created on first use. */
  root: string;
  /** Registries (`host[:port]`) pulled from over plain HTTP; loopback registries always are. */
  insecureRegistries?: readonly string[];
  /** The platform picked from multi-platform images (default: linux and the host's architecture). */
  platform?: Platform;
  userAgent?: string;
  /** References reported as pinned (never garbage-collected by the kubelet), e.g. the pause image, as containerd's pinned_images. */
  pinnedImages?: readonly string[];
  /** How long an imageFsInfo result is reused, in ms (it walks the store). Default 10 s. */
  fsInfoCacheMs?: number;
  /**
   * Unreferenced blobs and layers younger than this are kept at garbage collection (a pull in another
   * process may not have recorded its image yet). Default 10 minutes.
   */
  gcGraceMs?: number;
}

export interface ImportOptions {
  /** Repository for OCI layouts whose ref names are bare tags (umoci writes `latest`), like ctr's --base-name. */
  baseName?: string;
  signal?: AbortSignal;
}

/** One layer of a stored image. */
interface LayerRecord {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

/** One image in images.json, keyed by its id. */
interface ImageRecord {
  id: string;
  manifestDigest: string;
  configDigest: string;
  layers: LayerRecord[];
  size: number;
  repoTags: string[];
  repoDigests: string[];
  pinned?: boolean;
  /** RFC 3339: when it was first stored. */
  createdAt: string;
}

interface IndexFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

const INDEX_FILE = 'images.json';
const LOCK_FILE = 'images.lock';
const STALE_TMP_MS = 60 * 60 * 1000;

function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  return stat(p).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/** containerd's reading of the image config's User: a numeric user is a uid, anything else a name. */
export function imageUser(user: string | undefined): { uid?: number; username: string } {
  if (!user) return { username: '' };
  const u = user.split(':')[0] ?? '';
  return /^\d+$/.test(u) ? { uid: Number(u), username: '' } : { username: u };
}

/** Mount points' super options (overlay lowerdirs), to keep layers that a running container uses. */
async function mountedPaths(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
}

export class FileImageStore implements ImageStore {
  readonly root: string;
  private readonly registry: RegistryClient;
  private cache: { key: string; index: IndexFile } | undefined;
  private readonly configs = new Map<string, ImageConfigFile>();
  private readonly pulls = new Map<string, Promise<string>>();
  private readonly downloads = new Map<string, Promise<void>>();
  private readonly unpacks = new Map<string, Promise<void>>();
  private ready: Promise<void> | undefined;
  private readonly pinned: Set<string>;
  private readonly fsInfoCacheMs: number;
  private readonly gcGraceMs: number;
  private readonly platform: Platform | undefined;
  private fsInfo: { at: number; value: Promise<FilesystemUsage[]> } | undefined;

  constructor(opts: FileImageStoreOptions) {
    this.root = opts.root;
    this.pinned = new Set(
      (opts.pinnedImages ?? []).map((r) => {
        try {
          return normalizeReference(r);
        } catch {
          return r;
        }
      }),
    );
    this.fsInfoCacheMs = opts.fsInfoCacheMs ?? 10_000;
    this.gcGraceMs = opts.gcGraceMs ?? 10 * 60 * 1000;
    this.platform = opts.platform;
    this.registry = new RegistryClient({
      ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
    });
  }

  private blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  /** Where a layer is (or will be) unpacked: `layers/sha256/<diffid hex>`. */
  layerPath(diffId: string): string {
    return join(this.root, 'layers', 'sha256', hexOf(diffId));
  }

  private tmpPath(what: string): string {
    return join(this.root, 'tmp', `${what}-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  private ensureDirs(): Promise<void> {
    this.ready ??= (async () => {
      for (const d of ['blobs/sha256', 'layers/sha256', 'tmp']) await mkdir(join(this.root, d), { recursive: true });
    })();
    return this.ready;
  }

  // ---- the index ----------------------------------------------------------------------------

  /** images.json as it is now; re-read only when its inode, size or mtime changed (another process wrote it). */
  private async readIndex(): Promise<IndexFile> {
    const p = join(this.root, INDEX_FILE);
    const st = await statOrUndefined(p);
    if (!st) return { version: 1, images: {} };
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.cache?.key === key) return this.cache.index;
    let index: IndexFile;
    try {
      index = JSON.parse(await readFile(p, 'utf8')) as IndexFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {} };
      throw new RuntimeError('Internal', `image store index ${p} is unreadable: ${(err as Error).message}`, { cause: err });
    }
    if (typeof index !== 'object' || index === null || typeof index.images !== 'object') index = { version: 1, images: {} };
    this.cache = { key, index };
    return index;
  }

  private async writeIndex(index: IndexFile): Promise<void> {
    const tmp = this.tmpPath('index');
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(JSON.stringify(index, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.root, INDEX_FILE));
  }

  /** Read-modify-write of the index under the store lock. */
  private async updateIndex<T>(fn: (index: IndexFile) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.ensureDirs();
    return withFileLock(
      join(this.root, LOCK_FILE),
      async () => {
        this.cache = undefined;
        const index = structuredClone(await this.readIndex());
        const out = await fn(index);
        await this.writeIndex(index);
        this.cache = undefined;
        return out;
      },
      60_000,
      signal,
    );
  }

  /** Finds an image by reference (`busybox`, `x@sha256:…`), id (`sha256:…`, bare hex) or a unique id prefix. */
  private findRecord(index: IndexFile, input: string): ImageRecord | undefined {
    const s = input.trim();
    if (isImageId(s)) return index.images[s.startsWith('sha256:') ? s : `sha256:${s}`];
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(s);
    } catch {
      ref = undefined;
    }
    const records = Object.values(index.images);
    if (ref) {
      const name = formatReference(ref);
      if (ref.digest) {
        const byDigest = `${repositoryName(ref)}@${ref.digest}`;
        const hit = records.find((r) => r.repoDigests.includes(byDigest) || (ref.tag && r.repoTags.includes(`${repositoryName(ref)}:${ref.tag}`) && r.manifestDigest === ref.digest));
        if (hit) return hit;
      } else {
        const hit = records.find((r) => r.repoTags.includes(name));
        if (hit) return hit;
      }
    }
    const prefix = s.startsWith('sha256:') ? s.slice(7) : s;
    if (/^[a-f0-9]{6,63}$/.test(prefix)) {
      const hits = records.filter((r) => hexOf(r.id).startsWith(prefix));
      if (hits.length === 1) return hits[0];
    }
    return undefined;
  }

  private async configOf(record: ImageRecord): Promise<ImageConfigFile> {
    const hit = this.configs.get(record.id);
    if (hit) return hit;
    const cfg = parseImageConfig(await readFile(this.blobPath(record.configDigest)), `image config ${record.configDigest}`);
    this.configs.set(record.id, cfg);
    return cfg;
  }

  private async toLocalImage(record: ImageRecord): Promise<LocalImage> {
    const cfg = await this.configOf(record);
    return {
      id: record.id,
      repoTags: [...record.repoTags],
      repoDigests: [...record.repoDigests],
      size: record.size,
      config: cfg.config ?? {},
      architecture: cfg.architecture,
      os: cfg.os,
      layers: record.layers.map((l) => this.layerPath(l.diffId)),
    };
  }

  private async toCriImage(record: ImageRecord): Promise<Image> {
    const cfg = await this.configOf(record);
    const user = imageUser(cfg.config?.User);
    return {
      id: record.id,
      repoTags: [...record.repoTags],
      repoDigests: [...record.repoDigests],
      size: BigInt(record.size),
      ...(user.uid !== undefined ? { uid: user.uid } : {}),
      username: user.username,
      spec: { image: record.id },
      pinned: (record.pinned ?? false) || record.repoTags.some((t) => this.pinned.has(t)),
    };
  }

  // ---- reads --------------------------------------------------------------------------------

  async get(ref: string): Promise<LocalImage | undefined> {
    const record = this.findRecord(await this.readIndex(), ref);
    return record ? this.toLocalImage(record) : undefined;
  }

  async listImages(filter?: ImageFilter): Promise<Image[]> {
    const index = await this.readIndex();
    let records = Object.values(index.images);
    if (filter?.image?.image) {
      const hit = this.findRecord(index, filter.image.image);
      records = hit ? [hit] : [];
    }
    records.sort((a, b) => (a.repoTags[0] ?? a.id).localeCompare(b.repoTags[0] ?? b.id));
    return Promise.all(records.map((r) => this.toCriImage(r)));
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    const record = this.findRecord(await this.readIndex(), image.image);
    return record ? this.toCriImage(record) : undefined;
  }

  /** Usage of the store's directory (blobs and unpacked layers), counted like du: allocated blocks, hardlinks once. */
  imageFsInfo(): Promise<FilesystemUsage[]> {
    const now = Date.now();
    if (this.fsInfo && now - this.fsInfo.at < this.fsInfoCacheMs) return this.fsInfo.value;
    const value = this.measureUsage();
    this.fsInfo = { at: now, value };
    value.catch(() => (this.fsInfo = undefined));
    return value;
  }

  private async measureUsage(): Promise<FilesystemUsage[]> {
    await this.ensureDirs();
    const seen = new Set<string>();
    let used = 0n;
    let inodes = 0n;
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const p = join(dir, e.name);
        const st = await lstat(p).catch(() => undefined);
        if (!st) continue;
        const key = `${st.dev}:${st.ino}`;
        if (!seen.has(key)) {
          seen.add(key);
          used += BigInt(st.blocks) * 512n;
          inodes++;
        }
        if (e.isDirectory()) await walk(p);
      }
    };
    await walk(this.root);
    return [{ timestamp: nowNanos(), fsId: { mountpoint: this.root }, usedBytes: used, inodesUsed: inodes }];
  }

  // ---- blobs and layers ---------------------------------------------------------------------

  private async hasBlob(digest: string): Promise<boolean> {
    return (await statOrUndefined(this.blobPath(digest))) !== undefined;
  }

  private async putBlobBytes(bytes: Buffer, digest: string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const tmp = this.tmpPath('blob');
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    await rename(tmp, this.blobPath(digest));
  }

  /** Copies a file into the blob store, verifying `expected` when given; returns its digest and size. */
  private async putBlobFile(file: string, expected: string | undefined, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
    if (expected && (await this.hasBlob(expected))) return { digest: expected, size: (await stat(this.blobPath(expected))).size };
    const tmp = this.tmpPath('blob');
    const tap = hashingTap();
    try {
      await pipeline(createReadStream(file), tap, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }), signal ? { signal } : {});
      if (expected && tap.digest() !== expected) throw new ImageFormatError(`blob ${expected} does not match its digest (its content is ${tap.digest()})`);
      await rename(tmp, this.blobPath(tap.digest()));
    } finally {
      await rm(tmp, { force: true });
    }
    return { digest: tap.digest(), size: tap.bytes() };
  }

  /** Unpacks a layer blob into `layers/sha256/<diffid>` once; concurrent callers (and processes) share the result. */
  private ensureLayer(diffId: string, blobDigest: string, parentDiffIds: string[], signal?: AbortSignal): Promise<void> {
    const running = this.unpacks.get(diffId);
    if (running) return running;
    const p = (async () => {
      const dest = this.layerPath(diffId);
      if (await statOrUndefined(dest)) return;
      const tmp = this.tmpPath('layer');
      await mkdir(tmp, { mode: 0o755 });
      try {
        const started = Date.now();
        const parents = parentDiffIds.map((d) => this.layerPath(d)).reverse();
        const result = await unpackLayer(await openLayerTar(this.blobPath(blobDigest), blobDigest), tmp, signal, { parents });
        if (result.diffId !== diffId) {
          throw new ImageFormatError(`layer ${blobDigest} unpacks to ${result.diffId}, but the image config says its DiffID is ${diffId}`);
        }
        try {
          await rename(tmp, dest);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          // Another process unpacked the same layer first: theirs is identical.
        }
        log.info({ diffId, whiteouts: result.whiteouts, opaqueDirs: result.opaqueDirs, ms: Date.now() - started }, 'layer unpacked');
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    })().finally(() => this.unpacks.delete(diffId));
    this.unpacks.set(diffId, p);
    return p;
  }

  /** Tags an image in the index: moves each ref from any image that had it, adds repo digests. */
  private async record(
    input: { id: string; manifestDigest: string; configDigest: string; layers: LayerRecord[]; repoTags: string[]; repoDigests: string[] },
    signal?: AbortSignal,
  ): Promise<void> {
    await this.updateIndex((index) => {
      for (const other of Object.values(index.images)) {
        if (other.id === input.id) continue;
        other.repoTags = other.repoTags.filter((t) => !input.repoTags.includes(t));
      }
      const prev = index.images[input.id];
      index.images[input.id] = {
        id: input.id,
        manifestDigest: input.manifestDigest,
        configDigest: input.configDigest,
        layers: input.layers,
        size: input.layers.reduce((n, l) => n + l.size, 0),
        repoTags: [...new Set([...(prev?.repoTags ?? []), ...input.repoTags])],
        repoDigests: [...new Set([...(prev?.repoDigests ?? []), ...input.repoDigests])],
        ...(prev?.pinned ? { pinned: true } : {}),
        createdAt: prev?.createdAt ?? new Date().toISOString(),
      };
    }, signal);
  }

  // ---- import -------------------------------------------------------------------------------

  /**
   * Imports every image of an OCI layout tar or a docker-archive tar (plain or gzip-compressed).
   * Throws ImageFormatError (bad archive) or LayerError (bad layer) with a message naming the problem.
   */
  async importArchive(file: string, opts: ImportOptions = {}): Promise<LocalImage[]> {
    await this.ensureDirs();
    const scratch = this.tmpPath('archive');
    await mkdir(scratch);
    try {
      await extractArchive(file, scratch, opts.signal);
      const images = await readArchive(scratch, { ...(opts.baseName ? { baseName: opts.baseName } : {}), ...(this.platform ? { platform: this.platform } : {}) });
      const out: LocalImage[] = [];
      for (const img of images) out.push(await this.importOne(img, opts.signal));
      return out;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  private async importOne(img: ArchiveImage, signal?: AbortSignal): Promise<LocalImage> {
    const diffIds = img.config.parsed.rootfs.diff_ids;
    const configDigest = img.config.digest ?? `sha256:${hashingDigest(img.config.bytes)}`;
    if (img.config.digest && hashingDigest(img.config.bytes) !== hexOf(img.config.digest)) {
      throw new ImageFormatError(`config blob ${img.config.digest} does not match its digest`);
    }
    await this.putBlobBytes(img.config.bytes, configDigest);
    const layers: LayerRecord[] = [];
    for (const [i, l] of img.layers.entries()) {
      const { digest, size } = await this.putBlobFile(l.file, l.digest, signal);
      const diffId = diffIds[i]!;
      await this.ensureLayer(diffId, digest, diffIds.slice(0, i), signal);
      // docker-archive layers are usually plain tars, but some writers gzip them: describe what is stored.
      const mediaType = img.manifest ? l.mediaType : (await sniffCompression(this.blobPath(digest))) === 'gzip' ? MediaType.ociLayerGzip : MediaType.ociLayer;
      layers.push({ digest, diffId, size, mediaType });
    }
    let manifestDigest: string;
    if (img.manifest) {
      if (hashingDigest(img.manifest.bytes) !== hexOf(img.manifest.digest)) throw new ImageFormatError(`manifest ${img.manifest.digest} does not match its digest`);
      manifestDigest = img.manifest.digest;
      await this.putBlobBytes(img.manifest.bytes, manifestDigest);
    } else {
      // A docker-archive has no registry manifest: write the OCI manifest that describes what was stored.
      const manifest: Manifest = {
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: configDigest, size: img.config.bytes.length },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      };
      const bytes = Buffer.from(JSON.stringify(manifest));
      manifestDigest = `sha256:${hashingDigest(bytes)}`;
      await this.putBlobBytes(bytes, manifestDigest);
    }
    const repoDigests = [...new Set(img.refs.map((r) => `${repositoryName(parseReference(r))}@${manifestDigest}`))];
    await this.record({ id: configDigest, manifestDigest, configDigest, layers, repoTags: img.refs, repoDigests }, signal);
    log.info({ id: configDigest, repoTags: img.refs }, 'image imported');
    const stored = await this.get(configDigest);
    if (!stored) throw new RuntimeError('Internal', `image ${configDigest} vanished right after import`);
    return stored;
  }

  // ---- pull ---------------------------------------------------------------------------------

  /**
   * Pulls an image from its registry (CRI PullImage) and returns its id. Concurrent pulls of one
   * reference share a single download. Errors: RuntimeError ImageNotFound (the registry has no such
   * manifest), RegistryUnavailable (cannot reach or registry failing), ImagePullFailed (auth, bad content),
   * InvalidArgument (not a reference).
   */
  async pullImage(image: ImageSpec, auth?: AuthConfig, _sandboxConfig?: PodSandboxConfig, opts: { signal?: AbortSignal } = {}): Promise<string> {
    let ref: ImageReference;
    try {
      ref = parseReference(image.image);
    } catch (err) {
      if (err instanceof ReferenceError) throw new RuntimeError('InvalidArgument', `failed to pull and unpack image "${image.image}": ${err.message}`);
      throw err;
    }
    const name = formatReference(ref);
    const running = this.pulls.get(name);
    if (running) return running;
    const p = this.pull(ref, auth, opts.signal).finally(() => this.pulls.delete(name));
    this.pulls.set(name, p);
    return p;
  }

  private async pull(ref: ImageReference, auth: AuthConfig | undefined, signal?: AbortSignal): Promise<string> {
    const name = formatReference(ref);
    await this.ensureDirs();
    let resolved;
    try {
      resolved = await this.registry.resolve(ref, auth, signal);
    } catch (err) {
      if (isRuntimeError(err)) throw new RuntimeError(err.code, `failed to pull and unpack image "${name}": failed to resolve reference "${name}": ${err.message}`, { cause: err });
      throw err;
    }
    try {
      const m = resolved.parsed;
      await this.download(ref, m.config, auth, signal);
      const config = parseImageConfig(await readFile(this.blobPath(m.config.digest)), `image config ${m.config.digest}`);
      if (config.rootfs.diff_ids.length !== m.layers.length) {
        throw new RuntimeError('ImagePullFailed', `manifest ${resolved.digest} has ${m.layers.length} layers but its config lists ${config.rootfs.diff_ids.length}`);
      }
      const layers: LayerRecord[] = [];
      for (const [i, l] of m.layers.entries()) {
        const diffId = config.rootfs.diff_ids[i]!;
        if (!(await statOrUndefined(this.layerPath(diffId)))) {
          await this.download(ref, l, auth, signal);
          await this.ensureLayer(diffId, l.digest, config.rootfs.diff_ids.slice(0, i), signal);
        }
        layers.push({ digest: l.digest, diffId, size: l.size, mediaType: l.mediaType });
      }
      await this.putBlobBytes(resolved.bytes, resolved.digest);
      const repo = repositoryName(ref);
      await this.record(
        {
          id: m.config.digest,
          manifestDigest: resolved.digest,
          configDigest: m.config.digest,
          layers,
          repoTags: ref.tag ? [`${repo}:${ref.tag}`] : [],
          repoDigests: [`${repo}@${resolved.digest}`],
        },
        signal,
      );
      log.info({ image: name, id: m.config.digest }, 'image pulled');
      return m.config.digest;
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      if (isRuntimeError(err)) throw new RuntimeError(err.code, `failed to pull and unpack image "${name}": ${err.message}`, { cause: err });
      if (err instanceof ImageFormatError || err instanceof LayerError) {
        throw new RuntimeError('ImagePullFailed', `failed to pull and unpack image "${name}": ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  /** Downloads one blob into the store unless present; one download per digest at a time. */
  private download(ref: ImageReference, desc: { digest: string; size: number; mediaType: string }, auth: AuthConfig | undefined, signal?: AbortSignal): Promise<void> {
    const running = this.downloads.get(desc.digest);
    if (running) return running;
    const p = (async () => {
      if (await this.hasBlob(desc.digest)) return;
      if (desc.mediaType === MediaType.ociLayerZstd) {
        throw new RuntimeError('ImagePullFailed', `layer ${desc.digest} is zstd-compressed (${desc.mediaType}), which k8ts cannot unpack yet: push the image with gzip layers`);
      }
      const tmp = this.tmpPath('download');
      try {
        await this.registry.fetchBlob(ref, desc, tmp, auth, signal);
        await rename(tmp, this.blobPath(desc.digest));
      } finally {
        await rm(tmp, { force: true });
      }
    })().finally(() => this.downloads.delete(desc.digest));
    this.downloads.set(desc.digest, p);
    return p;
  }

  // ---- remove and garbage collection ---------------------------------------------------------

  /**
   * CRI RemoveImage: removes the image with every tag it has; a missing image is not an error.
   * Blobs and layers no other image uses are deleted, except layers mounted by a running container.
   */
  async removeImage(image: ImageSpec): Promise<void> {
    const record = this.findRecord(await this.readIndex(), image.image);
    if (!record) return;
    await this.updateIndex(async (index) => {
      delete index.images[record.id];
      this.configs.delete(record.id);
      await this.collectGarbage(index);
    });
    log.info({ id: record.id, repoTags: record.repoTags }, 'image removed');
  }

  /**
   * Deletes what no image in `index` references. Runs under the store lock. Blobs and layers younger
   * than gcGraceMs are left for a later collection (a pull in another process may still record them).
   */
  private async collectGarbage(index: IndexFile): Promise<void> {
    const blobs = new Set<string>();
    const layers = new Set<string>();
    for (const r of Object.values(index.images)) {
      blobs.add(hexOf(r.manifestDigest));
      blobs.add(hexOf(r.configDigest));
      for (const l of r.layers) {
        blobs.add(hexOf(l.digest));
        layers.add(hexOf(l.diffId));
      }
    }
    const mounts = await mountedPaths();
    const young = async (p: string) => {
      const st = await lstat(p).catch(() => undefined);
      return !st || Date.now() - st.ctimeMs < this.gcGraceMs;
    };
    for (const d of [...this.downloads.keys(), ...this.unpacks.keys()]) {
      blobs.add(hexOf(d));
      layers.add(hexOf(d));
    }
    for (const hex of await readdir(join(this.root, 'blobs', 'sha256')).catch(() => [] as string[])) {
      const p = join(this.root, 'blobs', 'sha256', hex);
      if (!blobs.has(hex) && !(await young(p))) await rm(p, { force: true });
    }
    for (const hex of await readdir(join(this.root, 'layers', 'sha256')).catch(() => [] as string[])) {
      if (layers.has(hex)) continue;
      const dir = join(this.root, 'layers', 'sha256', hex);
      if (await young(dir)) continue;
      if (mounts.includes(dir)) {
        log.warn({ layer: dir }, 'layer of a removed image is still mounted by a container; keeping it');
        continue;
      }
      // Rename first so a half-deleted layer is never seen under its name.
      const doomed = this.tmpPath('gc');
      await rename(dir, doomed);
      await rm(doomed, { recursive: true, force: true });
    }
    const tmpDir = join(this.root, 'tmp');
    for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
      const st = await lstat(join(tmpDir, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > STALE_TMP_MS) await rm(join(tmpDir, name), { recursive: true, force: true });
    }
  }
}

/** Hex sha256 of bytes. */
function hashingDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
