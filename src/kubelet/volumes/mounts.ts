// The few mount operations volumes need (tmpfs for memory-backed emptyDirs, secrets and projected
// volumes), through util-linux `mount`/`umount`, and the mount table read from /proc/self/mountinfo.
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { runCommand } from '../../util/commands.js';

async function run(cmd: string, args: string[], signal?: AbortSignal): Promise<void> {
  const r = await runCommand(cmd, args, { timeoutMs: 30_000, ...(signal ? { signal } : {}) }).catch((err: Error) => {
    throw new Error(`${cmd} ${args.join(' ')}: ${err.message}`);
  });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr.toString('utf8') || (r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`)).trim()}`);
}

/** Decodes the octal escapes (`\040` for a space) of /proc mount tables. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` (deepest first, so they can be unmounted in order). */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  // The mount table shows real paths: resolve symlinks in dir (a symlinked data dir) first.
  const base = await fs.realpath(dir).catch(() => resolve(dir));
  const points = text
    .split('\n')
    .filter((l) => l)
    .map((l) => unescapeMountPath(l.split(' ')[4] ?? ''))
    .filter((p) => p === base || p.startsWith(base + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function isMountPoint(dir: string): Promise<boolean> {
  const real = await fs.realpath(dir).catch(() => resolve(dir));
  return (await mountPointsUnder(real)).includes(real);
}

/** Mounts a tmpfs on `dir` (size in bytes; 0 = the kernel default of half the RAM). Idempotent. */
export async function mountTmpfs(dir: string, sizeBytes: number, signal?: AbortSignal): Promise<void> {
  if (await isMountPoint(dir)) return;
  const options = sizeBytes > 0 ? ['-o', `size=${sizeBytes}`] : [];
  await run('mount', ['-t', 'tmpfs', ...options, 'tmpfs', dir], signal);
}

/** Unmounts everything at or below `dir`, deepest first (lazily, so a busy mount cannot wedge teardown). */
export async function unmountAll(dir: string): Promise<void> {
  for (const p of await mountPointsUnder(dir)) {
    await run('umount', [p]).catch(() => run('umount', ['-l', p]));
  }
}

/** Bind-mounts `source` on `target` (both must exist). */
export async function bindMount(source: string, target: string, signal?: AbortSignal): Promise<void> {
  await run('mount', ['--bind', source, target], signal).catch((err: Error) => {
    throw new Error(`mount failed: ${err.message}`);
  });
}
