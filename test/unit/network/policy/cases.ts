// The semantics table shared by the semantics tests and the ruleset tests: policies and the
// connections they must allow or deny, in the upstream e2e matrix's world.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { Protocol } from '../../../../src/network/policy/model.js';
import { netpol, pod } from './fixtures.js';

/** [from, to, protocol/port, allowed]: from/to are `ns/pod` or an IP. */
export type Expect = [string, string, `${Protocol}/${number}`, boolean];

export interface Case {
  name: string;
  policies: NetworkPolicy[];
  extra?: { pods?: Pod[]; namespaces?: Namespace[] };
  expect: Expect[];
}

const denyIngressX = netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const denyEgressX = netpol('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });

export const CASES: Case[] = [
  {
    name: 'without policies every pod reaches every pod on every port',
    policies: [],
    expect: [
      ['x/a', 'y/b', 'TCP/80', true],
      ['z/c', 'x/a', 'UDP/81', true],
      ['192.168.7.7', 'x/a', 'SCTP/80', true],
    ],
  },
  {
    name: 'a default-deny ingress policy (empty podSelector, no rules) isolates every pod of its namespace for ingress only',
    policies: [denyIngressX],
    expect: [
      ['y/a', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
      ['192.168.7.7', 'x/c', 'UDP/81', false],
      ['x/a', 'y/b', 'TCP/80', true],
      ['y/a', 'y/b', 'TCP/80', true],
    ],
  },
  {
    name: 'traffic from a pod to itself passes even when its policies deny everything',
    policies: [denyIngressX, denyEgressX],
    expect: [
      ['x/a', 'x/a', 'TCP/80', true],
      ['x/a', 'x/b', 'TCP/80', false],
    ],
  },
  {
    name: 'a default-deny egress policy stops the selected pods from opening connections but not from receiving them',
    policies: [denyEgressX],
    expect: [
      ['x/a', 'y/b', 'TCP/80', false],
      ['x/a', '8.8.8.8', 'UDP/53', false],
      ['y/b', 'x/a', 'TCP/80', true],
    ],
  },
  {
    name: 'a namespaceSelector peer lets every pod of the chosen namespace in, and no one else',
    policies: [netpol('x', 'allow-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })],
    expect: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/c', 'x/a', 'UDP/81', true],
      ['z/a', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
      ['z/a', 'x/b', 'TCP/80', true],
    ],
  },
  {
    name: 'namespaceSelector and podSelector in one peer select those pods in those namespaces (AND)',
    policies: [netpol('x', 'and', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    expect: [
      ['y/b', 'x/a', 'TCP/80', true],
      ['y/c', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'namespaceSelector and podSelector as two peers select either (OR), the podSelector in the policy namespace',
    policies: [netpol('x', 'or', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }] }] })],
    expect: [
      ['y/c', 'x/a', 'TCP/80', true],
      ['x/b', 'x/a', 'TCP/80', true],
      ['z/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'an empty namespaceSelector admits pods of every namespace but not addresses outside the cluster',
    policies: [netpol('x', 'all-ns', { ingress: [{ from: [{ namespaceSelector: {} }] }] })],
    expect: [
      ['z/c', 'x/a', 'TCP/80', true],
      ['192.168.7.7', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'a rule without peers or ports allows everything, addresses outside the cluster too',
    policies: [netpol('x', 'allow-all', { ingress: [{}] })],
    expect: [
      ['192.168.7.7', 'x/a', 'TCP/80', true],
      ['z/c', 'x/b', 'SCTP/81', true],
    ],
  },
  {
    name: 'an ipBlock admits its CIDR except the excepted ranges',
    policies: [netpol('x', 'block', { ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24', '192.168.1.128/25'] } }] }] })],
    expect: [
      ['192.168.7.7', 'x/a', 'TCP/80', true],
      ['192.168.1.5', 'x/a', 'TCP/80', false],
      ['192.168.1.200', 'x/a', 'TCP/80', false],
      ['10.0.0.1', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'an ipBlock matches pod addresses too, so a CIDR of one node pod range admits that node pods',
    policies: [netpol('x', 'node2', { ingress: [{ from: [{ ipBlock: { cidr: '10.244.2.0/24' } }] }] })],
    expect: [
      ['y/c', 'x/a', 'TCP/80', true],
      ['y/a', 'x/b', 'TCP/80', false],
    ],
  },
  {
    name: 'egress to an ipBlock with except, as a pod reaching the outside world but not the metadata range',
    policies: [netpol('x', 'out', { policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.0.0/16'] } }] }] })],
    expect: [
      ['x/a', '8.8.8.8', 'UDP/53', true],
      ['x/a', '169.254.169.254', 'TCP/80', false],
      ['x/a', 'y/b', 'TCP/80', true],
    ],
  },
  {
    name: 'a numeric port admits only that port of that protocol (TCP when unset)',
    policies: [netpol('x', 'p80', { ingress: [{ ports: [{ port: 80 }] }] })],
    expect: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/81', false],
      ['y/a', 'x/a', 'UDP/80', false],
    ],
  },
  {
    name: 'endPort admits the whole range, both ends included',
    policies: [netpol('x', 'range', { ingress: [{ ports: [{ protocol: 'UDP', port: 80, endPort: 81 }] }] })],
    expect: [
      ['y/a', 'x/a', 'UDP/80', true],
      ['y/a', 'x/a', 'UDP/81', true],
      ['y/a', 'x/a', 'UDP/82', false],
      ['y/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'a port with only a protocol admits every port of that protocol; SCTP is a protocol like the others',
    policies: [netpol('x', 'sctp', { ingress: [{ ports: [{ protocol: 'SCTP' }] }] })],
    expect: [
      ['y/a', 'x/a', 'SCTP/80', true],
      ['y/a', 'x/a', 'SCTP/81', true],
      ['y/a', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'an ingress named port resolves against the target pod container ports, with the protocol',
    policies: [netpol('x', 'named', { ingress: [{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] })],
    extra: { pods: [pod('x', 'odd', { ip: '10.244.1.99', labels: { pod: 'odd' } })].map((p) => ({ ...p, spec: { ...p.spec!, containers: [{ name: 'c', ports: [{ name: 'serve-81-udp', containerPort: 9000, protocol: 'UDP' }] }] } })) },
    expect: [
      ['y/a', 'x/a', 'UDP/81', true],
      ['y/a', 'x/a', 'UDP/80', false],
      ['y/a', 'x/a', 'TCP/81', false],
      ['y/a', 'x/odd', 'UDP/9000', true],
      ['y/a', 'x/odd', 'UDP/81', false],
    ],
  },
  {
    name: 'an egress named port resolves against the destination pod, so it never matches an address that is not a pod',
    policies: [netpol('x', 'named-out', { policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
    expect: [
      ['x/a', 'y/b', 'TCP/80', true],
      ['x/a', 'y/b', 'TCP/81', false],
      ['x/a', '8.8.8.8', 'TCP/80', false],
    ],
  },
  {
    name: 'policies are additive: a pod selected by two policies accepts what either allows',
    policies: [
      netpol('x', 'from-y', { ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
      netpol('x', 'from-z-81', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }], ports: [{ port: 81 }] }] }),
    ],
    expect: [
      ['y/c', 'x/a', 'TCP/80', true],
      ['z/c', 'x/a', 'TCP/81', true],
      ['z/c', 'x/a', 'TCP/80', false],
      ['z/c', 'x/b', 'TCP/81', false],
    ],
  },
  {
    name: 'both ends are checked: egress of the source and ingress of the destination must each allow the connection',
    policies: [
      netpol('x', 'out-to-y', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
      netpol('y', 'in-from-x-b', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    ],
    expect: [
      ['x/a', 'y/a', 'TCP/80', false],
      ['x/b', 'y/a', 'TCP/80', true],
      ['x/a', 'z/a', 'TCP/80', false],
    ],
  },
  {
    name: 'policyTypes [Egress] ignores ingress rules, so ingress stays unrestricted',
    policies: [netpol('x', 'egress-only', { policyTypes: ['Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'none' } } }] }], egress: [{}] })],
    expect: [
      ['y/a', 'x/a', 'TCP/80', true],
      ['x/a', 'y/a', 'TCP/80', true],
    ],
  },
  {
    name: 'without policyTypes, egress rules make the policy an egress policy too (upstream defaulting)',
    policies: [netpol('x', 'both', { egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }] })],
    expect: [
      ['y/a', 'x/a', 'TCP/80', false],
      ['x/a', 'z/a', 'TCP/80', true],
      ['x/a', 'y/a', 'TCP/80', false],
    ],
  },
  {
    name: 'matchExpressions select pods as label selectors do (In, NotIn, Exists, DoesNotExist)',
    policies: [netpol('x', 'expr', { podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] }, podSelector: { matchExpressions: [{ key: 'pod', operator: 'Exists' }] } }] }] })],
    expect: [
      ['y/a', 'x/a', 'TCP/80', false],
      ['z/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/c', 'TCP/80', true],
    ],
  },
  {
    name: 'namespaces can be chosen by their kubernetes.io/metadata.name label',
    policies: [netpol('x', 'by-name', { ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }] })],
    expect: [
      ['z/b', 'x/a', 'TCP/80', true],
      ['y/b', 'x/a', 'TCP/80', false],
    ],
  },
  {
    name: 'host-network pods are neither guarded nor chosen by pod selectors; their node address is just an address',
    policies: [denyIngressX, netpol('y', 'deny', {}), netpol('x', 'from-hn', { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'hn' } } }] }] })],
    extra: { pods: [pod('y', 'hn', { ip: '192.168.50.2', hostNetwork: true, labels: { pod: 'hn' } }), pod('x', 'hn2', { ip: '192.168.50.3', hostNetwork: true, labels: { pod: 'hn' } })] },
    expect: [
      ['x/a', '192.168.50.2', 'TCP/80', true],
      ['192.168.50.3', 'x/a', 'TCP/80', false],
    ],
  },
];

