// Starts `bin/k8ts server` as a user would (own process, temp data dir, random port) and runs
// the real kubectl against it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './etcd.js';
import { tempDir } from './tmp.js';

const BIN = fileURLToPath(new URL('../../../bin/k8ts', import.meta.url));

export interface RunningServer {
  port: number;
  dataDir: string;
  kubeconfig: string;
  log(): string;
  kubectl(args: string[], opts?: { input?: string; binary?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Stops the server and removes its data dir. */
  stop(): Promise<void>;
  /** Stops the server process but keeps its data dir (for outage tests); `resume` starts it again. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data dir, and waits until it is ready. */
  resume(): Promise<void>;
  /** halt, then resume. */
  restart(): Promise<void>;
}

/**
 * `opts.agent`: run the server's own node (kubelet + runtime) too; off by default, so tests of the
 * control plane start no containers and share no host bridge or kubelet port.
 * `opts.addons`: deploy cluster DNS and kube-proxy as the server does by default; off in tests
 * unless asked for, so their pods do not take node capacity other tests count on, and a kube-proxy
 * on the host network never programs the host's iptables.
 * `opts.netns`: run the server (and kubectl) inside this network namespace (`ip netns` name).
 */
export async function startK8tsServer(extraArgs: string[] = [], opts: { readyTimeoutMs?: number; agent?: boolean; addons?: boolean; netns?: string } = {}): Promise<RunningServer> {
  if (!opts.agent && !extraArgs.includes('--disable-agent')) extraArgs = [...extraArgs, '--disable-agent'];
  if (!opts.addons) extraArgs = [...extraArgs, '--disable', 'coredns', '--disable-kube-proxy'];
  const inNetns = (argv: string[]): string[] => (opts.netns ? ['nsenter', `--net=/var/run/netns/${opts.netns}`, ...argv] : argv);
  const dir = tempDir('k8ts-srv-');
  const port = await freePort();
  const kubeconfig = join(dir.path, 'kubeconfig.yaml');
  let log = '';
  const kubectl: RunningServer['kubectl'] = (args, o = {}) =>
    new Promise((resolve) => {
      const [cmd, ...argv] = inNetns([o.binary ?? 'kubectl', '--kubeconfig', kubeconfig, ...args]);
      const p = execFile(cmd!, argv, { timeout: o.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
      if (o.input !== undefined) p.stdin!.end(o.input);
    });
  let child: ChildProcess;
  const launch = () => {
    const [cmd, ...argv] = inNetns([
      process.execPath,
      BIN,
      'server',
      '--data-dir',
      dir.path,
      '--https-listen-port',
      String(port),
      '--bind-address',
      '127.0.0.1',
      '--write-kubeconfig',
      kubeconfig,
      ...extraArgs,
    ]);
    child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, K8TS_LOG_LEVEL: process.env.K8TS_LOG_LEVEL ?? 'warn' } });
    child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  };
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  };
  const stop = async () => {
    await kill();
    dir.remove();
  };
  const waitReady = async () => {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null) {
        await stop();
        throw new Error(`k8ts server exited (${child.exitCode}): ${log.slice(-2000)}`);
      }
      if (existsSync(kubeconfig) && readFileSync(kubeconfig, 'utf8').includes('server:')) {
        const r = await kubectl(['get', '--raw', '/readyz'], { timeoutMs: 5000 });
        if (r.code === 0) break;
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`k8ts server not ready: ${log.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  launch();
  await waitReady();
  return {
    port,
    dataDir: dir.path,
    kubeconfig,
    log: () => log,
    kubectl,
    stop,
    halt: kill,
    async resume() {
      if (child.exitCode === null && child.signalCode === null) return;
      launch();
      await waitReady();
    },
    async restart() {
      await kill();
      launch();
      await waitReady();
    },
  };
}
