// The four probe kinds as upstream runs them (pkg/probe/{exec,http,tcp,grpc}): each answers a result and
// the output that goes into the `Unhealthy` event, with upstream's texts. An unexpected failure to even run
// the probe (a bad port name, a runtime error) is a thrown ProbeError: the prober retries it and reports
// `<Type> probe errored: …`.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Container, HTTPGetAction, HTTPHeader } from 'kubernetes-types/core/v1.js';
import { goQuote } from '../envvars.js';
import { isRuntimeError, type ContainerRuntime } from '../runtime/types.js';

export type ProbeResult = 'success' | 'warning' | 'failure' | 'unknown';

export interface ProbeOutcome {
  result: ProbeResult;
  /** What the event shows after `… probe failed: `. */
  output: string;
}

/** The probe could not run at all (upstream returns an error with probe.Unknown). */
export class ProbeError extends Error {
  override readonly name = 'ProbeError';
}

/** `kube-<purpose>/<major>.<minor>`: what probes and lifecycle hooks send as User-Agent. */
export const KUBE_VERSION = { major: '1', minor: '32' };
export function kubeUserAgent(purpose: 'probe' | 'lifecycle'): string {
  return `kube-${purpose}/${KUBE_VERSION.major}.${KUBE_VERSION.minor}`;
}

/** Upstream reads at most this much of an exec probe's output and of an HTTP body. */
export const MAX_PROBE_OUTPUT = 10 * 1024;

/** Go's time.Duration String() for whole seconds: `1s`, `1m30s`, `1h0m0s`. */
export function goDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`;
}

/** `host:port`, with brackets for IPv6 (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A probe's port: a number, a named port of the container, or a number written as a string
 * (upstream probe.ResolveContainerPort); throws ProbeError with upstream's texts.
 */
export function resolveContainerPort(port: number | string | undefined, container: Pick<Container, 'ports'>): number {
  let n: number;
  if (typeof port === 'number') {
    n = port;
  } else if (typeof port === 'string') {
    const named = (container.ports ?? []).find((p) => p.name === port);
    if (named) n = named.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number(port);
    else throw new ProbeError(`strconv.Atoi: parsing ${goQuote(port)}: invalid syntax`);
  } else {
    throw new ProbeError(`intOrString had no kind: ${String(port)}`);
  }
  if (n > 0 && n < 65536) return n;
  throw new ProbeError(`invalid port number: ${n}`);
}

// ---------------------------------------------------------------------------------------------
// exec

/**
 * Runs `command` in the container through the runtime's ExecSync: exit 0 = success, another exit code =
 * failure with the (combined, ≤10 KiB) output; a timeout = failure `command "…" timed out`.
 */
export async function execProbe(runtime: Pick<ContainerRuntime, 'execSync'>, containerId: string, command: string[], timeoutSeconds: number): Promise<ProbeOutcome> {
  const timedOut = `command ${goQuote(command.join(' '))} timed out`;
  // The runtime enforces the timeout; this guard only covers a runtime that does not answer at all.
  let guard: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    guard = setTimeout(() => resolve('hung'), (timeoutSeconds + 5) * 1000);
    guard.unref();
  });
  try {
    const r = await Promise.race([runtime.execSync(containerId, command, timeoutSeconds), hung]);
    if (r === 'hung') return { result: 'failure', output: timedOut };
    const output = Buffer.concat([r.stdout, r.stderr]).subarray(0, MAX_PROBE_OUTPUT).toString('utf8');
    return { result: r.exitCode === 0 ? 'success' : 'failure', output };
  } catch (err) {
    if (isRuntimeError(err, 'DeadlineExceeded')) return { result: 'failure', output: timedOut };
    throw new ProbeError(err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    clearTimeout(guard);
  }
}

// ---------------------------------------------------------------------------------------------
// tcp

/** Go's texts for the dial errors a probe meets. */
function dialErrorText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connect: connection refused';
    case 'EHOSTUNREACH':
      return 'connect: no route to host';
    case 'ENETUNREACH':
      return 'connect: network is unreachable';
    case 'ECONNRESET':
      return 'read: connection reset by peer';
    case 'ETIMEDOUT':
      return 'i/o timeout';
    case 'EPROTO':
      // TLS to a plain-HTTP port.
      return /wrong version number|packet length too long/.test(err.message) ? 'http: server gave HTTP response to HTTPS client' : err.message;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `lookup ${(err as { hostname?: string }).hostname ?? ''}: no such host`;
    default:
      return err.message;
  }
}

/** Opens (and closes) a TCP connection: success, or failure `dial tcp host:port: connect: connection refused`. */
export function tcpProbe(host: string, port: number, timeoutSeconds: number): Promise<ProbeOutcome> {
  const addr = joinHostPort(host, port);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (outcome: ProbeOutcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ result: 'failure', output: `dial tcp ${addr}: i/o timeout` }), timeoutSeconds * 1000);
    socket.once('connect', () => done({ result: 'success', output: '' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ result: 'failure', output: `dial tcp ${addr}: ${dialErrorText(err)}` }));
  });
}

// ---------------------------------------------------------------------------------------------
// http

/** Go's textproto.CanonicalMIMEHeaderKey: `content-type` → `Content-Type`. */
export function canonicalHeaderKey(name: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return name;
  return name
    .split('-')
    .map((p) => (p === '' ? p : p[0]!.toUpperCase() + p.slice(1).toLowerCase()))
    .join('-');
}

export interface ProbeRequest {
  url: URL;
  /** The URL as Go prints it in errors (`http://10.1.2.3:8080/healthz`). */
  urlText: string;
  headers: Map<string, string[]>;
  /** The Host header override, if any. */
  host?: string;
}

/**
 * The GET request of an httpGet probe or hook (upstream NewRequestForHTTPGetAction): scheme default http,
 * host default the pod IP, path as given, headers with User-Agent `kube-<purpose>/1.32` and `Accept: *\/*`
 * unless set (an empty Accept removes it), a `Host` header overriding the request's host.
 */
export function newRequestForHTTPGetAction(action: HTTPGetAction, container: Pick<Container, 'ports'>, podIP: string, purpose: 'probe' | 'lifecycle'): ProbeRequest {
  const scheme = (action.scheme ?? 'HTTP').toLowerCase() || 'http';
  const host = action.host || podIP;
  const port = resolveContainerPort(action.port, container);
  let path = action.path ?? '';
  if (path !== '' && !path.startsWith('/')) path = '/' + path;
  const urlText = `${scheme}://${joinHostPort(host, port)}${path}`;
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new ProbeError(`parse ${goQuote(urlText)}: invalid URL`);
  }
  const headers = new Map<string, string[]>();
  for (const h of action.httpHeaders ?? ([] as HTTPHeader[])) {
    const k = canonicalHeaderKey(h.name);
    headers.set(k, [...(headers.get(k) ?? []), h.value]);
  }
  if (!headers.has('User-Agent')) headers.set('User-Agent', [kubeUserAgent(purpose)]);
  if (!headers.has('Accept')) headers.set('Accept', ['*/*']);
  else if ((headers.get('Accept')![0] ?? '') === '') headers.delete('Accept');
  const hostHeader = headers.get('Host')?.[0];
  headers.delete('Host');
  return { url, urlText, headers, ...(hostHeader ? { host: hostHeader } : {}) };
}

interface HTTPResponse {
  status: number;
  body: string;
}

/** A transport-level failure of an HTTP GET, with Go's client text; `code` is Node's error code when there was one. */
class HTTPClientError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

/** One GET without following redirects; the body is cut at 10 KiB. */
function getOnce(req: ProbeRequest, url: URL, deadline: number, signal?: AbortSignal): Promise<HTTPResponse & { location?: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of req.headers) headers[k] = v.length === 1 ? v[0]! : v;
    headers.Connection = 'close';
    const hostHeader = req.host && url.host === req.url.host ? req.host : undefined;
    if (hostHeader) headers.Host = hostHeader;
    const opts = {
      method: 'GET',
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: (url.pathname || '/') + url.search,
      headers,
      agent: false as const,
      // Probes skip certificate checks (upstream InsecureSkipVerify); SNI follows the URL host as Go's client does.
      rejectUnauthorized: false,
    };
    const target = `Get ${goQuote(url.href === req.url.href ? req.urlText : url.href)}`;
    const remaining = deadline - Date.now();
    let settled = false;
    let phase: 'headers' | 'body' = 'headers';
    const fail = (msg: string, code?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      creq.destroy();
      reject(new HTTPClientError(msg, code));
    };
    const onAbort = () => fail(`${target}: context canceled`);
    const timer = setTimeout(
      () => fail(phase === 'headers' ? `${target}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)` : `${target}: context deadline exceeded (Client.Timeout or context cancellation while reading body)`),
      Math.max(0, remaining),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    const creq = (url.protocol === 'https:' ? httpsRequest : httpRequest)(opts, (res: IncomingMessage) => {
      phase = 'body';
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        res.destroy();
        creq.destroy();
        const loc = res.headers.location;
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_PROBE_OUTPUT).toString('utf8'), ...(loc ? { location: loc } : {}) });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= MAX_PROBE_OUTPUT) finish();
      });
      res.once('end', finish);
      res.once('error', (err) => fail(`${target}: ${err.message}`));
    });
    creq.once('error', (err: NodeJS.ErrnoException) => {
      const dial = err.code && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code);
      fail(dial ? `${target}: dial tcp ${joinHostPort(opts.hostname, Number(opts.port))}: ${dialErrorText(err)}` : `${target}: ${dialErrorText(err)}`, err.code);
    });
    creq.end();
  });
}

/**
 * GET with upstream's redirect rule for probes: redirects to the same host are followed (at most 10),
 * a redirect to another host is not followed and its response is the answer.
 */
export async function httpGet(req: ProbeRequest, timeoutSeconds: number, signal?: AbortSignal): Promise<HTTPResponse> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let url = req.url;
  for (let hops = 0; ; hops++) {
    const res = await getOnce(req, url, deadline, signal);
    if (!REDIRECT_CODES.has(res.status) || res.location === undefined) return res;
    const next = new URL(res.location, url);
    if (next.hostname !== req.url.hostname) return res;
    if (hops + 1 >= 10) throw new HTTPClientError(`Get ${goQuote(next.href)}: stopped after 10 redirects`);
    url = next;
  }
}

/**
 * An httpGet probe (upstream DoHTTPProbe): 2xx success, 3xx warning (`Probe terminated redirects`), other
 * statuses failure `HTTP probe failed with statuscode: N`, transport errors failure with Go's error text.
 */
export async function httpProbe(req: ProbeRequest, timeoutSeconds: number): Promise<ProbeOutcome> {
  let res: HTTPResponse;
  try {
    res = await httpGet(req, timeoutSeconds);
  } catch (err) {
    if (err instanceof HTTPClientError) return { result: 'failure', output: err.message };
    throw err;
  }
  if (res.status >= 200 && res.status < 400) {
    if (res.status >= 300) return { result: 'warning', output: `Probe terminated redirects, Response body: ${res.body}` };
    return { result: 'success', output: res.body };
  }
  // Upstream keeps the body out of the message (it may hold secrets: issue 99425).
  return { result: 'failure', output: `HTTP probe failed with statuscode: ${res.status}` };
}

export { HTTPClientError };

// ---------------------------------------------------------------------------------------------
// grpc (grpc.health.v1.Health/Check, messages encoded by hand: one string field in, one enum field out)

const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const GO_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

function encodeVarint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const s = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, ...encodeVarint(s.length)]), s]);
}

/** HealthCheckResponse { ServingStatus status = 1; }: the status number (0 when absent); unknown fields skipped. */
export function decodeHealthCheckResponse(buf: Buffer): number {
  let status = 0;
  let i = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated message');
      const b = buf[i++]!;
      n += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return n;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) status = v;
    } else if (wire === 2) {
      const len = varint();
      i += len;
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return status;
}

/** A grpc probe (upstream pkg/probe/grpc): SERVING = success; anything else a failure with upstream's text. */
export async function grpcProbe(host: string, service: string, port: number, timeoutSeconds: number): Promise<ProbeOutcome> {
  const addr = joinHostPort(host, port);
  const timeout = goDuration(timeoutSeconds);
  const deadline = Date.now() + timeoutSeconds * 1000;
  // gRPC loads with the first grpc probe: most nodes never run one.
  const grpc = await import('@grpc/grpc-js');
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': kubeUserAgent('probe'),
    'grpc.enable_retries': 0,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.initial_reconnect_backoff_ms': 100,
  });
  return new Promise<ProbeOutcome>((resolve) => {
    client.waitForReady(deadline, (err) => {
      if (err) {
        resolve({ result: 'failure', output: `timeout: failed to connect service ${goQuote(addr)} within ${timeout}: context deadline exceeded` });
        return;
      }
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (s: string) => encodeHealthCheckRequest(s),
        (b: Buffer) => decodeHealthCheckResponse(b),
        service,
        new grpc.Metadata(),
        { deadline },
        (callErr, status) => {
          if (callErr) {
            const code = callErr.code;
            if (code === grpc.status.UNIMPLEMENTED) {
              resolve({ result: 'failure', output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${callErr.details}` });
            } else if (code === grpc.status.DEADLINE_EXCEEDED) {
              resolve({ result: 'failure', output: `timeout: health rpc did not complete within ${timeout}` });
            } else {
              resolve({ result: 'failure', output: `error: health rpc probe failed: rpc error: code = ${GO_CODE_NAMES[code] ?? `Code(${code})`} desc = ${callErr.details}` });
            }
            return;
          }
          const s = status ?? 0;
          if (s !== 1) resolve({ result: 'failure', output: `service unhealthy (responded with ${goQuote(SERVING_STATUS[s] ?? String(s))})` });
          else resolve({ result: 'success', output: 'service healthy' });
        },
      );
    });
  }).finally(() => client.close());
}

