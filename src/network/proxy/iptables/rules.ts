// The iptables mode's rules as pure text: proxy state in, `iptables-restore --noflush` input out
// (upstream pkg/proxy/iptables syncProxyRules, in our words). No I/O here, so every rule shape is
// unit-tested from tables; the backend (proxier.ts) only runs the tools.
import { categorizeEndpoints } from '../serviceModel.js';
import { endpointKey, servicePortNameKey, type EndpointInfo, type ProxyState, type ServicePortInfo } from '../types.js';
import * as C from './chains.js';

/** Beyond this many endpoints in total, per-endpoint comments are left out (upstream's large cluster mode). */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

/** A jump from a built-in chain to one of ours, ensured outside iptables-restore (we must not own the built-in chains). */
export interface JumpRule {
  table: 'filter' | 'nat';
  srcChain: string;
  dstChain: string;
  /** The rule's arguments without `-A <chain>`. */
  args: string[];
}

/** Upstream's jump rules, in the order they are prepended. */
export function jumpRules(state: Pick<ProxyState, 'family' | 'localhostNodePorts'>): JumpRule[] {
  const newOnly = ['-m', 'conntrack', '--ctstate', 'NEW'];
  const j = (table: JumpRule['table'], dst: string, src: string, comment: string, extra: string[] = []): JumpRule => ({
    table,
    srcChain: src,
    dstChain: dst,
    args: [...extra, ...(comment ? ['-m', 'comment', '--comment', comment] : []), '-j', dst],
  });
  const rules = [
    j('filter', C.KUBE_EXTERNAL_SERVICES, 'INPUT', 'kubernetes externally-visible service portals', newOnly),
    j('filter', C.KUBE_EXTERNAL_SERVICES, 'FORWARD', 'kubernetes externally-visible service portals', newOnly),
    j('filter', C.KUBE_NODEPORTS, 'INPUT', 'kubernetes health check service ports'),
    j('filter', C.KUBE_SERVICES, 'FORWARD', 'kubernetes service portals', newOnly),
    j('filter', C.KUBE_SERVICES, 'OUTPUT', 'kubernetes service portals', newOnly),
    j('filter', C.KUBE_FORWARD, 'FORWARD', 'kubernetes forwarding rules'),
    j('filter', C.KUBE_PROXY_FIREWALL, 'INPUT', 'kubernetes load balancer firewall', newOnly),
    j('filter', C.KUBE_PROXY_FIREWALL, 'OUTPUT', 'kubernetes load balancer firewall', newOnly),
    j('filter', C.KUBE_PROXY_FIREWALL, 'FORWARD', 'kubernetes load balancer firewall', newOnly),
    j('nat', C.KUBE_SERVICES, 'OUTPUT', 'kubernetes service portals'),
    j('nat', C.KUBE_SERVICES, 'PREROUTING', 'kubernetes service portals'),
    j('nat', C.KUBE_POSTROUTING, 'POSTROUTING', 'kubernetes postrouting rules'),
  ];
  if (state.family === 'IPv4' && state.localhostNodePorts) {
    rules.push(j('filter', C.KUBE_FIREWALL, 'INPUT', '', newOnly), j('filter', C.KUBE_FIREWALL, 'OUTPUT', '', newOnly));
  }
  return rules;
}

export interface RulesInput {
  state: ProxyState;
  /** Rewrite every service's chains (else only those in `changed`). */
  full: boolean;
  /** servicePortNameKeys whose chains must be rewritten in a partial sync. */
  changed: ReadonlySet<string>;
  /** NAT service chains present now (from iptables-save or the last sync); those no longer used are deleted. */
  existingNatChains: ReadonlySet<string>;
}

export interface RulesOutput {
  /** The iptables-restore input (both tables). */
  text: string;
  /** Rule lines written, per table (nat counts the chain deletions too). */
  filterRules: number;
  natRules: number;
  /** NAT rules in force after the restore, counting the service chains a partial sync left alone. */
  natRulesTotal: number;
  /** Every service chain that exists after this sync. */
  activeNatChains: Set<string>;
  deletedChains: string[];
  /** Services whose internal / external Local policy has no local endpoint (the no_local_endpoints metric). */
  noLocalEndpoints: { internal: number; external: number };
}

/** Builds restore lines; `count` tells whether a line is a rule (vs a chain declaration). */
class Lines {
  readonly out: string[] = [];
  rules = 0;
  chain(name: string): void {
    this.out.push(`:${name} - [0:0]`);
  }
  rule(...args: string[]): void {
    this.out.push(args.join(' '));
    this.rules++;
  }
}

const DISCARD = { chain: () => undefined, rule: () => undefined } as unknown as Lines;

function quote(comment: string): string {
  return `"${comment.replace(/"/g, "'")}"`;
}

function probability(n: number): string {
  return (1 / n).toFixed(10);
}

interface ChainNames {
  svc: string;
  svl: string;
  ext: string;
  fw: string;
}

function chainNames(spn: string, proto: string): ChainNames {
  return { svc: C.clusterPolicyChain(spn, proto), svl: C.localPolicyChain(spn, proto), ext: C.externalChain(spn, proto), fw: C.firewallChain(spn, proto) };
}

/** The `-s <clusterCIDR>` match of traffic from pods (upstream's LocalTrafficDetector by cluster CIDR); undefined when unknown. */
function podCIDR(state: ProxyState): string | undefined {
  return state.clusterCIDRs.find((c) => (state.family === 'IPv6') === c.includes(':'));
}

/** Generates the whole restore input for one sync. */
export function buildRestore(input: RulesInput): RulesOutput {
  const { state, full, changed } = input;
  const isIPv6 = state.family === 'IPv6';
  const mark = `0x${(1 << state.masqueradeBit).toString(16)}`;
  const filterChains = new Lines();
  const filterRules = new Lines();
  const natChains = new Lines();
  const natRules = new Lines();
  let skippedRules = 0;
  const skipped = new Lines();
  const active = new Set<string>();
  const noLocal = { internal: 0, external: 0 };
  const cidr = podCIDR(state);

  for (const c of [C.KUBE_SERVICES, C.KUBE_EXTERNAL_SERVICES, C.KUBE_FORWARD, C.KUBE_NODEPORTS, C.KUBE_PROXY_FIREWALL]) filterChains.chain(c);
  for (const c of [C.KUBE_SERVICES, C.KUBE_NODEPORTS, C.KUBE_POSTROUTING, C.KUBE_MARK_MASQ]) natChains.chain(c);

  natRules.rule('-A', C.KUBE_POSTROUTING, '-m', 'mark', '!', '--mark', `${mark}/${mark}`, '-j', 'RETURN');
  // Clear the mark so a packet that passes the stack again is not masqueraded twice.
  natRules.rule('-A', C.KUBE_POSTROUTING, '-j', 'MARK', '--xor-mark', mark);
  natRules.rule('-A', C.KUBE_POSTROUTING, '-m', 'comment', '--comment', quote('kubernetes service traffic requiring SNAT'), '-j', 'MASQUERADE', '--random-fully');
  natRules.rule('-A', C.KUBE_MARK_MASQ, '-j', 'MARK', '--or-mark', mark);

  if (!isIPv6 && state.localhostNodePorts) {
    // route_localnet lets NodePorts answer on 127.0.0.1; this closes the hole it opens (issue 90259).
    filterChains.chain(C.KUBE_FIREWALL);
    filterRules.rule('-A', C.KUBE_FIREWALL, '-m', 'comment', '--comment', quote('block incoming localnet connections'), '-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP');
  }

  let totalEndpoints = 0;
  for (const key of state.services.keys()) totalEndpoints += state.endpoints.get(key)?.length ?? 0;
  const largeCluster = totalEndpoints > LARGE_CLUSTER_ENDPOINTS;
  const comment = (text: string): string[] => (largeCluster ? [] : ['-m', 'comment', '--comment', quote(text)]);

  for (const key of [...state.services.keys()].sort()) {
    const svc = state.services.get(key)!;
    const spn = servicePortNameKey(svc.name);
    const proto = svc.protocol.toLowerCase();
    const names = chainNames(spn, proto);
    const port = String(svc.port);
    const eps = categorizeEndpoints(state.endpoints.get(key) ?? [], svc);
    const usesClusterChain = eps.clusterEndpoints.length > 0;
    const usesLocalChain = eps.localEndpoints.length > 0;
    const hasEndpoints = eps.hasAnyEndpoints;
    const internalChain = svc.internalPolicyLocal ? names.svl : names.svc;
    const hasInternal = hasEndpoints && (!svc.internalPolicyLocal || eps.localEndpoints.length > 0);
    const externalPolicyChain = svc.externalPolicyLocal ? names.svl : names.svc;
    const hasExternal = hasEndpoints && (!svc.externalPolicyLocal || eps.localEndpoints.length > 0);
    const externallyAccessible = svc.nodePort !== 0 || svc.externalIPs.length > 0 || svc.loadBalancerVIPs.length > 0;
    const usesExtChain = hasEndpoints && externallyAccessible;
    const usesFW = hasEndpoints && svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
    const lbChain = usesFW ? names.fw : names.ext;

    let internalFilter = { target: '', comment: '' };
    let externalFilter = { target: '', comment: '' };
    if (!hasEndpoints) {
      internalFilter = { target: 'REJECT', comment: `${spn} has no endpoints` };
      externalFilter = internalFilter;
    } else {
      if (!hasInternal) {
        internalFilter = { target: 'DROP', comment: `${spn} has no local endpoints` };
        noLocal.internal++;
      }
      if (!hasExternal) {
        externalFilter = { target: 'DROP', comment: `${spn} has no local endpoints` };
        noLocal.external++;
      }
    }
    const match = ['-m', proto, '-p', proto];

    // Top-level chains are rewritten on every sync.
    if (hasInternal) {
      natRules.rule('-A', C.KUBE_SERVICES, '-m', 'comment', '--comment', quote(`${spn} cluster IP`), ...match, '-d', svc.clusterIP, '--dport', port, '-j', internalChain);
    } else {
      filterRules.rule('-A', C.KUBE_SERVICES, '-m', 'comment', '--comment', quote(internalFilter.comment), ...match, '-d', svc.clusterIP, '--dport', port, '-j', internalFilter.target);
    }
    for (const ip of svc.externalIPs) {
      if (hasEndpoints) natRules.rule('-A', C.KUBE_SERVICES, '-m', 'comment', '--comment', quote(`${spn} external IP`), ...match, '-d', ip, '--dport', port, '-j', names.ext);
      if (!hasExternal) filterRules.rule('-A', C.KUBE_EXTERNAL_SERVICES, '-m', 'comment', '--comment', quote(externalFilter.comment), ...match, '-d', ip, '--dport', port, '-j', externalFilter.target);
    }
    for (const ip of svc.loadBalancerVIPs) {
      if (hasEndpoints) natRules.rule('-A', C.KUBE_SERVICES, '-m', 'comment', '--comment', quote(`${spn} loadbalancer IP`), ...match, '-d', ip, '--dport', port, '-j', lbChain);
      if (usesFW) filterRules.rule('-A', C.KUBE_PROXY_FIREWALL, '-m', 'comment', '--comment', quote(`${spn} traffic not accepted by ${names.fw}`), ...match, '-d', ip, '--dport', port, '-j', 'DROP');
    }
    if (!hasExternal) {
      for (const ip of svc.loadBalancerVIPs) filterRules.rule('-A', C.KUBE_EXTERNAL_SERVICES, '-m', 'comment', '--comment', quote(externalFilter.comment), ...match, '-d', ip, '--dport', port, '-j', externalFilter.target);
    }
    if (svc.nodePort !== 0) {
      const np = String(svc.nodePort);
      if (hasEndpoints) natRules.rule('-A', C.KUBE_NODEPORTS, '-m', 'comment', '--comment', quote(spn), ...match, '--dport', np, '-j', names.ext);
      if (!hasExternal) filterRules.rule('-A', C.KUBE_EXTERNAL_SERVICES, '-m', 'comment', '--comment', quote(externalFilter.comment), '-m', 'addrtype', '--dst-type', 'LOCAL', ...match, '--dport', np, '-j', externalFilter.target);
    }
    if (svc.healthCheckNodePort !== 0) {
      filterRules.rule('-A', C.KUBE_NODEPORTS, '-m', 'comment', '--comment', quote(`${spn} health check node port`), '-m', 'tcp', '-p', 'tcp', '--dport', String(svc.healthCheckNodePort), '-j', 'ACCEPT');
    }

    // Per-service chains: a partial sync leaves unchanged services' chains as they are in the kernel,
    // but still works out their names so that they are not deleted as stale.
    const rewrite = full || changed.has(key);
    const nc = rewrite ? natChains : DISCARD;
    const nr = rewrite ? natRules : skipped;

    if (hasInternal) {
      const args = ['-m', 'comment', '--comment', quote(`${spn} cluster IP`), ...match, '-d', svc.clusterIP, '--dport', port];
      if (state.masqueradeAll) nr.rule('-A', internalChain, ...args, '-j', C.KUBE_MARK_MASQ);
      // Off-cluster traffic to a cluster IP (a static route to any node) may bounce off-node: masquerade it.
      else if (cidr) nr.rule('-A', internalChain, ...args, '!', '-s', cidr, '-j', C.KUBE_MARK_MASQ);
    }

    if (usesExtChain) {
      nc.chain(names.ext);
      active.add(names.ext);
      if (!svc.externalPolicyLocal) {
        nr.rule('-A', names.ext, '-m', 'comment', '--comment', quote(`masquerade traffic for ${spn} external destinations`), '-j', C.KUBE_MARK_MASQ);
      } else {
        // Pods reaching an external address of the service act as if they went out to a load
        // balancer and back in: no traffic policy applies to them.
        if (cidr) nr.rule('-A', names.ext, '-m', 'comment', '--comment', quote(`pod traffic for ${spn} external destinations`), '-s', cidr, '-j', names.svc);
        // The node itself picks a local address as source, which must be masqueraded.
        nr.rule('-A', names.ext, '-m', 'comment', '--comment', quote(`masquerade LOCAL traffic for ${spn} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', C.KUBE_MARK_MASQ);
        nr.rule('-A', names.ext, '-m', 'comment', '--comment', quote(`route LOCAL traffic for ${spn} external destinations`), '-m', 'addrtype', '--src-type', 'LOCAL', '-j', names.svc);
      }
      if (hasExternal) nr.rule('-A', names.ext, '-j', externalPolicyChain);
    }

    if (usesFW) {
      nc.chain(names.fw);
      active.add(names.fw);
      const fwArgs = ['-A', names.fw, '-m', 'comment', '--comment', quote(`${spn} loadbalancer IP`)];
      let allowFromNode = false;
      for (const range of svc.loadBalancerSourceRanges) {
        nr.rule(...fwArgs, '-s', range, '-j', names.ext);
        if (state.nodeIPs.some((ip) => cidrContains(range, ip))) allowFromNode = true;
      }
      // A VIP that is also a local address makes node-originated requests loop back with the VIP as source.
      if (allowFromNode) for (const ip of svc.loadBalancerVIPs) nr.rule(...fwArgs, '-s', ip, '-j', names.ext);
      // Whatever reaches the end was not DNATed, so KUBE-PROXY-FIREWALL drops it.
      nr.rule('-A', names.fw, '-m', 'comment', '--comment', quote(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`));
    }

    if (usesClusterChain) {
      nc.chain(names.svc);
      active.add(names.svc);
      writeServiceToEndpointRules(nr, spn, svc, names.svc, eps.clusterEndpoints, comment);
    }
    if (usesLocalChain) {
      nc.chain(names.svl);
      active.add(names.svl);
      writeServiceToEndpointRules(nr, spn, svc, names.svl, eps.localEndpoints, comment);
    }
    for (const ep of eps.allReachableEndpoints) {
      const epStr = endpointKey(ep);
      const sep = C.endpointChain(spn, proto, epStr);
      nc.chain(sep);
      active.add(sep);
      const base = ['-A', sep, ...comment(spn)];
      // Hairpin: a pod reaching itself through the service must be masqueraded, or it answers itself directly.
      nr.rule(...base, '-s', ep.ip, '-j', C.KUBE_MARK_MASQ);
      const affinity = svc.stickyMaxAgeSeconds > 0 ? ['-m', 'recent', '--name', sep, '--set'] : [];
      nr.rule(...base, ...affinity, ...match, '-j', 'DNAT', '--to-destination', epStr);
    }
  }

  // Chains that were ours and are no longer used: declaring them flushes them, -X deletes them.
  const deleted: string[] = [];
  for (const chain of [...input.existingNatChains].sort()) {
    if (active.has(chain) || !C.isServiceChain(chain)) continue;
    natChains.chain(chain);
    natRules.rule('-X', chain);
    deleted.push(chain);
  }

  // NodePorts come last in KUBE-SERVICES, after every service IP rule.
  const npComment = quote('kubernetes service nodeports; NOTE: this must be the last rule in this chain');
  if (state.nodePortsOnAllLocalAddresses ?? state.nodeIPs.length === 0) {
    const dst = ['-m', 'addrtype', '--dst-type', 'LOCAL'];
    if (isIPv6) dst.push('!', '-d', '::1/128');
    else if (!state.localhostNodePorts) dst.push('!', '-d', '127.0.0.0/8');
    natRules.rule('-A', C.KUBE_SERVICES, '-m', 'comment', '--comment', npComment, ...dst, '-j', C.KUBE_NODEPORTS);
  } else {
    for (const ip of state.nodeIPs) {
      // Loopback NodePorts need route_localnet, which exists for IPv4 only and only when enabled.
      const loopback = ip === '::1' || ip.startsWith('127.');
      if (loopback && (isIPv6 || !state.localhostNodePorts)) continue;
      natRules.rule('-A', C.KUBE_SERVICES, '-m', 'comment', '--comment', npComment, '-d', ip, '-j', C.KUBE_NODEPORTS);
    }
  }

  // Invalid packets would reset connections unless conntrack is liberal (issues 74839, 117924).
  filterRules.rule('-A', C.KUBE_FORWARD, '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
  // Marked (NodePort) traffic is forwarded even when FORWARD's policy is DROP, and so are its replies.
  filterRules.rule('-A', C.KUBE_FORWARD, '-m', 'comment', '--comment', quote('kubernetes forwarding rules'), '-m', 'mark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT');
  filterRules.rule('-A', C.KUBE_FORWARD, '-m', 'comment', '--comment', quote('kubernetes forwarding conntrack rule'), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');

  skippedRules = skipped.rules;
  const text = ['*filter', ...filterChains.out, ...filterRules.out, 'COMMIT', '*nat', ...natChains.out, ...natRules.out, 'COMMIT', ''].join('\n');
  return {
    text,
    filterRules: filterRules.rules,
    natRules: natRules.rules,
    natRulesTotal: natRules.rules + skippedRules - deleted.length,
    activeNatChains: active,
    deletedChains: deleted,
    noLocalEndpoints: noLocal,
  };
}

function writeServiceToEndpointRules(nr: Lines, spn: string, svc: ServicePortInfo, chain: string, endpoints: readonly EndpointInfo[], comment: (t: string) => string[]): void {
  const proto = svc.protocol.toLowerCase();
  if (svc.stickyMaxAgeSeconds > 0) {
    for (const ep of endpoints) {
      const epStr = endpointKey(ep);
      const sep = C.endpointChain(spn, proto, epStr);
      nr.rule('-A', chain, ...comment(`${spn} -> ${epStr}`), '-m', 'recent', '--name', sep, '--rcheck', '--seconds', String(svc.stickyMaxAgeSeconds), '--reap', '-j', sep);
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const epStr = endpointKey(ep);
    const sep = C.endpointChain(spn, proto, epStr);
    // Rule i matches 1/(n-i) of what reaches it, so every endpoint gets 1/n overall; the last always matches.
    const stat = i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(n - i)] : [];
    nr.rule('-A', chain, ...comment(`${spn} -> ${epStr}`), ...stat, '-j', sep);
  });
}

/** IPv4/IPv6 CIDR membership, for loadBalancerSourceRanges that include the node. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split('/');
  if (!base || base.includes(':') !== ip.includes(':')) return false;
  const toBig = (a: string): bigint | undefined => {
    if (!a.includes(':')) {
      const parts = a.split('.').map(Number);
      if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
      return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
    }
    const [head, tail] = a.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail ? tail.split(':') : [];
    const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    if (groups.length !== 8) return undefined;
    return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  };
  const width = ip.includes(':') ? 128 : 32;
  const bits = bitsText === undefined ? width : Number(bitsText);
  const a = toBig(base);
  const b = toBig(ip);
  if (a === undefined || b === undefined || !(bits >= 0 && bits <= width)) return false;
  const shift = BigInt(width - bits);
  return a >> shift === b >> shift;
}
