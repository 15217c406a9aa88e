// The `kubernetes` plugin: answers for names in the cluster zones (and reverse zones) from the
// ClusterIndex, record for record as CoreDNS's kubernetes plugin does, including which names are
// NXDOMAIN and which are NODATA, and which name errors fall through to the next plugin.
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import type { KubernetesPluginConfig } from './corefile.js';
import { matchZone } from './corefile.js';
import type { ClusterIndex, EndpointAddress, PortEntry, ServiceEntry } from './clusterIndex.js';
import { serviceKey } from './clusterIndex.js';
import { addressFromReverse, endpointHostname, INVALID_REQUEST, isReverse, parseRequest, podLabelToIP, type RecordRequest } from './names.js';

/** An RCODE by name (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, …). */
export type Rcode = string;

/** What a plugin answers: a message body, or "not mine, ask the next plugin". */
export interface PluginResult {
  rcode: Rcode;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  authoritative: boolean;
  recursionAvailable?: boolean;
  truncated?: boolean;
  /** Name of the plugin that wrote it (the `plugin` label of coredns_dns_responses_total). */
  plugin: string;
  /** Why a SERVFAIL happened, for the errors plugin's log. */
  error?: string;
}

/** Resolves a name outside the zone through the rest of the server (ExternalName targets). */
export type UpstreamLookup = (name: string, type: 'A' | 'AAAA') => Promise<{ answers: Answer[]; truncated: boolean } | undefined>;

/** One service-shaped result (CoreDNS's msg.Service): a host (IP or name) with the record name it lives at. */
interface Found {
  host: string;
  port: number;
  /** The DNS name of the record (`web.ns.svc.zone.` or `web-0.web.ns.svc.zone.`). */
  domain: string;
  text?: string;
}

type NameError = 'noItems' | 'nsNotExposed' | 'invalid';
interface Lookup {
  found: Found[];
  err?: NameError;
}

const MAX_CNAME_CHAIN = 10;
const DNS_SCHEMA_VERSION = '1.1.0';

/** Lowercase, fully qualified (trailing dot). */
function lower(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

/** dns-packet names carry no trailing dot. */
function wire(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name === '.' ? '' : name;
}

function hostType(host: string): 'A' | 'AAAA' | 'CNAME' {
  if (isIPv4(host)) return 'A';
  if (isIPv6(host)) return 'AAAA';
  return 'CNAME';
}

function matchLabel(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}

function matchPortAndProtocol(aPort: string, bPort: string, aProto: string, bProto: string): boolean {
  return (aPort === '' || matchLabel(aPort, bPort)) && (aProto === '' || matchLabel(aProto, bProto));
}

export interface KubernetesPluginOptions {
  config: KubernetesPluginConfig;
  index: ClusterIndex;
  /** Non-loopback addresses this server answers on (for NS records of the zone). */
  localIPs: () => string[];
}

export class KubernetesPlugin {
  readonly name = 'kubernetes';
  private readonly cfg: KubernetesPluginConfig;
  private readonly index: ClusterIndex;
  private readonly localIPs: () => string[];
  /** The first non-reverse zone: where PTR targets live. */
  private readonly primaryZone: string;

  constructor(opts: KubernetesPluginOptions) {
    this.cfg = opts.config;
    this.index = opts.index;
    this.localIPs = opts.localIPs;
    this.primaryZone = this.cfg.zones.find((z) => !isReverse(z)) ?? this.cfg.zones[0] ?? 'cluster.local.';
  }

  /** The zone of this plugin that `qname` is in, or undefined when the plugin does not serve it. */
  zoneOf(qnameLower: string): string | undefined {
    return matchZone(this.cfg.zones, qnameLower);
  }

  /**
   * Answers `qname`/`qtype`, or returns 'next' when the name is not in a zone of this plugin or is a
   * name error in a fallthrough zone. Synchronous unless an ExternalName must be resolved upstream.
   */
  async resolve(qname: string, qtype: string, upstream: UpstreamLookup): Promise<PluginResult | 'next'> {
    const name = lower(qname);
    const zone = this.zoneOf(name);
    if (!zone) return 'next';
    let answers: Answer[] = [];
    let additionals: Answer[] = [];
    let truncated = false;
    let err: NameError | undefined;
    switch (qtype) {
      case 'A':
      case 'AAAA': {
        const r = await this.address(qname, name, zone, qtype, [], upstream);
        ({ answers, truncated, err } = r);
        break;
      }
      case 'TXT':
        ({ answers, err } = this.txt(qname, name, zone));
        break;
      case 'CNAME': {
        const l = this.services(name, zone, 'CNAME');
        err = l.err;
        const first = l.found[0];
        if (first && hostType(first.host) === 'CNAME') answers = [{ name: wire(qname), type: 'CNAME', class: 'IN', ttl: this.cfg.ttl, data: wire(first.host) }];
        break;
      }
      case 'PTR':
        ({ answers, err } = this.ptr(qname, name, zone));
        break;
      case 'MX': {
        // Kubernetes records are never mail exchangers: the lookup only tells NODATA from NXDOMAIN.
        err = this.services(name, zone, 'MX').err;
        break;
      }
      case 'SRV':
        ({ answers, additionals, err } = this.srv(qname, name, zone));
        break;
      case 'SOA':
        if (name === zone) answers = [this.soa(zone)];
        break;
      case 'AXFR':
      case 'IXFR':
        return { rcode: 'REFUSED', answers: [], authorities: [], additionals: [], authoritative: false, plugin: this.name };
      case 'NS':
        if (name === zone) {
          ({ answers, additionals } = this.ns(zone));
          break;
        }
        // NS below the apex is answered like any other type.
        err = (await this.address(qname, name, zone, 'A', [], upstream)).err;
        break;
      default: {
        // A fake A lookup tells NODATA from NXDOMAIN for every other type.
        err = (await this.address(qname, name, zone, 'A', [], upstream)).err;
      }
    }
    if (err) {
      if (this.fallsThrough(name)) return 'next';
      // Until the informers have synced, "no such name" may be false: SERVFAIL, as upstream.
      const rcode = this.index.hasSynced() ? 'NXDOMAIN' : 'SERVFAIL';
      return { rcode, answers: [], authorities: [this.soa(zone)], additionals: [], authoritative: true, plugin: this.name };
    }
    if (answers.length === 0) return { rcode: 'NOERROR', answers: [], authorities: [this.soa(zone)], additionals: [], authoritative: true, plugin: this.name };
    return { rcode: 'NOERROR', answers, authorities: [], additionals, authoritative: true, truncated, plugin: this.name };
  }

  private fallsThrough(name: string): boolean {
    const f = this.cfg.fallthrough;
    if (f === null) return false;
    if (f.length === 0) return true;
    return matchZone(f, name) !== undefined;
  }

  /** The zone's SOA, as CoreDNS builds it (serial = last change, minimum = ttl). */
  soa(zone: string): Answer {
    const ttl = this.cfg.ttl;
    return {
      name: wire(zone),
      type: 'SOA',
      class: 'IN',
      ttl: Math.min(ttl, 300),
      data: { mname: wire(`ns.dns.${zone}`), rname: wire(`hostmaster.${zone}`), serial: this.index.modified >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl },
    };
  }

  private namespaceExposed(ns: string): boolean {
    if (this.cfg.namespaces.length > 0 && !this.cfg.namespaces.includes(ns)) return false;
    return this.index.namespaceExists(ns);
  }

  /** CoreDNS's Records(): services, endpoints or pods a name stands for. */
  private records(name: string, zone: string): Lookup {
    const r = parseRequest(name, zone);
    if (r === INVALID_REQUEST) return { found: [], err: 'invalid' };
    if (r.podOrSvc === '') return { found: [] };
    if (isReverse(name)) return { found: [], err: 'noItems' };
    if (!this.namespaceExposed(r.namespace)) return { found: [], err: 'nsNotExposed' };
    return r.podOrSvc === 'pod' ? this.findPods(r, zone) : this.findServices(r, zone);
  }

  /** CoreDNS's Services(): records() plus the special names (dns-version TXT, ns.dns.<zone>). */
  private services(name: string, zone: string, qtype: string): Lookup {
    if (qtype === 'TXT') {
      const base = name === zone ? '' : name.slice(0, name.length - zone.length - 1);
      if (base === 'dns-version') return { found: [{ host: '', port: 0, domain: name, text: DNS_SCHEMA_VERSION }] };
      const l = this.records(name, zone);
      if (l.found.length > 0) return { found: [] };
      return { found: [], err: 'noItems' };
    }
    if (name === `ns.dns.${zone}`) {
      const want = qtype === 'AAAA' ? 'AAAA' : 'A';
      return { found: this.nsAddrs(zone).filter((a) => hostType(a.ip) === want && qtype !== 'SRV').map((a) => ({ host: a.ip, port: 0, domain: name })) };
    }
    const l = this.records(name, zone);
    // SRV for ExternalName services is not answered (as upstream): drop the CNAME-shaped results.
    if (qtype === 'SRV') return { found: l.found.filter((f) => hostType(f.host) !== 'CNAME'), ...(l.err ? { err: l.err } : {}) };
    return l;
  }

  private findPods(r: RecordRequest, zone: string): Lookup {
    if (this.cfg.podMode === 'disabled') return { found: [], err: 'noItems' };
    if (r.service === '') return { found: [] };
    const ip = podLabelToIP(r.service);
    if (!ip) return { found: [], err: 'noItems' };
    // insecure: any well-formed address answers; verified: only addresses of pods in that namespace.
    if (this.cfg.podMode === 'verified' && !this.index.podExists(r.namespace, ip)) return { found: [], err: 'noItems' };
    return { found: [{ host: ip, port: 0, domain: `${r.service}.${r.namespace}.pod.${zone}` }] };
  }

  private findServices(r: RecordRequest, zone: string): Lookup {
    if (r.service === '') return { found: [] };
    const svc = this.index.service(r.service, r.namespace) ?? this.index.service(r.service.toLowerCase(), r.namespace.toLowerCase());
    if (!svc) return { found: [], err: 'noItems' };
    const found: Found[] = [];
    let err: NameError | undefined = 'noItems';
    const svcDomain = `${svc.name}.${svc.namespace}.svc.${zone}`;
    if (this.cfg.ignoreEmptyService && svc.type !== 'ExternalName' && !svc.headless) {
      let count = 0;
      for (const s of this.index.slicesOf(serviceKey(svc.name, svc.namespace))) count += s.addresses.length;
      if (count === 0) return { found: [], err: 'noItems' };
    }
    if (svc.type === 'ExternalName') {
      if (r.endpoint !== '' || r.port !== '' || r.protocol !== '') return { found: [], err };
      if (svc.externalName && hostType(svc.externalName) === 'CNAME') {
        found.push({ host: lower(svc.externalName), port: 0, domain: svcDomain });
        err = undefined;
      }
      return { found, ...(err ? { err } : {}) };
    }
    if (svc.headless || r.endpoint !== '') {
      for (const slice of this.index.slicesOf(serviceKey(svc.name, svc.namespace))) {
        for (const addr of slice.addresses) {
          const host = endpointHostname(addr, this.cfg.endpointPodNames);
          if (r.endpoint !== '' && !matchLabel(r.endpoint, host)) continue;
          for (const p of slice.ports) {
            if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
            found.push({ host: addr.ip, port: p.port, domain: `${host}.${svcDomain}` });
            err = undefined;
          }
        }
      }
      return { found, ...(err ? { err } : {}) };
    }
    for (const p of svc.ports) {
      if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
      err = undefined;
      for (const ip of svc.clusterIPs) found.push({ host: ip, port: p.port, domain: svcDomain });
    }
    return { found, ...(err ? { err } : {}) };
  }

  /** A and AAAA, following CNAMEs inside the zone and asking upstream for targets outside it. */
  private async address(
    qname: string,
    name: string,
    zone: string,
    qtype: 'A' | 'AAAA',
    previous: Answer[],
    upstream: UpstreamLookup,
  ): Promise<{ answers: Answer[]; truncated: boolean; err?: NameError }> {
    let l: Lookup;
    if (name === zone) {
      // The apex answers what apex.dns.<zone> holds; nothing does, so it is the apex itself (NODATA).
      l = this.services(`apex.dns.${zone}`, zone, qtype);
      if (l.err) l = this.services(name, zone, qtype);
    } else {
      l = this.services(name, zone, qtype);
    }
    if (l.err) return { answers: [], truncated: false, err: l.err };
    const answers: Answer[] = [];
    let truncated = false;
    const seen = new Set<string>();
    for (const f of l.found) {
      const t = hostType(f.host);
      if (t === 'CNAME') {
        if (lower(f.host) === name) continue;
        const cname: Answer = { name: wire(qname), type: 'CNAME', class: 'IN', ttl: this.cfg.ttl, data: wire(f.host) };
        if (previous.length > MAX_CNAME_CHAIN) continue;
        if (previous.some((p) => p.type === 'CNAME' && lower(p.name) === lower(cname.name) && p.data === cname.data)) continue;
        const target = lower(f.host);
        if (matchZone([zone], target)) {
          const next = await this.address(f.host, target, zone, qtype, [...previous, cname], upstream);
          if (!next.err && next.answers.length > 0) answers.push(cname, ...next.answers);
          if (next.truncated) truncated = true;
          continue;
        }
        const m = await upstream(target, qtype);
        if (!m) continue;
        if (m.truncated) truncated = true;
        answers.push(cname, ...m.answers);
        continue;
      }
      if (t !== qtype || seen.has(f.host)) continue;
      seen.add(f.host);
      answers.push({ name: wire(qname), type: qtype, class: 'IN', ttl: this.cfg.ttl, data: f.host });
    }
    return { answers, truncated };
  }

  private txt(qname: string, name: string, zone: string): { answers: Answer[]; err?: NameError } {
    const l = this.services(name, zone, 'TXT');
    if (l.err) return { answers: [], err: l.err };
    return { answers: l.found.filter((f) => f.text !== undefined).map((f) => ({ name: wire(qname), type: 'TXT', class: 'IN', ttl: 28800, data: f.text! })) };
  }

  private srv(qname: string, name: string, zone: string): { answers: Answer[]; additionals: Answer[]; err?: NameError } {
    const l = this.services(name, zone, 'SRV');
    if (l.err) return { answers: [], additionals: [], err: l.err };
    // Every record has priority 0 and weight 100 before normalisation: each gets 100/n percent.
    const weight = Math.max(1, Math.floor((100 / (100 * l.found.length)) * 100));
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    const seenTarget = new Set<string>();
    const seenAddr = new Set<string>();
    for (const f of l.found) {
      if (f.port === -1) continue;
      const t = hostType(f.host);
      if (t === 'CNAME') continue;
      const target = f.domain;
      if (!seenTarget.has(`${target}|${f.port}`)) {
        seenTarget.add(`${target}|${f.port}`);
        answers.push({ name: wire(qname), type: 'SRV', class: 'IN', ttl: this.cfg.ttl, data: { priority: 0, weight, port: f.port, target: wire(target) } });
      }
      if (!seenAddr.has(`${target}|${f.host}`)) {
        seenAddr.add(`${target}|${f.host}`);
        additionals.push({ name: wire(target), type: t, class: 'IN', ttl: this.cfg.ttl, data: f.host });
      }
    }
    return { answers, additionals };
  }

  private ptr(qname: string, name: string, zone: string): { answers: Answer[]; err?: NameError } {
    const ip = addressFromReverse(name);
    if (!ip) {
      const e = this.records(name, zone).err;
      return { answers: [], ...(e ? { err: e } : {}) };
    }
    const targets = this.reverse(ip);
    if (targets.length === 0) return { answers: [], err: 'noItems' };
    return { answers: targets.map((t) => ({ name: wire(qname), type: 'PTR', class: 'IN', ttl: this.cfg.ttl, data: wire(t) })) };
  }

  /** Names of `ip`: the first Service with it as a cluster IP, else every ready endpoint with it. */
  reverse(ip: string): string[] {
    const exposed = (ns: string) => this.cfg.namespaces.length === 0 || this.cfg.namespaces.includes(ns);
    for (const svc of this.index.servicesWithIP(ip)) {
      if (!exposed(svc.namespace)) continue;
      return [`${svc.name}.${svc.namespace}.svc.${this.primaryZone}`];
    }
    const out: string[] = [];
    for (const slice of this.index.slicesWithIP(ip)) {
      if (!exposed(slice.namespace)) continue;
      for (const a of slice.addresses) {
        if (a.ip !== ip) continue;
        const t = `${endpointHostname(a, this.cfg.endpointPodNames)}.${slice.serviceKey}.svc.${this.primaryZone}`;
        if (!out.includes(t)) out.push(t);
      }
    }
    return out;
  }

  /** NS records of the apex: this server's own Service (found through its endpoints), else ns.dns.<zone>. */
  private ns(zone: string): { answers: Answer[]; additionals: Answer[] } {
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    const seen = new Set<string>();
    for (const a of this.nsAddrs(zone)) {
      additionals.push({ name: wire(a.name), type: hostType(a.ip) as 'A' | 'AAAA', class: 'IN', ttl: this.cfg.ttl, data: a.ip });
      if (seen.has(a.name)) continue;
      seen.add(a.name);
      answers.push({ name: wire(zone), type: 'NS', class: 'IN', ttl: this.cfg.ttl, data: wire(a.name) });
    }
    return { answers, additionals };
  }

  private nsAddrs(zone: string): Array<{ name: string; ip: string }> {
    const out: Array<{ name: string; ip: string }> = [];
    let foundEndpoint = false;
    const local = this.localIPs();
    for (const ip of local) {
      for (const slice of this.index.slicesWithIP(ip)) {
        foundEndpoint = true;
        const [svcName, ns] = splitServiceKey(slice.serviceKey);
        const svc = this.index.service(svcName, ns);
        if (!svc) continue;
        const svcDomain = `${svc.name}.${svc.namespace}.svc.${zone}`;
        if (svc.headless) {
          for (const a of slice.addresses) out.push({ name: `${endpointHostname(a, this.cfg.endpointPodNames)}.${svcDomain}`, ip: a.ip });
        } else {
          for (const cip of svc.clusterIPs) out.push({ name: svcDomain, ip: cip });
        }
      }
    }
    if (!foundEndpoint) for (const ip of local) out.push({ name: `ns.dns.${zone}`, ip });
    return out;
  }
}

function splitServiceKey(key: string): [string, string] {
  const i = key.indexOf('.');
  return [key.slice(0, i), key.slice(i + 1)];
}

export type { EndpointAddress, PortEntry, ServiceEntry };
