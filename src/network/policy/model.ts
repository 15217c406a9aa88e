// The NetworkPolicy model every part of policy enforcement reads: pods, namespaces and policies
// reduced to what enforcement needs (IPs, labels, named ports, normalized rules), built once from
// API objects. Pure; the semantics (semantics.ts) and the node's ruleset (ruleset.ts) start here.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import { fromLabelSelector, matches, type Labels, type Requirement } from '../../api/labels.js';
import { formatCIDR, parseCIDR, parseIP, type ParsedCIDR } from '../../controllers/nodeipam/cidrSet.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Family = 4 | 6;

/** A container port of a pod, as named ports resolve against it. */
export interface NamedPort {
  name: string;
  protocol: Protocol;
  port: number;
}

/** A pod on the pod network, as policies see it. */
export interface PolicyPod {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  labels: Readonly<Record<string, string>>;
  /** status.podIPs (normalized text form). */
  ips: string[];
  namedPorts: NamedPort[];
}

export interface PolicyNamespace {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** A peer of a rule: pods chosen by selectors, or an address block. */
export type Peer =
  | {
      kind: 'pods';
      /** Pods whose labels match, in the namespaces below. */
      podSelector: Requirement[];
      /** undefined: only the policy's own namespace; else namespaces whose labels match. */
      namespaceSelector: Requirement[] | undefined;
      /** The policy's namespace (used when namespaceSelector is undefined). */
      policyNamespace: string;
    }
  | { kind: 'ipBlock'; cidr: ParsedCIDR; except: ParsedCIDR[] };

/** A port of a rule: a protocol with an optional number or range, or a named port. */
export type PortMatch = { protocol: Protocol; port?: number; endPort?: number } | { protocol: Protocol; named: string };

/** One rule: allows traffic that matches any peer (none = every address) and any port (none = every port). */
export interface Rule {
  peers: Peer[];
  ports: PortMatch[];
}

export interface Policy {
  namespace: string;
  name: string;
  uid: string;
  podSelector: Requirement[];
  /** Present when the policy applies to ingress (policyTypes), then possibly empty (deny all). */
  ingress?: Rule[];
  /** Present when the policy applies to egress. */
  egress?: Rule[];
}

export interface PolicyState {
  pods: PolicyPod[];
  namespaces: PolicyNamespace[];
  policies: Policy[];
}

export type Direction = 'ingress' | 'egress';

/** The label the API server puts on every namespace; added here too, so selectors on it always work. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 6 : 4;
}

function normalizeIP(ip: string): string | undefined {
  const p = parseIP(ip.trim());
  return p ? formatCIDR({ ip: p.ip, prefix: p.bits, bits: p.bits }).split('/')[0] : undefined;
}

/**
 * The pod as policies see it, or undefined when policies do not apply to it: host-network pods
 * (their IP is the node's), pods without an IP yet, and finished pods (their IP may be reused).
 */
export function policyPodFrom(pod: Readonly<Pod>): PolicyPod | undefined {
  if (pod.spec?.hostNetwork) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const raw = pod.status?.podIPs?.length ? pod.status.podIPs.map((p) => p.ip) : pod.status?.podIP ? [pod.status.podIP] : [];
  const ips = raw.map((ip) => (ip ? normalizeIP(ip) : undefined)).filter((ip): ip is string => ip !== undefined);
  if (ips.length === 0) return undefined;
  const namedPorts: NamedPort[] = [];
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (p.name) namedPorts.push({ name: p.name, protocol: (p.protocol ?? 'TCP') as Protocol, port: p.containerPort });
    }
  }
  return {
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`,
    nodeName: pod.spec?.nodeName ?? '',
    labels: pod.metadata?.labels ?? {},
    ips,
    namedPorts,
  };
}

export function policyNamespaceFrom(ns: Readonly<Namespace>): PolicyNamespace {
  const name = ns.metadata?.name ?? '';
  return { name, labels: { ...(ns.metadata?.labels ?? {}), [NAMESPACE_NAME_LABEL]: name } };
}

function peerFrom(p: Readonly<NetworkPolicyPeer>, policyNamespace: string): Peer | undefined {
  if (p.ipBlock) {
    const cidr = parseCIDR(p.ipBlock.cidr);
    // Nested excepts are dropped: the outer one already removes them (and nft refuses overlapping intervals).
    const except = (p.ipBlock.except ?? []).map((e) => parseCIDR(e)).filter((e) => e.bits === cidr.bits);
    const outer = except.filter((e) => !except.some((o) => o !== e && o.prefix < e.prefix && cidrContains(o, e)));
    const unique = outer.filter((e, i) => outer.findIndex((o) => o.prefix === e.prefix && o.ip === e.ip) === i);
    return { kind: 'ipBlock', cidr, except: unique };
  }
  if (!p.podSelector && !p.namespaceSelector) return undefined; // invalid; the API server refuses it
  return {
    kind: 'pods',
    podSelector: fromLabelSelector(p.podSelector),
    namespaceSelector: p.namespaceSelector ? fromLabelSelector(p.namespaceSelector) : undefined,
    policyNamespace,
  };
}

function portFrom(p: Readonly<NetworkPolicyPort>): PortMatch {
  const protocol = (p.protocol ?? 'TCP') as Protocol;
  if (p.port === undefined) return { protocol };
  if (typeof p.port === 'string') {
    // An int-or-string holding digits is a number, as upstream's IntOrString parses it.
    if (!/^\d+$/.test(p.port)) return { protocol, named: p.port };
    return portRange(protocol, Number(p.port), p.endPort);
  }
  return portRange(protocol, p.port, p.endPort);
}

function portRange(protocol: Protocol, port: number, endPort: number | undefined): PortMatch {
  return endPort !== undefined && endPort > port ? { protocol, port, endPort } : { protocol, port };
}

function ruleFrom(r: Readonly<{ ports?: NetworkPolicyPort[] }>, peers: readonly NetworkPolicyPeer[] | undefined, namespace: string): Rule {
  return {
    peers: (peers ?? []).map((p) => peerFrom(p, namespace)).filter((p): p is Peer => p !== undefined),
    ports: (r.ports ?? []).map(portFrom),
  };
}

/**
 * The policy with upstream's defaulting applied: policyTypes unset means Ingress, plus Egress when
 * there are egress rules; a direction not in policyTypes is ignored even if it has rules.
 */
export function policyFrom(np: Readonly<NetworkPolicy>): Policy {
  const namespace = np.metadata?.namespace ?? 'default';
  const spec: Partial<NetworkPolicySpec> = np.spec ?? {};
  const types = spec.policyTypes?.length ? spec.policyTypes : ['Ingress', ...(spec.egress?.length ? ['Egress'] : [])];
  const policy: Policy = {
    namespace,
    name: np.metadata?.name ?? '',
    uid: np.metadata?.uid ?? `${namespace}/${np.metadata?.name}`,
    podSelector: fromLabelSelector(spec.podSelector),
  };
  if (types.includes('Ingress')) policy.ingress = (spec.ingress ?? []).map((r) => ruleFrom(r, r.from, namespace));
  if (types.includes('Egress')) policy.egress = (spec.egress ?? []).map((r) => ruleFrom(r, r.to, namespace));
  return policy;
}

// ---- selection ----

export function cidrContains(outer: ParsedCIDR, inner: ParsedCIDR): boolean {
  if (outer.bits !== inner.bits || inner.prefix < outer.prefix) return false;
  const shift = BigInt(outer.bits - outer.prefix);
  return inner.ip >> shift === outer.ip >> shift;
}

export function ipInCIDR(ip: string, cidr: ParsedCIDR): boolean {
  const p = parseIP(ip);
  if (!p || p.bits !== cidr.bits) return false;
  return cidrContains(cidr, { ip: p.ip, prefix: p.bits, bits: p.bits });
}

/** Does the ipBlock hold this address (in cidr, in no except)? */
export function ipBlockHolds(peer: Extract<Peer, { kind: 'ipBlock' }>, ip: string): boolean {
  return ipInCIDR(ip, peer.cidr) && !peer.except.some((e) => ipInCIDR(ip, e));
}

/** Does the policy select this pod as a target? */
export function policySelects(policy: Readonly<Policy>, pod: Readonly<PolicyPod>): boolean {
  return pod.namespace === policy.namespace && matches(policy.podSelector, pod.labels);
}

/** Does a pods-peer choose this pod (namespace labels looked up in `namespaces`)? */
export function podPeerSelects(peer: Extract<Peer, { kind: 'pods' }>, pod: Readonly<PolicyPod>, namespaceLabels: (ns: string) => Labels): boolean {
  if (!matches(peer.podSelector, pod.labels)) return false;
  if (peer.namespaceSelector === undefined) return pod.namespace === peer.policyNamespace;
  const labels = namespaceLabels(pod.namespace);
  // A pod whose namespace is not (yet) known matches no namespace selector.
  return labels !== undefined && matches(peer.namespaceSelector, labels);
}

/** Namespace name → labels, from the state. */
export function namespaceIndex(state: Readonly<PolicyState>): (ns: string) => Labels {
  const byName = new Map(state.namespaces.map((n) => [n.name, n.labels]));
  return (ns) => byName.get(ns);
}

/** The named port `name` of `protocol` on the pod, if it has one. */
export function resolveNamedPort(pod: Readonly<PolicyPod>, name: string, protocol: Protocol): number | undefined {
  return pod.namedPorts.find((p) => p.name === name && p.protocol === protocol)?.port;
}
