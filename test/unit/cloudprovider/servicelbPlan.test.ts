// ServiceLB's pure decisions: pool parsing, which nodes and addresses serve a Service, port
// clashes between Services, class filtering and status comparison.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Service, ServicePort } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { LoadBalancerUnavailableError, type LoadBalancerUnavailableReason } from '../../../src/cloudprovider/cloud.js';
import {
  clashesAt,
  holderOf,
  ingressFor,
  loadBalancerStatusEqual,
  nodeChangeMatters,
  nodesForService,
  nodesWithReadyEndpoints,
  nodeUsableForLoadBalancers,
  planFromNodes,
  planFromPool,
  serviceIPFamilies,
  wantsLoadBalancer,
} from '../../../src/cloudprovider/servicelb/plan.js';
import { AddressPool, PoolParseError, compareIPs } from '../../../src/cloudprovider/servicelb/pool.js';

interface NodeOpts {
  internal?: string[];
  external?: string[];
  ready?: boolean;
  unschedulable?: boolean;
  labels?: Record<string, string>;
  taints?: string[];
}

function node(name: string, o: NodeOpts = {}): Node {
  return {
    metadata: { name, labels: o.labels ?? {} },
    spec: { ...(o.unschedulable ? { unschedulable: true } : {}), ...(o.taints ? { taints: o.taints.map((key) => ({ key, effect: 'NoSchedule' })) } : {}) },
    status: {
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      addresses: [...(o.internal ?? []).map((address) => ({ type: 'InternalIP', address })), ...(o.external ?? []).map((address) => ({ type: 'ExternalIP', address })), { type: 'Hostname', address: name }],
    },
  };
}

interface SvcOpts {
  ports?: Array<number | [number, string]>;
  created?: string;
  ips?: string[];
  loadBalancerIP?: string;
  families?: string[];
  policy?: string;
  type?: string;
  cls?: string;
  labels?: Record<string, string>;
  etp?: string;
}

function svc(name: string, o: SvcOpts = {}): Service {
  const ports: ServicePort[] = (o.ports ?? [80]).map((p) => (Array.isArray(p) ? { port: p[0], protocol: p[1] } : { port: p, protocol: 'TCP' }));
  return {
    metadata: { namespace: 'default', name, uid: `uid-${name}`, creationTimestamp: o.created ?? '2025-01-01T00:00:00Z', labels: o.labels ?? {} },
    spec: {
      type: o.type ?? 'LoadBalancer',
      ports,
      ...(o.cls ? { loadBalancerClass: o.cls } : {}),
      ...(o.loadBalancerIP ? { loadBalancerIP: o.loadBalancerIP } : {}),
      ...(o.families ? { ipFamilies: o.families } : {}),
      ...(o.policy ? { ipFamilyPolicy: o.policy } : {}),
      ...(o.etp ? { externalTrafficPolicy: o.etp } : {}),
    },
    status: { loadBalancer: ingressFor(o.ips ?? []) },
  };
}

const unavailable = (code: LoadBalancerUnavailableReason, message?: RegExp) => (e: unknown) => e instanceof LoadBalancerUnavailableError && e.code === code && (!message || message.test(e.message));

describe('ServiceLB address pool', () => {
  const cases: Array<{ name: string; entries: string[]; family: 'IPv4' | 'IPv6'; first: string[]; contains: Record<string, boolean> }> = [
    {
      name: 'a CIDR leaves out its network and broadcast addresses',
      entries: ['192.168.10.0/30'],
      family: 'IPv4',
      first: ['192.168.10.1', '192.168.10.2'],
      contains: { '192.168.10.0': false, '192.168.10.1': true, '192.168.10.3': false },
    },
    { name: 'a /32 is the one address', entries: ['10.0.0.7/32'], family: 'IPv4', first: ['10.0.0.7'], contains: { '10.0.0.7': true, '10.0.0.8': false } },
    {
      name: 'ranges and single addresses keep the order they were given in',
      entries: ['10.0.0.9', '10.0.0.1-10.0.0.2'],
      family: 'IPv4',
      first: ['10.0.0.9', '10.0.0.1', '10.0.0.2'],
      contains: { '10.0.0.1': true, '10.0.0.3': false },
    },
    { name: 'an IPv6 /64 is listed lazily, without its router anycast address', entries: ['fd00:1::/64', '10.0.0.1'], family: 'IPv6', first: ['fd00:1::1', 'fd00:1::2', 'fd00:1::3'], contains: { 'fd00:1::ffff': true, 'fd00:2::1': false } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const pool = AddressPool.parse(c.entries);
      const got: string[] = [];
      for (const ip of pool.addresses(c.family)) {
        got.push(ip);
        if (got.length === c.first.length) break;
      }
      assert.deepEqual(got, c.first);
      for (const [ip, want] of Object.entries(c.contains)) assert.equal(pool.contains(ip), want, ip);
    });
  }

  const bad: Array<{ name: string; entries: string[]; message: RegExp }> = [
    { name: 'a CIDR with a bad prefix is refused, naming it', entries: ['10.0.0.0/33'], message: /invalid CIDR "10\.0\.0\.0\/33"/ },
    { name: 'a range whose ends are of two families is refused', entries: ['10.0.0.1-fd00::1'], message: /one IP family/ },
    { name: 'a range that runs backwards is refused', entries: ['10.0.0.9-10.0.0.1'], message: /first address is after the last/ },
    { name: 'a word is not an address', entries: ['lb.example.com'], message: /want an IP, a CIDR or FIRST-LAST/ },
    { name: 'an empty pool is refused', entries: [' '], message: /empty/ },
  ];
  for (const c of bad) {
    it(c.name, () => assert.throws(() => AddressPool.parse(c.entries), (e: unknown) => e instanceof PoolParseError && c.message.test(e.message)));
  }

  it('orders IPs numerically, IPv4 first', () => {
    assert.deepEqual(['10.0.0.10', 'fd00::1', '10.0.0.9', '9.0.0.1'].sort(compareIPs), ['9.0.0.1', '10.0.0.9', '10.0.0.10', 'fd00::1']);
  });
});

describe('which nodes serve LoadBalancer Services', () => {
  const usable: Array<{ name: string; node: Node; want: boolean }> = [
    { name: 'a Ready node serves', node: node('a'), want: true },
    { name: 'a NotReady node does not', node: node('a', { ready: false }), want: false },
    { name: 'a cordoned node does not', node: node('a', { unschedulable: true }), want: false },
    { name: 'a node labelled exclude-from-external-load-balancers does not', node: node('a', { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } }), want: false },
    { name: 'a node the autoscaler is removing does not', node: node('a', { taints: ['ToBeDeletedByClusterAutoscaler'] }), want: false },
    { name: 'a control-plane taint does not keep a node out (svclb pods tolerate it in k3s)', node: node('a', { taints: ['node-role.kubernetes.io/control-plane'] }), want: true },
  ];
  for (const c of usable) it(c.name, () => assert.equal(nodeUsableForLoadBalancers(c.node), c.want));

  const labelled: Array<{ name: string; service: Service; nodes: Node[]; want: string[] }> = [
    { name: 'without enablelb labels anywhere every usable node serves', service: svc('s'), nodes: [node('a'), node('b')], want: ['a', 'b'] },
    {
      name: 'once any node has enablelb, only nodes labelled true serve',
      service: svc('s'),
      nodes: [node('a', { labels: { 'svccontroller.k3s.cattle.io/enablelb': 'true' } }), node('b'), node('c', { labels: { 'svccontroller.k3s.cattle.io/enablelb': 'false' } })],
      want: ['a'],
    },
    {
      name: 'a Service with an lbpool label is served by that pool’s nodes only',
      service: svc('s', { labels: { 'svccontroller.k3s.cattle.io/lbpool': 'edge' } }),
      nodes: [
        node('a', { labels: { 'svccontroller.k3s.cattle.io/enablelb': 'true', 'svccontroller.k3s.cattle.io/lbpool': 'edge' } }),
        node('b', { labels: { 'svccontroller.k3s.cattle.io/enablelb': 'true', 'svccontroller.k3s.cattle.io/lbpool': 'core' } }),
      ],
      want: ['a'],
    },
  ];
  for (const c of labelled) it(c.name, () => assert.deepEqual(nodesForService(c.service, c.nodes, c.nodes).map((n) => n.metadata?.name), c.want));

  it('externalTrafficPolicy Local counts only nodes running a ready pod endpoint', () => {
    const slice: EndpointSlice = {
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.244.1.5'], nodeName: 'a', conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'p1' } },
        { addresses: ['10.244.2.5'], nodeName: 'b', conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'p2' } },
        { addresses: ['192.0.2.50'], nodeName: 'c', conditions: { ready: true } },
      ],
    };
    assert.deepEqual([...nodesWithReadyEndpoints([slice])], ['a']);
  });

  it('node changes that matter: readiness, cordon, labels, taints, addresses; heartbeats do not', () => {
    const base = node('a', { internal: ['10.0.0.1'] });
    const heartbeat = { ...base, status: { ...base.status, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2025-01-01T00:00:10Z' }] } };
    assert.equal(nodeChangeMatters(base, heartbeat), false);
    assert.equal(nodeChangeMatters(base, node('a', { internal: ['10.0.0.1'], ready: false })), true);
    assert.equal(nodeChangeMatters(base, node('a', { internal: ['10.0.0.1'], unschedulable: true })), true);
    assert.equal(nodeChangeMatters(base, node('a', { internal: ['10.0.0.2'] })), true);
    assert.equal(nodeChangeMatters(base, node('a', { internal: ['10.0.0.1'], labels: { x: 'y' } })), true);
  });
});

describe('addresses from the nodes (ServiceLB’s default)', () => {
  const n1 = node('n1', { internal: ['192.0.2.11', 'fd00::11'] });
  const n2 = node('n2', { internal: ['192.0.2.12'] });
  const plan = (service: Service, others: Service[] = [], nodes: Node[] = [n1, n2]) => planFromNodes({ service, self: holderOf(service), others: others.map((o) => holderOf(o)), nodes });

  const cases: Array<{ name: string; service: Service; others?: Service[]; nodes?: Node[]; want: string[] }> = [
    { name: 'a Service gets the InternalIP of every node, of its IP family, in numeric order', service: svc('web'), nodes: [n2, n1], want: ['192.0.2.11', '192.0.2.12'] },
    {
      name: 'ExternalIPs win over InternalIPs as soon as one node has one (k3s)',
      service: svc('web'),
      nodes: [node('n1', { internal: ['192.0.2.11'], external: ['203.0.113.1'] }), n2],
      want: ['203.0.113.1'],
    },
    { name: 'a dual-stack Service gets both families, primary first', service: svc('web', { families: ['IPv6', 'IPv4'] }), want: ['fd00::11', '192.0.2.11', '192.0.2.12'] },
    { name: 'spec.loadBalancerIP picks one node address', service: svc('web', { loadBalancerIP: '192.0.2.12' }), want: ['192.0.2.12'] },
    { name: 'another Service on other ports shares the addresses', service: svc('api', { ports: [443] }), others: [svc('web', { ips: ['192.0.2.11', '192.0.2.12'] })], want: ['192.0.2.11', '192.0.2.12'] },
    { name: 'the same port number on another protocol is no clash', service: svc('dns', { ports: [[80, 'UDP']] }), others: [svc('web', { ips: ['192.0.2.11', '192.0.2.12'] })], want: ['192.0.2.11', '192.0.2.12'] },
    { name: 'addresses where another Service holds the port are left out, the rest served', service: svc('web2'), others: [svc('web', { ips: ['192.0.2.11'] })], want: ['192.0.2.12'] },
    {
      name: 'when two Services both hold an address, the older keeps it',
      service: svc('old', { created: '2025-01-01T00:00:00Z', ips: ['192.0.2.11', '192.0.2.12'] }),
      others: [svc('new', { created: '2025-02-01T00:00:00Z', ips: ['192.0.2.11'] })],
      want: ['192.0.2.11', '192.0.2.12'],
    },
    {
      name: 'and the newer one gives it up, keeping the addresses nobody else holds',
      service: svc('new', { created: '2025-02-01T00:00:00Z', ips: ['192.0.2.11'] }),
      others: [svc('old', { created: '2025-01-01T00:00:00Z', ips: ['192.0.2.11'] })],
      want: ['192.0.2.12'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(plan(c.service, c.others, c.nodes), c.want));

  const failures: Array<{ name: string; service: Service; others?: Service[]; nodes?: Node[]; code: LoadBalancerUnavailableReason; message?: RegExp }> = [
    { name: 'no usable node: pending', service: svc('web'), nodes: [], code: 'NoEligibleNodes', message: /no available nodes/ },
    {
      name: 'every address already serves the port elsewhere: pending, naming port, addresses and holder',
      service: svc('web2'),
      others: [svc('web', { ips: ['192.0.2.11', '192.0.2.12'] })],
      code: 'PortsInUse',
      message: /^port 80\/TCP already in use on 192\.0\.2\.11, 192\.0\.2\.12 by Service default\/web$/,
    },
    {
      name: 'the newer of two Services holding the only address gives it up',
      service: svc('new', { created: '2025-02-01T00:00:00Z', ips: ['192.0.2.11'] }),
      others: [svc('old', { created: '2025-01-01T00:00:00Z', ips: ['192.0.2.11'] })],
      nodes: [node('n1', { internal: ['192.0.2.11'] })],
      code: 'PortsInUse',
    },
    { name: 'spec.loadBalancerIP that is no node address: pending', service: svc('web', { loadBalancerIP: '198.51.100.1' }), code: 'LoadBalancerIPNotInPool', message: /198\.51\.100\.1 is not an address of an available node \(192\.0\.2\.11, 192\.0\.2\.12\)/ },
    { name: 'an IPv6 Service on IPv4-only nodes: pending', service: svc('web', { families: ['IPv6'] }), nodes: [n2], code: 'NoAddressOfFamily', message: /IPv6 InternalIP/ },
  ];
  for (const c of failures) it(c.name, () => assert.throws(() => plan(c.service, c.others, c.nodes), unavailable(c.code, c.message)));
});

describe('addresses from an explicit pool (--servicelb-pool)', () => {
  const pool = AddressPool.parse(['198.51.100.10-198.51.100.11', 'fd00:1b::/120']);
  const plan = (service: Service, others: Service[] = [], p = pool) => planFromPool({ service, self: holderOf(service), others: others.map((o) => holderOf(o)), pool: p });

  const cases: Array<{ name: string; service: Service; others?: Service[]; pool?: AddressPool; want: string[] }> = [
    { name: 'a new Service gets the first address', service: svc('a'), want: ['198.51.100.10'] },
    { name: 'it keeps the address it holds', service: svc('a', { ips: ['198.51.100.11'] }), want: ['198.51.100.11'] },
    { name: 'the next Service gets the next free address, even on other ports', service: svc('b', { ports: [443] }), others: [svc('a', { ips: ['198.51.100.10'] })], want: ['198.51.100.11'] },
    {
      name: 'with every address taken, a Service shares one whose ports are free',
      service: svc('c', { ports: [8443] }),
      others: [svc('a', { ips: ['198.51.100.10'] }), svc('b', { ips: ['198.51.100.11'] })],
      want: ['198.51.100.10'],
    },
    { name: 'spec.loadBalancerIP in the pool is honoured', service: svc('a', { loadBalancerIP: '198.51.100.11' }), want: ['198.51.100.11'] },
    { name: 'a dual-stack Service gets one address per family', service: svc('a', { families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }), want: ['198.51.100.10', 'fd00:1b::1'] },
    {
      name: 'PreferDualStack settles for the primary family when the pool has no other',
      service: svc('a', { families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }),
      pool: AddressPool.parse(['10.1.0.1']),
      want: ['10.1.0.1'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(plan(c.service, c.others, c.pool), c.want));

  const failures: Array<{ name: string; service: Service; others?: Service[]; code: LoadBalancerUnavailableReason; message?: RegExp }> = [
    { name: 'spec.loadBalancerIP outside the pool: pending', service: svc('a', { loadBalancerIP: '192.0.2.1' }), code: 'LoadBalancerIPNotInPool', message: /not in the ServiceLB pool \(198\.51\.100\.10-198\.51\.100\.11,fd00:1b::\/120\)/ },
    { name: 'spec.loadBalancerIP whose port is taken there: pending', service: svc('b', { loadBalancerIP: '198.51.100.10' }), others: [svc('a', { ips: ['198.51.100.10'] })], code: 'PortsInUse' },
    {
      name: 'every address serves the port already: pending',
      service: svc('c'),
      others: [svc('a', { ips: ['198.51.100.10'] }), svc('b', { ips: ['198.51.100.11'] })],
      code: 'PoolExhausted',
      message: /no IPv4 address of the ServiceLB pool .* is free for 80\/TCP/,
    },
  ];
  for (const c of failures) it(c.name, () => assert.throws(() => plan(c.service, c.others), unavailable(c.code, c.message)));

  it('an IPv6-only Service with an IPv4-only pool: pending', () => {
    assert.throws(() => plan(svc('a', { families: ['IPv6'] }), [], AddressPool.parse(['10.1.0.1'])), unavailable('NoAddressOfFamily', /has no IPv6 addresses/));
  });
});

describe('Services ServiceLB serves, clashes and status equality', () => {
  const cases: Array<{ name: string; service: Service; want: boolean }> = [
    { name: 'type LoadBalancer without a class is ours', service: svc('a'), want: true },
    { name: 'a loadBalancerClass belongs to another implementation', service: svc('a', { cls: 'example.com/lb' }), want: false },
    { name: 'a NodePort Service wants no load balancer', service: svc('a', { type: 'NodePort' }), want: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(wantsLoadBalancer(c.service), c.want));

  it('IP families come from spec.ipFamilies, else the cluster IPs, else IPv4', () => {
    assert.deepEqual(serviceIPFamilies(svc('a', { families: ['IPv6', 'IPv4'] })), ['IPv6', 'IPv4']);
    assert.deepEqual(serviceIPFamilies({ spec: { clusterIPs: ['fd00::10'] } }), ['IPv6']);
    assert.deepEqual(serviceIPFamilies({ spec: {} }), ['IPv4']);
  });

  it('a clash needs a shared address and a shared port/protocol', () => {
    const self = holderOf(svc('b', { ports: [80, 443] }));
    const others = [holderOf(svc('a', { ips: ['10.0.0.1'], ports: [443] })), holderOf(svc('c', { ips: ['10.0.0.2'], ports: [[53, 'UDP']] }))];
    assert.deepEqual(clashesAt('10.0.0.1', self, others).map((h) => h.key), ['default/a']);
    assert.deepEqual(clashesAt('10.0.0.2', self, others), []);
  });

  it('statuses are equal when their ingress points are, in order', () => {
    assert.ok(loadBalancerStatusEqual({}, { ingress: [] }));
    assert.ok(loadBalancerStatusEqual(ingressFor(['10.0.0.1']), { ingress: [{ ip: '10.0.0.1', ipMode: 'VIP' }] }));
    assert.ok(!loadBalancerStatusEqual(ingressFor(['10.0.0.1']), { ingress: [{ ip: '10.0.0.1' }] }));
    assert.ok(!loadBalancerStatusEqual(ingressFor(['10.0.0.1', '10.0.0.2']), ingressFor(['10.0.0.2', '10.0.0.1'])));
    assert.deepEqual(ingressFor(['10.0.0.1']), { ingress: [{ ip: '10.0.0.1', ipMode: 'VIP' }] });
  });
});
