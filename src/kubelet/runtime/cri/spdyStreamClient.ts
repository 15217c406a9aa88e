// Client side of a CRI runtime's streaming server over SPDY/3.1 (containerd 1.6's pkg/cri/streaming,
// which is k8s.io/kubelet's streaming server): an HTTP upgrade to SPDY/3.1 with the subprotocol in
// X-Stream-Protocol-Version, then one SPDY stream per channel. Unlike the WebSocket v4 protocol, a
// stream's FIN half-closes it, so ending stdin gives the process EOF (`kubectl cp` into a pod).
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { PORTFORWARD_PROTOCOL } from '../../server/portforward.js';
import { SpdySession, type SpdyStream } from '../../server/spdy.js';
import type { ContainerStreams, StreamOptions } from '../types.js';
import { RuntimeError } from '../types.js';
import { exitFromV4Status, V4_CHANNEL_PROTOCOL } from './streamClient.js';

/** The streaming server answered the upgrade with something other than SPDY/3.1 and our subprotocol. */
export class SpdyUpgradeRefusedError extends RuntimeError {
  constructor(
    readonly url: string,
    readonly statusCode: number,
    detail: string,
  ) {
    super('Internal', `streaming server refused SPDY/3.1 at ${url}: ${detail}`);
  }
}

/** How long to wait for the runtime to close the connection after we ended it. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Upgrades `url` to SPDY/3.1 offering `protocol`; resolves with a client-role session once the server
 * switched protocols and agreed on it. Rejects with SpdyUpgradeRefusedError when the server answers
 * with anything else (a WebSocket-only server says 400), RuntimeError Unavailable when unreachable.
 */
export function upgradeToSpdy(url: string, protocol: string, signal?: AbortSignal): Promise<SpdySession> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    let req: ClientRequest;
    try {
      req = request(target, {
        // kubectl posts; containerd's server routes GET and POST alike. No body: Content-Length 0,
        // so nothing but SPDY frames follows the request head on the connection.
        method: 'POST',
        agent: false,
        headers: { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': protocol, 'content-length': '0' },
      });
    } catch (err) {
      reject(new RuntimeError('InvalidArgument', `streaming URL ${url}: ${(err as Error).message}`));
      return;
    }
    const onAbort = (): void => {
      req.destroy();
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const done = (): void => signal?.removeEventListener('abort', onAbort);
    req.once('error', (err) => {
      done();
      reject(new RuntimeError('Unavailable', `streaming connection to ${url} failed: ${err.message}`, { cause: err }));
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('response', (res: IncomingMessage) => {
      // Not an upgrade: keep a little of the body for the message, as upstream shows it.
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 512) body += c;
      });
      res.once('end', () => {
        done();
        reject(new SpdyUpgradeRefusedError(url, res.statusCode ?? 0, `HTTP ${res.statusCode}${body.trim() ? `: ${body.trim().slice(0, 512)}` : ''}`));
      });
      res.once('error', () => undefined);
    });
    req.once('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      done();
      const upgrade = String(res.headers.upgrade ?? '').toLowerCase();
      const agreed = String(res.headers['x-stream-protocol-version'] ?? '');
      if (upgrade !== 'spdy/3.1' || agreed !== protocol) {
        socket.destroy();
        reject(new SpdyUpgradeRefusedError(url, res.statusCode ?? 0, `upgraded to ${JSON.stringify(upgrade)} with protocol ${JSON.stringify(agreed)}, wanted SPDY/3.1 with ${protocol}`));
        return;
      }
      socket.setNoDelay(true);
      if (head.length > 0) socket.unshift(head);
      resolve(new SpdySession(socket, { role: 'client' }));
    });
    req.end();
  });
}

/** Resolves once the peer is done sending on `s` (FIN, reset or connection end); at once without `s`. */
function remoteEnded(s: SpdyStream | undefined): Promise<void> {
  if (!s || s.remoteClosed) return Promise.resolve();
  return new Promise((resolve) => s.once('remoteEnd', () => resolve()));
}

/** Resolves once everything readable on `s` was read and it ended (or it is gone). */
function drained(s: SpdyStream): Promise<void> {
  if (s.readableEnded || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    s.once('end', () => resolve());
    s.once('close', () => resolve());
  });
}

/** Ends the session from our side, then drops the connection if the runtime does not close it soon. */
function closeSoon(session: SpdySession): void {
  if (session.closed) return;
  session.goAway();
  setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
}

/** Opens the streams of a session in upstream's order, each after the previous was answered. */
async function openStreams(session: SpdySession, url: string, wanted: Record<string, string>[]): Promise<SpdyStream[]> {
  const streams: SpdyStream[] = [];
  try {
    for (const headers of wanted) {
      const s = await session.openStream(headers);
      // Writing after the runtime reset a stream fails; the owner of each stream hears of it otherwise.
      s.on('error', () => undefined);
      streams.push(s);
    }
  } catch (err) {
    session.destroy();
    throw new RuntimeError('Internal', `streaming server at ${url} did not accept the ${wanted[streams.length]?.streamType ?? ''} stream: ${(err as Error).message}`, { cause: err });
  }
  return streams;
}

/**
 * exec/attach over SPDY with v4.channel.k8s.io: streams error, stdin, stdout, stderr and resize (tty),
 * each marked by its `streamType` header. Ending `stdin` sends FIN, which the runtime passes on as EOF.
 * `exit` settles when the runtime closed the connection (or everything it sends had ended and we
 * closed it), with the exit code from the v4 Status on the error stream.
 */
export async function connectRemoteCommandSpdy(url: string, opts: StreamOptions, kind: 'exec' | 'attach'): Promise<ContainerStreams> {
  const session = await upgradeToSpdy(url, V4_CHANNEL_PROTOCOL, opts.signal);
  const onAbort = (): void => session.destroy();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const wanted: Record<string, string>[] = [{ streamType: 'error' }];
  if (opts.stdin) wanted.push({ streamType: 'stdin' });
  if (opts.stdout) wanted.push({ streamType: 'stdout' });
  if (opts.stderr && !opts.tty) wanted.push({ streamType: 'stderr' });
  if (opts.tty) wanted.push({ streamType: 'resize' });
  let opened: SpdyStream[];
  try {
    opened = await openStreams(session, url, wanted);
  } catch (err) {
    opts.signal?.removeEventListener('abort', onAbort);
    throw err;
  }
  const byType = new Map(opened.map((s, i) => [wanted[i]!.streamType!, s]));
  const error = byType.get('error')!;
  const stdin = byType.get('stdin');
  const stdout = byType.get('stdout');
  const stderr = byType.get('stderr');
  const resize = byType.get('resize');

  let statusText = '';
  error.setEncoding('utf8');
  error.on('data', (c: string) => (statusText += c));
  // The runtime writes nothing on the streams we write to; keep their readable sides flowing.
  stdin?.resume();
  resize?.resume();

  // Once the runtime sent all it will (status and output), nothing is left: close the connection
  // ourselves in case the runtime waits for us to.
  void Promise.all([remoteEnded(error), remoteEnded(stdout), remoteEnded(stderr)]).then(() => closeSoon(session));
  const closed = new Promise<void>((resolve) => {
    if (session.closed) resolve();
    else session.once('close', () => resolve());
  });
  const exit = Promise.all([closed, drained(error)]).then(() => {
    opts.signal?.removeEventListener('abort', onAbort);
    if (kind === 'attach') return statusText ? { message: exitFromV4Status(statusText).message ?? '' } : {};
    return exitFromV4Status(statusText);
  });
  session.on('error', () => undefined); // the session closes; exit reports what the error stream said

  const streams: ContainerStreams = {
    resize(size) {
      if (!resize || resize.writableEnded || resize.destroyed) return;
      resize.write(JSON.stringify({ Width: size.width, Height: size.height }) + '\n');
    },
    exit,
    close() {
      session.destroy();
    },
  };
  if (stdin) streams.stdin = stdin;
  if (stdout) streams.stdout = stdout;
  if (stderr) streams.stderr = stderr;
  return streams;
}

/**
 * One forwarded connection over SPDY with portforward.k8s.io: an error and a data stream carrying the
 * same `port` and `requestID` headers. Ending the Duplex half-closes the data stream; a message on
 * the error stream (the runtime could not reach the port) becomes the Duplex's error.
 */
export async function connectPortForwardSpdy(url: string, port: number, signal?: AbortSignal): Promise<Duplex> {
  const session = await upgradeToSpdy(url, PORTFORWARD_PROTOCOL, signal);
  const pair = { port: String(port), requestID: '0' };
  const [errorStream, data] = (await openStreams(session, url, [
    { streamType: 'error', ...pair },
    { streamType: 'data', ...pair },
  ])) as [SpdyStream, SpdyStream];
  // We never write on the error stream: half-close it at once, as upstream's client does.
  errorStream.end();
  let errorText = '';
  errorStream.setEncoding('utf8');
  errorStream.on('data', (c: string) => (errorText += c));

  const duplex = new Duplex({
    read() {
      data.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      data.write(chunk, (err) => cb(err ?? null));
    },
    final(cb) {
      data.end(() => cb());
    },
    destroy(err, cb) {
      session.destroy();
      cb(err);
    },
  });
  data.on('data', (c: Buffer) => {
    if (!duplex.push(c)) data.pause();
  });
  // The runtime closes both streams when it is done with the pod's port; by then an error message,
  // written first, is in.
  void Promise.all([drained(data), drained(errorStream)]).then(() => {
    if (errorText) duplex.destroy(new RuntimeError('Internal', errorText));
    else duplex.push(null);
    closeSoon(session);
  });
  const onAbort = (): void => {
    duplex.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  duplex.once('close', () => signal?.removeEventListener('abort', onAbort));
  return duplex;
}
