// kube-proxy's two small HTTP servers, as upstream: the health server (healthzBindAddress, :10256)
// whose /healthz fails (503) when rule syncs fall behind or the node is going away, and the
// metrics server (metricsBindAddress, 127.0.0.1:10249) with /metrics, /proxyMode, /configz, /healthz.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { realClock, type Clock } from '../../client/clock.js';
import type { ProxyMetrics } from './metrics.js';
import type { IPFamily } from './types.js';

/** Upstream's ProxyHealthServer bookkeeping: per family, when rules were last synced and the oldest queued change. */
export class ProxyHealth {
  private readonly lastUpdated = new Map<IPFamily, number>();
  private readonly oldestPending = new Map<IPFamily, number>();
  nodeEligible = true;

  constructor(
    /** A queued change older than this makes the proxy unhealthy (upstream: 2 × syncPeriod). */
    readonly healthTimeoutMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  /** A sync was requested: remember the oldest request not yet applied. */
  queued(family: IPFamily): void {
    if (!this.oldestPending.has(family)) this.oldestPending.set(family, this.clock.now());
  }

  /** Rules of `family` were synced. */
  updated(family: IPFamily): void {
    this.oldestPending.delete(family);
    this.lastUpdated.set(family, this.clock.now());
  }

  status(): { healthy: boolean; lastUpdated: number; currentTime: number } {
    const now = this.clock.now();
    let healthy = true;
    let last = 0;
    for (const t of this.lastUpdated.values()) last = Math.max(last, t);
    for (const t of this.oldestPending.values()) if (now > t + this.healthTimeoutMs) healthy = false;
    return { healthy, lastUpdated: last, currentTime: now };
  }
}

/** Go's zero time in RFC 3339, what upstream prints before the first sync. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function rfc3339(ms: number): string {
  return ms === 0 ? ZERO_TIME : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, bind: string): Promise<RunningHttpServer> {
  const { host, port } = splitHostPort(bind);
  const server: Server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `0.0.0.0:10256`, `[::]:10256` or `127.0.0.1:0`. */
export function splitHostPort(bind: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(bind);
  if (!m) throw new Error(`"${bind}" is not an address:port`);
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

export function startHealthzServer(bind: string, health: ProxyHealth, metrics?: ProxyMetrics): Promise<RunningHttpServer> {
  return listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const s = health.status();
    const answer = (ok: boolean, body: string, counter?: ProxyMetrics['healthzTotal']) => {
      const code = ok ? 200 : 503;
      counter?.inc({ code: String(code) });
      res.writeHead(code, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (path === '/healthz') {
      return answer(s.healthy && health.nodeEligible, `{"lastUpdated": ${JSON.stringify(rfc3339(s.lastUpdated))},"currentTime": ${JSON.stringify(rfc3339(s.currentTime))}, "nodeEligible": ${health.nodeEligible}}`, metrics?.healthzTotal);
    }
    if (path === '/livez') {
      return answer(s.healthy, `{"lastUpdated": ${JSON.stringify(rfc3339(s.lastUpdated))},"currentTime": ${JSON.stringify(rfc3339(s.currentTime))}}`, metrics?.livezTotal);
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  }, bind);
}

export function startMetricsServer(bind: string, o: { registries: readonly Registry[]; mode: string; configz: () => unknown }): Promise<RunningHttpServer> {
  return listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    switch (path) {
      case '/metrics':
        void Promise.all(o.registries.map((r) => r.metrics())).then(
          (parts) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(parts.join('\n')),
          (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
        );
        return;
      case '/proxyMode':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(o.mode);
        return;
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
        return;
      case '/configz':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kubeproxy: o.configz() }));
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
    }
  }, bind);
}
