// The kubelet's API server (upstream pkg/kubelet/server): HTTPS on 10250 with client-certificate (and
// optional bearer token) authentication and an authorizer over nodes/<subresource>; serves /healthz,
// /pods, /containerLogs, /exec, /attach, /portForward, /run, /stats/summary, /metrics. Streaming
// endpoints upgrade to WebSocket (remotecommand channel protocols, SPDY-over-WebSocket port-forward
// tunnel) or to SPDY/3.1.
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Pod, ContainerStatus } from 'kubernetes-types/core/v1.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { x509Authenticator } from '../../apiserver/authn/x509.js';
import { SYSTEM_MASTERS, type UserInfo } from '../../apiserver/authn/types.js';
import { APISERVER_KUBELET_CLIENT_USER } from '../../pki/files.js';
import { logger } from '../../util/log.js';
import { parseRFC3339Nano, writeContainerLogs, type LogOptions } from './logs.js';
import { REMOTECOMMAND_SPDY_PROTOCOLS, parseStreamRequest, serveRemoteCommand, spdyRemoteCommand, websocketRemoteCommand, type StreamRequest } from './remotecommand.js';
import { PORTFORWARD_PROTOCOL, PORTFORWARD_TUNNEL_PROTOCOL, parsePortsQuery, serveSpdyPortForward, serveWebSocketPortForward, websocketByteStream, type PortDialer } from './portforward.js';
import { PORTFORWARD_WS_PROTOCOLS, REMOTECOMMAND_WS_PROTOCOLS, negotiateSubprotocol } from './wsstream.js';
import type { KubeletRequestAttributes, KubeletServerDeps } from './types.js';

const log = logger('kubelet-server');


export interface KubeletServerOptions {
  deps: KubeletServerDeps;
  /** Serving certificate and key (PEM). */
  tls: { cert: string; key: string };
  /** CA bundle that signs client certificates (--client-ca-file); without it no certificate authenticates. */
  clientCAPem?: string;
  /** Bearer tokens (--authentication-token-webhook): the user, or undefined to reject. */
  authenticateToken?(token: string): Promise<UserInfo | undefined>;
  /** Allow unauthenticated requests as system:anonymous (--anonymous-auth); default false. */
  anonymousAuth?: boolean;
  /**
   * The authorizer (--authorization-mode Webhook → a SubjectAccessReview). Default: members of
   * system:masters and the apiserver's kubelet-client user are allowed, everyone else is refused.
   */
  authorize?(attrs: KubeletRequestAttributes): Promise<boolean>;
  port?: number;
  address?: string;
  /** How long the client has to open its SPDY streams (upstream --streaming-connection... 30 s). */
  streamCreationTimeoutMs?: number;
  /** Called when a streaming session starts, for logs and tests: which endpoint and wire protocol. */
  onStream?(info: { kind: 'exec' | 'attach' | 'portforward'; protocol: string; transport: 'websocket' | 'spdy' }): void;
}

export interface KubeletServer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

/** A failure answered with an HTTP status and a plain-text body (upstream's response.WriteError). */
class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const HTTP_VERBS: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** nodes/<subresource> for a path, as upstream's kubelet authorizer attributes. */
export function subresourceForPath(path: string): string {
  const under = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  if (under('/stats')) return 'stats';
  if (under('/metrics')) return 'metrics';
  if (under('/logs')) return 'log';
  if (under('/spec')) return 'spec';
  return 'proxy';
}

/** The runtime's container id from `<runtime>://<id>`. */
export function runtimeContainerId(containerID: string | undefined): string | undefined {
  if (!containerID) return undefined;
  const i = containerID.indexOf('://');
  const id = i >= 0 ? containerID.slice(i + 3) : containerID;
  return id || undefined;
}

function allStatuses(pod: Pod): ContainerStatus[] {
  return [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])];
}

function hasContainer(pod: Pod, name: string): boolean {
  return [...pod.spec!.containers, ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].some((c) => c.name === name);
}

/**
 * Which container instance to read logs from, as upstream's validateContainerLogStatus: the running one,
 * the terminated one, or the previous one; a waiting container has no logs and says why.
 */
export function containerIdForLogs(pod: Pod, containerName: string, previous: boolean): { id: string } | { error: string } {
  const podName = pod.metadata!.name!;
  const status = allStatuses(pod).find((s) => s.name === containerName);
  if (!status) return { error: `container "${containerName}" in pod "${podName}" is not available` };
  const last = status.lastState?.terminated;
  const { waiting, running, terminated } = status.state ?? {};
  const id = (cid: string | undefined) => ({ id: runtimeContainerId(cid)! });
  if (previous) {
    if (!last?.containerID) return { error: `previous terminated container "${containerName}" in pod "${podName}" not found` };
    return id(last.containerID);
  }
  if (running) return id(status.containerID);
  if (terminated) {
    if (terminated.containerID) return id(terminated.containerID);
    if (last?.containerID) return id(last.containerID);
    return { error: `container "${containerName}" in pod "${podName}" is terminated` };
  }
  if (last) {
    if (!last.containerID) return { error: `container "${containerName}" in pod "${podName}" is terminated` };
    return id(last.containerID);
  }
  if (waiting) {
    switch (waiting.reason) {
      case 'ErrImagePull':
        return { error: `container "${containerName}" in pod "${podName}" is waiting to start: image can't be pulled` };
      case 'ImagePullBackOff':
        return { error: `container "${containerName}" in pod "${podName}" is waiting to start: trying and failing to pull image` };
      default:
        return { error: `container "${containerName}" in pod "${podName}" is waiting to start: ${waiting.reason ?? ''}` };
    }
  }
  return { error: `container "${containerName}" in pod "${podName}" is waiting to start - no logs yet` };
}

/** PodLogOptions from the kubelet's query (`tail` is the legacy name of tailLines; `all` = no limit). */
export function parseLogQuery(query: URLSearchParams, now = Date.now()): { opts: LogOptions; follow: boolean; previous: boolean } | { error: string; code: number } {
  const bool = (name: string) => {
    const v = query.get(name);
    if (v === null || v === '' || v === 'false' || v === '0' || v === 'False') return v === '' ? true : false;
    if (v === 'true' || v === '1' || v === 'True') return true;
    return undefined;
  };
  const int = (name: string) => {
    const v = query.get(name);
    if (v === null) return null;
    return /^-?\d+$/.test(v) ? Number(v) : undefined;
  };
  const tail = query.get('tail');
  const tailRaw = tail !== null ? (tail === 'all' ? null : /^-?\d+$/.test(tail) ? Number(tail) : undefined) : int('tailLines');
  const sinceSeconds = int('sinceSeconds');
  const limitBytes = int('limitBytes');
  const follow = bool('follow');
  const previous = bool('previous');
  const timestamps = bool('timestamps');
  const sinceTimeText = query.get('sinceTime');
  const sinceTime = sinceTimeText ? parseRFC3339Nano(sinceTimeText) : null;
  if ([tailRaw, sinceSeconds, limitBytes, follow, previous, timestamps, sinceTime].some((v) => v === undefined)) {
    return { code: 400, error: '{"message": "Unable to decode query."}' };
  }
  if ((tailRaw !== null && tailRaw! < 0) || (sinceSeconds !== null && sinceSeconds! < 1) || (limitBytes !== null && limitBytes! < 1) || (sinceSeconds !== null && sinceTime !== null)) {
    return { code: 422, error: '{"message": "Invalid request."}' };
  }
  const stream = query.get('stream');
  const opts: LogOptions = {
    ...(tailRaw !== null ? { tailLines: tailRaw! } : {}),
    ...(limitBytes !== null ? { limitBytes: limitBytes! } : {}),
    ...(timestamps ? { timestamps: true } : {}),
    ...(sinceSeconds !== null ? { since: BigInt(now - sinceSeconds! * 1000) * 1_000_000n } : {}),
    ...(sinceTime !== null ? { since: sinceTime! } : {}),
    ...(stream === 'Stdout' ? { stream: 'stdout' as const } : stream === 'Stderr' ? { stream: 'stderr' as const } : {}),
  };
  return { opts, follow: follow!, previous: previous! };
}

function defaultAuthorize(attrs: KubeletRequestAttributes): Promise<boolean> {
  return Promise.resolve(attrs.user.groups.includes(SYSTEM_MASTERS) || attrs.user.name === APISERVER_KUBELET_CLIENT_USER);
}

export async function startKubeletServer(opts: KubeletServerOptions): Promise<KubeletServer> {
  const { deps } = opts;
  const x509 = opts.clientCAPem ? x509Authenticator({ clientCAPem: opts.clientCAPem }) : undefined;
  const authorize = opts.authorize ?? defaultAuthorize;
  // The subprotocol is negotiated before the request is handed to ws, which then just echoes the choice.
  const chosenProtocol = new WeakMap<IncomingMessage, string>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (_offered, req) => chosenProtocol.get(req) || false });
  const sockets = new Set<Duplex>();

  const authenticate = async (req: IncomingMessage): Promise<UserInfo | undefined> => {
    const socket = req.socket as TLSSocket;
    if (x509) {
      const r = await x509.authenticate({ headers: req.headers, peerCertificate: socket.getPeerCertificate?.(true) });
      if (r?.ok) return r.user;
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && opts.authenticateToken) {
      const user = await opts.authenticateToken(auth.slice(7).trim());
      if (user) return user;
    }
    if (opts.anonymousAuth) return { name: 'system:anonymous', groups: ['system:unauthenticated'] };
    return undefined;
  };

  /** Authentication and authorization of one request; throws HttpError 401/403. */
  const admit = async (req: IncomingMessage, path: string): Promise<void> => {
    const user = await authenticate(req);
    if (!user) throw new HttpError(401, 'Unauthorized');
    const attrs: KubeletRequestAttributes = { user, verb: HTTP_VERBS[req.method ?? 'GET'] ?? 'get', resource: 'nodes', subresource: subresourceForPath(path), name: deps.nodeName, path };
    if (!(await authorize(attrs))) {
      throw new HttpError(403, `Forbidden (user=${user.name}, verb=${attrs.verb}, resource=nodes, subresource=${attrs.subresource})`);
    }
  };

  const server: Server = createServer({ cert: opts.tls.cert, key: opts.tls.key, ...(opts.clientCAPem ? { ca: opts.clientCAPem } : {}), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    void handle(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, (err as Error).message);
      if (e.code >= 500) log.error({ err, path: req.url }, 'kubelet request failed');
      if (!res.headersSent) {
        res.writeHead(e.code, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(e.message);
      } else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void upgrade(req, socket, head).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, (err as Error).message);
      if (e.code >= 500) log.warn({ err, path: req.url }, 'kubelet upgrade failed');
      rejectUpgrade(socket, e.code, e.message);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const path = url.pathname;
    await admit(req, path);
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (path === '/healthz' || path.startsWith('/healthz/')) return text(res, 200, 'ok');
    if (path === '/pods' || path === '/pods/') {
      return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: deps.listPods() });
    }
    if (parts[0] === 'containerLogs' && method === 'GET') return containerLogs(req, res, url, parts.slice(1));
    if (parts[0] === 'run' && method === 'POST') return run(res, url, parts.slice(1));
    if (path === '/stats/summary' || path === '/stats/summary/') {
      if (!deps.statsSummary) throw new HttpError(503, 'stats are not available');
      return json(res, 200, await deps.statsSummary());
    }
    if (path === '/metrics' || path === '/metrics/resource') {
      const registry = path === '/metrics' ? deps.metrics : deps.resourceMetrics;
      if (!registry) throw new HttpError(404, '404 page not found');
      res.writeHead(200, { 'Content-Type': registry.contentType });
      res.end(await registry.metrics());
      return;
    }
    if (parts[0] === 'exec' || parts[0] === 'attach' || parts[0] === 'portForward') {
      throw new HttpError(400, 'Upgrade request required');
    }
    throw new HttpError(404, '404 page not found');
  }

  async function containerLogs(req: IncomingMessage, res: ServerResponse, url: URL, rest: string[]): Promise<void> {
    const [namespace, podName, containerName] = rest;
    if (!podName) throw new HttpError(400, '{"message": "Missing podID."}');
    if (!containerName) throw new HttpError(400, '{"message": "Missing container name."}');
    if (!namespace) throw new HttpError(400, '{"message": "Missing podNamespace."}');
    const parsed = parseLogQuery(url.searchParams);
    if ('error' in parsed) throw new HttpError(parsed.code, parsed.error);
    const pod = deps.findPod(namespace, podName);
    if (!pod) throw new HttpError(404, `pod "${podName}" does not exist`);
    if (!hasContainer(pod, containerName)) throw new HttpError(404, `container "${containerName}" not found in pod "${podName}"`);
    const target = containerIdForLogs(pod, containerName, parsed.previous);
    if ('error' in target) throw new HttpError(400, target.error);
    let logPath: string;
    try {
      logPath = (await deps.runtime.containerStatus(target.id)).logPath;
    } catch (err) {
      throw new HttpError(400, `failed to get container status "${target.id}": ${(err as Error).message}`);
    }
    if (!logPath) throw new HttpError(400, `failed to find the log file of container "${containerName}" in pod "${podName}"`);
    try {
      await stat(logPath);
    } catch (err) {
      throw new HttpError(400, `failed to open log file "${logPath}": ${(err as Error).message}`);
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const ac = new AbortController();
    req.once('close', () => ac.abort());
    res.once('close', () => ac.abort());
    try {
      await writeContainerLogs(
        logPath,
        parsed.opts,
        res,
        parsed.follow
          ? {
              signal: ac.signal,
              isRunning: async () => {
                try {
                  return (await deps.runtime.containerStatus(target.id)).state === 'CONTAINER_RUNNING';
                } catch {
                  return false;
                }
              },
            }
          : undefined,
      );
    } catch (err) {
      // Headers are out: a missing file ends the response empty, as upstream's reader does on open errors.
      log.info({ err, logPath }, 'reading container logs failed');
    }
    res.end();
  }

  async function run(res: ServerResponse, url: URL, rest: string[]): Promise<void> {
    const { pod, containerName } = locate(rest);
    const id = runningContainerId(pod, containerName);
    const cmd = (url.searchParams.get('cmd') ?? '').split(' ');
    const r = await deps.runtime.execSync(id, cmd, 0);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(Buffer.concat([r.stdout, r.stderr]));
  }

  /** {ns}/{pod}/{container} or {ns}/{pod}/{uid}/{container}. */
  function locate(rest: string[]): { pod: Pod; containerName: string } {
    const [namespace, podName] = rest;
    const uid = rest.length >= 4 ? rest[2] : undefined;
    const containerName = rest.length >= 4 ? rest[3] : rest[2];
    if (!namespace || !podName || !containerName) throw new HttpError(404, '404 page not found');
    const pod = deps.findPod(namespace, podName, uid);
    if (!pod) throw new HttpError(404, 'pod does not exist');
    return { pod, containerName };
  }

  function runningContainerId(pod: Pod, containerName: string): string {
    const status = allStatuses(pod).find((s) => s.name === containerName);
    const id = status?.state?.running ? runtimeContainerId(status.containerID) : undefined;
    if (!id) throw new HttpError(500, `container not found ("${containerName}")`);
    return id;
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    await admit(req, url.pathname);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const kind = parts[0];
    const upgradeTo = String(req.headers.upgrade ?? '').toLowerCase();
    const isWebSocket = upgradeTo === 'websocket';
    if (!isWebSocket && !upgradeTo.startsWith('spdy/3.1')) throw new HttpError(400, `unsupported upgrade protocol ${JSON.stringify(req.headers.upgrade ?? '')}`);
    const offered = isWebSocket
      ? String(req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : headerValues(req, 'x-stream-protocol-version');

    if (kind === 'exec' || kind === 'attach') {
      const { pod, containerName } = locate(parts.slice(1));
      const streamReq = parseStreamRequest(url.searchParams);
      if ('error' in streamReq) throw new HttpError(400, streamReq.error);
      const id = runningContainerId(pod, containerName);
      const cmd = url.searchParams.getAll('command');
      const start = (signal: AbortSignal) =>
        kind === 'exec'
          ? deps.runtime.exec(id, cmd, { ...streamReq, signal })
          : deps.runtime.attach(id, { ...streamReq, signal });
      const protocols = isWebSocket ? REMOTECOMMAND_WS_PROTOCOLS : REMOTECOMMAND_SPDY_PROTOCOLS;
      const protocol = negotiateSubprotocol(offered, protocols);
      if (protocol === undefined) {
        throw new HttpError(403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ${JSON.stringify(protocols)}`);
      }
      opts.onStream?.({ kind, protocol, transport: isWebSocket ? 'websocket' : 'spdy' });
      if (isWebSocket) {
        const ws = await acceptWebSocket(req, socket, head, protocol);
        await serveRemoteCommand(websocketRemoteCommand(ws, streamReq), streamReq, start, { kind, cmd });
        return;
      }
      acceptSpdy(socket, head, protocol);
      const version = protocol === '' || protocol === 'channel.k8s.io' ? 1 : Number(protocol[1]);
      let client;
      try {
        client = await spdyRemoteCommand(socket, version, streamReq, opts.streamCreationTimeoutMs);
      } catch (err) {
        log.info({ err }, 'remotecommand over SPDY did not start');
        return;
      }
      await serveRemoteCommand(client, streamReq as StreamRequest, start, { kind, cmd });
      return;
    }

    if (kind === 'portForward') {
      const [namespace, podName, uid] = parts.slice(1);
      if (!namespace || !podName) throw new HttpError(404, '404 page not found');
      const pod = deps.findPod(namespace, podName, uid);
      if (!pod) throw new HttpError(404, 'pod does not exist');
      const sandboxId = await deps.podSandboxId(pod);
      if (!sandboxId) throw new HttpError(500, `pod not found ("${podName}_${namespace}")`);
      const dial: PortDialer = (port, signal) => deps.runtime.portForward(sandboxId, port, signal);
      const labels = { pod: sandboxId, uid: uid ?? '' };
      if (isWebSocket && offered.includes(PORTFORWARD_TUNNEL_PROTOCOL)) {
        opts.onStream?.({ kind: 'portforward', protocol: PORTFORWARD_TUNNEL_PROTOCOL, transport: 'websocket' });
        const ws = await acceptWebSocket(req, socket, head, PORTFORWARD_TUNNEL_PROTOCOL);
        serveSpdyPortForward(websocketByteStream(ws), dial, labels, opts.streamCreationTimeoutMs);
        return;
      }
      if (isWebSocket) {
        const ports = parsePortsQuery(url.searchParams);
        if ('error' in ports) throw new HttpError(400, ports.error);
        const protocol = negotiateSubprotocol(offered, PORTFORWARD_WS_PROTOCOLS);
        if (protocol === undefined) throw new HttpError(400, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ${JSON.stringify(PORTFORWARD_WS_PROTOCOLS)}`);
        opts.onStream?.({ kind: 'portforward', protocol, transport: 'websocket' });
        const ws = await acceptWebSocket(req, socket, head, protocol);
        serveWebSocketPortForward(ws, ports, dial, labels);
        return;
      }
      const protocol = negotiateSubprotocol(offered, [PORTFORWARD_PROTOCOL]);
      if (protocol === undefined) {
        throw new HttpError(403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ${JSON.stringify([PORTFORWARD_PROTOCOL])}`);
      }
      opts.onStream?.({ kind: 'portforward', protocol: PORTFORWARD_PROTOCOL, transport: 'spdy' });
      acceptSpdy(socket, head, PORTFORWARD_PROTOCOL);
      serveSpdyPortForward(socket, dial, labels, opts.streamCreationTimeoutMs);
      return;
    }
    throw new HttpError(404, '404 page not found');
  }

  function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string): Promise<WebSocket> {
    chosenProtocol.set(req, protocol);
    return new Promise((resolve) => wss.handleUpgrade(req, socket, head, (ws) => resolve(ws)));
  }

  function acceptSpdy(socket: Duplex, head: Buffer, protocol: string): void {
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Connection: Upgrade\r\n' +
        'Upgrade: SPDY/3.1\r\n' +
        (protocol ? `X-Stream-Protocol-Version: ${protocol}\r\n` : '') +
        '\r\n',
    );
    if (head.length > 0) socket.unshift(head);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 10250, opts.address ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  log.info({ port: addr.port, address: addr.address }, 'kubelet server listening');
  return {
    port: addr.port,
    address: addr.address,
    close: async () => {
      for (const s of sockets) s.destroy();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** All values of a repeatable header, comma-split (Go's Header[] plus comma joins by proxies). */
function headerValues(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== name) continue;
    for (const v of req.rawHeaders[i + 1]!.split(',')) if (v.trim()) out.push(v.trim());
  }
  return out;
}

function rejectUpgrade(socket: Duplex, code: number, message: string): void {
  if (socket.destroyed) return;
  const reason: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };
  const body = Buffer.from(message);
  socket.end(
    `HTTP/1.1 ${code} ${reason[code] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` + body.toString(),
  );
}

function text(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
