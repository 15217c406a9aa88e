// Terminals for containers without fd passing: Node cannot receive runc's pty master over
// `--console-socket` (SCM_RIGHTS), so a tty process runs as `script -qfec '<runc …>' /dev/null`:
// util-linux `script` gives runc a pty as its host console, runc (foreground, terminal=true) makes
// the container's pty and copies between the two in raw mode. Resizing sets the outer pty's window
// size with `stty -F`, which sends runc a SIGWINCH, and runc copies the size to the container's pty.
import { execFile } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Shell-quotes argv for `script -c`. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** argv that runs `argv` under a new pty, exiting with its exit status. */
export function underPty(argv: string[]): string[] {
  return ['script', '-qfec', shellQuote(argv), '/dev/null'];
}

/** Sets the window size of the pty `script` (pid) made for its child. */
export async function resizePty(scriptPid: number, size: { width: number; height: number }): Promise<void> {
  const children = (await readFile(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean);
  for (const child of children) {
    const tty = await readlink(`/proc/${child}/fd/0`).catch(() => '');
    if (!tty.startsWith('/dev/pts/')) continue;
    await execFileP('stty', ['-F', tty, 'rows', String(Math.max(1, size.height)), 'cols', String(Math.max(1, size.width))]);
    return;
  }
}
