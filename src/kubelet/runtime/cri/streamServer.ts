// The streaming server behind a CRI server's Exec/Attach/PortForward answers: each call registers
// a one-time token and returns `http://127.0.0.1:PORT/<kind>/<token>`; the client then opens a
// WebSocket there with the channel protocol (v4.channel.k8s.io, as containerd's server speaks),
// and the session is run on the ContainerRuntime's streams.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { logger } from '../../../util/log.js';
import type { ContainerRuntime, ContainerStreams } from '../types.js';
import { V4_CHANNEL_PROTOCOL } from './streamClient.js';

const log = logger('cri-stream-server');
const TOKEN_TTL_MS = 60_000;

type Pending =
  | { kind: 'exec'; containerId: string; cmd: string[]; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean; expires: number }
  | { kind: 'attach'; containerId: string; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean; expires: number }
  | { kind: 'portforward'; podSandboxId: string; expires: number };

type PendingRequest = Pending extends infer P ? (P extends { expires: number } ? Omit<P, 'expires'> : never) : never;

/** The v4 error-channel document for an exit code (upstream's NonZeroExitCode Status). */
export function v4StatusForExit(exitCode: number | undefined, message?: string): string {
  if (exitCode === 0 || (exitCode === undefined && !message)) return JSON.stringify({ metadata: {}, status: 'Success' });
  if (exitCode === undefined) return JSON.stringify({ metadata: {}, status: 'Failure', message, reason: 'InternalError' });
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  });
}

export class StreamServer {
  private readonly pending = new Map<string, Pending>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private baseUrl = '';

  constructor(private readonly runtime: ContainerRuntime) {
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (protocols) => (protocols.has(V4_CHANNEL_PROTOCOL) ? V4_CHANNEL_PROTOCOL : protocols.has('channel.k8s.io') ? 'channel.k8s.io' : false),
    });
    this.http = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('this endpoint only serves WebSocket upgrades (protocol v4.channel.k8s.io)\n');
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  async listen(host = '127.0.0.1', port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    const addr = this.http.address() as AddressInfo;
    this.baseUrl = `http://${host}:${addr.port}`;
  }

  /** Registers a session and returns the URL the client connects to. */
  register(request: PendingRequest): string {
    const now = Date.now();
    for (const [t, p] of this.pending) if (p.expires < now) this.pending.delete(t);
    const token = randomBytes(16).toString('base64url');
    this.pending.set(token, { ...request, expires: now + TOKEN_TTL_MS } as Pending);
    return `${this.baseUrl}/${request.kind}/${token}`;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, kind, token] = url.pathname.split('/');
    const pending = token ? this.pending.get(token) : undefined;
    if (!pending || pending.kind !== kind || pending.expires < Date.now()) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.pending.delete(token!);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const run = pending.kind === 'portforward' ? this.servePortForward(ws, pending.podSandboxId, url) : this.serveRemoteCommand(ws, pending);
      run.catch((err: unknown) => {
        log.warn({ err, kind }, 'streaming session failed');
        ws.close();
      });
    });
  }

  private async serveRemoteCommand(ws: WebSocket, p: Extract<Pending, { kind: 'exec' | 'attach' }>): Promise<void> {
    const send = (channel: number, data: Buffer | string): void => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(data)]));
    };
    const opts = { stdin: p.stdin, stdout: p.stdout, stderr: p.stderr && !p.tty, tty: p.tty };
    let streams: ContainerStreams;
    try {
      streams = p.kind === 'exec' ? await this.runtime.exec(p.containerId, p.cmd, opts) : await this.runtime.attach(p.containerId, opts);
    } catch (err) {
      send(3, v4StatusForExit(undefined, (err as Error).message));
      ws.close();
      return;
    }
    send(opts.stdout ? 1 : opts.stderr ? 2 : 3, Buffer.alloc(0));
    ws.on('message', (raw: Buffer) => {
      if (raw.length === 0) return;
      const data = raw.subarray(1);
      if (raw[0] === 0) streams.stdin?.write(data);
      else if (raw[0] === 4) {
        try {
          const size = JSON.parse(data.toString('utf8')) as { Width: number; Height: number };
          streams.resize({ width: size.Width, height: size.Height });
        } catch {
          /* a malformed resize is ignored, as upstream */
        }
      }
    });
    ws.on('close', () => streams.close());
    const drained = [streams.stdout, streams.stderr].map(
      (s, i) =>
        new Promise<void>((resolve) => {
          if (!s) return resolve();
          s.on('data', (c: Buffer) => send(i + 1, c));
          s.on('end', resolve);
          s.on('error', () => resolve());
          s.on('close', resolve);
        }),
    );
    const exit = await streams.exit;
    await Promise.all(drained);
    send(3, v4StatusForExit(p.kind === 'attach' ? 0 : exit.exitCode, exit.message));
    ws.close();
  }

  private async servePortForward(ws: WebSocket, podSandboxId: string, url: URL): Promise<void> {
    const ports = url.searchParams.getAll('port').flatMap((v) => v.split(',')).map(Number);
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      ws.close(1008, 'query parameter "port" is required: 1-65535');
      return;
    }
    const send = (channel: number, data: Buffer): void => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
    };
    const conns: (Duplex | undefined)[] = [];
    ws.on('message', (raw: Buffer) => {
      if (raw.length === 0) return;
      const channel = raw[0]!;
      if (channel % 2 === 0) conns[channel / 2]?.write(raw.subarray(1));
    });
    const done = ports.map(async (port, i) => {
      const header = Buffer.alloc(2);
      header.writeUInt16LE(port);
      send(2 * i, header);
      send(2 * i + 1, header);
      try {
        const conn = await this.runtime.portForward(podSandboxId, port);
        conns[i] = conn;
        await new Promise<void>((resolve) => {
          conn.on('data', (c: Buffer) => send(2 * i, c));
          conn.on('end', resolve);
          conn.on('close', resolve);
          conn.on('error', (err) => {
            send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${podSandboxId}: ${err.message}`));
            resolve();
          });
        });
      } catch (err) {
        send(2 * i + 1, Buffer.from(`error forwarding port ${port} to pod ${podSandboxId}: ${(err as Error).message}`));
      }
    });
    ws.on('close', () => conns.forEach((c) => c?.destroy()));
    await Promise.all(done);
    ws.close();
  }
}
