// The iptables backend against the real kernel: rules applied with iptables-restore inside a lab
// node namespace, real TCP/UDP traffic from pod and outside-host namespaces.
import { servicePort } from '../../../support/proxyStateBuilders.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { staleUDPFlows } from '../../../../src/network/proxy/changeTracker.js';
import { cleanStaleUDPFlows } from '../../../../src/network/proxy/conntrack.js';
import { commandRunner } from '../../../../src/network/proxy/exec.js';
import { IptablesProxier } from '../../../../src/network/proxy/iptables/proxier.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../../../src/network/proxy/types.js';
import { LAB_HTTP_PORT, LAB_UDP_PORT, NetnsLab, type HttpOutcome, type LabPod } from '../../../support/netnsLab.js';

function svc(name: string, p: Partial<ServicePortInfo> = {}): ServicePortInfo {
  return servicePort(name, '10.96.0.50', 80, { name: { namespace: 'default', name, port: '', protocol: p.protocol ?? 'TCP' }, ...p });
}

const bodies = (outs: HttpOutcome[]) => outs.map((o) => (o.kind === 'ok' ? o.body : o.kind));

describe('iptables backend in a network namespace lab', { timeout: 180_000 }, () => {
  let lab: NetnsLab;
  let backend: IptablesProxier;
  let pods: LabPod[];
  const services = new Map<string, ServicePortInfo>();
  const endpoints = new Map<string, EndpointInfo[]>();
  const ep = (pod: LabPod, p: Partial<EndpointInfo> = {}): EndpointInfo => ({ ip: pod.ip, port: LAB_HTTP_PORT, ready: true, serving: true, terminating: false, isLocal: true, nodeName: 'lab-node', ...p });
  const state = (): ProxyState => ({
    family: 'IPv4',
    services,
    endpoints,
    nodeName: 'lab-node',
    nodeIPs: [lab.nodeIP],
    nodePortsOnAllLocalAddresses: true,
    clusterCIDRs: ['10.244.0.0/16'],
    masqueradeAll: false,
    masqueradeBit: 14,
    localhostNodePorts: true,
  });
  const sync = (full: boolean, changed: string[] = []) => backend.sync(state(), { full, services: new Set(changed), endpoints: new Set(changed) });

  before(async () => {
    lab = await NetnsLab.create({ owner: 'proxy', pods: 3 });
    pods = lab.pods;
    backend = new IptablesProxier({ family: 'IPv4', exec: commandRunner(NetnsLab.execPrefix(lab.nodeNs)) });
  });
  after(async () => {
    await lab?.destroy();
  });

  it('balances a ClusterIP over its endpoints from a pod, and masquerades only off-cluster clients', async () => {
    services.set('default/web', svc('web'));
    endpoints.set('default/web', [ep(pods[0]!), ep(pods[1]!)]);
    await sync(true);
    const outs = await lab.httpMany(pods[2]!.ns, 'http://10.96.0.50/', 24);
    const seen = new Set(bodies(outs));
    assert.deepEqual([...seen].sort(), [`pod0 ${pods[2]!.ip}`, `pod1 ${pods[2]!.ip}`], 'both endpoints answer, and see the pod\'s own IP');
    const fromOutside = await lab.http(lab.extNs, 'http://10.96.0.50/');
    assert.equal(fromOutside.kind, 'ok');
    assert.match(fromOutside.kind === 'ok' ? fromOutside.body : '', new RegExp(` ${lab.bridgeIP.replace(/\./g, '\\.')}$`), 'off-cluster client is masqueraded');
  });

  it('answers a NodePort from the outside host (masqueraded under Cluster policy) and on localhost of the node', async () => {
    services.set('default/web', svc('web', { nodePort: 30080 }));
    await sync(false, ['default/web']);
    const outside = await lab.httpMany(lab.extNs, `http://${lab.nodeIP}:30080/`, 6);
    for (const o of outside) assert.ok(o.kind === 'ok' && o.body.endsWith(` ${lab.bridgeIP}`), JSON.stringify(o));
    const local = await lab.http(lab.nodeNs, 'http://127.0.0.1:30080/');
    assert.equal(local.kind, 'ok', JSON.stringify(local));
  });

  it('externalTrafficPolicy Local sends outside traffic only to local endpoints and keeps the client IP', async () => {
    services.set('default/web', svc('web', { nodePort: 30080, externalPolicyLocal: true }));
    endpoints.set('default/web', [ep(pods[0]!), ep(pods[1]!, { isLocal: false, nodeName: 'other-node' })]);
    await sync(false, ['default/web']);
    const outs = await lab.httpMany(lab.extNs, `http://${lab.nodeIP}:30080/`, 12);
    assert.deepEqual([...new Set(bodies(outs))], [`pod0 ${lab.extIP}`]);
  });

  it('keeps a client on one endpoint with ClientIP session affinity', async () => {
    services.set('default/web', svc('web', { stickyMaxAgeSeconds: 60 }));
    endpoints.set('default/web', [ep(pods[0]!), ep(pods[1]!)]);
    await sync(false, ['default/web']);
    const outs = await lab.httpMany(pods[2]!.ns, 'http://10.96.0.50/', 12);
    assert.equal(new Set(bodies(outs)).size, 1, JSON.stringify(bodies(outs)));
  });

  it('hairpins a pod reaching itself through its service (masqueraded so the reply comes back through the node)', async () => {
    services.set('default/web', svc('web'));
    endpoints.set('default/web', [ep(pods[0]!)]);
    await sync(false, ['default/web']);
    const out = await lab.http(pods[0]!.ns, 'http://10.96.0.50/');
    assert.deepEqual(bodies([out]), [`pod0 ${lab.bridgeIP}`]);
  });

  it('moves traffic when an endpoint goes away (partial sync), and refuses a service without endpoints at once', async () => {
    endpoints.set('default/web', [ep(pods[1]!)]);
    await sync(false, ['default/web']);
    assert.deepEqual([...new Set(bodies(await lab.httpMany(pods[2]!.ns, 'http://10.96.0.50/', 8)))], [`pod1 ${pods[2]!.ip}`]);
    endpoints.set('default/web', []);
    await sync(false, ['default/web']);
    const refused = await lab.http(pods[2]!.ns, 'http://10.96.0.50/', { timeoutMs: 3000 });
    assert.equal(refused.kind, 'refused', JSON.stringify(refused));
    assert.ok(refused.ms < 1000, `refused after ${refused.ms} ms`);
    const np = await lab.http(lab.extNs, `http://${lab.nodeIP}:30080/`, { timeoutMs: 3000 });
    assert.notEqual(np.kind, 'ok');
  });

  it('reaches external IPs and LoadBalancer IPs from outside, and drops LoadBalancer traffic outside loadBalancerSourceRanges', async () => {
    services.set('default/web', svc('web', { externalIPs: ['203.0.113.10'], loadBalancerVIPs: ['198.51.100.7'], loadBalancerSourceRanges: [`${lab.extIP}/32`] }));
    services.set('default/closed', svc('closed', { clusterIP: '10.96.0.51', loadBalancerVIPs: ['198.51.100.8'], loadBalancerSourceRanges: ['203.0.113.0/24'] }));
    endpoints.set('default/web', [ep(pods[0]!)]);
    endpoints.set('default/closed', [ep(pods[0]!)]);
    await sync(true);
    assert.equal((await lab.http(lab.extNs, 'http://203.0.113.10/')).kind, 'ok');
    assert.equal((await lab.http(lab.extNs, 'http://198.51.100.7/')).kind, 'ok');
    const dropped = await lab.http(lab.extNs, 'http://198.51.100.8/', { timeoutMs: 800 });
    assert.equal(dropped.kind, 'timeout', JSON.stringify(dropped));
    services.delete('default/closed');
    endpoints.delete('default/closed');
    await sync(false, ['default/closed']);
  });

  it('deletes stale UDP conntrack entries so a client moves to the new endpoint', async () => {
    const key = 'default/dns';
    const dns = svc('dns', { clusterIP: '10.96.0.53', port: 53, protocol: 'UDP' });
    const udpEp = (pod: LabPod) => ({ ...ep(pod), port: LAB_UDP_PORT });
    services.set(key, dns);
    endpoints.set(key, [udpEp(pods[0]!)]);
    await sync(false, [key]);
    const ask = () => lab.udp(pods[2]!.ns, '10.96.0.53', 53, { sourcePort: 40053 });
    assert.match((await ask()).body ?? '', /^pod0 /);
    const before = new Map(endpoints);
    endpoints.set(key, [udpEp(pods[1]!)]);
    await sync(false, [key]);
    // The flow is still DNATed to pod0: this is what cleanup is for.
    assert.match((await ask()).body ?? '', /^pod0 /, 'without cleanup the old flow persists');
    const stale = staleUDPFlows([key], services, before, services, endpoints);
    assert.deepEqual(stale.endpoints, [{ serviceIP: '10.96.0.53', endpointIP: pods[0]!.ip }]);
    assert.deepEqual(await cleanStaleUDPFlows(commandRunner(NetnsLab.execPrefix(lab.nodeNs)), stale, 'IPv4'), []);
    assert.match((await ask()).body ?? '', /^pod1 /);
  });

  it('removes stale chains on the next full sync and every rule on cleanup', async () => {
    services.clear();
    endpoints.clear();
    await sync(true);
    const saved = await lab.mustExec(lab.nodeNs, 'iptables-save', ['-t', 'nat']);
    assert.doesNotMatch(saved, /KUBE-(SVC|SEP|EXT|FW)-/);
    await backend.cleanup();
    const all = await lab.mustExec(lab.nodeNs, 'iptables-save');
    assert.doesNotMatch(all, /KUBE-(SERVICES|NODEPORTS|POSTROUTING|MARK-MASQ|FORWARD|PROXY-FIREWALL|EXTERNAL-SERVICES)/);
  });
});
