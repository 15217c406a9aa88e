// cgroupfs paths for the cgroupfs driver, v1 (one hierarchy per controller) and v2 (unified),
// and the few files the runtime reads: the OOM-kill counter and CPU/memory usage for stats.
import { readFileSync, rmdirSync, statfsSync, readdirSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;

export type CgroupVersion = 1 | 2;

export function cgroupVersion(): CgroupVersion {
  try {
    return statfsSync(CGROUP_ROOT).type === CGROUP2_SUPER_MAGIC ? 2 : 1;
  } catch {
    return 1;
  }
}

/** The v1 controller hierarchies mounted under /sys/fs/cgroup (cpu,cpuacct symlinks skipped). */
function v1Hierarchies(): string[] {
  try {
    return readdirSync(CGROUP_ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'unified')
      .map((e) => join(CGROUP_ROOT, e.name));
  } catch {
    return [];
  }
}

/** The file whose `oom_kill N` counter tells whether the kernel OOM-killed something in the cgroup. */
export function oomCounterFile(cgroupsPath: string, version = cgroupVersion()): string {
  return version === 2 ? join(CGROUP_ROOT, cgroupsPath, 'memory.events') : join(CGROUP_ROOT, 'memory', cgroupsPath, 'memory.oom_control');
}

/** Removes the cgroup directory in every hierarchy, deepest first; never follows outside `cgroupsPath`. Busy dirs are left. */
export function removeCgroup(cgroupsPath: string, version = cgroupVersion()): void {
  if (!cgroupsPath || cgroupsPath === '/' || cgroupsPath.includes('..')) return;
  const bases = version === 2 ? [CGROUP_ROOT] : v1Hierarchies();
  for (const base of bases) {
    const dir = join(base, cgroupsPath);
    if (!existsSync(dir)) continue;
    removeTree(dir);
  }
}

function removeTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    /* busy or gone */
  }
}

function readNumber(file: string): bigint | undefined {
  try {
    return BigInt(readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function readKeyed(file: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.split(/\s+/);
      if (k && v && /^\d+$/.test(v)) out.set(k, BigInt(v));
    }
  } catch {
    /* missing */
  }
  return out;
}

export interface CgroupUsage {
  cpuUsageNanos?: bigint;
  memoryUsage?: bigint;
  workingSet?: bigint;
  rss?: bigint;
  pageFaults?: bigint;
  majorPageFaults?: bigint;
}

/** CPU and memory usage as cAdvisor computes them (working set = usage − inactive_file). */
export function cgroupUsage(cgroupsPath: string, version = cgroupVersion()): CgroupUsage {
  if (version === 2) {
    const dir = join(CGROUP_ROOT, cgroupsPath);
    const cpu = readKeyed(join(dir, 'cpu.stat')).get('usage_usec');
    const usage = readNumber(join(dir, 'memory.current'));
    const stat = readKeyed(join(dir, 'memory.stat'));
    const inactive = stat.get('inactive_file') ?? 0n;
    return {
      cpuUsageNanos: cpu === undefined ? undefined : cpu * 1000n,
      memoryUsage: usage,
      workingSet: usage === undefined ? undefined : usage > inactive ? usage - inactive : 0n,
      rss: stat.get('anon'),
      pageFaults: stat.get('pgfault'),
      majorPageFaults: stat.get('pgmajfault'),
    };
  }
  const cpu = readNumber(join(CGROUP_ROOT, 'cpuacct', cgroupsPath, 'cpuacct.usage'));
  const mem = join(CGROUP_ROOT, 'memory', cgroupsPath);
  const usage = readNumber(join(mem, 'memory.usage_in_bytes'));
  const stat = readKeyed(join(mem, 'memory.stat'));
  const inactive = stat.get('total_inactive_file') ?? 0n;
  return {
    cpuUsageNanos: cpu,
    memoryUsage: usage,
    workingSet: usage === undefined ? undefined : usage > inactive ? usage - inactive : 0n,
    rss: stat.get('total_rss'),
    pageFaults: stat.get('total_pgfault'),
    majorPageFaults: stat.get('total_pgmajfault'),
  };
}

/**
 * Creates the container's cgroup with its limits (for the `unshare` fallback, where no OCI runtime
 * does it) and returns the `cgroup.procs` files the process must join.
 */
export function createCgroup(
  cgroupsPath: string,
  r: { memoryLimitInBytes?: number; cpuShares?: number; cpuQuota?: number; cpuPeriod?: number },
  version = cgroupVersion(),
): string[] {
  const write = (file: string, value: string | number) => writeFileSync(file, String(value));
  if (version === 2) {
    const dir = join(CGROUP_ROOT, cgroupsPath);
    mkdirSync(dir, { recursive: true });
    if (r.memoryLimitInBytes) write(join(dir, 'memory.max'), r.memoryLimitInBytes);
    if (r.cpuQuota && r.cpuQuota > 0) write(join(dir, 'cpu.max'), `${r.cpuQuota} ${r.cpuPeriod ?? 100000}`);
    // cgroup v1 shares [2, 262144] → v2 weight [1, 10000], as runc converts them.
    if (r.cpuShares) write(join(dir, 'cpu.weight'), Math.round(1 + ((r.cpuShares - 2) * 9999) / 262142));
    return [join(dir, 'cgroup.procs')];
  }
  const procs: string[] = [];
  for (const ctl of ['memory', 'cpu', 'cpuacct', 'pids']) {
    const base = join(CGROUP_ROOT, ctl);
    if (!existsSync(base)) continue;
    const dir = join(base, cgroupsPath);
    mkdirSync(dir, { recursive: true });
    procs.push(join(dir, 'cgroup.procs'));
  }
  const mem = join(CGROUP_ROOT, 'memory', cgroupsPath);
  if (r.memoryLimitInBytes && existsSync(mem)) write(join(mem, 'memory.limit_in_bytes'), r.memoryLimitInBytes);
  const cpu = join(CGROUP_ROOT, 'cpu', cgroupsPath);
  if (existsSync(cpu)) {
    if (r.cpuShares) write(join(cpu, 'cpu.shares'), r.cpuShares);
    if (r.cpuPeriod) write(join(cpu, 'cpu.cfs_period_us'), r.cpuPeriod);
    if (r.cpuQuota && r.cpuQuota > 0) write(join(cpu, 'cpu.cfs_quota_us'), r.cpuQuota);
  }
  return procs;
}
