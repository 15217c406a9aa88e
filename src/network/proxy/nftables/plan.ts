// The nftables mode's sync as a pure function: (proxy state, what changed, what the last successful
// sync left in the kernel) → one `nft -f` transaction and the memory of what it leaves behind.
// Mirrors upstream pkg/proxy/nftables syncProxyRules: verdict maps dispatch service IPs and NodePorts
// to per-service chains, which spread over per-endpoint chains with `numgen random`.
import { parseCIDR, parseIP } from '../../../controllers/nodeipam/cidrSet.js';
import { categorizeEndpoints, externallyAccessiblePort as externallyAccessible, usesClusterEndpoints, usesLocalEndpoints } from '../serviceModel.js';
import type { EndpointInfo, IPFamily, ProxyChanges, ProxyState, ServicePortInfo } from '../types.js';
import { servicePortNameKey } from '../types.js';
import * as N from './names.js';

/** The maps and sets whose elements are kept incrementally (upstream's nftElementStorage). */
export const ELEMENT_CONTAINERS = [
  { name: N.CLUSTER_IPS_SET, kind: 'set' },
  { name: N.SERVICE_IPS_MAP, kind: 'map' },
  { name: N.FIREWALL_IPS_MAP, kind: 'map' },
  { name: N.NO_ENDPOINT_SERVICES_MAP, kind: 'map' },
  { name: N.NO_ENDPOINT_NODEPORTS_MAP, kind: 'map' },
  { name: N.SERVICE_NODEPORTS_MAP, kind: 'map' },
] as const;
export type ElementContainer = (typeof ELEMENT_CONTAINERS)[number]['name'];

/** What one service port put in the table, so a partial sync can take it back out. */
export interface ServiceOwned {
  /** (container, key) of every map/set element the port added. */
  elements: ReadonlyArray<readonly [ElementContainer, string]>;
  /** Its per-service chains and affinity sets. */
  chains: readonly string[];
  sets: readonly string[];
  /** Rules in its chains. */
  rules: number;
  /** Local policy without a local endpoint (internal / external traffic). */
  noLocalInternal: boolean;
  noLocalExternal: boolean;
}

/** What the kernel holds after a successful sync; the input of the next (partial) one. Treat as immutable. */
export interface NftMemory {
  /** Elements per map/set: key (`a . b . c`) → value ('' for sets). */
  elements: ReadonlyMap<ElementContainer, ReadonlyMap<string, string>>;
  /** Per service port (servicePortNameKey): what it owns. */
  owned: ReadonlyMap<string, ServiceOwned>;
  /** Per-service chains present in the table (active, or flushed and waiting to be deleted). */
  chains: ReadonlySet<string>;
  /** Chains flushed because nothing uses them, with when (ms); deleted a second later. */
  staleChains: ReadonlyMap<string, number>;
  /** Affinity sets present in the table. */
  affinitySets: ReadonlySet<string>;
  /** Rules in the fixed chains (written on full syncs). */
  baseRules: number;
}

export interface NftPlanInput {
  state: ProxyState;
  changes: ProxyChanges;
  /** The last successful sync's memory; undefined forces a full sync. */
  prev: NftMemory | undefined;
  /** On a full sync: the per-service chains and affinity sets found in the table (left by an earlier run). */
  existing?: { chains: readonly string[]; sets: readonly string[] };
  /** Recreate the base chains (first sync of this process: a leftover table may have other priorities). */
  recreateBaseChains?: boolean;
  /** Clock for stale-chain ageing, ms. */
  now: number;
}

export interface NftPlan {
  /** The `nft -f -` input: one atomic transaction. */
  script: string;
  full: boolean;
  /** The memory to keep if (and only if) the script was applied. */
  next: NftMemory;
  /** Rules and elements this transaction adds. */
  rulesWritten: number;
  /** Rules and elements in the table after it. */
  rulesTotal: number;
  /** Services whose Local policy has no local endpoint (upstream's sync_proxy_rules_no_local_endpoints_total). */
  noLocalEndpoints: { internal: number; external: number };
}

const BASE_CHAINS: ReadonlyArray<{ name: string; type: 'filter' | 'nat'; hook: string; priority: number }> = [
  // Filter before DNAT, so filtering sees the service IP the client used (dstnat is -100, srcnat 100).
  { name: N.FILTER_PREROUTING, type: 'filter', hook: 'prerouting', priority: -110 },
  { name: N.FILTER_INPUT, type: 'filter', hook: 'input', priority: -110 },
  { name: N.FILTER_FORWARD, type: 'filter', hook: 'forward', priority: -110 },
  { name: N.FILTER_OUTPUT, type: 'filter', hook: 'output', priority: -110 },
  { name: N.FILTER_OUTPUT_POST_DNAT, type: 'filter', hook: 'output', priority: -90 },
  { name: N.NAT_PREROUTING, type: 'nat', hook: 'prerouting', priority: -100 },
  { name: N.NAT_OUTPUT, type: 'nat', hook: 'output', priority: -100 },
  { name: N.NAT_POSTROUTING, type: 'nat', hook: 'postrouting', priority: 100 },
];

const JUMP_CHAINS: ReadonlyArray<{ dst: string; src: string; match: string }> = [
  // reject is only valid in input/forward/output hooks on older kernels, hence not from prerouting.
  { dst: N.NODEPORT_ENDPOINTS_CHECK_CHAIN, src: N.FILTER_INPUT, match: 'ct state new' },
  { dst: N.SERVICE_ENDPOINTS_CHECK_CHAIN, src: N.FILTER_INPUT, match: 'ct state new' },
  { dst: N.SERVICE_ENDPOINTS_CHECK_CHAIN, src: N.FILTER_FORWARD, match: 'ct state new' },
  { dst: N.SERVICE_ENDPOINTS_CHECK_CHAIN, src: N.FILTER_OUTPUT, match: 'ct state new' },
  { dst: N.FIREWALL_CHECK_CHAIN, src: N.FILTER_PREROUTING, match: 'ct state new' },
  { dst: N.FIREWALL_CHECK_CHAIN, src: N.FILTER_OUTPUT, match: 'ct state new' },
  { dst: N.SERVICES_CHAIN, src: N.NAT_OUTPUT, match: '' },
  { dst: N.SERVICES_CHAIN, src: N.NAT_PREROUTING, match: '' },
  { dst: N.MASQUERADING_CHAIN, src: N.NAT_POSTROUTING, match: '' },
  { dst: N.CLUSTER_IPS_CHECK_CHAIN, src: N.FILTER_FORWARD, match: 'ct state new' },
  { dst: N.CLUSTER_IPS_CHECK_CHAIN, src: N.FILTER_OUTPUT_POST_DNAT, match: 'ct state new' },
];

/** Upstream's `%#08x` of the masquerade bit: 14 → 0x004000. */
export function masqueradeMark(bit: number): string {
  return `0x${(1 << bit).toString(16).padStart(6, '0')}`;
}

/** nft strings are double-quoted; our comments hold only names, but keep them safe anyway. */
function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '')}"`;
}

/** Accumulates the transaction text and counts what it adds. */
class Tx {
  readonly lines: string[] = [];
  rules = 0;
  elements = 0;
  constructor(private readonly prefix: string) {}
  addTable(): void {
    this.lines.push(`add table ${this.prefix} { comment "rules for kube-proxy" ; }`);
  }
  addChain(name: string, spec = ''): void {
    this.lines.push(`add chain ${this.prefix} ${name}${spec ? ` { ${spec} }` : ''}`);
  }
  flushChain(name: string): void {
    this.lines.push(`flush chain ${this.prefix} ${name}`);
  }
  deleteChain(name: string): void {
    this.lines.push(`delete chain ${this.prefix} ${name}`);
  }
  rule(chain: string, rule: string, comment?: string): void {
    this.lines.push(`add rule ${this.prefix} ${chain} ${rule}${comment ? ` comment ${quote(comment)}` : ''}`);
    this.rules++;
  }
  addSet(kind: 'set' | 'map', name: string, spec: string): void {
    this.lines.push(`add ${kind} ${this.prefix} ${name} { ${spec} }`);
  }
  flushSet(kind: 'set' | 'map', name: string): void {
    this.lines.push(`flush ${kind} ${this.prefix} ${name}`);
  }
  deleteSet(kind: 'set' | 'map', name: string): void {
    this.lines.push(`delete ${kind} ${this.prefix} ${name}`);
  }
  addElement(container: string, key: string, value: string, comment?: string): void {
    const c = comment ? ` comment ${quote(comment)}` : '';
    this.lines.push(`add element ${this.prefix} ${container} { ${key}${c}${value ? ` : ${value}` : ''} }`);
    this.elements++;
  }
  deleteElement(container: string, key: string): void {
    this.lines.push(`delete element ${this.prefix} ${container} { ${key} }`);
  }
}

/** Element bookkeeping for one map/set within one sync (upstream's ensureElem). */
class Elements {
  readonly current: Map<string, string>;
  constructor(
    readonly container: ElementContainer,
    prev: ReadonlyMap<string, string> | undefined,
  ) {
    this.current = new Map(prev ?? []);
  }
  ensure(tx: Tx, key: string, value: string, comment?: string): void {
    const have = this.current.get(key);
    if (have === value) return;
    // A changed verdict: elements cannot be updated in place.
    if (have !== undefined) tx.deleteElement(this.container, key);
    tx.addElement(this.container, key, value, comment);
    this.current.set(key, value);
  }
  remove(tx: Tx, key: string): void {
    if (!this.current.has(key)) return;
    tx.deleteElement(this.container, key);
    this.current.delete(key);
  }
}

function cidrContains(cidr: string, ip: string): boolean {
  const a = parseIP(ip);
  if (!a) return false;
  try {
    const c = parseCIDR(cidr);
    if (c.bits !== a.bits) return false;
    const shift = BigInt(c.bits - c.prefix);
    return a.ip >> shift === c.ip >> shift;
  } catch {
    return false;
  }
}

function ofFamily(ipOrCidr: string, family: IPFamily): boolean {
  return ipOrCidr.includes(':') === (family === 'IPv6');
}

/** Builds one sync's transaction. Pure: the same input gives the same text. */
export function planNftablesSync(input: NftPlanInput): NftPlan {
  const { state, now } = input;
  const full = input.changes.full || input.prev === undefined;
  const prev = full ? undefined : input.prev;
  const family = state.family;
  const fam = N.nftFamily(family);
  const addr = N.addrType(family);
  const tx = new Tx(`${fam} ${N.TABLE}`);
  const mark = masqueradeMark(state.masqueradeBit);
  const nodeIPs = state.nodeIPs.filter((ip) => ofFamily(ip, family));
  const clusterCIDRs = state.clusterCIDRs.filter((c) => ofFamily(c, family));
  const noLocalhost = family === 'IPv6' ? 'ip6 daddr != ::1' : 'ip daddr != 127.0.0.0/8';
  // NodePorts on every local address (upstream: nodePortAddresses unset) match with `fib daddr type local`.
  const nodePortMatchAll = state.nodePortsOnAllLocalAddresses ?? nodeIPs.length === 0;

  const elements = new Map<ElementContainer, Elements>(
    ELEMENT_CONTAINERS.map((c) => [c.name, new Elements(c.name, full ? undefined : prev?.elements.get(c.name))]),
  );

  // A full sync also adopts what an earlier run left in the table, so it can be cleaned up.
  const knownChains = new Set<string>([...(input.prev?.chains ?? []), ...(full ? (input.existing?.chains ?? []).filter(N.isServiceChainName) : [])]);
  const knownSets = new Set<string>([...(input.prev?.affinitySets ?? []), ...(full ? (input.existing?.sets ?? []).filter(N.isAffinitySetName) : [])]);
  const staleChains = new Map<string, number>([...(input.prev?.staleChains ?? [])].filter(([c]) => knownChains.has(c)));
  const owned = new Map<string, ServiceOwned>(full ? [] : prev!.owned);
  let baseRules = full ? 0 : prev!.baseRules;

  if (full) baseRules = setupTable(tx, { fam, addr, mark, nodeIPs, nodePortMatchAll, noLocalhost, recreate: input.recreateBaseChains ?? false });

  const ifLocal = clusterCIDRs.length ? `${fam} saddr ${setOf(clusterCIDRs)}` : '';
  const ifNotLocal = clusterCIDRs.length ? `${fam} saddr != ${setOf(clusterCIDRs)}` : '';
  // Only the changed ports are rewritten on a partial sync; the others keep their chains and elements.
  const keys = full ? [...state.services.keys()].sort() : [...new Set([...input.changes.services, ...input.changes.endpoints])].sort();
  const unusedChains = new Set<string>();
  const unusedSets = new Set<string>();
  // Chain names embed the service port, so a chain one port dropped is never another port's.
  const active = new Set<string>();
  const activeSets = new Set<string>();

  for (const key of keys) {
    const before = owned.get(key);
    const svc = state.services.get(key);
    const own = svc && ofFamily(svc.clusterIP, family) ? writeServicePort(svc, state.endpoints.get(key) ?? [], { tx, el: (c) => elements.get(c)!, fam, addr, nodeIPs, ifLocal, ifNotLocal, masqueradeAll: state.masqueradeAll }) : undefined;
    if (own) {
      owned.set(key, own);
      for (const c of own.chains) {
        staleChains.delete(c);
        knownChains.add(c);
        active.add(c);
      }
      for (const st of own.sets) {
        knownSets.add(st);
        activeSets.add(st);
      }
    } else owned.delete(key);
    if (!before) continue;
    // Take back what the port had and no longer has.
    const keep = new Set((own?.elements ?? []).map(([c, k]) => `${c}|${k}`));
    for (const [c, k] of before.elements) if (!keep.has(`${c}|${k}`)) elements.get(c)!.remove(tx, k);
    const keepChains = new Set(own?.chains ?? []);
    for (const c of before.chains) if (!keepChains.has(c)) unusedChains.add(c);
    const keepSets = new Set(own?.sets ?? []);
    for (const st of before.sets) if (!keepSets.has(st)) unusedSets.add(st);
  }

  if (full) {
    for (const c of knownChains) if (!active.has(c)) unusedChains.add(c);
    for (const st of knownSets) if (!activeSets.has(st)) unusedSets.add(st);
  }

  // Chains no longer used: flush now (a map element may still point at them until this commits),
  // delete once they have been unreferenced for a second (kernels before 6.2 need the delay).
  for (const chain of unusedChains) {
    if (!staleChains.has(chain)) {
      tx.flushChain(chain);
      staleChains.set(chain, now);
    }
  }
  for (const [chain, since] of staleChains) {
    if (now - since < 1000) continue;
    tx.deleteChain(chain);
    staleChains.delete(chain);
    knownChains.delete(chain);
  }
  for (const st of unusedSets) {
    tx.deleteSet('set', st);
    knownSets.delete(st);
  }

  let total = baseRules;
  const noLocal = { internal: 0, external: 0 };
  for (const o of owned.values()) {
    total += o.rules;
    if (o.noLocalInternal) noLocal.internal++;
    if (o.noLocalExternal) noLocal.external++;
  }
  for (const e of elements.values()) total += e.current.size;

  return {
    script: tx.lines.length ? `${tx.lines.join('\n')}\n` : '',
    full,
    next: {
      elements: new Map([...elements].map(([k, v]) => [k, v.current])),
      owned,
      chains: knownChains,
      staleChains,
      affinitySets: knownSets,
      baseRules,
    },
    rulesWritten: tx.rules + tx.elements,
    rulesTotal: total,
    noLocalEndpoints: noLocal,
  };
}

interface WriteContext {
  tx: Tx;
  el: (c: ElementContainer) => Elements;
  fam: string;
  addr: string;
  nodeIPs: string[];
  ifLocal: string;
  ifNotLocal: string;
  masqueradeAll: boolean;
}

/** Writes one service port's elements, chains and affinity sets (upstream's per-service loop body). */
function writeServicePort(svc: ServicePortInfo, endpoints: readonly EndpointInfo[], w: WriteContext): ServiceOwned {
  const { tx, fam, addr, nodeIPs, ifLocal, ifNotLocal } = w;
  const family: IPFamily = fam === 'ip6' ? 'IPv6' : 'IPv4';
  const ownElements: Array<readonly [ElementContainer, string]> = [];
  const chains: string[] = [];
  const sets: string[] = [];
  let rules = 0;
  const ensure = (c: ElementContainer, key: string, value: string, comment?: string) => {
    w.el(c).ensure(tx, key, value, comment);
    ownElements.push([c, key]);
  };
  const ensureChain = (chain: string): void => {
    if (chains.includes(chain)) return;
    chains.push(chain);
    tx.addChain(chain);
    tx.flushChain(chain);
  };
  const rule = (chain: string, text: string, comment?: string): void => {
    tx.rule(chain, text, comment);
    rules++;
  };

  const proto = svc.protocol.toLowerCase();
  const names = N.serviceChainNames(svc.name);
  const svcName = servicePortNameKey(svc.name);
  const cat = categorizeEndpoints(endpoints, svc);
  const epChains = new Map(cat.allReachableEndpoints.map((e) => [e, N.endpointChainName(svc.name, e.ip, e.port)]));
  const epChain = (e: EndpointInfo) => epChains.get(e) ?? N.endpointChainName(svc.name, e.ip, e.port);
  const affinitySet = (e: EndpointInfo) => `affinity-${epChain(e).slice('endpoint-'.length)}`;
  const sticky = svc.stickyMaxAgeSeconds > 0;

  for (const e of cat.allReachableEndpoints) {
    ensureChain(epChain(e));
    if (sticky) sets.push(affinitySet(e));
  }
  const usesClusterChain = cat.clusterEndpoints.length > 0 && usesClusterEndpoints(svc);
  if (usesClusterChain) ensureChain(names.cluster);
  const usesLocalChain = cat.localEndpoints.length > 0 && usesLocalEndpoints(svc);
  if (usesLocalChain) ensureChain(names.local);

  const internalChain = svc.internalPolicyLocal ? names.local : names.cluster;
  const hasInternal = cat.hasAnyEndpoints && (!svc.internalPolicyLocal || cat.localEndpoints.length > 0);
  const externalPolicyChain = svc.externalPolicyLocal ? names.local : names.cluster;
  const hasExternal = cat.hasAnyEndpoints && (!svc.externalPolicyLocal || cat.localEndpoints.length > 0);
  // The external chain exists whenever there are endpoints: it short-circuits local traffic even
  // when Local policy has nothing on this node.
  const usesExternalChain = cat.hasAnyEndpoints && externallyAccessible(svc);
  if (usesExternalChain) ensureChain(names.external);

  // No endpoints at all: reject. Local policy without local endpoints: drop (the service exists, just not here).
  const noEndpointVerdict = cat.hasAnyEndpoints ? 'drop' : `goto ${N.REJECT_CHAIN}`;

  const port = String(svc.port);
  const ipKey = (ip: string) => `${ip} . ${proto} . ${port}`;
  ensure(N.CLUSTER_IPS_SET, svc.clusterIP, '');
  if (hasInternal) ensure(N.SERVICE_IPS_MAP, ipKey(svc.clusterIP), `goto ${internalChain}`);
  else ensure(N.NO_ENDPOINT_SERVICES_MAP, ipKey(svc.clusterIP), noEndpointVerdict, svcName);

  for (const ip of svc.externalIPs.filter((i) => ofFamily(i, family))) {
    if (cat.hasAnyEndpoints) ensure(N.SERVICE_IPS_MAP, ipKey(ip), `goto ${names.external}`);
    if (!hasExternal) ensure(N.NO_ENDPOINT_SERVICES_MAP, ipKey(ip), noEndpointVerdict, svcName);
  }

  const lbIPs = svc.loadBalancerVIPs.filter((ip) => ofFamily(ip, family));
  const sourceRanges = svc.loadBalancerSourceRanges.filter((c) => ofFamily(c, family));
  const usesFirewall = lbIPs.length > 0 && sourceRanges.length > 0;
  if (usesFirewall) ensureChain(names.firewall);
  for (const ip of lbIPs) {
    if (cat.hasAnyEndpoints) ensure(N.SERVICE_IPS_MAP, ipKey(ip), `goto ${names.external}`);
    if (usesFirewall) ensure(N.FIREWALL_IPS_MAP, ipKey(ip), `goto ${names.firewall}`);
    if (!hasExternal) ensure(N.NO_ENDPOINT_SERVICES_MAP, ipKey(ip), noEndpointVerdict, svcName);
  }

  if (svc.nodePort !== 0) {
    const npKey = `${proto} . ${svc.nodePort}`;
    // NodePorts are not subject to loadBalancerSourceRanges (upstream keeps it so).
    if (cat.hasAnyEndpoints) ensure(N.SERVICE_NODEPORTS_MAP, npKey, `goto ${names.external}`);
    if (!hasExternal) ensure(N.NO_ENDPOINT_NODEPORTS_MAP, npKey, noEndpointVerdict, svcName);
  }

  if (hasInternal) {
    // Traffic to the cluster IP from outside the pod network may leave the node again: masquerade it.
    const match = `${fam} daddr ${svc.clusterIP} ${proto} dport ${port}`;
    if (w.masqueradeAll) rule(internalChain, `${match} jump ${N.MARK_MASQ_CHAIN}`);
    else if (ifNotLocal) rule(internalChain, `${match} ${ifNotLocal} jump ${N.MARK_MASQ_CHAIN}`);
  }

  if (usesExternalChain) {
    if (!svc.externalPolicyLocal) {
      // Cluster policy may cross nodes; masquerade so replies come back through us.
      rule(names.external, `jump ${N.MARK_MASQ_CHAIN}`);
    } else {
      // Pods reaching an external IP act as if they went out and came back: no traffic policy.
      if (ifLocal) rule(names.external, `${ifLocal} goto ${names.cluster}`, 'short-circuit pod traffic');
      // The node itself picks the service IP as source; masquerade, and do not apply Local policy.
      rule(names.external, `fib saddr type local jump ${N.MARK_MASQ_CHAIN}`, 'masquerade local traffic');
      rule(names.external, `fib saddr type local goto ${names.cluster}`, 'short-circuit local traffic');
    }
    if (hasExternal) rule(names.external, `goto ${externalPolicyChain}`);
  }

  if (usesFirewall) {
    const sources = [...sourceRanges];
    // A VIP often is a local address too: requests from this node loop back with the VIP as source.
    if (nodeIPs.some((ip) => sourceRanges.some((c) => cidrContains(c, ip)))) sources.push(...lbIPs);
    rule(names.firewall, `${fam} saddr != { ${sources.join(', ')} } drop`);
  }

  if (sticky) {
    // "dynamic" is set explicitly: the kernel adds it anyway, and a later "add" without it would differ.
    for (const e of cat.allReachableEndpoints) tx.addSet('set', affinitySet(e), `type ${addr} ; flags dynamic,timeout ; timeout ${svc.stickyMaxAgeSeconds}s ;`);
  }

  const writeBalancing = (chain: string, eps: readonly EndpointInfo[]) => {
    if (sticky) for (const e of eps) rule(chain, `${fam} saddr @${affinitySet(e)} goto ${epChain(e)}`);
    const vmap = eps.map((e, i) => `${i} : goto ${epChain(e)}`).join(' , ');
    rule(chain, `numgen random mod ${eps.length} vmap { ${vmap} }`);
  };
  if (usesClusterChain) writeBalancing(names.cluster, cat.clusterEndpoints);
  if (usesLocalChain) writeBalancing(names.local, cat.localEndpoints);

  for (const e of cat.allReachableEndpoints) {
    const chain = epChain(e);
    // Hairpin: a pod reaching itself through the service must see a source that is not itself.
    rule(chain, `${fam} saddr ${e.ip} jump ${N.MARK_MASQ_CHAIN}`);
    if (sticky) rule(chain, `update @${affinitySet(e)} { ${fam} saddr }`);
    const dest = e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
    rule(chain, `meta l4proto ${proto} dnat to ${dest}`);
  }

  return { elements: ownElements, chains, sets, rules, noLocalInternal: cat.hasAnyEndpoints && !hasInternal, noLocalExternal: cat.hasAnyEndpoints && !hasExternal };
}

function setOf(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

/** The fixed part of the table (upstream setupNFTables); returns how many rules it writes. */
function setupTable(
  tx: Tx,
  o: { fam: string; addr: string; mark: string; nodeIPs: string[]; nodePortMatchAll: boolean; noLocalhost: string; recreate: boolean },
): number {
  const before = tx.rules;
  tx.addTable();
  // add+delete once per process so a leftover base chain with other properties cannot fail the add.
  if (o.recreate) {
    for (const bc of BASE_CHAINS) {
      tx.addChain(bc.name);
      tx.deleteChain(bc.name);
    }
  }
  for (const bc of BASE_CHAINS) {
    tx.addChain(bc.name, `type ${bc.type} hook ${bc.hook} priority ${bc.priority} ;`);
    tx.flushChain(bc.name);
  }
  const created = new Set<string>();
  const ensure = (c: string) => {
    if (created.has(c)) return;
    created.add(c);
    tx.addChain(c);
    tx.flushChain(c);
  };
  for (const j of JUMP_CHAINS) {
    ensure(j.dst);
    tx.rule(j.src, `${j.match ? `${j.match} ` : ''}jump ${j.dst}`);
  }
  for (const c of [N.SERVICES_CHAIN, N.CLUSTER_IPS_CHECK_CHAIN, N.MASQUERADING_CHAIN, N.MARK_MASQ_CHAIN]) ensure(c);

  tx.rule(N.MARK_MASQ_CHAIN, `mark set mark or ${o.mark}`);
  tx.rule(N.MASQUERADING_CHAIN, `mark and ${o.mark} == 0 return`);
  tx.rule(N.MASQUERADING_CHAIN, `mark set mark xor ${o.mark}`);
  tx.rule(N.MASQUERADING_CHAIN, 'masquerade fully-random');

  tx.addSet('set', N.CLUSTER_IPS_SET, `type ${o.addr} ; comment "Active ClusterIPs" ;`);
  tx.rule(N.CLUSTER_IPS_CHECK_CHAIN, `${o.fam} daddr @${N.CLUSTER_IPS_SET} reject`, 'Reject traffic to invalid ports of ClusterIPs');

  // add then delete/flush: "delete" alone fails when the set is absent.
  tx.addSet('set', N.NODEPORT_IPS_SET, `type ${o.addr} ; comment "IPs that accept NodePort traffic" ;`);
  if (o.nodePortMatchAll) tx.deleteSet('set', N.NODEPORT_IPS_SET);
  else {
    tx.flushSet('set', N.NODEPORT_IPS_SET);
    for (const ip of o.nodeIPs) {
      // Loopback NodePorts need route_localnet, which the nftables mode does not use (as upstream).
      if (ip.startsWith('127.') || ip === '::1') continue;
      tx.addElement(N.NODEPORT_IPS_SET, ip, '');
    }
  }

  tx.addSet('map', N.NO_ENDPOINT_SERVICES_MAP, `type ${o.addr} . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ;`);
  tx.addSet('map', N.NO_ENDPOINT_NODEPORTS_MAP, 'type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ;');
  tx.addChain(N.REJECT_CHAIN, 'comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ;');
  tx.flushChain(N.REJECT_CHAIN);
  tx.rule(N.REJECT_CHAIN, 'reject');
  tx.rule(N.SERVICE_ENDPOINTS_CHECK_CHAIN, `${o.fam} daddr . meta l4proto . th dport vmap @${N.NO_ENDPOINT_SERVICES_MAP}`);
  if (o.nodePortMatchAll) tx.rule(N.NODEPORT_ENDPOINTS_CHECK_CHAIN, `${o.noLocalhost} meta l4proto . th dport vmap @${N.NO_ENDPOINT_NODEPORTS_MAP}`);
  else tx.rule(N.NODEPORT_ENDPOINTS_CHECK_CHAIN, `${o.fam} daddr @${N.NODEPORT_IPS_SET} meta l4proto . th dport vmap @${N.NO_ENDPOINT_NODEPORTS_MAP}`);

  tx.addSet('map', N.FIREWALL_IPS_MAP, `type ${o.addr} . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ;`);
  tx.rule(N.FIREWALL_CHECK_CHAIN, `${o.fam} daddr . meta l4proto . th dport vmap @${N.FIREWALL_IPS_MAP}`);

  tx.addSet('map', N.SERVICE_IPS_MAP, `type ${o.addr} . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ;`);
  tx.addSet('map', N.SERVICE_NODEPORTS_MAP, 'type inet_proto . inet_service : verdict ; comment "NodePort traffic" ;');
  tx.rule(N.SERVICES_CHAIN, `${o.fam} daddr . meta l4proto . th dport vmap @${N.SERVICE_IPS_MAP}`);
  if (o.nodePortMatchAll) tx.rule(N.SERVICES_CHAIN, `fib daddr type local ${o.noLocalhost} meta l4proto . th dport vmap @${N.SERVICE_NODEPORTS_MAP}`);
  else tx.rule(N.SERVICES_CHAIN, `${o.fam} daddr @${N.NODEPORT_IPS_SET} meta l4proto . th dport vmap @${N.SERVICE_NODEPORTS_MAP}`);

  // Start the element maps empty; the service loop refills them.
  for (const c of ELEMENT_CONTAINERS) tx.flushSet(c.kind, c.name);
  return tx.rules - before;
}
