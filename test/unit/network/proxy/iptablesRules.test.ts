import { endpoint, servicePort } from '../../../support/proxyStateBuilders.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { base32, clusterPolicyChain, endpointChain, externalChain, firewallChain, localPolicyChain } from '../../../../src/network/proxy/iptables/chains.js';
import { buildRestore, cidrContains, jumpRules } from '../../../../src/network/proxy/iptables/rules.js';
import { chainsIn, failingLines } from '../../../../src/network/proxy/iptables/proxier.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from '../../../../src/network/proxy/types.js';

const SVC = 'KUBE-SVC-XPGD46QRK7WJZT7O'; // upstream's name for ns1/svc1:p80 tcp
const SEP1 = 'KUBE-SEP-SXIVWICOYRO3J4NJ'; // upstream's name for its endpoint 10.180.0.1:80

function port(p: Partial<ServicePortInfo> = {}): ServicePortInfo {
  return servicePort('svc1', '172.30.0.41', 80, { name: { namespace: 'ns1', name: 'svc1', port: 'p80', protocol: 'TCP' }, ...p });
}
const ep = (ip: string, p: Partial<EndpointInfo> = {}): EndpointInfo => endpoint(ip, 80, p);

function state(svc: ServicePortInfo | undefined, eps: EndpointInfo[], p: Partial<ProxyState> = {}): ProxyState {
  return {
    family: 'IPv4',
    services: new Map(svc ? [['ns1/svc1:p80', svc]] : []),
    endpoints: new Map(svc ? [['ns1/svc1:p80', eps]] : []),
    nodeName: 'node-a',
    nodeIPs: ['192.168.0.2'],
    nodePortsOnAllLocalAddresses: true,
    clusterCIDRs: ['10.0.0.0/8'],
    masqueradeAll: false,
    masqueradeBit: 14,
    localhostNodePorts: true,
    ...p,
  };
}

function restore(s: ProxyState, o: { full?: boolean; changed?: string[]; existing?: string[] } = {}) {
  return buildRestore({ state: s, full: o.full ?? true, changed: new Set(o.changed ?? []), existingNatChains: new Set(o.existing ?? []) });
}

/** The lines of one table of a restore text. */
function table(text: string, name: 'filter' | 'nat'): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`*${name}`);
  return lines.slice(start + 1, lines.indexOf('COMMIT', start));
}
const has = (lines: string[], re: RegExp) => lines.some((l) => re.test(l));

describe('iptables chain names', () => {
  it('match upstream\'s (sha256 → base32 → 16 characters) for service, endpoint and policy chains', () => {
    assert.equal(clusterPolicyChain('ns1/svc1:p80', 'tcp'), SVC);
    assert.equal(endpointChain('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), SEP1);
    const hash = SVC.slice('KUBE-SVC-'.length);
    for (const f of [localPolicyChain, externalChain, firewallChain]) assert.ok(f('ns1/svc1:p80', 'tcp').endsWith(hash));
  });
  it('base32 is RFC 4648 (Go\'s StdEncoding) without padding', () => {
    assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
  });
});

describe('buildRestore', () => {
  const cases: Array<{ name: string; state: ProxyState; filter?: RegExp[]; nat?: RegExp[]; notNat?: RegExp[]; notFilter?: RegExp[] }> = [
    {
      name: 'a ClusterIP service jumps from KUBE-SERVICES to its SVC chain, masquerades off-cluster sources, and DNATs in SEP chains',
      state: state(port(), [ep('10.180.0.1'), ep('10.180.0.2')]),
      nat: [
        new RegExp(`^-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j ${SVC}$`),
        new RegExp(`^-A ${SVC} .* ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ$`),
        new RegExp(`^-A ${SVC} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000 -j ${SEP1}$`),
        new RegExp(`^-A ${SVC} -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j KUBE-SEP-`),
        new RegExp(`^-A ${SEP1} -m comment --comment "ns1/svc1:p80" -s 10.180.0.1 -j KUBE-MARK-MASQ$`),
        new RegExp(`^-A ${SEP1} -m comment --comment "ns1/svc1:p80" -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80$`),
        /^-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully$/,
        /^-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000$/,
        /^-A KUBE-SERVICES .*"kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/,
      ],
      notFilter: [/REJECT/],
    },
    {
      name: 'three endpoints are balanced with probabilities 1/3, 1/2 and a final unconditional jump',
      state: state(port(), [ep('10.180.0.1'), ep('10.180.0.2'), ep('10.180.0.3')]),
      nat: [/--probability 0.3333333333 -j KUBE-SEP/, /--probability 0.5000000000 -j KUBE-SEP/, /-> 10.180.0.3:80" -j KUBE-SEP-/],
    },
    {
      name: 'a service without endpoints is REJECTed in filter KUBE-SERVICES and gets no NAT rules',
      state: state(port({ nodePort: 30080 }), [ep('10.180.0.1', { ready: false, serving: false })]),
      filter: [
        /^-A KUBE-SERVICES -m comment --comment "ns1\/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT$/,
        /^-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1\/svc1:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT$/,
      ],
      notNat: [/KUBE-SVC-|KUBE-SEP-|KUBE-EXT-/],
    },
    {
      name: 'ClientIP affinity adds recent-match jumps before the random ones and records the client in the SEP chain',
      state: state(port({ stickyMaxAgeSeconds: 600 }), [ep('10.180.0.1')]),
      nat: [new RegExp(`^-A ${SVC} .* -m recent --name ${SEP1} --rcheck --seconds 600 --reap -j ${SEP1}$`), new RegExp(`^-A ${SEP1} .* -m recent --name ${SEP1} --set -m tcp -p tcp -j DNAT`)],
    },
    {
      name: 'a NodePort with Cluster policy goes through KUBE-NODEPORTS to the EXT chain, which masquerades',
      state: state(port({ nodePort: 30080 }), [ep('10.180.0.1')]),
      nat: [/^-A KUBE-NODEPORTS -m comment --comment "ns1\/svc1:p80" -m tcp -p tcp --dport 30080 -j KUBE-EXT-XPGD46QRK7WJZT7O$/, /^-A KUBE-EXT-XPGD46QRK7WJZT7O .*masquerade traffic for ns1\/svc1:p80 external destinations" -j KUBE-MARK-MASQ$/, new RegExp(`^-A KUBE-EXT-XPGD46QRK7WJZT7O -j ${SVC}$`)],
    },
    {
      name: 'externalTrafficPolicy Local keeps the client IP: pods and the node short-circuit to SVC, outsiders go to the SVL chain of local endpoints',
      state: state(port({ nodePort: 30080, externalPolicyLocal: true }), [ep('10.180.0.1', { isLocal: true }), ep('10.180.0.2')]),
      nat: [
        /^-A KUBE-EXT-XPGD46QRK7WJZT7O .*"pod traffic for ns1\/svc1:p80 external destinations" -s 10.0.0.0\/8 -j KUBE-SVC-XPGD46QRK7WJZT7O$/,
        /^-A KUBE-EXT-XPGD46QRK7WJZT7O .*-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ$/,
        /^-A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVL-XPGD46QRK7WJZT7O$/,
        /^-A KUBE-SVL-XPGD46QRK7WJZT7O .*-> 10.180.0.1:80" -j KUBE-SEP-/,
      ],
      notNat: [/^-A KUBE-SVL-XPGD46QRK7WJZT7O .*10.180.0.2/, /masquerade traffic for/],
    },
    {
      name: 'externalTrafficPolicy Local without a local endpoint DROPs external traffic that was not short-circuited',
      state: state(port({ nodePort: 30080, externalPolicyLocal: true }), [ep('10.180.0.2')]),
      filter: [/^-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1\/svc1:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP$/],
      notNat: [/^-A KUBE-EXT-XPGD46QRK7WJZT7O -j /],
    },
    {
      name: 'internalTrafficPolicy Local sends cluster IP traffic to SVL, and DROPs it when no local endpoint exists',
      state: state(port({ internalPolicyLocal: true }), [ep('10.180.0.2')]),
      filter: [/^-A KUBE-SERVICES -m comment --comment "ns1\/svc1:p80 has no local endpoints" .* -j DROP$/],
      notNat: [/KUBE-SVC-|KUBE-SVL-/],
    },
    {
      name: 'external IPs and LoadBalancer IPs jump to EXT; source ranges add a FW chain and a KUBE-PROXY-FIREWALL drop',
      state: state(port({ externalIPs: ['192.0.2.10'], loadBalancerVIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24', '192.168.0.0/24'] }), [ep('10.180.0.1')]),
      nat: [
        /^-A KUBE-SERVICES .*"ns1\/svc1:p80 external IP" -m tcp -p tcp -d 192.0.2.10 --dport 80 -j KUBE-EXT-XPGD46QRK7WJZT7O$/,
        /^-A KUBE-SERVICES .*"ns1\/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 198.51.100.1 --dport 80 -j KUBE-FW-XPGD46QRK7WJZT7O$/,
        /^-A KUBE-FW-XPGD46QRK7WJZT7O .* -s 203.0.113.0\/24 -j KUBE-EXT-XPGD46QRK7WJZT7O$/,
        // The node (192.168.0.2) is inside a source range, so its own VIP-sourced traffic is allowed too.
        /^-A KUBE-FW-XPGD46QRK7WJZT7O .* -s 198.51.100.1 -j KUBE-EXT-XPGD46QRK7WJZT7O$/,
      ],
      filter: [/^-A KUBE-PROXY-FIREWALL .*"ns1\/svc1:p80 traffic not accepted by KUBE-FW-XPGD46QRK7WJZT7O" -m tcp -p tcp -d 198.51.100.1 --dport 80 -j DROP$/],
    },
    {
      name: 'masqueradeAll marks every cluster IP packet',
      state: state(port(), [ep('10.180.0.1')], { masqueradeAll: true }),
      nat: [new RegExp(`^-A ${SVC} .*--dport 80 -j KUBE-MARK-MASQ$`)],
    },
    {
      name: 'without localhost NodePorts, the NodePort jump excludes 127.0.0.0/8 and no KUBE-FIREWALL rule is written',
      state: state(port(), [ep('10.180.0.1')], { localhostNodePorts: false }),
      nat: [/--dst-type LOCAL ! -d 127.0.0.0\/8 -j KUBE-NODEPORTS$/],
      notFilter: [/KUBE-FIREWALL/],
    },
    {
      name: 'with nodePortAddresses, NodePorts answer only on those addresses',
      state: state(port(), [ep('10.180.0.1')], { nodePortsOnAllLocalAddresses: false, nodeIPs: ['192.168.0.2'] }),
      nat: [/^-A KUBE-SERVICES .*NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS$/],
    },
    {
      name: 'a health check NodePort is accepted in filter KUBE-NODEPORTS',
      state: state(port({ nodePort: 30080, externalPolicyLocal: true, healthCheckNodePort: 31000 }), [ep('10.180.0.1', { isLocal: true })]),
      filter: [/^-A KUBE-NODEPORTS .*"ns1\/svc1:p80 health check node port" -m tcp -p tcp --dport 31000 -j ACCEPT$/],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = restore(c.state);
      const nat = table(out.text, 'nat');
      const filter = table(out.text, 'filter');
      for (const re of c.nat ?? []) assert.ok(has(nat, re), `nat lacks ${re}\n${nat.join('\n')}`);
      for (const re of c.notNat ?? []) assert.ok(!has(nat, re), `nat has ${re}\n${nat.join('\n')}`);
      for (const re of c.filter ?? []) assert.ok(has(filter, re), `filter lacks ${re}\n${filter.join('\n')}`);
      for (const re of c.notFilter ?? []) assert.ok(!has(filter, re), `filter has ${re}\n${filter.join('\n')}`);
    });
  }

  it('writes chain declarations before rules in each table and ends each with COMMIT', () => {
    const out = restore(state(port(), [ep('10.180.0.1')]));
    for (const t of ['filter', 'nat'] as const) {
      const lines = table(out.text, t);
      const firstRule = lines.findIndex((l) => l.startsWith('-'));
      assert.ok(lines.slice(firstRule).every((l) => !l.startsWith(':')), `${t}: a chain line after a rule`);
    }
    assert.match(out.text, /^\*filter\n[\s\S]*\nCOMMIT\n\*nat\n[\s\S]*\nCOMMIT\n$/);
  });

  it('a partial sync rewrites only the changed service\'s chains but still counts and keeps the others', () => {
    const other = port({ name: { namespace: 'ns2', name: 'svc2', port: '', protocol: 'TCP' }, clusterIP: '172.30.0.42' });
    const s = state(port(), [ep('10.180.0.1')]);
    (s.services as Map<string, ServicePortInfo>).set('ns2/svc2', other);
    (s.endpoints as Map<string, EndpointInfo[]>).set('ns2/svc2', [ep('10.180.0.9')]);
    const full = restore(s);
    const partial = restore(s, { full: false, changed: ['ns2/svc2'] });
    const nat = table(partial.text, 'nat');
    assert.ok(!nat.some((l) => l.includes(SVC) && l.startsWith(':')), 'unchanged service chain declared');
    assert.ok(has(nat, new RegExp(`-j ${SVC}$`)), 'KUBE-SERVICES still jumps to the unchanged chain');
    assert.ok(nat.some((l) => l.startsWith(':KUBE-SVC-') && !l.includes(SVC)), 'changed service chain declared');
    assert.equal(partial.natRulesTotal, full.natRulesTotal);
    assert.ok(partial.natRules < full.natRules);
    assert.deepEqual([...partial.activeNatChains].sort(), [...full.activeNatChains].sort());
  });

  it('deletes our chains that are no longer used, and never chains that are not ours', () => {
    const out = restore(state(port(), [ep('10.180.0.1')]), { existing: ['KUBE-SEP-OLDOLDOLDOLDOLD0', 'KUBE-SVC-GONEGONEGONEGONE', SEP1, 'CNI-abc', 'KUBE-MARK-DROP'] });
    assert.deepEqual(out.deletedChains, ['KUBE-SEP-OLDOLDOLDOLDOLD0', 'KUBE-SVC-GONEGONEGONEGONE']);
    const nat = table(out.text, 'nat');
    assert.ok(nat.includes('-X KUBE-SEP-OLDOLDOLDOLDOLD0'));
    assert.ok(!nat.some((l) => l.includes('CNI-abc') || l.includes('-X KUBE-MARK-DROP')));
  });

  it('leaves out per-endpoint comments beyond 1000 endpoints (upstream\'s large cluster mode)', () => {
    const eps = Array.from({ length: 1001 }, (_, i) => ep(`10.1.${i >> 8}.${i & 255}`));
    const nat = table(restore(state(port(), eps)).text, 'nat');
    assert.ok(!has(nat, /^-A KUBE-SEP-.*--comment/));
    assert.ok(has(nat, /^-A KUBE-SERVICES -m comment --comment "ns1\/svc1:p80 cluster IP"/));
  });

  it('uses the configured masquerade bit for the mark', () => {
    const nat = table(restore(state(port(), [ep('10.180.0.1')], { masqueradeBit: 15 })).text, 'nat');
    assert.ok(nat.includes('-A KUBE-MARK-MASQ -j MARK --or-mark 0x8000'));
    assert.ok(nat.includes('-A KUBE-POSTROUTING -m mark ! --mark 0x8000/0x8000 -j RETURN'));
  });
});

describe('jumpRules', () => {
  it('hooks PREROUTING/OUTPUT/POSTROUTING in nat and INPUT/FORWARD/OUTPUT in filter, plus KUBE-FIREWALL only for localhost NodePorts', () => {
    const with_ = jumpRules({ family: 'IPv4', localhostNodePorts: true });
    assert.deepEqual(
      with_.filter((j) => j.table === 'nat').map((j) => `${j.srcChain}->${j.dstChain}`),
      ['OUTPUT->KUBE-SERVICES', 'PREROUTING->KUBE-SERVICES', 'POSTROUTING->KUBE-POSTROUTING'],
    );
    assert.ok(with_.some((j) => j.dstChain === 'KUBE-FIREWALL'));
    assert.ok(!jumpRules({ family: 'IPv6', localhostNodePorts: true }).some((j) => j.dstChain === 'KUBE-FIREWALL'));
  });
});

describe('helpers', () => {
  it('cidrContains handles IPv4, IPv6 and mismatched families', () => {
    const cases: Array<[string, string, boolean]> = [
      ['10.0.0.0/8', '10.1.2.3', true],
      ['10.0.0.0/8', '11.0.0.1', false],
      ['0.0.0.0/0', '1.2.3.4', true],
      ['fd00::/64', 'fd00::1', true],
      ['fd00::/64', 'fd00:0:0:1::1', false],
      ['10.0.0.0/8', 'fd00::1', false],
    ];
    for (const [cidr, ip, want] of cases) assert.equal(cidrContains(cidr, ip), want, `${cidr} ∋ ${ip}`);
  });
  it('chainsIn lists declared chains of iptables-save output; failingLines quotes the lines around the error', () => {
    assert.deepEqual([...chainsIn('*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n-A X\nCOMMIT\n')], ['PREROUTING', 'KUBE-SVC-X']);
    assert.equal(failingLines('a\nb\nc\nd', 'iptables-restore: line 3 failed'), '2: b\n3: c\n4: d');
  });
});
