import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSubset, Pod, Service } from 'kubernetes-types/core/v1.js';
import { capacityAnnotationSetCorrectly, desiredSubsets, planEndpoints, repackSubsets, truncateEndpoints } from '../../../../src/controllers/endpoints/endpointsPlan.js';
import { formatRFC3339Nano, servicesToUpdateOnPodChange, TriggerTimeTracker } from '../../../../src/controllers/endpoints/endpointUtil.js';

interface PodOpts {
  ip?: string;
  ready?: boolean;
  phase?: string;
  deleting?: boolean;
  ports?: { name: string; containerPort: number; protocol?: string }[];
  hostname?: string;
  subdomain?: string;
  labels?: Record<string, string>;
  rv?: string;
}
const pod = (name: string, o: PodOpts = {}): Pod => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, resourceVersion: o.rv ?? '1', ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: 'n1', containers: [{ name: 'c', ports: o.ports ?? [{ name: 'http', containerPort: 8080 }] }], ...(o.hostname ? { hostname: o.hostname } : {}), ...(o.subdomain ? { subdomain: o.subdomain } : {}) },
  status: { phase: o.phase ?? 'Running', ...(o.ip === '' ? {} : { podIP: o.ip ?? `10.0.0.${name.length}` }), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: '2024-01-01T00:00:10Z' }] },
});
const svc = (spec: Service['spec'] = {}, labels?: Record<string, string>): Service => ({
  metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', creationTimestamp: '2024-01-01T00:00:00Z', ...(labels ? { labels } : {}) },
  spec: { clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], ...spec },
});
const ips = (s: EndpointSubset[], f: 'addresses' | 'notReadyAddresses') => s.flatMap((x) => (x[f] ?? []).map((a) => a.ip));

describe('Endpoints planning', () => {
  const cases: Array<{ name: string; svc: Service; pods: Pod[]; ready: string[]; notReady: string[]; ports?: unknown }> = [
    { name: 'ready pods are addresses, not-ready ones notReadyAddresses', svc: svc(), pods: [pod('a', { ip: '10.0.0.1' }), pod('b', { ip: '10.0.0.2', ready: false })], ready: ['10.0.0.1'], notReady: ['10.0.0.2'] },
    { name: 'terminal and IP-less pods are left out', svc: svc(), pods: [pod('a', { ip: '10.0.0.1', phase: 'Succeeded' }), pod('b', { ip: '' }), pod('c', { ip: '10.0.0.3' })], ready: ['10.0.0.3'], notReady: [] },
    { name: 'terminating pods are left out unless publishNotReadyAddresses', svc: svc(), pods: [pod('a', { ip: '10.0.0.1', deleting: true })], ready: [], notReady: [] },
    { name: 'publishNotReadyAddresses publishes not-ready and terminating pods as ready', svc: svc({ publishNotReadyAddresses: true }), pods: [pod('a', { ip: '10.0.0.1', ready: false }), pod('b', { ip: '10.0.0.2', deleting: true })], ready: ['10.0.0.1', '10.0.0.2'], notReady: [] },
    { name: 'a named targetPort the pod lacks leaves the pod out', svc: svc(), pods: [pod('a', { ip: '10.0.0.1', ports: [{ name: 'metrics', containerPort: 9090 }] })], ready: [], notReady: [] },
    { name: 'numeric targetPorts need no container port', svc: svc({ ports: [{ port: 80, targetPort: 9376 }] }), pods: [pod('a', { ip: '10.0.0.1', ports: [] })], ready: ['10.0.0.1'], notReady: [], ports: [{ port: 9376, protocol: 'TCP' }] },
    { name: 'a headless Service without ports still lists its pods', svc: svc({ clusterIP: 'None', ports: [] }), pods: [pod('a', { ip: '10.0.0.1' })], ready: ['10.0.0.1'], notReady: [], ports: undefined },
    { name: 'a pod with only an IPv6 address is not an endpoint of an IPv4 Service', svc: svc({ ipFamilies: ['IPv4'] }), pods: [pod('a', { ip: 'fd00::1' })], ready: [], notReady: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { subsets } = desiredSubsets(c.svc, c.pods);
      assert.deepEqual(ips(subsets, 'addresses').sort(), c.ready);
      assert.deepEqual(ips(subsets, 'notReadyAddresses').sort(), c.notReady);
      if ('ports' in c && subsets.length) assert.deepEqual(subsets[0]!.ports, c.ports);
    });
  }

  it('resolves named ports per pod, so pods with different port numbers land in different subsets', () => {
    const { subsets } = desiredSubsets(svc(), [pod('a', { ip: '10.0.0.1' }), pod('b', { ip: '10.0.0.2', ports: [{ name: 'http', containerPort: 9090 }] })]);
    assert.deepEqual(subsets.map((s) => [s.ports?.[0]?.port, ips([s], 'addresses')]), [[8080, ['10.0.0.1']], [9090, ['10.0.0.2']]]);
  });

  it('sets hostname only for pods whose subdomain is the Service', () => {
    const { subsets } = desiredSubsets(svc({ clusterIP: 'None' }), [pod('a', { ip: '10.0.0.1', hostname: 'a', subdomain: 'web' }), pod('b', { ip: '10.0.0.2', hostname: 'b', subdomain: 'other' })]);
    assert.deepEqual(subsets[0]!.addresses!.map((a) => a.hostname ?? null), ['a', null]);
  });

  it('repacks ports sharing the same addresses into one subset, not-ready winning over ready', () => {
    const a = { ip: '10.0.0.1', targetRef: { uid: 'a' } };
    const got = repackSubsets([
      { addresses: [a], ports: [{ name: 'p1', port: 1 }] },
      { addresses: [a], ports: [{ name: 'p2', port: 2 }] },
      { notReadyAddresses: [a], ports: [{ name: 'p2', port: 2 }] },
    ]);
    assert.deepEqual(got, [
      { addresses: [a], ports: [{ name: 'p1', port: 1 }] },
      { notReadyAddresses: [a], ports: [{ name: 'p2', port: 2 }] },
    ]);
  });

  it('truncates to 1000 addresses in proportion, ready first, and flags it', () => {
    const addrs = (n: number, base: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.${base}.${Math.floor(i / 250)}.${i % 250}` }));
    const subsets: EndpointSubset[] = [
      { addresses: addrs(600, 1), notReadyAddresses: addrs(100, 2) },
      { addresses: addrs(300, 3), notReadyAddresses: addrs(200, 4) },
    ];
    assert.equal(truncateEndpoints(subsets), true);
    assert.deepEqual(subsets.map((s) => [s.addresses?.length ?? 0, s.notReadyAddresses?.length ?? 0]), [[600, 34], [300, 66]]);
    assert.equal(capacityAnnotationSetCorrectly({ 'endpoints.kubernetes.io/over-capacity': 'truncated' }, subsets), false);
    const over: EndpointSubset[] = [{ addresses: addrs(1500, 5) }, { addresses: addrs(500, 6) }];
    truncateEndpoints(over);
    assert.deepEqual(over.map((s) => s.addresses?.length), [750, 250]);
    assert.equal(truncateEndpoints([{ addresses: addrs(10, 7) }]), false);
  });

  it('plans nothing when the stored Endpoints already match (labels, subsets, no stale annotation)', () => {
    const s = svc({}, { tier: 'front' });
    const first = planEndpoints(s, [pod('a', { ip: '10.0.0.1' })], undefined, Date.parse('2024-01-01T00:00:00Z'));
    assert.ok(first);
    assert.equal(first.metadata?.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'], '2024-01-01T00:00:00Z');
    assert.equal(first.metadata?.labels?.['service.kubernetes.io/headless'], undefined);
    const stored = { ...first, metadata: { ...first.metadata, resourceVersion: '5' } };
    assert.equal(planEndpoints(s, [pod('a', { ip: '10.0.0.1' })], stored, 0), undefined);
    const headless = planEndpoints(svc({ clusterIP: 'None' }, { tier: 'front' }), [pod('a', { ip: '10.0.0.1' }), pod('bb', { ip: '10.0.0.2' })], stored, 0);
    assert.equal(headless?.metadata?.labels?.['service.kubernetes.io/headless'], '');
    assert.equal(headless?.metadata?.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'], undefined, 'no new trigger time clears the annotation');
  });

  it('tracks trigger times: the Service creation first, then the earliest changed Ready transition', () => {
    const t = new TriggerTimeTracker();
    const s = svc();
    const p = (name: string, at: string) => ({ ...pod(name), status: { ...pod(name).status, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }] } });
    assert.equal(t.compute(s, [p('a', '2024-01-01T00:00:05Z')]), Date.parse('2024-01-01T00:00:00Z'));
    assert.equal(t.compute(s, [p('a', '2024-01-01T00:00:05Z')]), 0);
    assert.equal(t.compute(s, [p('a', '2024-01-01T00:00:09Z'), p('b', '2024-01-01T00:00:07Z')]), Date.parse('2024-01-01T00:00:07Z'));
    assert.equal(formatRFC3339Nano(Date.parse('2024-01-01T00:00:07.120Z')), '2024-01-01T00:00:07.12Z');
  });

  it('requeues the Services a pod joined or left, and nothing for irrelevant changes', () => {
    const web = svc();
    const db = { ...svc({ selector: { app: 'db' } }), metadata: { name: 'db', namespace: 'default' } };
    const before = pod('a', { rv: '1' });
    assert.deepEqual([...servicesToUpdateOnPodChange([web, db], before, { ...pod('a', { rv: '2' }), metadata: { ...before.metadata, resourceVersion: '2', annotations: { x: 'y' } } })], []);
    assert.deepEqual([...servicesToUpdateOnPodChange([web, db], before, pod('a', { rv: '2', ready: false }))], ['default/web']);
    assert.deepEqual([...servicesToUpdateOnPodChange([web, db], before, pod('a', { rv: '2', labels: { app: 'db' } }))].sort(), ['default/db', 'default/web']);
  });
});
