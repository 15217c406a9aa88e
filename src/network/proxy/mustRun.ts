// Runs a tool through the proxy's CommandRunner and turns a failure exit into a CommandError, for
// backends whose steps must stop at the first failure (nftables, IPVS).
import { CommandError, type CommandResult, type CommandRunner } from './exec.js';

export async function mustRun(exec: CommandRunner, cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
  const r = await exec.run(cmd, args, input);
  if (r.code !== 0) throw new CommandError([cmd, ...args].join(' '), r.code, r.stderr || r.stdout);
  return r;
}

/** The first line of what a failed tool said (or the error's message). */
export function firstLine(e: unknown): string {
  return e instanceof CommandError ? e.stderr.trim().split('\n')[0] || e.message : e instanceof Error ? e.message : String(e);
}
