// The small HTTPS endpoint every control-plane component serves beside its work, as upstream's
// (scheduler :10259, controller-manager :10257): /healthz, /livez, /readyz and /metrics. Like
// upstream without --tls-cert-file, it serves a self-signed certificate made at start.

import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createCA, issueServingCertificate } from '../pki/ca.js';

export interface ComponentServerOptions {
  bindAddress: string;
  port: number;
  /** Metric registries served together at /metrics. */
  registries: readonly Registry[];
  /** Named readiness checks; /readyz fails while any is false. */
  readyChecks?: Record<string, () => boolean>;
}

export interface RunningComponentServer {
  port: number;
  close(): Promise<void>;
}

export async function startComponentServer(opts: ComponentServerOptions): Promise<RunningComponentServer> {
  const ca = await createCA({ commonName: `${opts.bindAddress}-ca@${Math.floor(Date.now() / 1000)}` });
  const serving = await issueServingCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', ...(opts.bindAddress !== '0.0.0.0' ? [opts.bindAddress] : [])] });
  const server: Server = createServer({ cert: `${serving.certPem}${ca.certPem}`, key: serving.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const verbose = url.searchParams.has('verbose');
    const health = (checks: Record<string, () => boolean>) => {
      const results = Object.entries(checks).map(([name, ok]) => [name, ok()] as const);
      const ok = results.every(([, v]) => v);
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      if (!verbose) return res.end(ok ? 'ok' : results.filter(([, v]) => !v).map(([n]) => `[-]${n} failed: reason withheld\n`).join('') + 'healthz check failed\n');
      res.end(results.map(([n, v]) => (v ? `[+]${n} ok\n` : `[-]${n} failed: reason withheld\n`)).join('') + (ok ? 'healthz check passed\n' : 'healthz check failed\n'));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    switch (url.pathname) {
      case '/healthz':
      case '/livez':
        return health({ ping: () => true });
      case '/readyz':
        return health({ ping: () => true, ...(opts.readyChecks ?? {}) });
      case '/metrics':
        void Promise.all(opts.registries.map((r) => r.metrics())).then(
          (parts) => {
            res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
            res.end(parts.join('\n'));
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(String(err));
          },
        );
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bindAddress, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
