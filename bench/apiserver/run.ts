// API server benchmark: `k8ts server` in its own process, driven over HTTPS with client
// certificates, side by side with the raw store (the same SQLite Store in process) in one run.
// Usage: node dist/bench/apiserver/run.js [--repeat 3] [--seconds 3] [--quick]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteKV } from '../../src/storage/sqlite/sqliteKV.js';
import { KVStore } from '../../src/storage/store.js';
import { loadKubeconfig } from '../../src/pki/kubeconfig.js';
import { freePort } from '../../test/support/etcd.js';
import { tempDir } from '../../test/support/tmp.js';

const args = process.argv.slice(2);
const arg = (n: string, d: number) => (args.includes(`--${n}`) ? Number(args[args.indexOf(`--${n}`) + 1]) : d);
const quick = args.includes('--quick');
const REPEAT = arg('repeat', quick ? 1 : 3);
const SECONDS = arg('seconds', quick ? 1 : 3);
const LIST_PODS = quick ? 2000 : 10_000;
const WATCHERS = quick ? 200 : 1000;
const CONCURRENCY = [1, 16, 64];
const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const now = () => performance.now();

function pod(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench' } },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
  });
}

interface Server {
  child: ChildProcess;
  port: number;
  dir: { path: string; remove(): void };
  call(method: string, path: string, body?: string): Promise<{ status: number; body: string }>;
  agent: Agent;
  tls: { ca: string; cert: string; key: string };
  stop(): Promise<void>;
}

/** Starts `k8ts server` on a fresh temp data dir, or on `reuse`'s (then the dir is kept on stop). */
async function startServer(reuse?: { path: string; remove(): void }): Promise<{ server: Server; coldStartMs: number }> {
  const dir = reuse ?? tempDir('k8ts-bench-api-');
  const port = await freePort();
  const t0 = now();
  const child = spawn(process.execPath, [BIN, 'server', '--data-dir', dir.path, '--https-listen-port', String(port), '--bind-address', '127.0.0.1', '--disable-agent', '--disable-scheduler', '--disable-controller-manager'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('kubeconfig:')) {
    if (child.exitCode !== null) throw new Error('server exited');
    await new Promise((r) => setTimeout(r, 5));
  }
  const kc = await loadKubeconfig(join(dir.path, 'kubeconfig.yaml'));
  const tls = { ca: kc.caPem!, cert: kc.clientCertPem!, key: kc.clientKeyPem! };
  const agent = new Agent({ keepAlive: true, maxSockets: 256, ...tls });
  const call = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      if (body) req.write(body);
      req.end();
    });
  for (;;) {
    const r = await call('GET', '/readyz').catch(() => ({ status: 0, body: '' }));
    if (r.status === 200) break;
    await new Promise((r2) => setTimeout(r2, 5));
  }
  const coldStartMs = now() - t0;
  const stop = async () => {
    agent.destroy();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    if (!reuse) dir.remove();
  };
  return { server: { child, port, dir, call, agent, tls, stop }, coldStartMs };
}

async function rate(c: number, seconds: number, op: (w: number, i: number) => Promise<void>): Promise<{ perSecond: number; latencies: number[] }> {
  let done = 0;
  const latencies: number[] = [];
  const end = now() + seconds * 1000;
  const start = now();
  await Promise.all(
    Array.from({ length: c }, async (_, w) => {
      for (let i = 0; now() < end; i++) {
        const t = now();
        await op(w, i);
        latencies.push(now() - t);
        done++;
      }
    }),
  );
  return { perSecond: done / ((now() - start) / 1000), latencies };
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

let run = 0;
async function measureApi(s: Server): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const ns = `bench${++run}`;
  await s.call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
  for (const c of CONCURRENCY) {
    const created: string[][] = Array.from({ length: c }, () => []);
    const cr = await rate(c, SECONDS, async (w, i) => {
      const name = `p${c}-${w}-${i}`;
      const r = await s.call('POST', `/api/v1/namespaces/${ns}/pods`, pod(name));
      if (r.status !== 201) throw new Error(`create ${r.status} ${r.body}`);
      created[w]!.push(name);
    });
    out[`create/${c}`] = cr.perSecond;
    out[`create-p99-ms/${c}`] = pct(cr.latencies, 99);
    const gr = await rate(c, SECONDS, async (w, i) => {
      const names = created[w]!;
      const r = await s.call('GET', `/api/v1/namespaces/${ns}/pods/${names[i % names.length]}`);
      if (r.status !== 200) throw new Error(`get ${r.status}`);
    });
    out[`get/${c}`] = gr.perSecond;
  }
  return out;
}

async function measureRaw(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const store = new KVStore(SqliteKV.open({ path: join(dir, `raw-${++run}.db`) }), { compaction: false });
  const value = Buffer.from(pod('x').repeat(3)); // about the size of a defaulted pod
  for (const c of CONCURRENCY) {
    out[`create/${c}`] = (await rate(c, SECONDS, async (w, i) => {
      const r = await store.create(`/registry/pods/raw/p${c}-${w}-${i}`, value);
      if (!r.ok) throw new Error('raw create');
    })).perSecond;
  }
  await store.close();
  return out;
}

async function measureListAndRss(s: Server): Promise<Record<string, number>> {
  const ns = `list${++run}`;
  await s.call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < LIST_PODS) {
        const r = await s.call('POST', `/api/v1/namespaces/${ns}/pods`, pod(`l${next++}`));
        if (r.status !== 201) throw new Error(`create ${r.status}`);
      }
    }),
  );
  const times: number[] = [];
  const cacheTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    let t = now();
    const r = await s.call('GET', `/api/v1/namespaces/${ns}/pods`);
    if (JSON.parse(r.body).items.length !== LIST_PODS) throw new Error('list size');
    times.push(now() - t);
    t = now();
    await s.call('GET', `/api/v1/namespaces/${ns}/pods?resourceVersion=0`);
    cacheTimes.push(now() - t);
  }
  await new Promise((r) => setTimeout(r, 3000));
  if (global.gc) global.gc();
  return { 'list-ms': median(times), 'list-cache-ms': median(cacheTimes), 'busy-rss-mb': rssMB(s.child.pid!) };
}

/** WATCHERS watch configmaps; 200 creates; every watcher must see every event. */
async function measureWatchers(s: Server): Promise<Record<string, number>> {
  const ns = `watch${++run}`;
  await s.call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
  const rv = JSON.parse((await s.call('GET', `/api/v1/namespaces/${ns}/configmaps`)).body).metadata.resourceVersion;
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  let lines = 0;
  const EVENTS = 200;
  const agent = new Agent({ keepAlive: false, maxSockets: WATCHERS + 10, ...s.tls });
  const reqs = await Promise.all(
    Array.from({ length: WATCHERS }, () =>
      new Promise<ReturnType<typeof request>>((resolve) => {
        const req = request({ host: '127.0.0.1', port: s.port, path: `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv}`, agent }, (res) => {
          if (res.statusCode !== 200) process.stderr.write(`watch answered ${res.statusCode}\n`);
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            const t = now();
            buf += d;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              lines++;
              const name = /"name":"(c\d+)"/.exec(line)?.[1];
              const at = name ? sent.get(name) : undefined;
              if (at !== undefined) {
                latencies.push(t - at);
                received++;
              }
            }
          });
          resolve(req);
        });
        req.on('error', () => {});
        req.end();
      }),
    ),
  );
  for (let i = 0; i < EVENTS; i++) {
    sent.set(`c${i}`, now());
    await s.call('POST', `/api/v1/namespaces/${ns}/configmaps`, JSON.stringify({ metadata: { name: `c${i}` } }));
    await new Promise((r) => setTimeout(r, 10));
  }
  const deadline = now() + 20_000;
  while (received < EVENTS * WATCHERS && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const r of reqs) r.destroy();
  agent.destroy();
  if (received === 0) process.stderr.write(`watchers saw ${lines} lines, none of ours\n`);
  return { 'watch-delivered-pct': (100 * received) / (EVENTS * WATCHERS), 'watch-p50-ms': pct(latencies, 50), 'watch-p99-ms': pct(latencies, 99) };
}

async function main(): Promise<void> {
  const dir = tempDir('k8ts-bench-raw-');
  const rows = new Map<string, Record<string, number[]>>();
  const add = (name: string, r: Record<string, number>) => {
    const row = rows.get(name) ?? {};
    for (const [k, v] of Object.entries(r)) (row[k] ??= []).push(v);
    rows.set(name, row);
  };
  try {
    for (let i = 0; i < REPEAT; i++) {
      const { server, coldStartMs } = await startServer();
      add('api', { 'cold-start-ms': coldStartMs });
      add('api', await measureApi(server));
      add('raw', await measureRaw(dir.path));
      add('api', await measureListAndRss(server));
      add('api', await measureWatchers(server));
      // Idle memory: the same data dir (with the pods) served by a freshly started server, once its caches are loaded.
      const keep = { path: server.dir.path, remove: () => {} };
      await (async () => {
        const exited = new Promise((r) => server.child.once('exit', r));
        server.agent.destroy();
        server.child.kill('SIGTERM');
        await exited;
      })();
      const again = await startServer(keep);
      add('api', { 'warm-start-ms': again.coldStartMs });
      await new Promise((r) => setTimeout(r, 3000));
      add('api', { 'idle-rss-mb': rssMB(again.server.child.pid!) });
      await again.server.stop();
      server.dir.remove();
      process.stderr.write(`repeat ${i + 1}/${REPEAT} done\n`);
    }
  } finally {
    dir.remove();
  }
  const m = (row: string, k: string) => median(rows.get(row)?.[k] ?? []);
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : '—');
  const lines = [`API server benchmark, ${new Date().toISOString()}, node ${process.version}, ${REPEAT} repeat(s), ${SECONDS}s per cell, medians; HTTPS with client certificates, keep-alive, HTTP/1.1.`, ''];
  lines.push('| clients | API creates/s | raw store creates/s | API ÷ raw | API create p99, ms | API gets/s |', '|---:|---:|---:|---:|---:|---:|');
  for (const c of CONCURRENCY) {
    lines.push(`| ${c} | ${f(m('api', `create/${c}`))} | ${f(m('raw', `create/${c}`))} | ${f(m('api', `create/${c}`) / m('raw', `create/${c}`), 2)} | ${f(m('api', `create-p99-ms/${c}`), 1)} | ${f(m('api', `get/${c}`))} |`);
  }
  lines.push('');
  lines.push(`| measure | value |`, '|---|---:|');
  lines.push(`| cold start (fresh data dir, incl. PKI) to /readyz ok, ms | ${f(m('api', 'cold-start-ms'))} |`);
  lines.push(`| list ${LIST_PODS} pods (consistent read from the store), ms | ${f(m('api', 'list-ms'))} |`);
  lines.push(`| list ${LIST_PODS} pods with resourceVersion=0 (watch cache), ms | ${f(m('api', 'list-cache-ms'))} |`);
  lines.push(`| restart on that data dir (${LIST_PODS} pods) to /readyz ok, ms | ${f(m('api', 'warm-start-ms'))} |`);
  lines.push(`| idle RSS with ${LIST_PODS} pods stored (restarted server, caches loaded), MB | ${f(m('api', 'idle-rss-mb'))} |`);
  lines.push(`| RSS right after creating them and 10 lists of all of them, MB | ${f(m('api', 'busy-rss-mb'))} |`);
  lines.push(`| ${WATCHERS} watchers × 200 events: delivered, % | ${f(m('api', 'watch-delivered-pct'), 2)} |`);
  lines.push(`| ${WATCHERS} watchers: delivery p50 / p99, ms | ${f(m('api', 'watch-p50-ms'), 1)} / ${f(m('api', 'watch-p99-ms'), 1)} |`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
