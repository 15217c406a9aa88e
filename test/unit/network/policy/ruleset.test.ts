import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { familyOf, ipInCIDR, type PolicyState, type Protocol } from '../../../../src/network/policy/model.js';
import { connectionVerdict, type Connection } from '../../../../src/network/policy/semantics.js';
import { buildNodeRuleset, renderNftRuleset, renderRule, type NodeRuleset, type RulesetRule } from '../../../../src/network/policy/ruleset.js';
import { parseCIDR } from '../../../../src/controllers/nodeipam/cidrSet.js';
import { CASES } from './cases.js';
import { netpol, pod, world } from './fixtures.js';

// An interpreter of the ruleset plan with nftables' semantics (base chain egress then ingress; an
// accept in a pod's policy chains lets the packet on; else the pod chain drops it).
function ruleMatches(rs: NodeRuleset, r: RulesetRule, c: Connection, dir: 'ingress' | 'egress'): boolean {
  if (r.family !== 0 && familyOf(c.srcIP) !== r.family) return false;
  const remote = dir === 'ingress' ? c.srcIP : c.dstIP;
  if (r.remote && 'set' in r.remote) {
    const set = rs.peerSets.find((s) => s.name === (r.remote as { set: string }).set);
    assert.ok(set, `set ${r.remote.set} is declared`);
    if (!set.ips.includes(remote)) return false;
  } else if (r.remote) {
    if (!ipInCIDR(remote, parseCIDR(r.remote.cidr)) || r.remote.except.some((e) => ipInCIDR(remote, parseCIDR(e)))) return false;
  }
  if (r.port && 'namedSet' in r.port) {
    const set = rs.namedPortSets.find((s) => s.name === (r.port as { namedSet: string }).namedSet);
    assert.ok(set, 'named port set is declared');
    return set.elements.some((e) => e.ip === c.dstIP && e.protocol === c.protocol && e.port === c.port);
  }
  if (r.port) {
    if (r.port.protocol !== c.protocol) return false;
    if (r.port.port !== undefined && (c.port < r.port.port || c.port > (r.port.endPort ?? r.port.port))) return false;
  }
  return true;
}

function passes(rs: NodeRuleset, c: Connection, dir: 'ingress' | 'egress'): boolean {
  const chainName = (dir === 'ingress' ? rs.ingress : rs.egress).get(dir === 'ingress' ? c.dstIP : c.srcIP);
  if (!chainName) return true;
  const chain = rs.podChains.find((p) => p.name === chainName)!;
  if (chain.selfIPs.includes(dir === 'ingress' ? c.srcIP : c.dstIP)) return true;
  return chain.policies.some((name) => {
    const pc = rs.policyChains.find((p) => p.name === name);
    assert.ok(pc, `policy chain ${name} is declared`);
    return pc.rules.some((r) => ruleMatches(rs, r, c, dir));
  });
}

const EXTERNAL = ['192.168.7.7', '192.168.1.5', '192.168.1.200', '8.8.8.8', '169.254.169.254'];

/** Every connection of the world, checked by the rulesets of the nodes of its two ends, against the semantics. */
function mismatches(state: PolicyState): string[] {
  const nodes = [...new Set(state.pods.map((p) => p.nodeName))];
  const rulesets = new Map(nodes.map((n) => [n, buildNodeRuleset(state, n)]));
  const nodeOf = new Map(state.pods.flatMap((p) => p.ips.map((ip) => [ip, p.nodeName] as const)));
  const ips = [...state.pods.flatMap((p) => p.ips), ...EXTERNAL];
  const out: string[] = [];
  for (const src of ips) {
    for (const dst of ips) {
      for (const protocol of ['TCP', 'UDP', 'SCTP'] as Protocol[]) {
        for (const port of [80, 81, 82, 9000]) {
          const c = { srcIP: src, dstIP: dst, protocol, port };
          const want = connectionVerdict(state, c).allowed;
          const srcNode = nodeOf.get(src);
          const dstNode = nodeOf.get(dst);
          const got = (!srcNode || passes(rulesets.get(srcNode)!, c, 'egress')) && (!dstNode || passes(rulesets.get(dstNode)!, c, 'ingress'));
          if (got !== want) out.push(`${src} -> ${dst} ${protocol}/${port}: rules ${got ? 'allow' : 'deny'}, semantics ${want ? 'allow' : 'deny'}`);
        }
      }
    }
  }
  return out;
}

describe('buildNodeRuleset agrees with the semantics on every connection of the matrix', () => {
  for (const c of CASES) {
    it(c.name, () => {
      assert.deepEqual(mismatches(world(c.policies, c.extra)).slice(0, 10), []);
    });
  }
});

describe('buildNodeRuleset', () => {
  it('gives chains only to local pods that some policy guards in that direction', () => {
    const state = world([netpol('x', 'deny', { podSelector: { matchLabels: { pod: 'a' } } })]);
    const rs = buildNodeRuleset(state, 'node-1');
    assert.deepEqual([...rs.ingress.keys()], ['10.244.1.11']);
    assert.equal(rs.egress.size, 0);
    assert.equal(buildNodeRuleset(state, 'node-2').ingress.size, 0);
  });
  it('fills peer sets with the chosen pods of every node, and shares one set between identical peers', () => {
    const peer = { namespaceSelector: { matchLabels: { ns: 'y' } } };
    const state = world([netpol('x', 'p1', { ingress: [{ from: [peer] }] }), netpol('x', 'p2', { ingress: [{ from: [peer], ports: [{ port: 80 }] }] })]);
    const rs = buildNodeRuleset(state, 'node-1');
    assert.equal(rs.peerSets.length, 1);
    assert.deepEqual(rs.peerSets[0]!.ips, ['10.244.1.21', '10.244.1.22', '10.244.2.23']);
  });
  it('renders the same text whatever order the informers list objects in', () => {
    const policies = [netpol('x', 'p1', { ingress: [{ from: [{ podSelector: {} }] }] }), netpol('y', 'p2', { egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })];
    const a = world(policies);
    const b: PolicyState = { pods: [...a.pods].reverse(), namespaces: [...a.namespaces].reverse(), policies: [...a.policies].reverse() };
    assert.equal(renderNftRuleset(buildNodeRuleset(a, 'node-1')), renderNftRuleset(buildNodeRuleset(b, 'node-1')));
  });
  it('handles IPv6 pods and ipBlocks in their own family', () => {
    const base = pod('x', 'a', { ip: 'fd00:10:244:1::11', labels: { pod: 'six' } });
    const v6 = { ...base, metadata: { ...base.metadata, name: 'six', uid: 'uid-six' } };
    const state = world([netpol('x', 'p', { podSelector: { matchLabels: { pod: 'six' } }, ingress: [{ from: [{ ipBlock: { cidr: 'fd00:99::/64' } }, { podSelector: {} }] }] })], { pods: [v6] });
    const rs = buildNodeRuleset(state, 'node-1');
    assert.deepEqual(rs.families, [4, 6]);
    assert.equal(rs.ingress.get('fd00:10:244:1::11') !== undefined, true);
    assert.deepEqual(mismatches(state).slice(0, 5), []);
    assert.equal(connectionVerdict(state, { srcIP: 'fd00:99::5', dstIP: 'fd00:10:244:1::11', protocol: 'TCP', port: 80 }).allowed, true);
    const text = renderNftRuleset(rs);
    assert.match(text, /ip6 saddr fd00:99::\/64 accept/);
    assert.match(text, /map ingress6 \{\n\t\ttype ipv6_addr : verdict\n\t\telements = \{ fd00:10:244:1::11 : jump pod-in-[0-9a-f]{16} \}/);
  });
});

describe('renderRule', () => {
  const table: [string, RulesetRule, 'ingress' | 'egress', string][] = [
    ['a rule that allows everything', { family: 0 }, 'ingress', 'accept'],
    ['a peer set on the source for ingress', { family: 4, remote: { set: 'peer4-x' } }, 'ingress', 'ip saddr @peer4-x accept'],
    ['a peer set on the destination for egress', { family: 4, remote: { set: 'peer4-x' } }, 'egress', 'ip daddr @peer4-x accept'],
    ['an ipBlock with excepts', { family: 0, remote: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.0.0/16'] } }, 'ingress', 'ip saddr 10.0.0.0/8 ip saddr != { 10.1.0.0/16, 10.2.0.0/16 } accept'],
    ['a protocol without a port', { family: 0, port: { protocol: 'SCTP' } }, 'ingress', 'meta l4proto sctp accept'],
    ['a port range', { family: 0, port: { protocol: 'UDP', port: 1000, endPort: 2000 } }, 'egress', 'meta l4proto udp th dport 1000-2000 accept'],
    ['a named port, always matched on the destination', { family: 6, port: { namedSet: 'port6-y' } }, 'ingress', 'ip6 daddr . meta l4proto . th dport @port6-y accept'],
  ];
  for (const [name, rule, dir, want] of table) it(name, () => assert.equal(renderRule(rule, dir), want));
});

describe('renderNftRuleset', () => {
  it('replaces the table in one script: create if missing, delete, create, with established traffic first in each base chain', () => {
    const text = renderNftRuleset(buildNodeRuleset(world([netpol('x', 'deny', {})]), 'node-1'), 'k8ts-netpol-t');
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['table inet k8ts-netpol-t {}', 'delete table inet k8ts-netpol-t', 'table inet k8ts-netpol-t {']);
    assert.match(text, /chain egress-forward \{\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tcomment "[^"]+"\n\t\tct state established,related accept\n\t\tip saddr vmap @egress4/);
    assert.match(text, /chain egress-input \{\n\t\ttype filter hook input priority filter; policy accept;/);
    assert.match(text, /chain ingress-forward \{\n\t\ttype filter hook forward priority filter \+ 10; policy accept;/);
    assert.match(text, /chain pod-in-[0-9a-f]{16} \{\n\t\tcomment "ingress of pod x\/a"\n\t\tip saddr 10\.244\.1\.11 accept\n\t\tjump pol-in-[0-9a-f]{16}\n\t\tcounter drop\n\t\}/);
  });
});
