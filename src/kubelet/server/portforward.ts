// Port-forward (upstream pkg/kubelet/cri/streaming/portforward): over SPDY (`portforward.k8s.io`) the
// client opens, per connection, an error stream and a data stream sharing a `requestid` header and
// naming the `port`; over the WebSocket channel protocol (v4) each requested port gets a data channel
// 2i and an error channel 2i+1, both starting with the port as little-endian uint16. kubectl 1.31+
// tunnels the SPDY form inside WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`).
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { logger } from '../../util/log.js';
import { SpdySession, type SpdyStream } from './spdy.js';
import { ChannelConnection, channelProtocol } from './wsstream.js';

const log = logger('kubelet-server');

export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';
/** The WebSocket subprotocol of kubectl's SPDY-over-WebSocket tunnel (client-go portforward tunneling). */
export const PORTFORWARD_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';

/** Connects to a port inside the pod (the runtime's portForward bound to the pod's sandbox). */
export type PortDialer = (port: number, signal: AbortSignal) => Promise<Duplex>;

/** Upstream's message for a failed forward. `podLabel` is the sandbox id, as the CRI streaming server names it. */
export function forwardErrorMessage(port: number, podLabel: string, uid: string, err: unknown): string {
  return `error forwarding port ${port} to pod ${podLabel}, uid ${uid}: ${(err as Error)?.message ?? String(err)}`;
}

/** Copies both ways between the client's data stream and the pod connection; resolves when both directions ended. */
function splice(client: Duplex, pod: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let ends = 0;
    const done = () => {
      if (++ends === 2) resolve();
    };
    client.pipe(pod);
    pod.pipe(client);
    client.once('end', done);
    pod.once('end', done);
    const fail = () => {
      client.destroy();
      pod.destroy();
      resolve();
    };
    client.once('error', fail);
    pod.once('error', fail);
    client.once('close', () => {
      if (!client.readableEnded) fail();
    });
  });
}

/**
 * Serves port-forward over a SPDY connection on `socket` (after the HTTP upgrade, or the WebSocket
 * tunnel's byte stream). Runs until the client closes the connection.
 */
export function serveSpdyPortForward(socket: Duplex, dial: PortDialer, labels: { pod: string; uid: string }, pairTimeoutMs = 30_000): SpdySession {
  const session = new SpdySession(socket);
  const ac = new AbortController();
  session.once('close', () => ac.abort());
  session.on('error', (err) => log.debug({ err }, 'port-forward connection error'));
  const pending = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  session.on('stream', (stream) => {
    const type = stream.header('streamtype');
    // Old clients send no requestid: pair by stream id as upstream (data = error + 2).
    const requestId = stream.header('requestid') ?? String(type === 'data' ? stream.id - 2 : stream.id);
    if (type !== 'error' && type !== 'data') {
      stream.destroy();
      return;
    }
    let pair = pending.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        pending.delete(requestId);
        const p = pair!;
        const msg = `timed out waiting for streams of request ${requestId}`;
        if (p.error) p.error.end(msg);
        p.data?.destroy();
      }, pairTimeoutMs);
      timer.unref();
      pair = { timer };
      pending.set(requestId, pair);
    }
    if (pair[type]) {
      stream.destroy();
      return;
    }
    pair[type] = stream;
    if (!pair.error || !pair.data) return;
    clearTimeout(pair.timer);
    pending.delete(requestId);
    void forwardPair(pair.error, pair.data, dial, labels, ac.signal);
  });
  return session;
}

async function forwardPair(errorStream: SpdyStream, dataStream: SpdyStream, dial: PortDialer, labels: { pod: string; uid: string }, signal: AbortSignal): Promise<void> {
  errorStream.resume(); // the client writes nothing there
  const portText = dataStream.header('port') ?? '';
  const port = Number.parseInt(portText, 10);
  try {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port header ${JSON.stringify(portText)}`);
    const conn = await dial(port, signal);
    await splice(dataStream, conn);
  } catch (err) {
    const msg = forwardErrorMessage(Number.isInteger(port) ? port : 0, labels.pod, labels.uid, err);
    log.info({ err }, msg);
    if (!errorStream.destroyed) errorStream.write(msg);
  } finally {
    if (!dataStream.destroyed) dataStream.end();
    if (!errorStream.destroyed) errorStream.end();
  }
}

/**
 * The ports of a WebSocket port-forward request, validated as upstream: `?port=80,443` (or repeated) as
 * the API server sends it; `ports` (the PodPortForwardOptions name) is accepted from direct clients.
 */
export function parsePortsQuery(query: URLSearchParams): number[] | { error: string } {
  const values = [...query.getAll('port'), ...query.getAll('ports')];
  if (values.length === 0) return { error: 'query parameter "port" is required' };
  const ports: number[] = [];
  for (const v of values) {
    if (v === '') return { error: 'query parameter "port" cannot be empty' };
    for (const p of v.split(',')) {
      const n = /^\d+$/.test(p) ? Number(p) : NaN;
      if (!Number.isInteger(n) || n > 65535) return { error: `unable to parse "${v}" as a port` };
      if (n < 1) return { error: `port "${v}" must be > 0` };
      ports.push(n);
    }
  }
  return ports;
}

/** Port-forward over the WebSocket channel protocol: one connection per requested port. */
export function serveWebSocketPortForward(ws: WebSocket, ports: readonly number[], dial: PortDialer, labels: { pod: string; uid: string }): void {
  const conn = new ChannelConnection(ws, channelProtocol(ws.protocol));
  const ac = new AbortController();
  void conn.done.then(() => ac.abort());
  const portPrefix = (port: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(port);
    return b;
  };
  const forwards = ports.map(async (port, i) => {
    const dataCh = 2 * i;
    const errCh = 2 * i + 1;
    conn.send(dataCh, portPrefix(port));
    conn.send(errCh, portPrefix(port));
    const fromClient = conn.readable(dataCh);
    try {
      const pod = await dial(port, ac.signal);
      const toClient = conn.writable(dataCh);
      await new Promise<void>((resolve) => {
        fromClient.pipe(pod);
        pod.pipe(toClient);
        pod.once('end', () => resolve());
        pod.once('close', () => resolve());
        pod.once('error', () => resolve());
      });
    } catch (err) {
      conn.send(errCh, Buffer.from(forwardErrorMessage(port, labels.pod, labels.uid, err)));
    }
  });
  void Promise.all(forwards).then(() => conn.close(1000));
}

/**
 * The byte stream inside a WebSocket whose binary messages carry arbitrary slices of it (client-go's
 * TunnelingConnection): reads are message payloads in order, each write is one binary message.
 */
export function websocketByteStream(ws: WebSocket): Duplex {
  const stream = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb(new Error('websocket closed'));
      ws.send(chunk, { binary: true }, (err) => cb(err ?? null));
    },
    final(cb) {
      ws.close(1000);
      cb();
    },
    destroy(err, cb) {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      cb(err);
    },
  });
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (!isBinary) {
      stream.destroy(new Error('tunnel received a non-binary message'));
      return;
    }
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (!stream.push(buf)) ws.pause();
  });
  ws.once('close', () => stream.push(null));
  ws.on('error', (err) => stream.destroy(err));
  return stream;
}
