// KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): decoding (strict, as upstream),
// defaulting and validation, with errors that name the field. The default plugin set and weights
// are upstream 1.32's.

import { parse as parseYaml } from 'yaml';
import type { ExtensionPoint, PluginRef, ProfileConfig } from './framework/runtime.js';
import { EXTENSION_POINTS } from './framework/runtime.js';
import { ConfigError } from './framework/types.js';

export const CONFIG_API_VERSION = 'kubescheduler.config.k8s.io/v1';

/** Upstream 1.32's default plugins, enabled at every point they implement, with their score weights. */
export const DEFAULT_MULTI_POINT: readonly PluginRef[] = [
  { name: 'SchedulingGates' },
  { name: 'PrioritySort' },
  { name: 'NodeUnschedulable' },
  { name: 'NodeName' },
  { name: 'TaintToleration', weight: 3 },
  { name: 'NodeAffinity', weight: 2 },
  { name: 'NodePorts' },
  { name: 'NodeResourcesFit', weight: 1 },
  { name: 'VolumeRestrictions' },
  { name: 'VolumeBinding' },
  { name: 'VolumeZone' },
  { name: 'PodTopologySpread', weight: 2 },
  { name: 'InterPodAffinity', weight: 2 },
  { name: 'DefaultPreemption' },
  { name: 'NodeResourcesBalancedAllocation', weight: 1 },
  { name: 'ImageLocality', weight: 1 },
  { name: 'DefaultBinder' },
];

export interface LeaderElectionConfig {
  leaderElect: boolean;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  resourceName: string;
  resourceNamespace: string;
}

export interface SchedulerConfig {
  parallelism: number;
  percentageOfNodesToScore: number | undefined;
  podInitialBackoffSeconds: number;
  podMaxBackoffSeconds: number;
  leaderElection: LeaderElectionConfig;
  clientConnection: { kubeconfig?: string | undefined; qps: number; burst: number };
  profiles: ProfileConfig[];
}

const TOP_FIELDS = new Set(['apiVersion', 'kind', 'parallelism', 'leaderElection', 'clientConnection', 'healthzBindAddress', 'metricsBindAddress', 'enableProfiling', 'enableContentionProfiling', 'percentageOfNodesToScore', 'podInitialBackoffSeconds', 'podMaxBackoffSeconds', 'profiles', 'extenders', 'delayCacheUntilActive']);
const LEADER_FIELDS = new Set(['leaderElect', 'leaseDuration', 'renewDeadline', 'retryPeriod', 'resourceLock', 'resourceName', 'resourceNamespace']);
const CLIENT_FIELDS = new Set(['kubeconfig', 'acceptContentTypes', 'contentType', 'qps', 'burst']);
const PROFILE_FIELDS = new Set(['schedulerName', 'percentageOfNodesToScore', 'plugins', 'pluginConfig']);
const POINT_FIELDS = new Set([...EXTENSION_POINTS, 'multiPoint']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strict(o: Obj, allowed: ReadonlySet<string>, path: string): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new ConfigError(path ? `${path}.${k}` : k, `strict decoding error: unknown field "${path ? `${path}.${k}` : k}"`);
}

function int(v: unknown, field: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(field, `Invalid value: ${JSON.stringify(v)}: must be an integer`);
  return v;
}

/** Go durations as the config uses them (`15s`, `1m30s`, `500ms`). */
export function parseDuration(v: unknown, field: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw new ConfigError(field, `Invalid value: ${JSON.stringify(v)}: must be a duration such as "15s"`);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(v))) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (v === '0') return 0;
  if (consumed !== v.length || v.length === 0) throw new ConfigError(field, `Invalid value: "${v}": time: invalid duration "${v}"`);
  return total;
}

function pluginRefs(v: unknown, field: string): PluginRef[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(field, 'Invalid value: must be a list');
  return v.map((e, i) => {
    if (!isObj(e)) throw new ConfigError(`${field}[${i}]`, 'Invalid value: must be an object');
    strict(e, new Set(['name', 'weight']), `${field}[${i}]`);
    if (typeof e['name'] !== 'string' || e['name'] === '') throw new ConfigError(`${field}[${i}].name`, 'Required value');
    const weight = e['weight'] === undefined ? undefined : int(e['weight'], `${field}[${i}].weight`, 0);
    return { name: e['name'], weight };
  });
}

function parseProfile(raw: unknown, i: number): ProfileConfig {
  const path = `profiles[${i}]`;
  if (!isObj(raw)) throw new ConfigError(path, 'Invalid value: must be an object');
  strict(raw, PROFILE_FIELDS, path);
  const schedulerName = raw['schedulerName'] ?? (i === 0 ? 'default-scheduler' : undefined);
  if (typeof schedulerName !== 'string' || schedulerName === '') throw new ConfigError(`${path}.schedulerName`, 'Required value');
  const pct = raw['percentageOfNodesToScore'] === undefined ? undefined : int(raw['percentageOfNodesToScore'], `${path}.percentageOfNodesToScore`, 0);
  if (pct !== undefined && (pct < 0 || pct > 100)) throw new ConfigError(`${path}.percentageOfNodesToScore`, `Invalid value: ${pct}: not in valid range [0-100]`);
  const plugins = raw['plugins'] ?? {};
  if (!isObj(plugins)) throw new ConfigError(`${path}.plugins`, 'Invalid value: must be an object');
  strict(plugins, POINT_FIELDS, `${path}.plugins`);
  const set = (name: string): { enabled: PluginRef[]; disabled: string[] } => {
    const v = plugins[name];
    if (v === undefined || v === null) return { enabled: [], disabled: [] };
    if (!isObj(v)) throw new ConfigError(`${path}.plugins.${name}`, 'Invalid value: must be an object');
    strict(v, new Set(['enabled', 'disabled']), `${path}.plugins.${name}`);
    return { enabled: pluginRefs(v['enabled'], `${path}.plugins.${name}.enabled`), disabled: pluginRefs(v['disabled'], `${path}.plugins.${name}.disabled`).map((r) => r.name) };
  };
  const mp = set('multiPoint');
  // Defaults minus what multiPoint disables, then what it enables (re-weighting a default in place).
  const multiPoint: PluginRef[] = mp.disabled.includes('*') ? [] : DEFAULT_MULTI_POINT.filter((r) => !mp.disabled.includes(r.name)).map((r) => ({ ...r }));
  for (const r of mp.enabled) {
    const at = multiPoint.findIndex((x) => x.name === r.name);
    if (at >= 0) multiPoint[at] = { name: r.name, weight: r.weight ?? multiPoint[at]!.weight };
    else multiPoint.push(r);
  }
  const points: Partial<Record<ExtensionPoint, { enabled: PluginRef[]; disabled: string[] }>> = {};
  for (const p of EXTENSION_POINTS) {
    const s = set(p);
    if (s.enabled.length || s.disabled.length) points[p] = s;
  }
  const pluginArgs = new Map<string, Record<string, unknown>>();
  const pc = raw['pluginConfig'] ?? [];
  if (!Array.isArray(pc)) throw new ConfigError(`${path}.pluginConfig`, 'Invalid value: must be a list');
  pc.forEach((e: unknown, j: number) => {
    const f = `${path}.pluginConfig[${j}]`;
    if (!isObj(e)) throw new ConfigError(f, 'Invalid value: must be an object');
    strict(e, new Set(['name', 'args']), f);
    if (typeof e['name'] !== 'string' || !e['name']) throw new ConfigError(`${f}.name`, 'Required value');
    if (pluginArgs.has(e['name'])) throw new ConfigError(f, `Duplicate value: "${e['name']}"`);
    const args = e['args'] ?? {};
    if (!isObj(args)) throw new ConfigError(`${f}.args`, 'Invalid value: must be an object');
    const { apiVersion: _a, kind: _k, ...rest } = args;
    pluginArgs.set(e['name'], rest);
  });
  return { schedulerName, percentageOfNodesToScore: pct, multiPoint, points, pluginArgs };
}

/** Decodes, defaults and validates a KubeSchedulerConfiguration document (YAML or JSON text). */
export function parseSchedulerConfig(text: string | undefined): SchedulerConfig {
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError('', `couldn't decode as KubeSchedulerConfiguration: ${(err as Error).message}`);
    }
  }
  if (!isObj(raw)) throw new ConfigError('', "couldn't decode as KubeSchedulerConfiguration: not an object");
  if (text !== undefined) {
    if (raw['kind'] !== 'KubeSchedulerConfiguration') throw new ConfigError('kind', `Invalid value: ${JSON.stringify(raw['kind'] ?? '')}: must be KubeSchedulerConfiguration`);
    if (raw['apiVersion'] !== CONFIG_API_VERSION) throw new ConfigError('apiVersion', `no kind "KubeSchedulerConfiguration" is registered for version "${String(raw['apiVersion'] ?? '')}"; use ${CONFIG_API_VERSION}`);
  }
  strict(raw, TOP_FIELDS, '');
  const parallelism = int(raw['parallelism'], 'parallelism', 16);
  if (parallelism <= 0) throw new ConfigError('parallelism', `Invalid value: ${parallelism}: should be an integer value greater than zero`);
  const pct = raw['percentageOfNodesToScore'] === undefined ? undefined : int(raw['percentageOfNodesToScore'], 'percentageOfNodesToScore', 0);
  if (pct !== undefined && (pct < 0 || pct > 100)) throw new ConfigError('percentageOfNodesToScore', `Invalid value: ${pct}: not in valid range [0-100]`);
  const initial = int(raw['podInitialBackoffSeconds'], 'podInitialBackoffSeconds', 1);
  if (initial <= 0) throw new ConfigError('podInitialBackoffSeconds', `Invalid value: ${initial}: must be greater than 0`);
  const max = int(raw['podMaxBackoffSeconds'], 'podMaxBackoffSeconds', 10);
  if (max < initial) throw new ConfigError('podMaxBackoffSeconds', `Invalid value: ${max}: must be greater than or equal to PodInitialBackoffSeconds`);
  const le = raw['leaderElection'] ?? {};
  if (!isObj(le)) throw new ConfigError('leaderElection', 'Invalid value: must be an object');
  strict(le, LEADER_FIELDS, 'leaderElection');
  const leaderElection: LeaderElectionConfig = {
    leaderElect: le['leaderElect'] === undefined ? true : le['leaderElect'] === true,
    leaseDurationMs: parseDuration(le['leaseDuration'], 'leaderElection.leaseDuration', 15_000),
    renewDeadlineMs: parseDuration(le['renewDeadline'], 'leaderElection.renewDeadline', 10_000),
    retryPeriodMs: parseDuration(le['retryPeriod'], 'leaderElection.retryPeriod', 2_000),
    resourceName: typeof le['resourceName'] === 'string' ? le['resourceName'] : 'kube-scheduler',
    resourceNamespace: typeof le['resourceNamespace'] === 'string' ? le['resourceNamespace'] : 'kube-system',
  };
  if (leaderElection.leaderElect) {
    if (leaderElection.leaseDurationMs <= leaderElection.renewDeadlineMs) throw new ConfigError('leaderElection.leaseDuration', 'Invalid value: leaseDuration must be greater than renewDeadline');
    if (leaderElection.renewDeadlineMs <= leaderElection.retryPeriodMs) throw new ConfigError('leaderElection.renewDeadline', 'Invalid value: renewDeadline must be greater than retryPeriod');
  }
  const cc = raw['clientConnection'] ?? {};
  if (!isObj(cc)) throw new ConfigError('clientConnection', 'Invalid value: must be an object');
  strict(cc, CLIENT_FIELDS, 'clientConnection');
  const clientConnection = {
    kubeconfig: typeof cc['kubeconfig'] === 'string' && cc['kubeconfig'] ? cc['kubeconfig'] : undefined,
    qps: typeof cc['qps'] === 'number' ? cc['qps'] : 50,
    burst: int(cc['burst'], 'clientConnection.burst', 100),
  };
  const rawProfiles = raw['profiles'] ?? [{}];
  if (!Array.isArray(rawProfiles) || rawProfiles.length === 0) throw new ConfigError('profiles', 'Required value: must have at least one profile');
  const profiles = rawProfiles.map((p: unknown, i: number) => parseProfile(p, i));
  const seen = new Set<string>();
  profiles.forEach((p, i) => {
    if (seen.has(p.schedulerName)) throw new ConfigError(`profiles[${i}].schedulerName`, `Duplicate value: "${p.schedulerName}"`);
    seen.add(p.schedulerName);
  });
  const sortOf = (p: ProfileConfig) => JSON.stringify(p.points.queueSort ?? null);
  profiles.forEach((p, i) => {
    if (i > 0 && sortOf(p) !== sortOf(profiles[0]!)) throw new ConfigError(`profiles[${i}].plugins.queueSort`, 'Invalid value: queueSort must be the same for all profiles');
  });
  return { parallelism, percentageOfNodesToScore: pct, podInitialBackoffSeconds: initial, podMaxBackoffSeconds: max, leaderElection, clientConnection, profiles };
}
