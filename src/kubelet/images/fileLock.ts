// An inter-process lock on a file (O_EXCL create), so a `k8ts images` command and a running kubelet
// never interleave their read-modify-write of the image index. A lock left by a dead process is taken over.
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` while holding the lock file at `path`; waits up to `timeoutMs` for another holder. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 60_000, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const me = `${process.pid} ${hostname()}`;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    signal?.throwIfAborted();
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(me);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readFile(path, 'utf8').catch(() => '');
    const [pidText, host] = holder.split(' ');
    const pid = Number(pidText);
    // Only judge liveness for holders on this host; an empty file is a holder between create and write.
    if (holder !== '' && host === hostname() && Number.isInteger(pid) && pid > 0 && !processAlive(pid)) {
      // Re-check right before unlinking, to narrow the window in which another waiter already took over.
      if ((await readFile(path, 'utf8').catch(() => '')) === holder) await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new LockTimeoutError(`timed out waiting for the image store lock ${path} (held by pid ${pidText || '?'})`);
    await sleep(delay, undefined, signal ? { signal } : {});
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
