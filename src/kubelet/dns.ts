// A pod's resolver configuration (upstream pkg/kubelet/network/dns): dnsPolicy (ClusterFirst,
// ClusterFirstWithHostNet, Default, None) over the node's resolv.conf, `--cluster-dns`, `--cluster-domain`,
// merged with pod.spec.dnsConfig and cut to the resolver's limits with upstream's events.
import { readFile } from 'node:fs/promises';
import type { ObjectReference, Pod } from 'kubernetes-types/core/v1.js';
import type { DNSConfig } from './runtime/types.js';
import { podRef, type EventSink } from './prober/prober.js';

/** Upstream validation limits (ExpandedDNSConfig is GA). */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
const MAX_RESOLV_CONF_LENGTH = 10 * (1 << 20);
const DEFAULT_DNS_OPTIONS = ['ndots:5'];

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/**
 * Parses resolv.conf as upstream: `nameserver` lines accumulate, the last `search` and `options` lines win,
 * search domains lose a trailing dot; `#` comments are skipped. A `nameserver` line without an address is an
 * error (returned in `errors`; the rest is still parsed).
 */
export function parseResolvConf(text: string): ResolvConf & { errors: string[] } {
  const out: ResolvConf & { errors: string[] } = { nameservers: [], searches: [], options: [], errors: [] };
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#')) continue;
    const fields = trimmed.split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) continue;
    if (fields[0] === 'nameserver') {
      if (fields.length >= 2) out.nameservers.push(fields[1]!);
      else out.errors.push('nameserver list is empty ');
    }
    if (fields[0] === 'search') out.searches = fields.slice(1).map((s) => (s.endsWith('.') ? s.slice(0, -1) : s));
    if (fields[0] === 'options') out.options = fields.slice(1);
  }
  return out;
}

/** Reads and parses a resolv.conf file; throws on read and parse errors as upstream's getHostDNSConfig. */
export async function readResolvConf(path: string): Promise<ResolvConf> {
  const buf = await readFile(path);
  if (buf.length > MAX_RESOLV_CONF_LENGTH) throw new Error(`the read limit is reached`);
  const parsed = parseResolvConf(buf.toString('utf8'));
  if (parsed.errors.length > 0) throw new Error(parsed.errors.length === 1 ? parsed.errors[0]! : `[${parsed.errors.join(', ')}]`);
  return { nameservers: parsed.nameservers, searches: parsed.searches, options: parsed.options };
}

function omitDuplicates(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** Options by name; pod dnsConfig options replace the same name (upstream mergeDNSOptions), first-seen order kept. */
function mergeDNSOptions(existing: readonly string[], extra: ReadonlyArray<{ name?: string; value?: string }>): string[] {
  const opts = new Map<string, string>();
  for (const op of existing) {
    const i = op.indexOf(':');
    if (i === -1) opts.set(op, '');
    else opts.set(op.slice(0, i), op.slice(i + 1));
  }
  for (const op of extra) opts.set(op.name ?? '', op.value ?? '');
  return [...opts].map(([name, value]) => (value !== '' ? `${name}:${value}` : name));
}

export interface DNSConfigurerOptions {
  /** `--cluster-dns`: the cluster DNS service IPs. */
  clusterDNS: readonly string[];
  /** `--cluster-domain`, e.g. `cluster.local`; empty = no cluster search domains. */
  clusterDomain: string;
  /** `--resolv-conf` (default `/etc/resolv.conf`); empty = none (host-DNS pods then get 127.0.0.1 / ::1 and search `.`). */
  resolverConfig?: string;
  /** The node's IPs (for the empty resolverConfig case). */
  nodeIPs?: readonly string[];
  /** The node, for node events (`MissingClusterDNS`, `CheckLimitsForResolvConf`). */
  nodeRef?: ObjectReference;
  /** Events: the kubelet's EventRecorder. */
  recorder?: EventSink;
  /** Reads the resolver config (tests inject it); default reads the file. */
  readResolverConfig?: (path: string) => Promise<ResolvConf>;
}

/** `name_namespace(uid)`: upstream format.Pod. */
export function formatPod(pod: Pod): string {
  return `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;
}

type PodDNSType = 'cluster' | 'host' | 'none';

function podDNSType(pod: Pod): PodDNSType {
  switch (pod.spec?.dnsPolicy ?? 'ClusterFirst') {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'ClusterFirst':
      return pod.spec?.hostNetwork ? 'host' : 'cluster';
    case 'Default':
      return 'host';
    default:
      return 'cluster';
  }
}

/** The kubelet's DNS configurer (upstream dns.Configurer). */
export class DNSConfigurer {
  private readonly resolverConfig: string;
  private readonly read: (path: string) => Promise<ResolvConf>;

  constructor(readonly options: DNSConfigurerOptions) {
    this.resolverConfig = options.resolverConfig ?? '/etc/resolv.conf';
    this.read = options.readResolverConfig ?? readResolvConf;
  }

  get clusterDomain(): string {
    return this.options.clusterDomain;
  }

  /** The sandbox's DNSConfig for `pod`; throws when the node's resolv.conf cannot be read or parsed (as upstream). */
  async podDNS(pod: Pod): Promise<DNSConfig> {
    const host: ResolvConf = this.resolverConfig ? await this.read(this.resolverConfig) : { nameservers: [], searches: [], options: [] };
    let config: DNSConfig = { servers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
    let type = podDNSType(pod);
    if (type === 'none') config = { servers: [], searches: [], options: [] };
    if (type === 'cluster') {
      if (this.options.clusterDNS.length > 0) {
        config.servers = [...this.options.clusterDNS];
        config.searches = this.clusterSearches(config.searches, pod);
        config.options = [...DEFAULT_DNS_OPTIONS];
      } else {
        const nodeMsg = `kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`;
        if (this.options.nodeRef) this.options.recorder?.event(this.options.nodeRef, 'Warning', 'MissingClusterDNS', nodeMsg);
        this.options.recorder?.event(podRef(pod), 'Warning', 'MissingClusterDNS', `pod: "${formatPod(pod)}". ${nodeMsg}`);
        type = 'host';
      }
    }
    if (type === 'host' && this.resolverConfig === '') {
      // No resolver config: point at the local machine (the resolver library's own default).
      for (const ip of this.options.nodeIPs ?? []) config.servers.push(ip.includes(':') ? '::1' : '127.0.0.1');
      if (config.servers.length === 0) config.servers.push('127.0.0.1');
      config.searches = ['.'];
    }
    const dc = pod.spec?.dnsConfig;
    if (dc) {
      config.servers = omitDuplicates([...config.servers, ...(dc.nameservers ?? [])]);
      config.searches = omitDuplicates([...config.searches, ...(dc.searches ?? [])]);
      config.options = mergeDNSOptions(config.options, dc.options ?? []);
    }
    return this.fitLimits(config, pod);
  }

  /** `<ns>.svc.<domain> svc.<domain> <domain>` then the host's searches, without duplicates. */
  private clusterSearches(hostSearch: readonly string[], pod: Pod): string[] {
    const d = this.options.clusterDomain;
    if (!d) return [...hostSearch];
    return omitDuplicates([`${pod.metadata?.namespace ?? 'default'}.svc.${d}`, `svc.${d}`, d, ...hostSearch]);
  }

  private fitLimits(config: DNSConfig, pod: Pod): DNSConfig {
    let servers = config.servers;
    if (servers.length > MAX_DNS_NAMESERVERS) {
      servers = servers.slice(0, MAX_DNS_NAMESERVERS);
      this.options.recorder?.event(
        podRef(pod),
        'Warning',
        'DNSConfigForming',
        `Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${servers.join(' ')}`,
      );
    }
    return { servers, searches: this.fitSearchLimits(config.searches, pod), options: config.options };
  }

  private fitSearchLimits(composed: readonly string[], pod: Pod): string[] {
    let exceeded = false;
    let search = [...composed];
    if (search.length > MAX_DNS_SEARCH_PATHS) {
      search = search.slice(0, MAX_DNS_SEARCH_PATHS);
      exceeded = true;
    }
    // glibc 2.28 aborts on a search path longer than 255 characters: drop those.
    const kept = search.filter((s) => s.length <= DNS1123_SUBDOMAIN_MAX_LENGTH);
    if (kept.length !== search.length) exceeded = true;
    search = kept;
    const lineLen = search.join(' ').length;
    if (lineLen > MAX_DNS_SEARCH_LIST_CHARS) {
      let cutLen = 0;
      let cut = 0;
      for (let i = search.length - 1; i >= 0; i--) {
        cutLen += search[i]!.length + 1;
        cut++;
        if (lineLen - cutLen <= MAX_DNS_SEARCH_LIST_CHARS) break;
      }
      search = search.slice(0, search.length - cut);
      exceeded = true;
    }
    if (exceeded) {
      this.options.recorder?.event(
        podRef(pod),
        'Warning',
        'DNSConfigForming',
        `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${search.join(' ')}`,
      );
    }
    return search;
  }

  /**
   * Upstream CheckLimitsForResolvConf: warns on the node (event `CheckLimitsForResolvConf`) when the host's
   * resolv.conf has more search domains, or longer ones, than pods can take. Returns the message, if any.
   */
  async checkLimitsForResolvConf(): Promise<string | undefined> {
    const warn = (msg: string): string => {
      if (this.options.nodeRef) this.options.recorder?.event(this.options.nodeRef, 'Warning', 'CheckLimitsForResolvConf', msg);
      return msg;
    };
    if (!this.resolverConfig) return undefined;
    let host: ResolvConf;
    try {
      host = await this.read(this.resolverConfig);
    } catch (err) {
      return warn(err instanceof Error ? err.message : String(err));
    }
    const limit = MAX_DNS_SEARCH_PATHS - (this.options.clusterDomain ? 3 : 0);
    if (host.searches.length > limit) {
      return warn(`Resolv.conf file '${this.resolverConfig}' contains search line consisting of more than ${limit} domains!`);
    }
    if (host.searches.some((s) => s.length > DNS1123_SUBDOMAIN_MAX_LENGTH)) {
      return warn(`Resolv.conf file "${this.resolverConfig}" contains a search path which length is more than allowed ${DNS1123_SUBDOMAIN_MAX_LENGTH} chars!`);
    }
    if (host.searches.join(' ').length > MAX_DNS_SEARCH_LIST_CHARS) {
      return warn(`Resolv.conf file '${this.resolverConfig}' contains search line which length is more than allowed ${MAX_DNS_SEARCH_LIST_CHARS} chars!`);
    }
    return undefined;
  }
}

/** resolv.conf text for a DNSConfig, as containerd and the process runtime write it into the sandbox. */
export function formatResolvConf(config: DNSConfig): string {
  let out = '';
  if (config.searches.length > 0) out += `search ${config.searches.join(' ')}\n`;
  for (const s of config.servers) out += `nameserver ${s}\n`;
  if (config.options.length > 0) out += `options ${config.options.join(' ')}\n`;
  return out;
}
