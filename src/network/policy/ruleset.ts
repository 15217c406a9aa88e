// The node's NetworkPolicy ruleset: which of this node's pods are guarded in which direction and by
// which rules (buildNodeRuleset), and that plan as one nftables transaction (renderNftRuleset).
// Pure: the controller feeds state in and hands the text to nft.
//
// Shape of the table (inet k8ts-netpol):
//   sets      peer<F>-<h>   IPs of the pods a peer selector chooses (every node's pods)
//             port<F>-<h>   ip . proto . port of every pod that has a named port, per name
//   maps      ingress<F> / egress<F>   local pod IP → jump to that pod's chain (only guarded pods)
//   chains    pod-in-<h> / pod-out-<h>  per guarded pod: itself passes, then its policies, else drop
//             pol-in-<h> / pol-out-<h>  per policy and direction: its rules, each an accept
//             base chains: egress on forward (and input, for pods talking to the node), ingress on
//             forward after it; established/related connections pass first.
// An accept in one base chain lets the packet go on to the next, so egress then ingress both get
// their say; only a drop is final.
import { createHash } from 'node:crypto';
import { formatCIDR, type ParsedCIDR } from '../../controllers/nodeipam/cidrSet.js';
import { selectorString } from '../../api/labels.js';
import {
  familyOf,
  namespaceIndex,
  podPeerSelects,
  policySelects,
  type Direction,
  type Family,
  type Peer,
  type PolicyPod,
  type PolicyState,
  type PortMatch,
  type Protocol,
} from './model.js';

export const NETPOL_TABLE = 'k8ts-netpol';

/** The table of a node whose pod network is `bridge`: nodes sharing one host (tests) need their own. */
export function netpolTableName(bridge?: string): string {
  return bridge && bridge !== 'k8ts0' ? `${NETPOL_TABLE}-${bridge}` : NETPOL_TABLE;
}

/** What a rule matches on the remote end (source for ingress, destination for egress). */
export type RemoteMatch = { set: string } | { cidr: string; except: string[] };

/** What a rule matches on the destination port. */
export type PortSpec = { protocol: Protocol; port?: number; endPort?: number } | { namedSet: string };

/** One accept rule; `family` 0 when it matches either family. */
export interface RulesetRule {
  family: 0 | Family;
  remote?: RemoteMatch;
  port?: PortSpec;
}

export interface PolicyChain {
  name: string;
  direction: Direction;
  comment: string;
  rules: RulesetRule[];
}

export interface PodChain {
  name: string;
  direction: Direction;
  comment: string;
  /** The pod's own IPs: traffic to itself always passes. */
  selfIPs: string[];
  /** Policy chains jumped to in order; any accept lets the packet through, else it is dropped. */
  policies: string[];
}

export interface IPSet {
  name: string;
  family: Family;
  comment: string;
  ips: string[];
}

export interface NamedPortSet {
  name: string;
  family: Family;
  comment: string;
  elements: { ip: string; protocol: Protocol; port: number }[];
}

export interface NodeRuleset {
  families: Family[];
  peerSets: IPSet[];
  namedPortSets: NamedPortSet[];
  policyChains: PolicyChain[];
  podChains: PodChain[];
  /** Local pod IP → its pod chain, per direction. */
  ingress: Map<string, string>;
  egress: Map<string, string>;
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function peerKey(peer: Extract<Peer, { kind: 'pods' }>): string {
  const ns = peer.namespaceSelector === undefined ? `namespace=${peer.policyNamespace}` : `namespaceSelector=${selectorString(peer.namespaceSelector)}`;
  return `${ns}; podSelector=${selectorString(peer.podSelector)}`;
}

/** Comments stay inside nft's 128 bytes and its quoting. */
function comment(text: string): string {
  return text.replace(/["\\\n]/g, ' ').slice(0, 120);
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The ruleset for the pods of `nodeName` under the policies of `state`. Peers are matched against
 * every pod in `state` (pods of other nodes are peers too); only local pods get chains.
 */
export function buildNodeRuleset(state: Readonly<PolicyState>, nodeName: string): NodeRuleset {
  const nsLabels = namespaceIndex(state);
  const families = [...new Set(state.pods.flatMap((p) => p.ips.map(familyOf)))].sort() as Family[];
  if (families.length === 0) families.push(4);

  const peerSets = new Map<string, IPSet>();
  const peerSetFor = (peer: Extract<Peer, { kind: 'pods' }>, family: Family): string => {
    const key = peerKey(peer);
    const name = `peer${family}-${hash(key)}`;
    if (!peerSets.has(name)) {
      const ips = state.pods.filter((p) => podPeerSelects(peer, p, nsLabels)).flatMap((p) => p.ips.filter((ip) => familyOf(ip) === family));
      peerSets.set(name, { name, family, comment: comment(key), ips: [...new Set(ips)].sort() });
    }
    return name;
  };
  const portSets = new Map<string, NamedPortSet>();
  const portSetFor = (named: string, protocol: Protocol, family: Family): string => {
    const name = `port${family}-${hash(`${protocol}/${named}`)}`;
    if (!portSets.has(name)) {
      const elements: NamedPortSet['elements'] = [];
      for (const p of state.pods) {
        const np = p.namedPorts.find((n) => n.name === named && n.protocol === protocol);
        if (np) for (const ip of p.ips) if (familyOf(ip) === family) elements.push({ ip, protocol, port: np.port });
      }
      elements.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
      portSets.set(name, { name, family, comment: comment(`named port ${named}/${protocol}`), elements });
    }
    return name;
  };

  const policyChains: PolicyChain[] = [];
  const chainOf = new Map<string, string>(); // `${dir}/${policy uid}` → chain
  for (const policy of state.policies) {
    for (const dir of ['ingress', 'egress'] as const) {
      const rules = policy[dir];
      if (rules === undefined) continue;
      const name = `pol-${dir === 'ingress' ? 'in' : 'out'}-${hash(policy.uid)}`;
      const out: RulesetRule[] = [];
      const seen = new Set<string>();
      for (const rule of rules) {
        const peers: (Peer | undefined)[] = rule.peers.length ? rule.peers : [undefined];
        const ports: (PortMatch | undefined)[] = rule.ports.length ? rule.ports : [undefined];
        for (const peer of peers) {
          for (const port of ports) {
            for (const family of families) {
              if (peer?.kind === 'ipBlock' && peer.cidr.bits !== (family === 4 ? 32 : 128)) continue;
              const r: RulesetRule = { family: 0 };
              if (peer?.kind === 'ipBlock') r.remote = { cidr: formatCIDR(peer.cidr), except: peer.except.map((e: ParsedCIDR) => formatCIDR(e)) };
              else if (peer?.kind === 'pods') r.remote = { set: peerSetFor(peer, family) };
              if (port && 'named' in port) r.port = { namedSet: portSetFor(port.named, port.protocol, family) };
              else if (port) r.port = { protocol: port.protocol, ...(port.port !== undefined ? { port: port.port } : {}), ...(port.endPort !== undefined ? { endPort: port.endPort } : {}) };
              if (r.remote || (r.port && 'namedSet' in r.port)) r.family = family;
              const key = JSON.stringify(r);
              if (seen.has(key)) continue;
              seen.add(key);
              out.push(r);
            }
          }
        }
      }
      policyChains.push({ name, direction: dir, comment: comment(`${dir} of ${policy.namespace}/${policy.name}`), rules: out });
      chainOf.set(`${dir}/${policy.uid}`, name);
    }
  }

  const podChains: PodChain[] = [];
  const ingress = new Map<string, string>();
  const egress = new Map<string, string>();
  const local = state.pods.filter((p) => p.nodeName === nodeName);
  for (const pod of local) {
    for (const dir of ['ingress', 'egress'] as const) {
      const applying = state.policies.filter((p) => p[dir] !== undefined && policySelects(p, pod));
      // Unselected in a direction means unrestricted in it: no chain, no map entry.
      if (applying.length === 0) continue;
      const name = `pod-${dir === 'ingress' ? 'in' : 'out'}-${hash(pod.uid)}`;
      const policies = applying.map((p) => chainOf.get(`${dir}/${p.uid}`)!).sort();
      podChains.push({ name, direction: dir, comment: comment(`${dir} of pod ${pod.namespace}/${pod.name}`), selfIPs: [...pod.ips], policies });
      for (const ip of pod.ips) (dir === 'ingress' ? ingress : egress).set(ip, name);
    }
  }
  return {
    families,
    peerSets: [...peerSets.values()].sort(byName),
    namedPortSets: [...portSets.values()].sort(byName),
    policyChains: policyChains.sort(byName),
    podChains: podChains.sort(byName),
    ingress,
    egress,
  };
}

// ---- nftables text ----

const addr = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const proto = (p: Protocol) => p.toLowerCase();

/** One accept rule as nft text. */
export function renderRule(r: RulesetRule, dir: Direction): string {
  const parts: string[] = [];
  const field = dir === 'ingress' ? 'saddr' : 'daddr';
  const fam = r.family === 0 ? undefined : r.family;
  if (r.remote && 'set' in r.remote) parts.push(`${addr(fam!)} ${field} @${r.remote.set}`);
  else if (r.remote) {
    const f = familyOf(r.remote.cidr);
    parts.push(`${addr(f)} ${field} ${r.remote.cidr}`);
    if (r.remote.except.length) parts.push(`${addr(f)} ${field} != { ${r.remote.except.join(', ')} }`);
  }
  if (r.port && 'namedSet' in r.port) parts.push(`${addr(fam!)} daddr . meta l4proto . th dport @${r.port.namedSet}`);
  else if (r.port) {
    parts.push(`meta l4proto ${proto(r.port.protocol)}`);
    if (r.port.port !== undefined) parts.push(`th dport ${r.port.endPort !== undefined ? `${r.port.port}-${r.port.endPort}` : r.port.port}`);
  }
  parts.push('accept');
  return parts.join(' ');
}

function elementsLine(items: string[]): string[] {
  return items.length ? [`\t\telements = { ${items.join(', ')} }`] : [];
}

/**
 * The whole table as one nft script: create-if-missing, delete, create, so `nft -f` swaps the old
 * table for the new one in a single transaction (either all of it applies or none).
 */
export function renderNftRuleset(rs: Readonly<NodeRuleset>, table = NETPOL_TABLE): string {
  const L: string[] = [`table inet ${table} {}`, `delete table inet ${table}`, `table inet ${table} {`];
  for (const s of rs.peerSets) {
    L.push(`\tset ${s.name} {`, `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`, `\t\tcomment "${s.comment}"`, ...elementsLine(s.ips), '\t}');
  }
  for (const s of rs.namedPortSets) {
    L.push(
      `\tset ${s.name} {`,
      `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'} . inet_proto . inet_service`,
      `\t\tcomment "${s.comment}"`,
      ...elementsLine(s.elements.map((e) => `${e.ip} . ${proto(e.protocol)} . ${e.port}`)),
      '\t}',
    );
  }
  for (const c of rs.policyChains) {
    L.push(`\tchain ${c.name} {`, `\t\tcomment "${c.comment}"`, ...c.rules.map((r) => `\t\t${renderRule(r, c.direction)}`), '\t}');
  }
  for (const c of rs.podChains) {
    const field = c.direction === 'ingress' ? 'saddr' : 'daddr';
    L.push(
      `\tchain ${c.name} {`,
      `\t\tcomment "${c.comment}"`,
      ...c.selfIPs.map((ip) => `\t\t${addr(familyOf(ip))} ${field} ${ip} accept`),
      ...c.policies.map((p) => `\t\tjump ${p}`),
      '\t\tcounter drop',
      '\t}',
    );
  }
  for (const dir of ['ingress', 'egress'] as const) {
    const m = dir === 'ingress' ? rs.ingress : rs.egress;
    for (const f of rs.families) {
      const entries = [...m].filter(([ip]) => familyOf(ip) === f).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      L.push(`\tmap ${dir}${f} {`, `\t\ttype ${f === 4 ? 'ipv4_addr' : 'ipv6_addr'} : verdict`, ...elementsLine(entries.map(([ip, chain]) => `${ip} : jump ${chain}`)), '\t}');
    }
  }
  const base = (name: string, hook: string, priority: string, dir: Direction, why: string) => {
    L.push(`\tchain ${name} {`, `\t\ttype filter hook ${hook} priority ${priority}; policy accept;`, `\t\tcomment "${why}"`, '\t\tct state established,related accept');
    for (const f of rs.families) L.push(`\t\t${addr(f)} ${dir === 'ingress' ? 'daddr' : 'saddr'} vmap @${dir}${f}`);
    L.push('\t}');
  };
  // Traffic from the node itself to its pods (kubelet probes) leaves through output and never meets
  // these chains: it passes, as in most implementations.
  base('egress-forward', 'forward', 'filter', 'egress', 'egress of local pods to other pods and beyond');
  base('egress-input', 'input', 'filter', 'egress', 'egress of local pods to this node');
  base('ingress-forward', 'forward', 'filter + 10', 'ingress', 'ingress of local pods, after egress');
  L.push('}');
  return L.join('\n') + '\n';
}

/** Removes the table (the script for `nft -f`; harmless when it is absent). */
export function renderNftDelete(table = NETPOL_TABLE): string {
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}

/** Size of a ruleset, for metrics and logs. */
export function rulesetCounts(rs: Readonly<NodeRuleset>): { chains: number; rules: number; sets: number; guardedPods: number } {
  const rules = rs.policyChains.reduce((n, c) => n + c.rules.length, 0) + rs.podChains.reduce((n, c) => n + c.selfIPs.length + c.policies.length + 1, 0);
  return {
    chains: rs.policyChains.length + rs.podChains.length + 3,
    rules,
    sets: rs.peerSets.length + rs.namedPortSets.length,
    guardedPods: new Set(rs.podChains.map((c) => c.name.slice(c.name.lastIndexOf('-') + 1))).size,
  };
}
