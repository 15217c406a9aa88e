// The pod shim: one small detached Node process per pod sandbox (like containerd-shim-runc-v2, which
// groups a pod's containers in one shim). It is the parent of each container's foreground
// `runc run`, so it sees the real exit status; it writes the CRI log files, records exits in
// `exit.json`, and serves attach. It survives kubelet restarts; the runtime finds it by its socket.
// Run as: node shim.js <socketPath> <sandboxDir>
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { createWriteStream, readFileSync, renameSync, writeFileSync, existsSync, unlinkSync, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { CriLineSplitter } from './criLog.js';
import {
  FRAME_CLOSE_STDIN,
  FRAME_EXIT,
  FRAME_RESIZE,
  FRAME_STDERR,
  FRAME_STDIN,
  FRAME_STDOUT,
  FrameDecoder,
  encodeFrame,
  readLine,
  type ShimContainerSpec,
  type ShimExitRecord,
  type ShimReply,
  type ShimRequest,
} from './shimProtocol.js';
import { resizePty, underPty } from './tty.js';

interface Attached {
  socket: Socket;
  stdout: boolean;
  stderr: boolean;
}

interface Running {
  spec: ShimContainerSpec;
  child: ChildProcess;
  log: WriteStream;
  attached: Set<Attached>;
  exited: boolean;
  stdinAttached: boolean;
}

const running = new Map<string, Running>();
let shuttingDown = false;

function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

function openLog(path: string): WriteStream {
  mkdirSync(dirname(path), { recursive: true });
  const s = createWriteStream(path, { flags: 'a' });
  s.on('error', (e) => console.error(`log ${path}: ${e.message}`));
  return s;
}

function oomKilled(spec: ShimContainerSpec): boolean {
  if (!spec.oomFile) return false;
  try {
    const m = /oom_kill (\d+)/.exec(readFileSync(spec.oomFile, 'utf8'));
    return m !== null && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

function ociLogError(spec: ShimContainerSpec): string {
  try {
    const lines = readFileSync(spec.ociLog, 'utf8').trim().split('\n');
    for (const line of lines.reverse()) {
      try {
        const rec = JSON.parse(line) as { level?: string; msg?: string };
        if (rec.level === 'error' && rec.msg) return rec.msg;
      } catch {
        /* not JSON */
      }
    }
  } catch {
    /* no log */
  }
  return '';
}

function waitForPid(spec: ShimContainerSpec, child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (existsSync(spec.pidFile)) {
        const pid = Number(readFileSync(spec.pidFile, 'utf8').trim());
        if (pid > 0) return resolve(pid);
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        return reject(new Error(ociLogError(spec) || `${spec.ociBinary} exited with ${child.exitCode ?? child.signalCode} before the container started`));
      }
      if (Date.now() - started > 30_000) return reject(new Error('timed out waiting for the container process'));
      setTimeout(tick, 3);
    };
    tick();
  });
}

function broadcast(r: Running, kind: number, data: Buffer): void {
  for (const a of r.attached) {
    if ((kind === FRAME_STDOUT && a.stdout) || (kind === FRAME_STDERR && a.stderr)) a.socket.write(encodeFrame(kind, data));
  }
}

async function startContainer(dir: string): Promise<ShimReply> {
  const spec = JSON.parse(readFileSync(`${dir}/shim.json`, 'utf8')) as ShimContainerSpec;
  if (running.has(spec.id)) return { ok: false, message: `container ${spec.id} is already running` };
  const runArgv = [spec.ociBinary, '--root', spec.ociRoot, '--log', spec.ociLog, '--log-format', 'json', 'run', '--keep', '--bundle', spec.bundle, '--pid-file', spec.pidFile, spec.id];
  if (spec.ociBinary.endsWith('crun')) runArgv.splice(runArgv.indexOf('--keep'), 1);
  const argv = spec.tty ? underPty(spec.command ?? runArgv) : (spec.command ?? runArgv);
  const child = spawn(argv[0] ?? '', argv.slice(1), {
    stdio: [spec.stdin || spec.tty ? 'pipe' : 'ignore', 'pipe', spec.tty ? 'ignore' : 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'xterm' },
  });
  const r: Running = { spec, child, log: openLog(spec.logPath), attached: new Set(), exited: false, stdinAttached: false };
  running.set(spec.id, r);
  child.stdin?.on('error', () => undefined);
  const pipes: Promise<void>[] = [];
  for (const [stream, kind, readable] of [
    ['stdout', FRAME_STDOUT, child.stdout],
    ['stderr', FRAME_STDERR, child.stderr],
  ] as const) {
    if (!readable) continue;
    const splitter = new CriLineSplitter(stream, (line) => r.log.write(line));
    readable.on('data', (b: Buffer) => {
      splitter.write(b);
      broadcast(r, kind, b);
    });
    pipes.push(
      new Promise((resolve) =>
        readable.on('close', () => {
          splitter.end();
          resolve();
        }),
      ),
    );
  }
  child.on('exit', (code, signal) => {
    const finishedAt = nowNanos();
    // Descendants in a shared pid namespace may hold the pipes open: do not wait on them forever.
    const drained = Promise.race([Promise.all(pipes), new Promise((res) => setTimeout(res, 2000))]);
    void drained.then(() => finishContainer(r, code, signal, finishedAt));
  });
  try {
    const pid = await waitForPid(spec, child);
    return { ok: true, pid, startedAt: nowNanos() };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGPIPE: 13 };

function finishContainer(r: Running, code: number | null, signal: NodeJS.Signals | null, finishedAt: string): void {
  const oom = oomKilled(r.spec);
  const exitCode = code ?? 128 + (SIGNALS[signal ?? ''] ?? 0);
  const record: ShimExitRecord = { exitCode, finishedAt, oomKilled: oom };
  const err = exitCode !== 0 ? ociLogError(r.spec) : '';
  if (err) record.message = err;
  const cleanup = (done: () => void) => (r.spec.command ? done() : void execFile(r.spec.ociBinary, ['--root', r.spec.ociRoot, 'delete', '--force', r.spec.id], () => done()));
  cleanup(() => {
    writeJsonAtomic(r.spec.exitFile, record);
    r.exited = true;
    for (const a of r.attached) a.socket.end(encodeFrame(FRAME_EXIT, JSON.stringify({ exitCode })));
    r.attached.clear();
    r.log.end();
    running.delete(r.spec.id);
    maybeExit();
  });
}

function maybeExit(): void {
  if (shuttingDown && running.size === 0) {
    server.close();
    setTimeout(() => process.exit(0), 50).unref();
  }
}

function attach(socket: Socket, req: Extract<ShimRequest, { op: 'attach' }>): boolean {
  const r = running.get(req.id);
  if (!r || r.exited) return false;
  const a: Attached = { socket, stdout: req.stdout, stderr: req.stderr };
  r.attached.add(a);
  const useStdin = req.stdin && r.child.stdin !== null && r.spec.stdin;
  if (useStdin) r.stdinAttached = true;
  const detach = () => {
    r.attached.delete(a);
    // stdinOnce: the container's stdin closes after the first attached client goes away.
    if (useStdin && r.spec.stdinOnce) r.child.stdin?.end();
  };
  const decoder = new FrameDecoder((kind, payload) => {
    if (kind === FRAME_STDIN && useStdin) r.child.stdin?.write(payload);
    else if (kind === FRAME_CLOSE_STDIN && useStdin && r.spec.stdinOnce) r.child.stdin?.end();
    else if (kind === FRAME_RESIZE && r.spec.tty && r.child.pid) {
      const size = JSON.parse(payload.toString()) as { width: number; height: number };
      void resizePty(r.child.pid, size).catch(() => undefined);
    }
  });
  socket.on('data', (b: Buffer) => decoder.push(b));
  socket.on('close', detach);
  socket.on('error', () => undefined);
  socket.resume();
  return true;
}

async function handle(socket: Socket): Promise<void> {
  socket.on('error', () => undefined);
  let req: ShimRequest;
  try {
    req = JSON.parse(await readLine(socket, 10_000)) as ShimRequest;
  } catch {
    socket.destroy();
    return;
  }
  const reply = (msg: ShimReply) => socket.write(JSON.stringify(msg) + '\n');
  switch (req.op) {
    case 'ping':
      reply({ ok: true, shimPid: process.pid });
      return void socket.end();
    case 'start':
      reply(await startContainer(req.dir));
      return void socket.end();
    case 'attach': {
      if (!running.has(req.id)) {
        reply({ ok: false, message: `container ${req.id} is not running` });
        return void socket.end();
      }
      reply({ ok: true });
      if (!attach(socket, req)) socket.end(encodeFrame(FRAME_EXIT, '{}'));
      return;
    }
    case 'resize': {
      const r = running.get(req.id);
      if (r?.spec.tty && r.child.pid) await resizePty(r.child.pid, req).catch(() => undefined);
      reply({ ok: true });
      return void socket.end();
    }
    case 'reopenLog': {
      const r = running.get(req.id);
      if (!r) reply({ ok: false, message: `container ${req.id} is not running` });
      else {
        const old = r.log;
        r.log = openLog(r.spec.logPath);
        old.end();
        reply({ ok: true });
      }
      return void socket.end();
    }
    case 'forget':
      reply({ ok: true });
      return void socket.end();
    case 'adopt': {
      if (sandboxDir !== '--spare') {
        reply({ ok: false, message: 'this shim already serves a sandbox' });
        return void socket.end();
      }
      try {
        await listen(req.socket, req.sandboxDir);
      } catch (err) {
        reply({ ok: false, message: (err as Error).message });
        return void socket.end();
      }
      const old = server;
      server = next;
      sandboxDir = req.sandboxDir;
      process.title = `k8ts-shim ${sandboxDir}`;
      old.close();
      reply({ ok: true, shimPid: process.pid });
      return void socket.end();
    }
    case 'shutdown':
      shuttingDown = true;
      reply({ ok: true });
      socket.end();
      return maybeExit();
  }
}

const args = process.argv.slice(2);
const socketPath = args[0];
// A sandbox dir, or `--spare` for a shim started ahead of need that waits for `adopt`.
let sandboxDir = args[1];
if (!socketPath || !sandboxDir) {
  console.error('usage: shim.js <socketPath> <sandboxDir|--spare>');
  process.exit(2);
}
process.title = `k8ts-shim ${sandboxDir}`;
process.on('SIGPIPE', () => undefined);
process.on('SIGHUP', () => undefined);

let next = createServer({ pauseOnConnect: true }, (s) => void handle(s));
/** Listens on `path` (replacing a stale socket file) and records the shim's pid for the runtime. */
function listen(path: string, dir: string): Promise<void> {
  try {
    unlinkSync(path);
  } catch {
    /* not there */
  }
  const srv = createServer({ pauseOnConnect: true }, (s) => void handle(s));
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(path, () => {
      srv.off('error', reject);
      srv.on('error', (e) => console.error(`shim socket ${path}: ${e.message}`));
      if (dir !== '--spare') writeJsonAtomic(`${dir}/shim.pid.json`, { pid: process.pid, socket: path });
      next = srv;
      resolve();
    });
  });
}
let server = next;
listen(socketPath, sandboxDir).then(
  () => {
    server = next;
    process.stdout.write('ready\n');
  },
  (e: Error) => {
    console.error(`shim listen ${socketPath}: ${e.message}`);
    process.exit(1);
  },
);
