// Simulated-node benchmark: a real `k8ts server` (API only: no scheduler, controllers or agent) and
// the simulator (`runSimulatedAgent`) in its own process, so its CPU and memory are its own. It
// registers N simulated nodes, then the bench creates M pods directly bound to them (spec.nodeName
// set round-robin: this measures the simulator and the API, not the scheduler) and measures the time
// until every pod is Running (seen through a watch), the simulator's CPU seconds and peak RSS, and
// its steady-state cost (leases only) afterwards.
// Usage: node dist/bench/kubelet/simulated.js [--nodes 1000] [--pods 30000] [--quick]
// (--quick = 100 nodes / 2,000 pods.) The lead's bench runner calls runSimulatedNodesBench().
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig } from '../../src/client/config.js';
import { RestClient } from '../../src/client/restClient.js';
import { runSimulatedAgent } from '../../src/cli/simulatedAgent.js';
import { freePort } from '../../test/support/etcd.js';
import { tempDir } from '../../test/support/tmp.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SimulatedBenchOptions {
  nodes: number;
  pods: number;
  /** Concurrent pod creates. Default 32. */
  createConcurrency?: number;
  /** How long to measure the idle (lease-only) cost after all pods run. Default 20 s. */
  idleSeconds?: number;
  log?: (line: string) => void;
}

export interface SimulatedBenchResult {
  nodes: number;
  pods: number;
  nodesReadyMs: number;
  createMs: number;
  allRunningMs: number;
  podsRunningPerSecond: number;
  simulatorCpuSeconds: number;
  simulatorPeakRssMB: number;
  /** With the nodes registered and no pods yet. */
  simulatorReadyRssMB: number;
  simulatorIdleCpuPercent: number;
  leaseRenewalsPerSecond: number;
  apiserverRssMB: number;
}

function procStat(pid: number): { cpuSeconds: number; rssMB: number } {
  // /proc/<pid>/stat fields 14 and 15 are utime and stime in clock ticks (100 per second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds, rssMB: m ? Number(m[1]) / 1024 : NaN };
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

async function parallel(n: number, c: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: c }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
}

/** Runs one benchmark: server, simulator process, N nodes, M pods; everything is stopped and removed after. */
export async function runSimulatedNodesBench(o: SimulatedBenchOptions): Promise<SimulatedBenchResult> {
  const say = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dir = tempDir('k8ts-bench-sim-');
  const port = await freePort();
  const kubeconfig = join(dir.path, 'kubeconfig.yaml');
  const server = spawn(process.execPath, [BIN, 'server', '--data-dir', dir.path, '--https-listen-port', String(port), '--bind-address', '127.0.0.1', '--write-kubeconfig', kubeconfig, '--disable-agent', '--disable-scheduler', '--disable-controller-manager', '--etcd-compaction-interval', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, K8TS_LOG_LEVEL: 'warn' },
  });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  let sim: ChildProcess | undefined;
  let client: RestClient | undefined;
  const watchAbort = new AbortController();
  try {
    while (!out.includes('kubeconfig:')) {
      if (server.exitCode !== null) throw new Error(`k8ts server exited: ${out}`);
      await sleep(20);
    }
    client = new RestClient(await loadKubeconfigConfig({ path: kubeconfig }), { qps: -1, maxSockets: 64 });
    await client.resource<Record<string, unknown>>('', 'v1', 'namespaces').create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });

    // The simulator in its own process; it prints READY once its nodes are registered, then STATS lines.
    const t0 = now();
    sim = spawn(process.execPath, [SELF, '--simulator', '--kubeconfig', kubeconfig, '--nodes', String(o.nodes)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
    let lastStats: { leaseRenewals: number } | undefined;
    let ready = false;
    let buf = '';
    sim.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'READY') ready = true;
        else if (line.startsWith('STATS ')) lastStats = JSON.parse(line.slice(6)) as { leaseRenewals: number };
      }
    });
    while (!ready) {
      if (sim.exitCode !== null) throw new Error('simulator exited before its nodes were ready');
      await sleep(20);
    }
    const nodesReadyMs = now() - t0;
    const simulatorReadyRssMB = procStat(sim.pid!).rssMB;
    say(`${o.nodes} nodes registered and Ready in ${Math.round(nodesReadyMs)} ms`);

    // Count pods reaching Running through one watch started before the first create.
    const pods = client.resource<Pod>('', 'v1', 'pods');
    const rv = (await pods.list({ namespace: 'bench', limit: 1 })).metadata?.resourceVersion ?? '';
    const running = new Set<string>();
    let allRunningAt = 0;
    const watching = (async () => {
      const events = await pods.watch({ namespace: 'bench', resourceVersion: rv, signal: watchAbort.signal });
      for await (const ev of events) {
        if (ev.object.status?.phase === 'Running') running.add(ev.object.metadata!.uid!);
        if (running.size >= o.pods && !allRunningAt) allRunningAt = now();
      }
    })().catch((err: unknown) => {
      if (!watchAbort.signal.aborted) throw err;
    });

    const peak = { rss: 0 };
    const sampler = setInterval(() => {
      try {
        peak.rss = Math.max(peak.rss, procStat(sim!.pid!).rssMB);
      } catch {
        /* exited */
      }
    }, 500);
    const cpuBefore = procStat(sim.pid!).cpuSeconds;
    const c0 = now();
    await parallel(o.pods, o.createConcurrency ?? 32, async (i) => {
      await pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, namespace: 'bench', labels: { app: 'bench' } }, spec: { nodeName: `k8ts-sim-${i % o.nodes}`, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } });
    });
    const createMs = now() - c0;
    say(`${o.pods} pods created in ${Math.round(createMs)} ms`);
    const deadline = now() + 30 * 60_000;
    while (!allRunningAt) {
      if (now() > deadline) throw new Error(`only ${running.size}/${o.pods} pods Running after 30 minutes`);
      await sleep(50);
    }
    const allRunningMs = allRunningAt - c0;
    const cpuRun = procStat(sim.pid!).cpuSeconds - cpuBefore;
    say(`all ${o.pods} pods Running ${Math.round(allRunningMs)} ms after the first create; simulator CPU ${cpuRun.toFixed(1)} s`);

    // Idle: only leases (and the occasional status) from here on.
    const idleSeconds = o.idleSeconds ?? 20;
    await sleep(1000);
    const i0 = procStat(sim.pid!).cpuSeconds;
    const r0 = lastStats?.leaseRenewals ?? 0;
    const w0 = now();
    await sleep(idleSeconds * 1000);
    const idleWall = (now() - w0) / 1000;
    const idleCpu = procStat(sim.pid!).cpuSeconds - i0;
    const renewals = (lastStats?.leaseRenewals ?? 0) - r0;
    clearInterval(sampler);
    peak.rss = Math.max(peak.rss, procStat(sim.pid!).rssMB);
    return {
      nodes: o.nodes,
      pods: o.pods,
      nodesReadyMs,
      createMs,
      allRunningMs,
      podsRunningPerSecond: o.pods / (allRunningMs / 1000),
      simulatorCpuSeconds: cpuRun,
      simulatorPeakRssMB: peak.rss,
      simulatorReadyRssMB,
      simulatorIdleCpuPercent: (100 * idleCpu) / idleWall,
      leaseRenewalsPerSecond: renewals / idleWall,
      apiserverRssMB: procStat(server.pid!).rssMB,
    };
  } finally {
    watchAbort.abort();
    client?.close();
    await stopChild(sim);
    await stopChild(server);
    dir.remove();
  }
}

/** The table row block the bench prints (and RESULTS.md keeps). */
export function formatSimulatedBench(r: SimulatedBenchResult): string {
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : '—');
  return [
    `Simulated nodes benchmark, ${new Date().toISOString()}, node ${process.version}; k8ts server (API only, SQLite) and the simulator in separate processes on the same machine; pods created with spec.nodeName set (no scheduler).`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| ${f(r.nodes)} nodes registered and Ready, ms | ${f(r.nodesReadyMs)} |`,
    `| ${f(r.pods)} pods created (32 clients), ms | ${f(r.createMs)} |`,
    `| first create → all ${f(r.pods)} pods Running, ms | ${f(r.allRunningMs)} |`,
    `| pods Running per second | ${f(r.podsRunningPerSecond)} |`,
    `| simulator CPU during the run, s | ${f(r.simulatorCpuSeconds, 1)} |`,
    `| simulator RSS with ${f(r.nodes)} nodes and no pods, MB | ${f(r.simulatorReadyRssMB)} |`,
    `| simulator peak RSS, MB | ${f(r.simulatorPeakRssMB)} |`,
    `| simulator idle CPU (leases only), % of one core | ${f(r.simulatorIdleCpuPercent, 1)} |`,
    `| lease renewals per second | ${f(r.leaseRenewalsPerSecond)} |`,
    `| apiserver RSS at the end, MB | ${f(r.apiserverRssMB)} |`,
  ].join('\n');
}

/** The simulator child: runs the simulated agent and reports on stdout. */
async function simulatorMain(args: string[]): Promise<void> {
  const kubeconfig = args[args.indexOf('--kubeconfig') + 1]!;
  const nodes = Number(args[args.indexOf('--nodes') + 1]);
  const sim = await runSimulatedAgent({ kubeconfig, nodes });
  process.stdout.write('READY\n');
  const t = setInterval(() => process.stdout.write(`STATS ${JSON.stringify(sim.stats())}\n`), 1000);
  const stop = async () => {
    clearInterval(t);
    setTimeout(() => process.exit(0), 5000).unref();
    await sim.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--simulator')) return simulatorMain(args);
  const quick = args.includes('--quick');
  const arg = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
  const r = await runSimulatedNodesBench({ nodes: arg('--nodes', quick ? 100 : 1000), pods: arg('--pods', quick ? 2000 : 30_000), idleSeconds: arg('--idle-seconds', 20) });
  process.stdout.write(`${formatSimulatedBench(r)}\n`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
