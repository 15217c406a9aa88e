// The one REST client every k8ts component talks to the apiserver through (architecture rule 1):
// HTTP/1.1 over keep-alive sockets, client-side rate limiting, retries where upstream retries,
// typed resource access and failures as ApiError.
import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createSecureContext } from 'node:tls';
import { BUILTIN_RESOURCES, type ResourceType } from '../api/catalog.js';
import { ApiError, ConnectionError } from './apiError.js';
import { realClock, sleep, type Clock } from './clock.js';
import { TokenFileSource, type ClientConfig } from './config.js';
import { ResourceClient } from './resourceClient.js';
import { TokenBucket } from './tokenBucket.js';
import { logger } from '../util/log.js';

/** The Kubernetes version k8ts implements; part of every user agent. */
export const CLIENT_KUBERNETES_VERSION = 'v1.32.0';

export interface RestClientOptions {
  /** The component's name (`kube-scheduler`); the user agent becomes `k8ts-kube-scheduler/v1.32.0 (…)`. */
  component?: string;
  /** Overrides the whole user agent. */
  userAgent?: string;
  /** Sustained requests per second (client-go default 5); a negative value turns limiting off. */
  qps?: number;
  /** Requests allowed at once above qps (client-go default 10). */
  burst?: number;
  /** Pooled sockets for ordinary requests; watches get their own unpooled sockets. Default 32. */
  maxSockets?: number;
  /** Default timeout of a non-streaming request; 0 = none. Default 60 s. */
  timeoutMs?: number;
  /** Retries after 429 / Retry-After answers (client-go: 10). Default 10. */
  maxRetries?: number;
  /** Retries of idempotent GETs after connection failures. Default 3. */
  maxConnectionRetries?: number;
  clock?: Clock;
}

/** Options every call takes. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's default timeout for this call (0 = none). */
  timeoutMs?: number;
}

export type QueryValue = string | number | boolean | undefined | readonly string[];

export interface RawRequest extends CallOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute API path, e.g. /api/v1/namespaces/default/pods. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Serialized as JSON unless a string. */
  body?: unknown;
  contentType?: string;
}

const log = logger('rest-client');

export class RestClient {
  readonly userAgent: string;
  private readonly base: URL;
  private agent: http.Agent;
  private watchAgent: http.Agent;
  private readonly makeAgents: (cert?: { certPem: string; keyPem: string }) => { agent: http.Agent; watchAgent: http.Agent };
  private readonly limiter: TokenBucket | undefined;
  private readonly tokenFile: TokenFileSource | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxConnectionRetries: number;
  private readonly clock: Clock;

  constructor(readonly config: ClientConfig, options: RestClientOptions = {}) {
    this.base = new URL(config.server);
    const component = options.component ?? 'client';
    this.userAgent = options.userAgent ?? `k8ts-${component}/${CLIENT_KUBERNETES_VERSION} (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}) k8ts`;
    const secure = this.base.protocol === 'https:';
    this.makeAgents = (cert) => {
      const certPem = cert?.certPem ?? config.certPem;
      const keyPem = cert?.keyPem ?? config.keyPem;
      // One secure context for every connection of these agents: given ca/cert/key instead, Node
      // parses them again for each new TLS connection.
      const tls: https.AgentOptions = {
        rejectUnauthorized: !config.insecureSkipTLSVerify,
        ...(secure
          ? {
              secureContext: createSecureContext({
                ...(config.caPem ? { ca: config.caPem } : {}),
                ...(certPem ? { cert: certPem } : {}),
                ...(keyPem ? { key: keyPem } : {}),
              }),
            }
          : {}),
        ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
      };
      const make = (o: http.AgentOptions): http.Agent => (secure ? new https.Agent({ ...tls, ...o }) : new http.Agent(o));
      return {
        agent: make({ keepAlive: true, maxSockets: options.maxSockets ?? 32, maxFreeSockets: 8, scheduling: 'lifo' }),
        // Each watch holds its socket for minutes; pooling them would starve ordinary requests.
        watchAgent: make({ keepAlive: false }),
      };
    };
    ({ agent: this.agent, watchAgent: this.watchAgent } = this.makeAgents());
    const qps = options.qps ?? 5;
    this.clock = options.clock ?? realClock;
    this.limiter = qps < 0 ? undefined : new TokenBucket(qps, Math.max(1, options.burst ?? 10), this.clock);
    this.tokenFile = config.token ? undefined : config.tokenFile ? new TokenFileSource(config.tokenFile) : undefined;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxRetries = options.maxRetries ?? 10;
    this.maxConnectionRetries = options.maxConnectionRetries ?? 3;
  }

  /** A typed client for one resource, e.g. `resource<V1Pod>('', 'v1', 'pods')`. */
  resource<T extends object>(group: string, version: string, plural: string, opts: { namespaced?: boolean } = {}): ResourceClient<T> {
    const known = BUILTIN_RESOURCES.find((r) => r.group === group && r.plural === plural);
    return new ResourceClient<T>(this, { group, version, plural, kind: known?.kind, namespaced: opts.namespaced ?? known?.namespaced ?? true });
  }

  /** A typed client by kind (core group first when `group` is omitted), from the catalog. */
  resourceFor<T extends object>(kind: string, group?: string): ResourceClient<T> {
    const t = findResourceType(kind, group);
    return new ResourceClient<T>(this, { group: t.group, version: t.version, plural: t.plural, kind: t.kind, namespaced: t.namespaced });
  }

  /** Sends one request and returns the parsed JSON body (undefined for an empty body). */
  async request<R>(req: RawRequest): Promise<R> {
    const { body } = await this.send(req, false);
    const text = body.toString('utf8');
    return (text ? JSON.parse(text) : undefined) as R;
  }

  /**
   * Opens a streaming GET (watch, logs). The response is returned once its headers arrive; it is
   * 2xx, else the call throws ApiError. The caller consumes and destroys it.
   */
  async stream(req: Omit<RawRequest, 'method' | 'body' | 'contentType'>): Promise<IncomingMessage> {
    const { res } = await this.send({ ...req, method: 'GET' }, true);
    return res!;
  }

  /**
   * Switches to a new client certificate (the kubelet's rotation): new connections present it at
   * once. As upstream's kubelet closes all its connections on rotation, open watches are cut (their
   * informers re-list over new connections) and idle pooled sockets closed; requests in flight finish
   * on the old connection, which is closed a minute later at the latest.
   */
  setClientCertificate(certPem: string, keyPem: string): void {
    const old = { agent: this.agent, watchAgent: this.watchAgent };
    ({ agent: this.agent, watchAgent: this.watchAgent } = this.makeAgents({ certPem, keyPem }));
    old.watchAgent.destroy();
    for (const sockets of Object.values(old.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    setTimeout(() => old.agent.destroy(), this.timeoutMs || 60_000).unref();
  }

  /** Frees the pooled sockets. Open watches end as their requests are aborted by their owners. */
  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  url(path: string, query: Record<string, QueryValue> = {}): URL {
    const u = new URL(this.base.pathname.replace(/\/+$/, '') + path, this.base);
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v as readonly string[]) u.searchParams.append(k, item);
      else u.searchParams.set(k, String(v));
    }
    return u;
  }

  private async send(req: RawRequest, streaming: boolean): Promise<{ body: Buffer; res?: IncomingMessage }> {
    const timeoutMs = req.timeoutMs ?? (streaming ? 0 : this.timeoutMs);
    if (timeoutMs <= 0) return this.attempts(req, streaming, req.signal);
    // A streaming response outlives this call, and its time limit with it.
    if (streaming) return this.attempts(req, streaming, req.signal ? AbortSignal.any([req.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs));
    // A timer that is cleared when the request ends: AbortSignal.timeout's timer cannot be, and
    // each one that fired later built a DOMException with a stack, for every request ever sent.
    const ac = new AbortController();
    const outer = req.signal;
    const onOuterAbort = () => ac.abort(outer?.reason);
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = setTimeout(() => ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
    try {
      return await this.attempts(req, streaming, ac.signal);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
  }

  private async attempts(req: RawRequest, streaming: boolean, signal: AbortSignal | undefined): Promise<{ body: Buffer; res?: IncomingMessage }> {
    const payload = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const idempotent = req.method === 'GET';
    let connectionFailures = 0;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      await this.limiter?.wait(signal);
      let res: IncomingMessage;
      let body: Buffer;
      try {
        res = await this.once(req, payload, streaming, signal);
        if (streaming && isSuccess(res.statusCode)) return { body: Buffer.alloc(0), res };
        body = await readBody(res);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const conn = toConnectionError(err, this.base);
        if (idempotent && !streaming && connectionFailures < this.maxConnectionRetries) {
          connectionFailures++;
          log.debug({ err: conn.message, path: req.path, attempt }, 'retrying GET after connection failure');
          await sleep(Math.min(2000, 250 * 2 ** (connectionFailures - 1)), signal, this.clock);
          continue;
        }
        throw conn;
      }
      const code = res.statusCode ?? 0;
      if (isSuccess(code)) return { body };
      const retryAfter = retryAfterSeconds(res.headers['retry-after']);
      // As client-go: 429, and 5xx that say when to come back, are retried; the request was not applied.
      if ((code === 429 || (code >= 500 && retryAfter !== undefined)) && attempt < this.maxRetries) {
        log.debug({ code, path: req.path, retryAfter }, 'server asked to retry');
        await sleep((retryAfter ?? 1) * 1000, signal, this.clock);
        continue;
      }
      throw ApiError.fromResponse(code, body.toString('utf8'), retryAfter);
    }
  }

  private once(req: RawRequest, payload: string | undefined, streaming: boolean, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const u = this.url(req.path, req.query);
    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json', 'User-Agent': this.userAgent };
    const token = this.config.token ?? this.tokenFile?.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    const mod = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(u, { method: req.method, headers, agent: streaming ? this.watchAgent : this.agent, ...(signal ? { signal } : {}) }, resolve);
      r.on('error', reject);
      r.end(payload);
    });
  }
}

/** The catalog entry of a kind; core group first when no group is given. */
export function findResourceType(kind: string, group?: string): ResourceType {
  const matches = BUILTIN_RESOURCES.filter((r) => r.kind === kind && (group === undefined || r.group === group));
  const t = matches.find((r) => r.group === '') ?? matches[0];
  if (!t) throw new Error(`no built-in resource has kind ${kind}${group !== undefined ? ` in group "${group}"` : ''}`);
  return t;
}

function isSuccess(code: number | undefined): boolean {
  return code !== undefined && code >= 200 && code < 300;
}

function retryAfterSeconds(h: string | undefined): number | undefined {
  if (!h) return undefined;
  const n = Number(h);
  if (Number.isFinite(n) && n >= 0) return Math.min(n, 60);
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.min(60, Math.max(0, Math.ceil((at - Date.now()) / 1000)));
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (d: Buffer) => parts.push(d));
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
    res.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
  });
}

function toConnectionError(err: unknown, base: URL): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const code = (err as { code?: unknown }).code;
  const syscallCode = typeof code === 'string' ? code : undefined;
  const why = err instanceof Error ? err.message : String(err);
  return new ConnectionError(`cannot reach ${base.origin}: ${why}`, syscallCode, { cause: err });
}
