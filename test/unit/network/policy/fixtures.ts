// Builders for NetworkPolicy tests: the upstream e2e matrix's world (namespaces x, y, z; pods a, b, c
// in each, serving 80 and 81 over TCP, UDP and SCTP with named ports), spread over two nodes.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import { policyFrom, policyNamespaceFrom, policyPodFrom, type PolicyPod, type PolicyState } from '../../../../src/network/policy/model.js';

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const PODS = ['a', 'b', 'c'] as const;

export function namespace(name: string, labels: Record<string, string> = {}): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ns: name, ...labels } } };
}

/** Pod `ns/name` with label pod=<name>, on node-1 (a, b) or node-2 (c), IP 10.244.<n>.<k>. */
export function pod(ns: string, name: string, o: { ip?: string; node?: string; labels?: Record<string, string>; hostNetwork?: boolean } = {}): Pod {
  const nsIndex = NAMESPACES.indexOf(ns as (typeof NAMESPACES)[number]) + 1;
  const podIndex = PODS.indexOf(name as (typeof PODS)[number]) + 1;
  const node = o.node ?? (name === 'c' ? 'node-2' : 'node-1');
  const ip = o.ip ?? `10.244.${node === 'node-1' ? 1 : 2}.${nsIndex * 10 + podIndex}`;
  const ports = [80, 81].flatMap((port) =>
    (['TCP', 'UDP', 'SCTP'] as const).map((protocol) => ({ containerPort: port, protocol, name: `serve-${port}-${protocol.toLowerCase()}` })),
  );
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: ns, name, uid: `uid-${ns}-${name}`, labels: o.labels ?? { pod: name } },
    spec: { nodeName: node, containers: [{ name: 'cont', image: 'agnhost', ports }], ...(o.hostNetwork ? { hostNetwork: true } : {}) },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

export function netpol(ns: string, name: string, spec: Partial<NetworkPolicySpec>): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: ns, name, uid: `np-${ns}-${name}` }, spec: { podSelector: {}, ...spec } };
}

/** The matrix world plus `policies` (and optionally extra pods/namespaces). */
export function world(policies: NetworkPolicy[], extra: { pods?: Pod[]; namespaces?: Namespace[] } = {}): PolicyState {
  const pods = [...NAMESPACES.flatMap((ns) => PODS.map((p) => pod(ns, p))), ...(extra.pods ?? [])];
  return {
    pods: pods.map((p) => policyPodFrom(p)).filter((p): p is PolicyPod => p !== undefined),
    namespaces: [...NAMESPACES.map((n) => namespace(n)), ...(extra.namespaces ?? [])].map(policyNamespaceFrom),
    policies: policies.map(policyFrom),
  };
}

/** The IP of `ns/name` in a state. */
export function ipOf(state: PolicyState, ref: string): string {
  if (!ref.includes('/')) return ref; // already an address
  const [ns, name] = ref.split('/') as [string, string];
  const p = state.pods.find((q) => q.namespace === ns && q.name === name);
  if (!p) throw new Error(`no pod ${ref}`);
  return p.ips[0]!;
}
