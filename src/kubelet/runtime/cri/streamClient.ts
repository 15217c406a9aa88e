// Client side of the streaming server a CRI runtime returns URLs to (containerd's
// pkg/cri/streaming) over WebSocket with the channel protocol, each message prefixed by its channel
// byte. exec/attach: 0 stdin, 1 stdout, 2 stderr, 3 error (a v4 JSON Status), 4 resize.
// port-forward: 0 data, 1 error, each beginning with the port as 2 little-endian bytes.
// SPDY (spdyStreamClient.ts) is used first; this is the fallback for servers that refuse it, and
// it cannot close stdin.
import { Duplex, PassThrough, Writable } from 'node:stream';
import WebSocket from 'ws';
import type { ContainerStreams, StreamOptions } from '../types.js';
import { RuntimeError } from '../types.js';

export const V4_CHANNEL_PROTOCOL = 'v4.channel.k8s.io';
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

/**
 * The outcome carried by the v4 error channel: `{"status":"Success"}`, or a Failure whose
 * reason NonZeroExitCode has the exit code in its ExitCode cause; other failures are messages.
 */
export function exitFromV4Status(text: string): { exitCode?: number; message?: string } {
  if (text.trim() === '') return { exitCode: 0 };
  let status: { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } };
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    return { message: text };
  }
  if (status.status === 'Success') return { exitCode: 0 };
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return { exitCode: code, message: status.message ?? '' };
  }
  return { message: status.message ?? text };
}

/**
 * Opens the socket with `onMessage` attached from the start: the server's first messages (the port
 * header, early output) can arrive in the same packet as the upgrade and are emitted at once.
 */
function openSocket(url: string, onMessage: (raw: Buffer) => void, signal?: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [V4_CHANNEL_PROTOCOL]);
    ws.binaryType = 'nodebuffer';
    ws.on('message', onMessage);
    const onAbort = (): void => {
      ws.terminate();
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(ws);
    });
    ws.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new RuntimeError('Unavailable', `streaming connection to ${url} failed: ${err.message}`, { cause: err }));
    });
    ws.once('unexpected-response', (_req, res) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new RuntimeError('Internal', `streaming server refused ${url}: HTTP ${res.statusCode}`));
      ws.terminate();
    });
  });
}

/** Connects to an exec or attach URL and presents the session as ContainerStreams. */
export async function connectRemoteCommand(url: string, opts: StreamOptions, kind: 'exec' | 'attach'): Promise<ContainerStreams> {
  const stdout = opts.stdout ? new PassThrough() : undefined;
  const stderr = opts.stderr && !opts.tty ? new PassThrough() : undefined;
  let statusText = '';
  let socket: WebSocket | undefined;
  const deliver = (out: PassThrough, data: Buffer): void => {
    if (data.length === 0) return;
    if (!out.write(data) && socket) {
      const paused = socket;
      paused.pause();
      out.once('drain', () => paused.resume());
    }
  };
  const ws = await openSocket(
    url,
    (raw) => {
      if (raw.length === 0) return;
      const channel = raw[0];
      const data = raw.subarray(1);
      if (channel === STDOUT && stdout) deliver(stdout, data);
      else if (channel === STDERR && stderr) deliver(stderr, data);
      else if (channel === ERROR) statusText += data.toString('utf8');
    },
    opts.signal,
  );
  socket = ws;
  const send = (channel: number, data: Buffer, cb: (err?: Error) => void): void => {
    if (ws.readyState !== WebSocket.OPEN) return cb();
    ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true }, (err) => cb(err ?? undefined));
  };
  const stdin = opts.stdin
    ? new Writable({
        write(chunk: Buffer, _enc, cb) {
          send(STDIN, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk), cb);
        },
      })
    : undefined;
  const exit = new Promise<{ exitCode?: number; message?: string }>((resolve) => {
    ws.once('close', () => {
      stdout?.end();
      stderr?.end();
      if (kind === 'attach') {
        resolve(statusText ? { message: exitFromV4Status(statusText).message ?? '' } : {});
        return;
      }
      resolve(exitFromV4Status(statusText));
    });
  });
  const onAbort = (): void => ws.close();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  void exit.then(() => opts.signal?.removeEventListener('abort', onAbort));
  const streams: ContainerStreams = {
    resize(size) {
      const json = Buffer.from(JSON.stringify({ Width: size.width, Height: size.height }));
      send(RESIZE, json, () => undefined);
    },
    exit,
    close() {
      stdin?.destroy();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
    },
  };
  if (stdin) streams.stdin = stdin;
  if (stdout) streams.stdout = stdout;
  if (stderr) streams.stderr = stderr;
  return streams;
}

/** Adds `port=N` to a port-forward URL, as the websocket flavour of the protocol requires. */
export function portForwardUrl(url: string, port: number): string {
  const u = new URL(url);
  u.searchParams.set('port', String(port));
  return u.toString();
}

/** One forwarded connection as a Duplex; the runtime's error channel becomes a stream error. */
export async function connectPortForward(url: string, port: number, signal?: AbortSignal): Promise<Duplex> {
  let dataHeaderSeen = false;
  let errorHeaderSeen = false;
  let errorText = '';
  // Filled in once connected; the Duplex only calls into it after that.
  let ws!: WebSocket;
  const duplex = new Duplex({
    read() {
      ws?.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== WebSocket.OPEN) return cb(new Error('port-forward connection closed'));
      ws.send(Buffer.concat([Buffer.from([0]), chunk]), { binary: true }, (err) => cb(err ?? undefined));
    },
    final(cb) {
      // The v4 protocol cannot half-close; the runtime sees the end when the socket closes.
      cb();
    },
    destroy(err, cb) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      cb(err);
    },
  });
  ws = await openSocket(
    portForwardUrl(url, port),
    (raw) => {
      if (raw.length === 0) return;
      const channel = raw[0];
      let data = raw.subarray(1);
      // Each channel starts with the port, 2 bytes little-endian, possibly in the same message as data.
      if (channel === 0) {
        if (!dataHeaderSeen) {
          dataHeaderSeen = true;
          data = data.subarray(2);
        }
        if (data.length > 0 && !duplex.push(data)) ws?.pause();
      } else if (channel === 1) {
        if (!errorHeaderSeen) {
          errorHeaderSeen = true;
          data = data.subarray(2);
        }
        errorText += data.toString('utf8');
      }
    },
    signal,
  );
  ws.once('close', () => {
    if (errorText) duplex.destroy(new RuntimeError('Internal', errorText));
    else duplex.push(null);
  });
  ws.once('error', (err) => duplex.destroy(err));
  const onAbort = (): void => {
    duplex.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  duplex.once('close', () => signal?.removeEventListener('abort', onAbort));
  return duplex;
}
