// hostPath volumes' `type` checks as upstream's pkg/volume/hostpath (checkType): the *OrCreate types
// create what is missing (directories 0755, files 0644), the others only verify, with upstream's messages.
import { promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';

export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;
export type HostPathType = (typeof HOST_PATH_TYPES)[number];

/** A type check failed; the message is upstream's (`hostPath type check failed: /x is not a directory`). */
export class HostPathTypeError extends Error {
  override readonly name = 'HostPathTypeError';
}

/** Checks (and for the *OrCreate types, creates) `path` for the hostPath `type` ('' or undefined: no check). */
export async function checkHostPathType(path: string, type: string | undefined): Promise<void> {
  if (type === undefined || type === '') return;
  const st = await stat(path);
  const fail = (what: string) => {
    throw new HostPathTypeError(`hostPath type check failed: ${path} ${what}`);
  };
  switch (type) {
    case 'DirectoryOrCreate':
    case 'Directory':
      if (!st && type === 'DirectoryOrCreate') {
        await fs.mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      if (!st) fail('does not exist');
      if (!st!.isDirectory()) fail('is not a directory');
      return;
    case 'FileOrCreate':
    case 'File':
      if (!st && type === 'FileOrCreate') {
        // O_CREAT without O_EXCL: a racing creator is fine.
        await (await fs.open(path, 'a', 0o644)).close();
        return;
      }
      if (!st) fail('does not exist');
      if (!st!.isFile()) fail('is not a file');
      return;
    case 'Socket':
      if (!st?.isSocket()) fail('is not a socket file');
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) fail('is not a character device');
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) fail('is not a block device');
      return;
    default:
      throw new HostPathTypeError(`${type} is an invalid volume type`);
  }
}

async function stat(path: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
