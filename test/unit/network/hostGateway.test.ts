import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noMasqueradeRules } from '../../../src/network/hostGateway.js';

describe('noMasqueradeRules', () => {
  const table: [string, string[], { cidr: string; via: string }[], string[][]][] = [
    ['no other routed node: no rules', ['10.42.0.0/24'], [], []],
    [
      'one rule per (own pod network, other node pod network), accepting before the CNI masquerade',
      ['10.42.0.0/24'],
      [{ cidr: '10.42.1.0/24', via: '172.30.1.3' }, { cidr: '10.42.2.0/24', via: '172.30.1.4' }],
      [
        ['-s', '10.42.0.0/24', '-d', '10.42.1.0/24', '-m', 'comment', '--comment', 'k8ts: pod to pod between nodes keeps its source', '-j', 'ACCEPT'],
        ['-s', '10.42.0.0/24', '-d', '10.42.2.0/24', '-m', 'comment', '--comment', 'k8ts: pod to pod between nodes keeps its source', '-j', 'ACCEPT'],
      ],
    ],
    ['IPv6 pod networks are left to ip6tables (not routed by host-gw yet)', ['fd00:42::/64'], [{ cidr: '10.42.1.0/24', via: '172.30.1.3' }], []],
  ];
  for (const [name, own, others, want] of table) it(name, () => assert.deepEqual(noMasqueradeRules(own, others), want));
});
