// kube-proxy's nftables mode with real traffic: the backend programs the `ip kube-proxy` table in a
// lab node namespace, and clients in the outside-host and pod namespaces reach services through it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commandRunner, type CommandRunner } from '../../../../src/network/proxy/exec.js';
import { NftablesProxier, NftablesSyncError, createNftablesProxier } from '../../../../src/network/proxy/nftables/proxier.js';
import { serviceChainNames } from '../../../../src/network/proxy/nftables/names.js';
import type { ProxyState } from '../../../../src/network/proxy/types.js';
import { LAB_HTTP_PORT, NetnsLab, type HttpOutcome } from '../../../support/netnsLab.js';
import { FULL, changed, endpoint, proxyState, servicePort } from '../../../support/proxyStateBuilders.js';

const who = (outs: HttpOutcome[]): string[] => [...new Set(outs.map((o) => (o.kind === 'ok' ? o.body.split(' ')[0]! : o.kind)))].sort();

describe('nftables proxier in a network namespace', () => {
  let lab: NetnsLab;
  let proxier: NftablesProxier;
  let failNext = false;
  let state: ProxyState;

  before(async () => {
    lab = await NetnsLab.create({ owner: 'nftipvs', pods: 3 });
    // A real node has a default route out of an uplink; without one, traffic to a service IP that
    // nothing DNATs never reaches the forward hook (the kernel answers "network unreachable" itself).
    // The uplink is a veth pair inside the node (this kernel has no dummy links).
    await lab.mustExec(lab.nodeNs, 'ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
    for (const dev of ['up0', 'up1']) await lab.mustExec(lab.nodeNs, 'ip', ['link', 'set', dev, 'up']);
    await lab.mustExec(lab.nodeNs, 'ip', ['route', 'replace', 'default', 'dev', 'up0']);
    const real = commandRunner(NetnsLab.execPrefix(lab.nodeNs));
    // Appends a line nft refuses to the next transaction, to see a failed sync keep the old rules.
    const runner: CommandRunner = {
      run(cmd, args, input) {
        if (failNext && args.includes('-f') && input) {
          failNext = false;
          input += 'add rule ip kube-proxy no-such-chain accept\n';
        }
        return real.run(cmd, args, input);
      },
    };
    proxier = (await createNftablesProxier({ family: 'IPv4', exec: runner })) as NftablesProxier;
  });
  after(async () => {
    await lab?.destroy();
  });

  const [p0, p1, p2] = ['10.244.1.10', '10.244.1.11', '10.244.1.12'];
  const webWith = (eps: string[]) => [servicePort('web', '10.96.0.10', 80, { nodePort: 30080 }), eps.map((ip) => endpoint(ip, LAB_HTTP_PORT))] as const;
  const services = (web: string[]) =>
    proxyState(
      [
        [...webWith(web)] as never,
        [servicePort('sticky', '10.96.0.11', 80, { stickyMaxAgeSeconds: 60 }), [endpoint(p0, LAB_HTTP_PORT), endpoint(p1, LAB_HTTP_PORT)]],
        [servicePort('empty', '10.96.0.12', 80, { nodePort: 30082 }), []],
        [servicePort('other', '10.96.0.13', 80), [endpoint(p2, LAB_HTTP_PORT)]],
      ],
      { nodeIPs: [lab.nodeIP], clusterCIDRs: [lab.podCIDR] },
    );

  it('spreads ClusterIP traffic from outside the node and from a pod over both endpoints', async () => {
    state = services([p0, p1]);
    const res = await proxier.sync(state, FULL);
    assert.ok(res.rulesTotal > 0 && res.rulesWritten > 0);
    const fromExt = await lab.httpMany(lab.extNs, 'http://10.96.0.10/', 24);
    assert.deepEqual(who(fromExt), ['pod0', 'pod1']);
    // Traffic from outside the pod network is masqueraded: the pod sees the node's bridge address.
    assert.ok(fromExt.every((o) => o.kind === 'ok' && o.body.endsWith(` ${lab.bridgeIP}`)), JSON.stringify(fromExt[0]));
    const fromPod = await lab.httpMany(lab.pods[2]!.ns, 'http://10.96.0.10/', 12);
    assert.deepEqual(who(fromPod), ['pod0', 'pod1']);
    // Pod-to-service traffic keeps the pod's own source address.
    assert.ok(fromPod.every((o) => o.kind === 'ok' && o.body.endsWith(` ${p2}`)));
  });

  it('answers the NodePort on the node address from the outside host', async () => {
    const outs = await lab.httpMany(lab.extNs, `http://${lab.nodeIP}:30080/`, 6);
    assert.ok(outs.every((o) => o.kind === 'ok'), JSON.stringify(outs));
  });

  it('rejects a service without endpoints at once, on its ClusterIP and its NodePort', async () => {
    const cluster = await lab.http(lab.extNs, 'http://10.96.0.12/');
    assert.equal(cluster.kind, 'refused', JSON.stringify(cluster));
    const nodePort = await lab.http(lab.extNs, `http://${lab.nodeIP}:30082/`);
    assert.equal(nodePort.kind, 'refused', JSON.stringify(nodePort));
    assert.ok(cluster.ms < 1000 && nodePort.ms < 1000);
    // A port the ClusterIP does not serve is rejected too (cluster-ips-check).
    const wrongPort = await lab.http(lab.extNs, 'http://10.96.0.10:81/');
    assert.equal(wrongPort.kind, 'refused', JSON.stringify(wrongPort));
  });

  it('keeps one client on one endpoint with ClientIP session affinity', async () => {
    const outs = await lab.httpMany(lab.extNs, 'http://10.96.0.11/', 12);
    assert.equal(who(outs).length, 1, JSON.stringify(who(outs)));
    const set = await lab.mustExec(lab.nodeNs, 'nft', ['list', 'table', 'ip', 'kube-proxy']);
    assert.match(set, /elements = \{ 192\.168\.200\.2 (timeout|expires)/);
  });

  it('moves traffic on an endpoint change with a partial sync that leaves other services alone', async () => {
    const otherChain = serviceChainNames({ namespace: 'default', name: 'other', port: 'http', protocol: 'TCP' }).cluster;
    const before = await lab.mustExec(lab.nodeNs, 'nft', ['list', 'chain', 'ip', 'kube-proxy', otherChain]);
    assert.match(before, /dnat|goto endpoint-/);
    state = services([p0]);
    const res = await proxier.sync(state, changed({ endpoints: ['web'] }));
    assert.ok(res.rulesWritten < 10, `partial sync wrote ${res.rulesWritten} rules`);
    assert.deepEqual(who(await lab.httpMany(lab.extNs, 'http://10.96.0.10/', 12)), ['pod0']);
    assert.deepEqual(who(await lab.httpMany(lab.extNs, 'http://10.96.0.13/', 3)), ['pod2']);
    const afterList = await lab.mustExec(lab.nodeNs, 'nft', ['list', 'chain', 'ip', 'kube-proxy', otherChain]);
    assert.equal(afterList, before);
  });

  it('keeps the previous rules when nft refuses a transaction, then recovers with a full sync', async () => {
    failNext = true;
    const next = services([p1]);
    await assert.rejects(proxier.sync(next, changed({ endpoints: ['web'] })), (e: unknown) => e instanceof NftablesSyncError && /no-such-chain|No such file/.test(e.message));
    // Still the old endpoint set: nothing of the failed transaction was applied.
    assert.deepEqual(who(await lab.httpMany(lab.extNs, 'http://10.96.0.10/', 8)), ['pod0']);
    // The next sync is partial by the caller's wish but full by need (memory was dropped).
    await proxier.sync(next, changed({ endpoints: ['web'] }));
    assert.deepEqual(who(await lab.httpMany(lab.extNs, 'http://10.96.0.10/', 8)), ['pod1']);
    assert.deepEqual(who(await lab.httpMany(lab.extNs, 'http://10.96.0.13/', 3)), ['pod2']);
  });

  it('adopts a table left by an earlier run, then flushes and later deletes the chains nobody uses', async () => {
    const fresh = new NftablesProxier({ family: 'IPv4', netns: lab.nodeNs });
    const withoutOther = services([p1]);
    const services2 = new Map(withoutOther.services);
    const endpoints2 = new Map(withoutOther.endpoints);
    services2.delete('default/other:http');
    endpoints2.delete('default/other:http');
    const s2 = { ...withoutOther, services: services2, endpoints: endpoints2 };
    await fresh.sync(s2, FULL);
    assert.deepEqual(who(await lab.httpMany(lab.extNs, 'http://10.96.0.10/', 4)), ['pod1']);
    // The removed service is no longer routed; its chain was flushed and waits for deletion.
    assert.equal((await lab.http(lab.extNs, 'http://10.96.0.13/', { timeoutMs: 800 })).kind !== 'ok', true);
    const chains = async () => lab.mustExec(lab.nodeNs, 'nft', ['list', 'chains', 'ip']);
    assert.match(await chains(), /default\/other\/tcp\/http/);
    await new Promise((r) => setTimeout(r, 1100));
    await fresh.sync(s2, changed({}));
    assert.doesNotMatch(await chains(), /default\/other\/tcp\/http/);
    await fresh.cleanup();
    assert.doesNotMatch(await chains(), /kube-proxy/);
    // Cleaning up twice is fine.
    await fresh.cleanup();
  });
});
