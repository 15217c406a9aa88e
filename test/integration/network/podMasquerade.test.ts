// The node's pod masquerade against the real kernel, as root, inside a throwaway lab (NetnsLab):
// a "node" netns with the pod bridge, pods on it (veth by hand, and pods wired by the real CNI
// bridge + host-local plugins from k8ts' own conflist), and an "outside" netns that is both a host
// outside the cluster (192.168.200.2) and another node's pod (10.244.2.1, routed host-gw style).
// Servers answer with the address they see, so the test reads what the masquerade did.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetnsLab, run, type LabPod } from '../../support/netnsLab.js';
import { tempDir } from '../../support/tmp.js';
import { PodMasquerade, removePodMasquerade } from '../../../src/network/podMasquerade.js';
import { commandRunner, type CommandRunner } from '../../../src/network/proxy/exec.js';
import { nodeNetworkConflist } from '../../../src/network/cni/conflist.js';
import { addNetworkList, delNetworkList, resultIps, type CniNetworkConfList, type CniResult } from '../../../src/network/cni/invoke.js';

const which = (bin: string) => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, bin)));
const ready = process.getuid?.() === 0 && which('iptables-restore') && which('ip') && existsSync('/usr/lib/cni/bridge');

/** HTTP server answering `<name> <peer address>`, like the lab pods' servers. */
const PEER_SERVER = `
require('node:http').createServer((req, res) => { res.setHeader('connection', 'close'); res.end('outside ' + req.socket.remoteAddress.replace('::ffff:', '')); })
  .listen(Number(process.env.PORT), '0.0.0.0', () => process.stdout.write('ready\\n'));
`;

/** A runner into the node netns that counts what it runs. */
function countingRunner(ns: string): CommandRunner & { commands: string[] } {
  const inner = commandRunner(NetnsLab.execPrefix(ns));
  const commands: string[] = [];
  return { commands, run: (cmd, args, input) => (commands.push(cmd), inner.run(cmd, args, input)) };
}

describe('node pod masquerade in a network namespace lab', { skip: !ready && 'needs root, iptables, ip and /usr/lib/cni' }, () => {
  let lab: NetnsLab;
  const tmp = tempDir('k8ts-masq-');
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const outside = () => `http://${lab.extIP}:${port}/`;
  const otherNodePod = () => `http://10.244.2.1:${port}/`;
  /** CNI-wired pods: netns name, attachment and its cached result, for DEL. */
  const cniPods: { ns: string; list: CniNetworkConfList; id: string; result: CniResult; deleted?: boolean }[] = [];
  let binDir: string;
  let podA: LabPod;

  const seen = async (fromNs: string, url: string): Promise<string> => {
    const r = await lab.http(fromNs, url, { timeoutMs: 3000 });
    if (r.kind !== 'ok') {
      const ct = await lab.exec(lab.nodeNs, 'conntrack', ['-L']);
      const nat = await lab.exec(lab.nodeNs, 'iptables-save', ['-t', 'nat']);
      assert.fail(`GET ${url} from ${fromNs}: ${JSON.stringify(r)}\nconntrack in the node:\n${ct.stdout}${ct.stderr}\nnat:\n${nat.stdout}`);
    }
    return (r as { body: string }).body.split(' ')[1]!;
  };

  /** A pod netns attached by the real plugins (run in the node netns through wrappers). */
  const cniAttach = async (name: string, list: CniNetworkConfList): Promise<{ ns: string; ip: string }> => {
    const ns = `k8ts-masq-${lab.tag}-${name}`;
    const made = await run('ip', ['netns', 'add', ns]);
    if (made.code !== 0) throw new Error(`ip netns add ${ns}: ${made.stderr}`);
    const id = `masq-${lab.tag}-${name}`;
    const pod: (typeof cniPods)[number] = { ns, list, id, result: { cniVersion: list.cniVersion } };
    cniPods.push(pod);
    pod.result = await addNetworkList(list, { containerId: id, netns: `/var/run/netns/${ns}`, ifName: 'eth0' }, { binDir });
    return { ns, ip: resultIps(pod.result)[0]! };
  };

  before(async () => {
    lab = await NetnsLab.create({ owner: 'masq', pods: 2 });
    podA = lab.pods[0]!;
    // A bridge takes the lowest MAC of its ports unless given one; the CNI pods coming and going
    // would change it under the pods' ARP caches (their frames then get bridged, not routed).
    await lab.mustExec(lab.nodeNs, 'ip', ['link', 'set', lab.bridge, 'address', '02:00:0a:f4:01:01']);
    // The outside netns also plays a pod on another node, reached through a host-gw route.
    await lab.mustExec(lab.extNs, 'ip', ['addr', 'add', '10.244.2.1/32', 'dev', 'lo']);
    await lab.mustExec(lab.nodeNs, 'ip', ['route', 'add', '10.244.2.0/24', 'via', lab.extIP]);
    const server = lab.spawnIn(lab.extNs, process.execPath, ['-e', PEER_SERVER], { PORT: String(port) });
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      server.once('exit', (code) => reject(new Error(`outside server exited (${code})`)));
    });
    // The CNI plugins must run in the node netns (the bridge lives there): wrappers enter it.
    binDir = join(tmp.path, 'cni-bin');
    mkdirSync(binDir);
    for (const plugin of ['bridge', 'host-local', 'portmap']) {
      writeFileSync(join(binDir, plugin), `#!/bin/sh\nexec ip netns exec ${lab.nodeNs} /usr/lib/cni/${plugin}\n`);
      chmodSync(join(binDir, plugin), 0o755);
    }
  });

  after(async () => {
    for (const p of cniPods) {
      if (!p.deleted) await delNetworkList(p.list, { containerId: p.id, netns: `/var/run/netns/${p.ns}`, ifName: 'eth0' }, { binDir }, p.result).catch(() => undefined);
      await run('ip', ['netns', 'del', p.ns]);
    }
    await lab?.destroy();
    tmp.remove();
  });

  const conflist = (ipMasq: boolean): CniNetworkConfList => {
    const list = nodeNetworkConflist({ podCIDRs: [lab.podCIDR], bridge: lab.bridge, ipamDataDir: join(tmp.path, 'ipam'), ipMasq });
    // Addresses .100 and up: the hand-wired lab pods hold .10 and .11.
    const ipam = list.plugins[0]!.ipam as { ranges: { subnet: string; rangeStart?: string }[][] };
    ipam.ranges[0]![0]!.rangeStart = '10.244.1.100';
    return list;
  };

  it('without masquerade, pods reach the outside with their own address (the baseline the rules change)', async () => {
    assert.equal(await seen(podA.ns, outside()), podA.ip);
  });

  let legacy: { ns: string; ip: string };
  it('a pod wired with the old ipMasq: true config is masqueraded by its own bridge plugin chain, even towards another node pod', async () => {
    legacy = await cniAttach('old', conflist(true));
    assert.equal(await seen(legacy.ns, otherNodePod()), lab.nodeIP);
  });

  const exec = () => countingRunner(lab.nodeNs);
  let first: ReturnType<typeof countingRunner>;
  it('installs with one read and one iptables-restore, and a repeated update runs nothing', async () => {
    first = exec();
    const m = new PodMasquerade({ exec: first, bridge: lab.bridge, bridgeNetwork: 'k8ts' });
    await m.update({ own: [lab.podCIDR], peers: ['10.244.2.0/24'] });
    assert.deepEqual(first.commands, ['iptables-save', 'iptables-restore']);
    await m.update({ own: [lab.podCIDR], peers: ['10.244.2.0/24'] });
    assert.deepEqual(first.commands, ['iptables-save', 'iptables-restore']);
  });

  it('a pod reaches the outside with the node address as its source', async () => {
    assert.equal(await seen(podA.ns, outside()), lab.nodeIP);
  });

  it('pod to pod on another node keeps the pod address', async () => {
    assert.equal(await seen(podA.ns, otherNodePod()), podA.ip);
  });

  it('pod to pod on the same node keeps the pod address', async () => {
    const r = await lab.http(podA.ns, `http://${lab.pods[1]!.ip}:8080/`);
    assert.equal(r.kind, 'ok');
    assert.equal((r as { body: string }).body, `pod1 ${podA.ip}`);
  });

  it('a pod wired by the real bridge plugin with k8ts conflist (ipMasq false) is masqueraded by the node, and keeps its address towards other nodes', async () => {
    const pod = await cniAttach('new', conflist(false));
    const save = await lab.mustExec(lab.nodeNs, 'iptables-save', ['-t', 'nat']);
    assert.doesNotMatch(save, new RegExp(`id: \\\\"masq-${lab.tag}-new\\\\"`), 'the bridge plugin made no per-pod chain');
    assert.equal(await seen(pod.ns, outside()), lab.nodeIP);
    assert.equal(await seen(pod.ns, otherNodePod()), pod.ip);
  });

  it('the old pod per-pod chain was emptied, so its traffic to another node keeps its address too', async () => {
    assert.equal(await seen(legacy.ns, otherNodePod()), legacy.ip);
    assert.equal(await seen(legacy.ns, outside()), lab.nodeIP);
  });

  it('the old pod DEL with its cached ipMasq: true config still succeeds and removes its chain', async () => {
    const p = cniPods.find((x) => x.ns === legacy.ns)!;
    await delNetworkList(p.list, { containerId: p.id, netns: `/var/run/netns/${p.ns}`, ifName: 'eth0' }, { binDir }, p.result);
    p.deleted = true;
    const save = await lab.mustExec(lab.nodeNs, 'iptables-save', ['-t', 'nat']);
    assert.doesNotMatch(save, /CNI-/);
  });

  it('a restarted agent finds the rules in the kernel as it would write them, and writes nothing', async () => {
    const again = exec();
    await new PodMasquerade({ exec: again, bridge: lab.bridge, bridgeNetwork: 'k8ts' }).update({ own: [lab.podCIDR], peers: ['10.244.2.0/24'] });
    assert.deepEqual(again.commands, ['iptables-save']);
  });

  it('when the other node goes, its pod network is masqueraded like any outside address', async () => {
    const m = new PodMasquerade({ exec: exec(), bridge: lab.bridge });
    await m.update({ own: [lab.podCIDR], peers: [] });
    assert.equal(await seen(podA.ns, otherNodePod()), lab.nodeIP);
    await m.update({ peers: ['10.244.2.0/24'] });
    assert.equal(await seen(podA.ns, otherNodePod()), podA.ip);
  });

  it('IPv6: a v6 podCIDR gets the ip6tables chain', async () => {
    const m = new PodMasquerade({ exec: exec(), bridge: lab.bridge });
    await m.update({ own: [lab.podCIDR, 'fd00:10:244:1::/64'], peers: ['10.244.2.0/24', 'fd00:10:244:2::/64'] });
    const save6 = await lab.mustExec(lab.nodeNs, 'ip6tables-save', ['-t', 'nat']);
    assert.match(save6, /-A K8TS-MASQ-kbr0 -s fd00:10:244:1::\/64 -d fd00:10:244:2::\/64 .* -j RETURN/);
    assert.match(save6, /-A K8TS-MASQ-kbr0 -s fd00:10:244:1::\/64 -m comment .* -j MASQUERADE --random-fully/);
    assert.match(save6, /-A POSTROUTING .* -j K8TS-MASQ-kbr0/);
  });

  it('removal (k8ts killall) takes the chain and its jump away in both families, and pods are no longer masqueraded', async () => {
    assert.equal(await removePodMasquerade({ bridge: lab.bridge, exec: commandRunner(NetnsLab.execPrefix(lab.nodeNs)) }), 2);
    for (const tool of ['iptables-save', 'ip6tables-save']) assert.doesNotMatch(await lab.mustExec(lab.nodeNs, tool, ['-t', 'nat']), /K8TS-MASQ/);
    assert.equal(await seen(podA.ns, outside()), podA.ip);
    assert.equal(await removePodMasquerade({ bridge: lab.bridge, exec: commandRunner(NetnsLab.execPrefix(lab.nodeNs)) }), 0);
  });
});
