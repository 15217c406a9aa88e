import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, PodDNSConfig } from 'kubernetes-types/core/v1.js';
import { DNSConfigurer, formatResolvConf, parseResolvConf, readResolvConf, type DNSConfigurerOptions, type ResolvConf } from '../../../../src/kubelet/dns.js';
import { tempDir } from '../../../support/tmp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

describe('parseResolvConf', () => {
  const table: Array<[string, string, Partial<ResolvConf & { errors: string[] }>]> = [
    ['empty', '', { nameservers: [], searches: [], options: [] }],
    ['nameservers accumulate', 'nameserver 1.2.3.4\nnameserver 5.6.7.8\n', { nameservers: ['1.2.3.4', '5.6.7.8'] }],
    ['extra fields after the address are ignored', 'nameserver 1.2.3.4 #comment\n', { nameservers: ['1.2.3.4'] }],
    ['the last search line wins, trailing dots removed', 'search a.b c.\nsearch foo bar.\n', { searches: ['foo', 'bar'] }],
    ['the last options line wins', 'options ndots:1\noptions ndots:5 debug\n', { options: ['ndots:5', 'debug'] }],
    ['comments and blank lines are skipped', '# nameserver 9.9.9.9\n\n   \n  nameserver 1.1.1.1  \n', { nameservers: ['1.1.1.1'] }],
    ['tabs separate fields', 'search\tx\ty\n', { searches: ['x', 'y'] }],
    ['a nameserver without address is an error', 'nameserver\n', { nameservers: [], errors: ['nameserver list is empty '] }],
  ];
  for (const [name, text, want] of table) {
    it(name, () => {
      const got = parseResolvConf(text);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, k);
    });
  }

  it('reads a file and fails on a parse error', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'ok'), 'nameserver 10.0.0.2\nsearch lan\n');
      writeFileSync(join(dir.path, 'bad'), 'nameserver\n');
      assert.deepEqual(await readResolvConf(join(dir.path, 'ok')), { nameservers: ['10.0.0.2'], searches: ['lan'], options: [] });
      await assert.rejects(readResolvConf(join(dir.path, 'bad')), /nameserver list is empty/);
      await assert.rejects(readResolvConf(join(dir.path, 'missing')), /ENOENT/);
    } finally {
      dir.remove();
    }
  });
});

function pod(spec: Partial<NonNullable<Pod['spec']>> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'apps', uid: 'u1' }, spec: { containers: [{ name: 'c' }], ...spec } };
}

const HOST: ResolvConf = { nameservers: ['192.168.1.1', '192.168.1.2'], searches: ['corp.example', 'lan'], options: ['ndots:1', 'timeout:2'] };

function configurer(over: Partial<DNSConfigurerOptions> = {}, host: ResolvConf = HOST): { c: DNSConfigurer; events: string[] } {
  const events: string[] = [];
  const c = new DNSConfigurer({
    clusterDNS: ['10.43.0.10'],
    clusterDomain: 'cluster.local',
    nodeRef: { kind: 'Node', name: 'node-a', uid: 'node-a', apiVersion: 'v1' },
    recorder: { event: (subject, type, reason, message) => events.push(`${subject.kind ?? ''} ${type} ${reason} ${message}`) },
    readResolverConfig: async () => structuredClone(host),
    ...over,
  });
  return { c, events };
}

describe('DNSConfigurer.podDNS', () => {
  const clusterSearch = ['apps.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'lan'];
  const table: Array<[string, Partial<NonNullable<Pod['spec']>>, { servers: string[]; searches: string[]; options: string[] }]> = [
    ['ClusterFirst uses the cluster DNS and searches', { dnsPolicy: 'ClusterFirst' }, { servers: ['10.43.0.10'], searches: clusterSearch, options: ['ndots:5'] }],
    ['no policy means ClusterFirst', {}, { servers: ['10.43.0.10'], searches: clusterSearch, options: ['ndots:5'] }],
    ['ClusterFirst on the host network falls back to Default', { dnsPolicy: 'ClusterFirst', hostNetwork: true }, { servers: HOST.nameservers, searches: HOST.searches, options: HOST.options }],
    ['ClusterFirstWithHostNet uses the cluster DNS', { dnsPolicy: 'ClusterFirstWithHostNet', hostNetwork: true }, { servers: ['10.43.0.10'], searches: clusterSearch, options: ['ndots:5'] }],
    ['Default uses the node resolv.conf', { dnsPolicy: 'Default' }, { servers: HOST.nameservers, searches: HOST.searches, options: HOST.options }],
    ['None starts empty', { dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'] } }, { servers: ['1.1.1.1'], searches: [], options: [] }],
  ];
  for (const [name, spec, want] of table) {
    it(name, async () => {
      const { c, events } = configurer();
      assert.deepEqual(await c.podDNS(pod(spec)), want);
      assert.deepEqual(events, []);
    });
  }

  it('merges dnsConfig: servers and searches appended without duplicates, options replaced by name', async () => {
    const dnsConfig: PodDNSConfig = {
      nameservers: ['10.43.0.10', '8.8.8.8'],
      searches: ['lan', 'extra.example'],
      options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
    };
    const { c } = configurer();
    assert.deepEqual(await c.podDNS(pod({ dnsConfig })), {
      servers: ['10.43.0.10', '8.8.8.8'],
      searches: [...clusterSearch, 'extra.example'],
      options: ['ndots:2', 'edns0'],
    });
  });

  it('without cluster DNS, ClusterFirst falls back to Default with MissingClusterDNS events', async () => {
    const { c, events } = configurer({ clusterDNS: [] });
    assert.deepEqual((await c.podDNS(pod())).servers, HOST.nameservers);
    const msg = 'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';
    assert.deepEqual(events, [`Node Warning MissingClusterDNS ${msg}`, `Pod Warning MissingClusterDNS pod: "web_apps(u1)". ${msg}`]);
  });

  it('without a resolver config, host DNS points at the local machine per node IP family', async () => {
    const { c } = configurer({ resolverConfig: '', nodeIPs: ['192.168.1.5', 'fd00::5'] });
    assert.deepEqual(await c.podDNS(pod({ dnsPolicy: 'Default' })), { servers: ['127.0.0.1', '::1'], searches: ['.'], options: [] });
  });

  it('without a cluster domain, ClusterFirst keeps the host searches only', async () => {
    const { c } = configurer({ clusterDomain: '' });
    assert.deepEqual((await c.podDNS(pod())).searches, HOST.searches);
  });

  it('cuts nameservers to 3 with a DNSConfigForming event', async () => {
    const { c, events } = configurer();
    const got = await c.podDNS(pod({ dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'] } }));
    assert.deepEqual(got.servers, ['10.43.0.10', '1.1.1.1', '2.2.2.2']);
    assert.deepEqual(events, ['Pod Warning DNSConfigForming Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.43.0.10 1.1.1.1 2.2.2.2']);
  });

  it('cuts the search list to 32 domains and drops domains over 253 characters', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
    const long = 'x'.repeat(254);
    const { c, events } = configurer({}, { nameservers: [], searches: [long, ...many], options: [] });
    const got = await c.podDNS(pod());
    assert.equal(got.searches.length, 31, '32 kept, then the over-long one dropped');
    assert.equal(got.searches.includes(long), false);
    assert.equal(got.searches[0], 'apps.svc.cluster.local');
    assert.equal(events.length, 1);
    assert.match(events[0]!, /^Pod Warning DNSConfigForming Search Line limits were exceeded, some search paths have been omitted, the applied search line is: apps\.svc\.cluster\.local svc/);
  });

  it('cuts the search line to 2048 characters from the end', async () => {
    const domains = Array.from({ length: 12 }, (_, i) => `${String(i).padStart(2, '0')}${'y'.repeat(198)}.example`);
    const { c, events } = configurer({ clusterDomain: '' }, { nameservers: [], searches: domains, options: [] });
    const got = await c.podDNS(pod());
    assert.ok(got.searches.join(' ').length <= 2048);
    assert.deepEqual(got.searches, domains.slice(0, got.searches.length));
    assert.equal(got.searches.length, 9);
    assert.equal(events.length, 1);
  });

  it('propagates a resolv.conf read failure', async () => {
    const { c } = configurer({ readResolverConfig: async () => Promise.reject(new Error('open /etc/resolv.conf: no such file or directory')) });
    await assert.rejects(c.podDNS(pod()), /no such file/);
  });
});

describe('DNSConfigurer.checkLimitsForResolvConf', () => {
  it('warns the node about too many host search domains', async () => {
    const { c, events } = configurer({ resolverConfig: '/etc/resolv.conf' }, { nameservers: [], searches: Array.from({ length: 30 }, (_, i) => `d${i}`), options: [] });
    assert.equal(await c.checkLimitsForResolvConf(), "Resolv.conf file '/etc/resolv.conf' contains search line consisting of more than 29 domains!");
    assert.equal(events.length, 1);
    assert.match(events[0]!, /^Node Warning CheckLimitsForResolvConf /);
  });

  it('is quiet for a normal resolv.conf', async () => {
    const { c, events } = configurer();
    assert.equal(await c.checkLimitsForResolvConf(), undefined);
    assert.deepEqual(events, []);
  });
});

describe('formatResolvConf', () => {
  it('writes search, nameservers and options as containerd does', () => {
    assert.equal(
      formatResolvConf({ servers: ['10.43.0.10', '10.43.0.11'], searches: ['a.svc.cluster.local', 'cluster.local'], options: ['ndots:5'] }),
      'search a.svc.cluster.local cluster.local\nnameserver 10.43.0.10\nnameserver 10.43.0.11\noptions ndots:5\n',
    );
    assert.equal(formatResolvConf({ servers: [], searches: [], options: [] }), '');
  });
});
