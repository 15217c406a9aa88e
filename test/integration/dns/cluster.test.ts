// Cluster DNS against a real `k8ts server`: Services, EndpointSlices and Namespaces created with the
// real kubectl are answered by the DNS server (in-process, and as `k8ts dns`), queried by dig and
// busybox nslookup; changes show within a second.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDns, type RunningDns } from '../../../src/network/dns/server.js';
import { defaultCorefile } from '../../../src/network/dns/corefile.js';
import { dig, digAvailable, digSection, digStatus, nslookup } from '../../support/dig.js';
import { freePort } from '../../support/etcd.js';
import { startFakeUpstream, type FakeUpstream } from '../../support/fakeDnsUpstream.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { tempDir } from '../../support/tmp.js';
import { waitFor } from '../../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../../bin/k8ts', import.meta.url));
const skip = digAvailable() ? false : 'dig is not installed (apt-get install bind9-dnsutils)';

const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.96.100.100
  ports: [{name: http, port: 80, protocol: TCP}, {name: grpc, port: 9090, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: None
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: dns-test}
addressType: IPv4
endpoints:
- addresses: [10.244.1.10]
  hostname: web-0
  conditions: {ready: true}
- addresses: [10.244.2.11]
  hostname: web-1
  conditions: {ready: true}
- addresses: [10.244.2.12]
  hostname: web-2
  conditions: {ready: false}
ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: search, namespace: default}
spec:
  type: ExternalName
  externalName: www.example.org
`;

describe('cluster DNS against a real API server', { skip }, () => {
  let s: RunningServer;
  let upstream: FakeUpstream;
  let dns: RunningDns;
  const tmp = tempDir('k8ts-dns-cluster-');
  let resolv: string;

  before(async () => {
    s = await startK8tsServer();
    upstream = await startFakeUpstream();
    upstream.records.set('www.example.org', [{ name: 'www.example.org', type: 'A', class: 'IN', ttl: 120, data: '203.0.113.80' }]);
    resolv = join(tmp.path, 'resolv.conf');
    writeFileSync(resolv, `nameserver ${upstream.address}\n`);
    const r = await s.kubectl(['apply', '-f', '-'], { input: manifests });
    assert.equal(r.code, 0, r.stderr);
    dns = await startDns({
      corefile: defaultCorefile('cluster.local', resolv),
      kubeconfig: s.kubeconfig,
      dnsPort: 0,
      listen: ['127.0.0.1'],
      healthAddress: '127.0.0.1:0',
      readyAddress: '127.0.0.1:0',
      metricsAddress: '127.0.0.1:0',
      lameduckMs: 0,
    });
  });
  after(async () => {
    await dns?.stop();
    await upstream?.stop();
    await s?.stop();
    tmp.remove();
  });

  it('is ready once its informers have synced', async () => {
    assert.equal(dns.ready(), true);
    const r = await fetch(`http://127.0.0.1:${dns.readyPort}/ready`);
    assert.equal(r.status, 200);
  });
  it('answers the kubernetes Service at 10.96.0.1', async () => {
    assert.deepEqual(digSection(await dig(dns.port, ['kubernetes.default.svc.cluster.local']), 'ANSWER'), ['kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1']);
    const ns = await nslookup(dns.port, 'kubernetes.default.svc.cluster.local');
    assert.match(ns.stdout, /Address: 10\.96\.0\.1/);
  });
  it('answers a ClusterIP Service, its SRV records and its PTR', async () => {
    assert.deepEqual(digSection(await dig(dns.port, ['api.shop.svc.cluster.local']), 'ANSWER'), ['api.shop.svc.cluster.local. 30 IN A 10.96.100.100']);
    assert.deepEqual(digSection(await dig(dns.port, ['_grpc._tcp.api.shop.svc.cluster.local', 'SRV']), 'ANSWER'), ['_grpc._tcp.api.shop.svc.cluster.local. 30 IN SRV 0 100 9090 api.shop.svc.cluster.local.']);
    const ptr = await nslookup(dns.port, '10.96.100.100');
    assert.match(ptr.stdout, /name = api\.shop\.svc\.cluster\.local/);
  });
  it('answers a headless Service with ready endpoints and per-pod hostnames', async () => {
    const all = digSection(await dig(dns.port, ['web.default.svc.cluster.local']), 'ANSWER').sort();
    assert.deepEqual(all, ['web.default.svc.cluster.local. 30 IN A 10.244.1.10', 'web.default.svc.cluster.local. 30 IN A 10.244.2.11']);
    assert.deepEqual(digSection(await dig(dns.port, ['web-1.web.default.svc.cluster.local']), 'ANSWER'), ['web-1.web.default.svc.cluster.local. 30 IN A 10.244.2.11']);
    assert.equal(digStatus(await dig(dns.port, ['web-2.web.default.svc.cluster.local'])), 'NXDOMAIN');
    assert.deepEqual(digSection(await dig(dns.port, ['-x', '10.244.1.10']), 'ANSWER'), ['10.1.244.10.in-addr.arpa. 30 IN PTR web-0.web.default.svc.cluster.local.']);
  });
  it('follows an ExternalName Service through the upstream', async () => {
    assert.deepEqual(digSection(await dig(dns.port, ['search.default.svc.cluster.local']), 'ANSWER'), ['search.default.svc.cluster.local. 30 IN CNAME www.example.org.', 'www.example.org. 30 IN A 203.0.113.80']);
  });
  it('tells a namespace that exists (NODATA) from one that does not (NXDOMAIN)', async () => {
    assert.equal(digStatus(await dig(dns.port, ['shop.svc.cluster.local'])), 'NOERROR');
    assert.equal(digStatus(await dig(dns.port, ['ghost.svc.cluster.local'])), 'NXDOMAIN');
    const r = await s.kubectl(['create', 'namespace', 'ghost']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the new namespace', async () => digStatus(await dig(dns.port, ['ghost.svc.cluster.local'])) === 'NOERROR', 5000, 50);
  });
  it('an endpoint turning ready is answered within a second', async () => {
    const patch = JSON.stringify([{ op: 'replace', path: '/endpoints/2/conditions/ready', value: true }]);
    const started = Date.now();
    const r = await s.kubectl(['patch', 'endpointslice', 'web-1', '--type=json', '-p', patch]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('web-2 to be answered', async () => digSection(await dig(dns.port, ['web-2.web.default.svc.cluster.local']), 'ANSWER').length === 1, 5000, 20);
    const took = Date.now() - started;
    assert.ok(took < 1500, `took ${took} ms (including kubectl)`);
  });
  it('a deleted Service becomes NXDOMAIN', async () => {
    const r = await s.kubectl(['delete', 'service', 'api', '-n', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('api to disappear', async () => digStatus(await dig(dns.port, ['api.shop.svc.cluster.local'])) === 'NXDOMAIN', 5000, 50);
    assert.equal(digStatus(await dig(dns.port, ['_grpc._tcp.api.shop.svc.cluster.local', 'SRV'])), 'NXDOMAIN');
    // Its PTR (in-addr.arpa is not excluded from the cache by kubeadm's Corefile) may be served from
    // the cache for up to 30 s, exactly as with CoreDNS; no TTL may exceed that.
    const ptr = digSection(await dig(dns.port, ['-x', '10.96.100.100']), 'ANSWER');
    for (const rr of ptr) assert.ok(Number(rr.split(' ')[1]) <= 30, rr);
  });

  it('`k8ts dns` runs the same server as a process, answers, and stops on SIGTERM', async () => {
    const [port, health, ready, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const conf = join(tmp.path, 'Corefile');
    writeFileSync(
      conf,
      defaultCorefile('cluster.local', resolv)
        .replace('health {', `health 127.0.0.1:${health} {`)
        .replace('lameduck 5s', 'lameduck 100ms')
        .replace('    ready\n', `    ready 127.0.0.1:${ready}\n`)
        .replace('prometheus :9153', `prometheus 127.0.0.1:${metrics}`),
    );
    const child = spawn(process.execPath, [BIN, 'dns', '--conf', conf, '--kubeconfig', s.kubeconfig, '--dns-port', String(port), '--listen', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, K8TS_LOG_LEVEL: 'warn' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the banner', async () => out.includes(`.:${port}`), 20_000, 100);
      assert.match(out, /CoreDNS-1\.11\.3 \(k8ts\)/);
      assert.deepEqual(digSection(await dig(port, ['kubernetes.default.svc.cluster.local']), 'ANSWER'), ['kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1']);
      assert.equal(await (await fetch(`http://127.0.0.1:${health}/health`)).text(), 'OK');
      assert.equal((await fetch(`http://127.0.0.1:${ready}/ready`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text(), /coredns_dns_requests_total\{/);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  it('`k8ts dns` refuses a Corefile with an unknown plugin, naming the line', async () => {
    const conf = join(tmp.path, 'Bad');
    writeFileSync(conf, '.:53 {\n  errors\n  rewrite name a b\n}\n');
    const res = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'dns', '--conf', conf, '--kubeconfig', s.kubeconfig, '--dns-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.on('exit', (code) => resolve({ code, out }));
    });
    assert.equal(res.code, 1);
    assert.match(res.out, /Corefile:3 .*unknown directive 'rewrite'/);
  });
});
