// ServiceLB as a cloud LoadBalancer over caches: decisions stand until the cache shows a newer
// version, deletion forgets them; the no-cloud provider; the controller's event filters; `--disable`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import { LoadBalancerUnavailableError, defaultLoadBalancerName } from '../../../src/cloudprovider/cloud.js';
import { NoCloudInstances, noCloudProvider } from '../../../src/cloudprovider/noCloud.js';
import { ingressFor } from '../../../src/cloudprovider/servicelb/plan.js';
import { AddressPool } from '../../../src/cloudprovider/servicelb/pool.js';
import { ServiceLB } from '../../../src/cloudprovider/servicelb/serviceLB.js';
import { claimsChanged, needsCleanup } from '../../../src/controllers/servicelb/serviceLBController.js';
import { disabledControllers } from '../../../src/server/disable.js';

const readyNode = (name: string, ip: string): Node => ({
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: ip }] },
});

function svc(name: string, rv: string, o: { ips?: string[]; port?: number; created?: string; type?: string; finalizers?: string[]; deleting?: boolean } = {}): Service {
  return {
    metadata: {
      namespace: 'default',
      name,
      uid: `uid-${name}`,
      resourceVersion: rv,
      creationTimestamp: o.created ?? '2025-01-01T00:00:00Z',
      ...(o.finalizers ? { finalizers: o.finalizers } : {}),
      ...(o.deleting ? { deletionTimestamp: '2025-03-01T00:00:00Z' } : {}),
    },
    spec: { type: o.type ?? 'LoadBalancer', ports: [{ port: o.port ?? 80, protocol: 'TCP' }] },
    status: { loadBalancer: ingressFor(o.ips ?? []) },
  };
}

function fixture(pool?: AddressPool) {
  const cache = new Map<string, Service>();
  const nodes = [readyNode('n1', '192.0.2.11')];
  const lb = new ServiceLB({ services: () => [...cache.values()], nodes: () => nodes, endpointSlices: () => [] }, pool);
  const put = (s: Service) => cache.set(s.metadata!.name!, s);
  return { lb, put, nodes, cache };
}

describe('ServiceLB as a LoadBalancer', () => {
  it('a decision holds the address until the cache shows a newer version, so a second Service cannot take it meanwhile', async () => {
    const { lb, put, nodes } = fixture();
    const a = svc('a', '10');
    const b = svc('b', '11', { created: '2025-01-02T00:00:00Z' });
    put(a);
    put(b);
    assert.deepEqual(await lb.ensureLoadBalancer('kubernetes', a, nodes), ingressFor(['192.0.2.11']));
    // a's status is not in the cache yet, but b must still see the address as a's.
    await assert.rejects(lb.ensureLoadBalancer('kubernetes', b, nodes), (e: unknown) => e instanceof LoadBalancerUnavailableError && e.code === 'PortsInUse');
    // The cache catches up with a's status write; b still clashes, now through the status.
    put(svc('a', '12', { ips: ['192.0.2.11'] }));
    await assert.rejects(lb.ensureLoadBalancer('kubernetes', b, nodes), LoadBalancerUnavailableError);
    assert.deepEqual(await lb.getLoadBalancer('kubernetes', svc('a', '12', { ips: ['192.0.2.11'] })), { exists: true, status: ingressFor(['192.0.2.11']) });
  });

  it('a Service being deleted or no longer of type LoadBalancer holds nothing', async () => {
    const { lb, put, nodes } = fixture();
    put(svc('a', '10', { ips: ['192.0.2.11'], deleting: true }));
    assert.deepEqual(await lb.ensureLoadBalancer('kubernetes', svc('b', '11'), nodes), ingressFor(['192.0.2.11']));
    const { lb: lb2, put: put2 } = fixture();
    put2(svc('a', '10', { ips: ['192.0.2.11'], type: 'ClusterIP' }));
    assert.deepEqual(await lb2.ensureLoadBalancer('kubernetes', svc('b', '11'), nodes), ingressFor(['192.0.2.11']));
  });

  it('ensureLoadBalancerDeleted forgets the decision; a failed ensure leaves the Service holding nothing', async () => {
    const pool = AddressPool.parse(['198.51.100.10']);
    const { lb, put, nodes, cache } = fixture(pool);
    const a = svc('a', '10');
    put(a);
    assert.deepEqual(await lb.ensureLoadBalancer('kubernetes', a, nodes), ingressFor(['198.51.100.10']));
    assert.equal((await lb.getLoadBalancer('kubernetes', a)).exists, true);
    await lb.ensureLoadBalancerDeleted('kubernetes', a);
    cache.delete('a');
    assert.equal((await lb.getLoadBalancer('kubernetes', a)).exists, false);
    const b = svc('b', '20');
    put(b);
    assert.deepEqual(await lb.ensureLoadBalancer('kubernetes', b, nodes), ingressFor(['198.51.100.10']));
  });

  it('names load balancers as upstream: a + the UID without dashes, 32 characters', () => {
    const s: Service = { metadata: { uid: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0' } };
    assert.equal(defaultLoadBalancerName(s), 'a0b1c2d3e4f5061728394a5b6c7d8e9f');
    assert.equal(new ServiceLB({ services: () => [], nodes: () => [], endpointSlices: () => [] }).getLoadBalancerName('kubernetes', s).length, 32);
  });
});

describe('the no-cloud provider', () => {
  it('knows every node exists and runs, reports its kubelet addresses and a k8ts:// provider ID, and offers no routes', async () => {
    const lb = new ServiceLB({ services: () => [], nodes: () => [], endpointSlices: () => [] });
    const cloud = noCloudProvider(lb);
    const node = readyNode('n1', '192.0.2.11');
    const inst = cloud.instances()!;
    assert.equal(await inst.instanceExists(node), true);
    assert.equal(await inst.instanceShutdown(node), false);
    const md = await inst.instanceMetadata(node);
    assert.equal(md.providerID, 'k8ts://n1');
    assert.deepEqual(md.nodeAddresses, [{ type: 'InternalIP', address: '192.0.2.11' }]);
    assert.equal(cloud.loadBalancer(), lb);
    assert.equal(cloud.routes(), undefined);
    assert.equal(noCloudProvider().loadBalancer(), undefined);
    assert.equal((await new NoCloudInstances().instanceMetadata({ metadata: { name: 'x' }, spec: { providerID: 'aws:///i-1' } })).providerID, 'aws:///i-1');
  });
});

describe('service-lb-controller filters', () => {
  const F = 'service.kubernetes.io/load-balancer-cleanup';
  const cleanupCases: Array<{ name: string; service: Service; want: boolean }> = [
    { name: 'a LoadBalancer Service with the finalizer needs no cleanup', service: svc('a', '1', { finalizers: [F] }), want: false },
    { name: 'one being deleted with the finalizer does', service: svc('a', '1', { finalizers: [F], deleting: true }), want: true },
    { name: 'one turned ClusterIP with the finalizer does', service: svc('a', '1', { finalizers: [F], type: 'ClusterIP' }), want: true },
    { name: 'without the finalizer there is nothing to clean up', service: svc('a', '1', { type: 'ClusterIP' }), want: false },
  ];
  for (const c of cleanupCases) it(c.name, () => assert.equal(needsCleanup(c.service), c.want));

  it('other Services are re-planned when a Service’s addresses, ports or type change, not on other updates', () => {
    const base = svc('a', '1', { ips: ['10.0.0.1'] });
    assert.equal(claimsChanged(base, svc('a', '2', { ips: ['10.0.0.1'] })), false);
    assert.equal(claimsChanged(base, svc('a', '2', { ips: [] })), true);
    assert.equal(claimsChanged(base, svc('a', '2', { ips: ['10.0.0.1'], port: 81 })), true);
    assert.equal(claimsChanged(base, svc('a', '2', { ips: ['10.0.0.1'], type: 'NodePort' })), true);
    assert.equal(claimsChanged(base, svc('a', '2', { ips: ['10.0.0.1'], deleting: true })), true);
  });
});

describe('k8ts server --disable', () => {
  const cases: Array<{ name: string; flags: string[]; want: string[] }> = [
    { name: 'servicelb leaves out the service-lb-controller', flags: ['servicelb'], want: ['service-lb-controller'] },
    { name: 'comma-separated and repeated names add up', flags: ['servicelb,local-storage', 'servicelb'], want: ['service-lb-controller', 'local-path-provisioner-controller'] },
    { name: 'nothing disabled leaves every controller', flags: [], want: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(disabledControllers(c.flags), c.want));
  it('an unknown name is refused, listing the known ones', () => {
    assert.throws(() => disabledControllers(['traefik']), /unknown component "traefik" \(known: coredns, local-storage, servicelb\)/);
  });
});
