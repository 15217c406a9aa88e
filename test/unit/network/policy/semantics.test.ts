import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { connectionVerdict } from '../../../../src/network/policy/semantics.js';
import { policyFrom, type Protocol } from '../../../../src/network/policy/model.js';
import { CASES, type Expect } from './cases.js';
import { ipOf, netpol, world } from './fixtures.js';

describe('NetworkPolicy semantics (connectionVerdict)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const state = world(c.policies, c.extra);
      const got = c.expect.map(([from, to, pp]) => {
        const [protocol, port] = pp.split('/') as [Protocol, string];
        return [from, to, pp, connectionVerdict(state, { srcIP: ipOf(state, from), dstIP: ipOf(state, to), protocol, port: Number(port) }).allowed] as Expect;
      });
      assert.deepEqual(got, c.expect);
    });
  }
});

describe('policyFrom (defaulting)', () => {
  const table: [string, NetworkPolicy, { ingress: boolean; egress: boolean }][] = [
    ['no policyTypes and no egress rules: Ingress only', netpol('x', 'p', { ingress: [{}] }), { ingress: true, egress: false }],
    ['no policyTypes and an empty egress list: Ingress only', netpol('x', 'p', { egress: [] }), { ingress: true, egress: false }],
    ['no policyTypes with egress rules: Ingress and Egress', netpol('x', 'p', { egress: [{}] }), { ingress: true, egress: true }],
    ['policyTypes [Egress] only: no ingress even with ingress rules', netpol('x', 'p', { policyTypes: ['Egress'], ingress: [{}] }), { ingress: false, egress: true }],
  ];
  for (const [name, np, want] of table) {
    it(name, () => {
      const p = policyFrom(np);
      assert.deepEqual({ ingress: p.ingress !== undefined, egress: p.egress !== undefined }, want);
    });
  }
  it('reads a port given as a digit string as a number, and drops an except nested in another', () => {
    const p = policyFrom(netpol('x', 'p', { ingress: [{ ports: [{ port: '8080' as unknown as number }], from: [{ ipBlock: { cidr: '10.0.0.5/8', except: ['10.1.0.0/16', '10.1.2.0/24', '10.1.0.0/16'] } }] }] }));
    assert.deepEqual(p.ingress![0]!.ports, [{ protocol: 'TCP', port: 8080 }]);
    const peer = p.ingress![0]!.peers[0]!;
    assert.equal(peer.kind, 'ipBlock');
    if (peer.kind === 'ipBlock') assert.equal(peer.except.length, 1);
  });
});

