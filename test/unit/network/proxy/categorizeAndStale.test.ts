import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { categorizeEndpoints } from '../../../../src/network/proxy/categorizeEndpoints.js';
import { staleUDPFlows } from '../../../../src/network/proxy/staleUDP.js';
import type { EndpointInfo, ServicePortInfo } from '../../../../src/network/proxy/types.js';
import { FULL, changed, endpoint, proxyState, servicePort } from '../../../support/proxyStateBuilders.js';

describe('categorizeEndpoints', () => {
  const ips = (eps: EndpointInfo[]) => eps.map((e) => e.ip);
  const local = (ip: string, extra: Partial<EndpointInfo> = {}) => endpoint(ip, 80, { isLocal: true, ...extra });
  const remote = (ip: string, extra: Partial<EndpointInfo> = {}) => endpoint(ip, 80, extra);
  const terminating = { ready: false, serving: true, terminating: true };
  const cases: Array<{ name: string; svc: Partial<ServicePortInfo>; eps: EndpointInfo[]; cluster: string[]; local: string[]; all: string[]; any: boolean }> = [
    { name: 'Cluster policy uses every ready endpoint and skips unready ones', svc: {}, eps: [remote('a'), local('b'), remote('c', { ready: false, serving: false })], cluster: ['a', 'b'], local: [], all: ['a', 'b'], any: true },
    { name: 'Cluster policy falls back to serving-terminating endpoints when none is ready', svc: {}, eps: [remote('a', terminating), remote('b', { ready: false, serving: false, terminating: true })], cluster: ['a'], local: [], all: ['a'], any: true },
    { name: 'no usable endpoint at all means no endpoints', svc: {}, eps: [remote('a', { ready: false, serving: false })], cluster: [], local: [], all: [], any: false },
    { name: 'internal Local policy uses only this node\'s ready endpoints', svc: { internalPolicyLocal: true }, eps: [remote('a'), local('b')], cluster: [], local: ['b'], all: ['b'], any: true },
    { name: 'internal Local policy with only remote endpoints still knows the service has endpoints', svc: { internalPolicyLocal: true }, eps: [remote('a')], cluster: [], local: [], all: [], any: true },
    { name: 'external Local policy on a NodePort keeps Cluster endpoints for internal traffic', svc: { externalPolicyLocal: true, nodePort: 30000 }, eps: [remote('a'), local('b')], cluster: ['a', 'b'], local: ['b'], all: ['a', 'b'], any: true },
    { name: 'external Local policy falls back to local serving-terminating endpoints, merged into the reachable ones', svc: { externalPolicyLocal: true, nodePort: 30000 }, eps: [remote('a'), local('b', terminating)], cluster: ['a'], local: ['b'], all: ['a', 'b'], any: true },
    { name: 'external Local policy without external access is not in effect', svc: { externalPolicyLocal: true }, eps: [remote('a')], cluster: ['a'], local: [], all: ['a'], any: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = categorizeEndpoints(c.eps, servicePort('s', '10.96.0.1', 80, c.svc));
      assert.deepEqual({ cluster: ips(got.clusterEndpoints), local: ips(got.localEndpoints), all: ips(got.allReachable), any: got.hasAnyEndpoints }, { cluster: c.cluster, local: c.local, all: c.all, any: c.any });
    });
  }
});

describe('staleUDPFlows', () => {
  const dns = (extra: Partial<ServicePortInfo> = {}) => servicePort('dns', '10.96.0.10', 53, { protocol: 'UDP', ...extra });
  it('reports nothing on the first sync (no flows can predate us)', () => {
    assert.deepEqual(staleUDPFlows(undefined, proxyState([[dns(), [endpoint('10.244.1.2', 53)]]]), FULL), { serviceIPs: [], nodePorts: [], endpoints: [] });
  });
  it('a UDP service that gets its first endpoint clears flows to its IPs and NodePort (they hold a reject)', () => {
    const svc = dns({ nodePort: 30053, externalIPs: ['192.0.2.5'] });
    const got = staleUDPFlows(proxyState([[svc, []]]), proxyState([[svc, [endpoint('10.244.1.2', 53)]]]), changed({ endpoints: ['dns'] }));
    assert.deepEqual(got, { serviceIPs: ['10.96.0.10', '192.0.2.5'], nodePorts: [30053], endpoints: [] });
  });
  it('an endpoint that stops serving clears flows from each service IP to it', () => {
    const svc = dns({ loadBalancerVIPs: ['192.0.2.6'] });
    const got = staleUDPFlows(proxyState([[svc, [endpoint('10.244.1.2', 53), endpoint('10.244.1.3', 53)]]]), proxyState([[svc, [endpoint('10.244.1.2', 53), endpoint('10.244.1.3', 53, { ready: false, serving: false })]]]), changed({ endpoints: ['dns'] }));
    assert.deepEqual(got.endpoints, [
      { serviceIP: '10.96.0.10', endpointIP: '10.244.1.3' },
      { serviceIP: '192.0.2.6', endpointIP: '10.244.1.3' },
    ]);
  });
  it('a deleted UDP service clears flows to its ClusterIP; TCP services never produce stale flows', () => {
    const web = servicePort('web', '10.96.0.20', 80);
    const got = staleUDPFlows(proxyState([[dns(), [endpoint('10.244.1.2', 53)]], [web, [endpoint('10.244.1.4', 80)]]]), proxyState([]), FULL);
    assert.deepEqual(got, { serviceIPs: ['10.96.0.10'], nodePorts: [], endpoints: [] });
  });
  it('a partial sync only looks at the services it names', () => {
    const prev = proxyState([[dns(), []]]);
    const next = proxyState([[dns(), [endpoint('10.244.1.2', 53)]]]);
    assert.deepEqual(staleUDPFlows(prev, next, changed({ endpoints: ['other'] })).serviceIPs, []);
  });
});
