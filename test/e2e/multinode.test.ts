// Several nodes on one machine, as kind does with containers (test/support/netnsCluster.ts): a
// server on the host and two `k8ts agent`s in network namespaces that join with the node token
// (TLS bootstrap). A pod on one agent fetches from a pod on the other by pod IP, and NetworkPolicy
// decides which namespaces may.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from '../support/k8tsServer.js';
import { startNetnsCluster, type NetnsAgent, type NetnsCluster } from '../support/netnsCluster.js';
import { buildBusyboxImage } from '../support/images.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/waitFor.js';

const IMAGE = 'localhost/e2e/busybox:1';
const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, bin)));
const ok = process.getuid?.() === 0 && has('runc') && has('nsenter') && existsSync('/usr/lib/cni/bridge');
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();

describe('a server and two agents in network namespaces', { skip: ok ? false : 'needs root, runc, nsenter and the CNI plugins' }, () => {
  const work = tempDir('k8ts-mn-img-');
  let cluster: NetnsCluster;
  let server: RunningServer;
  let agents: NetnsAgent[];
  let r: number;
  let k: NetnsCluster['k'];

  before(async () => {
    await buildBusyboxImage(work.path, IMAGE);
    cluster = await startNetnsCluster({ prefix: 'mn', subnet: 30 });
    ({ server, agents, r, k } = cluster);
    cluster.importImage(join(work.path, 'docker.tar'));
  });

  after(async () => {
    if (process.env.K8TS_E2E_KEEP) return;
    await cluster?.stop();
    work.remove();
  });

  it('registers both agents through TLS bootstrap, with their own addresses and pod CIDRs', async () => {
    const nodes = JSON.parse(await k('get', 'nodes', '-o', 'json')).items as { metadata: { name: string }; spec: { podCIDR?: string }; status: { addresses: { type: string; address: string }[] } }[];
    for (const a of agents) {
      const n = nodes.find((x) => x.metadata.name === a.name)!;
      assert.equal(n.status.addresses.find((x) => x.type === 'InternalIP')?.address, a.ip);
      assert.match(n.spec.podCIDR ?? '', new RegExp(`^10\\.${r}\\.`));
    }
    assert.match(await k('get', 'csr'), /system:bootstrap:k8ts-node\s+.*Approved,Issued/);
  });

  it('lets a pod on one agent fetch from a pod on the other by pod IP', async () => {
    const podYaml = (name: string, node: string, cmd: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  nodeName: ${node}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: ["sh", "-c", "${cmd}"]}\n`;
    for (const y of [podYaml('server-pod', 'mn-1', 'exec httpd -f -p 8080 -h /etc'), podYaml('client-pod', 'mn-2', 'exec sleep 600')]) {
      const res = await server.kubectl(['apply', '-f', '-'], { input: y });
      assert.equal(res.code, 0, res.stderr);
    }
    await waitFor('both pods Running', async () => ((await k('get', 'pods', '--no-headers')).match(/1\/1\s+Running/g) ?? []).length === 2, 90_000);
    const serverIP = (await k('get', 'pod', 'server-pod', '-o', 'jsonpath={.status.podIP}')).trim();
    const body = await waitFor('a cross-node fetch', async () => {
      const res = await server.kubectl(['exec', 'client-pod', '--', 'timeout', '5', 'wget', '-qO-', `http://${serverIP}:8080/hostname`]);
      return res.code === 0 ? res.stdout.trim() : undefined;
    }, 30_000).catch((err: unknown) => {
      const diag = agents.map((a) => `${a.name}: routes:\n${ip('-n', a.netns, 'route')}\nforward=${execFileSync('ip', ['netns', 'exec', a.netns, 'cat', '/proc/sys/net/ipv4/ip_forward']).toString()}`).join('\n');
      const tryRun = (cmd: string[]) => {
        try {
          return execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'pipe', timeout: 5000 }).toString().trim();
        } catch (e) {
          return `failed: ${(e as Error).message.split('\n')[0]}`;
        }
      };
      const probes = [
        `from mn-2 netns to server pod: ${tryRun(['ip', 'netns', 'exec', agents[1]!.netns, 'busybox', 'wget', '-qO-', `http://${serverIP}:8080/hostname`])}`,
        `from mn-1 netns to server pod: ${tryRun(['ip', 'netns', 'exec', agents[0]!.netns, 'busybox', 'wget', '-qO-', `http://${serverIP}:8080/hostname`])}`,
        `mn-1 iptables: ${tryRun(['ip', 'netns', 'exec', agents[0]!.netns, 'iptables-save'])}`,
      ];
      throw new Error(`${(err as Error).message}\n${diag}\n${probes.join('\n')}`);
    });
    assert.equal(body, 'server-pod');
    // And logs/exec reach a kubelet that is not on the server's host network namespace.
    assert.equal((await k('exec', 'server-pod', '--', 'hostname')).trim(), 'server-pod');
  });

  it('masquerades each agent pod network once per node (no per-pod CNI chains), keeping traffic to the other agent pod network un-NATed', async () => {
    const nodes = JSON.parse(await k('get', 'nodes', '-o', 'json')).items as { metadata: { name: string }; spec: { podCIDR?: string } }[];
    const cidr = (name: string) => nodes.find((n) => n.metadata.name === name)!.spec.podCIDR!;
    for (const [self, other] of [[agents[0]!, agents[1]!], [agents[1]!, agents[0]!]] as const) {
      const save = () => execFileSync('ip', ['netns', 'exec', self.netns, 'iptables-save', '-t', 'nat'], { stdio: 'pipe' }).toString();
      await waitFor(`${self.name} masquerade chain with ${other.name}'s pod network`, async () => save().includes(`-A K8TS-MASQ-cni0 -s ${cidr(self.name)} -d ${cidr(other.name)} `), 30_000);
      const nat = save();
      assert.match(nat, /^-A POSTROUTING .* -j K8TS-MASQ-cni0$/m);
      assert.ok(nat.includes(`-A K8TS-MASQ-cni0 -s ${cidr(self.name)} -m comment --comment "pod traffic leaving the pod networks" -j MASQUERADE --random-fully`), nat);
      assert.doesNotMatch(nat, /^:CNI-[0-9a-f]+ /m, 'the bridge plugin runs without ipMasq');
    }
  });

  it('enforces NetworkPolicy across nodes: a default-deny policy blocks, an allow rule lets one namespace through', async () => {
    const fetch = async (ns: string, pod: string, ip: string) =>
      (await server.kubectl(['exec', '-n', ns, pod, '--', 'timeout', '3', 'wget', '-qO-', `http://${ip}:8080/hostname`])).code === 0;
    const created = await server.kubectl(['create', 'namespace', 'np-other']);
    assert.equal(created.code, 0, created.stderr);
    const res = await server.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: v1\nkind: Pod\nmetadata: {name: other-client, namespace: np-other}\nspec:\n  nodeName: mn-2\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: ["sh", "-c", "exec sleep 600"]}\n`,
    });
    assert.equal(res.code, 0, res.stderr);
    await waitFor('the other client Running', async () => /1\/1\s+Running/.test(await k('get', 'pod', '-n', 'np-other', 'other-client', '--no-headers')), 90_000);
    const serverIP = (await k('get', 'pod', 'server-pod', '-o', 'jsonpath={.status.podIP}')).trim();
    await waitFor('both clients reach the server before any policy', async () => (await fetch('default', 'client-pod', serverIP)) && (await fetch('np-other', 'other-client', serverIP)), 30_000);
    const policy = (name: string, spec: string) => server.kubectl(['apply', '-f', '-'], { input: `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: default}\nspec:\n${spec}` });
    assert.equal((await policy('default-deny', '  podSelector: {}\n  policyTypes: [Ingress]\n')).code, 0);
    await waitFor('default-deny to block both clients', async () => !(await fetch('default', 'client-pod', serverIP)) && !(await fetch('np-other', 'other-client', serverIP)), 20_000);
    const allow = await policy('allow-np-other', '  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: np-other}\n');
    assert.equal(allow.code, 0, allow.stderr);
    await waitFor('np-other let through', async () => fetch('np-other', 'other-client', serverIP), 20_000);
    assert.equal(await fetch('default', 'client-pod', serverIP), false);
    // Each agent enforces for its own pods, in its own table.
    assert.match(execFileSync('ip', ['netns', 'exec', agents[0]!.netns, 'nft', 'list', 'table', 'inet', 'k8ts-netpol-cni0']).toString(), /ingress of pod default\/server-pod/);
    await server.kubectl(['delete', 'networkpolicy', '--all']);
    await server.kubectl(['delete', 'namespace', 'np-other', '--wait=false']);
  });
});
