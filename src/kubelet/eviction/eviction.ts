// Node-pressure eviction (pkg/kubelet/eviction): hard thresholds on eviction signals, the node
// conditions they drive, and which pod goes first when a threshold is crossed. Pure functions; the
// manager in manager.ts reads the machine and acts.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { podQOSClass } from '../../api/qos.js';
import { isQuantity, quantityValue } from '../../api/quantity.js';

export type Signal = 'memory.available' | 'nodefs.available' | 'nodefs.inodesFree' | 'imagefs.available' | 'pid.available';
export const SIGNALS: readonly Signal[] = ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'pid.available'];

export interface Threshold {
  signal: Signal;
  /** An absolute quantity (bytes, inodes, pids)… */
  quantity?: number;
  /** …or a fraction of capacity (0.1 for `10%`). */
  percentage?: number;
  /** As written (`100Mi`, `10%`), for messages. */
  text: string;
}

export class EvictionConfigError extends Error {
  override readonly name = 'EvictionConfigError';
}

/** Parses `--eviction-hard` (`memory.available<100Mi,nodefs.available<10%`) or its map form. */
export function parseThresholds(input: string | Record<string, string>): Threshold[] {
  const entries: [string, string][] =
    typeof input === 'string'
      ? input
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => {
            const m = /^([a-zA-Z.]+)<(.+)$/.exec(s);
            if (!m) throw new EvictionConfigError(`invalid eviction threshold "${s}": the form is signal<quantity, e.g. memory.available<100Mi`);
            return [m[1]!, m[2]!];
          })
      : Object.entries(input);
  return entries.map(([signal, value]) => {
    if (!SIGNALS.includes(signal as Signal)) throw new EvictionConfigError(`unsupported eviction signal ${signal}`);
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(value);
    if (pct) {
      const p = Number(pct[1]) / 100;
      if (p < 0 || p > 1) throw new EvictionConfigError(`eviction percentage threshold ${signal} must be >= 0% and <= 100%: ${value}`);
      return { signal: signal as Signal, percentage: p, text: value };
    }
    if (!isQuantity(value)) throw new EvictionConfigError(`invalid eviction threshold ${signal}<${value}: not a quantity or percentage`);
    const q = quantityValue(value);
    if (q < 0) throw new EvictionConfigError(`eviction threshold ${signal} must be positive: ${value}`);
    return { signal: signal as Signal, quantity: q, text: value };
  });
}

export interface Observation {
  available: number;
  capacity: number;
}

export type Observations = Partial<Record<Signal, Observation>>;

export function thresholdValue(t: Threshold, capacity: number): number {
  return t.quantity ?? Math.round((t.percentage ?? 0) * capacity);
}

/** Thresholds whose signal is below its value. */
export function thresholdsMet(thresholds: readonly Threshold[], obs: Observations): Threshold[] {
  return thresholds.filter((t) => {
    const o = obs[t.signal];
    return o !== undefined && o.available < thresholdValue(t, o.capacity);
  });
}

export function nodeConditionFor(signal: Signal): 'MemoryPressure' | 'DiskPressure' | 'PIDPressure' {
  if (signal === 'memory.available') return 'MemoryPressure';
  if (signal === 'pid.available') return 'PIDPressure';
  return 'DiskPressure';
}

/** The resource a signal is about, as eviction messages name it. */
export function resourceFor(signal: Signal): string {
  if (signal === 'memory.available') return 'memory';
  if (signal === 'pid.available') return 'pids';
  if (signal === 'nodefs.inodesFree') return 'inodes';
  return 'ephemeral-storage';
}

export interface PodUsage {
  pod: Readonly<Pod>;
  /** Usage of the signal's resource per container (bytes/inodes). */
  containers: Record<string, number>;
  /** The pod's whole usage when it is not counted per container (pids: the pod cgroup's tasks). */
  total?: number;
}

function request(pod: Readonly<Pod>, resource: string): number {
  return (pod.spec?.containers ?? []).reduce((s, c) => s + quantityValue(c.resources?.requests?.[resource] ?? '0'), 0);
}

const total = (u: PodUsage) => u.total ?? Object.values(u.containers).reduce((a, b) => a + b, 0);

/**
 * Eviction order as upstream's rankMemoryPressure / rankDiskPressure: pods whose usage exceeds
 * their requests first, then lower priority, then usage above requests (largest first).
 */
export function rankForEviction(pods: readonly PodUsage[], signal: Signal): PodUsage[] {
  const resource = resourceFor(signal);
  const overRequest = (u: PodUsage) => (resource === 'pids' ? 0 : total(u) - request(u.pod, resource));
  return [...pods].sort((a, b) => {
    if (resource !== 'pids') {
      const ea = overRequest(a) > 0 ? 1 : 0;
      const eb = overRequest(b) > 0 ? 1 : 0;
      if (ea !== eb) return eb - ea;
    }
    const pa = a.pod.spec?.priority ?? 0;
    const pb = b.pod.spec?.priority ?? 0;
    if (pa !== pb) return pa - pb;
    return overRequest(b) - overRequest(a) || total(b) - total(a);
  });
}

function formatBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 20) === 0) return `${Math.round(n / (1 << 20))}Mi`;
  if (n >= 1 << 20) return `${Math.round(n / (1 << 10))}Ki`;
  return String(n);
}

/** Upstream's eviction message: `The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container web was using 81920Ki, request is 0, has larger consumption of memory. ` */
export function evictionMessage(t: Threshold, obs: Observation, usage: PodUsage): string {
  const resource = resourceFor(t.signal);
  let msg = `The node was low on resource: ${resource}. Threshold quantity: ${t.text}, available: ${resource === 'pids' || resource === 'inodes' ? obs.available : formatBytes(obs.available)}. `;
  // As upstream, a pids message names no container: processes are counted per pod.
  if (resource === 'pids') return msg;
  for (const c of usage.pod.spec?.containers ?? []) {
    const used = usage.containers[c.name];
    if (used === undefined) continue;
    const req = c.resources?.requests?.[resource] ?? '0';
    if (used > quantityValue(req)) msg += `Container ${c.name} was using ${resource === 'pids' ? used : formatBytes(used)}, request is ${req}, has larger consumption of ${resource}. `;
  }
  return msg;
}

/** Pods the eviction manager never picks: static/mirror pods and system-critical priorities. */
export function isCriticalPod(pod: Readonly<Pod>): boolean {
  const src = pod.metadata?.annotations?.['kubernetes.io/config.source'];
  if (src !== undefined && src !== 'api') return true;
  if (pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined) return true;
  return (pod.spec?.priority ?? 0) >= 2_000_000_000;
}

/**
 * The eviction manager's pod admission (upstream managerImpl.Admit): the node conditions that refuse
 * `pod`, or undefined to admit it. Under memory pressure alone only BestEffort pods are refused; under
 * disk or PID pressure every pod but critical ones. The kubelet rejects with reason Evicted and the
 * message `The node had condition: [PIDPressure]. `.
 */
export function conditionsRefusing(pressure: { memory: boolean; disk: boolean; pid: boolean }, pod: Readonly<Pod>): string[] | undefined {
  const conds = [...(pressure.memory ? ['MemoryPressure'] : []), ...(pressure.disk ? ['DiskPressure'] : []), ...(pressure.pid ? ['PIDPressure'] : [])];
  if (conds.length === 0 || isCriticalPod(pod)) return undefined;
  if (conds.length === 1 && pressure.memory && podQOSClass(pod) !== 'BestEffort') return undefined;
  return conds;
}
