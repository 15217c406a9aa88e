// A throwaway network lab for proxy tests: a "node" network namespace with a pod bridge, a few
// "pod" namespaces on it (veth) running tiny HTTP and UDP servers, and an "outside host" namespace
// linked to the node. Nothing touches the host's own network: every name is prefixed by the owner
// and a random tag, every interface lives inside the lab's namespaces, and destroy() removes it all.
//
//   ext (192.168.200.2, default via node) ──eth0/ext0── node (default via ext) (192.168.200.1; bridge kbr0 10.244.1.1/24) ──veth── pod-N (10.244.1.(10+N))
//
// Processes are started with `ip netns exec` and killed by their own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LabPod {
  name: string;
  /** The pod's network namespace name. */
  ns: string;
  ip: string;
  /** The node-side veth of the pod (a port of the bridge). */
  hostVeth: string;
}

export type HttpOutcome =
  | { kind: 'ok'; status: number; body: string; ms: number }
  | { kind: 'refused' | 'timeout' | 'unreachable' | 'reset' | 'error'; error: string; ms: number };

export interface UdpOutcome {
  kind: 'ok' | 'timeout' | 'error';
  body?: string;
  error?: string;
}

/** Node code of the pod servers: HTTP on HTTP_PORT and a UDP echo on UDP_PORT, both answering `<pod> <client ip>`. */
const SERVER_SCRIPT = `
const http = require('node:http'); const dgram = require('node:dgram');
const name = process.env.POD_NAME;
http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(name + ' ' + req.socket.remoteAddress.replace('::ffff:', '')); })
  .listen(Number(process.env.HTTP_PORT), '0.0.0.0', () => process.stdout.write('ready\\n'));
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(name + ' ' + r.address + ' ' + m.toString(), r.port, r.address));
u.bind(Number(process.env.UDP_PORT), '0.0.0.0');
`;

/** One HTTP GET (or N of them with `count`); prints a JSON array of outcomes. */
const HTTP_CLIENT_SCRIPT = `
const http = require('node:http');
const [url, count, timeoutMs, localAddress] = process.argv.slice(1);
const one = () => new Promise((resolve) => {
  const t0 = Date.now(); let done = false;
  const fin = (o) => { if (!done) { done = true; o.ms = Date.now() - t0; resolve(o); } };
  const req = http.get(url, { agent: false, timeout: Number(timeoutMs), ...(localAddress ? { localAddress } : {}) }, (res) => {
    let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => fin({ kind: 'ok', status: res.statusCode, body }));
    res.on('error', (e) => fin({ kind: 'reset', error: String(e) }));
  });
  req.on('timeout', () => { req.destroy(); fin({ kind: 'timeout', error: 'timed out after ' + timeoutMs + 'ms' }); });
  req.on('error', (e) => fin({ kind: e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? 'unreachable' : e.code === 'ECONNRESET' ? 'reset' : 'error', error: e.code + ' ' + e.message }));
});
(async () => { const out = []; for (let i = 0; i < Number(count); i++) out.push(await one()); process.stdout.write(JSON.stringify(out)); })();
`;

/** One UDP datagram from an optional fixed source port; prints the reply as JSON. */
const UDP_CLIENT_SCRIPT = `
const dgram = require('node:dgram');
const [host, port, message, timeoutMs, sourcePort] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const t = setTimeout(() => { process.stdout.write(JSON.stringify({ kind: 'timeout' })); s.close(); }, Number(timeoutMs));
s.on('message', (m) => { clearTimeout(t); process.stdout.write(JSON.stringify({ kind: 'ok', body: m.toString() })); s.close(); });
s.on('error', (e) => { clearTimeout(t); process.stdout.write(JSON.stringify({ kind: 'error', error: String(e) })); s.close(); });
s.bind(Number(sourcePort) || 0, () => s.send(message, Number(port), host));
`;

export const LAB_HTTP_PORT = 8080;
export const LAB_UDP_PORT = 5300;

/** Runs a command; never throws on a non-zero exit (the caller reads `code`). */
export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    if (opts.input !== undefined) {
      // A command that exits before reading its input closes the pipe; its exit code tells the story.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input !== undefined ? { input } : {});
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface NetnsLabOptions {
  /** Names start with `k8ts-<owner>-`; use your component's name. */
  owner: string;
  /** Pods to create at once (more with addPod). */
  pods?: number;
  /** Start the HTTP/UDP servers in each pod (default true). */
  servers?: boolean;
}

export class NetnsLab {
  readonly tag: string;
  readonly nodeNs: string;
  readonly extNs: string;
  /** The node's address on the link to the outside host (what NodePorts answer on). */
  readonly nodeIP = '192.168.200.1';
  readonly extIP = '192.168.200.2';
  /** The pod network of the lab node and the bridge's address on it. */
  readonly podCIDR = '10.244.1.0/24';
  readonly bridgeIP = '10.244.1.1';
  readonly bridge = 'kbr0';
  readonly pods: LabPod[] = [];
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<ChildProcess>();
  private readonly servers = new Map<string, ChildProcess>();
  private nextPod = 0;

  private constructor(readonly owner: string) {
    this.tag = randomBytes(3).toString('hex');
    this.nodeNs = `k8ts-${owner}-${this.tag}-node`;
    this.extNs = `k8ts-${owner}-${this.tag}-ext`;
  }

  /** Builds the lab; on failure everything made so far is removed before the error is thrown. */
  static async create(opts: NetnsLabOptions): Promise<NetnsLab> {
    const lab = new NetnsLab(opts.owner);
    try {
      await lab.setUp();
      for (let i = 0; i < (opts.pods ?? 2); i++) await lab.addPod({ server: opts.servers ?? true });
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /** `ip netns exec <ns>` as an argv prefix, for code that runs its tools in a namespace. */
  static execPrefix(ns: string): string[] {
    return ['ip', 'netns', 'exec', ns];
  }

  /** Runs a command inside a lab namespace. */
  exec(ns: string, cmd: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  async mustExec(ns: string, cmd: string, args: readonly string[] = [], input?: string): Promise<string> {
    return must('ip', ['netns', 'exec', ns, cmd, ...args], input);
  }

  private async addNs(name: string): Promise<void> {
    await must('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  private async setUp(): Promise<void> {
    await this.addNs(this.nodeNs);
    await this.addNs(this.extNs);
    const n = ['-n', this.nodeNs];
    // The node routes between the outside link and the pod bridge; bridged pod traffic passes
    // iptables too (br_netfilter), which hairpin traffic through a service needs.
    await this.mustExec(this.nodeNs, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await this.exec(this.nodeNs, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']);
    await must('ip', [...n, 'link', 'add', this.bridge, 'type', 'bridge']);
    await must('ip', [...n, 'addr', 'add', `${this.bridgeIP}/24`, 'dev', this.bridge]);
    await must('ip', [...n, 'link', 'set', this.bridge, 'up']);
    await must('ip', [...n, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.extNs]);
    await must('ip', [...n, 'addr', 'add', `${this.nodeIP}/24`, 'dev', 'ext0']);
    await must('ip', [...n, 'link', 'set', 'ext0', 'up']);
    await must('ip', ['-n', this.extNs, 'addr', 'add', `${this.extIP}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', this.extNs, 'link', 'set', 'eth0', 'up']);
    // The outside host reaches service and external IPs through the node; the node's own default
    // route points outside, as a real node's gateway does (so unmatched service IPs are routable).
    await must('ip', ['-n', this.extNs, 'route', 'add', 'default', 'via', this.nodeIP]);
    await must('ip', [...n, 'route', 'add', 'default', 'via', this.extIP]);
  }

  /** Adds a pod namespace on the bridge; with `server`, starts its HTTP and UDP servers and waits until they listen. */
  async addPod(opts: { server?: boolean } = {}): Promise<LabPod> {
    const i = this.nextPod++;
    const pod: LabPod = { name: `pod${i}`, ns: `k8ts-${this.owner}-${this.tag}-p${i}`, ip: `10.244.1.${10 + i}`, hostVeth: `veth${i}` };
    await this.addNs(pod.ns);
    const n = ['-n', this.nodeNs];
    await must('ip', [...n, 'link', 'add', pod.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
    await must('ip', [...n, 'link', 'set', pod.hostVeth, 'master', this.bridge]);
    // Hairpin: a pod reaching itself through a service leaves and re-enters on the same bridge port.
    await must('ip', [...n, 'link', 'set', pod.hostVeth, 'type', 'bridge_slave', 'hairpin', 'on']);
    await must('ip', [...n, 'link', 'set', pod.hostVeth, 'up']);
    await must('ip', ['-n', pod.ns, 'addr', 'add', `${pod.ip}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', pod.ns, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', pod.ns, 'route', 'add', 'default', 'via', this.bridgeIP]);
    this.pods.push(pod);
    if (opts.server ?? true) await this.startServer(pod);
    return pod;
  }

  /** Starts `pod`'s servers (HTTP on LAB_HTTP_PORT, UDP echo on LAB_UDP_PORT) and waits until they listen. */
  async startServer(pod: LabPod): Promise<void> {
    const child = this.spawnIn(pod.ns, process.execPath, ['-e', SERVER_SCRIPT], { POD_NAME: pod.name, HTTP_PORT: String(LAB_HTTP_PORT), UDP_PORT: String(LAB_UDP_PORT) });
    this.servers.set(pod.name, child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`server in ${pod.name} did not start: ${out}`)), 10_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`server in ${pod.name} exited (${code})`));
      });
    });
  }

  /** Stops `pod`'s servers (the pod stays: connections to it are then refused by its kernel). */
  async stopServer(pod: LabPod): Promise<void> {
    const child = this.servers.get(pod.name);
    if (!child) return;
    this.servers.delete(pod.name);
    await this.kill(child);
  }

  /** Starts a long-running process in a lab namespace; destroy() kills it if the test does not. */
  spawnIn(ns: string, cmd: string, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.procs.add(child);
    child.once('exit', () => this.procs.delete(child));
    return child;
  }

  async kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
  }

  /** HTTP GETs from namespace `fromNs`, one after another, each with its own connection. */
  async httpMany(fromNs: string, url: string, count: number, opts: { timeoutMs?: number; localAddress?: string } = {}): Promise<HttpOutcome[]> {
    const timeoutMs = opts.timeoutMs ?? 2000;
    const r = await this.exec(fromNs, process.execPath, ['-e', HTTP_CLIENT_SCRIPT, url, String(count), String(timeoutMs), opts.localAddress ?? ''], { timeoutMs: timeoutMs * count + 10_000 });
    if (r.code !== 0) throw new Error(`http client in ${fromNs} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as HttpOutcome[];
  }

  async http(fromNs: string, url: string, opts: { timeoutMs?: number; localAddress?: string } = {}): Promise<HttpOutcome> {
    return (await this.httpMany(fromNs, url, 1, opts))[0]!;
  }

  /** One UDP request/reply from `fromNs`; a fixed `sourcePort` keeps the same conntrack flow across calls. */
  async udp(fromNs: string, host: string, port: number, opts: { message?: string; timeoutMs?: number; sourcePort?: number } = {}): Promise<UdpOutcome> {
    const r = await this.exec(fromNs, process.execPath, ['-e', UDP_CLIENT_SCRIPT, host, String(port), opts.message ?? 'ping', String(opts.timeoutMs ?? 1000), String(opts.sourcePort ?? 0)]);
    if (r.code !== 0) throw new Error(`udp client in ${fromNs} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as UdpOutcome;
  }

  /** Kills every process the lab started and deletes its namespaces (and so every interface in them). */
  async destroy(): Promise<void> {
    await Promise.all([...this.procs].map((p) => this.kill(p)));
    for (const ns of this.namespaces.reverse()) await run('ip', ['netns', 'del', ns]);
    this.namespaces.length = 0;
  }
}
