import { endpoint, servicePort } from '../../../support/proxyStateBuilders.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { ProxyChangeTracker, staleUDPFlows } from '../../../../src/network/proxy/changeTracker.js';
import type { EndpointInfo, ServicePortInfo } from '../../../../src/network/proxy/types.js';

let rv = 1;
function svc(name: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP', clusterIP = '10.96.0.10'): Service {
  return { metadata: { namespace: 'ns', name, resourceVersion: String(rv++) }, spec: { clusterIP, ports: [{ port, protocol }] } };
}
function slice(svcName: string, name: string, ips: string[], port = 8080, protocol: 'TCP' | 'UDP' = 'TCP'): EndpointSlice {
  return {
    metadata: { namespace: 'ns', name, labels: { 'kubernetes.io/service-name': svcName }, resourceVersion: String(rv++), annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:00Z' } },
    addressType: 'IPv4',
    ports: [{ port, protocol }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

describe('ProxyChangeTracker', () => {
  it('reports only the service ports whose model really changed, and nothing after a resync of the same object', () => {
    const t = new ProxyChangeTracker('IPv4', 'node-a');
    const a = svc('a', 80);
    t.onService(a);
    t.onService(svc('b', 81));
    t.onEndpointSlice(slice('a', 'a-1', ['10.0.0.1']));
    let u = t.update();
    assert.deepEqual([...u.services].sort(), ['ns/a', 'ns/b']);
    assert.deepEqual([...u.endpoints], ['ns/a']);
    assert.deepEqual(u.triggerTimes, [Date.parse('2026-01-01T00:00:00Z')]);
    assert.equal(t.onService(a), false, 'the same resourceVersion again is no change');
    // A new resourceVersion with the same spec is folded in but changes nothing.
    t.onService({ ...a, metadata: { ...a.metadata, resourceVersion: '999' } });
    u = t.update();
    assert.equal(u.services.size, 0);
    t.onEndpointSlice(slice('a', 'a-1', ['10.0.0.1', '10.0.0.2']));
    u = t.update();
    assert.deepEqual([...u.endpoints], ['ns/a']);
    assert.deepEqual(t.endpoints.get('ns/a')!.map((e) => e.ip), ['10.0.0.1', '10.0.0.2']);
  });

  it('removes a deleted service\'s ports and a deleted slice\'s endpoints, reporting them as changed', () => {
    const t = new ProxyChangeTracker('IPv4', 'node-a');
    const a = svc('a', 80);
    const s = slice('a', 'a-1', ['10.0.0.1']);
    t.onService(a);
    t.onEndpointSlice(s);
    t.update();
    t.onService(a, true);
    t.onEndpointSlice(s, true);
    const u = t.update();
    assert.deepEqual([...u.services], ['ns/a']);
    assert.deepEqual([...u.endpoints], ['ns/a']);
    assert.equal(t.services.size, 0);
    assert.equal(t.endpoints.size, 0);
  });

  it('ignores slices without the service-name label', () => {
    const t = new ProxyChangeTracker('IPv4', 'node-a');
    assert.equal(t.onEndpointSlice({ metadata: { namespace: 'ns', name: 'x' }, addressType: 'IPv4', endpoints: [] }), false);
  });

  it('computes stale UDP flows: a removed endpoint, and a service that just got its first endpoint', () => {
    const t = new ProxyChangeTracker('IPv4', 'node-a');
    t.onService(svc('dns', 53, 'UDP'));
    t.onEndpointSlice(slice('dns', 'dns-1', ['10.0.0.1'], 53, 'UDP'));
    let u = t.update();
    assert.deepEqual(u.staleUDP, { serviceIPs: ['10.96.0.10'], nodePorts: [], endpoints: [] }, 'first endpoint: flows made while it had none go');
    t.onEndpointSlice(slice('dns', 'dns-1', ['10.0.0.2'], 53, 'UDP'));
    u = t.update();
    assert.deepEqual(u.staleUDP, { serviceIPs: [], nodePorts: [], endpoints: [{ serviceIP: '10.96.0.10', endpointIP: '10.0.0.1' }] });
  });
});

describe('staleUDPFlows', () => {
  const info = (p: Partial<ServicePortInfo> = {}): ServicePortInfo => servicePort('dns', '10.96.0.10', 53, { name: { namespace: 'ns', name: 'dns', port: '', protocol: 'UDP' }, protocol: 'UDP', ...p });
  const e = (ip: string): EndpointInfo => endpoint(ip, 53);
  const cases = [
    {
      name: 'a deleted UDP service leaves its cluster IP, external IPs and NodePort stale',
      old: info({ externalIPs: ['192.0.2.1'], nodePort: 30053 }),
      next: undefined,
      want: { serviceIPs: ['10.96.0.10', '192.0.2.1'], nodePorts: [30053], endpoints: [] },
    },
    { name: 'a TCP service never needs conntrack cleanup', old: info({ protocol: 'TCP' }), next: undefined, want: { serviceIPs: [], nodePorts: [], endpoints: [] } },
    { name: 'a changed NodePort leaves the old one stale', old: info({ nodePort: 30053 }), next: info({ nodePort: 30054 }), want: { serviceIPs: [], nodePorts: [30053], endpoints: [] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const olds = new Map([['ns/dns', c.old]]);
      const news = new Map(c.next ? [['ns/dns', c.next]] : []);
      const eps = new Map([['ns/dns', [e('10.0.0.1')]]]);
      assert.deepEqual(staleUDPFlows(['ns/dns'], olds, eps, news, c.next ? eps : new Map()), c.want);
    });
  }
});
