// How proxy backends run their tools (iptables-restore, nft, conntrack, sysctl): one small
// interface, so a backend can be pointed into a network namespace (tests, benchmarks) or faked in
// unit tests, and the rule generation stays free of I/O.
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Runs `cmd args`, feeding `input` on stdin; resolves with the exit code (never rejects on failure exits). */
  run(cmd: string, args: readonly string[], input?: string): Promise<CommandResult>;
}

/** Runs commands on this host, or inside a network namespace when `prefix` is `['ip', 'netns', 'exec', NAME]`. */
export function commandRunner(prefix: readonly string[] = []): CommandRunner {
  return {
    run(cmd, args, input) {
      const argv = [...prefix, cmd, ...args];
      return new Promise((resolve) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: [input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout!.on('data', (d: Buffer) => out.push(d));
        child.stderr!.on('data', (d: Buffer) => err.push(d));
        child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: `${cmd}: ${e.message}` }));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
        if (input !== undefined) {
          // A tool that exits before reading all input closes the pipe; its exit status reports why.
          child.stdin!.on('error', () => undefined);
          child.stdin!.end(input);
        }
      });
    },
  };
}

/** A failed tool run, with what the tool said. */
export class CommandError extends Error {
  readonly code = 'CommandFailed';
  constructor(
    readonly command: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${exitCode}): ${stderr.trim() || 'no output'}`);
  }
}
