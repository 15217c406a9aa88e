// The DNS server end to end over real sockets, without a cluster: objects served from a static
// list, names outside the cluster forwarded to a fake upstream on loopback, queried by dig and raw bytes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as packet from 'dns-packet';
import { startDns, type RunningDns } from '../../../src/network/dns/server.js';
import { encodeQuery } from '../../../src/network/dns/wire.js';
import { dig, digAvailable, digFlags, digSection, digStatus, nslookup } from '../../support/dig.js';
import { startFakeUpstream, tcpExchange, udpExchange, type FakeUpstream } from '../../support/fakeDnsUpstream.js';
import { tempDir } from '../../support/tmp.js';
import { waitFor } from '../../support/waitFor.js';
import { endpointSlice, headlessService, standardObjects } from '../../unit/network/dns/fixtures.js';

const skip = digAvailable() ? false : 'dig is not installed (apt-get install bind9-dnsutils)';

function corefile(resolvConf: string, extra = ''): string {
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . ${resolvConf} {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    loadbalance
${extra}}
`;
}

describe('DNS server over UDP and TCP', { skip }, () => {
  let upstream: FakeUpstream;
  let dns: RunningDns;
  const tmp = tempDir('k8ts-dns-');
  before(async () => {
    upstream = await startFakeUpstream();
    upstream.records.set('example.org', [{ name: 'example.org', type: 'A', class: 'IN', ttl: 300, data: '203.0.113.7' }]);
    upstream.records.set('db.example.org', [{ name: 'db.example.org', type: 'A', class: 'IN', ttl: 300, data: '203.0.113.9' }]);
    upstream.records.set('8.8.8.8.in-addr.arpa', [{ name: '8.8.8.8.in-addr.arpa', type: 'PTR', class: 'IN', ttl: 300, data: 'dns.example.net' }]);
    const big = Array.from({ length: 60 }, (_, i) => ({ name: 'big.example.org', type: 'A' as const, class: 'IN' as const, ttl: 300, data: `198.51.100.${i + 1}` }));
    upstream.records.set('big.example.org', big);
    upstream.truncateUdp.add('big.example.org');
    upstream.silent.add('slow.example.org');
    const resolv = join(tmp.path, 'resolv.conf');
    writeFileSync(resolv, `# written by the test\nsearch example.org\nnameserver ${upstream.address}\n`);
    const objects = standardObjects();
    // A headless service with 40 ready pods: more than 512 bytes of A records.
    objects.services.push(headlessService('many', 'default', [{ name: 'http', port: 80 }]));
    objects.endpointSlices.push(endpointSlice('many', 'default', Array.from({ length: 40 }, (_, i) => ({ ip: `10.244.7.${i + 1}` })), [{ name: 'http', port: 80 }]));
    dns = await startDns({
      corefile: corefile(resolv),
      objects,
      dnsPort: 0,
      listen: ['127.0.0.1'],
      healthAddress: '127.0.0.1:0',
      readyAddress: '127.0.0.1:0',
      metricsAddress: '127.0.0.1:0',
      lameduckMs: 0,
      forwardTimeouts: { attemptMs: 300, totalMs: 900 },
    });
  });
  after(async () => {
    await dns?.stop();
    await upstream?.stop();
    tmp.remove();
  });

  it('answers a service name authoritatively, with TTL 30 and without RA (as CoreDNS)', async () => {
    const out = await dig(dns.port, ['kubernetes.default.svc.cluster.local', 'A']);
    assert.equal(digStatus(out), 'NOERROR');
    assert.deepEqual(digFlags(out), ['qr', 'aa', 'rd']);
    assert.deepEqual(digSection(out, 'ANSWER'), ['kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1']);
  });
  it('NXDOMAIN and NODATA both carry the zone SOA; they differ in status only', async () => {
    const nx = await dig(dns.port, ['nope.default.svc.cluster.local', 'A']);
    assert.equal(digStatus(nx), 'NXDOMAIN');
    assert.match(digSection(nx, 'AUTHORITY')[0] ?? '', /^cluster\.local\. 30 IN SOA ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 30$/);
    const nodata = await dig(dns.port, ['kubernetes.default.svc.cluster.local', 'AAAA']);
    assert.equal(digStatus(nodata), 'NOERROR');
    assert.deepEqual(digSection(nodata, 'ANSWER'), []);
    assert.equal(digSection(nodata, 'AUTHORITY').length, 1);
  });
  it('SRV and PTR lookups work from busybox nslookup', async () => {
    const srv = await nslookup(dns.port, '_https._tcp.kubernetes.default.svc.cluster.local', 'srv');
    assert.equal(srv.code, 0, srv.stdout);
    assert.match(srv.stdout, /service = 0 100 443 kubernetes\.default\.svc\.cluster\.local/);
    const ptr = await nslookup(dns.port, '10.96.0.10');
    assert.match(ptr.stdout, /name = kube-dns\.kube-system\.svc\.cluster\.local/);
    const a = await nslookup(dns.port, 'web.default.svc.cluster.local');
    assert.match(a.stdout, /Address: 10\.244\.1\.5/);
    assert.match(a.stdout, /Address: 10\.244\.2\.7/);
  });
  it('a UDP answer too big for 512 bytes is truncated (TC) and complete over TCP', async () => {
    const udp = await dig(dns.port, ['+ignore', '+noedns', 'many.default.svc.cluster.local', 'A']);
    assert.ok(digFlags(udp).includes('tc'), udp);
    const udpCount = digSection(udp, 'ANSWER').length;
    assert.ok(udpCount > 0 && udpCount < 40, `${udpCount} records over UDP`);
    const tcp = await dig(dns.port, ['+tcp', 'many.default.svc.cluster.local', 'A']);
    assert.ok(!digFlags(tcp).includes('tc'));
    assert.equal(digSection(tcp, 'ANSWER').length, 40);
    // dig retries over TCP by itself when it sees TC.
    const auto = await dig(dns.port, ['+noedns', 'many.default.svc.cluster.local', 'A']);
    assert.equal(digSection(auto, 'ANSWER').length, 40);
  });
  it('an EDNS0 buffer size is respected: 4096 bytes fit all 40 records over UDP', async () => {
    const out = await dig(dns.port, ['+bufsize=4096', '+ignore', 'many.default.svc.cluster.local', 'A']);
    assert.ok(!digFlags(out).includes('tc'));
    assert.equal(digSection(out, 'ANSWER').length, 40);
  });
  it('garbage bytes get FORMERR, never a crash; short junk gets nothing', async () => {
    const junk = Buffer.from('0001000000010000000000000377777706676f6f676c6503636f6d0000', 'hex');
    junk.writeUInt16BE(0x1234, 0);
    const truncatedQuestion = Buffer.concat([junk.subarray(0, 20)]);
    const reply = await udpExchange(dns.port, truncatedQuestion);
    assert.ok(reply);
    const d = packet.decode(reply);
    assert.equal(d.id, 0x1234);
    assert.equal((d as unknown as { rcode: string }).rcode, 'FORMERR');
    assert.equal(await udpExchange(dns.port, Buffer.from([1, 2, 3]), 300), undefined);
    // Still serving.
    assert.equal(digStatus(await dig(dns.port, ['kubernetes.default.svc.cluster.local'])), 'NOERROR');
  });
  it('an UPDATE gets NOTIMP and an EDNS version 1 query gets BADVERS', async () => {
    const q = encodeQuery('kubernetes.default.svc.cluster.local', 'A', { id: 77 });
    q.writeUInt16BE((q.readUInt16BE(2) & ~0x7800) | (5 << 11), 2);
    const notimp = packet.decode((await udpExchange(dns.port, q))!);
    assert.equal((notimp as unknown as { rcode: string }).rcode, 'NOTIMP');
    const badvers = await dig(dns.port, ['+edns=1', '+noednsnegotiation', 'kubernetes.default.svc.cluster.local']);
    assert.equal(digStatus(badvers), 'BADVERS');
  });
  it('forwards other names to the upstream of resolv.conf and caches the answer', async () => {
    const before = upstream.queries.filter((q) => q.startsWith('example.org A')).length;
    const first = await dig(dns.port, ['example.org', 'A']);
    assert.equal(digStatus(first), 'NOERROR');
    assert.deepEqual(digSection(first, 'ANSWER'), ['example.org. 30 IN A 203.0.113.7']);
    assert.ok(digFlags(first).includes('ra'));
    const second = await dig(dns.port, ['example.org', 'A']);
    assert.match(digSection(second, 'ANSWER')[0] ?? '', /^example\.org\. (30|29) IN A 203\.0\.113\.7$/);
    assert.equal(upstream.queries.filter((q) => q.startsWith('example.org A')).length, before + 1, 'the second answer came from the cache');
  });
  it('asks the upstream again over TCP when its UDP answer is truncated', async () => {
    const out = await dig(dns.port, ['+bufsize=4096', '+ignore', 'big.example.org', 'A']);
    assert.ok(!digFlags(out).includes('tc'));
    assert.equal(digSection(out, 'ANSWER').length, 60);
    assert.ok(upstream.queries.includes('big.example.org A udp'));
    assert.ok(upstream.queries.includes('big.example.org A tcp'));
  });
  it('an upstream that does not answer is a SERVFAIL', async () => {
    const out = await dig(dns.port, ['slow.example.org', 'A']);
    assert.equal(digStatus(out), 'SERVFAIL');
  });
  it('unknown reverse names fall through to the upstream; cluster IPs do not', async () => {
    assert.deepEqual(digSection(await dig(dns.port, ['-x', '8.8.8.8']), 'ANSWER'), ['8.8.8.8.in-addr.arpa. 30 IN PTR dns.example.net.']);
    assert.deepEqual(digSection(await dig(dns.port, ['-x', '10.96.0.1']), 'ANSWER'), ['1.0.96.10.in-addr.arpa. 30 IN PTR kubernetes.default.svc.cluster.local.']);
    assert.ok(!upstream.queries.some((q) => q.startsWith('1.0.96.10.in-addr.arpa')));
  });
  it('an ExternalName service is a CNAME, followed through the upstream', async () => {
    const out = await dig(dns.port, ['ext.default.svc.cluster.local', 'A']);
    assert.deepEqual(digSection(out, 'ANSWER'), ['ext.default.svc.cluster.local. 30 IN CNAME db.example.org.', 'db.example.org. 30 IN A 203.0.113.9']);
  });
  it('answers repeated identical queries from memory until the cluster changes', async () => {
    const q = encodeQuery('api.shop.svc.cluster.local', 'A', { id: 1 });
    const ask = async () => {
      const r = await udpExchange(dns.port, q);
      const d = packet.decode(r!);
      return d.answers?.map((a) => (a.type === 'A' ? a.data : a.type)) ?? [];
    };
    assert.deepEqual(await ask(), ['10.96.5.5']);
    assert.deepEqual(await ask(), ['10.96.5.5']);
    dns.index.upsertService({ metadata: { name: 'api', namespace: 'shop' }, spec: { clusterIP: '10.96.5.55', clusterIPs: ['10.96.5.55'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
    assert.deepEqual(await ask(), ['10.96.5.55']);
    dns.index.upsertService({ metadata: { name: 'api', namespace: 'shop' }, spec: { clusterIP: '10.96.5.5', clusterIPs: ['10.96.5.5'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'grpc', port: 9090, protocol: 'TCP' }] } });
    assert.deepEqual(await ask(), ['10.96.5.5']);
  });
  it('answers the same over TCP with length framing, several queries on one connection', async () => {
    const a = packet.decode(await tcpExchange(dns.port, encodeQuery('kubernetes.default.svc.cluster.local', 'A', { id: 5 })));
    assert.equal(a.id, 5);
    assert.equal(a.answers?.[0]?.type === 'A' && a.answers[0].data, '10.96.0.1');
  });
  it('serves /health, /ready and CoreDNS-named /metrics', async () => {
    const health = await fetch(`http://127.0.0.1:${dns.healthPort}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'OK');
    const ready = await fetch(`http://127.0.0.1:${dns.readyPort}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'OK');
    const metrics = await (await fetch(`http://127.0.0.1:${dns.metricsPort}/metrics`)).text();
    assert.match(metrics, /coredns_dns_requests_total\{server="dns:\/\/127\.0\.0\.1:\d+",zone="\.",view="",proto="udp",family="1",type="A"\} \d+/);
    assert.match(metrics, /coredns_dns_responses_total\{server="dns:\/\/127\.0\.0\.1:\d+",zone="\.",view="",rcode="NXDOMAIN",plugin="kubernetes"\} \d+/);
    assert.match(metrics, /coredns_dns_request_duration_seconds_bucket\{le="0.00025",/);
    assert.match(metrics, /coredns_cache_hits_total\{server="[^"]+",type="success",zones="\.",view=""\} [1-9]/);
    assert.match(metrics, /coredns_cache_misses_total\{/);
    assert.match(metrics, /coredns_forward_requests_total\{to="127\.0\.0\.1:\d+"\} [1-9]/);
    assert.match(metrics, /coredns_proxy_request_duration_seconds_bucket\{le="[^"]+",proxy_name="forward",to="127\.0\.0\.1:\d+",rcode="NOERROR"\}/);
    assert.match(metrics, /coredns_plugin_enabled\{server="[^"]+",zone="\.",view="",name="kubernetes"\} 1/);
  });
});

describe('DNS server robustness and readiness', { skip }, () => {
  it('answers every mangled query with a well-formed reply and keeps serving', async () => {
    const dns = await startDns({ corefile: '.:53 {\n kubernetes cluster.local in-addr.arpa ip6.arpa\n loadbalance\n}', objects: standardObjects(), dnsPort: 0, listen: ['127.0.0.1'] });
    try {
      const seeds = [
        encodeQuery('web.default.svc.cluster.local', 'A', { udpSize: 1232 }),
        encodeQuery('_http._tcp.web.default.svc.cluster.local', 'SRV'),
        encodeQuery('1.0.96.10.in-addr.arpa', 'PTR'),
      ];
      let seed = 12345;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let i = 0; i < 400; i++) {
        const q = Buffer.from(seeds[i % seeds.length]!);
        for (let flips = 1 + rand(4); flips > 0; flips--) q[12 + rand(q.length - 12)] = rand(256);
        const cut = rand(5) === 0 ? q.subarray(0, 12 + rand(q.length - 12)) : q;
        const reply = await udpExchange(dns.port, cut, 1000);
        assert.ok(reply, `query ${i} (${cut.toString('hex')}) got a reply`);
        assert.equal(reply.readUInt16BE(0), cut.readUInt16BE(0));
        assert.ok(reply.readUInt16BE(2) & 0x8000, 'QR set');
        packet.decode(reply);
      }
      assert.equal(digStatus(await dig(dns.port, ['kubernetes.default.svc.cluster.local'])), 'NOERROR');
      assert.match(await dns.metrics.registry.getSingleMetricAsString('coredns_panics_total'), /coredns_panics_total 0/);
    } finally {
      await dns.stop();
    }
  });
  it('is not ready and answers SERVFAIL for unknown names until the API has been listed', async () => {
    const { RestClient } = await import('../../../src/client/restClient.js');
    const client = new RestClient({ server: 'http://127.0.0.1:1' }, { maxConnectionRetries: 0 });
    const dns = await startDns({ corefile: '.:53 {\n ready\n kubernetes cluster.local\n}', client, dnsPort: 0, listen: ['127.0.0.1'], readyAddress: '127.0.0.1:0', startupSyncTimeoutMs: 200 });
    try {
      assert.equal(dns.ready(), false);
      const r = await fetch(`http://127.0.0.1:${dns.readyPort}/ready`);
      assert.equal(r.status, 503);
      assert.equal(await r.text(), 'kubernetes');
      assert.equal(digStatus(await dig(dns.port, ['web.default.svc.cluster.local'])), 'SERVFAIL');
    } finally {
      await dns.stop();
      client.close();
    }
  });
});

describe('DNS server configuration at run time', { skip }, () => {
  it('skips an upstream that stopped answering until a health check finds it back', async () => {
    const good = await startFakeUpstream();
    good.records.set('example.org', [{ name: 'example.org', type: 'A', class: 'IN', ttl: 60, data: '203.0.113.1' }]);
    const dead = await startFakeUpstream();
    dead.silent.add('example.org');
    dead.silent.add('.');
    const dns = await startDns({ corefile: `.:53 {\n forward . ${dead.address} ${good.address} {\n policy sequential\n max_fails 2\n health_check 100ms\n }\n}\n`, dnsPort: 0, listen: ['127.0.0.1'], forwardTimeouts: { attemptMs: 200, totalMs: 2000 } });
    try {
      for (let i = 0; i < 2; i++) assert.equal(digStatus(await dig(dns.port, ['example.org'])), 'NOERROR');
      const askedDead = dead.queries.filter((q) => q.startsWith('example.org')).length;
      assert.equal(askedDead, 2, 'the first two queries tried the dead upstream first');
      const t0 = Date.now();
      assert.equal(digStatus(await dig(dns.port, ['example.org'])), 'NOERROR');
      assert.ok(Date.now() - t0 < 150, 'the third went straight to the good upstream');
      assert.equal(dead.queries.filter((q) => q.startsWith('example.org')).length, askedDead);
      // Health checks (". NS") keep probing the dead one; once it answers it is used again.
      await waitFor('a failed health check', async () => /to="127\.0\.0\.1:\d+"\} [1-9]/.test(await dns.metrics.registry.getSingleMetricAsString('coredns_proxy_healthcheck_failures_total')), 3000, 50);
      dead.silent.clear();
      await waitFor('the dead upstream to be healthy', async () => dead.queries.at(-1) === '. NS udp', 3000, 50);
      await new Promise((r) => setTimeout(r, 200));
      await dig(dns.port, ['example.org']);
      assert.equal(dead.queries.filter((q) => q.startsWith('example.org')).length, askedDead + 1);
    } finally {
      await dns.stop();
      await good.stop();
      await dead.stop();
    }
  });
  it('a second server block sends its zone to its own upstream (a stub domain)', async () => {
    const main = await startFakeUpstream();
    const consul = await startFakeUpstream();
    main.records.set('example.org', [{ name: 'example.org', type: 'A', class: 'IN', ttl: 60, data: '203.0.113.1' }]);
    consul.records.set('db.consul.local', [{ name: 'db.consul.local', type: 'A', class: 'IN', ttl: 60, data: '10.150.0.7' }]);
    const dns = await startDns({
      corefile: `.:53 {\n kubernetes cluster.local\n forward . ${main.address}\n}\nconsul.local:53 {\n cache 30\n forward . ${consul.address}\n}\n`,
      objects: standardObjects(),
      dnsPort: 0,
      listen: ['127.0.0.1'],
    });
    try {
      assert.deepEqual(digSection(await dig(dns.port, ['db.consul.local']), 'ANSWER'), ['db.consul.local. 30 IN A 10.150.0.7']);
      assert.deepEqual(digSection(await dig(dns.port, ['example.org']), 'ANSWER'), ['example.org. 60 IN A 203.0.113.1']);
      assert.deepEqual(main.queries.map((q) => q.split(' ')[0]), ['example.org']);
      assert.deepEqual(consul.queries.map((q) => q.split(' ')[0]), ['db.consul.local']);
    } finally {
      await dns.stop();
      await main.stop();
      await consul.stop();
    }
  });
  it('detects a forwarding loop to itself and stops, as the loop plugin does', async () => {
    const tmp = tempDir('k8ts-dns-loop-');
    // The server forwards to its own port: find a free port first, then point resolv.conf at it.
    const probe = await startDns({ corefile: '.:53 {\n errors\n}', dnsPort: 0, listen: ['127.0.0.1'] });
    const port = probe.port;
    await probe.stop();
    writeFileSync(join(tmp.path, 'resolv.conf'), `nameserver 127.0.0.1:${port}\n`);
    const dns = await startDns({ corefile: `.:53 {\n loop\n forward . ${join(tmp.path, 'resolv.conf')}\n}`, dnsPort: port, listen: ['127.0.0.1'], forwardTimeouts: { attemptMs: 500, totalMs: 1000 } });
    const reason = await Promise.race([dns.done, new Promise((r) => setTimeout(() => r('still running'), 8000))]);
    assert.match(String(reason), /^Loop \(127\.0\.0\.1:\d+\) detected for zone "\."/);
    await dns.stop();
    tmp.remove();
  });
  it('reloads a changed Corefile and keeps the old one when the new one is invalid', async () => {
    const tmp = tempDir('k8ts-dns-reload-');
    const path = join(tmp.path, 'Corefile');
    const objects = standardObjects();
    writeFileSync(path, '.:53 {\n kubernetes cluster.local {\n ttl 30\n }\n reload\n}\n');
    const dns = await startDns({ corefilePath: path, objects, dnsPort: 0, listen: ['127.0.0.1'] });
    try {
      assert.deepEqual(digSection(await dig(dns.port, ['kubernetes.default.svc.cluster.local']), 'ANSWER'), ['kubernetes.default.svc.cluster.local. 30 IN A 10.96.0.1']);
      writeFileSync(path, '.:53 {\n kubernetes cluster.local {\n ttl 7\n }\n reload\n}\n');
      assert.equal(dns.reload(), true);
      assert.deepEqual(digSection(await dig(dns.port, ['kubernetes.default.svc.cluster.local']), 'ANSWER'), ['kubernetes.default.svc.cluster.local. 7 IN A 10.96.0.1']);
      writeFileSync(path, '.:53 {\n kubernetes cluster.local {\n ttl 3\n }\n rewrite name a b\n}\n');
      assert.equal(dns.reload(), false);
      assert.deepEqual(digSection(await dig(dns.port, ['kubernetes.default.svc.cluster.local']), 'ANSWER'), ['kubernetes.default.svc.cluster.local. 7 IN A 10.96.0.1']);
      const metrics = await dns.metrics.registry.getSingleMetricAsString('coredns_reload_failed_total');
      assert.match(metrics, /coredns_reload_failed_total 1/);
    } finally {
      await dns.stop();
      tmp.remove();
    }
  });
});
