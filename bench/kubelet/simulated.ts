// Simulated-node benchmark: a real `k8ts server` (API only: no scheduler, controllers or agent) and
// the simulator (`runSimulatedAgent`) in its own process, so its CPU and memory are its own. It
// registers N simulated nodes, then the bench creates M pods directly bound to them (spec.nodeName
// set round-robin: this measures the simulator and the API, not the scheduler) and measures the time
// until every pod is Running, the simulator's CPU seconds, RSS and heap per node and per pod, and its
// steady-state cost (leases only) afterwards.
// Running pods are counted by an informer (list, then watch; it re-watches from its last
// resourceVersion when the API server closes a watch that fell behind, and re-lists after a 410), so
// the count survives a cut watch; how often that happened is part of the result.
// Usage: node dist/bench/kubelet/simulated.js [--nodes 1000] [--pods 30000] [--quick]
// (--quick = 100 nodes / 2,000 pods.) The lead's bench runner calls runSimulatedNodesBench().
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { loadKubeconfigConfig } from '../../src/client/config.js';
import { SharedInformer } from '../../src/client/informer.js';
import { RestClient } from '../../src/client/restClient.js';
import { runSimulatedAgent } from '../../src/cli/simulatedAgent.js';
import type { SimulatedNodesStats } from '../../src/kubelet/sim/simulatedNodes.js';
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
  /** After the idle period, all pods still Running. */
  simulatorEndRssMB: number;
  /** V8 heap in use after a full GC: before any node, with the nodes, and with every pod Running. */
  simulatorHeapMB: { base: number; nodes: number; pods: number };
  simulatorIdleCpuPercent: number;
  leaseRenewalsPerSecond: number;
  apiserverRssMB: number;
  apiserverPeakRssMB: number;
  apiserverCpuSeconds: number;
  /** Status patches the simulator made (the pod-ready stage), and failed syncs it retried. */
  simulatorPodsReadied: number;
  simulatorSyncErrors: number;
  /** Watches and lists of the simulator's pod informer and of the bench's counter: 1 list + 1 watch each means no cut. */
  simulatorPodWatch: { lists: number; watches: number; relistsAfterGone: number };
  benchPodWatch: { lists: number; watches: number; relistsAfterGone: number };
  /** 1-minute load average at the start and the end of the run. */
  loadAverage: { start: number; end: number };
}

interface SimulatorMemory {
  rssMB: number;
  heapUsedMB: number;
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
  const loadStart = loadavg()[0]!;
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
  let counter: SharedInformer<Pod> | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let progress: NodeJS.Timeout | undefined;
  try {
    while (!out.includes('kubeconfig:')) {
      if (server.exitCode !== null) throw new Error(`k8ts server exited: ${out}`);
      await sleep(20);
    }
    client = new RestClient(await loadKubeconfigConfig({ path: kubeconfig }), { qps: -1, maxSockets: 64 });
    await client.resource<Record<string, unknown>>('', 'v1', 'namespaces').create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });

    // The simulator in its own process (with gc exposed, so heap figures are live data only). It
    // prints BASE (its heap before any node), READY once its nodes are registered, STATS every
    // second, and MEM after a full GC whenever it reads a MEM line.
    const t0 = now();
    sim = spawn(process.execPath, ['--expose-gc', SELF, '--simulator', '--kubeconfig', kubeconfig, '--nodes', String(o.nodes)], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
    let lastStats: SimulatedNodesStats | undefined;
    let ready: SimulatorMemory | undefined;
    let base: SimulatorMemory | undefined;
    const memWaiters: Array<(m: SimulatorMemory) => void> = [];
    let buf = '';
    sim.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('BASE ')) base = JSON.parse(line.slice(5)) as SimulatorMemory;
        else if (line.startsWith('READY ')) ready = JSON.parse(line.slice(6)) as SimulatorMemory;
        else if (line.startsWith('STATS ')) lastStats = JSON.parse(line.slice(6)) as SimulatedNodesStats;
        else if (line.startsWith('MEM ')) memWaiters.shift()?.(JSON.parse(line.slice(4)) as SimulatorMemory);
      }
    });
    const simulatorMemory = (): Promise<SimulatorMemory> =>
      new Promise((resolve) => {
        memWaiters.push(resolve);
        sim!.stdin!.write('MEM\n');
      });
    while (!ready) {
      if (sim.exitCode !== null) throw new Error('simulator exited before its nodes were ready');
      await sleep(20);
    }
    const nodesReadyMs = now() - t0;
    const simulatorReadyRssMB = procStat(sim.pid!).rssMB;
    say(`${o.nodes} nodes registered and Ready in ${Math.round(nodesReadyMs)} ms; simulator RSS ${Math.round(simulatorReadyRssMB)} MB, heap ${Math.round(ready.heapUsedMB)} MB (${Math.round(base?.heapUsedMB ?? 0)} MB before the nodes)`);

    // Running pods, counted by an informer that keeps only each pod's phase.
    const pods = client.resource<Pod>('', 'v1', 'pods');
    const running = new Set<string>();
    let allRunningAt = 0;
    let seen = 0;
    const observe = (p: Readonly<Pod>) => {
      if (p.status?.phase !== 'Running') return;
      running.add(p.metadata!.uid!);
      if (running.size >= o.pods && !allRunningAt) allRunningAt = now();
    };
    counter = new SharedInformer<Pod>(pods, {
      namespace: 'bench',
      name: 'bench-running-pods',
      transform: (p) => ({ metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, uid: p.metadata?.uid, resourceVersion: p.metadata?.resourceVersion }, spec: { containers: [] }, status: { phase: p.status?.phase } }),
    });
    counter.addEventHandler({
      onAdd: (p) => {
        seen++;
        observe(p);
      },
      onUpdate: (_old, p) => observe(p),
    });
    counter.start();
    await counter.waitForSync();

    const peak = { sim: 0, server: 0 };
    const samplePeaks = () => {
      try {
        peak.sim = Math.max(peak.sim, procStat(sim!.pid!).rssMB);
        peak.server = Math.max(peak.server, procStat(server.pid!).rssMB);
      } catch {
        /* exited */
      }
    };
    sampler = setInterval(samplePeaks, 500);
    const simCpu0 = procStat(sim.pid!).cpuSeconds;
    const serverCpu0 = procStat(server.pid!).cpuSeconds;
    let created = 0;
    const c0 = now();
    progress = setInterval(() => {
      say(`  ${Math.round((now() - c0) / 1000)} s: ${created} created, ${seen} seen by the bench's watch, ${running.size} Running; simulator ${(procStat(sim!.pid!).cpuSeconds - simCpu0).toFixed(1)} CPU-s, ${lastStats?.podQueue ?? 0} queued; server ${(procStat(server.pid!).cpuSeconds - serverCpu0).toFixed(1)} CPU-s; load ${loadavg()[0]!.toFixed(1)}`);
    }, 10_000);
    await parallel(o.pods, o.createConcurrency ?? 32, async (i) => {
      await pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, namespace: 'bench', labels: { app: 'bench' } }, spec: { nodeName: `k8ts-sim-${i % o.nodes}`, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } });
      created++;
    });
    const createMs = now() - c0;
    say(`${o.pods} pods created in ${Math.round(createMs)} ms`);
    const deadline = now() + 30 * 60_000;
    while (!allRunningAt) {
      if (now() > deadline) throw new Error(`only ${running.size}/${o.pods} pods Running after 30 minutes`);
      await sleep(50);
    }
    clearInterval(progress);
    const allRunningMs = allRunningAt - c0;
    const cpuRun = procStat(sim.pid!).cpuSeconds - simCpu0;
    const apiserverCpuSeconds = procStat(server.pid!).cpuSeconds - serverCpu0;
    say(`all ${o.pods} pods Running ${Math.round(allRunningMs)} ms after the first create; simulator CPU ${cpuRun.toFixed(1)} s, server CPU ${apiserverCpuSeconds.toFixed(1)} s`);

    // Idle: only leases (and the occasional status) from here on, once the simulator has worked off
    // its queue (each pod's own Running update comes back through the watch as one more no-op sync).
    const idleSeconds = o.idleSeconds ?? 20;
    await sleep(1000);
    const settle = now() + 120_000;
    while ((lastStats?.podQueue ?? 0) > 0 && now() < settle) await sleep(200);
    await sleep(1000);
    const podsMem = await simulatorMemory();
    const i0 = procStat(sim.pid!).cpuSeconds;
    const r0 = lastStats?.leaseRenewals ?? 0;
    const w0 = now();
    await sleep(idleSeconds * 1000);
    const idleWall = (now() - w0) / 1000;
    const idleCpu = procStat(sim.pid!).cpuSeconds - i0;
    const renewals = (lastStats?.leaseRenewals ?? 0) - r0;
    clearInterval(sampler);
    samplePeaks();
    const stats = lastStats;
    return {
      nodes: o.nodes,
      pods: o.pods,
      nodesReadyMs,
      createMs,
      allRunningMs,
      podsRunningPerSecond: o.pods / (allRunningMs / 1000),
      simulatorCpuSeconds: cpuRun,
      simulatorPeakRssMB: peak.sim,
      simulatorReadyRssMB,
      simulatorEndRssMB: procStat(sim.pid!).rssMB,
      simulatorHeapMB: { base: base?.heapUsedMB ?? NaN, nodes: ready.heapUsedMB, pods: podsMem.heapUsedMB },
      simulatorIdleCpuPercent: (100 * idleCpu) / idleWall,
      leaseRenewalsPerSecond: renewals / idleWall,
      apiserverRssMB: procStat(server.pid!).rssMB,
      apiserverPeakRssMB: peak.server,
      apiserverCpuSeconds,
      simulatorPodsReadied: stats?.pods.applied['pod-ready'] ?? 0,
      simulatorSyncErrors: stats?.pods.errors ?? 0,
      simulatorPodWatch: stats?.podWatch ?? { lists: NaN, watches: NaN, relistsAfterGone: NaN },
      benchPodWatch: { ...counter.stats },
      loadAverage: { start: loadStart, end: loadavg()[0]! },
    };
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
    counter?.stop();
    client?.close();
    await stopChild(sim);
    await stopChild(server);
    dir.remove();
  }
}

/** The table row block the bench prints (and RESULTS.md keeps). */
export function formatSimulatedBench(r: SimulatedBenchResult): string {
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d }) : '—');
  const kB = (mb: number, n: number) => f((mb * 1024) / n, 1);
  const w = (s: { lists: number; watches: number; relistsAfterGone: number }) => `${f(s.lists)} / ${f(s.watches)} / ${f(s.relistsAfterGone)}`;
  return [
    `Simulated nodes benchmark, ${new Date().toISOString()}, node ${process.version}; k8ts server (API only, SQLite) and the simulator in separate processes on the same machine; pods created with spec.nodeName set (no scheduler); load average ${f(r.loadAverage.start, 1)} at the start, ${f(r.loadAverage.end, 1)} at the end.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| ${f(r.nodes)} nodes registered and Ready, ms | ${f(r.nodesReadyMs)} |`,
    `| ${f(r.pods)} pods created (32 clients), ms | ${f(r.createMs)} |`,
    `| pods created per second | ${f(r.pods / (r.createMs / 1000))} |`,
    `| first create → all ${f(r.pods)} pods Running, ms | ${f(r.allRunningMs)} |`,
    `| pods Running per second | ${f(r.podsRunningPerSecond)} |`,
    `| status patches by the simulator (Pending → Running and Ready) / failed syncs retried | ${f(r.simulatorPodsReadied)} / ${f(r.simulatorSyncErrors)} |`,
    `| simulator CPU during the run, s | ${f(r.simulatorCpuSeconds, 1)} |`,
    `| API server CPU during the run, s | ${f(r.apiserverCpuSeconds, 1)} |`,
    `| simulator RSS with ${f(r.nodes)} nodes and no pods, MB | ${f(r.simulatorReadyRssMB)} |`,
    `| simulator peak RSS / at the end, MB | ${f(r.simulatorPeakRssMB)} / ${f(r.simulatorEndRssMB)} |`,
    `| simulator heap after GC: before the nodes / with the nodes / with the pods, MB | ${f(r.simulatorHeapMB.base, 1)} / ${f(r.simulatorHeapMB.nodes, 1)} / ${f(r.simulatorHeapMB.pods, 1)} |`,
    `| simulator heap per node / per pod, kB | ${kB(r.simulatorHeapMB.nodes - r.simulatorHeapMB.base, r.nodes)} / ${kB(r.simulatorHeapMB.pods - r.simulatorHeapMB.nodes, r.pods)} |`,
    `| simulator idle CPU (leases only), % of one core | ${f(r.simulatorIdleCpuPercent, 1)} |`,
    `| lease renewals per second | ${f(r.leaseRenewalsPerSecond)} |`,
    `| API server RSS peak / at the end, MB | ${f(r.apiserverPeakRssMB)} / ${f(r.apiserverRssMB)} |`,
    `| pod lists / watches / relists after 410: simulator | ${w(r.simulatorPodWatch)} |`,
    `| pod lists / watches / relists after 410: bench counter | ${w(r.benchPodWatch)} |`,
  ].join('\n');
}

/** The simulator's memory after a full GC (the child runs with --expose-gc). */
function simulatorMemoryNow(): SimulatorMemory {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMB: m.rss / 2 ** 20, heapUsedMB: m.heapUsed / 2 ** 20 };
}

/** The simulator child: runs the simulated agent and reports on stdout. */
async function simulatorMain(args: string[]): Promise<void> {
  const kubeconfig = args[args.indexOf('--kubeconfig') + 1]!;
  const nodes = Number(args[args.indexOf('--nodes') + 1]);
  process.stdout.write(`BASE ${JSON.stringify(simulatorMemoryNow())}\n`);
  const sim = await runSimulatedAgent({ kubeconfig, nodes });
  process.stdout.write(`READY ${JSON.stringify(simulatorMemoryNow())}\n`);
  const t = setInterval(() => process.stdout.write(`STATS ${JSON.stringify(sim.stats())}\n`), 1000);
  let input = '';
  process.stdin.on('data', (d: Buffer) => {
    input += d.toString();
    for (let i = input.indexOf('\n'); i >= 0; i = input.indexOf('\n')) {
      if (input.slice(0, i) === 'MEM') process.stdout.write(`MEM ${JSON.stringify(simulatorMemoryNow())}\n`);
      input = input.slice(i + 1);
    }
  });
  const stop = async () => {
    clearInterval(t);
    process.stdin.destroy();
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
