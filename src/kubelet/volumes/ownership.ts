// fsGroup ownership of a volume (upstream pkg/volume/volume_linux.go SetVolumeOwnership): every
// file and directory gets the pod's fsGroup as group; files gain group rw (ro for read-only
// volumes), directories also the setgid and group-exec bits. Symlinks get their group only, never a chmod.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

/** The mode upstream's changeFilePermission gives a file or directory of `mode`. */
export function ownedMode(mode: number, isDir: boolean, readOnly: boolean): number {
  let mask = readOnly ? RO_MASK : RW_MASK;
  if (isDir) mask |= SETGID | EXEC_MASK;
  return (mode & 0o7777) | mask;
}

/**
 * Applies fsGroup ownership to `dir` and everything below it. With policy `OnRootMismatch` the
 * walk is skipped when the root already has the group and the permission bits.
 */
export async function setVolumeOwnership(dir: string, fsGroup: number | undefined, readOnly: boolean, policy: string | undefined = 'Always'): Promise<void> {
  if (fsGroup === undefined) return;
  if (policy === 'OnRootMismatch') {
    const st = await fs.stat(dir);
    if (st.gid === fsGroup && ownedMode(st.mode, true, readOnly) === (st.mode & 0o7777)) return;
  }
  await walk(dir, fsGroup, readOnly);
}

async function walk(path: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const st = await fs.lstat(path);
  await fs.lchown(path, -1, fsGroup);
  if (st.isSymbolicLink()) return;
  const want = ownedMode(st.mode, st.isDirectory(), readOnly);
  if (want !== (st.mode & 0o7777)) await fs.chmod(path, want);
  if (!st.isDirectory()) return;
  for (const name of await fs.readdir(path)) await walk(join(path, name), fsGroup, readOnly);
}
