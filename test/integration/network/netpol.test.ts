// NetworkPolicy enforcement against the real kernel, as root: a node network namespace with a
// bridge, four pod namespaces on it (namespaces x, y, z of the upstream matrix), an outside host
// behind the node, real TCP/UDP servers and clients (node processes inside each netns), and the
// controller fed from a real k8ts API server. Everything is created in namespaces named
// k8ts-netpol-<random>-* and removed in `after`; the host's own tables are never touched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Event, Namespace, Node, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import { loadKubeconfigConfig } from '../../../src/client/config.js';
import { RestClient } from '../../../src/client/restClient.js';
import { NetworkPolicyController } from '../../../src/network/policy/controller.js';
import { startK8tsServer, type RunningServer } from '../../support/k8tsServer.js';
import { tempDir } from '../../support/tmp.js';
import { waitFor } from '../../support/waitFor.js';

const which = (bin: string) => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, bin)));
const ready = process.getuid?.() === 0 && which('nft') && which('ip');
const tag = randomBytes(3).toString('hex');
const NS = (s: string) => `k8ts-netpol-${tag}-${s}`;
const NODE_NS = NS('node');
const EXT_NS = NS('ext');
const NODE = 'np-node';
const TABLE = 'k8ts-netpol';

interface PodDef {
  ns: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
}

const PODS: PodDef[] = [
  { ns: 'x', name: 'a', ip: '10.244.1.11', labels: { pod: 'a' } },
  { ns: 'x', name: 'b', ip: '10.244.1.12', labels: { pod: 'b' } },
  { ns: 'y', name: 'a', ip: '10.244.1.21', labels: { pod: 'a' } },
  { ns: 'z', name: 'a', ip: '10.244.1.31', labels: { pod: 'a' } },
];
const NODE_IP = '10.244.1.1';
const EXT_IP = '192.168.77.2';
const EXT_IP_EXCEPTED = '192.168.77.130';
const VIP = '10.96.0.50';

// A server and prober inside one netns: serves TCP and UDP on the given ports (answering its name),
// and runs probes asked for as JSON lines on stdin.
const AGENT = `
const net = require('net'), dgram = require('dgram'), readline = require('readline');
const [name, ...ports] = process.argv.slice(2);
let listening = 0;
const up = () => { if (++listening === ports.length * 2) process.stdout.write(JSON.stringify({ ready: true }) + '\\n'); };
for (const p of ports.map(Number)) {
  net.createServer((s) => { s.on('error', () => {}); s.end(name); }).listen(p, '0.0.0.0', up);
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(name, r.port, r.address));
  u.bind(p, '0.0.0.0', up);
}
function probe(c, done) {
  let finished = false;
  const finish = (ok, reply) => { if (!finished) { finished = true; done({ id: c.id, ok, reply }); } };
  if (c.proto === 'TCP') {
    const s = net.connect({ host: c.host, port: c.port, ...(c.from ? { localAddress: c.from } : {}) });
    let data = '';
    s.setTimeout(c.timeoutMs, () => { s.destroy(); finish(false, 'timeout'); });
    s.on('data', (d) => (data += d));
    s.on('end', () => { s.destroy(); finish(true, data); });
    s.on('error', (e) => finish(false, e.code));
  } else {
    const u = dgram.createSocket('udp4');
    const t = setTimeout(() => { u.close(); finish(false, 'timeout'); }, c.timeoutMs);
    u.on('message', (m) => { clearTimeout(t); u.close(); finish(true, String(m)); });
    u.on('error', (e) => { clearTimeout(t); finish(false, e.code); });
    u.bind({ port: 0, ...(c.from ? { address: c.from } : {}) }, () => u.send('ping', c.port, c.host));
  }
}
readline.createInterface({ input: process.stdin }).on('line', (l) => probe(JSON.parse(l), (r) => process.stdout.write(JSON.stringify(r) + '\\n')));
`;

class NetnsAgent {
  private readonly proc: ChildProcess;
  private readonly pending = new Map<number, (r: { ok: boolean; reply: string }) => void>();
  private next = 0;
  readonly ready: Promise<void>;

  constructor(netns: string, script: string, name: string, ports: number[]) {
    this.proc = spawn('ip', ['netns', 'exec', netns, process.execPath, script, name, ...ports.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let markReady: () => void;
    this.ready = new Promise((r) => (markReady = r));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; id?: number; ok: boolean; reply: string };
      if (msg.ready) return markReady();
      this.pending.get(msg.id!)?.(msg);
      this.pending.delete(msg.id!);
    });
  }

  probe(proto: 'TCP' | 'UDP', host: string, port: number, o: { from?: string; timeoutMs?: number } = {}): Promise<{ ok: boolean; reply: string }> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.proc.stdin!.write(JSON.stringify({ id, proto, host, port, timeoutMs: o.timeoutMs ?? 400, ...(o.from ? { from: o.from } : {}) }) + '\n');
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
const inNs = (ns: string, ...argv: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'pipe' }).toString();

describe('NetworkPolicy enforcement in a node network namespace', { skip: ready ? false : 'needs root, nft and ip' }, () => {
  const work = tempDir('k8ts-netpol-');
  const netnses: string[] = [];
  const agents = new Map<string, NetnsAgent>();
  const abort = new AbortController();
  const failFlag = join(work.path, 'fail-nft');
  let server: RunningServer;
  let client: RestClient;
  let controller: NetworkPolicyController;

  const policies = () => client.resource<NetworkPolicy>('networking.k8s.io', 'v1', 'networkpolicies');

  /** Makes `specs` the only policies in the cluster. */
  async function setPolicies(specs: [ns: string, name: string, spec: Partial<NetworkPolicySpec>][]): Promise<void> {
    for (const ns of ['x', 'y', 'z']) {
      for (const p of (await policies().list({ namespace: ns })).items) await policies().delete(ns, p.metadata!.name!);
    }
    for (const [ns, name, spec] of specs) {
      await policies().create({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: ns, name }, spec: { podSelector: {}, ...spec } });
    }
  }

  type Probe = [from: string, to: string, what: `${'TCP' | 'UDP'}/${number}`, allowed: boolean];
  const addr = (ref: string) => (ref === 'node' ? NODE_IP : ref === 'ext' ? EXT_IP : ref === 'ext-excepted' ? EXT_IP_EXCEPTED : (PODS.find((p) => `${p.ns}/${p.name}` === ref)?.ip ?? ref));
  const agentOf = (ref: string) => agents.get(ref.startsWith('ext') ? 'ext' : ref)!;

  async function observe(probes: Probe[]): Promise<Probe[]> {
    return Promise.all(
      probes.map(async ([from, to, what]) => {
        const [proto, port] = what.split('/') as ['TCP' | 'UDP', string];
        const r = await agentOf(from).probe(proto, addr(to), Number(port), from === 'ext-excepted' ? { from: EXT_IP_EXCEPTED } : {});
        return [from, to, what, r.ok] as Probe;
      }),
    );
  }

  /** Waits until every probe has its expected outcome; returns how long that took. */
  async function expectReach(probes: Probe[], timeoutMs = 5000): Promise<number> {
    const t0 = Date.now();
    let last: Probe[] = [];
    try {
      await waitFor('the expected connectivity', async () => {
        last = await observe(probes);
        return last.every((p, i) => p[3] === probes[i]![3]);
      }, timeoutMs, 50);
    } catch {
      assert.deepEqual(last, probes, `connectivity differs; ruleset:\n${await controller.nft.listTable(TABLE)}`);
    }
    return Date.now() - t0;
  }

  before(async () => {
    // The node: a bridge for the pods, forwarding on, bridged traffic through netfilter (set by the controller).
    for (const n of [NODE_NS, EXT_NS, ...PODS.map((p) => NS(`${p.ns}${p.name}`))]) {
      ip('netns', 'add', n);
      netnses.push(n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    ip('-n', NODE_NS, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', NODE_NS, 'addr', 'add', `${NODE_IP}/24`, 'dev', 'br0');
    ip('-n', NODE_NS, 'link', 'set', 'br0', 'up');
    inNs(NODE_NS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    // Off, so the test sees the controller turn it on (a fresh netns here starts with it on).
    inNs(NODE_NS, 'sh', '-c', 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables');
    PODS.forEach((p, i) => {
      const podNs = NS(`${p.ns}${p.name}`);
      ip('-n', NODE_NS, 'link', 'add', `veth${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
      ip('-n', NODE_NS, 'link', 'set', `veth${i}`, 'master', 'br0', 'up');
      ip('-n', podNs, 'addr', 'add', `${p.ip}/24`, 'dev', 'eth0');
      ip('-n', podNs, 'link', 'set', 'eth0', 'up');
      ip('-n', podNs, 'route', 'add', 'default', 'via', NODE_IP);
    });
    // A host outside the pod network, behind the node, with a second address inside an ipBlock except.
    ip('-n', NODE_NS, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', EXT_NS);
    ip('-n', NODE_NS, 'addr', 'add', '192.168.77.1/24', 'dev', 'ext0');
    ip('-n', NODE_NS, 'link', 'set', 'ext0', 'up');
    ip('-n', EXT_NS, 'addr', 'add', `${EXT_IP}/24`, 'dev', 'eth0');
    ip('-n', EXT_NS, 'addr', 'add', `${EXT_IP_EXCEPTED}/24`, 'dev', 'eth0');
    ip('-n', EXT_NS, 'link', 'set', 'eth0', 'up');
    ip('-n', EXT_NS, 'route', 'add', 'default', 'via', '192.168.77.1');
    // A Service VIP as kube-proxy programs it: DNAT in prerouting, so forward sees the pod address.
    execFileSync('ip', ['netns', 'exec', NODE_NS, 'nft', '-f', '-'], {
      input: `table ip k8ts-netpol-test-svc {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tip daddr ${VIP} tcp dport 80 dnat to 10.244.1.11:80\n\t}\n}\n`,
      stdio: ['pipe', 'pipe', 'pipe'],
    });

    const script = join(work.path, 'agent.cjs');
    writeFileSync(script, AGENT);
    for (const p of PODS) agents.set(`${p.ns}/${p.name}`, new NetnsAgent(NS(`${p.ns}${p.name}`), script, `${p.ns}/${p.name}`, [80, 81]));
    agents.set('node', new NetnsAgent(NODE_NS, script, 'node', [8080]));
    agents.set('ext', new NetnsAgent(EXT_NS, script, 'ext', [80]));
    await Promise.all([...agents.values()].map((a) => a.ready));

    server = await startK8tsServer(['--disable-controller-manager', '--disable-scheduler']);
    client = new RestClient(await loadKubeconfigConfig({ path: server.kubeconfig }), { component: 'netpol-test' });
    await client.resource<Node>('', 'v1', 'nodes').create({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
    for (const ns of ['x', 'y', 'z']) {
      await client.resource<Namespace>('', 'v1', 'namespaces').create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ns } } });
    }
    const pods = client.resource<Pod>('', 'v1', 'pods');
    for (const p of PODS) {
      const ports = [80, 81].flatMap((port) => (['TCP', 'UDP'] as const).map((protocol) => ({ containerPort: port, protocol, name: `serve-${port}-${protocol.toLowerCase()}` })));
      const created = await pods.create({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: p.ns, name: p.name, labels: p.labels }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'agnhost', ports }] } });
      await pods.updateStatus({ ...created, status: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] } });
    }
    // nft through a wrapper that fails while a flag file exists: a real failed transaction, for the retry test.
    const nftWrapper = join(work.path, 'nft');
    writeFileSync(nftWrapper, `#!/bin/sh\nif [ -e ${failFlag} ]; then echo "Error: injected failure" >&2; exit 1; fi\nexec nft "$@"\n`);
    chmodSync(nftWrapper, 0o755);
    controller = new NetworkPolicyController({ client, nodeName: NODE, nft: { netns: NODE_NS, nftPath: nftWrapper }, table: TABLE, resyncPeriodMs: 0, retryBaseMs: 100, retryMaxMs: 400 });
    await controller.start(abort.signal);
    await waitFor('the first ruleset', async () => controller.applied > 0, 15_000);
  });

  after(async () => {
    abort.abort();
    await controller?.stopped().catch(() => undefined);
    await Promise.all([...agents.values()].map((a) => a.stop()));
    for (const n of netnses) {
      try {
        ip('netns', 'delete', n);
      } catch {
        // already gone
      }
    }
    await server?.stop();
    rmSync(work.path, { recursive: true, force: true });
  });

  it('lets everything through while no policy selects a pod, and sets bridge netfilter in the node', async () => {
    await setPolicies([]);
    await expectReach([
      ['y/a', 'x/a', 'TCP/80', true],
      ['z/a', 'x/b', 'UDP/81', true],
      ['ext', 'x/a', 'TCP/80', true],
      ['x/a', 'ext', 'TCP/80', true],
    ]);
    assert.equal(inNs(NODE_NS, 'cat', '/proc/sys/net/bridge/bridge-nf-call-iptables').trim(), '1');
  });

  it('a default-deny ingress policy blocks new connections into the namespace, while replies of its own connections come back', async () => {
    await setPolicies([['x', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }]]);
    await expectReach([
      ['y/a', 'x/a', 'TCP/80', false],
      ['y/a', 'x/a', 'UDP/80', false],
      ['x/b', 'x/a', 'TCP/81', false],
      ['ext', 'x/b', 'TCP/80', false],
      // x/a's own connections work: their replies pass although x/a accepts no new ingress.
      ['x/a', 'y/a', 'TCP/80', true],
      ['x/a', 'y/a', 'UDP/81', true],
      ['y/a', 'z/a', 'TCP/80', true],
    ]);
  });

  it('the node itself still reaches its pods under default-deny (kubelet probes)', async () => {
    await setPolicies([['x', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }]]);
    await expectReach([
      ['node', 'x/a', 'TCP/80', true],
      ['y/a', 'x/a', 'TCP/80', false],
    ]);
  });

  it('an allow rule with a namespaceSelector lets one namespace through, added to default-deny', async () => {
    await setPolicies([
      ['x', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }],
      ['x', 'allow-y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }],
    ]);
    await expectReach([
      ['y/a', 'x/a', 'TCP/80', true],
      ['y/a', 'x/b', 'UDP/81', true],
      ['z/a', 'x/a', 'TCP/80', false],
      ['x/b', 'x/a', 'TCP/80', false],
    ]);
  });

  it('policies see pod addresses after a Service DNAT in prerouting, so they do not fight kube-proxy', async () => {
    await setPolicies([['x', 'allow-y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }]]);
    await expectReach([
      ['y/a', VIP, 'TCP/80', true],
      ['z/a', VIP, 'TCP/80', false],
    ]);
  });

  it('an ipBlock admits its CIDR but not the excepted range', async () => {
    await setPolicies([['x', 'from-outside', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ ipBlock: { cidr: '192.168.77.0/24', except: ['192.168.77.128/25'] } }] }] }]]);
    await expectReach([
      ['ext', 'x/b', 'TCP/80', true],
      ['ext-excepted', 'x/b', 'TCP/80', false],
      ['ext-excepted', 'x/a', 'TCP/80', true],
      ['y/a', 'x/b', 'TCP/80', false],
    ]);
  });

  it('named ports resolve to the target pod container ports, protocol included', async () => {
    await setPolicies([['x', 'named', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 'serve-81-tcp' }, { port: 'serve-80-udp', protocol: 'UDP' }] }] }]]);
    await expectReach([
      ['y/a', 'x/a', 'TCP/81', true],
      ['y/a', 'x/a', 'TCP/80', false],
      ['y/a', 'x/a', 'UDP/80', true],
      ['y/a', 'x/a', 'UDP/81', false],
    ]);
  });

  it('egress policies: default-deny egress stops new connections out (to pods, outside and the node), a port rule opens one port', async () => {
    await setPolicies([
      ['x', 'deny-egress', { podSelector: { matchLabels: { pod: 'b' } }, policyTypes: ['Egress'] }],
      ['x', 'egress-81', { podSelector: { matchLabels: { pod: 'b' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }], ports: [{ port: 81, protocol: 'UDP' }] }] }],
    ]);
    await expectReach([
      ['x/b', 'y/a', 'TCP/80', false],
      ['x/b', 'ext', 'TCP/80', false],
      ['x/b', 'node', 'TCP/8080', false],
      ['x/b', 'z/a', 'UDP/81', true],
      ['x/b', 'z/a', 'UDP/80', false],
      ['x/b', 'x/b', 'TCP/80', true],
      // Ingress of x/b is not restricted by egress policies.
      ['y/a', 'x/b', 'TCP/80', true],
      ['x/a', 'ext', 'TCP/80', true],
    ]);
  });

  it('changes take effect within a second of the API write', async () => {
    await setPolicies([]);
    await expectReach([['z/a', 'y/a', 'TCP/80', true]]);
    const before = controller.applied;
    const t0 = Date.now();
    await policies().create({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: 'y', name: 'deny' }, spec: { podSelector: {} } });
    await waitFor('the new ruleset', async () => controller.applied > before, 5000, 10);
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `ruleset applied ${ms} ms after the write`);
    await expectReach([['z/a', 'y/a', 'TCP/80', false]], 2000);
    // A pod label change moves the pod out of a policy's reach too.
    const pods = client.resource<Pod>('', 'v1', 'pods');
    await setPolicies([['y', 'deny-a', { podSelector: { matchLabels: { pod: 'a' } } }]]);
    await expectReach([['z/a', 'y/a', 'TCP/80', false]]);
    await pods.patch('y', 'a', { metadata: { labels: { pod: 'other' } } }, { type: 'merge' });
    await expectReach([['z/a', 'y/a', 'TCP/80', true]], 3000);
    await pods.patch('y', 'a', { metadata: { labels: { pod: 'a' } } }, { type: 'merge' });
  });

  it('a failed nft transaction leaves the previous rules in force, is reported, and is retried with back-off until it applies', async () => {
    await setPolicies([['x', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }]]);
    await expectReach([['y/a', 'x/a', 'TCP/80', false]]);
    const failures = async () => (await controller.registry.getSingleMetric('k8ts_network_policy_sync_failures_total')!.get()).values[0]?.value ?? 0;
    const failedBefore = await failures();
    writeFileSync(failFlag, '');
    try {
      await setPolicies([]);
      await waitFor('failed syncs', async () => (await failures()) >= failedBefore + 2, 5000, 20);
      // The old ruleset still holds.
      await expectReach([['y/a', 'x/a', 'TCP/80', false]]);
      const ev = await waitFor('the failure event', async () => {
        const list = (await client.resource<Event>('', 'v1', 'events').list({ namespace: 'default' })).items;
        return list.find((e) => e.reason === 'NetworkPolicySyncFailed' && e.involvedObject.name === NODE);
      }, 5000);
      assert.equal(ev.type, 'Warning');
      assert.match(ev.message ?? '', /injected failure/);
    } finally {
      rmSync(failFlag, { force: true });
    }
    await expectReach([['y/a', 'x/a', 'TCP/80', true]], 5000);
  });

  it('removeRules deletes the table and with it all enforcement', async () => {
    await setPolicies([['x', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }]]);
    await expectReach([['y/a', 'x/a', 'TCP/80', false]]);
    abort.abort();
    await controller.stopped();
    await controller.removeRules();
    assert.equal(await controller.nft.listTable(TABLE), '');
    await expectReach([['y/a', 'x/a', 'TCP/80', true]]);
  });
});
