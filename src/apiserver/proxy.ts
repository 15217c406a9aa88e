// The API server's way to the kubelets (upstream pkg/registry/core/pod/strategy.go LogLocation /
// streamLocation, pkg/registry/core/node/strategy.go ResourceLocation, and apimachinery's
// UpgradeAwareHandler): pods/log is streamed from the kubelet's /containerLogs, pods/exec|attach|
// portforward upgrades are relayed byte for byte to the kubelet's /exec|/attach|/portForward (the
// kubelet speaks WebSocket and SPDY itself), and nodes/proxy forwards any path to the kubelet.
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Node, Pod } from 'kubernetes-types/core/v1.js';
import { logger } from '../util/log.js';
import { StatusError, badRequest, invalid, invalidValue, forbiddenField, type FieldError, type StatusReason } from './status.js';

const log = logger('apiserver-proxy');

export const DEFAULT_KUBELET_PORT = 10250;
/** The order in which node addresses are tried (--kubelet-preferred-address-types, as k3s and kubeadm clusters set it). */
export const DEFAULT_PREFERRED_ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'];

export interface KubeletClientConfig {
  /** Client certificate and key the API server presents (--kubelet-client-certificate/-key); without them it presents none. */
  certPem?: string;
  keyPem?: string;
  /** CA that signs kubelet serving certificates (--kubelet-certificate-authority); without it kubelets are not verified, as upstream. */
  caPem?: string;
  preferredAddressTypes?: readonly string[];
  /** Dial timeout, ms (upstream 30 s). */
  dialTimeoutMs?: number;
}

export interface KubeletProxyDeps {
  getPod(namespace: string, name: string): Promise<Pod>;
  getNode(name: string): Promise<Node>;
  client: KubeletClientConfig;
}

export interface KubeletLocation {
  host: string;
  port: number;
  /** Path and query on the kubelet. */
  path: string;
}

/** The kubelet's address and port for a node, from its status. */
export function kubeletEndpoint(node: Node, preferred: readonly string[] = DEFAULT_PREFERRED_ADDRESS_TYPES): { host: string; port: number } {
  const addresses = node.status?.addresses ?? [];
  let host: string | undefined;
  for (const type of preferred) {
    host = addresses.find((a) => a.type === type && a.address)?.address;
    if (host) break;
  }
  if (!host) throw new StatusError(500, 'InternalError', `no preferred addresses found; known addresses: ${JSON.stringify(addresses)}`);
  const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port || DEFAULT_KUBELET_PORT;
  return { host, port };
}

const names = (cs: readonly { name: string }[] | undefined) => (cs ?? []).map((c) => c.name).join(' ');

/** The container a subresource request is for, as upstream's ValidateContainer. */
export function validateContainer(container: string, pod: Pod): string {
  const containers = pod.spec?.containers ?? [];
  if (!container) {
    if (containers.length === 1) return containers[0]!.name;
    if (containers.length === 0) throw badRequest(`a container name must be specified for pod ${pod.metadata!.name}`);
    let msg = `a container name must be specified for pod ${pod.metadata!.name}, choose one of: [${names(containers)}]`;
    if (pod.spec?.initContainers?.length) msg += ` or one of the init containers: [${names(pod.spec.initContainers)}]`;
    throw badRequest(msg);
  }
  const all = [...containers, ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  if (!all.some((c) => c.name === container)) throw badRequest(`container ${container} is not valid for pod ${pod.metadata!.name}`);
  return container;
}

const BOOL = new Set(['true', '1', 'True', 'TRUE', 't', 'T']);
const isTrue = (v: string | null) => v !== null && (v === '' || BOOL.has(v));

/**
 * PodLogOptions from the query, validated as upstream (ValidatePodLogOptions), turned into the
 * kubelet's containerLogs query.
 */
export function podLogQuery(podName: string, q: URLSearchParams): { container: string; kubeletQuery: URLSearchParams } {
  const errs: FieldError[] = [];
  const int = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw badRequest(`${name}: invalid value ${JSON.stringify(v)}`);
    return Number(v);
  };
  const tailLines = int('tailLines');
  const limitBytes = int('limitBytes');
  const sinceSeconds = int('sinceSeconds');
  const sinceTime = q.get('sinceTime') || undefined;
  if (tailLines !== undefined && tailLines < 0) errs.push(invalidValue('tailLines', tailLines, 'must be greater than or equal to 0'));
  if (limitBytes !== undefined && limitBytes < 1) errs.push(invalidValue('limitBytes', limitBytes, 'must be greater than 0'));
  if (sinceSeconds !== undefined && sinceSeconds < 1) errs.push(invalidValue('sinceSeconds', sinceSeconds, 'must be greater than 0'));
  if (sinceSeconds !== undefined && sinceTime !== undefined) errs.push(forbiddenField('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  const stream = q.get('stream') || undefined;
  if (stream !== undefined && stream !== 'Stdout' && stream !== 'Stderr' && stream !== 'All') {
    errs.push(invalidValue('stream', stream, 'supported values: "All", "Stderr", "Stdout"'));
  }
  if (stream !== undefined && stream !== 'All' && tailLines !== undefined) errs.push(forbiddenField('', "`tailLines` and specific `stream` are mutually exclusive for now"));
  if (errs.length) throw invalid('PodLogOptions', '', podName, errs);
  const out = new URLSearchParams();
  if (isTrue(q.get('follow'))) out.set('follow', 'true');
  if (isTrue(q.get('previous'))) out.set('previous', 'true');
  if (isTrue(q.get('timestamps'))) out.set('timestamps', 'true');
  if (tailLines !== undefined) out.set('tailLines', String(tailLines));
  if (limitBytes !== undefined) out.set('limitBytes', String(limitBytes));
  if (sinceSeconds !== undefined) out.set('sinceSeconds', String(sinceSeconds));
  if (sinceTime !== undefined) out.set('sinceTime', sinceTime);
  if (stream !== undefined && stream !== 'All') out.set('stream', stream);
  return { container: q.get('container') ?? '', kubeletQuery: out };
}

/** The kubelet query of an exec or attach request (PodExecOptions → `stdin=1&…&command=…`), as upstream's streamParams. */
export function streamQuery(kind: 'exec' | 'attach', q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of ['stdin', 'stdout', 'stderr', 'tty']) if (isTrue(q.get(name))) out.set(name, '1');
  if (kind === 'exec') for (const c of q.getAll('command')) out.append('command', c);
  return out;
}

/** The kubelet query of a port-forward request: `ports` (PodPortForwardOptions) → `port`. */
export function portForwardQuery(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  const ports = q.getAll('ports').flatMap((p) => p.split(',')).filter(Boolean);
  for (const p of ports) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw badRequest(`invalid port ${JSON.stringify(p)}`);
  }
  if (ports.length) out.set('port', ports.join(','));
  return out;
}

function reasonFor(code: number): StatusReason {
  switch (code) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 429:
      return 'TooManyRequests';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'Timeout';
    default:
      return 'InternalError';
  }
}

/** Pipes a kubelet's response to the client until it ends, fails, or the client goes away. */
function relay(upstream: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    upstream.pipe(res);
    upstream.once('end', resolve);
    upstream.once('error', resolve);
    res.once('close', () => {
      upstream.destroy();
      resolve();
    });
  });
}

export class KubeletProxy {
  constructor(private readonly deps: KubeletProxyDeps) {}

  private async locate(pod: Pod, path: string): Promise<KubeletLocation> {
    const node = await this.deps.getNode(pod.spec!.nodeName!);
    return { ...kubeletEndpoint(node, this.deps.client.preferredAddressTypes), path };
  }

  private tlsOptions(host: string) {
    const c = this.deps.client;
    return {
      ...(c.certPem && c.keyPem ? { cert: c.certPem, key: c.keyPem } : {}),
      ...(c.caPem ? { ca: c.caPem } : {}),
      rejectUnauthorized: c.caPem !== undefined,
      ...(isIP(host) ? {} : { servername: host }),
    };
  }

  /** GET pods/log: streams the kubelet's containerLogs to `res`. */
  async podLog(namespace: string, name: string, query: URLSearchParams, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const pod = await this.deps.getPod(namespace, name);
    const { container: requested, kubeletQuery } = podLogQuery(name, query);
    const container = validateContainer(requested, pod);
    if (!pod.spec?.nodeName) {
      // Not scheduled yet: upstream answers with an empty stream.
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end();
      return;
    }
    const qs = kubeletQuery.toString();
    const loc = await this.locate(pod, `/containerLogs/${enc(namespace)}/${enc(name)}/${enc(container)}${qs ? `?${qs}` : ''}`);
    const upstream = await this.get(loc, signal);
    if (upstream.statusCode !== 200) {
      const body = await readAll(upstream, 4096);
      throw new StatusError(upstream.statusCode ?? 500, reasonFor(upstream.statusCode ?? 500), body.toString('utf8').trim() || `the server responded with the status code ${upstream.statusCode} but did not return more information`);
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    await relay(upstream, res);
    res.end();
  }

  private get(loc: KubeletLocation, signal: AbortSignal, method = 'GET', headers: Record<string, string | string[]> = {}, body?: Buffer): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: loc.host, port: loc.port, path: loc.path, method, headers, signal, timeout: this.deps.client.dialTimeoutMs ?? 30_000, ...this.tlsOptions(loc.host) }, resolve);
      req.once('timeout', () => req.destroy(new Error(`dial tcp ${hostPort(loc)}: i/o timeout`)));
      req.once('error', (err: NodeJS.ErrnoException) => reject(kubeletUnreachable(method, loc, err)));
      req.end(body);
    });
  }

  /**
   * pods/exec, pods/attach, pods/portforward: validates the request as upstream's streamLocation, then
   * relays the upgrade to the kubelet. Errors before the relay are thrown as StatusError (the caller
   * writes them on the socket).
   */
  async upgrade(kind: 'exec' | 'attach' | 'portforward', namespace: string, name: string, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://apiserver');
    const pod = await this.deps.getPod(namespace, name);
    let path: string;
    if (kind === 'portforward') {
      const qs = portForwardQuery(url.searchParams).toString();
      path = `/portForward/${enc(namespace)}/${enc(name)}${qs ? `?${qs}` : ''}`;
    } else {
      const container = validateContainer(url.searchParams.get('container') ?? '', pod);
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') {
        throw badRequest(`cannot ${kind === 'exec' ? 'exec into' : 'attach to'} a container in a completed pod; current phase is ${pod.status.phase}`);
      }
      path = `/${kind}/${enc(namespace)}/${enc(name)}/${enc(container)}?${streamQuery(kind, url.searchParams).toString()}`;
    }
    if (!pod.spec?.nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
    const loc = await this.locate(pod, path);
    await this.relayUpgrade(loc, req, socket, head);
  }

  /** nodes/<name>/proxy/<path>: any request to the kubelet, response streamed back. */
  async nodeProxy(nodeName: string, subpath: string, req: IncomingMessage, body: Buffer, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const node = await this.deps.getNode(nodeName);
    const url = new URL(req.url ?? '/', 'https://apiserver');
    const loc = { ...kubeletEndpoint(node, this.deps.client.preferredAddressTypes), path: `/${subpath}${url.search}` };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k === 'authorization' || k.startsWith('impersonate-') || k === 'host') continue;
      headers[k] = v;
    }
    const upstream = await this.get(loc, signal, req.method ?? 'GET', headers, body.length ? body : undefined);
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(upstream.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
    res.writeHead(upstream.statusCode ?? 502, out);
    await relay(upstream, res);
  }

  /**
   * Sends the client's upgrade request to the kubelet with the API server's credentials, then, only if
   * the kubelet switched protocols (101), joins the two connections; any other answer is passed back
   * and the connection closed (the fix of CVE-2018-1002105).
   */
  private relayUpgrade(loc: KubeletLocation, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const backend: TLSSocket = tlsConnect({ host: loc.host, port: loc.port, ...this.tlsOptions(loc.host) });
      const timer = setTimeout(() => backend.destroy(new Error(`dial tcp ${hostPort(loc)}: i/o timeout`)), this.deps.client.dialTimeoutMs ?? 30_000);
      let connected = false;
      backend.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (!connected) reject(kubeletUnreachable(req.method ?? 'GET', loc, err));
        else client.destroy();
      });
      backend.once('secureConnect', () => {
        connected = true;
        clearTimeout(timer);
        const lines = [`${req.method ?? 'GET'} ${loc.path} HTTP/1.1`, `Host: ${hostPort(loc)}`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          const k = req.rawHeaders[i]!;
          const lk = k.toLowerCase();
          if (lk === 'host' || lk === 'authorization' || lk.startsWith('impersonate-') || lk === 'content-length') continue;
          lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
        }
        backend.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) backend.write(head);
        // Read the kubelet's response head before deciding to join.
        let buf = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > 64 * 1024) backend.destroy(new Error('kubelet response head too large'));
            return;
          }
          backend.off('data', onData);
          backend.pause();
          const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
          client.write(buf);
          if (status === 101) {
            backend.pipe(client);
            client.pipe(backend);
            backend.resume();
          } else {
            // Pass the error body through, then close: no tunnel for a refused upgrade.
            backend.pipe(client);
            backend.resume();
          }
          resolve();
        };
        backend.on('data', onData);
        const close = () => {
          backend.destroy();
          client.destroy();
        };
        client.once('close', close);
        client.on('error', close);
        backend.once('close', () => client.end());
      });
    });
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

const enc = encodeURIComponent;

function hostPort(loc: { host: string; port: number }): string {
  return `${loc.host.includes(':') ? `[${loc.host}]` : loc.host}:${loc.port}`;
}

function kubeletUnreachable(method: string, loc: KubeletLocation, err: NodeJS.ErrnoException): StatusError {
  const why = err.code === 'ECONNREFUSED' ? `dial tcp ${hostPort(loc)}: connect: connection refused` : err.message;
  const verb = method.charAt(0).toUpperCase() + method.slice(1).toLowerCase();
  log.info({ err, host: loc.host, port: loc.port }, 'kubelet unreachable');
  return new StatusError(500, 'InternalError', `${verb} "https://${hostPort(loc)}${loc.path}": ${why}`);
}

function readAll(stream: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      if (size < limit) chunks.push(c.subarray(0, limit - size));
      size += c.length;
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', () => resolve(Buffer.concat(chunks)));
  });
}
