// What the kubelet reports about its machine (cadvisor's MachineInfo, in the small): cores, memory,
// the filesystem under its root, kernel, OS image and identities. Read once at start; memory and
// disk usage are re-read by the eviction manager.
import { readFile, statfs } from 'node:fs/promises';
import { arch, cpus, release, totalmem } from 'node:os';

export interface MachineInfo {
  numCores: number;
  memoryCapacityBytes: number;
  /** Size of the filesystem holding the kubelet's root (ephemeral-storage capacity). */
  rootfsCapacityBytes: number;
  kernelVersion: string;
  osImage: string;
  machineID: string;
  systemUUID: string;
  bootID: string;
  /** GOARCH spelling: amd64, arm64… */
  architecture: string;
}

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function goArch(nodeArch: string = arch()): string {
  return GOARCH[nodeArch] ?? nodeArch;
}

async function firstLine(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).split('\n')[0]!.trim();
  } catch {
    return '';
  }
}

/** PRETTY_NAME from os-release, as upstream's osImage (`Debian GNU/Linux 12 (bookworm)`). */
export function prettyName(osRelease: string): string {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  if (!m) return 'Linux';
  return m[1]!.trim().replace(/^"(.*)"$/, '$1');
}

export async function readMachineInfo(rootDir: string): Promise<MachineInfo> {
  const fs = await statfs(rootDir);
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const machineID = await firstLine('/etc/machine-id');
  return {
    numCores: cpus().length,
    memoryCapacityBytes: totalmem(),
    rootfsCapacityBytes: fs.blocks * fs.bsize,
    kernelVersion: release(),
    osImage: prettyName(osRelease),
    machineID,
    systemUUID: (await firstLine('/sys/class/dmi/id/product_uuid')) || machineID,
    bootID: await firstLine('/proc/sys/kernel/random/boot_id'),
    architecture: goArch(),
  };
}

/** Available memory as the eviction manager counts it: capacity minus the working set (usage - inactive_file) of the root cgroup. */
export async function memoryAvailableBytes(capacity: number): Promise<number> {
  const v1 = await readFile('/sys/fs/cgroup/memory/memory.usage_in_bytes', 'utf8').catch(() => undefined);
  if (v1 !== undefined) {
    const stat = await readFile('/sys/fs/cgroup/memory/memory.stat', 'utf8').catch(() => '');
    const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
    const workingSet = Math.max(0, Number(v1.trim()) - inactive);
    return capacity - workingSet;
  }
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const kb = Number(/^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? 0);
  return kb * 1024;
}

export interface FsStats {
  capacityBytes: number;
  availableBytes: number;
  inodes: number;
  inodesFree: number;
}

export async function fsStats(path: string): Promise<FsStats> {
  const s = await statfs(path);
  return { capacityBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize, inodes: s.files, inodesFree: s.ffree };
}

/** Process ids in use and the limit (PIDPressure). */
export async function pidStats(): Promise<{ max: number; running: number }> {
  const max = Number((await firstLine('/proc/sys/kernel/pid_max')) || 4194304);
  const loadavg = await firstLine('/proc/loadavg');
  const running = Number(/\s\d+\/(\d+)\s/.exec(` ${loadavg} `)?.[1] ?? 0);
  return { max, running };
}
