// Kubelet benchmark, in one run: pod startup latency (create → Running, image present) for 100 pods
// on one node with the process runtime and with containerd side by side; the time a deleted
// Deployment pod's replacement takes to be Running; the kubelet's RSS idle and with 110 pods (the
// kubelet runs as its own `k8ts agent` process that joined the server with the node token); and
// 1,000 simulated nodes with 30,000 pods (bench/kubelet/simulated.ts).
// Usage: node dist/bench/kubelet/run.js [--quick] [--skip-sim] [--skip-rss] [--pods N] [--runtime process|containerd]
//          [--batches 1,10] [--log-dir DIR]
//        node dist/bench/kubelet/run.js --only-rss [--rss-runs N] [--rss-idle-only]   (just the kubelet's RSS)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig } from '../../src/client/config.js';
import { RestClient } from '../../src/client/restClient.js';
import { freePort } from '../../test/support/etcd.js';
import { buildBusyboxImage } from '../../test/support/images.js';
import { tempDir } from '../../test/support/tmp.js';
import { formatSimulatedBench, runSimulatedNodesBench } from './simulated.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const PODS = args.includes('--pods') ? Number(args[args.indexOf('--pods') + 1]) : quick ? 20 : 100;
const LOG_DIR = args.includes('--log-dir') ? args[args.indexOf('--log-dir') + 1] : undefined;
const BATCHES = args.includes('--batches') ? args[args.indexOf('--batches') + 1]!.split(',').map(Number) : [1, 10];
const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const IMAGE = 'localhost/bench/busybox:1';
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
const median = (xs: number[]) => pct(xs, 50);
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await cond())) {
    if (now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

interface Cluster {
  dir: string;
  client: RestClient;
  server: ChildProcess;
  agent?: ChildProcess;
  stop(): Promise<void>;
}

function spawnLogged(argv: string[], log: string): ChildProcess {
  const p = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  // --log-dir DIR keeps each process's whole log (set K8TS_LOG_LEVEL=debug for the kubelet's phases).
  const logFile = LOG_DIR ? createWriteStream(join(LOG_DIR, `${log}-${p.pid}.log`)) : undefined;
  p.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
    logFile?.write(d);
  });
  p.on('exit', (code) => code && code !== 0 && code !== 143 && process.stderr.write(`${log} exited ${code}: ${tail.slice(-800)}\n`));
  return p;
}

/** A server (own node or not) and, for `separateAgent`, a `k8ts agent` process joined with the node token. */
async function startCluster(runtime: 'process' | 'containerd', separateAgent: boolean, n: number): Promise<Cluster> {
  const dir = tempDir('k8ts-bench-kl-').path;
  const port = await freePort();
  const common = ['--runtime', runtime, '--kubelet-port', '0', '--cni-bridge', `k8tsb${n}`];
  const server = spawnLogged(
    ['server', '--data-dir', dir, '--https-listen-port', String(port), '--bind-address', '127.0.0.1', '--cluster-cidr', `10.${150 + n}.0.0/16`, ...(separateAgent ? ['--disable-agent'] : [...common, '--node-name', `bench-${n}`])],
    'server',
  );
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  let client: RestClient | undefined;
  await until('server ready', async () => {
    try {
      client ??= new RestClient(await loadKubeconfigConfig({ path: kubeconfig }), { qps: -1 });
      await client.resource('', 'v1', 'namespaces').list({ limit: 1 });
      return true;
    } catch {
      client = undefined;
      return false;
    }
  }, 120_000);
  let agent: ChildProcess | undefined;
  const agentDir = join(dir, 'node');
  if (separateAgent) {
    const token = readFileSync(join(dir, 'server', 'node-token'), 'utf8').trim();
    agent = spawnLogged(['agent', '--server', `https://127.0.0.1:${port}`, '--token', token, '--data-dir', agentDir, '--node-name', `bench-${n}`, ...common], 'agent');
  }
  const nodeDir = separateAgent ? agentDir : dir;
  await until('node Ready', async () => {
    const nodes = await client!.resource<{ status?: { conditions?: { type: string; status: string }[] } }>('', 'v1', 'nodes').list();
    return nodes.items.some((x) => x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  }, 120_000);
  const img = tempDir('k8ts-bench-img-');
  await buildBusyboxImage(img.path, IMAGE);
  execFileSync(process.execPath, [BIN, 'images', 'import', '--data-dir', nodeDir, join(img.path, 'docker.tar')], { stdio: 'pipe' });
  img.remove();
  return {
    dir,
    client: client!,
    server,
    ...(agent ? { agent } : {}),
    stop: async () => {
      const pods = client!.resource<Pod>('', 'v1', 'pods');
      await pods.deleteCollection({ namespace: 'default', gracePeriodSeconds: 0 }).catch(() => undefined);
      await until('pods gone', async () => (await pods.list({ namespace: 'default' })).items.length === 0, 120_000).catch(() => undefined);
      // The kubelet goes first: a live one restarts what killall stops (kube-proxy, DNS), leaving mounts behind.
      for (const p of [agent, server]) {
        if (!p || p.exitCode !== null) continue;
        p.kill('SIGTERM');
        await new Promise((r) => p.once('exit', r));
      }
      execFileSync(process.execPath, [BIN, 'killall', '--data-dir', nodeDir, '--cni-bridge', `k8tsb${n}`], { stdio: 'pipe' });
      execFileSync('rm', ['-rf', dir]);
    },
  };
}

function podSpec(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { bench: 'startup' } },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], resources: { requests: { cpu: '1m', memory: '4Mi' } } }] },
  };
}

/**
 * Creates `n` pods `batch` at a time (the next batch once the last is Running) and measures each
 * one's create → Running. Batches of 1 are upstream's latency pods (one pod at a time on a node);
 * batches of 10 load the node with ten starts at once.
 */
async function startupLatency(c: Cluster, n: number, prefix: string, batch = 10): Promise<number[]> {
  const pods = c.client.resource<Pod>('', 'v1', 'pods');
  const created = new Map<string, number>();
  const running = new Map<string, number>();
  const ac = new AbortController();
  const watching = (async () => {
    for await (const ev of await pods.watch({ namespace: 'default', signal: ac.signal })) {
      const p = ev.object as Pod;
      if (p.status?.phase === 'Running' && !running.has(p.metadata!.name!)) running.set(p.metadata!.name!, now());
    }
  })().catch(() => undefined);
  await sleep(500);
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async (_x, j) => {
        const name = `${prefix}-${i + j}`;
        created.set(name, now());
        await pods.create(podSpec(name));
      }),
    );
    await until('batch Running', async () => [...created.keys()].every((k) => running.has(k)), 300_000);
  }
  ac.abort();
  await watching;
  const lat = [...created].map(([k, t]) => [k, running.get(k)! - t] as const);
  const slow = [...lat].sort((a, b) => b[1] - a[1]).slice(0, 3);
  // Wall-clock creation times, to find the slowest pods in the server's log (--log-dir).
  const at = (k: string) => new Date(performance.timeOrigin + created.get(k)!).toISOString().slice(11, 23);
  process.stderr.write(`${prefix}: slowest ${slow.map(([k, ms]) => `${k} ${ms.toFixed(0)} ms (created ${at(k)})`).join(', ')}\n`);
  return lat.map(([, ms]) => ms);
}

async function replacementTimes(c: Cluster, rounds: number): Promise<number[]> {
  const deploy = c.client.resource<object>('apps', 'v1', 'deployments');
  const pods = c.client.resource<Pod>('', 'v1', 'pods');
  await deploy.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } } },
  } as never);
  const runningOthers = async (exclude: string) => (await pods.list({ namespace: 'default', labelSelector: 'app=web' })).items.filter((p) => p.metadata!.name !== exclude && !p.metadata!.deletionTimestamp && p.status?.phase === 'Running').length;
  await until('3 web pods Running', async () => (await runningOthers('')) === 3, 120_000);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const victim = (await pods.list({ namespace: 'default', labelSelector: 'app=web' })).items.find((p) => !p.metadata!.deletionTimestamp)!;
    const t0 = now();
    await pods.delete('default', victim.metadata!.name!);
    await until('replacement Running', async () => (await runningOthers(victim.metadata!.name!)) === 3, 120_000);
    times.push(now() - t0);
    await sleep(1000);
  }
  await deploy.delete('default', 'web');
  return times;
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const out = (s: string) => {
    lines.push(s);
    process.stdout.write(`${s}\n`);
  };
  out(`# kubelet benchmark (${new Date().toISOString()}, ${PODS} pods per runtime)`);
  let n = 0;
  const only = args.includes('--runtime') ? args[args.indexOf('--runtime') + 1] : undefined;
  const onlyRss = args.includes('--only-rss');
  for (const runtime of (['process', 'containerd'] as const).filter((r) => !onlyRss && (!only || r === only))) {
    const c = await startCluster(runtime, false, n++);
    try {
      const pods = c.client.resource<Pod>('', 'v1', 'pods');
      for (const batch of BATCHES) {
        const lat = await startupLatency(c, PODS, `${runtime}-b${batch}`, batch);
        out(`startup ${runtime}, ${batch === 1 ? 'one at a time' : `${batch} at a time`}: p50 ${median(lat).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms (create → Running, image present, ${lat.length} pods)`);
        await pods.deleteCollection({ namespace: 'default', gracePeriodSeconds: 0, labelSelector: 'bench=startup' });
        await until('startup pods gone', async () => (await pods.list({ namespace: 'default' })).items.length === 0, 300_000);
      }
      const rep = await replacementTimes(c, quick ? 3 : 5);
      out(`replacement ${runtime}: median ${median(rep).toFixed(0)} ms, max ${Math.max(...rep).toFixed(0)} ms (delete a Deployment pod → its replacement Running; ${rep.length} rounds)`);
    } finally {
      await c.stop();
    }
  }
  if (args.includes('--skip-rss')) return;
  // Kubelet memory: a `k8ts agent` process of its own (process runtime); the median of --rss-runs clusters.
  const runs = args.includes('--rss-runs') ? Number(args[args.indexOf('--rss-runs') + 1]) : 1;
  const idleOnly = args.includes('--rss-idle-only');
  const idles: number[] = [];
  const fulls: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = await startCluster('process', true, n++);
    try {
      await sleep(15_000);
      idles.push(rssMB(c.agent!.pid!));
      process.stderr.write(`run ${r + 1}: idle RSS ${idles.at(-1)!.toFixed(0)} MB\n`);
      if (!idleOnly) {
        // 110 pods on the node in all (its default --max-pods): the addon pods (kube-proxy, DNS) count too.
        const onNode = (await c.client.resource<Pod>('', 'v1', 'pods').list()).items.length;
        await startupLatency(c, 110 - onNode, 'rss');
        await sleep(15_000);
        fulls.push(rssMB(c.agent!.pid!));
        process.stderr.write(`run ${r + 1}: RSS with 110 pods ${fulls.at(-1)!.toFixed(0)} MB\n`);
      }
    } finally {
      await c.stop();
    }
  }
  const each = (xs: number[]) => (runs > 1 ? ` (median of ${runs}: ${xs.map((x) => x.toFixed(0)).join(', ')})` : '');
  out(
    `kubelet (k8ts agent, process runtime) RSS: idle ${median(idles).toFixed(0)} MB${each(idles)}` +
      (idleOnly ? '' : `, with 110 pods Running ${median(fulls).toFixed(0)} MB${each(fulls)}`) +
      ' (container shims are separate processes)',
  );
  if (onlyRss) return;
  if (!args.includes('--skip-sim')) {
    const r = await runSimulatedNodesBench({ nodes: quick ? 100 : 1000, pods: quick ? 2000 : 30_000 });
    out(formatSimulatedBench(r));
  }
}

await main();
process.exit(0);
