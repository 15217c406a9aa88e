import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { addressTypesForService, newEndpointSlice, planEndpointSlices, podToEndpoint, sliceToFill, type SlicePlan } from '../../../../src/controllers/endpointslice/endpointSlicePlan.js';

const svc = (spec: Service['spec'] = {}, labels?: Record<string, string>): Service => ({
  metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', ...(labels ? { labels } : {}) },
  spec: { clusterIP: '10.96.0.10', ipFamilies: ['IPv4'], selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }], ...spec },
});
const pod = (i: number, o: { ready?: boolean; deleting?: boolean; ips?: string[] } = {}): Pod => ({
  metadata: { name: `p${i}`, namespace: 'default', uid: `uid-${i}`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: 'n1', containers: [{ name: 'c' }] },
  status: { phase: 'Running', podIP: (o.ips ?? [`10.0.${Math.floor(i / 250)}.${i % 250}`])[0]!, podIPs: (o.ips ?? [`10.0.${Math.floor(i / 250)}.${i % 250}`]).map((ip) => ({ ip })), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
});
const pods = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => pod(from + i));
const node: Node = { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } } };
const plan = (s: Service, ps: Pod[], existing: EndpointSlice[], max = 100): SlicePlan => planEndpointSlices({ service: s, pods: ps, existing, node: (n) => (n === 'n1' ? node : undefined), maxEndpointsPerSlice: max, triggerTime: 0 });
/** Stores a plan's creates (named) and updates, as the API server would. */
let seq = 0;
function apply(existing: EndpointSlice[], p: SlicePlan): EndpointSlice[] {
  const byName = new Map(existing.map((s) => [s.metadata!.name!, s]));
  for (const d of p.delete) byName.delete(d.metadata!.name!);
  for (const u of p.update) byName.set(u.metadata!.name!, u);
  for (const c of p.create) {
    const name = `web-${++seq}`;
    byName.set(name, { ...c, metadata: { ...c.metadata, name, uid: `slice-${seq}` } });
  }
  return [...byName.values()];
}
const sizes = (p: SlicePlan) => [p.create.map((s) => s.endpoints.length), p.update.map((s) => s.endpoints.length), p.delete.length];

describe('EndpointSlice reconciliation', () => {
  it('puts 250 endpoints in three slices of at most 100, labelled and owned by the Service', () => {
    const p = plan(svc({}, { tier: 'front' }), pods(0, 250), []);
    assert.deepEqual(sizes(p), [[100, 100, 50], [], 0]);
    const s = p.create[0]!;
    assert.equal(s.metadata?.generateName, 'web-');
    assert.deepEqual(s.metadata?.labels, { tier: 'front', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
    assert.deepEqual(s.metadata?.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.equal(s.endpoints[0]!.zone, 'z1');
  });

  const cases: Array<{ name: string; before: number; after: Pod[]; want: ReturnType<typeof sizes> }> = [
    { name: 'nothing changes: no writes', before: 150, after: pods(0, 150), want: [[], [], 0] },
    { name: 'one pod goes: only its slice is updated', before: 150, after: pods(1, 150), want: [[], [99], 0] },
    { name: 'a new pod fits in the slice with room, untouched otherwise', before: 150, after: pods(0, 151), want: [[], [51], 0] },
    { name: 'a pod becoming not ready updates its slice in place', before: 150, after: [pod(0, { ready: false }), ...pods(1, 150)], want: [[], [100], 0] },
    { name: 'every pod gone leaves one empty placeholder (a slice to delete becomes it)', before: 150, after: [], want: [[], [0], 1] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const existing = apply([], plan(svc(), pods(0, c.before), []));
      assert.deepEqual(sizes(plan(svc(), c.after, existing)), c.want);
    });
  }

  it('conditions: ready only when serving and not terminating, unless publishNotReadyAddresses', () => {
    const s = svc();
    assert.deepEqual(podToEndpoint(pod(1, { deleting: true }), node, s, 'IPv4').conditions, { ready: false, serving: true, terminating: true });
    assert.deepEqual(podToEndpoint(pod(1, { ready: false }), node, s, 'IPv4').conditions, { ready: false, serving: false, terminating: false });
    assert.deepEqual(podToEndpoint(pod(1, { ready: false }), node, svc({ publishNotReadyAddresses: true }), 'IPv4').conditions, { ready: true, serving: false, terminating: false });
  });

  it('a Service with no pods gets one placeholder, kept as is on the next sync', () => {
    const p = plan(svc(), [], []);
    assert.deepEqual(sizes(p), [[0], [], 0]);
    const existing = apply([], p);
    assert.deepEqual(sizes(plan(svc(), [], existing)), [[], [], 0]);
  });

  it('dual-stack Services get a slice per family with the matching addresses', () => {
    const p = plan(svc({ ipFamilies: ['IPv4', 'IPv6'] }), [pod(1, { ips: ['10.0.0.1', 'fd00::1'] })], []);
    assert.deepEqual(p.create.map((s) => [s.addressType, s.endpoints[0]?.addresses]), [['IPv4', ['10.0.0.1']], ['IPv6', ['fd00::1']]]);
    assert.deepEqual([...addressTypesForService(svc({ clusterIP: 'None', ipFamilies: [] }))], ['IPv4', 'IPv6']);
  });

  it('slices not owned by this Service (an old one of the same name) are deleted', () => {
    const old = { ...newEndpointSlice({ ...svc(), metadata: { name: 'web', namespace: 'default', uid: 'old' } }, [], 'IPv4'), metadata: { name: 'web-old', namespace: 'default', uid: 's1', labels: {}, ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'old' }] } };
    const p = plan(svc(), pods(0, 2), [old]);
    assert.deepEqual([p.create.length, p.delete.map((s) => s.metadata?.name)], [1, ['web-old']]);
  });

  it('a Service label change updates every slice label, endpoints untouched', () => {
    const existing = apply([], plan(svc(), pods(0, 150), []));
    const p = plan(svc({}, { tier: 'back' }), pods(0, 150), existing);
    assert.deepEqual(sizes(p), [[], [100, 50], 0]);
    assert.ok(p.update.every((s) => s.metadata?.labels?.tier === 'back'));
  });

  it('picks the untouched slice that the leftovers fill most tightly', () => {
    const mk = (n: number) => ({ endpoints: Array.from({ length: n }) }) as unknown as EndpointSlice;
    const slices = [mk(50), mk(95), mk(90)];
    assert.equal(sliceToFill(slices, 8, 100), slices[2]);
    assert.equal(sliceToFill(slices, 5, 100), slices[1]);
    assert.equal(sliceToFill(slices, 60, 100), undefined);
  });

  it('a pod on an unknown node is skipped and reported (unless publishNotReadyAddresses)', () => {
    const stray = { ...pod(7), spec: { nodeName: 'gone', containers: [] } };
    const p = plan(svc(), [stray], []);
    assert.equal(p.errors.length, 1);
    assert.deepEqual(sizes(p), [[0], [], 0]);
    assert.equal(plan(svc({ publishNotReadyAddresses: true }), [stray], []).create[0]!.endpoints.length, 1);
  });
});
