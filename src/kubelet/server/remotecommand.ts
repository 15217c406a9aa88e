// exec and attach (upstream pkg/kubelet/cri/streaming/remotecommand): the client's streams — over
// WebSocket channels or SPDY streams — are wired to a runtime session (ContainerStreams); when the
// process ends its exit is reported on the error stream (v4+: a metav1.Status JSON; older: a text
// message on failure only) and the connection closes.
import type { Duplex, Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ContainerStreams } from '../runtime/types.js';
import { logger } from '../../util/log.js';
import { ChannelConnection, channelProtocol } from './wsstream.js';
import { SpdySession, type SpdyStream } from './spdy.js';

const log = logger('kubelet-server');

/** remotecommand's channel numbers over WebSocket. */
export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

/** SPDY remotecommand protocols the kubelet speaks, newest first. */
export const REMOTECOMMAND_SPDY_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

export interface StreamRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** A metav1.Status as remotecommand writes it on the error stream. */
export interface ExecStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  /** StatusCause's type is `reason` on the wire. */
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

/**
 * Reads stdin/stdout/stderr/tty from the query as upstream (`"1"` means true; `"true"` accepted too);
 * stderr is dropped with tty; at least one stream is required.
 */
export function parseStreamRequest(query: URLSearchParams): StreamRequest | { error: string } {
  const flag = (name: string) => {
    const v = query.get(name);
    return v === '1' || v === 'true';
  };
  const tty = flag('tty');
  const stdin = flag('stdin') || flag('input');
  const stdout = flag('stdout') || flag('output');
  const stderr = flag('stderr') && !tty;
  if (!stdin && !stdout && !stderr) return { error: 'you must specify at least 1 of stdin, stdout, stderr' };
  return { stdin, stdout, stderr, tty };
}

export const successStatus = (): ExecStatus => ({ metadata: {}, status: 'Success' });

/** The status for a process that exited non-zero, as upstream's exec path builds it. */
export function nonZeroExitStatus(cmd: readonly string[], exitCode: number): ExecStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function internalErrorStatus(message: string): ExecStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** What goes on the error stream for this protocol version, or undefined for nothing (success before v4). */
export function encodeStatus(version: number, status: ExecStatus): Buffer | undefined {
  if (version >= 4) return Buffer.from(JSON.stringify(status));
  if (status.status === 'Success') return undefined;
  return Buffer.from(status.message ?? 'error');
}

/** The client's side of one remotecommand session, independent of the transport. */
export interface RemoteCommandStreams {
  version: number;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: Readable;
  /** Writes the exit status (if the version wants one) and closes the connection. */
  finish(status: ExecStatus): Promise<void>;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/** A resize stream carries JSON `{"Width":80,"Height":24}` objects, back to back. */
export function watchResize(resize: Readable, onSize: (size: { width: number; height: number }) => void): void {
  let buf = '';
  resize.setEncoding('utf8');
  resize.on('data', (chunk: string) => {
    buf += chunk;
    // Objects are flat: split at each closing brace.
    for (let end = buf.indexOf('}'); end >= 0; end = buf.indexOf('}')) {
      const text = buf.slice(0, end + 1);
      buf = buf.slice(end + 1);
      try {
        const o = JSON.parse(text.trim()) as { Width?: number; Height?: number };
        if (typeof o.Width === 'number' && typeof o.Height === 'number') onSize({ width: o.Width, height: o.Height });
      } catch {
        // a malformed size is ignored, as upstream logs and continues
      }
    }
  });
  resize.on('error', () => undefined);
}

function finished(stream: Readable | undefined): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

/**
 * Runs one session: starts the runtime call with the client's streams, copies data both ways,
 * reports the exit status. `start` is runtime.exec(...) or runtime.attach(...) bound to a container.
 */
export async function serveRemoteCommand(
  client: RemoteCommandStreams,
  req: StreamRequest,
  start: (signal: AbortSignal) => Promise<ContainerStreams>,
  describe: { cmd?: readonly string[]; kind: 'exec' | 'attach' },
): Promise<void> {
  let session: ContainerStreams;
  try {
    session = await start(client.signal);
  } catch (err) {
    const what = describe.kind === 'exec' ? 'error executing command in container' : 'error attaching to container';
    await client.finish(internalErrorStatus(`${what}: ${(err as Error).message}`));
    return;
  }
  const onAbort = () => session.close();
  client.signal.addEventListener('abort', onAbort);
  try {
    if (client.stdin && session.stdin) {
      const sink = session.stdin;
      sink.on('error', () => undefined);
      client.stdin.pipe(sink);
    } else if (client.stdin) {
      client.stdin.resume();
    }
    if (client.resize) watchResize(client.resize, (size) => session.resize(size));
    const copies: Promise<void>[] = [];
    if (session.stdout) {
      if (client.stdout) session.stdout.pipe(client.stdout, { end: false });
      else session.stdout.resume();
      copies.push(finished(session.stdout));
    }
    if (session.stderr) {
      if (client.stderr) session.stderr.pipe(client.stderr, { end: false });
      else session.stderr.resume();
      copies.push(finished(session.stderr));
    }
    const exit = await session.exit;
    // The process is gone; its output may still be in flight.
    await Promise.race([Promise.all(copies), new Promise((r) => setTimeout(r, 2000).unref())]);
    await Promise.all([endWritable(client.stdout), endWritable(client.stderr)]);
    if (exit.exitCode !== undefined && exit.exitCode !== 0) {
      await client.finish(nonZeroExitStatus(describe.cmd ?? [], exit.exitCode));
    } else if (exit.exitCode === undefined && exit.message) {
      await client.finish(internalErrorStatus(exit.message));
    } else {
      await client.finish(successStatus());
    }
  } catch (err) {
    log.warn({ err }, 'remotecommand session failed');
    await client.finish(internalErrorStatus((err as Error).message)).catch(() => undefined);
  } finally {
    client.signal.removeEventListener('abort', onAbort);
    session.close();
  }
}

function endWritable(w: Writable | undefined): Promise<void> {
  if (!w || w.writableEnded || w.destroyed) return Promise.resolve();
  return new Promise((resolve) => w.end(() => resolve()));
}

/** remotecommand over a WebSocket (already upgraded with one of REMOTECOMMAND_WS_PROTOCOLS). */
export function websocketRemoteCommand(ws: WebSocket, req: StreamRequest): RemoteCommandStreams {
  const conn = new ChannelConnection(ws, channelProtocol(ws.protocol));
  const ac = new AbortController();
  void conn.done.then(() => ac.abort());
  // The client learns the connection is ready from an empty message on the lowest writable channel.
  conn.send(req.stdout ? Channel.stdout : req.stderr ? Channel.stderr : Channel.error, Buffer.alloc(0));
  return {
    version: conn.protocol.version,
    ...(req.stdin ? { stdin: conn.readable(Channel.stdin) } : {}),
    ...(req.stdout ? { stdout: conn.writable(Channel.stdout) } : {}),
    ...(req.stderr ? { stderr: conn.writable(Channel.stderr) } : {}),
    ...(req.tty && conn.protocol.version >= 3 ? { resize: conn.readable(Channel.resize) } : {}),
    signal: ac.signal,
    finish: async (status) => {
      const body = encodeStatus(conn.protocol.version, status);
      if (body) await new Promise<void>((resolve) => conn.send(Channel.error, body, () => resolve()));
      conn.close(1000);
    },
  };
}

/**
 * remotecommand over SPDY: waits (up to `timeoutMs`, upstream's stream creation timeout) until the client
 * opened every stream the request needs, keyed by their `streamtype` header.
 */
export async function spdyRemoteCommand(socket: Duplex, version: number, req: StreamRequest, timeoutMs = 30_000): Promise<RemoteCommandStreams> {
  const session = new SpdySession(socket);
  const wanted = new Set(['error', ...(req.stdin ? ['stdin'] : []), ...(req.stdout ? ['stdout'] : []), ...(req.stderr ? ['stderr'] : []), ...(req.tty && version >= 3 ? ['resize'] : [])]);
  const got = new Map<string, SpdyStream>();
  const ac = new AbortController();
  session.once('close', () => ac.abort());
  session.on('error', (err) => log.debug({ err }, 'spdy connection error'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`timed out waiting for client to create streams (have ${[...got.keys()].join(', ') || 'none'})`));
    }, timeoutMs);
    session.once('close', () => {
      clearTimeout(timer);
      reject(new Error('connection closed before the client created its streams'));
    });
    session.on('stream', (s) => {
      const type = s.header('streamtype') ?? '';
      if (!wanted.has(type) || got.has(type)) {
        s.destroy();
        return;
      }
      got.set(type, s);
      if (got.size === wanted.size) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const error = got.get('error')!;
  error.resume();
  // Our side of the input streams (stdin, resize) stays open until the session ends, as upstream's
  // kubelet keeps it: client-go closes stdin as soon as it sees our FIN there, and a FIN sent at once
  // overtook `echo hi | kubectl attach -i`'s data (kubectl 1.27 over SPDY), which was then dropped.
  const inputs = ['stdin', 'resize'].flatMap((t) => got.get(t) ?? []);
  return {
    version,
    ...(got.has('stdin') ? { stdin: got.get('stdin')! } : {}),
    ...(got.has('stdout') ? { stdout: got.get('stdout')! } : {}),
    ...(got.has('stderr') ? { stderr: got.get('stderr')! } : {}),
    ...(got.has('resize') ? { resize: got.get('resize')! } : {}),
    signal: ac.signal,
    finish: async (status) => {
      for (const s of inputs) if (!s.writableEnded && !s.destroyed) s.end();
      const body = encodeStatus(version, status);
      if (body) await new Promise<void>((resolve) => error.write(body, () => resolve()));
      await new Promise<void>((resolve) => error.end(() => resolve()));
      session.goAway();
    },
  };
}
