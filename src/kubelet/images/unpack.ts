// Unpacks one image layer (an uncompressed tar stream) into a directory that overlayfs can use as a
// lowerdir: OCI whiteouts become overlay whiteouts (`.wh.name` → a 0/0 character device `name`,
// `.wh..wh..opq` → the `trusted.overlay.opaque=y` xattr on its directory). Regular files, directories,
// symlinks and hardlinks are written by Node; device nodes, fifos and the xattrs Node cannot create are
// handed in one small tar to GNU tar (`--xattrs`), so a layer costs at most one child process.
// Whiteout devices (0/0) need no privilege (Linux ≥ 5.8); other device nodes and trusted.* xattrs need root.
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { posix, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { logger } from '../../util/log.js';

const log = logger('images');

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';

export class LayerError extends Error {
  override readonly name = 'LayerError';
}

export interface UnpackResult {
  /** `sha256:<hex>` of the uncompressed tar: the layer's DiffID. */
  diffId: string;
  /** Paths (relative to the layer) that hide a lower layer's entry. */
  whiteouts: number;
  /** Directories whose lower contents are hidden. */
  opaqueDirs: number;
}

interface PendingMeta {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

interface SpecialEntry {
  name: string;
  type: 'character-device' | 'block-device' | 'fifo' | 'directory';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

/** A stream tap that hashes what flows through it. */
export function hashingTap(hash: Hash = createHash('sha256')): Transform & { digest(): string; bytes(): number } {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
  }) as Transform & { digest(): string; bytes(): number };
  let d: string | undefined;
  t.digest = () => (d ??= `sha256:${hash.digest('hex')}`);
  t.bytes = () => n;
  return t;
}

/**
 * Cleans a tar member name to a relative path inside the layer, undefined for the layer root. Like
 * containerd, the name is cleaned against `/`, so `../../x` lands at `x` and never outside.
 */
export function layerPath(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return n === '' || n === '.' ? undefined : n;
}

const isRoot = process.getuid?.() === 0;
/**
 * Opaque directories are marked the way the overlay mount will read them: `trusted.overlay.opaque` for
 * root's mounts; without root (trusted.* is out of reach) `user.overlay.opaque`, which overlayfs reads when
 * mounted with `userxattr` (rootless overlay, kernel ≥ 5.11).
 */
export const OPAQUE_XATTR = isRoot ? 'trusted.overlay.opaque' : 'user.overlay.opaque';

export interface UnpackOptions {
  /**
   * The unpacked layers below this one, top first. A directory the tar implies but does not list takes
   * its mode, owner and time from the same directory there (as containerd's mkparent does), so the
   * merged view does not change it.
   */
  parents?: readonly string[];
}

/**
 * Extracts `layer` (uncompressed tar bytes) into `dir` (which must exist and be empty) and returns the
 * DiffID. Paths never leave `dir`: parents that are symlinks are refused, as are `..` members.
 */
export async function unpackLayer(layer: Readable, dir: string, signal?: AbortSignal, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const parents = opts.parents ?? [];
  const tap = hashingTap();
  const extract = tar.extract();
  const dirMeta = new Map<string, PendingMeta>();
  // Keyed by path: a later member at the same path replaces the special one.
  const specials = new Map<string, SpecialEntry>();
  const knownDirs = new Set<string>(['']);
  let whiteouts = 0;
  let opaqueDirs = 0;

  const abs = (rel: string) => join(dir, rel);

  // Makes every parent of rel exist as a real directory (not a symlink) inside dir.
  const ensureParents = async (rel: string) => {
    const parts = rel.split('/');
    parts.pop();
    let cur = '';
    for (const part of parts) {
      cur = cur ? `${cur}/${part}` : part;
      if (knownDirs.has(cur)) continue;
      const st = await lstat(abs(cur)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (!st) {
        await mkdir(abs(cur), { mode: 0o755 });
        if (!dirMeta.has(cur)) {
          for (const parent of parents) {
            const below = await lstat(join(parent, cur)).catch(() => undefined);
            if (!below) continue;
            if (below.isDirectory()) dirMeta.set(cur, { path: abs(cur), mode: below.mode & 0o7777, uid: below.uid, gid: below.gid, mtime: below.mtime });
            break;
          }
        }
      } else if (!st.isDirectory()) throw new LayerError(`layer entry "${rel}" has a parent "${cur}" that is not a directory`);
      knownDirs.add(cur);
    }
  };

  // A later member replaces an earlier one at the same path (as tar does), except dir over dir.
  const clearPath = async (rel: string, keepDir: boolean) => {
    const st = await lstat(abs(rel)).catch(() => undefined);
    if (keepDir && st?.isDirectory()) return;
    for (const k of [...specials.keys()]) if (k === rel || k.startsWith(`${rel}/`)) specials.delete(k);
    if (!st) return;
    await rm(abs(rel), { recursive: true, force: true });
    for (const d of knownDirs) if (d === rel || d.startsWith(`${rel}/`)) knownDirs.delete(d);
  };

  const setOwnerModeTime = async (p: string, h: tar.Header, isLink: boolean) => {
    if (isRoot) await lchown(p, h.uid ?? 0, h.gid ?? 0);
    // chown clears set-id bits, so the mode goes on after it; symlinks have no mode on Linux.
    if (!isLink) await chmod(p, (h.mode ?? 0o644) & 0o7777);
    const t = h.mtime ?? new Date(0);
    await (isLink ? lutimes(p, t, t) : utimes(p, t, t));
  };

  const handle = async (h: tar.Header, body: tar.Extract extends AsyncIterable<infer S> ? S : never) => {
    const rel = layerPath(h.name);
    const type = h.type ?? 'file';
    const pax = (h as { pax?: Record<string, string> }).pax;
    if (rel === undefined) {
      body.resume();
      return;
    }
    const base = posix.basename(rel);
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      body.resume();
      await ensureParents(rel);
      if (base === WHITEOUT_OPAQUE) {
        opaqueDirs++;
        const st = parent === '' ? undefined : await lstat(abs(parent));
        specials.set(parent === '' ? '.' : parent, {
          name: parent === '' ? '.' : parent,
          type: 'directory',
          mode: st ? st.mode & 0o7777 : 0o755,
          uid: st?.uid ?? 0,
          gid: st?.gid ?? 0,
          mtime: st?.mtime ?? new Date(0),
          pax: { [`SCHILY.xattr.${OPAQUE_XATTR}`]: 'y' },
        });
      } else if (!base.startsWith(WHITEOUT_META_PREFIX)) {
        whiteouts++;
        const target = parent === '' ? base.slice(WHITEOUT_PREFIX.length) : `${parent}/${base.slice(WHITEOUT_PREFIX.length)}`;
        // A whiteout hides lower layers only: an entry of this same layer at that path stays (OCI image-spec).
        if (await lstat(abs(target)).then(() => true, () => false)) return;
        specials.set(target, { name: target, type: 'character-device', mode: 0, uid: 0, gid: 0, mtime: new Date(0), devmajor: 0, devminor: 0 });
      }
      return;
    }
    await ensureParents(rel);
    const p = abs(rel);
    switch (type) {
      case 'directory': {
        body.resume();
        await clearPath(rel, true);
        await mkdir(p, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        knownDirs.add(rel);
        dirMeta.set(rel, { path: p, mode: (h.mode ?? 0o755) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(0) });
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await clearPath(rel, false);
        await pipeline(body, createWriteStream(p, { mode: 0o600, flags: 'wx' }));
        await setOwnerModeTime(p, h, false);
        return;
      }
      case 'symlink': {
        body.resume();
        await clearPath(rel, false);
        await symlink(h.linkname ?? '', p);
        await setOwnerModeTime(p, h, true);
        return;
      }
      case 'link': {
        body.resume();
        const target = layerPath(h.linkname ?? '');
        if (target === undefined) throw new LayerError(`layer entry "${h.name}" is a hardlink to the layer root`);
        await ensureParents(target);
        const tst = await lstat(abs(target)).catch(() => undefined);
        if (!tst) throw new LayerError(`layer entry "${h.name}" is a hardlink to "${h.linkname}", which the layer does not contain before it`);
        if (tst.isDirectory()) throw new LayerError(`layer entry "${h.name}" is a hardlink to a directory`);
        await clearPath(rel, false);
        await link(abs(target), p);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        body.resume();
        await clearPath(rel, false);
        specials.set(rel, {
          name: rel,
          type,
          mode: (h.mode ?? 0o644) & 0o7777,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          mtime: h.mtime ?? new Date(0),
          devmajor: h.devmajor ?? 0,
          devminor: h.devminor ?? 0,
        });
        return;
      }
      default:
        // pax-global-header and the GNU long-name records are consumed by tar-stream; anything else is skipped.
        body.resume();
        if (pax) log.debug({ name: h.name, type }, 'skipping unsupported layer entry');
    }
  };

  const feed = pipeline(layer, tap, extract, { signal }).catch((err: unknown) => {
    extract.destroy(err as Error);
    throw err;
  });
  try {
    for await (const entry of extract) {
      signal?.throwIfAborted();
      await handle(entry.header, entry);
    }
    await feed;
  } catch (err) {
    await feed.catch(() => undefined);
    if (err instanceof LayerError) throw err;
    if ((err as Error).name === 'AbortError') throw err;
    throw new LayerError(`unpacking layer: ${(err as Error).message}`, { cause: err });
  }
  if (specials.size > 0) await writeSpecials(dir, [...specials.values()], signal);
  // Directory modes and times last: writing children changed them; deepest first.
  for (const m of [...dirMeta.values()].sort((a, b) => b.path.length - a.path.length)) {
    if (isRoot) await lchown(m.path, m.uid, m.gid);
    await chmod(m.path, m.mode);
    await utimes(m.path, m.mtime, m.mtime);
  }
  return { diffId: tap.digest(), whiteouts, opaqueDirs };
}

/** Device nodes, fifos, overlay whiteouts and opaque markers, created by GNU tar (Node has no mknod or setxattr). */
async function writeSpecials(dir: string, specials: SpecialEntry[], signal?: AbortSignal): Promise<void> {
  const pack = tar.pack();
  const child = spawn('tar', ['--xattrs', `--xattrs-include=${OPAQUE_XATTR}`, '--numeric-owner', '-xpf', '-', '-C', dir], {
    stdio: ['pipe', 'ignore', 'pipe'],
    ...(signal ? { signal } : {}),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const piping = pipeline(pack, child.stdin).catch(() => undefined);
  for (const s of specials) {
    pack.entry({ name: s.name, type: s.type, mode: s.mode, uid: s.uid, gid: s.gid, mtime: s.mtime, devmajor: s.devmajor, devminor: s.devminor, ...(s.pax ? { pax: s.pax } : {}) } as Partial<tar.Header> & { name: string });
  }
  pack.finalize();
  await piping;
  const code = await exited.catch((err: NodeJS.ErrnoException) => {
    throw new LayerError(
      err.code === 'ENOENT'
        ? 'unpacking layer: GNU tar is needed to create device nodes, overlay whiteouts and opaque directories, and it is not installed'
        : `unpacking layer: running tar: ${err.message}`,
    );
  });
  // GNU tar only warns (exit 0) when it cannot set an xattr; a missing opaque marker would silently show
  // lower-layer files, so any complaint is a failure.
  if (code !== 0 || /Cannot|Operation not permitted/.test(stderr)) {
    const why = stderr.trim().split('\n').slice(0, 3).join('; ');
    throw new LayerError(
      `unpacking layer: creating device nodes, overlay whiteouts or opaque directories failed${isRoot ? '' : ' (this needs root)'}: ${why}`,
    );
  }
}
