// The pod shim: a small detached Node process that hosts up to N pod sandboxes (N = the runtime's
// maxSandboxesPerShim; containerd-shim-runc-v2 hosts one pod, but a Node process costs ~40 MB and
// ~0.3 CPU-s, so pods share). It is the parent of each container's foreground `runc run`, so it sees
// the real exit status; it writes the CRI log files, records exits in `exit.json`, and serves attach.
// Each hosted sandbox has its own socket (`adopt` adds one), so everything that talks to "the
// sandbox's shim" is per sandbox; `shutdown` on that socket stops only that sandbox's containers.
// A control socket takes `adopt` while the shim has room; the shim exits when it hosts no sandbox
// and runs no container. It survives kubelet restarts; the runtime finds it by the sandbox sockets.
// Run as: node shim.js <controlSocket>
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { createWriteStream, readFileSync, renameSync, writeFileSync, unlinkSync, mkdirSync, watch, type FSWatcher, type WriteStream } from 'node:fs';
import { basename, dirname } from 'node:path';
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

/** A sandbox this shim serves: its socket, and the containers started through it. */
interface Hosted {
  socketPath: string;
  dir: string;
  server?: Server;
}

interface Running {
  spec: ShimContainerSpec;
  sandbox: Hosted;
  /** The container's process, once its pid file is there. */
  pid?: number;
  child: ChildProcess;
  log: WriteStream;
  attached: Set<Attached>;
  exited: boolean;
  stdinAttached: boolean;
}

const running = new Map<string, Running>();
/** Hosted sandboxes by socket path. */
const hosted = new Map<string, Hosted>();
/** Open while the shim takes new sandboxes; closed when full or retired. */
let control: Server | undefined;
let everHosted = false;
let adopting = 0;
let exiting = false;

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

/**
 * Resolves with the container's pid once the OCI runtime has written its pid file. An inotify watch
 * on the container dir answers at once; a slow poll covers what a watch can miss (e.g. the file
 * written before the watch started, or a watch that cannot be set up).
 */
function waitForPid(spec: ShimContainerSpec, child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    let poll: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => finish(new Error('timed out waiting for the container process')), 30_000);
    const finish = (err?: Error, pid?: number) => {
      clearTimeout(deadline);
      clearTimeout(poll);
      watcher?.close();
      watcher = undefined;
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(pid ?? 0);
    };
    const readPid = (): number => {
      try {
        return Number(readFileSync(spec.pidFile, 'utf8').trim()) || 0;
      } catch {
        return 0;
      }
    };
    const check = (): boolean => {
      const pid = readPid();
      if (pid > 0) finish(undefined, pid);
      return pid > 0;
    };
    function onExit(): void {
      if (check()) return;
      finish(new Error(ociLogError(spec) || `${spec.ociBinary} exited with ${child.exitCode ?? child.signalCode} before the container started`));
    }
    const tick = () => {
      if (!check()) poll = setTimeout(tick, 20);
    };
    child.once('exit', onExit);
    try {
      const name = basename(spec.pidFile);
      watcher = watch(dirname(spec.pidFile), (_event, file) => {
        if (file === name || file === null) check();
      });
      watcher.on('error', () => undefined);
    } catch {
      /* the poll still runs */
    }
    if (child.exitCode !== null || child.signalCode !== null) return onExit();
    tick();
  });
}

function broadcast(r: Running, kind: number, data: Buffer): void {
  for (const a of r.attached) {
    if ((kind === FRAME_STDOUT && a.stdout) || (kind === FRAME_STDERR && a.stderr)) a.socket.write(encodeFrame(kind, data));
  }
}

async function startContainer(sandbox: Hosted, dir: string): Promise<ShimReply> {
  const spec = JSON.parse(readFileSync(`${dir}/shim.json`, 'utf8')) as ShimContainerSpec;
  if (running.has(spec.id)) return { ok: false, message: `container ${spec.id} is already running` };
  if (!hosted.has(sandbox.socketPath)) return { ok: false, message: `the sandbox of ${spec.id} is shutting down` };
  const runArgv = [spec.ociBinary, '--root', spec.ociRoot, '--log', spec.ociLog, '--log-format', 'json', 'run', '--keep', '--bundle', spec.bundle, '--pid-file', spec.pidFile, spec.id];
  if (spec.ociBinary.endsWith('crun')) runArgv.splice(runArgv.indexOf('--keep'), 1);
  const argv = spec.tty ? underPty(spec.command ?? runArgv) : (spec.command ?? runArgv);
  const child = spawn(argv[0] ?? '', argv.slice(1), {
    stdio: [spec.stdin || spec.tty ? 'pipe' : 'ignore', 'pipe', spec.tty ? 'ignore' : 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'xterm' },
  });
  const r: Running = { spec, sandbox, child, log: openLog(spec.logPath), attached: new Set(), exited: false, stdinAttached: false };
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
    r.pid = pid;
    return { ok: true, pid, startedAt: nowNanos(), shimPid: process.pid };
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
    try {
      writeJsonAtomic(r.spec.exitFile, record);
    } catch (e) {
      console.error(`exit record of ${r.spec.id}: ${(e as Error).message}`); // its container dir is gone
    }
    r.exited = true;
    for (const a of r.attached) a.socket.end(encodeFrame(FRAME_EXIT, JSON.stringify({ exitCode })));
    r.attached.clear();
    r.log.end();
    running.delete(r.spec.id);
    maybeExit();
  });
}

/** Exits once nothing is left to serve; a spare that never hosted a sandbox waits for its first `adopt`. */
function maybeExit(): void {
  if (exiting || adopting > 0 || hosted.size > 0 || running.size > 0) return;
  if (control && !everHosted) return;
  exiting = true;
  control?.close();
  control = undefined;
  setTimeout(() => process.exit(0), 50).unref();
}

/** Kills a sandbox's containers that still run, closes its socket and forgets it. */
function releaseSandbox(h: Hosted): void {
  hosted.delete(h.socketPath);
  h.server?.close();
  for (const r of running.values()) {
    if (r.sandbox !== h || r.exited) continue;
    if (r.spec.command) {
      try {
        if (r.pid) process.kill(r.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    } else execFile(r.spec.ociBinary, ['--root', r.spec.ociRoot, 'kill', r.spec.id, 'KILL'], () => undefined);
  }
  setTitle();
  maybeExit();
}

function setTitle(): void {
  process.title = `k8ts-shim ${hosted.size}/${maxSandboxes} ${controlPath}`;
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

/** A connection on the control socket (`sandbox` undefined) or on a hosted sandbox's socket. */
async function handle(socket: Socket, sandbox: Hosted | undefined): Promise<void> {
  socket.on('error', () => undefined);
  let req: ShimRequest;
  try {
    req = JSON.parse(await readLine(socket, 10_000)) as ShimRequest;
  } catch {
    socket.destroy();
    return;
  }
  const reply = (msg: ShimReply) => socket.write(JSON.stringify(msg) + '\n');
  const done = (msg: ShimReply) => {
    reply(msg);
    socket.end();
  };
  try {
    await serve(socket, req, sandbox, reply, done);
  } catch (err) {
    // A shared shim must not go down over one bad request: its other pods' containers would die.
    done({ ok: false, message: (err as Error).message });
  }
}

async function serve(socket: Socket, req: ShimRequest, sandbox: Hosted | undefined, reply: (msg: ShimReply) => void, done: (msg: ShimReply) => void): Promise<void> {
  if (req.op === 'ping') return done({ ok: true, shimPid: process.pid });
  if (!sandbox) {
    if (req.op === 'adopt') return done(await adopt(req));
    if (req.op === 'shutdown') {
      // Retire: take no more sandboxes; the hosted ones keep running.
      control?.close();
      control = undefined;
      done({ ok: true });
      return maybeExit();
    }
    return done({ ok: false, message: `${req.op} needs a sandbox socket, not the shim's control socket` });
  }
  switch (req.op) {
    case 'start':
      return done(await startContainer(sandbox, req.dir));
    case 'attach': {
      if (!running.has(req.id)) return done({ ok: false, message: `container ${req.id} is not running` });
      reply({ ok: true });
      if (!attach(socket, req)) socket.end(encodeFrame(FRAME_EXIT, '{}'));
      return;
    }
    case 'resize': {
      const r = running.get(req.id);
      if (r?.spec.tty && r.child.pid) await resizePty(r.child.pid, req).catch(() => undefined);
      return done({ ok: true });
    }
    case 'reopenLog': {
      const r = running.get(req.id);
      if (!r) return done({ ok: false, message: `container ${req.id} is not running` });
      const old = r.log;
      r.log = openLog(r.spec.logPath);
      old.end();
      return done({ ok: true });
    }
    case 'forget':
      return done({ ok: true });
    case 'adopt':
      return done({ ok: false, message: 'adopt goes to the shim\'s control socket' });
    case 'shutdown':
      // Released first, so the socket is gone when the runtime reads the reply.
      releaseSandbox(sandbox);
      return done({ ok: true });
  }
}

async function adopt(req: Extract<ShimRequest, { op: 'adopt' }>): Promise<ShimReply> {
  const known = hosted.get(req.socket);
  if (known) return { ok: true, shimPid: process.pid, sandboxes: hosted.size, full: !control };
  if (exiting || !control) return { ok: false, message: 'this shim takes no more sandboxes' };
  maxSandboxes = Math.max(1, req.maxSandboxes ?? 1);
  if (hosted.size >= maxSandboxes) return { ok: false, message: `this shim already hosts ${hosted.size} sandboxes` };
  adopting++;
  try {
    await listenSandbox(req.socket, req.sandboxDir);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  } finally {
    adopting--;
  }
  everHosted = true;
  const full = hosted.size >= maxSandboxes;
  if (full) {
    control?.close();
    control = undefined;
  }
  setTitle();
  return { ok: true, shimPid: process.pid, sandboxes: hosted.size, full };
}

/** Listens on `path`, replacing a stale socket file. */
function listenOn(path: string, onConnection: (s: Socket) => void): Promise<Server> {
  try {
    unlinkSync(path);
  } catch {
    /* not there */
  }
  const srv = createServer({ pauseOnConnect: true }, onConnection);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(path, () => {
      srv.off('error', reject);
      srv.on('error', (e) => console.error(`shim socket ${path}: ${e.message}`));
      resolve(srv);
    });
  });
}

/** Serves one more sandbox on its own socket and records this shim's pid in its dir for the runtime. */
async function listenSandbox(path: string, dir: string): Promise<void> {
  const h: Hosted = { socketPath: path, dir };
  const server = await listenOn(path, (s) => void handle(s, h));
  h.server = server;
  try {
    writeJsonAtomic(`${dir}/shim.pid.json`, { pid: process.pid, socket: path });
  } catch (err) {
    server.close();
    throw err;
  }
  hosted.set(path, h);
}

const controlPath = process.argv[2];
if (!controlPath) {
  console.error('usage: shim.js <controlSocket>');
  process.exit(2);
}
let maxSandboxes = 1;
setTitle();
process.on('SIGPIPE', () => undefined);
process.on('SIGHUP', () => undefined);
// The last line of defence of the pods it hosts: log a bug and keep serving.
process.on('uncaughtException', (err) => console.error(`shim: ${err.stack ?? err.message}`));
process.on('unhandledRejection', (err) => console.error(`shim: ${(err as Error)?.stack ?? String(err)}`));

listenOn(controlPath, (s) => void handle(s, undefined)).then(
  (srv) => {
    control = srv;
    process.stdout.write('ready\n');
  },
  (e: Error) => {
    console.error(`shim listen ${controlPath}: ${e.message}`);
    process.exit(1);
  },
);
