// The IPVS mode's ipset and iptables text, fed to the real ipset and iptables-restore inside a
// throwaway network namespace. (This kernel has no IPVS, so ipvsadm itself cannot be exercised here;
// see the unit tests for its text and the startup error.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { commandRunner, type CommandRunner } from '../../../../src/network/proxy/exec.js';
import { mustRun } from '../../../../src/network/proxy/mustRun.js';
import { IPSETS } from '../../../../src/network/proxy/ipvs/names.js';
import { diffIpvs, parseIpsetSave, planIpvs } from '../../../../src/network/proxy/ipvs/plan.js';
import { IpvsProxier } from '../../../../src/network/proxy/ipvs/proxier.js';
import { run } from '../../../support/netnsLab.js';
import { endpoint, proxyState, servicePort } from '../../../support/proxyStateBuilders.js';

describe('IPVS mode ipset and iptables text with the real tools', () => {
  const ns = `k8ts-nftipvs-${randomBytes(3).toString('hex')}-ipvs`;
  let exec: CommandRunner;
  const r = { run: (cmd: string, args: readonly string[], input?: string) => mustRun(exec, cmd, args, input) };
  before(async () => {
    const made = await run('ip', ['netns', 'add', ns]);
    assert.equal(made.code, 0, made.stderr);
    exec = commandRunner(['ip', 'netns', 'exec', ns]);
  });
  after(async () => {
    await run('ip', ['netns', 'del', ns]);
  });

  const state = proxyState(
    [
      [servicePort('web', '10.96.0.10', 80, { nodePort: 30080, externalPolicyLocal: true, healthCheckNodePort: 32000 }), [endpoint('10.244.1.2', 8080, { isLocal: true }), endpoint('10.244.2.3', 8080)]],
      [servicePort('dns', '10.96.0.53', 53, { protocol: 'UDP', nodePort: 30053 }), [endpoint('10.244.1.4', 53)]],
      [servicePort('lb', '10.96.0.16', 443, { externalIPs: ['192.0.2.9'], loadBalancerVIPs: ['192.0.2.10'], loadBalancerSourceRanges: ['192.168.1.0/24'] }), [endpoint('10.244.1.2', 8443)]],
    ],
    { nodeIPs: ['192.168.1.5'] },
  );
  const names = new Set(IPSETS.map((s) => s.name));

  it('ipset restore creates every set and fills it; a second diff against the kernel is empty', async () => {
    const desired = planIpvs(state, { scheduler: 'rr' });
    const first = diffIpvs({ virtualServers: new Map(), boundAddresses: new Set(), ipsets: new Map() }, desired, 'IPv4');
    await r.run('ipset', ['restore', '-exist'], first.ipsetRestore);
    const saved = parseIpsetSave((await r.run('ipset', ['save'])).stdout, names);
    assert.deepEqual([...saved.keys()].sort(), [...names].sort());
    assert.deepEqual([...saved.get('KUBE-NODE-PORT-UDP')!], ['30053']);
    assert.deepEqual([...saved.get('KUBE-LOAD-BALANCER-SOURCE-IP')!], ['192.0.2.10,tcp:443,192.0.2.10']);
    const again = diffIpvs({ virtualServers: new Map(), boundAddresses: new Set(), ipsets: saved }, desired, 'IPv4');
    assert.doesNotMatch(again.ipsetRestore, /^(add|del) /m, again.ipsetRestore);
    // Re-running the creates is harmless (-exist).
    await r.run('ipset', ['restore', '-exist'], again.ipsetRestore);
  });

  it('iptables-restore --noflush accepts the rules, twice, and leaves our chains filled', async () => {
    const desired = planIpvs(state, { scheduler: 'rr' });
    await r.run('iptables-restore', ['-w', '--noflush'], desired.iptables);
    await r.run('iptables-restore', ['-w', '--noflush'], desired.iptables);
    const nat = (await r.run('iptables-save', ['-t', 'nat'])).stdout;
    assert.match(nat, /-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN/);
    assert.equal(nat.match(/-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000\/0x4000/g)?.length, 1, 'restoring twice does not duplicate rules');
    const filter = (await r.run('iptables-save', ['-t', 'filter'])).stdout;
    assert.match(filter, /-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT/);
  });

  it('the IPVS backend cleans up the iptables chains and ipsets it owns even without IPVS in the kernel', async () => {
    const p = new IpvsProxier({ family: 'IPv4', exec });
    await p.cleanup();
    const nat = (await r.run('iptables-save', ['-t', 'nat'])).stdout;
    assert.doesNotMatch(nat, /KUBE-/);
    assert.equal((await r.run('ipset', ['list', '-n'])).stdout.trim(), '');
  });
});
