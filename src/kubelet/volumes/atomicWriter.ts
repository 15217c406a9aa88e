// Upstream's atomic writer (pkg/volume/util/atomic_writer.go) for configMap, secret, downwardAPI and
// projected volumes: the files live in a timestamped directory `..<UTC time>.<random>`, the symlink
// `..data` points at it, and every user-visible top-level name is a symlink `name → ..data/name`.
// An update writes a new timestamped directory and renames a fresh `..data_tmp` symlink over
// `..data`, so a reader sees either the old or the new contents, never a mix.
import { randomInt } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/** One file of a volume's payload: its bytes and its permission bits (e.g. 0o644). */
export interface FileProjection {
  data: Buffer;
  mode: number;
}

/** Relative path (as given in the volume source, cleaned) → file. */
export type Payload = Map<string, FileProjection>;

export const DATA_DIR_NAME = '..data';
const NEW_DATA_DIR_NAME = '..data_tmp';
const MAX_FILE_NAME_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;

/** An invalid payload path; the message is upstream's. */
export class PayloadPathError extends Error {
  override readonly name = 'PayloadPathError';
}

/** Checks one payload path as upstream's validatePath does; returns an error message or undefined. */
export function validatePayloadPath(targetPath: string): string | undefined {
  if (targetPath === '') return `invalid path: must not be empty: ""`;
  if (targetPath.startsWith('/')) return `invalid path: must be relative path: ${targetPath}`;
  if (targetPath.length > MAX_PATH_LENGTH) return `invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`;
  const items = targetPath.split('/');
  for (const item of items) {
    if (item === '..') return `invalid path: must not contain '..': ${targetPath}`;
    if (item.length > MAX_FILE_NAME_LENGTH) return `invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`;
  }
  if (items[0]!.startsWith('..') && items[0]!.length > 2) return `invalid path: must not start with '..': ${targetPath}`;
  return undefined;
}

/** Validates every path and returns the payload keyed by cleaned paths (upstream validatePayload). */
export function cleanPayload(payload: ReadonlyMap<string, FileProjection>): Payload {
  const cleaned: Payload = new Map();
  for (const [p, content] of payload) {
    const problem = validatePayloadPath(p);
    if (problem) throw new PayloadPathError(problem);
    cleaned.set(posix.normalize(p).replace(/\/+$/, ''), content);
  }
  return cleaned;
}

/** The timestamped directory name upstream's MkdirTemp pattern produces: `..2006_01_02_15_04_05.<digits>`. */
export function timestampedDirName(now: Date, random = randomInt(0, 2 ** 31 - 1)): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}`;
  return `..${stamp}.${random}`;
}

/** The first path component of each payload path: the names that become user-visible symlinks. */
export function userVisiblePaths(payload: ReadonlyMap<string, FileProjection>): Set<string> {
  return new Set([...payload.keys()].map((p) => p.split('/')[0]!));
}

export interface WriteResult {
  /** False when the contents on disk already equalled the payload and nothing was written. */
  written: boolean;
  /** The timestamped directory now behind `..data`. */
  dataDir: string;
}

/**
 * Projects `payload` into `targetDir` atomically (the directory must exist). Skips the write when
 * the same files already hold the same bytes; removes user-visible names no longer in the
 * payload. Never follows user-visible symlinks out of `targetDir`.
 */
export interface WriteOptions {
  now?: Date;
  /**
   * Runs after a new timestamped directory is written and before it is swapped in (upstream's
   * setPerms hook: fsGroup ownership), so readers never see files without their final permissions.
   */
  beforeSwap?(tsDir: string): Promise<void>;
}

export async function writeAtomically(targetDir: string, raw: ReadonlyMap<string, FileProjection>, opts: WriteOptions = {}): Promise<WriteResult> {
  const now = opts.now ?? new Date();
  const payload = cleanPayload(raw);
  const dataLink = join(targetDir, DATA_DIR_NAME);
  const oldTsName = await readLinkOrUndefined(dataLink);
  const oldTsDir = oldTsName ? join(targetDir, oldTsName) : undefined;
  if (oldTsDir && (await sameContents(oldTsDir, payload))) {
    // Contents are current; still repair user-visible links a user or a crash may have removed.
    await linkUserVisiblePaths(targetDir, payload);
    return { written: false, dataDir: oldTsDir };
  }
  const oldVisible = oldTsDir ? await listTopLevel(oldTsDir) : new Set<string>();

  const tsName = await makeTimestampedDir(targetDir, now);
  const tsDir = join(targetDir, tsName);
  try {
    for (const [p, content] of payload) {
      const full = join(tsDir, p);
      await fs.mkdir(dirname(full), { recursive: true });
      await fs.writeFile(full, content.data, { mode: content.mode });
      await fs.chmod(full, content.mode); // the umask must not change what the user asked for
    }
    await opts.beforeSwap?.(tsDir);
    const tmpLink = join(targetDir, NEW_DATA_DIR_NAME);
    await fs.rm(tmpLink, { force: true });
    await fs.symlink(tsName, tmpLink);
    await fs.rename(tmpLink, dataLink);
  } catch (err) {
    await fs.rm(tsDir, { recursive: true, force: true });
    throw err;
  }
  await linkUserVisiblePaths(targetDir, payload);
  const visible = userVisiblePaths(payload);
  for (const name of oldVisible) {
    // rm on a symlink removes the link itself, never what it points at.
    if (!visible.has(name)) await fs.rm(join(targetDir, name), { force: true });
  }
  if (oldTsDir) await fs.rm(oldTsDir, { recursive: true, force: true });
  return { written: true, dataDir: tsDir };
}

async function makeTimestampedDir(targetDir: string, now: Date): Promise<string> {
  for (;;) {
    const name = timestampedDirName(now);
    try {
      await fs.mkdir(join(targetDir, name), { mode: 0o755 });
      await fs.chmod(join(targetDir, name), 0o755);
      return name;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

async function linkUserVisiblePaths(targetDir: string, payload: ReadonlyMap<string, FileProjection>): Promise<void> {
  for (const name of userVisiblePaths(payload)) {
    const link = join(targetDir, name);
    const want = posix.join(DATA_DIR_NAME, name);
    const have = await readLinkOrUndefined(link);
    if (have === want) continue;
    // Something else under that name (an old file of a pre-atomic layout): replace it.
    await fs.rm(link, { recursive: true, force: true });
    await fs.symlink(want, link);
  }
}

async function sameContents(tsDir: string, payload: Payload): Promise<boolean> {
  const onDisk = await listFiles(tsDir, '');
  if (onDisk.size !== payload.size) return false;
  for (const [p, content] of payload) {
    if (!onDisk.has(p)) return false;
    const full = join(tsDir, p);
    const st = await fs.lstat(full).catch(() => undefined);
    // Bytes only, as upstream's shouldWriteFile: modes are fixed by the (immutable) pod spec, and
    // fsGroup ownership legitimately adds bits on disk.
    if (!st?.isFile()) return false;
    const bytes = await fs.readFile(full);
    if (!bytes.equals(content.data)) return false;
  }
  return true;
}

async function listFiles(dir: string, prefix: string): Promise<Set<string>> {
  const out = new Set<string>();
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) for (const f of await listFiles(join(dir, e.name), rel)) out.add(f);
    else out.add(rel);
  }
  return out;
}

async function listTopLevel(dir: string): Promise<Set<string>> {
  return new Set(await fs.readdir(dir).catch(() => [] as string[]));
}

async function readLinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await fs.readlink(path);
  } catch {
    return undefined;
  }
}
