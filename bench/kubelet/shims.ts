// What the process runtime's pod shims cost: for N pods (one `sleep` container each, host network,
// started in bursts of 10 as the kubelet does), the CPU time (utime+stime) and memory (VmRSS, and
// PSS, which splits shared pages fairly) of all `k8ts-shim` processes of the runtime root, with one
// shim per pod (maxSandboxesPerShim 1) and with shared shims. Needs root and runc.
// Usage: node dist/bench/kubelet/shims.js [--pods 10,30] [--max 1,8]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ProcessRuntime } from '../../src/kubelet/runtime/process/runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../src/kubelet/runtime/types.js';
import { MemoryImageStore, busyboxLayer } from '../../test/integration/kubelet/procrt/fixtures.js';
import { tempDir } from '../../test/support/tmp.js';

const args = process.argv.slice(2);
const list = (flag: string, def: number[]) => (args.includes(flag) ? args[args.indexOf(flag) + 1]!.split(',').map(Number) : def);
const PODS = list('--pods', [10, 30]);
const MAX = list('--max', [1, 8]);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ShimCost {
  shims: number;
  cpuMs: number;
  rssMB: number;
  pssMB: number;
}

function shimCost(root: string): ShimCost {
  let shims = 0;
  let ticks = 0;
  let rssKB = 0;
  let pssKB = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!cmd.startsWith('k8ts-shim') || !cmd.includes(root)) continue;
      // Fields after the command name: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
      rssKB += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] ?? 0);
      pssKB += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      shims++;
    } catch {
      /* exited meanwhile */
    }
  }
  return { shims, cpuMs: (ticks * 1000) / CLK_TCK, rssMB: rssKB / 1024, pssMB: pssKB / 1024 };
}

function sandboxConfig(name: string, cgroupRoot: string): PodSandboxConfig {
  const uid = randomBytes(8).toString('hex');
  return {
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: '',
    logDirectory: '',
    dnsConfig: { servers: [], searches: [], options: [] },
    portMappings: [],
    labels: {},
    annotations: {},
    linux: { cgroupParent: `${cgroupRoot}/pod${uid}`, securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

function containerConfig(image: string): ContainerConfig {
  return {
    metadata: { name: 'sleep', attempt: 0 },
    image: { image },
    command: ['sleep', '3600'],
    args: [],
    workingDir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    logPath: '',
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: {}, securityContext: {} },
  };
}

async function run(pods: number, maxSandboxesPerShim: number): Promise<ShimCost & { startMs: number; runtimeCpuMs: number }> {
  const tmp = tempDir('k8ts-shimbench-');
  const tag = randomBytes(3).toString('hex');
  const cgroupRoot = `/k8ts-bench-${tag}`;
  const images = new MemoryImageStore();
  images.add('localhost/bench/busybox:1', [busyboxLayer(tmp.path)], { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] });
  const root = join(tmp.path, 'rt');
  const rt = new ProcessRuntime({ root, images, namePrefix: `k8ts-b-${tag}-`, maxSandboxesPerShim, cni: { confDir: join(tmp.path, 'net.d') } });
  try {
    await rt.status();
    await sleep(1000); // the spare shim is up, as on a node that has run a while
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < pods; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, pods - i) }, async (_, j) => {
          const conf = sandboxConfig(`p${i + j}`, cgroupRoot);
          const sb = await rt.runPodSandbox(conf);
          const c = await rt.createContainer(sb, containerConfig('localhost/bench/busybox:1'), conf);
          await rt.startContainer(c);
        }),
      );
    }
    const startMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await sleep(2000); // spares started during the burst finish starting
    return { ...shimCost(root), startMs, runtimeCpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    for (const s of await rt.listPodSandbox()) await rt.removePodSandbox(s.id).catch((e) => console.error(e));
    await rt.close();
    for (const ctl of readdirSync('/sys/fs/cgroup')) {
      const d = join('/sys/fs/cgroup', ctl, cgroupRoot);
      if (existsSync(d)) execFileSync('find', [d, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    }
    tmp.remove();
  }
}

const rows: string[] = [];
for (const pods of PODS) {
  for (const max of MAX) {
    const r = await run(pods, max);
    rows.push(
      `| ${pods} | ${max} | ${r.shims} | ${(r.cpuMs / 1000).toFixed(2)} s | ${r.rssMB.toFixed(0)} MB | ${r.pssMB.toFixed(0)} MB | ${(r.runtimeCpuMs / 1000).toFixed(2)} s | ${(r.startMs / 1000).toFixed(1)} s |`,
    );
    console.log(rows.at(-1));
  }
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`\nload average ${load}\n`);
console.log('| pods | maxSandboxesPerShim | shims | shim CPU (utime+stime) | shim RSS | shim PSS | runtime process CPU | start all pods |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
