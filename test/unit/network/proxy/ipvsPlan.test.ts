import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { CommandRunner } from '../../../../src/network/proxy/exec.js';
import { ipsetName } from '../../../../src/network/proxy/ipvs/names.js';
import { countRules, diffIpvs, parseIpAddrShow, parseIpsetSave, parseIpvsadmSave, planIpvs, vsKey, type IpvsCurrent } from '../../../../src/network/proxy/ipvs/plan.js';
import { IpvsProxier, IpvsUnavailableError, checkIpvsSupport, createIpvsProxier } from '../../../../src/network/proxy/ipvs/proxier.js';
import { FULL, endpoint, proxyState, servicePort } from '../../../support/proxyStateBuilders.js';
import { tempDir } from '../../../support/tmp.js';

const opts = { scheduler: 'rr' };
const none: IpvsCurrent = { virtualServers: new Map(), boundAddresses: new Set(), ipsets: new Map() };
const rs = (ip: string, port: number) => ({ ip, port, weight: 1 });

describe('planIpvs: virtual servers, bound addresses and ipsets', () => {
  it('a ClusterIP service is a virtual server on kube-ipvs0 with one real server per ready endpoint', () => {
    const d = planIpvs(proxyState([[servicePort('web', '10.96.0.10', 80), [endpoint('10.244.1.2', 8080), endpoint('10.244.2.3', 8080), endpoint('10.244.2.4', 8080, { ready: false, serving: false })]]]), opts);
    assert.deepEqual([...d.virtualServers.keys()], ['TCP/10.96.0.10:80']);
    assert.deepEqual(d.virtualServers.get('TCP/10.96.0.10:80'), { protocol: 'TCP', ip: '10.96.0.10', port: 80, scheduler: 'rr', persistence: 0, flags: [], realServers: [rs('10.244.1.2', 8080), rs('10.244.2.3', 8080)] });
    assert.deepEqual([...d.boundAddresses], ['10.96.0.10']);
    assert.deepEqual([...d.ipsets.get('KUBE-CLUSTER-IP')!], ['10.96.0.10,tcp:80']);
    assert.deepEqual([...d.ipsets.get('KUBE-IPVS-IPS')!], ['10.96.0.10']);
  });

  it('a service without endpoints keeps its virtual server with no real servers (IPVS refuses the connection)', () => {
    const d = planIpvs(proxyState([[servicePort('empty', '10.96.0.12', 80), []]]), opts);
    assert.deepEqual(d.virtualServers.get('TCP/10.96.0.12:80')?.realServers, []);
  });

  it('ClientIP affinity is IPVS persistence with the affinity timeout; mh gets the mh-port flag', () => {
    const d = planIpvs(proxyState([[servicePort('st', '10.96.0.15', 80, { stickyMaxAgeSeconds: 10800 }), [endpoint('10.244.1.2', 80)]]]), { scheduler: 'mh' });
    const vs = d.virtualServers.get('TCP/10.96.0.15:80')!;
    assert.equal(vs.persistence, 10800);
    assert.deepEqual(vs.flags, ['mh-port']);
    assert.equal(vs.scheduler, 'mh');
  });

  it('a NodePort is a virtual server on every node IP (not bound) and a port in the protocol bitmap; Local adds the local set and local real servers', () => {
    const svc = servicePort('np', '10.96.0.20', 80, { nodePort: 30080, externalPolicyLocal: true });
    const d = planIpvs(proxyState([[svc, [endpoint('10.244.1.2', 80, { isLocal: true }), endpoint('10.244.2.3', 80)]]], { nodeIPs: ['192.168.1.5', '127.0.0.1'] }), opts);
    assert.deepEqual([...d.virtualServers.keys()].sort(), ['TCP/10.96.0.20:80', 'TCP/192.168.1.5:30080']);
    assert.deepEqual(d.virtualServers.get('TCP/192.168.1.5:30080')!.realServers, [rs('10.244.1.2', 80)]);
    assert.deepEqual(d.virtualServers.get('TCP/10.96.0.20:80')!.realServers, [rs('10.244.1.2', 80), rs('10.244.2.3', 80)]);
    assert.ok(!d.boundAddresses.has('192.168.1.5'));
    assert.deepEqual([...d.ipsets.get('KUBE-NODE-PORT-TCP')!], ['30080']);
    assert.deepEqual([...d.ipsets.get('KUBE-NODE-PORT-LOCAL-TCP')!], ['30080']);
    assert.deepEqual([...d.ipsets.get('KUBE-LOOP-BACK')!], ['10.244.1.2,tcp:80,10.244.1.2']);
  });

  it('SCTP NodePorts use hash:ip,port entries per node IP', () => {
    const d = planIpvs(proxyState([[servicePort('sc', '10.96.0.21', 9, { protocol: 'SCTP', nodePort: 30009 }), [endpoint('10.244.1.2', 9)]]], { nodeIPs: ['192.168.1.5'] }), opts);
    assert.deepEqual([...d.ipsets.get('KUBE-NODE-PORT-SCTP-HASH')!], ['192.168.1.5,sctp:30009']);
    assert.ok(d.virtualServers.has('SCTP/192.168.1.5:30009'));
  });

  it('internalTrafficPolicy Local without a local endpoint falls back to the cluster endpoints, as upstream', () => {
    const d = planIpvs(proxyState([[servicePort('il', '10.96.0.22', 80, { internalPolicyLocal: true, nodePort: 30022 }), [endpoint('10.244.2.3', 80)]]], { nodeIPs: ['192.168.1.5'] }), opts);
    assert.deepEqual(d.virtualServers.get('TCP/10.96.0.22:80')!.realServers, [rs('10.244.2.3', 80)]);
  });

  it('externalIPs and LoadBalancer IPs are bound unless the node owns them; source ranges fill the firewall sets', () => {
    const svc = servicePort('lb', '10.96.0.16', 443, { externalIPs: ['192.0.2.9', '192.168.1.5'], loadBalancerVIPs: ['192.0.2.10'], loadBalancerSourceRanges: ['203.0.113.0/24', '192.168.1.0/24'] });
    const d = planIpvs(proxyState([[svc, [endpoint('10.244.1.2', 8443)]]], { nodeIPs: ['192.168.1.5'] }), opts);
    assert.deepEqual([...d.boundAddresses].sort(), ['10.96.0.16', '192.0.2.10', '192.0.2.9']);
    assert.deepEqual([...d.ipsets.get('KUBE-EXTERNAL-IP')!].sort(), ['192.0.2.9,tcp:443', '192.168.1.5,tcp:443']);
    assert.deepEqual([...d.ipsets.get('KUBE-LOAD-BALANCER-FW')!], ['192.0.2.10,tcp:443']);
    assert.deepEqual([...d.ipsets.get('KUBE-LOAD-BALANCER-SOURCE-CIDR')!], ['192.0.2.10,tcp:443,203.0.113.0/24', '192.0.2.10,tcp:443,192.168.1.0/24']);
    assert.deepEqual([...d.ipsets.get('KUBE-LOAD-BALANCER-SOURCE-IP')!], ['192.0.2.10,tcp:443,192.0.2.10']);
    assert.doesNotMatch(d.iptables, /KUBE-IPVS-OUT-FILTER -s/);
  });

  it('a LoadBalancer whose source ranges exclude the node drops the node\'s own requests to the VIP', () => {
    const svc = servicePort('lb', '10.96.0.16', 443, { loadBalancerVIPs: ['192.0.2.10'], loadBalancerSourceRanges: ['203.0.113.0/24'] });
    const d = planIpvs(proxyState([[svc, [endpoint('10.244.1.2', 8443)]]], { nodeIPs: ['192.168.1.5'] }), opts);
    assert.match(d.iptables, /^-A KUBE-IPVS-OUT-FILTER -s 192\.0\.2\.10 -m ipvs --vaddr 192\.0\.2\.10 --vproto tcp --vport 443 -j DROP$/m);
  });

  it('an IPv6 proxier names its sets KUBE-6-… and only takes IPv6 services', () => {
    const d = planIpvs(
      proxyState([[servicePort('v6', 'fd00:10:96::a', 80), [endpoint('fd00:10:244::2', 80)]], [servicePort('v4', '10.96.0.10', 80), [endpoint('10.244.1.2', 80)]]], { family: 'IPv6', clusterCIDRs: ['fd00:10:244::/56'] }),
      opts,
    );
    assert.deepEqual([...d.virtualServers.keys()], ['TCP/[fd00:10:96::a]:80']);
    assert.deepEqual([...d.ipsets.get('KUBE-6-CLUSTER-IP')!], ['fd00:10:96::a,tcp:80']);
    assert.equal(ipsetName('KUBE-LOAD-BALANCER-SOURCE-CIDR', 'IPv6'), 'KUBE-6-LOAD-BALANCER-SOURCE-CID');
    assert.match(d.iptables, /-A KUBE-SERVICES -s ::1\/128 -j RETURN/);
    assert.match(d.iptables, /--match-set KUBE-6-CLUSTER-IP dst,dst ! -s fd00:10:244::\/56 -j KUBE-MARK-MASQ/);
  });
});

describe('planIpvs: iptables rules', () => {
  const d = planIpvs(proxyState([[servicePort('web', '10.96.0.10', 80, { nodePort: 30080 }), [endpoint('10.244.1.2', 8080, { isLocal: true })]]], { nodeIPs: ['192.168.1.5'] }), opts);
  const cases: Array<[string, RegExp]> = [
    ['declares (and so flushes) only our nat chains', /^\*nat\n:KUBE-SERVICES - \[0:0\]\n:KUBE-POSTROUTING - \[0:0\]\n:KUBE-NODE-PORT - \[0:0\]\n:KUBE-LOAD-BALANCER - \[0:0\]\n:KUBE-MARK-MASQ - \[0:0\]\n/],
    ['masquerades hairpin traffic matched by KUBE-LOOP-BACK', /^-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE$/m],
    ['masquerades ClusterIP traffic from outside the pod network', /^-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip \+ port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10\.244\.0\.0\/16 -j KUBE-MARK-MASQ$/m],
    ['masquerades NodePort traffic', /^-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ$/m],
    ['sends local-destination traffic to KUBE-NODE-PORT', /^-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT$/m],
    ['rejects new connections to other ports of service IPs', /^-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT$/m],
    ['masquerades marked packets once, fully random', /^-A KUBE-POSTROUTING -m mark ! --mark 0x004000\/0x004000 -j RETURN\n-A KUBE-POSTROUTING -j MARK --xor-mark 0x004000\n-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully$/m],
    ['accepts forwarded marked traffic and its replies', /^-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT$/m],
    ['ends both tables with COMMIT', /COMMIT\n\*filter\n[^]*COMMIT\n$/],
  ];
  for (const [name, re] of cases) it(name, () => assert.match(d.iptables, re));
  it('skips rules of empty sets (no LoadBalancer, no externalIPs here)', () => {
    assert.doesNotMatch(d.iptables, /--match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER|--match-set KUBE-EXTERNAL-IP dst,dst -j (KUBE-MARK-MASQ|ACCEPT)/);
  });
  it('counts virtual servers, real servers, entries and iptables rules', () => {
    assert.equal(countRules(d), d.iptablesRules + 2 + 2 + [...d.ipsets.values()].reduce((n, s) => n + s.size, 0));
  });
});

describe('parsers of the tools\' output', () => {
  it('parses ipvsadm -S -n with persistence, UDP, IPv6 and real servers', () => {
    const text = ['-A -t 10.96.0.1:443 -s rr', '-a -t 10.96.0.1:443 -r 192.168.1.5:6443 -m -w 1', '-A -u 10.96.0.10:53 -s rr -p 10800', '-a -u 10.96.0.10:53 -r 10.244.1.2:53 -m -w 0', '-A -t [fd00::a]:80 -s mh -b mh-port', '-A -f 7 -s rr', ''].join('\n');
    const got = parseIpvsadmSave(text);
    assert.deepEqual([...got.keys()], ['TCP/10.96.0.1:443', 'UDP/10.96.0.10:53', 'TCP/[fd00::a]:80']);
    assert.deepEqual(got.get('UDP/10.96.0.10:53'), { protocol: 'UDP', ip: '10.96.0.10', port: 53, scheduler: 'rr', persistence: 10800, flags: [], realServers: [{ ip: '10.244.1.2', port: 53, weight: 0 }] });
    assert.deepEqual(got.get('TCP/[fd00::a]:80')?.flags, ['mh-port']);
  });
  it('parses ipset save, keeping only our sets', () => {
    const text = 'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\nadd KUBE-CLUSTER-IP 10.96.0.1,tcp:443\ncreate OTHER hash:ip\nadd OTHER 1.2.3.4\ncreate KUBE-NODE-PORT-TCP bitmap:port range 0-65535\n';
    const got = parseIpsetSave(text, new Set(['KUBE-CLUSTER-IP', 'KUBE-NODE-PORT-TCP']));
    assert.deepEqual([...got].map(([k, v]) => [k, [...v]]), [['KUBE-CLUSTER-IP', ['10.96.0.1,tcp:443']], ['KUBE-NODE-PORT-TCP', []]]);
  });
  it('parses ip -o addr show of kube-ipvs0', () => {
    const text = '7: kube-ipvs0    inet 10.96.0.1/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever\n7: kube-ipvs0    inet6 fd00::a/128 scope global \\       valid_lft forever\n';
    assert.deepEqual([...parseIpAddrShow(text)], ['10.96.0.1', 'fd00::a']);
  });
});

describe('diffIpvs: from what the kernel holds to what is wanted', () => {
  const web = (eps: string[], extra = {}) => proxyState([[servicePort('web', '10.96.0.10', 80, extra), eps.map((ip) => endpoint(ip, 8080))]]);
  it('on an empty node creates sets, the virtual server, its real servers and binds the address', () => {
    const a = diffIpvs(none, planIpvs(web(['10.244.1.2']), opts), 'IPv4');
    assert.equal(a.ipvsUpserts, '-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n');
    assert.equal(a.addressAdds, 'addr add 10.96.0.10/32 dev kube-ipvs0\n');
    assert.match(a.ipsetRestore, /^create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536$/m);
    assert.match(a.ipsetRestore, /^create KUBE-NODE-PORT-TCP bitmap:port range 0-65535$/m);
    assert.match(a.ipsetRestore, /^add KUBE-CLUSTER-IP 10\.96\.0\.10,tcp:80$/m);
    assert.equal(a.ipvsDeletes, '');
  });
  it('when nothing changed writes nothing but the idempotent set creates', () => {
    const want = planIpvs(web(['10.244.1.2']), opts);
    const have: IpvsCurrent = { virtualServers: parseIpvsadmSave('-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n'), boundAddresses: new Set(['10.96.0.10']), ipsets: want.ipsets };
    const a = diffIpvs(have, want, 'IPv4');
    assert.equal(a.changes, 0);
    assert.equal(a.ipvsUpserts + a.ipvsDeletes + a.addressAdds + a.addressDeletes, '');
    assert.doesNotMatch(a.ipsetRestore, /^(add|del) /m);
  });
  it('an endpoint change swaps real servers; turning on affinity edits the virtual server', () => {
    const have: IpvsCurrent = { virtualServers: parseIpvsadmSave('-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n'), boundAddresses: new Set(['10.96.0.10']), ipsets: new Map() };
    const a = diffIpvs(have, planIpvs(web(['10.244.1.3'], { stickyMaxAgeSeconds: 60 }), opts), 'IPv4');
    assert.equal(a.ipvsUpserts, '-E -t 10.96.0.10:80 -s rr -p 60\n-a -t 10.96.0.10:80 -r 10.244.1.3:8080 -m -w 1\n-d -t 10.96.0.10:80 -r 10.244.1.2:8080\n');
  });
  it('a removed service loses its virtual server and address last; the other family is left alone', () => {
    const have: IpvsCurrent = { virtualServers: parseIpvsadmSave('-A -t 10.96.0.99:80 -s rr\n-A -t [fd00::a]:80 -s rr\n'), boundAddresses: new Set(['10.96.0.99', 'fd00::a']), ipsets: new Map([['KUBE-CLUSTER-IP', new Set(['10.96.0.99,tcp:80'])]]) };
    const a = diffIpvs(have, planIpvs(proxyState([]), opts), 'IPv4');
    assert.equal(a.ipvsDeletes, '-D -t 10.96.0.99:80\n');
    assert.equal(a.addressDeletes, 'addr del 10.96.0.99/32 dev kube-ipvs0\n');
    assert.match(a.ipsetRestore, /^del KUBE-CLUSTER-IP 10\.96\.0\.99,tcp:80$/m);
  });
});

/** A failed tool run, as a scripted answer. */
class Fail {
  constructor(
    readonly code: number,
    readonly stderr: string,
  ) {}
}

/** A runner that answers from a table (first matching command prefix) and records the calls. */
function scripted(answers: Record<string, string | Fail>): CommandRunner & { calls: string[]; inputs: string[] } {
  const calls: string[] = [];
  const inputs: string[] = [];
  return {
    calls,
    inputs,
    async run(cmd, args, input) {
      const line = [cmd, ...args].join(' ');
      calls.push(line);
      if (input) inputs.push(`${line}\n${input}`);
      const key = Object.keys(answers).find((k) => line.startsWith(k));
      const a = key === undefined ? '' : answers[key]!;
      if (a instanceof Fail) return { code: a.code, stdout: '', stderr: a.stderr };
      return { code: 0, stdout: a, stderr: '' };
    },
  };
}

describe('IPVS startup check', () => {
  it('fails for real on this machine, naming ip_vs and how it was detected', async () => {
    // This kernel has no IPVS (CONFIG_IP_VS unset). Where a kernel has it, this case does not apply.
    const { existsSync } = await import('node:fs');
    if (existsSync('/proc/net/ip_vs')) return;
    await assert.rejects(createIpvsProxier({ family: 'IPv4' }), (e: unknown) => {
      assert.ok(e instanceof IpvsUnavailableError);
      assert.equal(e.code, 'IPVSUnavailable');
      assert.deepEqual(e.missing.slice(0, 2), ['ip_vs', 'ip_vs_rr']);
      assert.match(e.detection, /\/proc\/net\/ip_vs is absent and modprobe ip_vs failed: /);
      assert.match(e.message, /"iptables" or "nftables"/);
      return true;
    });
  });

  const fakeProc = (files: string[]) => {
    const dir = tempDir('k8ts-nftipvs-proc-');
    for (const f of files) {
      mkdirSync(`${dir.path}/${f.split('/').slice(0, -1).join('/')}`, { recursive: true });
      writeFileSync(`${dir.path}/${f}`, '');
    }
    return dir;
  };

  const cases: Array<{ name: string; files: string[]; answers: Record<string, string | Fail>; missing?: string[]; detection?: RegExp }> = [
    {
      name: 'a failing modprobe is quoted, and a missing nf_conntrack is named too',
      files: [],
      answers: { modprobe: new Fail(1, 'modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.1.0\n') },
      missing: ['ip_vs', 'ip_vs_rr', 'nf_conntrack'],
      detection: /modprobe ip_vs failed: modprobe: FATAL: Module ip_vs not found/,
    },
    {
      name: 'a scheduler the kernel lacks is found by the probe virtual server',
      files: ['net/ip_vs', 'sys/net/netfilter/nf_conntrack_max'],
      answers: { 'ipset version': 'ipset v7.17, protocol version: 7', 'ipvsadm -A': new Fail(2, 'Scheduler not found: ip_vs_wlc.ko') },
      missing: ['ip_vs_wlc'],
      detection: /probe virtual server with scheduler wlc failed: Scheduler not found/,
    },
    {
      name: 'an old ipset is refused',
      files: ['net/ip_vs', 'sys/net/netfilter/nf_conntrack_max'],
      answers: { 'ipset version': 'ipset v5.4, protocol version: 5' },
      missing: ['ipset >= 6.0'],
    },
    {
      name: 'a kernel without dummy links cannot hold kube-ipvs0',
      files: ['net/ip_vs', 'sys/net/netfilter/nf_conntrack_max'],
      answers: { 'ipset version': 'ipset v7.17', 'ip link show': new Fail(1, 'Device "kube-ipvs0" does not exist.'), 'ip link add': new Fail(2, 'Error: Unknown device type.') },
      missing: ['dummy (CONFIG_DUMMY)'],
    },
    { name: 'passes when everything is there', files: ['net/ip_vs', 'sys/net/netfilter/nf_conntrack_max'], answers: { 'ipset version': 'ipset v7.17' } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const proc = fakeProc(c.files);
      try {
        const runner = scripted(c.answers);
        const scheduler = c.name.includes('scheduler') ? 'wlc' : 'rr';
        const run = checkIpvsSupport(runner, { scheduler, procRoot: proc.path });
        if (!c.missing) {
          await run;
          assert.ok(runner.calls.includes('ipvsadm -D -t 198.51.100.0:20000'), 'the probe virtual server is removed');
          return;
        }
        await assert.rejects(run, (e: unknown) => e instanceof IpvsUnavailableError && JSON.stringify(e.missing) === JSON.stringify(c.missing) && (!c.detection || c.detection.test(e.detection)));
      } finally {
        proc.remove();
      }
    });
  }
});

describe('IpvsProxier.sync through scripted tools', () => {
  it('reads the kernel, then applies sets, servers, addresses and iptables in that order', async () => {
    const runner = scripted({ 'ipvsadm -S -n': '-A -t 10.96.0.99:80 -s rr\n', 'ipset save': '', 'ip -o addr': '', 'iptables -w -t nat -C': new Fail(1, 'Bad rule') });
    const p = new IpvsProxier({ family: 'IPv4', exec: runner });
    const res = await p.sync(proxyState([[servicePort('web', '10.96.0.10', 80), [endpoint('10.244.1.2', 8080)]]]), FULL);
    const order = runner.calls.map((c) => c.split(' ').slice(0, 2).join(' '));
    const at = (prefix: string) => order.findIndex((c) => c.startsWith(prefix));
    assert.ok(at('ipset restore') < at('ipvsadm-restore') && at('ipvsadm-restore') < at('iptables-restore'), order.join('\n'));
    assert.ok(runner.calls.includes('iptables -w -t nat -I OUTPUT -m comment --comment kubernetes service portals -j KUBE-SERVICES'));
    assert.ok(runner.inputs.some((i) => i.startsWith('ipvsadm-restore\n-D -t 10.96.0.99:80')), 'the stale virtual server is deleted last');
    assert.ok(res.rulesTotal > 0 && res.rulesWritten > 0);
    assert.equal(vsKey({ protocol: 'TCP', ip: '10.96.0.10', port: 80 }), 'TCP/10.96.0.10:80');
  });
});
