// Runs the kernel tools a proxy mode drives (nft, ipvsadm, ipset, iptables-restore, ip), optionally
// inside a named network namespace (tests, several nodes on one machine). The one exec edge of the
// nftables and IPVS modes: everything before it is pure text.
import { spawn } from 'node:child_process';

/** A tool exited non-zero or could not start; `stderr` holds its own words, which name the bad line. */
export class CommandError extends Error {
  readonly code = 'CommandFailed';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || 'no output'}`);
    this.name = 'CommandError';
  }
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Runs `cmd args…` with `input` on stdin; rejects with CommandError on a non-zero exit. */
  run(cmd: string, args: readonly string[], input?: string, signal?: AbortSignal): Promise<CommandResult>;
}

export interface CommandRunnerOptions {
  /** Run every command in this network namespace (`ip netns exec NAME …`). */
  netns?: string;
}

/** The real runner: spawns the tool (no shell), feeds stdin, collects output. */
export function commandRunner(opts: CommandRunnerOptions = {}): CommandRunner {
  return {
    run(cmd, args, input, signal) {
      const argv = opts.netns ? ['netns', 'exec', opts.netns, cmd, ...args] : [...args];
      const bin = opts.netns ? 'ip' : cmd;
      const label = [cmd, ...args].join(' ');
      return new Promise<CommandResult>((resolve, reject) => {
        const child = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'pipe'], signal });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => err.push(b));
        child.on('error', (e: NodeJS.ErrnoException) => reject(new CommandError(label, null, e.code === 'ENOENT' ? `${bin}: not found (${e.message})` : e.message)));
        child.on('close', (code) => {
          const stdout = Buffer.concat(out).toString();
          const stderr = Buffer.concat(err).toString();
          if (code === 0) resolve({ stdout, stderr });
          else reject(new CommandError(label, code, stderr || stdout));
        });
        // A tool that exits before reading all of stdin (a usage error) must not crash us with EPIPE.
        child.stdin.on('error', () => undefined);
        child.stdin.end(input ?? '');
      });
    },
  };
}
