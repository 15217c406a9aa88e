// One-shot commands (mount, unshare, ip, CNI plugins, runc …) run from worker threads. Starting a
// child blocks the thread that calls spawn until the child has exec'd — 7–20 ms each in a large
// process on a busy machine — and the kubelet's thread is also the API server's and the scheduler's
// in `k8ts server`, so its ten-odd commands per pod start are moved off it. The worker is started
// on first use and ends after a short idle period, so an idle node carries no extra thread.
import { Worker } from 'node:worker_threads';

export interface CommandOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer;
  /** The whole environment (default: this process's, as of the worker's start). */
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
type WorkerMessage = Reply | { cancel: number };

// The worker's code: spawns each request, collects its output, replies; `cancel` kills a child.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const children = new Map();
parentPort.on('message', (m) => {
  if (m.cancel !== undefined) { children.get(m.cancel)?.kill('SIGKILL'); return; }
  let child;
  try {
    child = spawn(m.file, m.args, { env: m.env, cwd: m.cwd, stdio: [m.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (e) { parentPort.postMessage({ id: m.id, error: e.message }); return; }
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
    if (failed !== undefined) parentPort.postMessage({ id: m.id, error: failed });
    else parentPort.postMessage({ id: m.id, code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
  });
});
`;

const IDLE_MS = 10_000;

class CommandRunner {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private idleTimer: NodeJS.Timeout | undefined;

  get inFlight(): number {
    return this.pending.size;
  }

  run(file: string, args: readonly string[], opts: CommandOptions): Promise<CommandResult> {
    const id = this.nextId++;
    const req: Request = { id, file, args: [...args], timeoutMs: opts.timeoutMs ?? 60_000 };
    if (opts.input !== undefined) req.input = Buffer.from(opts.input);
    // Without one, the worker's environment is used: this process's as it was when the worker
    // started (k8ts never changes its own). Cloning process.env for every command was slow.
    if (opts.env) req.env = opts.env;
    if (opts.cwd) req.cwd = opts.cwd;
    const worker = this.ensureWorker();
    return new Promise<CommandResult>((resolve, reject) => {
      const onAbort = () => worker.postMessage({ cancel: id });
      if (opts.signal?.aborted) return reject(new CommandError(`${file}: aborted`, undefined, file, args));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, (reply) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if ('error' in reply) reject(new CommandError(`${file}: ${reply.error}`, undefined, file, args));
        else resolve({ code: reply.code, signal: reply.signal, stdout: Buffer.from(reply.stdout), stderr: Buffer.from(reply.stderr) });
      });
      worker.postMessage(req);
    });
  }

  private ensureWorker(): Worker {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32 } });
    w.unref();
    w.on('message', (m: WorkerMessage) => {
      if ('cancel' in m) return;
      const done = this.pending.get(m.id);
      this.pending.delete(m.id);
      done?.(m);
      if (this.pending.size === 0) this.scheduleIdleExit();
    });
    w.on('error', (err) => this.failAll(w, err.message));
    w.on('exit', () => this.failAll(w, 'the command worker exited'));
    this.worker = w;
    return w;
  }

  private scheduleIdleExit(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.pending.size > 0 || !this.worker) return;
      const w = this.worker;
      this.worker = undefined;
      void w.terminate();
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  private failAll(w: Worker, message: string): void {
    if (this.worker === w) this.worker = undefined;
    for (const [id, done] of this.pending) done({ id, error: message });
    this.pending.clear();
  }
}

// A spawn blocks its worker until the child has exec'd too, so a pod start's commands queued
// behind each other on one worker; a few workers let them start side by side.
const WORKERS = 4;
const runners: CommandRunner[] = [];

/** Runs a command to its end off this thread; resolves whatever its exit status. */
export function runCommand(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  let runner = runners.find((r) => r.inFlight === 0);
  if (!runner && runners.length < WORKERS) runners.push((runner = new CommandRunner()));
  runner ??= runners.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  return runner.run(file, args, opts);
}

/**
 * Runs a command off this thread and resolves its output as text; rejects with a CommandError
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
