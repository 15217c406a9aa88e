import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from 'dns-packet';
import { ClusterIndex } from '../../../../src/network/dns/clusterIndex.js';
import { parseCorefile, defaultCorefile } from '../../../../src/network/dns/corefile.js';
import { KubernetesPlugin, type PluginResult, type UpstreamLookup } from '../../../../src/network/dns/kubernetesPlugin.js';
import { standardObjects } from './fixtures.js';

function plugin(opts: { synced?: boolean; corefile?: string } = {}): { k: KubernetesPlugin; index: ClusterIndex } {
  const index = new ClusterIndex();
  const o = standardObjects();
  o.namespaces.forEach((n) => index.upsertNamespace(n));
  o.services.forEach((s) => index.upsertService(s));
  o.endpointSlices.forEach((s) => index.upsertSlice(s));
  if (opts.synced === false) index.setSyncedCheck(() => false);
  const cfg = parseCorefile(opts.corefile ?? defaultCorefile()).blocks[0]!.kubernetes!;
  return { k: new KubernetesPlugin({ config: cfg, index, localIPs: () => ['192.0.2.53'] }), index };
}

/** An upstream that knows db.example.org only. */
const upstream: UpstreamLookup = async (name, type) => {
  if (name === 'db.example.org.' && type === 'A') return { answers: [{ name: 'db.example.org', type: 'A', class: 'IN', ttl: 60, data: '203.0.113.9' }], truncated: false };
  return { answers: [], truncated: false };
};

/** Answers as "TYPE data" strings, in order, for compact expectations. */
function brief(records: Answer[]): string[] {
  return records.map((r) => {
    if (r.type === 'SRV') return `${r.name} SRV ${r.data.priority} ${r.data.weight} ${r.data.port} ${r.data.target}`;
    if (r.type === 'SOA') return `${r.name} SOA ${r.data.mname} ${r.data.rname} ${r.data.minimum}`;
    if (r.type === 'TXT') return `${r.name} TXT ${String(r.data)}`;
    return `${r.name} ${r.type} ${String((r as { data: unknown }).data)}`;
  });
}

interface Case {
  name: string;
  qname: string;
  qtype: string;
  rcode?: string;
  answers?: string[];
  additionals?: string[];
  /** NXDOMAIN/NODATA carry the zone's SOA. */
  soa?: boolean;
  next?: boolean;
}

const cases: Case[] = [
  { name: 'a ClusterIP service answers its cluster IP', qname: 'kubernetes.default.svc.cluster.local.', qtype: 'A', answers: ['kubernetes.default.svc.cluster.local A 10.96.0.1'] },
  { name: 'the answer keeps the letter case the client asked with', qname: 'Kubernetes.Default.svc.cluster.local.', qtype: 'A', answers: ['Kubernetes.Default.svc.cluster.local A 10.96.0.1'] },
  { name: 'AAAA of an IPv4-only service is NODATA with the SOA', qname: 'kubernetes.default.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'a dual-stack service answers A and AAAA from its two cluster IPs', qname: 'dual.shop.svc.cluster.local.', qtype: 'AAAA', answers: ['dual.shop.svc.cluster.local AAAA fd00:10:96::5:7'] },
  { name: 'a service without ports still has an A record', qname: 'noports.shop.svc.cluster.local.', qtype: 'A', answers: ['noports.shop.svc.cluster.local A 10.96.5.6'] },
  { name: 'a headless service answers its ready endpoint addresses only', qname: 'web.default.svc.cluster.local.', qtype: 'A', answers: ['web.default.svc.cluster.local A 10.244.1.5', 'web.default.svc.cluster.local A 10.244.2.7'] },
  { name: 'an endpoint hostname (StatefulSet pod) has its own A record', qname: 'web-0.web.default.svc.cluster.local.', qtype: 'A', answers: ['web-0.web.default.svc.cluster.local A 10.244.1.5'] },
  { name: 'an endpoint without hostname is named by its dashed IP', qname: '10-244-2-7.web.default.svc.cluster.local.', qtype: 'A', answers: ['10-244-2-7.web.default.svc.cluster.local A 10.244.2.7'] },
  { name: 'a not-ready endpoint has no name', qname: '10-244-2-9.web.default.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'a headless service without endpoints is NXDOMAIN', qname: 'empty.default.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'an unknown service is NXDOMAIN with the SOA', qname: 'nope.default.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'an existing namespace name is NODATA', qname: 'shop.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'a missing namespace is NXDOMAIN', qname: 'ghost.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'a service in a missing namespace is NXDOMAIN', qname: 'api.ghost.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'svc.<zone> itself is NODATA', qname: 'svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'the zone apex has no A record (NODATA)', qname: 'cluster.local.', qtype: 'A', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'the zone apex answers its SOA', qname: 'cluster.local.', qtype: 'SOA', answers: ['cluster.local SOA ns.dns.cluster.local hostmaster.cluster.local 30'] },
  { name: 'the zone apex names its nameserver (no own endpoint found: ns.dns)', qname: 'cluster.local.', qtype: 'NS', answers: ['cluster.local NS ns.dns.cluster.local'], additionals: ['ns.dns.cluster.local A 192.0.2.53'] },
  { name: 'a label that is neither svc nor pod is NXDOMAIN', qname: 'foo.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'a name too long to be a service is NXDOMAIN', qname: 'a.b.c.api.shop.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'a name that exists only with A is NODATA for TXT', qname: 'api.shop.svc.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'a name that does not exist is NXDOMAIN for TXT', qname: 'nope.shop.svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', soa: true },
  { name: 'other types of an existing name are NODATA (MX)', qname: 'api.shop.svc.cluster.local.', qtype: 'MX', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'other types of a missing name are NXDOMAIN (HINFO)', qname: 'nope.shop.svc.cluster.local.', qtype: 'HINFO', rcode: 'NXDOMAIN', soa: true },
  { name: 'dns-version TXT tells the schema version', qname: 'dns-version.cluster.local.', qtype: 'TXT', answers: ['dns-version.cluster.local TXT 1.1.0'] },
  {
    name: 'SRV of a service name lists every port at the service name, with the address as additional',
    qname: 'api.shop.svc.cluster.local.',
    qtype: 'SRV',
    answers: ['api.shop.svc.cluster.local SRV 0 50 80 api.shop.svc.cluster.local', 'api.shop.svc.cluster.local SRV 0 50 9090 api.shop.svc.cluster.local'],
    additionals: ['api.shop.svc.cluster.local A 10.96.5.5'],
  },
  { name: 'SRV of a named port and protocol answers that port', qname: '_grpc._tcp.api.shop.svc.cluster.local.', qtype: 'SRV', answers: ['_grpc._tcp.api.shop.svc.cluster.local SRV 0 100 9090 api.shop.svc.cluster.local'], additionals: ['api.shop.svc.cluster.local A 10.96.5.5'] },
  { name: 'SRV of an unknown port is NXDOMAIN', qname: '_nope._tcp.api.shop.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', soa: true },
  { name: 'SRV of the wrong protocol is NXDOMAIN', qname: '_http._udp.api.shop.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', soa: true },
  {
    name: 'SRV of a headless service targets each endpoint name',
    qname: '_http._tcp.web.default.svc.cluster.local.',
    qtype: 'SRV',
    answers: ['_http._tcp.web.default.svc.cluster.local SRV 0 50 80 web-0.web.default.svc.cluster.local', '_http._tcp.web.default.svc.cluster.local SRV 0 50 80 10-244-2-7.web.default.svc.cluster.local'],
    additionals: ['web-0.web.default.svc.cluster.local A 10.244.1.5', '10-244-2-7.web.default.svc.cluster.local A 10.244.2.7'],
  },
  { name: 'SRV of a service without ports is NODATA', qname: 'noports.shop.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'SRV of an ExternalName service is NODATA', qname: 'ext.default.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'an A query of an SRV-shaped name answers the cluster IP (as CoreDNS)', qname: '_http._tcp.api.shop.svc.cluster.local.', qtype: 'A', answers: ['_http._tcp.api.shop.svc.cluster.local A 10.96.5.5'] },
  { name: 'ExternalName answers a CNAME and the upstream address of its target', qname: 'ext.default.svc.cluster.local.', qtype: 'A', answers: ['ext.default.svc.cluster.local CNAME db.example.org', 'db.example.org A 203.0.113.9'] },
  { name: 'ExternalName pointing inside the zone is followed there', qname: 'alias.default.svc.cluster.local.', qtype: 'A', answers: ['alias.default.svc.cluster.local CNAME kubernetes.default.svc.cluster.local', 'kubernetes.default.svc.cluster.local A 10.96.0.1'] },
  { name: 'a CNAME query of an ExternalName service answers the CNAME only', qname: 'ext.default.svc.cluster.local.', qtype: 'CNAME', answers: ['ext.default.svc.cluster.local CNAME db.example.org'] },
  { name: 'a CNAME query of a ClusterIP service is NODATA', qname: 'api.shop.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', answers: [], soa: true },
  { name: 'a pod name in "pods insecure" mode answers the address it spells', qname: '10-244-9-9.shop.pod.cluster.local.', qtype: 'A', answers: ['10-244-9-9.shop.pod.cluster.local A 10.244.9.9'] },
  { name: 'an IPv6 pod name answers AAAA', qname: 'fd00--1.shop.pod.cluster.local.', qtype: 'AAAA', answers: ['fd00--1.shop.pod.cluster.local AAAA fd00::1'] },
  { name: 'a pod name that is no address is NXDOMAIN', qname: 'not-an-ip.shop.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'a pod name in a missing namespace is NXDOMAIN', qname: '10-244-9-9.ghost.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', soa: true },
  { name: 'PTR of a cluster IP names the service', qname: '1.0.96.10.in-addr.arpa.', qtype: 'PTR', answers: ['1.0.96.10.in-addr.arpa PTR kubernetes.default.svc.cluster.local'] },
  { name: 'PTR of an endpoint IP names the endpoint by hostname', qname: '5.1.244.10.in-addr.arpa.', qtype: 'PTR', answers: ['5.1.244.10.in-addr.arpa PTR web-0.web.default.svc.cluster.local'] },
  { name: 'PTR of an endpoint without hostname names it by dashed IP', qname: '3.3.244.10.in-addr.arpa.', qtype: 'PTR', answers: ['3.3.244.10.in-addr.arpa PTR 10-244-3-3.api.shop.svc.cluster.local'] },
  {
    name: 'PTR of an IPv6 cluster IP (ip6.arpa nibbles) names the service',
    qname: '7.0.0.0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.',
    qtype: 'PTR',
    answers: ['7.0.0.0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa PTR dual.shop.svc.cluster.local'],
  },
  { name: 'PTR of an unknown address falls through to the next plugin (fallthrough in-addr.arpa)', qname: '8.8.8.8.in-addr.arpa.', qtype: 'PTR', next: true },
  { name: 'a partial reverse name falls through', qname: '10.in-addr.arpa.', qtype: 'PTR', next: true },
  { name: 'names outside the plugin zones go to the next plugin', qname: 'example.com.', qtype: 'A', next: true },
  { name: 'AXFR of the zone is refused', qname: 'cluster.local.', qtype: 'AXFR', rcode: 'REFUSED' },
];

describe('kubernetes plugin answers as CoreDNS does', () => {
  const { k } = plugin();
  for (const c of cases) {
    it(c.name, async () => {
      const got = await k.resolve(c.qname, c.qtype, upstream);
      if (c.next) {
        assert.equal(got, 'next');
        return;
      }
      assert.notEqual(got, 'next');
      const r = got as PluginResult;
      assert.equal(r.rcode, c.rcode ?? 'NOERROR');
      if (c.answers) assert.deepEqual(brief(r.answers), c.answers);
      if (c.additionals) assert.deepEqual(brief(r.additionals), c.additionals);
      if (c.soa !== undefined) assert.deepEqual(r.authorities.map((a) => `${a.name} ${a.type}`), c.soa ? ['cluster.local SOA'] : []);
      if (r.rcode === 'NOERROR' && r.answers.length > 0) {
        assert.equal(r.authoritative, true);
        for (const a of r.answers) if (a.type !== 'TXT' && !(a.name === 'db.example.org')) assert.equal((a as { ttl?: number }).ttl, 30, `ttl of ${a.name}`);
      }
    });
  }
});

describe('kubernetes plugin states', () => {
  it('answers SERVFAIL instead of NXDOMAIN until the informers have synced', async () => {
    const { k } = plugin({ synced: false });
    const r = (await k.resolve('nope.default.svc.cluster.local.', 'A', upstream)) as PluginResult;
    assert.equal(r.rcode, 'SERVFAIL');
    const ok = (await k.resolve('kubernetes.default.svc.cluster.local.', 'A', upstream)) as PluginResult;
    assert.equal(ok.rcode, 'NOERROR');
  });
  it('sees a service deleted and an endpoint become ready at once', async () => {
    const { k, index } = plugin();
    const gen = index.generation;
    const o = standardObjects();
    index.deleteService(o.services[0]!);
    const gone = (await k.resolve('kubernetes.default.svc.cluster.local.', 'A', upstream)) as PluginResult;
    assert.equal(gone.rcode, 'NXDOMAIN');
    const web = structuredClone(o.endpointSlices[0]!);
    web.endpoints[2]!.conditions = { ready: true };
    index.upsertSlice(web);
    const all = (await k.resolve('web.default.svc.cluster.local.', 'A', upstream)) as PluginResult;
    assert.equal(all.answers.length, 3);
    assert.ok(index.generation > gen + 1);
  });
  it('names endpoints after their pods with endpoint_pod_names', async () => {
    const { k } = plugin({ corefile: '.:53 {\n kubernetes cluster.local {\n endpoint_pod_names\n }\n}' });
    const r = (await k.resolve('web-7f9c.web.default.svc.cluster.local.', 'A', upstream)) as PluginResult;
    assert.deepEqual(brief(r.answers), ['web-7f9c.web.default.svc.cluster.local A 10.244.2.7']);
  });
  it('pods disabled (the plugin default) makes pod names NXDOMAIN', async () => {
    const { k } = plugin({ corefile: '.:53 {\n kubernetes cluster.local\n}' });
    const r = (await k.resolve('10-244-9-9.shop.pod.cluster.local.', 'A', upstream)) as PluginResult;
    assert.equal(r.rcode, 'NXDOMAIN');
    assert.equal(r.answers.length, 0);
    const ttl = (await k.resolve('kubernetes.default.svc.cluster.local.', 'A', upstream)) as PluginResult;
    assert.equal((ttl.answers[0] as { ttl?: number }).ttl, 5, 'the plugin default ttl is 5');
  });
  it('pods verified answers only addresses of pods in that namespace', async () => {
    const { k, index } = plugin({ corefile: '.:53 {\n kubernetes cluster.local {\n pods verified\n }\n}' });
    index.upsertPod({ metadata: { name: 'p', namespace: 'shop' }, status: { podIP: '10.244.9.9', podIPs: [{ ip: '10.244.9.9' }] } });
    assert.equal(((await k.resolve('10-244-9-9.shop.pod.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NOERROR');
    assert.equal(((await k.resolve('10-244-9-9.default.pod.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NXDOMAIN');
    assert.equal(((await k.resolve('10-244-9-8.shop.pod.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NXDOMAIN');
    index.deletePod({ metadata: { name: 'p', namespace: 'shop' } });
    assert.equal(((await k.resolve('10-244-9-9.shop.pod.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NXDOMAIN');
  });
  it('the namespaces option hides every other namespace', async () => {
    const { k } = plugin({ corefile: '.:53 {\n kubernetes cluster.local {\n namespaces shop\n }\n}' });
    assert.equal(((await k.resolve('kubernetes.default.svc.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NXDOMAIN');
    assert.equal(((await k.resolve('api.shop.svc.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NOERROR');
  });
  it('ignore empty_service makes ClusterIP services without ready endpoints NXDOMAIN', async () => {
    const { k } = plugin({ corefile: '.:53 {\n kubernetes cluster.local {\n ignore empty_service\n }\n}' });
    assert.equal(((await k.resolve('kubernetes.default.svc.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NXDOMAIN');
    assert.equal(((await k.resolve('api.shop.svc.cluster.local.', 'A', upstream)) as PluginResult).rcode, 'NOERROR');
  });
  it('the NS record names its own Service when the server is one of its endpoints', async () => {
    const { k, index } = plugin();
    index.upsertSlice({
      metadata: { name: 'kube-dns-x', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.0.2.53'] }],
      ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
    });
    const r = (await k.resolve('cluster.local.', 'NS', upstream)) as PluginResult;
    assert.deepEqual(brief(r.answers), ['cluster.local NS kube-dns.kube-system.svc.cluster.local']);
    assert.deepEqual(brief(r.additionals), ['kube-dns.kube-system.svc.cluster.local A 10.96.0.10']);
  });
});
