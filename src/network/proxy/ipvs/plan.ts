// The IPVS mode as pure functions: the state a sync wants (virtual servers with their real servers,
// addresses on kube-ipvs0, ipset entries, iptables rules), parsers for what the tools report, and the
// diff between the two rendered as ipvsadm-restore / ipset restore / ip -batch text.
// Follows upstream pkg/proxy/ipvs syncProxyRules and writeIptablesRules.
import { parseCIDR, parseIP } from '../../../controllers/nodeipam/cidrSet.js';
import { categorizeEndpoints } from '../serviceModel.js';
import type { EndpointInfo, IPFamily, Protocol, ProxyState } from '../types.js';
import * as N from './names.js';

export interface RealServer {
  ip: string;
  port: number;
  weight: number;
}

export interface VirtualServer {
  protocol: Protocol;
  ip: string;
  port: number;
  scheduler: string;
  /** ClientIP affinity: persistence timeout in seconds (0 = none). */
  persistence: number;
  /** Scheduler flags (`mh-port` for the mh scheduler, as upstream). */
  flags: string[];
  realServers: RealServer[];
}

export interface IpvsDesired {
  /** Keyed by vsKey(). */
  virtualServers: Map<string, VirtualServer>;
  /** Service IPs to bind to kube-ipvs0 so the node accepts them. */
  boundAddresses: Set<string>;
  /** Entries per (family-adjusted) ipset name. */
  ipsets: Map<string, Set<string>>;
  /** The iptables-restore --noflush input (nat and filter). */
  iptables: string;
  /** Rule lines in `iptables`, for the rule-count metric. */
  iptablesRules: number;
}

export interface IpvsPlanOptions {
  scheduler: string;
}

/** `TCP/10.96.0.1:443`, `UDP/[fd00::a]:53`. */
export function vsKey(vs: Pick<VirtualServer, 'protocol' | 'ip' | 'port'>): string {
  return `${vs.protocol}/${hostPort(vs.ip, vs.port)}`;
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function ofFamily(ipOrCidr: string, family: IPFamily): boolean {
  return ipOrCidr.includes(':') === (family === 'IPv6');
}

function cidrContains(cidr: string, ip: string): boolean {
  const a = parseIP(ip);
  if (!a) return false;
  try {
    const c = parseCIDR(cidr);
    const shift = BigInt(c.bits - c.prefix);
    return c.bits === a.bits && a.ip >> shift === c.ip >> shift;
  } catch {
    return false;
  }
}

/** Upstream's `%#08x` of the masquerade bit: 14 → 0x004000. */
export function masqueradeMark(bit: number): string {
  return `0x${(1 << bit).toString(16).padStart(6, '0')}`;
}

/** What the node should hold for `state`. Pure. */
export function planIpvs(state: ProxyState, opts: IpvsPlanOptions): IpvsDesired {
  const family = state.family;
  const set = (name: string) => N.ipsetName(name, family);
  const ipsets = new Map<string, Set<string>>(N.IPSETS.map((s) => [set(s.name), new Set<string>()]));
  const add = (name: string, entry: string) => ipsets.get(set(name))!.add(entry);
  const virtualServers = new Map<string, VirtualServer>();
  const bound = new Set<string>();
  const nodeIPs = state.nodeIPs.filter((ip) => ofFamily(ip, family) && !ip.startsWith('127.') && ip !== '::1');
  const nodeAddresses = new Set(nodeIPs);
  const noNodeAccess: Array<{ ip: string; proto: string; port: number }> = [];

  for (const key of [...state.services.keys()].sort()) {
    const svc = state.services.get(key)!;
    if (!ofFamily(svc.clusterIP, family)) continue;
    const proto = svc.protocol.toLowerCase();
    const endpoints = state.endpoints.get(key) ?? [];
    const cat = categorizeEndpoints(endpoints, svc);
    // Upstream: Local policy uses local endpoints, or falls back to the cluster ones so local pods
    // still reach the service (external replies from a remote pod would be dropped anyway).
    const realServers = (onlyLocal: boolean): RealServer[] =>
      (onlyLocal && cat.localEndpoints.length > 0 ? cat.localEndpoints : cat.clusterEndpoints).map((e: EndpointInfo) => ({ ip: e.ip, port: e.port, weight: 1 }));
    const vs = (ip: string, port: number, onlyLocal: boolean): VirtualServer => ({
      protocol: svc.protocol,
      ip,
      port,
      scheduler: opts.scheduler,
      persistence: svc.stickyMaxAgeSeconds,
      flags: opts.scheduler === 'mh' ? ['mh-port'] : [],
      realServers: realServers(onlyLocal),
    });
    const put = (v: VirtualServer) => virtualServers.set(vsKey(v), v);
    const ipPort = (ip: string) => `${ip},${proto}:${svc.port}`;

    // Hairpin: a local endpoint reaching itself through the service is masqueraded.
    for (const e of endpoints) if (e.isLocal && ofFamily(e.ip, family)) add(N.LOOP_BACK, `${e.ip},${proto}:${e.port},${e.ip}`);

    add(N.CLUSTER_IP, ipPort(svc.clusterIP));
    put(vs(svc.clusterIP, svc.port, svc.internalPolicyLocal));
    bound.add(svc.clusterIP);

    for (const ip of svc.externalIPs.filter((i) => ofFamily(i, family))) {
      add(svc.externalPolicyLocal ? N.EXTERNAL_IP_LOCAL : N.EXTERNAL_IP, ipPort(ip));
      put(vs(ip, svc.port, svc.externalPolicyLocal));
      // An address the node already has must not also go on the dummy device.
      if (!nodeAddresses.has(ip)) bound.add(ip);
    }

    const ranges = svc.loadBalancerSourceRanges.filter((c) => ofFamily(c, family));
    for (const ip of svc.loadBalancerVIPs.filter((i) => ofFamily(i, family))) {
      add(N.LOAD_BALANCER, ipPort(ip));
      if (svc.externalPolicyLocal) add(N.LOAD_BALANCER_LOCAL, ipPort(ip));
      if (ranges.length) {
        add(N.LOAD_BALANCER_FW, ipPort(ip));
        for (const cidr of ranges) add(N.LOAD_BALANCER_SOURCE_CIDR, `${ip},${proto}:${svc.port},${cidr}`);
        // The node reaches a VIP with the VIP as source: let it in when the node is in a range.
        if (nodeIPs.some((n) => ranges.some((c) => cidrContains(c, n)))) add(N.LOAD_BALANCER_SOURCE_IP, `${ip},${proto}:${svc.port},${ip}`);
        else noNodeAccess.push({ ip, proto, port: svc.port });
      }
      put(vs(ip, svc.port, svc.externalPolicyLocal));
      if (!nodeAddresses.has(ip)) bound.add(ip);
    }

    if (svc.nodePort !== 0 && nodeIPs.length > 0) {
      const [all, local] =
        svc.protocol === 'TCP' ? [N.NODE_PORT_TCP, N.NODE_PORT_LOCAL_TCP] : svc.protocol === 'UDP' ? [N.NODE_PORT_UDP, N.NODE_PORT_LOCAL_UDP] : [N.NODE_PORT_SCTP, N.NODE_PORT_LOCAL_SCTP];
      // SCTP sets are hash:ip,port (one entry per node IP); TCP/UDP are port bitmaps.
      const entries = svc.protocol === 'SCTP' ? nodeIPs.map((ip) => `${ip},${proto}:${svc.nodePort}`) : [String(svc.nodePort)];
      for (const e of entries) {
        add(all, e);
        if (svc.externalPolicyLocal) add(local, e);
      }
      for (const ip of nodeIPs) put(vs(ip, svc.nodePort, svc.externalPolicyLocal));
    }

    if (svc.healthCheckNodePort) add(N.HEALTH_CHECK_NODE_PORT, String(svc.healthCheckNodePort));
  }
  for (const ip of bound) add(N.IPVS_IPS, ip);

  const { text, rules } = iptablesRules(state, ipsets, noNodeAccess);
  return { virtualServers, boundAddresses: bound, ipsets, iptables: text, iptablesRules: rules };
}

/** Upstream's ipsetWithIptablesChain: (set, table, from chain, target, match, protocol). */
const SET_RULES: ReadonlyArray<{ set: string; table: 'nat' | 'filter'; from: string; to: string; match: string; proto?: string }> = [
  { set: N.LOOP_BACK, table: 'nat', from: N.KUBE_POSTROUTING, to: 'MASQUERADE', match: 'dst,dst,src' },
  { set: N.LOAD_BALANCER, table: 'nat', from: N.KUBE_SERVICES, to: N.KUBE_LOAD_BALANCER, match: 'dst,dst' },
  { set: N.LOAD_BALANCER_LOCAL, table: 'nat', from: N.KUBE_LOAD_BALANCER, to: 'RETURN', match: 'dst,dst' },
  // Local sets come first: their RETURN keeps Local-policy traffic from being masqueraded.
  { set: N.NODE_PORT_LOCAL_TCP, table: 'nat', from: N.KUBE_NODE_PORT, to: 'RETURN', match: 'dst', proto: 'tcp' },
  { set: N.NODE_PORT_TCP, table: 'nat', from: N.KUBE_NODE_PORT, to: N.KUBE_MARK_MASQ, match: 'dst', proto: 'tcp' },
  { set: N.NODE_PORT_LOCAL_UDP, table: 'nat', from: N.KUBE_NODE_PORT, to: 'RETURN', match: 'dst', proto: 'udp' },
  { set: N.NODE_PORT_UDP, table: 'nat', from: N.KUBE_NODE_PORT, to: N.KUBE_MARK_MASQ, match: 'dst', proto: 'udp' },
  { set: N.NODE_PORT_LOCAL_SCTP, table: 'nat', from: N.KUBE_NODE_PORT, to: 'RETURN', match: 'dst,dst', proto: 'sctp' },
  { set: N.NODE_PORT_SCTP, table: 'nat', from: N.KUBE_NODE_PORT, to: N.KUBE_MARK_MASQ, match: 'dst,dst', proto: 'sctp' },
  { set: N.LOAD_BALANCER_FW, table: 'filter', from: N.KUBE_PROXY_FIREWALL, to: N.KUBE_SOURCE_RANGES_FIREWALL, match: 'dst,dst' },
  { set: N.LOAD_BALANCER_SOURCE_CIDR, table: 'filter', from: N.KUBE_SOURCE_RANGES_FIREWALL, to: 'RETURN', match: 'dst,dst,src' },
  { set: N.LOAD_BALANCER_SOURCE_IP, table: 'filter', from: N.KUBE_SOURCE_RANGES_FIREWALL, to: 'RETURN', match: 'dst,dst,src' },
];

const COMMENT = new Map(N.IPSETS.map((s) => [s.name, s.comment]));

function iptablesRules(state: ProxyState, ipsets: Map<string, Set<string>>, noNodeAccess: Array<{ ip: string; proto: string; port: number }>): { text: string; rules: number } {
  const family = state.family;
  const set = (name: string) => N.ipsetName(name, family);
  const empty = (name: string) => ipsets.get(set(name))!.size === 0;
  const comment = (name: string) => `-m comment --comment "${COMMENT.get(name)}"`;
  const matchSet = (name: string, match: string) => `-m set --match-set ${set(name)} ${match}`;
  const mark = masqueradeMark(state.masqueradeBit);
  const clusterCIDRs = state.clusterCIDRs.filter((c) => ofFamily(c, family));
  const nat: string[] = [];
  const filter: string[] = [];

  nat.push(`-A ${N.KUBE_SERVICES} -s ${family === 'IPv6' ? '::1/128' : '127.0.0.0/8'} -j RETURN`);
  for (const r of SET_RULES) {
    if (empty(r.set)) continue;
    const line = `-A ${r.from}${r.proto ? ` -p ${r.proto}` : ''} ${comment(r.set)} ${matchSet(r.set, r.match)} -j ${r.to}`;
    (r.table === 'nat' ? nat : filter).push(line);
  }
  if (!empty(N.CLUSTER_IP)) {
    const base = `-A ${N.KUBE_SERVICES} ${comment(N.CLUSTER_IP)} -m set --match-set ${set(N.CLUSTER_IP)}`;
    if (state.masqueradeAll) nat.push(`${base} dst,dst -j ${N.KUBE_MARK_MASQ}`);
    // Off-cluster traffic to a service IP may be bounced to another node: masquerade it.
    else if (clusterCIDRs.length === 1) nat.push(`${base} dst,dst ! -s ${clusterCIDRs[0]} -j ${N.KUBE_MARK_MASQ}`);
    // Without a pod CIDR, node-originated traffic picks a VIP as source (all VIPs are local): masquerade that.
    else nat.push(`${base} src,dst -j ${N.KUBE_MARK_MASQ}`);
  }
  const externalAccept = (base: string) => {
    // From off the machine (not a bridge port, not a local source), or to an address that is local anyway.
    nat.push(`${base} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    nat.push(`${base} -m addrtype --dst-type LOCAL -j ACCEPT`);
  };
  if (!empty(N.EXTERNAL_IP)) {
    const base = `-A ${N.KUBE_SERVICES} ${comment(N.EXTERNAL_IP)} ${matchSet(N.EXTERNAL_IP, 'dst,dst')}`;
    nat.push(`${base} -j ${N.KUBE_MARK_MASQ}`);
    externalAccept(base);
  }
  if (!empty(N.EXTERNAL_IP_LOCAL)) externalAccept(`-A ${N.KUBE_SERVICES} ${comment(N.EXTERNAL_IP_LOCAL)} ${matchSet(N.EXTERNAL_IP_LOCAL, 'dst,dst')}`);
  nat.push(`-A ${N.KUBE_SERVICES} -m addrtype --dst-type LOCAL -j ${N.KUBE_NODE_PORT}`);
  nat.push(`-A ${N.KUBE_LOAD_BALANCER} -j ${N.KUBE_MARK_MASQ}`);
  filter.push(`-A ${N.KUBE_SOURCE_RANGES_FIREWALL} -j DROP`);
  // A LoadBalancer with source ranges that exclude the node: the node's own requests (source = VIP) are dropped.
  for (const e of noNodeAccess) filter.push(`-A ${N.KUBE_IPVS_OUT_FILTER} -s ${e.ip} -m ipvs --vaddr ${e.ip} --vproto ${e.proto} --vport ${e.port} -j DROP`);
  // IPVS traffic must not be stopped by other rules later in the chain.
  for (const s of [N.CLUSTER_IP, N.LOAD_BALANCER]) if (!empty(s)) nat.push(`-A ${N.KUBE_SERVICES} ${matchSet(s, 'dst,dst')} -j ACCEPT`);
  filter.push(`-A ${N.KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filter.push(`-A ${N.KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  filter.push(`-A ${N.KUBE_NODE_PORT} ${comment(N.HEALTH_CHECK_NODE_PORT)} ${matchSet(N.HEALTH_CHECK_NODE_PORT, 'dst')} -j ACCEPT`);
  // Service VIPs are local addresses: refuse new connections to any other port on them.
  for (const s of [N.LOAD_BALANCER, N.CLUSTER_IP, N.EXTERNAL_IP, N.EXTERNAL_IP_LOCAL]) filter.push(`-A ${N.KUBE_IPVS_FILTER} ${matchSet(s, 'dst,dst')} -j RETURN`);
  filter.push(`-A ${N.KUBE_IPVS_FILTER} ${matchSet(N.HEALTH_CHECK_NODE_PORT, 'dst')} -j RETURN`);
  filter.push(`-A ${N.KUBE_IPVS_FILTER} -m conntrack --ctstate NEW ${matchSet(N.IPVS_IPS, 'dst')} -j REJECT`);
  nat.push(`-A ${N.KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A ${N.KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  nat.push(`-A ${N.KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`);
  nat.push(`-A ${N.KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);

  const text = [
    '*nat',
    ...N.NAT_CHAINS.map((c) => `:${c} - [0:0]`),
    ...nat,
    'COMMIT',
    '*filter',
    ...N.FILTER_CHAINS.map((c) => `:${c} - [0:0]`),
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
  return { text, rules: nat.length + filter.length };
}

// ---- what the tools report ----

export interface IpvsCurrent {
  virtualServers: Map<string, VirtualServer>;
  boundAddresses: Set<string>;
  ipsets: Map<string, Set<string>>;
}

const PROTO_FLAG: Record<string, Protocol> = { '-t': 'TCP', '--tcp-service': 'TCP', '-u': 'UDP', '--udp-service': 'UDP', '--sctp-service': 'SCTP' };
const FLAG_OF: Record<Protocol, string> = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' };

function splitHostPort(s: string): { ip: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(s) ?? /^(.*):(\d+)$/.exec(s);
  if (!m) throw new Error(`cannot parse address "${s}"`);
  return { ip: m[1]!, port: Number(m[2]) };
}

/**
 * Parses `ipvsadm -S -n` (`-A -t 10.96.0.1:443 -s rr [-p 10800]`, `-a -t … -r 10.0.0.5:6443 -m -w 1`).
 * Virtual servers marked by firewall mark (-f) are not ours and are skipped.
 */
export function parseIpvsadmSave(text: string): Map<string, VirtualServer> {
  const out = new Map<string, VirtualServer>();
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    if (words.length < 3) continue;
    const [cmd, flag, addr] = words as [string, string, string];
    const protocol = PROTO_FLAG[flag];
    if (!protocol) continue;
    const { ip, port } = splitHostPort(addr);
    const key = vsKey({ protocol, ip, port });
    const opt = (name: string) => {
      const i = words.indexOf(name);
      return i >= 0 ? words[i + 1] : undefined;
    };
    if (cmd === '-A') {
      out.set(key, { protocol, ip, port, scheduler: opt('-s') ?? N.DEFAULT_SCHEDULER, persistence: Number(opt('-p') ?? 0), flags: (opt('-b') ?? '').split(',').filter(Boolean), realServers: [] });
    } else if (cmd === '-a') {
      const rs = opt('-r');
      const vs = out.get(key);
      if (!rs || !vs) continue;
      vs.realServers.push({ ...splitHostPort(rs), weight: Number(opt('-w') ?? 1) });
    }
  }
  return out;
}

/** Parses `ipset save` into entries per set, keeping only the sets named in `names`. */
export function parseIpsetSave(text: string, names: ReadonlySet<string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const [cmd, name, entry] = line.trim().split(/\s+/);
    if (!name || !names.has(name)) continue;
    if (cmd === 'create') out.set(name, out.get(name) ?? new Set());
    else if (cmd === 'add' && entry) (out.get(name) ?? out.set(name, new Set()).get(name)!).add(entry);
  }
  return out;
}

/** Addresses from `ip -o addr show dev kube-ipvs0`. */
export function parseIpAddrShow(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\binet6? ([0-9a-fA-F.:]+)\/\d+/g)) out.add(m[1]!);
  return out;
}

// ---- the diff, as tool input ----

export interface IpvsApply {
  /** `ipset restore -exist` input: creates, adds and deletes of entries. */
  ipsetRestore: string;
  /** `ipvsadm-restore` input: new and changed virtual servers and real servers, removed real servers. */
  ipvsUpserts: string;
  /** `ipvsadm-restore` input run last: virtual servers nobody wants any more. */
  ipvsDeletes: string;
  /** `ip -batch -` input adding service IPs to kube-ipvs0. */
  addressAdds: string;
  /** `ip -batch -` input removing service IPs nobody wants from kube-ipvs0. */
  addressDeletes: string;
  /** Entries, virtual and real servers written. */
  changes: number;
}

function ipsetCreate(name: string, type: N.IPSetType, family: IPFamily): string {
  const opts = type === 'bitmap:port' ? 'range 0-65535' : `family ${family === 'IPv6' ? 'inet6' : 'inet'} hashsize 1024 maxelem 65536`;
  return `create ${name} ${type} ${opts}`;
}

function vsLine(cmd: '-A' | '-E', vs: VirtualServer): string {
  let line = `${cmd} ${FLAG_OF[vs.protocol]} ${hostPort(vs.ip, vs.port)} -s ${vs.scheduler}`;
  if (vs.flags.length) line += ` -b ${vs.flags.join(',')}`;
  if (vs.persistence > 0) line += ` -p ${vs.persistence}`;
  return line;
}

function rsLine(cmd: '-a' | '-e' | '-d', vs: VirtualServer, rs: RealServer): string {
  const base = `${cmd} ${FLAG_OF[vs.protocol]} ${hostPort(vs.ip, vs.port)} -r ${hostPort(rs.ip, rs.port)}`;
  // Masquerading (NAT) forwarding, as upstream's default.
  return cmd === '-d' ? base : `${base} -m -w ${rs.weight}`;
}

/**
 * The changes that turn `current` into `desired`, ordered so that a failure part-way leaves working
 * rules: sets and servers are added first, deletions come after the iptables rules are in place.
 * Virtual servers of the other IP family are left alone.
 */
export function diffIpvs(current: IpvsCurrent, desired: IpvsDesired, family: IPFamily): IpvsApply {
  let changes = 0;
  const ipset: string[] = [];
  for (const s of N.IPSETS) {
    const name = N.ipsetName(s.name, family);
    ipset.push(ipsetCreate(name, s.type, family));
    const want = desired.ipsets.get(name) ?? new Set<string>();
    const have = current.ipsets.get(name) ?? new Set<string>();
    for (const e of have) if (!want.has(e)) (ipset.push(`del ${name} ${e}`), changes++);
    for (const e of want) if (!have.has(e)) (ipset.push(`add ${name} ${e}`), changes++);
  }

  const upserts: string[] = [];
  const deletes: string[] = [];
  for (const [key, want] of desired.virtualServers) {
    const have = current.virtualServers.get(key);
    if (!have) {
      upserts.push(vsLine('-A', want));
      changes++;
    } else if (have.scheduler !== want.scheduler || have.persistence !== want.persistence || have.flags.join(',') !== want.flags.join(',')) {
      upserts.push(vsLine('-E', want));
      changes++;
    }
    const haveRS = new Map((have?.realServers ?? []).map((r) => [hostPort(r.ip, r.port), r]));
    const wantRS = new Map(want.realServers.map((r) => [hostPort(r.ip, r.port), r]));
    for (const [k, r] of wantRS) {
      const h = haveRS.get(k);
      if (!h) (upserts.push(rsLine('-a', want, r)), changes++);
      else if (h.weight !== r.weight) (upserts.push(rsLine('-e', want, r)), changes++);
    }
    for (const [k, r] of haveRS) if (!wantRS.has(k)) (upserts.push(rsLine('-d', want, r)), changes++);
  }
  for (const [key, have] of current.virtualServers) {
    if (desired.virtualServers.has(key) || !ofFamily(have.ip, family)) continue;
    deletes.push(`-D ${FLAG_OF[have.protocol]} ${hostPort(have.ip, have.port)}`);
    changes++;
  }

  const plen = family === 'IPv6' ? 128 : 32;
  const adds = [...desired.boundAddresses].filter((ip) => !current.boundAddresses.has(ip)).map((ip) => `addr add ${ip}/${plen} dev ${N.DUMMY_DEVICE}${family === 'IPv6' ? ' nodad' : ''}`);
  const dels = [...current.boundAddresses].filter((ip) => !desired.boundAddresses.has(ip) && ofFamily(ip, family)).map((ip) => `addr del ${ip}/${plen} dev ${N.DUMMY_DEVICE}`);
  const text = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');
  return {
    ipsetRestore: text(ipset),
    ipvsUpserts: text(upserts),
    ipvsDeletes: text(deletes),
    addressAdds: text(adds),
    addressDeletes: text(dels),
    changes: changes + adds.length + dels.length,
  };
}

/** Virtual servers + real servers + ipset entries + iptables rules of a desired state. */
export function countRules(d: IpvsDesired): number {
  let n = d.iptablesRules;
  for (const vs of d.virtualServers.values()) n += 1 + vs.realServers.length;
  for (const s of d.ipsets.values()) n += s.size;
  return n;
}

