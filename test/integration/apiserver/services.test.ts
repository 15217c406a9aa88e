// Services as a kubectl user meets them on `k8ts server`: ClusterIPs and NodePorts allocated from
// the configured ranges, upstream's 422 texts for conflicts, concurrency through client-node, and
// allocations that survive a restart.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { after, before, describe, it } from 'node:test';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';

describe('Service allocation through kubectl', () => {
  let s: RunningServer;
  const kubectl = async (...args: string[]) => s.kubectl(args);
  const ok = async (...args: string[]) => {
    const r = await kubectl(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const clusterIP = async (name: string) => ok('get', 'svc', name, '-o', 'jsonpath={.spec.clusterIP}');

  before(async () => {
    s = await startK8tsServer(['--service-cluster-ip-range', '10.43.0.0/16', '--service-node-port-range', '30000-30999']);
  });
  after(async () => {
    await s?.stop();
  });

  it('gives the kubernetes Service the first address of the configured range', async () => {
    assert.equal(await clusterIP('kubernetes'), '10.43.0.1');
  });

  it('shows an allocated CLUSTER-IP for kubectl create service and kubectl expose', async () => {
    await ok('create', 'service', 'clusterip', 'web', '--tcp=80:8080');
    await ok('create', 'deployment', 'api', '--image=registry.k8s.io/pause:3.10');
    await ok('expose', 'deployment', 'api', '--port=80');
    const table = await ok('get', 'svc', 'web', 'api');
    for (const line of table.trim().split('\n').slice(1)) assert.match(line, /^\S+\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80\/TCP/);
  });

  it('honours a free explicit clusterIP, as the addons do for kube-dns', async () => {
    await ok('create', 'service', 'clusterip', 'dns', '--tcp=53:53', '--clusterip=10.43.0.10');
    assert.equal(await clusterIP('dns'), '10.43.0.10');
  });

  it('refuses a taken or out-of-range clusterIP with upstream messages', async () => {
    const taken = await kubectl('create', 'service', 'clusterip', 'dns2', '--tcp=53', '--clusterip=10.43.0.10');
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /Service "dns2" is invalid: spec\.clusterIPs: Invalid value: \[\]string\{"10\.43\.0\.10"\}: failed to allocate IP 10\.43\.0\.10: provided IP is already allocated/);
    const outside = await kubectl('create', 'service', 'clusterip', 'far', '--tcp=80', '--clusterip=10.96.0.20');
    assert.match(outside.stderr, /failed to allocate IP 10\.96\.0\.20: the provided IP \(10\.96\.0\.20\) is not in the valid range\. The range of valid IPs is 10\.43\.0\.0\/16/);
  });

  it('refuses to change a clusterIP', async () => {
    const r = await kubectl('patch', 'svc', 'web', '-p', '{"spec":{"clusterIP":"10.43.9.9"}}');
    assert.match(r.stderr, /The Service "web" is invalid: spec\.clusterIPs\[0\]: Invalid value: \[\]string\{"10\.43\.9\.9"\}: may not change once set/);
  });

  it('allocates NodePorts, refuses a taken one and releases it when the type changes', async () => {
    await ok('create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30080');
    assert.match(await ok('get', 'svc', 'np'), /80:30080\/TCP/);
    const dup = await kubectl('create', 'service', 'nodeport', 'np2', '--tcp=80:8080', '--node-port=30080');
    assert.match(dup.stderr, /Service "np2" is invalid: spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/);
    const outside = await kubectl('create', 'service', 'nodeport', 'np3', '--tcp=80', '--node-port=31500');
    assert.match(outside.stderr, /spec\.ports\[0\]\.nodePort: Invalid value: 31500: provided port is not in the valid range\. The range of valid ports is 30000-30999/);
    await ok('patch', 'svc', 'np', '-p', '{"spec":{"type":"ClusterIP"}}');
    assert.equal(await ok('get', 'svc', 'np', '-o', 'jsonpath={.spec.ports[0].nodePort}'), '');
    await ok('create', 'service', 'nodeport', 'np2', '--tcp=80:8080', '--node-port=30080');
  });

  it('gives headless and ExternalName Services no clusterIP', async () => {
    await ok('create', 'service', 'clusterip', 'hl', '--clusterip=None');
    assert.equal(await clusterIP('hl'), 'None');
    await ok('create', 'service', 'externalname', 'ext', '--external-name=example.com');
    assert.equal(await clusterIP('ext'), '');
  });

  it('refuses RequireDualStack on a single-stack cluster', async () => {
    const r = await s.kubectl(['apply', '-f', '-'], {
      input: 'apiVersion: v1\nkind: Service\nmetadata: {name: ds}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n',
    });
    assert.match(r.stderr, /The Service "ds" is invalid: spec\.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services/);
  });

  it('re-applies a manifest without the allocated values and keeps them', async () => {
    const manifest = 'apiVersion: v1\nkind: Service\nmetadata: {name: applied}\nspec:\n  type: NodePort\n  selector: {app: a}\n  ports: [{name: http, port: 80}]\n';
    await s.kubectl(['apply', '-f', '-'], { input: manifest });
    const first = await ok('get', 'svc', 'applied', '-o', 'jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}');
    const again = await s.kubectl(['apply', '-f', '-'], { input: manifest.replace('port: 80', 'port: 80, targetPort: 8080') });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await ok('get', 'svc', 'applied', '-o', 'jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}'), first);
  });

  it('gives 200 parallel creates through client-node 200 distinct ClusterIPs', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(s.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const created = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        core.createNamespacedService({ namespace: 'default', body: { metadata: { name: `par-${i}` }, spec: { selector: { app: 'par' }, ports: [{ port: 80 }] } } }),
      ),
    );
    const ips = created.map((c) => c.spec?.clusterIP);
    assert.equal(new Set(ips).size, 200);
  });

  it('keeps every allocation across a restart: new Services never reuse a held IP or port', async () => {
    await s.restart();
    const held = new Set((await ok('get', 'svc', '-A', '-o', 'jsonpath={.items[*].spec.clusterIP}')).split(' '));
    await ok('create', 'service', 'nodeport', 'after', '--tcp=80');
    const ip = await clusterIP('after');
    assert.equal(held.has(ip), false);
    const dup = await kubectl('create', 'service', 'nodeport', 'np9', '--tcp=80', '--node-port=30080');
    assert.match(dup.stderr, /provided port is already allocated/);
    // A consistent store needs no repair: the startup pass records no events.
    const events = await ok('get', 'events', '-A', '-o', 'jsonpath={.items[*].reason}');
    assert.doesNotMatch(events, /ClusterIP|Port(Not|Already)Allocated/);
  });

  it('frees a deleted Service IP and node port for reuse', async () => {
    const ip = await clusterIP('dns');
    await ok('delete', 'svc', 'dns', 'np2');
    await ok('create', 'service', 'clusterip', 'dns-again', '--tcp=53', `--clusterip=${ip}`);
    await ok('create', 'service', 'nodeport', 'np-again', '--tcp=80', '--node-port=30080');
  });
});
