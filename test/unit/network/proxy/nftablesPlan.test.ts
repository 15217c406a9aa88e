import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { affinitySetName, endpointChainBase, endpointChainName, hashAndTruncate, serviceChainNames } from '../../../../src/network/proxy/nftables/names.js';
import { masqueradeMark, planNftablesSync, type NftPlan } from '../../../../src/network/proxy/nftables/plan.js';
import type { ProxyChanges, ProxyState, ServicePortInfo } from '../../../../src/network/proxy/types.js';
import { FULL, changed, endpoint, proxyState, servicePort } from '../../../support/proxyStateBuilders.js';

const T = 'ip kube-proxy';
const plan = (state: ProxyState, changes: ProxyChanges = FULL, prev?: NftPlan, now = 0): NftPlan =>
  planNftablesSync({ state, changes, prev: prev?.next, now });
const names = (n: string) => serviceChainNames({ namespace: 'default', name: n, port: 'http', protocol: 'TCP' });
const ep = (svc: string, ip: string, port = 8080) => endpointChainName({ namespace: 'default', name: svc, port: 'http', protocol: 'TCP' }, ip, port);
const lines = (p: NftPlan) => p.script.split('\n');
const has = (p: NftPlan, line: string) => assert.ok(lines(p).includes(line), `missing line:\n${line}\nin:\n${p.script}`);
const lacks = (p: NftPlan, re: RegExp) => assert.ok(!re.test(p.script), `unexpected ${re} in:\n${p.script}`);

describe('nftables names', () => {
  const cases: Array<[string, string, string]> = [
    ['service port chains hash like upstream (ULMVA6XW-ns1/svc1/tcp/p80)', hashAndTruncate('ns1/svc1/tcp/p80'), 'ULMVA6XW-ns1/svc1/tcp/p80'],
    ['endpoint chains hash like upstream (5OJB2KTY-…__10.180.0.1/80)', endpointChainBase({ namespace: 'ns1', name: 'svc1', port: 'p80', protocol: 'TCP' }, '10.180.0.1', 80), '5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'],
    ['IPv6 endpoint colons become dots', endpointChainBase({ namespace: 'n', name: 's', port: '', protocol: 'UDP' }, 'fd00::1', 53).slice(9), 'n/s/udp/__fd00..1/53'],
    ['affinity sets share the endpoint base', affinitySetName({ namespace: 'n', name: 's', port: 'p', protocol: 'TCP' }, '10.0.0.1', 1).slice(0, 9), 'affinity-'],
    ['masquerade mark is printed as upstream (%#08x)', masqueradeMark(14), '0x004000'],
  ];
  for (const [name, got, want] of cases) it(name, () => assert.equal(got, want));
});

describe('planNftablesSync: what a full sync writes', () => {
  const web = servicePort('web', '10.96.0.10', 80);
  const cases: Array<{ name: string; state: ProxyState; want: string[]; not?: RegExp[]; check?: (p: NftPlan) => void }> = [
    {
      name: 'a ClusterIP service with two endpoints dispatches through service-ips to a numgen vmap over endpoint chains',
      state: proxyState([[web, [endpoint('10.244.1.2', 8080), endpoint('10.244.2.3', 8080)]]]),
      want: [
        `add element ${T} cluster-ips { 10.96.0.10 }`,
        `add element ${T} service-ips { 10.96.0.10 . tcp . 80 : goto ${names('web').cluster} }`,
        `add rule ${T} ${names('web').cluster} ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade`,
        `add rule ${T} ${names('web').cluster} numgen random mod 2 vmap { 0 : goto ${ep('web', '10.244.1.2')} , 1 : goto ${ep('web', '10.244.2.3')} }`,
        `add rule ${T} ${ep('web', '10.244.1.2')} ip saddr 10.244.1.2 jump mark-for-masquerade`,
        `add rule ${T} ${ep('web', '10.244.2.3')} meta l4proto tcp dnat to 10.244.2.3:8080`,
        `add rule ${T} filter-input ct state new jump nodeport-endpoints-check`,
        `add rule ${T} nat-postrouting jump masquerading`,
        `add rule ${T} masquerading masquerade fully-random`,
        `add chain ${T} nat-prerouting { type nat hook prerouting priority -100 ; }`,
        `add rule ${T} services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports`,
        `delete set ${T} nodeport-ips`,
      ],
      not: [/element [^\n]*no-endpoint-services/, /external-/],
    },
    {
      name: 'a service without endpoints gets reject verdicts for its ClusterIP and NodePort and no chains',
      state: proxyState([[servicePort('empty', '10.96.0.12', 80, { nodePort: 30082 }), [endpoint('10.244.1.9', 80, { ready: false, serving: false })]]]),
      want: [
        `add element ${T} no-endpoint-services { 10.96.0.12 . tcp . 80 comment "default/empty:http" : goto reject-chain }`,
        `add element ${T} no-endpoint-nodeports { tcp . 30082 comment "default/empty:http" : goto reject-chain }`,
      ],
      not: [/add chain [^\n]*default\/empty/, /service-ips \{ 10\.96/],
    },
    {
      name: 'serving-terminating endpoints take traffic when no endpoint is ready',
      state: proxyState([[web, [endpoint('10.244.1.2', 8080, { ready: false, serving: true, terminating: true })]]]),
      want: [`add rule ${T} ${names('web').cluster} numgen random mod 1 vmap { 0 : goto ${ep('web', '10.244.1.2')} }`],
    },
    {
      name: 'internalTrafficPolicy Local without a local endpoint drops ClusterIP traffic',
      state: proxyState([[servicePort('il', '10.96.0.13', 80, { internalPolicyLocal: true }), [endpoint('10.244.2.3', 80)]]]),
      want: [`add element ${T} no-endpoint-services { 10.96.0.13 . tcp . 80 comment "default/il:http" : drop }`],
      check: (p) => assert.deepEqual(p.noLocalEndpoints, { internal: 1, external: 0 }),
    },
    {
      name: 'externalTrafficPolicy Local sends NodePort traffic to local endpoints and short-circuits pod and host traffic',
      state: proxyState([[servicePort('el', '10.96.0.14', 80, { nodePort: 30090, externalPolicyLocal: true }), [endpoint('10.244.1.2', 80, { isLocal: true }), endpoint('10.244.2.3', 80)]]]),
      want: [
        `add element ${T} service-nodeports { tcp . 30090 : goto ${names('el').external} }`,
        `add rule ${T} ${names('el').external} ip saddr 10.244.0.0/16 goto ${names('el').cluster} comment "short-circuit pod traffic"`,
        `add rule ${T} ${names('el').external} fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"`,
        `add rule ${T} ${names('el').external} fib saddr type local goto ${names('el').cluster} comment "short-circuit local traffic"`,
        `add rule ${T} ${names('el').external} goto ${names('el').local}`,
        `add rule ${T} ${names('el').local} numgen random mod 1 vmap { 0 : goto ${endpointChainName({ namespace: 'default', name: 'el', port: 'http', protocol: 'TCP' }, '10.244.1.2', 80)} }`,
      ],
    },
    {
      name: 'externalTrafficPolicy Local with no local endpoint drops NodePort traffic that is not short-circuited',
      state: proxyState([[servicePort('el', '10.96.0.14', 80, { nodePort: 30090, externalPolicyLocal: true }), [endpoint('10.244.2.3', 80)]]]),
      want: [`add element ${T} no-endpoint-nodeports { tcp . 30090 comment "default/el:http" : drop }`, `add element ${T} service-nodeports { tcp . 30090 : goto ${names('el').external} }`],
      check: (p) => assert.deepEqual(p.noLocalEndpoints, { internal: 0, external: 1 }),
    },
    {
      name: 'ClientIP affinity writes a dynamic timeout set per endpoint, checks it first and updates it on DNAT',
      state: proxyState([[servicePort('st', '10.96.0.15', 80, { stickyMaxAgeSeconds: 10800 }), [endpoint('10.244.1.2', 8080)]]]),
      want: [
        `add set ${T} ${affinitySetName({ namespace: 'default', name: 'st', port: 'http', protocol: 'TCP' }, '10.244.1.2', 8080)} { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }`,
        `add rule ${T} ${names('st').cluster} ip saddr @${affinitySetName({ namespace: 'default', name: 'st', port: 'http', protocol: 'TCP' }, '10.244.1.2', 8080)} goto ${ep('st', '10.244.1.2')}`,
        `add rule ${T} ${ep('st', '10.244.1.2')} update @${affinitySetName({ namespace: 'default', name: 'st', port: 'http', protocol: 'TCP' }, '10.244.1.2', 8080)} { ip saddr }`,
      ],
    },
    {
      name: 'externalIPs and LoadBalancer IPs go to the external chain; source ranges add a firewall chain that lets the node through',
      state: proxyState(
        [[servicePort('lb', '10.96.0.16', 443, { externalIPs: ['192.0.2.9'], loadBalancerVIPs: ['192.0.2.10'], loadBalancerSourceRanges: ['203.0.113.0/24', '192.168.5.0/24'] }), [endpoint('10.244.1.2', 8443)]]],
        { nodeIPs: ['192.168.5.7'] },
      ),
      want: [
        `add element ${T} service-ips { 192.0.2.9 . tcp . 443 : goto ${names('lb').external} }`,
        `add element ${T} service-ips { 192.0.2.10 . tcp . 443 : goto ${names('lb').external} }`,
        `add element ${T} firewall-ips { 192.0.2.10 . tcp . 443 : goto ${names('lb').firewall} }`,
        `add rule ${T} ${names('lb').firewall} ip saddr != { 203.0.113.0/24, 192.168.5.0/24, 192.0.2.10 } drop`,
        `add rule ${T} ${names('lb').external} jump mark-for-masquerade`,
        `add element ${T} nodeport-ips { 192.168.5.7 }`,
        `add rule ${T} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`,
      ],
    },
    {
      name: 'masqueradeAll masquerades every ClusterIP connection',
      state: proxyState([[web, [endpoint('10.244.1.2', 8080)]]], { masqueradeAll: true }),
      want: [`add rule ${T} ${names('web').cluster} ip daddr 10.96.0.10 tcp dport 80 jump mark-for-masquerade`],
    },
    {
      name: 'an IPv6 proxier writes the ip6 table with ipv6_addr maps and bracketed DNAT targets, skipping IPv4 services',
      state: proxyState(
        [
          [servicePort('v6', 'fd00:10:96::a', 80), [endpoint('fd00:10:244::2', 8080)]],
          [web, [endpoint('10.244.1.2', 8080)]],
        ],
        { family: 'IPv6', clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'] },
      ),
      want: [
        'add table ip6 kube-proxy { comment "rules for kube-proxy" ; }',
        'add rule ip6 kube-proxy services fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports',
        `add rule ip6 kube-proxy ${endpointChainName({ namespace: 'default', name: 'v6', port: 'http', protocol: 'TCP' }, 'fd00:10:244::2', 8080)} meta l4proto tcp dnat to [fd00:10:244::2]:8080`,
        `add rule ip6 kube-proxy ${names('v6').cluster} ip6 daddr fd00:10:96::a tcp dport 80 ip6 saddr != fd00:10:244::/56 jump mark-for-masquerade`,
      ],
      not: [/10\.96\.0\.10/],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = plan(c.state);
      assert.equal(p.full, true);
      for (const w of c.want) has(p, w);
      for (const n of c.not ?? []) lacks(p, n);
      c.check?.(p);
      assert.equal(plan(c.state).script, p.script, 'planning is deterministic');
    });
  }
});

describe('planNftablesSync: partial syncs and leftovers', () => {
  const web = (eps: string[], extra: Partial<ServicePortInfo> = {}) => [servicePort('web', '10.96.0.10', 80, extra), eps.map((ip) => endpoint(ip, 8080))] as [ServicePortInfo, ReturnType<typeof endpoint>[]];
  const other = [servicePort('other', '10.96.0.11', 80), [endpoint('10.244.9.9', 80)]] as [ServicePortInfo, ReturnType<typeof endpoint>[]];

  it('rewrites only the changed service: its chains, no fixed chains, and no other service', () => {
    const first = plan(proxyState([web(['10.244.1.2', '10.244.1.3']), other]));
    const second = plan(proxyState([web(['10.244.1.2']), other]), changed({ endpoints: ['web'] }), first, 5);
    assert.equal(second.full, false);
    has(second, `flush chain ${T} ${names('web').cluster}`);
    has(second, `add rule ${T} ${names('web').cluster} numgen random mod 1 vmap { 0 : goto ${ep('web', '10.244.1.2')} }`);
    has(second, `flush chain ${T} ${ep('web', '10.244.1.3')}`);
    lacks(second, /other/);
    lacks(second, /add table|filter-input|masquerading/);
    assert.ok(second.rulesWritten < first.rulesWritten);
    assert.equal(second.next.staleChains.get(ep('web', '10.244.1.3')), 5);
  });

  it('deletes a flushed chain once it has been unreferenced for a second, not before', () => {
    const first = plan(proxyState([web(['10.244.1.2', '10.244.1.3'])]));
    const second = plan(proxyState([web(['10.244.1.2'])]), changed({ endpoints: ['web'] }), first, 1000);
    const soon = plan(proxyState([web(['10.244.1.2'])]), changed({}), second, 1500);
    assert.equal(soon.script, '');
    const later = plan(proxyState([web(['10.244.1.2'])]), changed({}), soon, 2000);
    assert.equal(later.script, `delete chain ${T} ${ep('web', '10.244.1.3')}\n`);
    assert.ok(!later.next.chains.has(ep('web', '10.244.1.3')));
  });

  it('a deleted service loses its map elements and chains; a service that lost its endpoints swaps its verdict', () => {
    const first = plan(proxyState([web(['10.244.1.2'], { nodePort: 30080 }), other]));
    const second = plan(proxyState([web([], { nodePort: 30080 })]), changed({ services: ['other'], endpoints: ['web'] }), first, 1);
    has(second, `delete element ${T} service-ips { 10.96.0.11 . tcp . 80 }`);
    has(second, `delete element ${T} cluster-ips { 10.96.0.11 }`);
    has(second, `flush chain ${T} ${names('other').cluster}`);
    has(second, `delete element ${T} service-ips { 10.96.0.10 . tcp . 80 }`);
    has(second, `delete element ${T} service-nodeports { tcp . 30080 }`);
    has(second, `add element ${T} no-endpoint-services { 10.96.0.10 . tcp . 80 comment "default/web:http" : goto reject-chain }`);
    lacks(second, /add element [^\n]*cluster-ips \{ 10\.96\.0\.10/);
  });

  it('a changed verdict is deleted and re-added (elements cannot be updated in place)', () => {
    const first = plan(proxyState([web(['10.244.1.2'], { nodePort: 30080, externalPolicyLocal: true })]));
    const second = plan(proxyState([web(['10.244.1.2'], { nodePort: 30080, externalPolicyLocal: true, internalPolicyLocal: true })]), changed({ services: ['web'] }), first);
    has(second, `delete element ${T} service-ips { 10.96.0.10 . tcp . 80 }`);
    assert.ok(lines(second).some((l) => l.startsWith(`add element ${T} no-endpoint-services { 10.96.0.10 . tcp . 80`)));
  });

  it('turning affinity off deletes the affinity sets in the same transaction', () => {
    const sticky = plan(proxyState([web(['10.244.1.2'], { stickyMaxAgeSeconds: 60 })]));
    const plain = plan(proxyState([web(['10.244.1.2'])]), changed({ services: ['web'] }), sticky);
    has(plain, `delete set ${T} ${affinitySetName({ namespace: 'default', name: 'web', port: 'http', protocol: 'TCP' }, '10.244.1.2', 8080)}`);
  });

  it('a full sync adopts chains and affinity sets an earlier run left: unused ones are flushed and deleted', () => {
    const p = planNftablesSync({
      state: proxyState([web(['10.244.1.2'])]),
      changes: FULL,
      prev: undefined,
      existing: { chains: ['services', 'service-AAAAAAAA-old/gone/tcp/http', names('web').cluster], sets: ['affinity-BBBBBBBB-old/gone/tcp/http__1.2.3.4/80', 'cluster-ips'] },
      recreateBaseChains: true,
      now: 0,
    });
    has(p, `flush chain ${T} service-AAAAAAAA-old/gone/tcp/http`);
    has(p, `delete set ${T} affinity-BBBBBBBB-old/gone/tcp/http__1.2.3.4/80`);
    has(p, `add chain ${T} filter-input`);
    has(p, `delete chain ${T} filter-input`);
    lacks(p, /delete set ip kube-proxy cluster-ips|flush chain ip kube-proxy services\n[^]*flush chain ip kube-proxy services\n/);
  });

  it('counts every rule and element of the table after a sync', () => {
    const first = plan(proxyState([web(['10.244.1.2', '10.244.1.3']), other]));
    // fixed rules + web (masq + numgen + 2×2 endpoint rules) + other (masq + numgen + 2) + elements (2 cluster-ips + 2 service-ips)
    const fixed = first.next.baseRules;
    assert.equal(first.rulesTotal, fixed + 6 + 4 + 4);
    const second = plan(proxyState([web(['10.244.1.2']), other]), changed({ endpoints: ['web'] }), first, 1);
    assert.equal(second.rulesTotal, fixed + 4 + 4 + 4);
  });
});
