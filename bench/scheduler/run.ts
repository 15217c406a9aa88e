// Scheduler benchmark, like upstream's scheduler_perf: a real `k8ts server` (SQLite, no kubelets,
// no in-process scheduler) and `k8ts scheduler` in its own process. Per case: N Node objects with
// realistic capacity and labels, M pending pods; then (1) the raw pods/binding write rate for M
// other pods without any scheduler (the ceiling), and (2) the scheduler started over the pending
// pods: pods bound per second, attempt latency p50/p99 from its own histogram, and its RSS.
// Usage: node dist/bench/scheduler/run.js [--repeat 3] [--quick]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKubeconfig } from '../../src/pki/kubeconfig.js';
import { freePort } from '../../test/support/etcd.js';
import { tempDir } from '../../test/support/tmp.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const REPEAT = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : quick ? 1 : 3;
const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const ZONES = 10;

interface Case {
  name: string;
  nodes: number;
  pods: number;
  spread: boolean;
}
const ALL_CASES: Case[] = quick
  ? [
      { name: '100 nodes / 200 pods', nodes: 100, pods: 200, spread: false },
      { name: '500 nodes / 1,000 pods, spread + anti-affinity', nodes: 500, pods: 1000, spread: true },
    ]
  : [
      { name: '500 nodes / 1,000 pods', nodes: 500, pods: 1000, spread: false },
      { name: '5,000 nodes / 10,000 pods', nodes: 5000, pods: 10_000, spread: false },
      { name: '5,000 nodes / 10,000 pods, spread + anti-affinity', nodes: 5000, pods: 10_000, spread: true },
    ];
// --case N runs only the N-th case (1-based), for profiling.
const CASES = args.includes('--case') ? [ALL_CASES[Number(args[args.indexOf('--case') + 1]) - 1]!] : ALL_CASES;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Api {
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: string }>;
  close(): void;
}

function apiClient(port: number, tls: { ca: string; cert: string; key: string }): Api {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...tls });
  return {
    call: (method, path, body, contentType = 'application/json') =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { 'Content-Type': contentType } }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (b += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        });
        req.on('error', reject);
        if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
        req.end();
      }),
    close: () => agent.destroy(),
  };
}

async function parallel(n: number, c: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  return now() - t0;
}

function node(i: number): unknown {
  const name = `node-${String(i).padStart(5, '0')}`;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'topology.kubernetes.io/zone': `zone-${i % ZONES}`, 'topology.kubernetes.io/region': 'region-1' } },
    spec: {},
    status: {
      capacity: { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '200Gi' },
      allocatable: { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '200Gi' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
      images: [{ names: ['registry.k8s.io/pause:3.10'], sizeBytes: 320_000 }],
    },
  };
}

function pod(ns: string, i: number, spread: boolean): unknown {
  const group = `g-${i % 1000}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: ns, labels: { app: 'bench', group } },
    spec: {
      containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '100m', memory: '500Mi' } } }],
      ...(spread
        ? {
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { group } } }],
            affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { group } } }] } },
          }
        : {}),
    },
  };
}

/** p-th percentile from a Prometheus histogram's cumulative buckets, interpolated as histogram_quantile does. */
function histogramQuantile(text: string, metric: string, p: number): number {
  const buckets: Array<[number, number]> = [];
  const re = new RegExp(`^${metric}_bucket\\{[^}]*le="([^"]+)"[^}]*result="scheduled"[^}]*\\} (\\d+)|^${metric}_bucket\\{[^}]*result="scheduled"[^}]*le="([^"]+)"[^}]*\\} (\\d+)`, 'gm');
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const le = m[1] ?? m[3]!;
    buckets.push([le === '+Inf' ? Infinity : Number(le), Number(m[2] ?? m[4])]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = p * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return NaN;
}

async function runCase(c: Case): Promise<Record<string, number>> {
  const dir = tempDir('k8ts-bench-sched-');
  const port = await freePort();
  const server: ChildProcess = spawn(process.execPath, [...(process.env['K8TS_BENCH_PROF_SERVER'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['K8TS_BENCH_PROF_SERVER']] : []), BIN, 'server', '--data-dir', dir.path, '--https-listen-port', String(port), '--bind-address', '127.0.0.1', '--disable-agent', '--disable-scheduler', '--disable-controller-manager', '--etcd-compaction-interval', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  let scheduler: ChildProcess | undefined;
  try {
    while (!out.includes('kubeconfig:')) {
      if (server.exitCode !== null) throw new Error('server exited');
      await sleep(10);
    }
    const kubeconfig = join(dir.path, 'kubeconfig.yaml');
    const kc = await loadKubeconfig(kubeconfig);
    const api = apiClient(port, { ca: kc.caPem!, cert: kc.clientCertPem!, key: kc.clientKeyPem! });
    for (const ns of ['raw', 'sched']) await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await parallel(c.nodes, 32, async (i) => {
      const r = await api.call('POST', '/api/v1/nodes', node(i));
      if (r.status !== 201) throw new Error(`node create: ${r.status} ${r.body}`);
    });
    // The ceiling: the same number of bindings written as fast as the API takes them.
    await parallel(c.pods, 32, async (i) => {
      const r = await api.call('POST', '/api/v1/namespaces/raw/pods', pod('raw', i, false));
      if (r.status !== 201) throw new Error(`pod create: ${r.status} ${r.body}`);
    });
    const rawMs = await parallel(c.pods, 16, async (i) => {
      const name = `node-${String(i % c.nodes).padStart(5, '0')}`;
      const r = await api.call('POST', `/api/v1/namespaces/raw/pods/pod-${i}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: `pod-${i}` }, target: { apiVersion: 'v1', kind: 'Node', name } });
      if (r.status !== 201) throw new Error(`binding: ${r.status} ${r.body}`);
    });
    await parallel(c.pods, 32, async (i) => {
      const r = await api.call('POST', '/api/v1/namespaces/sched/pods', pod('sched', i, c.spread));
      if (r.status !== 201) throw new Error(`pod create: ${r.status} ${r.body}`);
    });
    // The scheduler starts over M pending pods; the clock runs from its start to the last binding.
    const mport = await freePort();
    // As upstream's scheduler_perf, the client is not throttled (the default qps 50 would be the ceiling).
    const config = join(dir.path, 'scheduler.yaml');
    writeFileSync(config, 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection: {qps: 5000, burst: 5000}\nleaderElection: {leaderElect: false}\n');
    const t0 = now();
    scheduler = spawn(process.execPath, [...(process.env['K8TS_BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['K8TS_BENCH_PROF']] : []), BIN, 'scheduler', '--kubeconfig', kubeconfig, '--config', config, '--secure-port', String(mport), '--bind-address', '127.0.0.1'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
    });
    const scrape = async (): Promise<string> => {
      const r = await new Promise<string>((resolve) => {
        const req = request({ host: '127.0.0.1', port: mport, path: '/metrics', rejectUnauthorized: false }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve(b));
        });
        req.on('error', () => resolve(''));
        req.end();
      });
      return r;
    };
    let text = '';
    let readyAt = NaN;
    let peakRss = 0;
    const deadline = now() + 600_000;
    for (;;) {
      await sleep(250);
      if (scheduler.exitCode !== null) throw new Error('scheduler exited');
      peakRss = Math.max(peakRss, rssMB(scheduler.pid!));
      text = await scrape();
      if (Number.isNaN(readyAt) && text) readyAt = now();
      const m = /^scheduler_schedule_attempts_total\{[^}]*result="scheduled"[^}]*\} (\d+)/m.exec(text);
      if (m && Number(m[1]) >= c.pods) break;
      if (now() > deadline) throw new Error(`only ${m?.[1] ?? 0} of ${c.pods} pods scheduled`);
    }
    const elapsed = now() - t0;
    const rssEnd = rssMB(scheduler.pid!);
    // Every pod must really be bound: count them through the API.
    const list = JSON.parse((await api.call('GET', '/api/v1/namespaces/sched/pods?fieldSelector=spec.nodeName%3D')).body) as { items: unknown[] };
    if (list.items.length !== 0) throw new Error(`${list.items.length} pods left unbound`);
    api.close();
    const attempts = /^scheduler_schedule_attempts_total\{[^}]*result="unschedulable"[^}]*\} (\d+)/m.exec(text);
    return {
      'raw-bind-per-s': c.pods / (rawMs / 1000),
      'sched-per-s': c.pods / (elapsed / 1000),
      'sched-after-ready-per-s': c.pods / ((now() - readyAt) / 1000),
      'p50-ms': histogramQuantile(text, 'scheduler_scheduling_attempt_duration_seconds', 0.5) * 1000,
      'p99-ms': histogramQuantile(text, 'scheduler_scheduling_attempt_duration_seconds', 0.99) * 1000,
      'rss-mb': rssEnd,
      'heap-total-mb': Number(/^nodejs_heap_size_total_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 1024 / 1024,
      'external-mb': Number(/^nodejs_external_memory_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 1024 / 1024,
      'heap-used-mb': Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? NaN) / 1024 / 1024,
      'peak-rss-mb': peakRss,
      unschedulable: attempts ? Number(attempts[1]) : 0,
    };
  } finally {
    for (const child of [scheduler, server]) {
      if (!child || child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      await exited;
    }
    dir.remove();
  }
}

async function main(): Promise<void> {
  const results = new Map<string, Record<string, number[]>>();
  for (let r = 0; r < REPEAT; r++) {
    for (const c of CASES) {
      const res = await runCase(c);
      const row = results.get(c.name) ?? {};
      for (const [k, v] of Object.entries(res)) (row[k] ??= []).push(v);
      results.set(c.name, row);
      process.stderr.write(`repeat ${r + 1}/${REPEAT}: ${c.name}: ${JSON.stringify(res)}\n`);
    }
  }
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : '—');
  const lines = [`Scheduler benchmark, ${new Date().toISOString()}, node ${process.version}, ${REPEAT} repeat(s), medians; k8ts server (SQLite) and k8ts scheduler as separate processes on the same 2 cores.`, ''];
  lines.push('| case | pods/s scheduled (from scheduler start) | raw pods/binding ceiling, /s | scheduled ÷ ceiling | attempt p50 / p99, ms | scheduler RSS end / peak, MB | JS heap used at end, MB | unschedulable attempts |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of CASES) {
    const row = results.get(c.name)!;
    const m = (k: string) => median(row[k] ?? []);
    lines.push(`| ${c.name} | ${f(m('sched-per-s'))} | ${f(m('raw-bind-per-s'))} | ${f(m('sched-per-s') / m('raw-bind-per-s'), 2)} | ${f(m('p50-ms'), 2)} / ${f(m('p99-ms'), 1)} | ${f(m('rss-mb'))} / ${f(m('peak-rss-mb'))} | ${f(m('heap-used-mb'))} | ${f(m('unschedulable'))} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
