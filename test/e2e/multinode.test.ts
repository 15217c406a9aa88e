// Several nodes on one machine, as kind does with containers: a server on the host and two
// `k8ts agent`s, each in its own network namespace joined to a host bridge, that join with the
// node token (TLS bootstrap). A pod on one agent fetches from a pod on the other by pod IP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startK8tsServer, type RunningServer } from '../support/k8tsServer.js';
import { buildBusyboxImage } from '../support/images.js';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/waitFor.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));
const IMAGE = 'localhost/e2e/busybox:1';
const has = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, bin)));
const ok = process.getuid?.() === 0 && has('runc') && has('nsenter') && existsSync('/usr/lib/cni/bridge');
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();

describe('a server and two agents in network namespaces', { skip: ok ? false : 'needs root, runc, nsenter and the CNI plugins' }, () => {
  const r = Math.floor(Math.random() * 200) + 20;
  const bridge = `k8tsmn${r}`;
  const hostIP = `172.30.${r}.1`;
  const agents: { name: string; netns: string; ip: string; dir: ReturnType<typeof tempDir>; proc?: ChildProcess; log: string }[] = [1, 2].map((i) => ({
    name: `mn-${i}`,
    netns: `k8ts-t-mn${r}-${i}`,
    ip: `172.30.${r}.${10 + i}`,
    dir: tempDir(`k8ts-mn-${i}-`),
    log: '',
  }));
  const work = tempDir('k8ts-mn-img-');
  let server: RunningServer;
  const k = async (...args: string[]) => {
    const res = await server.kubectl(args, { timeoutMs: 60_000 });
    if (res.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };

  before(async () => {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${hostIP}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const [i, a] of agents.entries()) {
      ip('netns', 'add', a.netns);
      ip('link', 'add', `k8tsv${r}h${i}`, 'type', 'veth', 'peer', 'name', `k8tsv${r}n${i}`);
      ip('link', 'set', `k8tsv${r}h${i}`, 'master', bridge, 'up');
      ip('link', 'set', `k8tsv${r}n${i}`, 'netns', a.netns);
      ip('-n', a.netns, 'link', 'set', `k8tsv${r}n${i}`, 'name', 'eth0');
      ip('-n', a.netns, 'addr', 'add', `${a.ip}/24`, 'dev', 'eth0');
      ip('-n', a.netns, 'link', 'set', 'eth0', 'up');
      ip('-n', a.netns, 'link', 'set', 'lo', 'up');
      ip('-n', a.netns, 'route', 'add', 'default', 'via', hostIP);
    }
    await buildBusyboxImage(work.path, IMAGE);
    server = await startK8tsServer(['--bind-address', '0.0.0.0', '--advertise-address', hostIP, '--tls-san', hostIP, '--cluster-cidr', `10.${r}.0.0/16`], { readyTimeoutMs: 60_000 });
    const port = server.port;
    const token = readFileSync(join(server.dataDir, 'server', 'node-token'), 'utf8').trim();
    for (const a of agents) {
      a.proc = spawn(
        'nsenter',
        [`--net=/var/run/netns/${a.netns}`, process.execPath, BIN, 'agent', '--server', `https://${hostIP}:${port}`, '--token', token, '--data-dir', a.dir.path, '--node-name', a.name, '--node-ip', a.ip, '--runtime', 'process', '--kubelet-port', '0', '--cni-bridge', 'cni0'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      a.proc.stderr!.on('data', (d: Buffer) => (a.log = (a.log + d.toString()).slice(-20_000)));
      a.proc.stdout!.on('data', (d: Buffer) => (a.log = (a.log + d.toString()).slice(-20_000)));
    }
    await waitFor('both agents Ready', async () => ((await k('get', 'nodes', '--no-headers')).match(/\sReady\s/g) ?? []).length === 2, 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${agents.map((a) => a.log.slice(-3000)).join('\n----\n')}`);
    });
    for (const a of agents) execFileSync(BIN, ['images', 'import', '--data-dir', a.dir.path, join(work.path, 'docker.tar')], { stdio: 'pipe' });
  });

  after(async () => {
    if (process.env.K8TS_E2E_KEEP) return;
    await server?.kubectl(['delete', 'pods', '--all', '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 }).catch(() => undefined);
    for (const a of agents) {
      if (a.proc && a.proc.exitCode === null) {
        a.proc.kill('SIGTERM');
        await new Promise((res) => a.proc!.once('exit', res));
      }
      try {
        execFileSync('nsenter', [`--net=/var/run/netns/${a.netns}`, process.execPath, BIN, 'killall', '--data-dir', a.dir.path, '--cni-bridge', 'cni0'], { stdio: 'pipe' });
      } catch {
        // nothing left
      }
      try {
        ip('netns', 'delete', a.netns);
      } catch {
        // already gone
      }
      a.dir.remove();
    }
    try {
      ip('link', 'delete', bridge);
    } catch {
      // already gone
    }
    await server?.stop();
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
