// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1), as kube-proxy's --config file and the
// kube-system/kube-proxy ConfigMap's config.conf hold it: strict decoding (unknown fields are
// errors, as upstream's), upstream's defaults, and validation with field paths.
import { parse as parseYaml } from 'yaml';
import type { ProxyMode } from './types.js';

export const KUBE_PROXY_CONFIG_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';

export interface ModeSyncConfig {
  masqueradeAll: boolean;
  masqueradeBit: number;
  minSyncPeriodMs: number;
  syncPeriodMs: number;
}

/** The decoded, defaulted configuration (durations in ms). */
export interface KubeProxyConfiguration {
  mode: ProxyMode;
  clusterCIDR: string;
  bindAddress: string;
  healthzBindAddress: string;
  metricsBindAddress: string;
  hostnameOverride: string;
  nodePortAddresses: string[];
  iptables: ModeSyncConfig & { localhostNodePorts: boolean };
  nftables: ModeSyncConfig;
  ipvs: { minSyncPeriodMs: number; syncPeriodMs: number; scheduler: string; excludeCIDRs: string[]; strictARP: boolean; tcpTimeoutMs: number; tcpFinTimeoutMs: number; udpTimeoutMs: number };
  clientConnection: { kubeconfig: string; qps: number; burst: number; contentType: string; acceptContentTypes: string };
  conntrack: { maxPerCore: number | null; min: number | null; tcpEstablishedTimeoutMs: number | null; tcpCloseWaitTimeoutMs: number | null; tcpBeLiberal: boolean; udpTimeoutMs: number; udpStreamTimeoutMs: number };
  configSyncPeriodMs: number;
  detectLocalMode: string;
  detectLocal: { bridgeInterface: string; interfaceNamePrefix: string; clusterCIDRs: string[] };
  oomScoreAdj: number | null;
  featureGates: Record<string, boolean>;
}

/** A configuration problem, with the field path upstream would name. */
export class ProxyConfigError extends Error {
  readonly code = 'InvalidConfiguration';
}

type Kind = 'string' | 'bool' | 'int' | 'number' | 'duration' | 'strings' | 'boolmap' | 'any' | Schema;
interface Schema {
  [field: string]: Kind;
}

const SYNC: Schema = { masqueradeAll: 'bool', masqueradeBit: 'int', minSyncPeriod: 'duration', syncPeriod: 'duration' };

/** Every field of v1alpha1 (1.32); anything else is an unknown field. */
const SCHEMA: Schema = {
  apiVersion: 'string',
  kind: 'string',
  featureGates: 'boolmap',
  clientConnection: { kubeconfig: 'string', acceptContentTypes: 'string', contentType: 'string', qps: 'number', burst: 'int' },
  logging: 'any',
  hostnameOverride: 'string',
  bindAddress: 'string',
  healthzBindAddress: 'string',
  metricsBindAddress: 'string',
  bindAddressHardFail: 'bool',
  enableProfiling: 'bool',
  showHiddenMetricsForVersion: 'string',
  mode: 'string',
  iptables: { ...SYNC, localhostNodePorts: 'bool' },
  ipvs: { syncPeriod: 'duration', minSyncPeriod: 'duration', scheduler: 'string', excludeCIDRs: 'strings', strictARP: 'bool', tcpTimeout: 'duration', tcpFinTimeout: 'duration', udpTimeout: 'duration' },
  nftables: { ...SYNC },
  winkernel: { networkName: 'string', sourceVip: 'string', enableDSR: 'bool', rootHnsEndpointName: 'string', forwardHealthCheckVip: 'bool' },
  detectLocalMode: 'string',
  detectLocal: { bridgeInterface: 'string', clusterCIDRs: 'strings', interfaceNamePrefix: 'string' },
  clusterCIDR: 'string',
  nodePortAddresses: 'strings',
  oomScoreAdj: 'int',
  conntrack: { maxPerCore: 'int', min: 'int', tcpEstablishedTimeout: 'duration', tcpCloseWaitTimeout: 'duration', tcpBeLiberal: 'bool', udpTimeout: 'duration', udpStreamTimeout: 'duration' },
  configSyncPeriod: 'duration',
  portRange: 'string',
};

/** Go's time.ParseDuration for what configs hold: 30s, 1m0s, 24h0m0s, 500ms, 0s. */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let rest = text;
  let total = 0;
  const neg = rest.startsWith('-');
  if (neg || rest.startsWith('+')) rest = rest.slice(1);
  if (!rest) throw new ProxyConfigError(`invalid duration "${text}"`);
  while (rest) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new ProxyConfigError(`invalid duration "${text}"`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return neg ? -total : total;
}

/** Checks `value` against `schema`; unknown fields and wrong types are errors with their path. */
function check(value: unknown, schema: Schema, path: string, errors: string[]): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    errors.push(`${path || 'config'}: expected an object`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    const kind = schema[k];
    if (!kind) {
      errors.push(`unknown field "${p}"`);
      continue;
    }
    if (v === null || kind === 'any') continue;
    if (typeof kind === 'object') check(v, kind, p, errors);
    else if (kind === 'string' && typeof v !== 'string') errors.push(`${p}: expected a string`);
    else if (kind === 'bool' && typeof v !== 'boolean') errors.push(`${p}: expected true or false`);
    else if (kind === 'int' && !Number.isInteger(v)) errors.push(`${p}: expected an integer`);
    else if (kind === 'number' && typeof v !== 'number') errors.push(`${p}: expected a number`);
    else if (kind === 'strings' && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) errors.push(`${p}: expected a list of strings`);
    else if (kind === 'boolmap' && !(typeof v === 'object' && Object.values(v as object).every((b) => typeof b === 'boolean'))) errors.push(`${p}: expected a map of feature names to true/false`);
    else if (kind === 'duration') {
      if (typeof v !== 'string') errors.push(`${p}: expected a duration such as "30s"`);
      else {
        try {
          parseGoDuration(v);
        } catch {
          errors.push(`${p}: invalid duration "${v}"`);
        }
      }
    }
  }
}

type Raw = Record<string, unknown>;

/** The defaulted configuration when no file is given. */
export function defaultProxyConfig(): KubeProxyConfiguration {
  return decodeProxyConfig({});
}

/**
 * Parses a KubeProxyConfiguration document (YAML or JSON). Throws ProxyConfigError listing every
 * problem: unknown fields ("strict decoding error"), wrong types, invalid values.
 */
export function parseProxyConfig(text: string): KubeProxyConfiguration {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ProxyConfigError(`cannot parse the configuration: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ProxyConfigError('the configuration must be a KubeProxyConfiguration object');
  const raw = doc as Raw;
  if (raw.kind !== undefined && raw.kind !== 'KubeProxyConfiguration') throw new ProxyConfigError(`no kind "${String(raw.kind)}" is registered for version "${String(raw.apiVersion)}"; expected kind KubeProxyConfiguration`);
  if (raw.apiVersion !== undefined && raw.apiVersion !== KUBE_PROXY_CONFIG_API_VERSION) throw new ProxyConfigError(`no kind "KubeProxyConfiguration" is registered for version "${String(raw.apiVersion)}"; use apiVersion ${KUBE_PROXY_CONFIG_API_VERSION}`);
  const errors: string[] = [];
  check(raw, SCHEMA, '', errors);
  const unknown = errors.filter((e) => e.startsWith('unknown field'));
  if (unknown.length) throw new ProxyConfigError(`strict decoding error: ${unknown.join(', ')}`);
  if (errors.length) throw new ProxyConfigError(errors.join('; '));
  return decodeProxyConfig(raw);
}

function decodeProxyConfig(raw: Raw): KubeProxyConfiguration {
  const obj = (k: string): Raw => ((raw[k] as Raw | null | undefined) ?? {}) as Raw;
  const dur = (r: Raw, k: string, dflt: number): number => (typeof r[k] === 'string' ? parseGoDuration(r[k] as string) : dflt);
  // Upstream defaulting treats a zero period as unset (kubeadm writes "0s" for every one of them).
  const period = (r: Raw, k: string, dflt: number): number => dur(r, k, dflt) || dflt;
  const num = (r: Raw, k: string, dflt: number): number => (typeof r[k] === 'number' ? (r[k] as number) : dflt);
  // qps/burst of 0 (kubeadm writes them so) mean the defaults, as upstream's defaulting: a client
  // with qps 0 would never send a request.
  const bool = (r: Raw, k: string, dflt: boolean): boolean => (typeof r[k] === 'boolean' ? (r[k] as boolean) : dflt);
  const str = (r: Raw, k: string, dflt: string): string => (typeof r[k] === 'string' && r[k] !== '' ? (r[k] as string) : dflt);
  const strs = (r: Raw, k: string): string[] => (Array.isArray(r[k]) ? [...(r[k] as string[])] : []);
  const sync = (r: Raw): ModeSyncConfig => ({ masqueradeAll: bool(r, 'masqueradeAll', false), masqueradeBit: num(r, 'masqueradeBit', 14), minSyncPeriodMs: period(r, 'minSyncPeriod', 1000), syncPeriodMs: period(r, 'syncPeriod', 30_000) });
  const ipt = obj('iptables');
  const ipvs = obj('ipvs');
  const cc = obj('clientConnection');
  const ct = obj('conntrack');
  const dl = obj('detectLocal');
  const mode = str(raw, 'mode', 'iptables');
  const cfg: KubeProxyConfiguration = {
    mode: mode as ProxyMode,
    clusterCIDR: str(raw, 'clusterCIDR', ''),
    bindAddress: str(raw, 'bindAddress', '0.0.0.0'),
    healthzBindAddress: str(raw, 'healthzBindAddress', '0.0.0.0:10256'),
    metricsBindAddress: str(raw, 'metricsBindAddress', '127.0.0.1:10249'),
    hostnameOverride: str(raw, 'hostnameOverride', ''),
    nodePortAddresses: strs(raw, 'nodePortAddresses'),
    iptables: { ...sync(ipt), localhostNodePorts: bool(ipt, 'localhostNodePorts', true) },
    nftables: sync(obj('nftables')),
    ipvs: {
      minSyncPeriodMs: dur(ipvs, 'minSyncPeriod', 0),
      syncPeriodMs: period(ipvs, 'syncPeriod', 30_000),
      scheduler: str(ipvs, 'scheduler', ''),
      excludeCIDRs: strs(ipvs, 'excludeCIDRs'),
      strictARP: bool(ipvs, 'strictARP', false),
      tcpTimeoutMs: dur(ipvs, 'tcpTimeout', 0),
      tcpFinTimeoutMs: dur(ipvs, 'tcpFinTimeout', 0),
      udpTimeoutMs: dur(ipvs, 'udpTimeout', 0),
    },
    clientConnection: { kubeconfig: str(cc, 'kubeconfig', ''), qps: num(cc, 'qps', 0) || 5, burst: num(cc, 'burst', 0) || 10, contentType: str(cc, 'contentType', 'application/vnd.kubernetes.protobuf'), acceptContentTypes: str(cc, 'acceptContentTypes', '') },
    conntrack: {
      maxPerCore: typeof ct.maxPerCore === 'number' ? ct.maxPerCore : 32768,
      min: typeof ct.min === 'number' ? ct.min : 131072,
      tcpEstablishedTimeoutMs: period(ct, 'tcpEstablishedTimeout', 24 * 3_600_000),
      tcpCloseWaitTimeoutMs: period(ct, 'tcpCloseWaitTimeout', 3_600_000),
      tcpBeLiberal: bool(ct, 'tcpBeLiberal', false),
      udpTimeoutMs: dur(ct, 'udpTimeout', 0),
      udpStreamTimeoutMs: dur(ct, 'udpStreamTimeout', 0),
    },
    configSyncPeriodMs: period(raw, 'configSyncPeriod', 15 * 60_000),
    detectLocalMode: str(raw, 'detectLocalMode', 'ClusterCIDR'),
    detectLocal: { bridgeInterface: str(dl, 'bridgeInterface', ''), interfaceNamePrefix: str(dl, 'interfaceNamePrefix', ''), clusterCIDRs: strs(dl, 'clusterCIDRs') },
    oomScoreAdj: typeof raw.oomScoreAdj === 'number' ? raw.oomScoreAdj : -999,
    featureGates: { ...((raw.featureGates as Record<string, boolean> | undefined) ?? {}) },
  };
  validateProxyConfig(cfg);
  return cfg;
}

/** Upstream's validation of the fields k8ts acts on; throws ProxyConfigError with field paths. */
export function validateProxyConfig(cfg: KubeProxyConfiguration): void {
  const errs: string[] = [];
  if (!['iptables', 'nftables', 'ipvs'].includes(cfg.mode)) errs.push(`mode: Unsupported value: "${cfg.mode}": supported values: "iptables", "ipvs", "nftables"`);
  for (const [path, s] of [['iptables', cfg.iptables], ['nftables', cfg.nftables]] as const) {
    if (!(s.masqueradeBit >= 0 && s.masqueradeBit <= 31)) errs.push(`${path}.masqueradeBit: Invalid value: ${s.masqueradeBit}: must be within the range [0, 31]`);
    if (s.syncPeriodMs <= 0) errs.push(`${path}.syncPeriod: Invalid value: must be greater than 0`);
    if (s.minSyncPeriodMs < 0) errs.push(`${path}.minSyncPeriod: Invalid value: must be greater than or equal to 0`);
    if (s.minSyncPeriodMs > s.syncPeriodMs) errs.push(`${path}.syncPeriod: Invalid value: must be greater than or equal to ${path}.minSyncPeriod`);
  }
  for (const [path, v] of [['healthzBindAddress', cfg.healthzBindAddress], ['metricsBindAddress', cfg.metricsBindAddress]] as const) {
    if (!/^(\[[0-9a-fA-F:.]*\]|[0-9.]*):\d{1,5}$/.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) > 65535) errs.push(`${path}: Invalid value: "${v}": must be IP:port`);
  }
  for (const c of cfg.clusterCIDR ? cfg.clusterCIDR.split(',') : []) if (!isCIDR(c.trim())) errs.push(`clusterCIDR: Invalid value: "${cfg.clusterCIDR}": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)`);
  for (const [i, a] of cfg.nodePortAddresses.entries()) if (a !== 'primary' && !isCIDR(a)) errs.push(`nodePortAddresses[${i}]: Invalid value: "${a}": must be a valid CIDR or "primary"`);
  if (errs.length) throw new ProxyConfigError(errs.join('; '));
}

export function isCIDR(text: string): boolean {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text);
  if (!m) return false;
  const v6 = m[1]!.includes(':');
  const bits = Number(m[2]);
  if (v6) return bits <= 128;
  const parts = m[1]!.split('.');
  return bits <= 32 && parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** The sync settings of the configured mode. */
export function syncSettings(cfg: KubeProxyConfiguration): ModeSyncConfig {
  if (cfg.mode === 'nftables') return cfg.nftables;
  if (cfg.mode === 'ipvs') return { masqueradeAll: cfg.iptables.masqueradeAll, masqueradeBit: cfg.iptables.masqueradeBit, minSyncPeriodMs: cfg.ipvs.minSyncPeriodMs, syncPeriodMs: cfg.ipvs.syncPeriodMs };
  return cfg.iptables;
}
