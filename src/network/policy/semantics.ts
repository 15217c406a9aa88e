// NetworkPolicy semantics as one pure function: may this connection be opened? The reference the
// generated kernel rules are tested against (upstream's networking.k8s.io/v1 API docs and the
// netpol e2e matrix are the specification).
import {
  ipBlockHolds,
  namespaceIndex,
  podPeerSelects,
  policySelects,
  resolveNamedPort,
  type Direction,
  type Peer,
  type PolicyPod,
  type PolicyState,
  type PortMatch,
  type Protocol,
  type Rule,
} from './model.js';

/** The first packet of a connection (replies of allowed connections always pass). */
export interface Connection {
  srcIP: string;
  dstIP: string;
  protocol: Protocol;
  port: number;
}

/** unrestricted: no policy of that direction selects the pod (or the end is not a pod). */
export type DirectionVerdict = 'unrestricted' | 'allowed' | 'denied';

export interface ConnectionVerdict {
  egress: DirectionVerdict;
  ingress: DirectionVerdict;
  allowed: boolean;
}

function peerMatches(peer: Peer, ip: string, pod: PolicyPod | undefined, nsLabels: ReturnType<typeof namespaceIndex>): boolean {
  if (peer.kind === 'ipBlock') return ipBlockHolds(peer, ip);
  return pod !== undefined && podPeerSelects(peer, pod, nsLabels);
}

/** Named ports resolve against the destination pod: the target for ingress, the peer for egress. */
function portMatches(p: PortMatch, protocol: Protocol, port: number, dstPod: PolicyPod | undefined): boolean {
  if (p.protocol !== protocol) return false;
  if ('named' in p) return dstPod !== undefined && resolveNamedPort(dstPod, p.named, protocol) === port;
  if (p.port === undefined) return true;
  return p.endPort === undefined ? port === p.port : port >= p.port && port <= p.endPort;
}

function ruleAllows(rule: Rule, remoteIP: string, remotePod: PolicyPod | undefined, c: Connection, dstPod: PolicyPod | undefined, nsLabels: ReturnType<typeof namespaceIndex>): boolean {
  const peerOk = rule.peers.length === 0 || rule.peers.some((p) => peerMatches(p, remoteIP, remotePod, nsLabels));
  const portOk = rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, c.protocol, c.port, dstPod));
  return peerOk && portOk;
}

/** The verdict of one direction for the pod that direction guards (src for egress, dst for ingress). */
export function directionVerdict(state: Readonly<PolicyState>, c: Connection, dir: Direction, byIP?: ReadonlyMap<string, PolicyPod>): DirectionVerdict {
  const pods = byIP ?? podsByIP(state);
  const srcPod = pods.get(c.srcIP);
  const dstPod = pods.get(c.dstIP);
  const guarded = dir === 'egress' ? srcPod : dstPod;
  if (!guarded) return 'unrestricted';
  const applying = state.policies.filter((p) => p[dir] !== undefined && policySelects(p, guarded));
  if (applying.length === 0) return 'unrestricted';
  // A pod talking to itself is never cut off by its own policies.
  if (srcPod !== undefined && srcPod === dstPod) return 'allowed';
  const [remoteIP, remotePod] = dir === 'egress' ? [c.dstIP, dstPod] : [c.srcIP, srcPod];
  const nsLabels = namespaceIndex(state);
  const ok = applying.some((p) => p[dir]!.some((r) => ruleAllows(r, remoteIP, remotePod, c, dstPod, nsLabels)));
  return ok ? 'allowed' : 'denied';
}

export function podsByIP(state: Readonly<PolicyState>): Map<string, PolicyPod> {
  const m = new Map<string, PolicyPod>();
  for (const p of state.pods) for (const ip of p.ips) m.set(ip, p);
  return m;
}

/** May `c` be opened under the policies of `state`? Egress of the source and ingress of the destination must both allow it. */
export function connectionVerdict(state: Readonly<PolicyState>, c: Connection): ConnectionVerdict {
  const byIP = podsByIP(state);
  const egress = directionVerdict(state, c, 'egress', byIP);
  const ingress = directionVerdict(state, c, 'ingress', byIP);
  return { egress, ingress, allowed: egress !== 'denied' && ingress !== 'denied' };
}
