// The Corefile: CoreDNS's configuration language, parsed into the typed config k8ts's DNS server
// runs. Only the plugins of kubeadm's default Corefile (plus errors and log) are understood; any
// other plugin or option is rejected with the line it is on, rather than silently ignored.

/** A configuration the server cannot run; `line` is 1-based in the Corefile. */
export class CorefileError extends Error {
  readonly code = 'CorefileError';
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(line !== undefined ? `Corefile:${line} - Error during parsing: ${message}` : message);
    this.name = 'CorefileError';
  }
}

export type PodMode = 'disabled' | 'insecure' | 'verified';

export interface KubernetesPluginConfig {
  /** Zones the plugin is authoritative for, fully qualified and lowercase (`cluster.local.`). */
  zones: string[];
  podMode: PodMode;
  /** Zones whose name errors go on to the next plugin; `null` = no fallthrough, [] = every zone. */
  fallthrough: string[] | null;
  ttl: number;
  /** Only these namespaces are answered ([] = all). */
  namespaces: string[];
  /** `endpoint_pod_names`: endpoints without hostname are named after their pod. */
  endpointPodNames: boolean;
  /** `ignore empty_service`: ClusterIP services without ready endpoints are NXDOMAIN. */
  ignoreEmptyService: boolean;
  kubeconfig?: { path: string; context?: string };
  /** `endpoint URL`: the API server to use instead of in-cluster config. */
  endpoint?: string;
}

export interface ForwardPluginConfig {
  /** The zone forwarded (`.` = everything). */
  from: string;
  /** Upstream addresses (`ip:port`), or resolv.conf files to read them from. */
  to: string[];
  except: string[];
  maxConcurrent: number;
  forceTcp: boolean;
  preferUdp: boolean;
  policy: 'random' | 'round_robin' | 'sequential';
  maxFails: number;
  expireMs: number;
  healthCheckMs: number;
}

export interface CachePluginConfig {
  zones: string[];
  successCapacity: number;
  successTtl: number;
  successMinTtl: number;
  denialCapacity: number;
  denialTtl: number;
  denialMinTtl: number;
  /** How long SERVFAIL answers are kept (CoreDNS `servfail`, default 5 s; 0 = never). */
  servfailTtl: number;
  disableSuccess: string[];
  disableDenial: string[];
  keepTtl: boolean;
}

/** One server block (`.:53 { … }`). */
export interface ServerBlockConfig {
  zones: string[];
  port: number;
  /** `bind` addresses (empty: every address). */
  bind: string[];
  errors: boolean;
  log: boolean;
  health?: { address: string; lameduckMs: number };
  ready?: { address: string };
  prometheus?: { address: string };
  kubernetes?: KubernetesPluginConfig;
  forward?: ForwardPluginConfig;
  cache?: CachePluginConfig;
  loop: boolean;
  reload?: { intervalMs: number; jitterMs: number };
  loadbalance: boolean;
}

export interface DnsConfig {
  blocks: ServerBlockConfig[];
}

/** The plugins this server knows, in CoreDNS's execution order. */
export const SUPPORTED_PLUGINS = ['reload', 'bind', 'ready', 'health', 'prometheus', 'errors', 'log', 'loadbalance', 'cache', 'kubernetes', 'loop', 'forward'] as const;

/** kubeadm's default Corefile for a cluster domain (the text of the `coredns` ConfigMap). */
export function defaultCorefile(clusterDomain = 'cluster.local', upstream = '/etc/resolv.conf'): string {
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . ${upstream} {
       max_concurrent 1000
    }
    cache 30 {
       disable success ${clusterDomain}
       disable denial ${clusterDomain}
    }
    loop
    reload
    loadbalance
}
`;
}

interface Token {
  text: string;
  line: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      tokens.push({ text: '\n', line });
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '{' || c === '}') {
      tokens.push({ text: c, line });
      i++;
    } else if (c === '"') {
      let s = '';
      const start = line;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        if (text[i] === '\n') line++;
        s += text[i];
        i++;
      }
      if (i >= text.length) throw new CorefileError('unterminated quoted string', start);
      i++;
      tokens.push({ text: s, line: start });
    } else {
      let s = '';
      while (i < text.length && !/[\s{}]/.test(text[i]!)) s += text[i++];
      // `{` glued to a word ("a{") is a brace only at a word's end, as Caddy reads it.
      tokens.push({ text: s, line });
    }
  }
  return tokens;
}

/** A directive: its words, and the lines of its `{ }` block if it has one. */
interface Directive {
  name: string;
  args: string[];
  line: number;
  block: Directive[];
}

function parseDirectives(tokens: Token[], pos: { i: number }, closing: boolean): Directive[] {
  const out: Directive[] = [];
  let current: Directive | undefined;
  for (; pos.i < tokens.length; pos.i++) {
    const t = tokens[pos.i]!;
    if (t.text === '\n') {
      current = undefined;
      continue;
    }
    if (t.text === '}') {
      if (!closing) throw new CorefileError('unexpected "}"', t.line);
      return out;
    }
    if (t.text === '{') {
      if (!current) throw new CorefileError('unexpected "{"', t.line);
      pos.i++;
      current.block = parseDirectives(tokens, pos, true);
      if (pos.i >= tokens.length) throw new CorefileError('unexpected end of file, missing "}"', t.line);
      current = undefined;
      continue;
    }
    if (!current) {
      current = { name: t.text, args: [], line: t.line, block: [] };
      out.push(current);
    } else {
      current.args.push(t.text);
    }
  }
  if (closing) throw new CorefileError('unexpected end of file, missing "}"', tokens.at(-1)?.line);
  return out;
}

/** Parses a Corefile. Throws CorefileError naming the line of the first problem. */
export function parseCorefile(text: string): DnsConfig {
  const tokens = tokenize(text);
  const blocks: ServerBlockConfig[] = [];
  let i = 0;
  while (i < tokens.length) {
    if (tokens[i]!.text === '\n') {
      i++;
      continue;
    }
    const keys: Token[] = [];
    while (i < tokens.length && tokens[i]!.text !== '{') {
      if (tokens[i]!.text !== '\n') keys.push(tokens[i]!);
      if (tokens[i]!.text === '}') throw new CorefileError('unexpected "}"', tokens[i]!.line);
      i++;
    }
    if (i >= tokens.length) throw new CorefileError(`server block ${keys.map((k) => k.text).join(' ')} has no "{"`, keys[0]?.line);
    const pos = { i: i + 1 };
    const directives = parseDirectives(tokens, pos, true);
    i = pos.i + 1;
    blocks.push(buildBlock(keys, directives));
  }
  if (blocks.length === 0) throw new CorefileError('no server block');
  const ports = new Set(blocks.map((b) => b.port));
  if (ports.size > 1) throw new CorefileError(`server blocks on different ports (${[...ports].join(', ')}); k8ts dns serves one port`);
  const seen = new Set<string>();
  for (const b of blocks) {
    for (const z of b.zones) {
      if (seen.has(z)) throw new CorefileError(`zone ${z} is defined in more than one server block`);
      seen.add(z);
    }
  }
  return { blocks };
}

/** `example.org` → `example.org.`, lowercased; `.` stays `.`. */
export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

function parseKey(tok: Token): { zone: string; port: number } {
  let text = tok.text.replace(/^dns:\/\//, '');
  if (/^[a-z]+:\/\//.test(text)) throw new CorefileError(`transport of ${tok.text} is not supported (only dns://)`, tok.line);
  let port = 53;
  const m = /^(.*):(\d+)$/.exec(text);
  if (m) {
    text = m[1]!;
    port = Number(m[2]);
    if (port > 65535) throw new CorefileError(`invalid port in ${tok.text}`, tok.line);
  }
  if (text === '') text = '.';
  return { zone: fqdn(text), port };
}

function durationMs(text: string, line: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new CorefileError(`invalid duration "${text}"`, line);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * mult;
}

function positiveInt(text: string | undefined, line: number, what: string): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 0) throw new CorefileError(`${what} must be a non-negative integer, got "${text ?? ''}"`, line);
  return n;
}

function noBlock(d: Directive): void {
  if (d.block.length > 0) throw new CorefileError(`${d.name} takes no block`, d.line);
}

function maxArgs(d: Directive, n: number): void {
  if (d.args.length > n) throw new CorefileError(`${d.name}: unexpected argument "${d.args[n]}"`, d.line);
}

/** `:9153` / `127.0.0.1:9153` / `[::1]:9153`; an empty host means every address. */
function hostPort(text: string, line: number, defaultPort: number): string {
  const m = /^(.*?)(?::(\d+))?$/.exec(text)!;
  const host = m[1] ?? '';
  const port = m[2] !== undefined ? Number(m[2]) : defaultPort;
  if (port > 65535) throw new CorefileError(`invalid port in "${text}"`, line);
  return `${host}:${port}`;
}

function buildBlock(keys: Token[], directives: Directive[]): ServerBlockConfig {
  const parsed = keys.map(parseKey);
  const ports = new Set(parsed.map((p) => p.port));
  if (ports.size > 1) throw new CorefileError('one server block listens on one port', keys[0]?.line);
  const block: ServerBlockConfig = { zones: parsed.map((p) => p.zone), port: parsed[0]?.port ?? 53, bind: [], errors: false, log: false, loop: false, loadbalance: false };
  const seen = new Set<string>();
  for (const d of directives) {
    if (seen.has(d.name) && d.name !== 'bind') throw new CorefileError(`plugin ${d.name} is configured twice in this server block`, d.line);
    seen.add(d.name);
    switch (d.name) {
      case 'errors':
      case 'log':
      case 'loop':
        noBlock(d);
        maxArgs(d, 0);
        block[d.name] = true;
        break;
      case 'loadbalance':
        noBlock(d);
        maxArgs(d, 1);
        if (d.args[0] !== undefined && d.args[0] !== 'round_robin') throw new CorefileError(`loadbalance policy "${d.args[0]}" is not supported (only round_robin)`, d.line);
        block.loadbalance = true;
        break;
      case 'bind':
        noBlock(d);
        if (d.args.length === 0) throw new CorefileError('bind needs at least one address', d.line);
        block.bind.push(...d.args);
        break;
      case 'health': {
        maxArgs(d, 1);
        let lameduckMs = 0;
        for (const o of d.block) {
          if (o.name !== 'lameduck' || o.args.length !== 1) throw new CorefileError(`health: unknown option "${o.name}"`, o.line);
          lameduckMs = durationMs(o.args[0]!, o.line);
        }
        block.health = { address: hostPort(d.args[0] ?? ':8080', d.line, 8080), lameduckMs };
        break;
      }
      case 'ready':
        noBlock(d);
        maxArgs(d, 1);
        block.ready = { address: hostPort(d.args[0] ?? ':8181', d.line, 8181) };
        break;
      case 'prometheus':
        noBlock(d);
        maxArgs(d, 1);
        block.prometheus = { address: hostPort(d.args[0] ?? 'localhost:9153', d.line, 9153) };
        break;
      case 'reload': {
        noBlock(d);
        maxArgs(d, 2);
        const intervalMs = d.args[0] ? durationMs(d.args[0], d.line) : 30_000;
        const jitterMs = d.args[1] ? durationMs(d.args[1], d.line) : 15_000;
        if (intervalMs < 2000) throw new CorefileError('reload interval value must be greater than or equal to 2 seconds', d.line);
        if (jitterMs < 1000) throw new CorefileError('reload jitter value must be greater than or equal to 1 second', d.line);
        block.reload = { intervalMs, jitterMs };
        break;
      }
      case 'kubernetes':
        block.kubernetes = kubernetesConfig(d, block.zones);
        break;
      case 'forward':
        block.forward = forwardConfig(d);
        break;
      case 'cache':
        block.cache = cacheConfig(d, block.zones);
        break;
      default:
        throw new CorefileError(`unknown directive '${d.name}' (k8ts dns supports: ${SUPPORTED_PLUGINS.join(', ')})`, d.line);
    }
  }
  return block;
}

function kubernetesConfig(d: Directive, blockZones: string[]): KubernetesPluginConfig {
  const zones = d.args.length > 0 ? d.args.map(fqdn) : blockZones;
  const cfg: KubernetesPluginConfig = { zones, podMode: 'disabled', fallthrough: null, ttl: 5, namespaces: [], endpointPodNames: false, ignoreEmptyService: false };
  for (const o of d.block) {
    switch (o.name) {
      case 'pods':
        if (o.args.length !== 1 || !['disabled', 'insecure', 'verified'].includes(o.args[0]!)) throw new CorefileError(`kubernetes: pods must be disabled, insecure or verified`, o.line);
        cfg.podMode = o.args[0] as PodMode;
        break;
      case 'fallthrough':
        cfg.fallthrough = o.args.map(fqdn);
        break;
      case 'ttl': {
        const ttl = positiveInt(o.args[0], o.line, 'kubernetes ttl');
        if (ttl > 3600 || o.args.length !== 1) throw new CorefileError('kubernetes: ttl must be in range [0, 3600]', o.line);
        cfg.ttl = ttl;
        break;
      }
      case 'namespaces':
        if (o.args.length === 0) throw new CorefileError('kubernetes: namespaces needs at least one namespace', o.line);
        cfg.namespaces = o.args;
        break;
      case 'endpoint_pod_names':
        cfg.endpointPodNames = true;
        break;
      case 'ignore':
        if (o.args.length !== 1 || o.args[0] !== 'empty_service') throw new CorefileError('kubernetes: ignore takes empty_service', o.line);
        cfg.ignoreEmptyService = true;
        break;
      case 'kubeconfig':
        if (o.args.length < 1 || o.args.length > 2) throw new CorefileError('kubernetes: kubeconfig takes a file and an optional context', o.line);
        cfg.kubeconfig = { path: o.args[0]!, ...(o.args[1] ? { context: o.args[1] } : {}) };
        break;
      case 'endpoint':
        if (o.args.length !== 1) throw new CorefileError('kubernetes: endpoint takes one URL', o.line);
        cfg.endpoint = o.args[0]!;
        break;
      default:
        throw new CorefileError(`kubernetes: unknown property '${o.name}'`, o.line);
    }
  }
  return cfg;
}

function forwardConfig(d: Directive): ForwardPluginConfig {
  if (d.args.length < 2) throw new CorefileError('forward needs a zone and at least one upstream', d.line);
  const cfg: ForwardPluginConfig = {
    from: fqdn(d.args[0]!),
    to: [],
    except: [],
    maxConcurrent: 0,
    forceTcp: false,
    preferUdp: false,
    policy: 'random',
    maxFails: 2,
    expireMs: 10_000,
    healthCheckMs: 500,
  };
  for (const to of d.args.slice(1)) {
    if (to.startsWith('/')) cfg.to.push(to);
    else cfg.to.push(upstreamAddress(to, d.line));
  }
  for (const o of d.block) {
    switch (o.name) {
      case 'max_concurrent':
        cfg.maxConcurrent = positiveInt(o.args[0], o.line, 'max_concurrent');
        break;
      case 'except':
        cfg.except = o.args.map(fqdn);
        break;
      case 'force_tcp':
        cfg.forceTcp = true;
        break;
      case 'prefer_udp':
        cfg.preferUdp = true;
        break;
      case 'policy':
        if (!['random', 'round_robin', 'sequential'].includes(o.args[0] ?? '')) throw new CorefileError(`forward: unknown policy '${o.args[0] ?? ''}'`, o.line);
        cfg.policy = o.args[0] as ForwardPluginConfig['policy'];
        break;
      case 'max_fails':
        cfg.maxFails = positiveInt(o.args[0], o.line, 'max_fails');
        break;
      case 'expire':
        cfg.expireMs = durationMs(o.args[0] ?? '', o.line);
        break;
      case 'health_check':
        cfg.healthCheckMs = durationMs(o.args[0] ?? '', o.line);
        break;
      default:
        throw new CorefileError(`forward: unknown property '${o.name}'`, o.line);
    }
  }
  if (cfg.forceTcp && cfg.preferUdp) throw new CorefileError('forward: force_tcp and prefer_udp are mutually exclusive', d.line);
  return cfg;
}

/** `1.2.3.4`, `1.2.3.4:5353`, `[::1]:53`, `dns://…` → `host:port` (IPv6 bracketed). */
export function upstreamAddress(text: string, line?: number): string {
  const t = text.replace(/^dns:\/\//, '');
  if (/^[a-z]+:\/\//.test(t)) throw new CorefileError(`upstream ${text}: only plain DNS upstreams are supported`, line);
  let m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(t);
  if (m) return `[${m[1]}]:${m[2] ?? '53'}`;
  m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(t);
  if (m) return `${m[1]}:${m[2] ?? '53'}`;
  if (/^[0-9a-fA-F:]+$/.test(t) && t.includes(':')) return `[${t}]:53`;
  throw new CorefileError(`not an IP address or file: "${text}"`, line);
}

function cacheConfig(d: Directive, blockZones: string[]): CachePluginConfig {
  const cfg: CachePluginConfig = {
    zones: blockZones,
    successCapacity: 9984,
    successTtl: 3600,
    successMinTtl: 5,
    denialCapacity: 9984,
    denialTtl: 1800,
    denialMinTtl: 5,
    servfailTtl: 5,
    disableSuccess: [],
    disableDenial: [],
    keepTtl: false,
  };
  const args = [...d.args];
  if (args.length > 0 && /^\d+$/.test(args[0]!)) {
    const ttl = Number(args.shift());
    if (ttl <= 0) throw new CorefileError('cache TTL can not be zero or negative', d.line);
    cfg.successTtl = ttl;
    cfg.denialTtl = ttl;
  }
  if (args.length > 0) cfg.zones = args.map(fqdn);
  for (const o of d.block) {
    switch (o.name) {
      case 'success':
      case 'denial': {
        if (o.args.length < 1 || o.args.length > 3) throw new CorefileError(`cache: ${o.name} takes CAPACITY [TTL] [MINTTL]`, o.line);
        const cap = positiveInt(o.args[0], o.line, `${o.name} capacity`);
        if (o.name === 'success') cfg.successCapacity = cap;
        else cfg.denialCapacity = cap;
        if (o.args[1] !== undefined) {
          const ttl = positiveInt(o.args[1], o.line, `${o.name} TTL`);
          if (o.name === 'success') cfg.successTtl = ttl;
          else cfg.denialTtl = ttl;
        }
        if (o.args[2] !== undefined) {
          const min = positiveInt(o.args[2], o.line, `${o.name} minimum TTL`);
          if (o.name === 'success') cfg.successMinTtl = min;
          else cfg.denialMinTtl = min;
        }
        break;
      }
      case 'servfail': {
        cfg.servfailTtl = Math.floor(durationMs(o.args[0] ?? '', o.line) / 1000);
        if (cfg.servfailTtl > 300) throw new CorefileError('cache: servfail cannot exceed 5m', o.line);
        break;
      }
      case 'disable': {
        const which = o.args[0];
        if (which !== 'success' && which !== 'denial') throw new CorefileError('cache type for disable must be "success" or "denial"', o.line);
        const zones = o.args.length > 1 ? o.args.slice(1).map(fqdn) : ['.'];
        if (which === 'success') cfg.disableSuccess.push(...zones);
        else cfg.disableDenial.push(...zones);
        break;
      }
      case 'keepttl':
        cfg.keepTtl = true;
        break;
      default:
        throw new CorefileError(`cache: unknown property '${o.name}'`, o.line);
    }
  }
  return cfg;
}

/** The longest of `zones` that `name` (fully qualified, lowercase) is in or equal to; undefined if none. */
export function matchZone(zones: readonly string[], name: string): string | undefined {
  let best: string | undefined;
  for (const z of zones) {
    if (z === '.' || name === z || name.endsWith(`.${z}`)) {
      if (!best || z.length > best.length) best = z;
    }
  }
  return best;
}
