// One-shot commands (mount, unshare, ip, CNI plugins, runc …) run by a small helper process.
// libuv starts a child with fork(): the process that calls spawn pays for copying itself, and in
// the k8ts server (hundreds of MB, many threads) that cost ~20 ms of CPU per command and blocked the
// calling thread until the child exec'd — the kubelet runs ten-odd commands per pod start and as
// many per teardown, on the thread that also serves the API. The helper is a bare Node process
// with nothing loaded but child_process: its forks cost a quarter of that, and the caller only
// exchanges a message with it. It starts on first use and exits after a short idle period (or
// when its parent goes away), so an idle node carries no extra process.
import { spawn, type ChildProcess } from 'node:child_process';

export interface CommandOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer;
  /** The whole environment (default: this process's, as of the helper's start). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long (default 60 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface CommandResult {
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** A command that could not run, or ended with a non-zero status or a signal. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly result: CommandResult | undefined,
    readonly file: string,
    readonly args: readonly string[],
  ) {
    super(message);
  }
  get stderr(): string {
    return this.result?.stderr.toString('utf8') ?? '';
  }
  get stdout(): string {
    return this.result?.stdout.toString('utf8') ?? '';
  }
  get code(): number | null | undefined {
    return this.result?.code;
  }
}

interface Request {
  id: number;
  file: string;
  args: string[];
  input?: Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
}
type Reply = { id: number; error: string } | { id: number; code: number | null; signal: string | null; stdout: Uint8Array; stderr: Uint8Array };

// The helper's code: spawns each request, collects its output, replies; `cancel` kills a child.
// When its parent disconnects (idle, or gone), it exits once its running commands have ended.
const HELPER_SOURCE = `
const { spawn } = require('node:child_process');
process.title = 'k8ts-commands';
const children = new Map();
let parentGone = false;
const reply = (m) => { if (process.connected) process.send(m); };
const maybeExit = () => { if (parentGone && children.size === 0) process.exit(0); };
process.on('disconnect', () => { parentGone = true; maybeExit(); });
process.on('message', (m) => {
  if (m.cancel !== undefined) { children.get(m.cancel)?.kill('SIGKILL'); return; }
  let child;
  try {
    child = spawn(m.file, m.args, { env: m.env, cwd: m.cwd, stdio: [m.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (e) { reply({ id: m.id, error: e.message }); return; }
  children.set(m.id, child);
  const out = [], err = [];
  const timer = setTimeout(() => child.kill('SIGKILL'), m.timeoutMs);
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  let failed;
  child.on('error', (e) => { failed = e.message; });
  if (m.input) { child.stdin.on('error', () => {}); child.stdin.end(Buffer.from(m.input)); }
  child.on('close', (code, signal) => {
    clearTimeout(timer);
    children.delete(m.id);
    if (failed !== undefined) reply({ id: m.id, error: failed });
    else reply({ id: m.id, code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    maybeExit();
  });
});
`;

const IDLE_MS = 10_000;

class CommandHelper {
  private proc: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private idleTimer: NodeJS.Timeout | undefined;

  run(file: string, args: readonly string[], opts: CommandOptions): Promise<CommandResult> {
    const id = this.nextId++;
    const req: Request = { id, file, args: [...args], timeoutMs: opts.timeoutMs ?? 60_000 };
    if (opts.input !== undefined) req.input = Buffer.from(opts.input);
    // Without one, the helper's environment is used: this process's as it was when the helper
    // started (k8ts never changes its own).
    if (opts.env) req.env = opts.env;
    if (opts.cwd) req.cwd = opts.cwd;
    return new Promise<CommandResult>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new CommandError(`${file}: aborted`, undefined, file, args));
      const proc = this.ensureHelper();
      // While a command runs, this process waits for it; an idle helper keeps nothing alive.
      if (this.pending.size === 0) this.keepAlive(proc, true);
      const onAbort = () => proc.connected && proc.send({ cancel: id });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, (reply) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if ('error' in reply) reject(new CommandError(`${file}: ${reply.error}`, undefined, file, args));
        else resolve({ code: reply.code, signal: reply.signal, stdout: toBuffer(reply.stdout), stderr: toBuffer(reply.stderr) });
      });
      proc.send(req, (err) => {
        if (err) this.settle({ id, error: `the command helper did not take the request: ${err.message}` });
      });
    });
  }

  /** The helper's pid while one runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private settle(reply: Reply): void {
    const done = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    done?.(reply);
    if (this.pending.size === 0) {
      if (this.proc) this.keepAlive(this.proc, false);
      this.scheduleIdleExit();
    }
  }

  private keepAlive(proc: ChildProcess, on: boolean): void {
    if (on) {
      proc.ref();
      proc.channel?.ref();
    } else {
      proc.unref();
      proc.channel?.unref();
    }
  }

  private ensureHelper(): ChildProcess {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.proc) return this.proc;
    // No execArgv: the parent's flags (--cpu-prof, --inspect …) are not the helper's business.
    const proc = spawn(process.execPath, ['--max-old-space-size=64', '-e', HELPER_SOURCE], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.keepAlive(proc, false);
    proc.on('message', (m: Reply) => this.settle(m));
    const lost = (why: string) => {
      if (this.proc !== proc) return;
      this.proc = undefined;
      for (const id of [...this.pending.keys()]) this.settle({ id, error: why });
    };
    proc.on('error', (err) => lost(`the command helper failed: ${err.message}`));
    proc.on('exit', (code, signal) => lost(`the command helper exited (${signal ?? `status ${code}`})`));
    this.proc = proc;
    return proc;
  }

  private scheduleIdleExit(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.pending.size > 0 || !this.proc) return;
      const proc = this.proc;
      this.proc = undefined;
      if (proc.connected) proc.disconnect();
    }, IDLE_MS);
    this.idleTimer.unref();
  }
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

const helper = new CommandHelper();

/** The command helper's pid, while one runs (for tests and diagnostics). */
export function commandHelperPid(): number | undefined {
  return helper.pid;
}

/** Runs a command to its end in the helper process; resolves whatever its exit status. */
export function runCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return helper.run(file, args, opts);
}

/**
 * Runs a command in the helper process and resolves its output as text; rejects with a CommandError
 * (message `Command failed: <cmd>` and the stderr, as child_process.execFile's) unless it exits 0.
 */
export async function execCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await runCommand(file, args, opts);
  const stdout = r.stdout.toString('utf8');
  const stderr = r.stderr.toString('utf8');
  if (r.code === 0) return { stdout, stderr };
  const cmd = [file, ...args].join(' ');
  const how = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
  throw new CommandError(`Command failed: ${cmd} (${how})${stderr.trim() ? `\n${stderr.trim()}` : ''}`, r, file, args);
}
