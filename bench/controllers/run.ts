// Controller benchmark: `k8ts server` (API + scheduler) and `k8ts controller-manager` as separate
// processes, a kubelet stand-in (test/support/fakeKubelet) that makes scheduled pods Running.
// Measures, in one run: apply of a 1,000-replica Deployment → 1,000 pods exist → all Running; the
// same number of raw pod creates through the API as the ceiling; controller-manager RSS with 10k
// pods; and whether a small Deployment's reconcile time grows with 10k unrelated pods.
// Usage: node dist/bench/controllers/run.js [--repeat 3] [--quick]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig } from '../../src/client/config.js';
import { RestClient } from '../../src/client/restClient.js';
import { freePort } from '../../test/support/etcd.js';
import { startFakeKubelet } from '../../test/support/fakeKubelet.js';
import { tempDir } from '../../test/support/tmp.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const REPEAT = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : quick ? 1 : 3;
const REPLICAS = quick ? 200 : 1000;
const BACKGROUND = quick ? 2000 : 10_000;
const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function parallel(n: number, c: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: c }, async () => {
    for (let i = next++; i < n; i = next++) await op(i);
  }));
  return now() - t0;
}

function deployment(ns: string, name: string, replicas: number): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '1m', memory: '1Mi' } } }] } },
    },
  };
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await cond())) {
    if (now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  await exited;
}

async function runOnce(): Promise<Record<string, number>> {
  const dir = tempDir('k8ts-bench-ctl-');
  const port = await freePort();
  const server = spawn(process.execPath, [BIN, 'server', '--data-dir', dir.path, '--https-listen-port', String(port), '--bind-address', '127.0.0.1', '--disable-agent', '--disable-controller-manager', '--etcd-compaction-interval', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  let cm: ChildProcess | undefined;
  let kubelet: { stop(): Promise<void> } | undefined;
  try {
    while (!out.includes('kubeconfig:')) {
      if (server.exitCode !== null) throw new Error('server exited');
      await sleep(10);
    }
    const kubeconfig = join(dir.path, 'kubeconfig.yaml');
    const client = new RestClient(await loadKubeconfigConfig({ path: kubeconfig }), { qps: -1, maxSockets: 64 });
    const pods = client.resource<Pod>('', 'v1', 'pods');
    const deployments = client.resource<Record<string, unknown>>('apps', 'v1', 'deployments');
    const namespaces = client.resource<Record<string, unknown>>('', 'v1', 'namespaces');
    for (const ns of ['raw', 'bench', 'small', 'background']) await namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    kubelet = await startFakeKubelet(client, { nodes: Array.from({ length: 12 }, (_, i) => `node-${i}`), capacity: { cpu: '64', memory: '256Gi', pods: '1000' } });
    // Ceiling: the same number of pods created through the API as fast as it takes them.
    const template = (deployment('raw', 'raw', 1) as { spec: { template: { metadata: unknown; spec: unknown } } }).spec.template;
    const rawMs = await parallel(REPLICAS, 16, async (i) => {
      await pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `raw-${i}`, namespace: 'raw', labels: { app: 'raw' } }, spec: template.spec as Pod['spec'] });
    });
    cm = spawn(process.execPath, [...(process.env['K8TS_BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir', process.env['K8TS_BENCH_PROF']] : []), BIN, 'controller-manager', '--kubeconfig', kubeconfig, '--leader-elect=false', '--secure-port', '0', '--kube-api-qps', '5000', '--kube-api-burst', '5000'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
    // Warm-up: the controller manager is running once a tiny deployment has its pod.
    await deployments.create(deployment('small', 'warm', 1) as Record<string, unknown>);
    await until('warm-up', async () => (await pods.list({ namespace: 'small', labelSelector: 'app=warm' })).items.length === 1, 60_000);
    const t0 = now();
    await deployments.create(deployment('bench', 'big', REPLICAS) as Record<string, unknown>);
    let existMs = NaN;
    await until('pods exist', async () => {
      const list = await pods.list({ namespace: 'bench', labelSelector: 'app=big' });
      if (Number.isNaN(existMs) && list.items.length >= REPLICAS) existMs = now() - t0;
      return !Number.isNaN(existMs);
    });
    await until('pods running', async () => (await pods.list({ namespace: 'bench', fieldSelector: 'status.phase=Running' })).items.length >= REPLICAS);
    const runningMs = now() - t0;
    // O(1) per event: a 3-replica deployment's time to pods before and after 10k unrelated pods exist.
    const smallTime = async (name: string) => {
      const s = now();
      await deployments.create(deployment('small', name, 3) as Record<string, unknown>);
      await until(name, async () => (await pods.list({ namespace: 'small', labelSelector: `app=${name}` })).items.length === 3, 120_000);
      return now() - s;
    };
    const smallBefore = await smallTime('before');
    await parallel(BACKGROUND, 16, async (i) => {
      await pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `bg-${i}`, namespace: 'background', labels: { app: 'bg' } }, spec: { ...(template.spec as object), nodeName: `node-${i % 12}` } as Pod['spec'] });
    });
    await sleep(3000);
    const smallAfter = await smallTime('after');
    await sleep(5000);
    const rss = rssMB(cm.pid!);
    client.close();
    return { 'raw-create-per-s': REPLICAS / (rawMs / 1000), 'exist-ms': existMs, 'exist-per-s': REPLICAS / (existMs / 1000), 'running-ms': runningMs, 'small-before-ms': smallBefore, 'small-after-ms': smallAfter, 'cm-rss-mb': rss };
  } finally {
    await kubelet?.stop().catch(() => undefined);
    await stopChild(cm);
    await stopChild(server);
    dir.remove();
  }
}

async function main(): Promise<void> {
  const rows: Record<string, number[]> = {};
  for (let r = 0; r < REPEAT; r++) {
    const res = await runOnce();
    for (const [k, v] of Object.entries(res)) (rows[k] ??= []).push(v);
    process.stderr.write(`repeat ${r + 1}/${REPEAT}: ${JSON.stringify(res)}\n`);
  }
  const m = (k: string) => median(rows[k] ?? []);
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : '—');
  const lines = [
    `Controller benchmark, ${new Date().toISOString()}, node ${process.version}, ${REPEAT} repeat(s), medians; k8ts server (API + scheduler) and k8ts controller-manager as separate processes, a kubelet stand-in on 12 nodes, all on the same 2 cores.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| ${REPLICAS}-replica Deployment: apply → ${REPLICAS} pods exist, ms | ${f(m('exist-ms'))} |`,
    `| … pods created per second by the controllers | ${f(m('exist-per-s'))} |`,
    `| raw pod creates through the API (16 clients), per second (ceiling) | ${f(m('raw-create-per-s'))} |`,
    `| controllers ÷ ceiling | ${f(m('exist-per-s') / m('raw-create-per-s'), 2)} |`,
    `| apply → all ${REPLICAS} Running (scheduled, kubelet stand-in), ms | ${f(m('running-ms'))} |`,
    `| 3-replica Deployment → 3 pods, with ~${REPLICAS} pods in the cluster, ms | ${f(m('small-before-ms'))} |`,
    `| the same with ${BACKGROUND} more unrelated pods, ms | ${f(m('small-after-ms'))} |`,
    `| controller-manager RSS with ${REPLICAS + BACKGROUND} pods, MB | ${f(m('cm-rss-mb'))} |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
