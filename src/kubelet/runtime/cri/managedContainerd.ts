// A containerd that k8ts runs for its node (as k3s does) when containerd is installed and no
// runtime endpoint is given: config, root, state and socket under <dataDir>/agent/containerd,
// cgroupfs, restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE), CNI from /usr/lib/cni with
// the node's conflist in <dataDir>/agent/cni/net.d, and an offline-built pause image.
// containerd runs detached: its shims and containers outlive it and the kubelet (restart-safe).
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logger } from '../../../util/log.js';
import { RuntimeError } from '../types.js';
import { writeNodeConflist } from './cniConflist.js';
import { containerdPaths, type ContainerdPaths } from './paths.js';
import { importImageArchive } from './importImage.js';
import { writePauseImageArchive } from './ociArchive.js';
import { CriRuntime } from './runtime.js';

const log = logger('managed-containerd');

export const DEFAULT_PAUSE_IMAGE = 'localhost/k8ts/pause:3.10';

export interface ManagedContainerdOptions {
  /** The node's data dir; everything goes under `<dataDir>/agent/containerd` and `<dataDir>/agent/cni`. */
  dataDir: string;
  containerdPath?: string;
  ctrPath?: string;
  cniBinDir?: string;
  /** Host bridge of the pod network (at most 15 characters). */
  bridge?: string;
  /** Name of the CNI network. */
  networkName?: string;
  pauseImage?: string;
  /** Extra OCI runtimes as RuntimeClass handlers, name → binary; `crun` is added when installed. `runc` is the default handler. */
  runtimes?: Record<string, string>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  startTimeoutMs?: number;
  signal?: AbortSignal;
}


export { containerdPaths, type ContainerdPaths };

const q = (s: string): string => JSON.stringify(s);

/** containerd 1.6 config (version 2) for a k8ts node (pure). */
export function containerdConfigToml(p: ContainerdPaths, opts: { cniBinDir: string; pauseImage: string; runtimes: Record<string, string> }): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const runtimeBlocks = Object.entries({ runc: 'runc', ...opts.runtimes }).map(
    ([name, binary]) => `[${cri}.containerd.runtimes.${name}]
  runtime_type = "io.containerd.runc.v2"
[${cri}.containerd.runtimes.${name}.options]
  BinaryName = ${q(binary)}
  Root = ${q(join(p.runcRoot, name))}
  SystemdCgroup = false
`,
  );
  return `# Written by k8ts: the containerd of this node. Edits are overwritten at the next start.
version = 2
root = ${q(p.root)}
state = ${q(p.state)}

[grpc]
  address = ${q(p.socket)}

[ttrpc]
  address = ${q(`${p.socket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(p.root, 'opt'))}

[${cri}]
  sandbox_image = ${q(opts.pauseImage)}
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

${runtimeBlocks.join('\n')}
[${cri}.cni]
  bin_dir = ${q(opts.cniBinDir)}
  conf_dir = ${q(p.cniConfDir)}
  max_conf_num = 1
`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the pid file when that process is a containerd running our config. */
function runningManagedPid(p: ContainerdPaths): number | undefined {
  if (!existsSync(p.pidFile)) return undefined;
  const pid = Number(readFileSync(p.pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(p.config) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function which(binary: string): string | undefined {
  if (binary.includes('/')) return existsSync(binary) ? binary : undefined;
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && existsSync(join(dir, binary))) return join(dir, binary);
  }
  return undefined;
}

/** Whether k8ts can run its own containerd here (containerd, ctr and runc installed). */
export function containerdInstalled(containerdPath = 'containerd'): boolean {
  return Boolean(which(containerdPath) && which('ctr') && which('runc'));
}

export class ManagedContainerd {
  readonly paths: ContainerdPaths;
  /** `unix://…/containerd.sock`. */
  readonly endpoint: string;
  /** RuntimeClass handlers configured: `''` (= runc), `runc`, and each extra runtime. */
  readonly handlers: readonly string[];
  private constructor(
    private readonly opts: ManagedContainerdOptions,
    readonly pid: number,
    /** False when an already running containerd of this data dir was reused. */
    readonly started: boolean,
    handlers: string[],
  ) {
    this.paths = containerdPaths(opts.dataDir);
    this.endpoint = `unix://${this.paths.socket}`;
    this.handlers = handlers;
  }

  /** Starts (or reuses) the node's containerd, waits for CRI, and makes sure the pause image is there. */
  static async start(opts: ManagedContainerdOptions): Promise<ManagedContainerd> {
    const p = containerdPaths(opts.dataDir);
    const containerdPath = which(opts.containerdPath ?? 'containerd');
    if (!containerdPath) throw new RuntimeError('Unavailable', `containerd is not installed (looked for ${opts.containerdPath ?? 'containerd'} on PATH)`);
    const runtimes: Record<string, string> = { ...(opts.runtimes ?? {}) };
    const runc = which('runc');
    if (!runc) throw new RuntimeError('Unavailable', 'runc is not installed: containerd needs it to run containers');
    const crun = which('crun');
    if (crun && !runtimes.crun) runtimes.crun = crun;
    const handlers = ['', 'runc', ...Object.keys(runtimes)];
    const pauseImage = opts.pauseImage ?? DEFAULT_PAUSE_IMAGE;

    await mkdir(p.dir, { recursive: true, mode: 0o700 });
    await mkdir(p.cniConfDir, { recursive: true });
    const config = containerdConfigToml(p, { cniBinDir: opts.cniBinDir ?? '/usr/lib/cni', pauseImage, runtimes: { runc, ...runtimes } });

    let pid = runningManagedPid(p);
    const reuse = pid !== undefined && (await readFile(p.config, 'utf8').catch(() => '')) === config;
    if (pid !== undefined && !reuse) {
      log.info({ pid }, 'containerd config changed: restarting containerd (containers keep running)');
      await stopPid(pid, 10_000);
      pid = undefined;
    }
    if (pid === undefined) {
      await writeFile(p.config, config);
      await rm(p.socket, { force: true });
      const out = openSync(p.logFile, 'a');
      try {
        const child = spawn(containerdPath, ['--config', p.config, '--log-level', opts.logLevel ?? 'info'], {
          detached: true,
          stdio: ['ignore', out, out],
        });
        child.unref();
        if (!child.pid) throw new RuntimeError('Unavailable', 'containerd did not start');
        pid = child.pid;
      } finally {
        closeSync(out);
      }
      await writeFile(p.pidFile, `${pid}\n`);
      log.info({ pid, socket: p.socket }, 'started containerd');
    } else {
      log.info({ pid, socket: p.socket }, 'reusing running containerd');
    }
    const managed = new ManagedContainerd(opts, pid, !reuse, handlers);
    const probe = new CriRuntime({ endpoint: managed.endpoint });
    try {
      await probe.waitReady(opts.startTimeoutMs ?? 15_000, opts.signal);
    } catch (err) {
      const tail = (await readFile(p.logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
      if (managed.started) await stopPid(pid, 5_000);
      throw new RuntimeError('Unavailable', `containerd did not become ready: ${(err as Error).message}\n${tail}`, { cause: err });
    } finally {
      await probe.close();
    }
    await managed.ensurePauseImage(pauseImage);
    return managed;
  }

  private async ensurePauseImage(ref: string): Promise<void> {
    const ctr = this.opts.ctrPath ?? 'ctr';
    const present = await new Promise<boolean>((resolve) =>
      execFile(ctr, ['--address', this.paths.socket, '-n', 'k8s.io', 'images', 'ls', '-q', `name==${ref}`], (err, out) => resolve(!err && out.trim() !== '')),
    );
    if (present) return;
    const colon = ref.lastIndexOf(':');
    const [base, tag] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
    const file = join(this.paths.dir, 'pause-image.tar');
    await writePauseImageArchive(file, tag);
    const names = await importImageArchive(this.paths.socket, file, { baseName: base, ctrPath: ctr });
    await rm(file, { force: true });
    log.info({ image: names }, 'imported the pause image');
  }

  /** A CRI client for this containerd that also writes the node's conflist on updateRuntimeConfig. */
  runtime(opts: { requestTimeoutMs?: number } = {}): CriRuntime {
    return new CriRuntime({
      endpoint: this.endpoint,
      handlers: this.handlers,
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      onUpdateRuntimeConfig: (podCIDR) => this.writeNetworkConfig(podCIDR),
    });
  }

  /** Writes the node's CNI conflist for its podCIDR into containerd's conf_dir. */
  async writeNetworkConfig(podCIDR: string): Promise<string> {
    return writeNodeConflist(this.paths.cniConfDir, {
      podCIDR,
      bridge: this.opts.bridge ?? 'k8ts0',
      name: this.opts.networkName ?? 'k8ts',
      ipamDataDir: this.paths.cniDataDir,
    });
  }

  /** Imports an image archive (docker-archive or OCI layout) where CRI sees it. */
  importImageArchive(file: string, opts: { baseName?: string; signal?: AbortSignal } = {}): Promise<string[]> {
    return importImageArchive(this.paths.socket, file, { ...opts, ctrPath: this.opts.ctrPath ?? 'ctr' });
  }

  /** Stops containerd (SIGTERM, then SIGKILL after `timeoutMs`). Containers and their shims keep running. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (runningManagedPid(this.paths) !== this.pid) return;
    await stopPid(this.pid, timeoutMs);
    await rm(this.paths.pidFile, { force: true });
    log.info({ pid: this.pid }, 'stopped containerd');
  }
}

async function stopPid(pid: number, timeoutMs: number): Promise<void> {
  if (!pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  while (pidAlive(pid) && Date.now() < deadline + 2_000) await new Promise((r) => setTimeout(r, 20));
}
