// The wire between the process runtime and its pod shims (unix sockets under the runtime root: one
// control socket per shim that still takes sandboxes, one socket per hosted sandbox): each
// connection sends one JSON request line and gets one JSON reply line; an `attach` connection then
// carries frames `[kind:u8][length:u32be][payload]` both ways.
import { connect, type Socket } from 'node:net';

/** What the runtime writes to `<containerDir>/shim.json` at create time; the shim reads it on start. */
export interface ShimContainerSpec {
  id: string;
  ociBinary: string;
  ociRoot: string;
  bundle: string;
  /** Absolute CRI log path. */
  logPath: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  pidFile: string;
  exitFile: string;
  /** runc's own errors (`--log`, JSON lines). */
  ociLog: string;
  /** cgroup v1 `memory.oom_control` or v2 `memory.events` of the container, for the OOM verdict. */
  oomFile?: string;
  /** The whole argv to run instead of `<ociBinary> run …` (the unshare fallback); no `delete` afterwards. */
  command?: string[];
}

/** `<containerDir>/exit.json`, written once by the shim when the container's process is gone. */
export interface ShimExitRecord {
  exitCode: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  finishedAt: string;
  oomKilled: boolean;
  message?: string;
}

/**
 * On a sandbox's socket: `start`, `attach`, `resize`, `reopenLog`, `forget`, and `shutdown`, which
 * kills that sandbox's remaining containers and closes its socket (other sandboxes of the shim go
 * on). On the control socket: `adopt`, and `shutdown`, which retires the shim (no new sandboxes; it
 * exits when its last sandbox is gone). `ping` works on both.
 */
export type ShimRequest =
  | { op: 'ping' }
  | { op: 'start'; dir: string }
  | { op: 'attach'; id: string; stdin: boolean; stdout: boolean; stderr: boolean }
  | { op: 'resize'; id: string; width: number; height: number }
  | { op: 'reopenLog'; id: string }
  | { op: 'forget'; id: string }
  | { op: 'shutdown' }
  /**
   * The shim takes on one more sandbox: it listens on the sandbox's socket too. Refused when it
   * already hosts `maxSandboxes` (default 1); when it reaches that number it closes its control socket.
   */
  | { op: 'adopt'; socket: string; sandboxDir: string; maxSandboxes?: number };

export type ShimReply =
  | {
      ok: true;
      /** `start`: the container's pid and start time. */
      pid?: number;
      startedAt?: string;
      shimPid?: number;
      /** `adopt`: how many sandboxes the shim hosts now, and whether it takes no more. */
      sandboxes?: number;
      full?: boolean;
    }
  | { ok: false; message: string };

export const FRAME_STDIN = 0;
export const FRAME_STDOUT = 1;
export const FRAME_STDERR = 2;
export const FRAME_EXIT = 3;
export const FRAME_RESIZE = 4;
export const FRAME_CLOSE_STDIN = 5;

export function encodeFrame(kind: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Incremental frame parser. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (kind: number, payload: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) return;
      const kind = this.buf.readUInt8(0);
      const payload = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      this.onFrame(kind, payload);
    }
  }
}

/** Reads one `\n`-terminated line from a socket; the rest stays readable on the socket (unshifted). */
export function readLine(sock: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('timed out waiting for the shim')), timeoutMs);
    const onData = (chunk: Buffer) => {
      acc = Buffer.concat([acc, chunk]);
      const nl = acc.indexOf(0x0a);
      if (nl < 0) return;
      const rest = acc.subarray(nl + 1);
      done(undefined, acc.subarray(0, nl).toString('utf8'));
      if (rest.length) sock.unshift(rest);
    };
    const onEnd = () => done(new Error('the shim closed the connection'));
    const onError = (e: Error) => done(e);
    function done(err?: Error, line?: string) {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      sock.pause();
      if (err) reject(err);
      else resolve(line ?? '');
    }
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
    sock.resume();
  });
}

/** Sends a request; returns the reply and the open socket (the caller ends it or keeps it for attach). */
export async function shimCall(socketPath: string, req: ShimRequest, timeoutMs = 10_000): Promise<{ reply: ShimReply; socket: Socket }> {
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(JSON.stringify(req) + '\n');
  try {
    const line = await readLine(socket, timeoutMs);
    return { reply: JSON.parse(line) as ShimReply, socket };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** A request whose connection ends with the reply. */
export async function shimRequest(socketPath: string, req: ShimRequest, timeoutMs = 10_000): Promise<ShimReply> {
  const { reply, socket } = await shimCall(socketPath, req, timeoutMs);
  socket.destroy();
  return reply;
}
