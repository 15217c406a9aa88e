// The built-in process runtime: CRI semantics without containerd. A pod sandbox is a set of
// namespaces held by bind-mounted files (network wired by the CNI plugins, uts+ipc shared by the
// pod) plus a socket served by a pod shim process, which hosts up to `maxSandboxesPerShim` sandboxes;
// a container is an OCI bundle (overlayfs rootfs over the image's unpacked layers + a generated
// config.json) run by runc or crun under the shim. All state is JSON under `root`, so a new runtime
// object (a restarted kubelet) finds running pods and containers through their sandboxes' sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile, access, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { logger } from '../../../util/log.js';
import { execCommand } from '../../../util/commands.js';
import {
  addNetworkList,
  checkNetworkList,
  delNetworkList,
  loadDefaultNetwork,
  resultIps,
  type CniNetworkConfList,
  type CniResult,
  type CniRuntimeConf,
} from '../../../network/cni/invoke.js';
import { conflistNeedsWrite, loopbackConflist, nodeNetworkConflist, writeNodeNetworkConflist } from '../../../network/cni/conflist.js';
import type { ImageStore, LocalImage } from '../../images/types.js';
import {
  RuntimeError,
  nowNanos,
  type AuthConfig,
  type Container,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerState,
  type ContainerStats,
  type ContainerStatus,
  type ContainerStreams,
  type ExecSyncResult,
  type FilesystemUsage,
  type Image,
  type ImageFilter,
  type ImageSpec,
  type Mount,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatus,
  type RuntimeStatus,
  type StreamOptions,
  type VersionInfo,
} from '../types.js';
import { cgroupUsage, cgroupVersion, createCgroup, oomCounterFile, removeCgroup } from './cgroups.js';
import { nsenterExecArgv, unshareArgv } from './unshareInit.js';
import { SpecError, buildOciSpec, capabilitiesFromMask, parseGroup, parsePasswd, resolveUser, type SpecNamespaces } from './ociSpec.js';
import {
  FRAME_CLOSE_STDIN,
  FRAME_EXIT,
  FRAME_RESIZE,
  FRAME_STDERR,
  FRAME_STDIN,
  FRAME_STDOUT,
  FrameDecoder,
  encodeFrame,
  shimCall,
  shimRequest,
  type ShimContainerSpec,
  type ShimExitRecord,
} from './shimProtocol.js';
import { resizePty, underPty } from './tty.js';

const log = logger('process-runtime');

export const RUNTIME_NAME = 'k8ts-process';
/**
 * The RuntimeClass handler that always means this runtime (with its default OCI runtime), also on
 * nodes whose default runtime is containerd; the server creates the RuntimeClass `k8ts` for it.
 */
export const K8TS_HANDLER = 'k8ts';
/** `unshare` = util-linux namespaces + own cgroups, no OCI runtime (isolation-lite); auto picks it only when neither runc nor crun exists. */
export type OciRuntimeChoice = 'runc' | 'crun' | 'unshare' | 'auto';

export interface ProcessRuntimeOptions {
  /** State directory (`<dataDir>/agent/runtime`). */
  root: string;
  images: ImageStore;
  cni: {
    /** Plugin executables, default /usr/lib/cni. */
    binDir?: string;
    /** Where the node's conflist lives (`<dataDir>/agent/cni/net.d`). */
    confDir: string;
    /** Where pod netns files are bind-mounted, default /var/run/netns (so `ip netns` lists them). */
    netnsDir?: string;
    /** The node bridge, default k8ts0. */
    bridge?: string;
    /** When known at start; otherwise `updateRuntimeConfig` writes the conflist. */
    podCIDR?: string;
    /**
     * The bridge plugin's per-pod masquerade, default false: the agent masquerades the node's pod
     * network once (src/network/podMasquerade.ts), which spares 9 iptables runs per pod ADD.
     */
    ipMasq?: boolean;
    /**
     * host-local's allocation folder, default `<root>/cni/networks`. Must be the other runtime's
     * when this one shares the node's pod network with containerd (one address pool, no doubles).
     */
    ipamDataDir?: string;
  };
  /** Which OCI runtime the default handler uses; auto = runc, else crun. */
  ociRuntime?: OciRuntimeChoice;
  /** Prefix of the netns names this runtime creates (tests use `k8ts-t-<random>-`). Default `k8ts-`. */
  namePrefix?: string;
  /** Size of each pod's /dev/shm tmpfs. */
  shmSizeBytes?: number;
  /**
   * How many pod sandboxes one shim process hosts, default 8 (1 = a shim per pod). A shim costs
   * ~40 MB and ~0.3 CPU-s to start; a shim crash takes down the containers of all its pods.
   */
  maxSandboxesPerShim?: number;
}

interface SandboxRecord {
  id: string;
  config: PodSandboxConfig;
  createdAt: string;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  runtimeHandler: string;
  ociBinary: string;
  netnsPath?: string;
  utsPath?: string;
  ipcPath?: string;
  pausePid?: number;
  ips: string[];
  cniNetwork?: CniNetworkConfList;
  cniResult?: CniResult;
  shimSocket: string;
  hostsFile: string;
  resolvFile: string;
  hostnameFile: string;
  shmDir: string;
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  imageRef: string;
  stopSignal: string;
  createdAt: string;
  startedAt?: string;
  pid?: number;
  /** The shim that runs it (absent in records of older versions: then the sandbox's shim). */
  shimPid?: number;
  logPath: string;
  rootfs: string;
  cgroupsPath: string;
  ociBinary: string;
  mounts: Mount[];
}

const ID_RE = /^[0-9a-f]{64}$/;

function newId(): string {
  return randomBytes(32).toString('hex');
}

function bigintReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value, bigintReplacer));
  await rename(tmp, file);
}

function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (existsSync(join(dir, bin))) return join(dir, bin);
  return undefined;
}

function readVersion(): string {
  for (const rel of ['../../../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'k8ts' && pkg.version) return pkg.version;
    } catch {
      /* next */
    }
  }
  return '0.0.0';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `sha256:…` ids and `name:tag` references both work as the image key. */
function matchesSelector(labels: Record<string, string>, selector?: Record<string, string>): boolean {
  return !selector || Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function resolvConf(dns: PodSandboxConfig['dnsConfig']): string | undefined {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) return undefined;
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export class ProcessRuntime implements ContainerRuntime {
  readonly handlers: readonly string[];
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly ociBinaries: Map<string, string>;
  private readonly loaded: Promise<void>;
  private readonly version_ = readVersion();
  private readonly netnsDir: string;
  private readonly prefix: string;
  private readonly cniBinDir: string;
  private readonly cgroupV: 1 | 2 = cgroupVersion();
  private readonly shimScript = fileURLToPath(new URL('./shim.js', import.meta.url));
  private network?: CniNetworkConfList;
  /** The control socket of a started shim that hosts nothing yet. */
  private spare?: Promise<string>;
  /** The control socket of the shim that takes new sandboxes while it has room. */
  private current?: string;
  /** Sandboxes are placed on shims one at a time, so a burst fills the current shim instead of racing for spares. */
  private placing: Promise<void> = Promise.resolve();
  private readonly maxPerShim: number;

  constructor(private readonly opts: ProcessRuntimeOptions) {
    this.netnsDir = opts.cni.netnsDir ?? '/var/run/netns';
    this.prefix = opts.namePrefix ?? 'k8ts-';
    this.cniBinDir = opts.cni.binDir ?? '/usr/lib/cni';
    this.maxPerShim = Math.max(1, Math.floor(opts.maxSandboxesPerShim ?? 8));
    const runc = which('runc');
    let crun = which('crun');
    const crunProblem = crun ? crunUnsupportedReason() : undefined;
    if (crunProblem) {
      log.info({ reason: crunProblem }, 'crun is installed but cannot run containers on this host; the crun handler is off');
      crun = undefined;
    }
    this.ociBinaries = new Map();
    if (runc) this.ociBinaries.set('runc', runc);
    if (crun) this.ociBinaries.set('crun', crun);
    const choice = opts.ociRuntime ?? 'auto';
    let def = choice === 'auto' ? (runc ?? crun) : this.ociBinaries.get(choice);
    if (choice === 'unshare' || (choice === 'auto' && !def)) {
      def = which('unshare');
      if (def) log.warn('no OCI runtime in use: containers run with util-linux unshare/nsenter (no capability drop, no seccomp, no masked paths)');
    }
    if (def) {
      this.ociBinaries.set('', def);
      this.ociBinaries.set(K8TS_HANDLER, def);
    }
    this.handlers = [...this.ociBinaries.keys()];
    this.loaded = this.load();
  }

  // ---- state ----------------------------------------------------------------------------------

  private get sandboxesDir() {
    return join(this.opts.root, 'sandboxes');
  }
  private get containersDir() {
    return join(this.opts.root, 'containers');
  }
  private get ociRoot() {
    return join(this.opts.root, 'oci');
  }
  private sandboxDir(id: string) {
    return join(this.sandboxesDir, id);
  }
  private containerDir(id: string) {
    return join(this.containersDir, id);
  }

  private async load(): Promise<void> {
    await mkdir(this.sandboxesDir, { recursive: true });
    await mkdir(this.containersDir, { recursive: true });
    await mkdir(join(this.opts.root, 'run'), { recursive: true });
    // Control sockets left by a runtime object that was not closed (a crashed kubelet): those shims
    // take no new sandboxes (they exit when their last one is gone, a spare at once); new sandboxes
    // go to a fresh shim. (`spare-*` are the sockets of older versions' spares.)
    for (const name of await readdir(join(this.opts.root, 'run'))) {
      if (!/^(spare|shim)-[0-9a-f]+\.sock$/.test(name)) continue;
      const socket = join(this.opts.root, 'run', name);
      await shimRequest(socket, { op: 'shutdown' }, 2000).catch(() => undefined);
      await rm(socket, { force: true });
    }
    for (const id of await readdir(this.sandboxesDir)) {
      if (!ID_RE.test(id)) continue;
      try {
        this.sandboxes.set(id, JSON.parse(await readFile(join(this.sandboxDir(id), 'sandbox.json'), 'utf8')) as SandboxRecord);
      } catch {
        /* half-created: removed by removePodSandbox of its id, or ignored */
      }
    }
    for (const id of await readdir(this.containersDir)) {
      if (!ID_RE.test(id)) continue;
      try {
        this.containers.set(id, JSON.parse(await readFile(join(this.containerDir(id), 'container.json'), 'utf8')) as ContainerRecord);
      } catch {
        /* half-created */
      }
    }
    this.network = await loadDefaultNetwork(this.opts.cni.confDir);
    if (!this.network && this.opts.cni.podCIDR) await this.writeNetwork(this.opts.cni.podCIDR);
    if (this.handlers.length > 0) this.spare = this.spawnSpare();
  }

  private async saveSandbox(s: SandboxRecord): Promise<void> {
    await writeJsonAtomic(join(this.sandboxDir(s.id), 'sandbox.json'), s);
  }
  private async saveContainer(c: ContainerRecord): Promise<void> {
    await writeJsonAtomic(join(this.containerDir(c.id), 'container.json'), c);
  }

  private sandbox(id: string): SandboxRecord {
    const s = this.sandboxes.get(id) ?? [...this.sandboxes.values()].find((x) => x.id.startsWith(id) && id.length >= 6);
    if (s && !existsSync(this.sandboxDir(s.id))) this.sandboxes.delete(s.id); // removed by another runtime object
    else if (s) return s;
    throw new RuntimeError('NotFound', `an error occurred when try to find sandbox "${id}": not found`);
  }
  private container(id: string): ContainerRecord {
    const c = this.containers.get(id) ?? [...this.containers.values()].find((x) => x.id.startsWith(id) && id.length >= 6);
    if (c && !existsSync(this.containerDir(c.id))) this.containers.delete(c.id);
    else if (c) return c;
    throw new RuntimeError('NotFound', `an error occurred when try to find container "${id}": not found`);
  }

  /** The pid of the shim that runs a container: recorded at start, else (older records) its sandbox's shim. */
  private shimPidOf(c: ContainerRecord): number | undefined {
    if (c.shimPid) return c.shimPid;
    try {
      return (JSON.parse(readFileSync(join(this.sandboxDir(c.sandboxId), 'shim.pid.json'), 'utf8')) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  }

  private shimPidAlive(pid: number | undefined): boolean {
    if (!pid) return false;
    try {
      // The shim renames itself (process.title), which rewrites its cmdline.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes('k8ts-shim') || cmdline.includes(this.shimScript);
    } catch {
      return false;
    }
  }

  private exitRecord(c: ContainerRecord): RuntimeExitRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.containerDir(c.id), 'exit.json'), 'utf8')) as RuntimeExitRecord;
    } catch {
      return undefined;
    }
  }

  private containerState(c: ContainerRecord): ContainerState {
    if (this.exitRecord(c)) return 'CONTAINER_EXITED';
    if (!c.startedAt) return 'CONTAINER_CREATED';
    // While its shim lives, a container whose process is gone is about to get its exit.json.
    const shimPid = this.shimPidOf(c);
    if (this.shimPidAlive(shimPid)) return 'CONTAINER_RUNNING';
    // The shim died (crashed or killed): nobody writes the container's logs or records its exit
    // any more. As containerd does for a dead shim, the container is reported exited with an
    // unknown status (recorded now, so every later look agrees) and killed if it still runs, so the
    // kubelet restarts it under a live shim.
    this.recordLostShim(c, shimPid);
    return 'CONTAINER_EXITED';
  }

  /** Records a container whose shim is gone as exited and kills what is left of it (once). */
  private recordLostShim(c: ContainerRecord, shimPid: number | undefined): void {
    const file = join(this.containerDir(c.id), 'exit.json');
    const record: RuntimeExitRecord = { exitCode: 255, finishedAt: nowNanos().toString(), oomKilled: false, message: shimLostMessage(shimPid), shimLost: true };
    try {
      writeFileSync(file, JSON.stringify(record), { flag: 'wx' });
    } catch {
      return; // recorded already, or the container is being removed
    }
    if (!pidAlive(c.pid)) return;
    log.warn({ container: c.id, sandbox: c.sandboxId, shimPid }, 'the pod shim of a running container is gone; killing the container');
    void (async () => {
      await this.ociKill(c, 'SIGKILL');
      if (!isUnshare(c.ociBinary)) await execCommand(c.ociBinary, ['--root', this.ociRoot, 'delete', '--force', c.id]).catch(() => undefined);
    })().catch((err) => log.warn({ err, container: c.id }, 'could not kill a container whose shim is gone'));
  }

  // ---- version / status / config -------------------------------------------------------------

  async version(): Promise<VersionInfo> {
    return { version: '0.1.0', runtimeName: RUNTIME_NAME, runtimeVersion: this.version_, runtimeApiVersion: 'v1' };
  }

  async status(verbose?: boolean): Promise<RuntimeStatus> {
    await this.loaded;
    this.network ??= await loadDefaultNetwork(this.opts.cni.confDir);
    const runtimeReady = this.ociBinaries.has('');
    const status: RuntimeStatus = {
      conditions: [
        {
          type: 'RuntimeReady',
          status: runtimeReady,
          reason: runtimeReady ? '' : 'NoOCIRuntime',
          message: runtimeReady ? '' : 'neither runc nor crun is installed',
        },
        {
          type: 'NetworkReady',
          status: this.network !== undefined,
          reason: this.network ? '' : 'NetworkPluginNotReady',
          message: this.network ? '' : 'Network plugin returns error: cni plugin not initialized',
        },
      ],
    };
    if (verbose) {
      status.info = {
        ociRuntimes: Object.fromEntries(this.ociBinaries),
        cgroupVersion: this.cgroupV,
        cni: { binDir: this.cniBinDir, confDir: this.opts.cni.confDir, network: this.network },
        root: this.opts.root,
      };
    }
    return status;
  }

  private get ipamDataDir(): string {
    return this.opts.cni.ipamDataDir ?? join(this.opts.root, 'cni', 'networks');
  }

  /** The conflist this runtime writes for `podCIDR` (pure). */
  private ownNetwork(podCIDR: string): CniNetworkConfList {
    return nodeNetworkConflist({
      podCIDRs: podCIDR.split(',').map((c) => c.trim()).filter(Boolean),
      bridge: this.opts.cni.bridge,
      ipMasq: this.opts.cni.ipMasq,
      ipamDataDir: this.ipamDataDir,
    });
  }

  private async writeNetwork(podCIDR: string): Promise<void> {
    const list = this.ownNetwork(podCIDR);
    await writeNodeNetworkConflist(this.opts.cni.confDir, list);
    this.network = list;
    await this.enableIpForward();
  }

  private async enableIpForward(): Promise<void> {
    try {
      if ((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim() === '0') await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    } catch (err) {
      log.warn({ err }, 'could not enable net.ipv4.ip_forward');
    }
  }

  async updateRuntimeConfig(config: { podCIDR: string }): Promise<void> {
    await this.loaded;
    if (!config.podCIDR) return;
    // Sandboxes keep the list they were set up with (`cniNetwork`), so their DEL matches their ADD.
    if (conflistNeedsWrite(this.network, this.ownNetwork(config.podCIDR))) await this.writeNetwork(config.podCIDR);
  }

  // ---- sandboxes ------------------------------------------------------------------------------

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    await this.loaded;
    const ociBinary = this.ociBinaries.get(runtimeHandler);
    if (!ociBinary) throw new RuntimeError('InvalidArgument', `no runtime for "${runtimeHandler}" is configured`);
    const id = newId();
    const dir = this.sandboxDir(id);
    await mkdir(dir, { recursive: true });
    const nsOpts = config.linux.securityContext.namespaceOptions;
    const hostNet = nsOpts.network === 'NODE';
    const rec: SandboxRecord = {
      id,
      config,
      createdAt: nowNanos().toString(),
      state: 'SANDBOX_READY',
      runtimeHandler,
      ociBinary,
      ips: [],
      shimSocket: join(this.opts.root, 'run', `${id.slice(0, 16)}.sock`),
      hostsFile: join(dir, 'hosts'),
      resolvFile: join(dir, 'resolv.conf'),
      hostnameFile: join(dir, 'hostname'),
      shmDir: join(dir, 'shm'),
    };
    if (Buffer.byteLength(rec.shimSocket) > 107) throw new RuntimeError('InvalidArgument', `runtime root ${this.opts.root} is too long for unix socket paths`);
    const hostname = hostNet ? osHostname() : config.hostname || config.metadata.name;
    const t0 = performance.now();
    const phase = (what: string) => log.debug({ id, ms: Math.round(performance.now() - t0) }, what);
    try {
      await writeFile(rec.hostnameFile, `${hostname}\n`);
      await writeFile(rec.resolvFile, resolvConf(config.dnsConfig) ?? (await readFile('/etc/resolv.conf', 'utf8').catch(() => '')));
      await this.writeSandboxHosts(rec, hostname);
      await mkdir(rec.shmDir, { recursive: true });
      if (nsOpts.ipc !== 'NODE') {
        const size = this.opts.shmSizeBytes ?? 64 * 1024 * 1024;
        await execCommand('mount', ['-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=${size}`, 'shm', rec.shmDir]);
      }
      // UTS and IPC namespaces of the pod live on as bind mounts of their nsfs files.
      const unshareArgs: string[] = [];
      if (!hostNet) {
        rec.utsPath = join(dir, 'uts');
        await writeFile(rec.utsPath, '');
        unshareArgs.push(`--uts=${rec.utsPath}`);
      }
      if (nsOpts.ipc !== 'NODE') {
        rec.ipcPath = join(dir, 'ipc');
        await writeFile(rec.ipcPath, '');
        unshareArgs.push(`--ipc=${rec.ipcPath}`);
      }
      phase('files and shm');
      if (unshareArgs.length) await execCommand('unshare', [...unshareArgs, ...(hostNet ? ['true'] : ['hostname', hostname])]);
      phase('uts/ipc namespaces');
      if (nsOpts.pid === 'POD') rec.pausePid = await this.startPidNamespaceHolder(dir);
      // The shim's start (a Node process) overlaps the CNI plugins' work.
      const shim = this.ensureShim(rec).then(() => phase('shim'));
      const network = hostNet ? Promise.resolve() : this.setUpNetwork(rec).then(() => phase('network'));
      const [shimResult, networkResult] = await Promise.allSettled([shim, network]);
      if (networkResult.status === 'rejected') throw networkResult.reason;
      if (shimResult.status === 'rejected') throw shimResult.reason;
      await this.saveSandbox(rec);
      this.sandboxes.set(id, rec);
    } catch (err) {
      await this.tearDownSandbox(rec, true).catch(() => undefined);
      // Releases only this sandbox from its (maybe shared) shim.
      await shimRequest(rec.shimSocket, { op: 'shutdown' }, 2000).catch(() => undefined);
      this.sandboxes.delete(id);
      await rm(dir, { recursive: true, force: true });
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError('Internal', `failed to create sandbox for pod "${config.metadata.namespace}/${config.metadata.name}": ${(err as Error).message}`, { cause: err });
    }
    log.info({ id, pod: `${config.metadata.namespace}/${config.metadata.name}`, ip: rec.ips[0] }, 'sandbox ready');
    return id;
  }

  private async writeSandboxHosts(rec: SandboxRecord, hostname: string): Promise<void> {
    const lines = ['# Kubernetes-managed hosts file (k8ts process runtime default).', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
    for (const ip of rec.ips) lines.push(`${ip}\t${hostname}`);
    await writeFile(rec.hostsFile, lines.join('\n') + '\n');
  }

  /** A `sleep` that is pid 1 of the pod's pid namespace (shareProcessNamespace), like the pause container. */
  private async startPidNamespaceHolder(dir: string): Promise<number> {
    const out = openSync(join(dir, 'pause.log'), 'a');
    const child = spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', 'infinity'], { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.unref();
    const pid = child.pid;
    if (!pid) throw new Error('could not start the pod pid namespace holder');
    for (let i = 0; i < 200; i++) {
      const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
      if (children.trim()) return pid;
      await sleep(5);
    }
    throw new Error('the pod pid namespace holder did not start');
  }

  private cniRuntimeConf(rec: SandboxRecord, ifName: string): CniRuntimeConf {
    const md = rec.config.metadata;
    const portMappings = rec.config.portMappings
      .filter((p) => p.hostPort > 0)
      .map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol.toLowerCase(), hostIP: p.hostIp || '' }));
    return {
      containerId: rec.id,
      netns: rec.netnsPath ?? '',
      ifName,
      args: [
        ['K8S_POD_NAMESPACE', md.namespace],
        ['K8S_POD_NAME', md.name],
        ['K8S_POD_INFRA_CONTAINER_ID', rec.id],
        ['K8S_POD_UID', md.uid],
      ],
      capabilityArgs: { portMappings },
    };
  }

  private async setUpNetwork(rec: SandboxRecord): Promise<void> {
    this.network ??= await loadDefaultNetwork(this.opts.cni.confDir);
    if (!this.network) throw new RuntimeError('NetworkSetupFailed', `failed to setup network for sandbox "${rec.id}": cni plugin not initialized`);
    const name = `${this.prefix}${rec.id.slice(0, 16)}`;
    await mkdir(this.netnsDir, { recursive: true });
    if (this.netnsDir === '/var/run/netns' || this.netnsDir === '/run/netns') {
      await execCommand('ip', ['netns', 'add', name]);
      rec.netnsPath = join(this.netnsDir, name);
    } else {
      rec.netnsPath = join(this.netnsDir, name);
      await writeFile(rec.netnsPath, '');
      await execCommand('unshare', [`--net=${rec.netnsPath}`, 'true']);
    }
    // portmap's ADD is a no-op without hostPorts; skipping it saves a plugin run (and its DEL) per pod.
    const hasHostPorts = rec.config.portMappings.some((p) => p.hostPort > 0);
    rec.cniNetwork = hasHostPorts
      ? this.network
      : { ...this.network, plugins: this.network.plugins.filter((p) => !(p.type === 'portmap' && p.capabilities?.portMappings)) };
    try {
      const [, result] = await Promise.all([
        addNetworkList(loopbackConflist(), this.cniRuntimeConf(rec, 'lo'), { binDir: this.cniBinDir }),
        addNetworkList(rec.cniNetwork, this.cniRuntimeConf(rec, 'eth0'), { binDir: this.cniBinDir }),
      ]);
      rec.cniResult = result;
    } catch (err) {
      throw new RuntimeError('NetworkSetupFailed', `failed to setup network for sandbox "${rec.id}": ${(err as Error).message}`, { cause: err });
    }
    rec.ips = resultIps(rec.cniResult);
    const hostname = rec.config.hostname || rec.config.metadata.name;
    await this.writeSandboxHosts(rec, hostname);
  }

  /** Undoes everything a sandbox holds on the node; safe to repeat. */
  private async tearDownSandbox(rec: SandboxRecord, force = false): Promise<void> {
    if (rec.netnsPath) {
      if (rec.cniNetwork) {
        try {
          await delNetworkList(rec.cniNetwork, this.cniRuntimeConf(rec, 'eth0'), { binDir: this.cniBinDir }, rec.cniResult);
        } catch (err) {
          // Keep the netns so a retry can release the IP (host-local would leak it otherwise).
          if (!force) throw new RuntimeError('NetworkSetupFailed', `failed to destroy network for sandbox "${rec.id}": ${(err as Error).message}`, { cause: err });
        }
        rec.cniNetwork = undefined;
      }
      if (rec.netnsPath.startsWith('/var/run/netns/') || rec.netnsPath.startsWith('/run/netns/')) {
        await execCommand('ip', ['netns', 'delete', rec.netnsPath.split('/').pop() ?? '']).catch(() => undefined);
      } else {
        await execCommand('umount', [rec.netnsPath]).catch(() => undefined);
        await rm(rec.netnsPath, { force: true });
      }
    }
    if (rec.pausePid && pidAlive(rec.pausePid)) {
      try {
        process.kill(rec.pausePid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const p of [rec.utsPath, rec.ipcPath]) if (p) await execCommand('umount', [p]).catch(() => undefined);
    await execCommand('umount', [rec.shmDir]).catch(() => undefined);
  }

  private async shimAlive(rec: SandboxRecord): Promise<boolean> {
    try {
      const reply = await shimRequest(rec.shimSocket, { op: 'ping' }, 2000);
      return reply.ok;
    } catch {
      return false;
    }
  }

  /** Makes sure a live shim serves the sandbox's socket, placing the sandbox on a shim if none does. */
  private async ensureShim(rec: SandboxRecord): Promise<void> {
    if (existsSync(rec.shimSocket) && (await this.shimAlive(rec))) return;
    const turn = this.placing.then(() => this.placeSandbox(rec));
    this.placing = turn.catch(() => undefined);
    await turn;
  }

  /**
   * The current shim takes the sandbox while it has room and answers; else the spare (started ahead
   * of need, which hides Node's start-up from pod start-up) becomes the current shim and a new spare
   * starts. A shim that cannot be reached (dead, or retired by another runtime object over the same
   * root) is passed over.
   */
  private async placeSandbox(rec: SandboxRecord): Promise<void> {
    const req = { op: 'adopt', socket: rec.shimSocket, sandboxDir: this.sandboxDir(rec.id), maxSandboxes: this.maxPerShim } as const;
    if (this.current) {
      const reply = await shimRequest(this.current, req, 5000).catch(() => undefined);
      if (reply?.ok) {
        if (reply.full) this.current = undefined;
        return;
      }
      this.current = undefined;
    }
    const spare = this.spare;
    this.spare = undefined;
    let control = spare ? await spare.catch(() => undefined) : undefined;
    this.spare = this.spawnSpare();
    let why = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      control ??= await this.startShim();
      const reply = await shimRequest(control, req, 5000).catch((err: Error) => ({ ok: false as const, message: err.message }));
      if (reply.ok) {
        this.current = reply.full ? undefined : control;
        return;
      }
      why = reply.message;
      control = undefined;
    }
    throw new Error(`no pod shim took the sandbox: ${why}`);
  }

  private spawnSpare(): Promise<string> {
    const p = this.startShim();
    p.catch((err) => log.warn({ err }, 'could not start a spare shim'));
    return p;
  }

  /** Starts a shim that hosts nothing yet; resolves with its control socket. */
  private async startShim(): Promise<string> {
    const socket = join(this.opts.root, 'run', `shim-${randomBytes(6).toString('hex')}.sock`);
    const logFile = join(this.opts.root, 'run', 'shim.log');
    const logFd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--max-old-space-size=64', this.shimScript, socket], {
      detached: true,
      stdio: ['ignore', 'pipe', logFd],
      cwd: '/',
    });
    closeSync(logFd);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('the pod shim did not start within 10s')), 10_000);
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the pod shim exited with ${code}; see ${logFile}`));
      });
    });
    child.removeAllListeners('exit');
    child.stdout?.destroy();
    child.unref();
    return socket;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.loaded;
    const rec = this.sandbox(podSandboxId);
    for (const c of this.containers.values()) {
      if (c.sandboxId === rec.id && this.containerState(c) === 'CONTAINER_RUNNING') await this.stopContainer(c.id, 0);
    }
    await this.tearDownSandbox(rec);
    // Releases only this sandbox; its shim goes on for its other sandboxes.
    if (await this.shimAlive(rec)) await shimRequest(rec.shimSocket, { op: 'shutdown' }).catch(() => undefined);
    rec.state = 'SANDBOX_NOTREADY';
    await this.saveSandbox(rec);
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.loaded;
    let rec: SandboxRecord;
    try {
      rec = this.sandbox(podSandboxId);
    } catch {
      return; // CRI: removing a missing sandbox is not an error
    }
    if (rec.state === 'SANDBOX_READY') await this.stopPodSandbox(rec.id);
    for (const c of [...this.containers.values()]) if (c.sandboxId === rec.id) await this.removeContainer(c.id);
    await this.tearDownSandbox(rec).catch(() => undefined);
    if (rec.config.linux.cgroupParent) removeCgroup(rec.config.linux.cgroupParent, this.cgroupV);
    this.sandboxes.delete(rec.id);
    await rm(this.sandboxDir(rec.id), { recursive: true, force: true });
    // A shim that still serves the socket (stopPodSandbox could not reach it, or the sandbox was
    // placed again) must let go, or it would never exit.
    if (existsSync(rec.shimSocket)) await shimRequest(rec.shimSocket, { op: 'shutdown' }, 2000).catch(() => undefined);
    await rm(rec.shimSocket, { force: true });
  }

  async podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus> {
    await this.loaded;
    const rec = this.sandbox(podSandboxId);
    const status: PodSandboxStatus = {
      id: rec.id,
      metadata: rec.config.metadata,
      state: rec.state,
      createdAt: BigInt(rec.createdAt),
      linux: { namespaces: { options: rec.config.linux.securityContext.namespaceOptions } },
      labels: rec.config.labels,
      annotations: rec.config.annotations,
      runtimeHandler: rec.runtimeHandler,
    };
    if (rec.ips.length) status.network = { ip: rec.ips[0] ?? '', additionalIps: rec.ips.slice(1).map((ip) => ({ ip })) };
    return status;
  }

  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    await this.loaded;
    return [...this.sandboxes.values()]
      .filter((s) => existsSync(this.sandboxDir(s.id)))
      .filter((s) => !filter?.id || s.id.startsWith(filter.id))
      .filter((s) => !filter?.state || s.state === filter.state)
      .filter((s) => matchesSelector(s.config.labels, filter?.labelSelector))
      .map((s) => ({
        id: s.id,
        metadata: s.config.metadata,
        state: s.state,
        createdAt: BigInt(s.createdAt),
        labels: s.config.labels,
        annotations: s.config.annotations,
        runtimeHandler: s.runtimeHandler,
      }));
  }

  /** CNI CHECK of a ready sandbox's attachment; throws NetworkSetupFailed when the plugins report a problem. */
  async checkPodNetwork(podSandboxId: string): Promise<void> {
    await this.loaded;
    const rec = this.sandbox(podSandboxId);
    if (!rec.cniNetwork || !rec.cniResult || !rec.netnsPath) return;
    try {
      await checkNetworkList(rec.cniNetwork, this.cniRuntimeConf(rec, 'eth0'), { binDir: this.cniBinDir }, rec.cniResult);
    } catch (err) {
      throw new RuntimeError('NetworkSetupFailed', (err as Error).message, { cause: err });
    }
  }

  // ---- containers -----------------------------------------------------------------------------

  private async image(ref: string): Promise<LocalImage> {
    const img = await this.opts.images.get(ref);
    if (!img) throw new RuntimeError('NotFound', `failed to get image "${ref}": not found`);
    return img;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, _sandboxConfig: PodSandboxConfig): Promise<string> {
    await this.loaded;
    const sb = this.sandbox(podSandboxId);
    if (sb.state !== 'SANDBOX_READY') throw new RuntimeError('InvalidArgument', `sandbox "${sb.id}" is not ready`);
    const name = config.metadata.name;
    for (const c of this.containers.values()) {
      if (c.sandboxId === sb.id && c.config.metadata.name === name && c.config.metadata.attempt === config.metadata.attempt) {
        throw new RuntimeError('AlreadyExists', `failed to reserve container name "${name}_${sb.config.metadata.name}_${sb.config.metadata.namespace}_${sb.config.metadata.uid}_${config.metadata.attempt}": name is reserved for "${c.id}"`);
      }
    }
    const img = await this.image(config.image.image);
    const id = newId();
    const dir = this.containerDir(id);
    const rootfs = join(dir, 'rootfs');
    try {
      await mkdir(join(dir, 'upper'), { recursive: true });
      await mkdir(join(dir, 'work'), { recursive: true });
      await mkdir(rootfs, { recursive: true });
      let lower = [...img.layers].reverse();
      if (lower.length === 0) {
        await mkdir(join(dir, 'empty'), { recursive: true });
        lower = [join(dir, 'empty')];
      }
      if (lower.length === 1) {
        // overlayfs needs two lower dirs or an upper dir; with upper/work one lower is fine.
      }
      await execCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower.join(':')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, rootfs]);
      const passwd = parsePasswd(await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => ''));
      const groups = parseGroup(await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => ''));
      const user = resolveUser(config.linux.securityContext, img.config.User, passwd, groups);
      const nsOpts = sb.config.linux.securityContext.namespaceOptions;
      const pidMode = config.linux.securityContext.namespaceOptions?.pid ?? nsOpts.pid;
      const namespaces: SpecNamespaces = {
        network: sb.netnsPath ?? 'host',
        uts: sb.utsPath ?? 'host',
        ipc: sb.ipcPath ?? 'host',
        pid: pidMode === 'NODE' ? 'host' : pidMode === 'POD' && sb.pausePid ? `/proc/${sb.pausePid}/ns/pid_for_children` : 'new',
      };
      const runtimeMounts: Mount[] = [
        ...(img.hostMounts ?? []),
        { containerPath: '/etc/hosts', hostPath: sb.hostsFile, readonly: false },
        { containerPath: '/etc/hostname', hostPath: sb.hostnameFile, readonly: false },
        { containerPath: '/etc/resolv.conf', hostPath: sb.resolvFile, readonly: false },
        { containerPath: '/dev/shm', hostPath: sb.ipcPath ? sb.shmDir : '/dev/shm', readonly: false },
      ];
      for (const m of config.mounts) {
        if (!isAbsolute(m.hostPath)) throw new SpecError(`mount host path "${m.hostPath}" is not absolute`);
        // As containerd: a missing host path becomes a directory.
        if (!existsSync(m.hostPath)) await mkdir(m.hostPath, { recursive: true });
      }
      const cgroupParent = sb.config.linux.cgroupParent || '/k8ts-process';
      const cgroupsPath = `${cgroupParent.replace(/\/+$/, '')}/${id}`;
      const hostname = (await readFile(sb.hostnameFile, 'utf8')).trim();
      const spec = buildOciSpec({ config, image: img.config, rootfs, user, hostname, namespaces, cgroupsPath, runtimeMounts, hostCapabilities: hostCapabilities() });
      await mkdir(join(dir, 'bundle'), { recursive: true });
      await writeFile(join(dir, 'bundle', 'config.json'), JSON.stringify(spec, null, 1));
      const logPath = config.logPath && sb.config.logDirectory ? join(sb.config.logDirectory, config.logPath) : '/dev/null';
      const shimSpec: ShimContainerSpec = {
        id,
        ociBinary: sb.ociBinary,
        ociRoot: this.ociRoot,
        bundle: join(dir, 'bundle'),
        logPath,
        tty: config.tty,
        stdin: config.stdin,
        stdinOnce: config.stdinOnce,
        pidFile: join(dir, 'pid'),
        exitFile: join(dir, 'exit.json'),
        ociLog: join(dir, 'oci.log'),
        oomFile: oomCounterFile(cgroupsPath, this.cgroupV),
      };
      if (isUnshare(sb.ociBinary)) {
        const cgroupProcs = createCgroup(cgroupsPath, config.linux.resources, this.cgroupV);
        shimSpec.command = unshareArgv({ spec, cgroupProcs, pidFile: shimSpec.pidFile });
      }
      await writeFile(join(dir, 'shim.json'), JSON.stringify(shimSpec));
      const rec: ContainerRecord = {
        id,
        sandboxId: sb.id,
        config,
        imageRef: img.id,
        stopSignal: img.config.StopSignal || 'SIGTERM',
        createdAt: nowNanos().toString(),
        logPath: logPath === '/dev/null' ? '' : logPath,
        rootfs,
        cgroupsPath,
        ociBinary: sb.ociBinary,
        mounts: config.mounts,
      };
      await this.saveContainer(rec);
      this.containers.set(id, rec);
      return id;
    } catch (err) {
      await execCommand('umount', [rootfs]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError('CreateContainerFailed', `failed to create containerd container: ${(err as Error).message}`, { cause: err });
    }
  }

  async startContainer(containerId: string): Promise<void> {
    await this.loaded;
    const c = this.container(containerId);
    if (c.startedAt || this.exitRecord(c)) throw new RuntimeError('InvalidArgument', `container ${c.id} is not in created state`);
    const sb = this.sandbox(c.sandboxId);
    if (c.logPath) await mkdir(dirname(c.logPath), { recursive: true });
    await this.ensureShim(sb);
    const reply = await shimRequest(sb.shimSocket, { op: 'start', dir: this.containerDir(c.id) }, 60_000);
    if (!reply.ok) {
      const message = `failed to create containerd task: failed to create shim task: OCI runtime create failed: ${reply.message}: unknown`;
      const record: ShimExitRecord & { startError: boolean } = { exitCode: 128, finishedAt: nowNanos().toString(), oomKilled: false, message, startError: true };
      await writeJsonAtomic(join(this.containerDir(c.id), 'exit.json'), record);
      c.startedAt = '0';
      await this.saveContainer(c);
      throw new RuntimeError('StartContainerFailed', message);
    }
    c.pid = reply.pid;
    c.startedAt = reply.startedAt;
    c.shimPid = reply.shimPid;
    await this.saveContainer(c);
  }

  private async ociKill(c: ContainerRecord, signal: string): Promise<void> {
    if (isUnshare(c.ociBinary)) {
      try {
        if (c.pid) process.kill(c.pid, signal as NodeJS.Signals);
      } catch {
        /* gone */
      }
      return;
    }
    if (await this.signalOciInit(c, signal)) return;
    await execCommand(c.ociBinary, ['--root', this.ociRoot, 'kill', c.id, signal.replace(/^SIG/, '')]).catch(() => undefined);
  }

  /**
   * Signals a runc container's init process directly, as `runc kill` does, without starting runc
   * (a Go process, ~30 ms of CPU) for it. runc's state.json names the init pid and its start time;
   * the pid is signalled only while /proc shows that same start time, so a reused pid is never hit.
   * False when that cannot be established (crun, a state being written, init gone): use the runtime.
   */
  private async signalOciInit(c: ContainerRecord, signal: string): Promise<boolean> {
    try {
      const state = JSON.parse(await readFile(join(this.ociRoot, c.id, 'state.json'), 'utf8')) as { init_process_pid?: number; init_process_start?: number };
      const pid = state.init_process_pid;
      if (!pid || state.init_process_start === undefined) return false;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // Fields after "(comm) " start at field 3; field 22 is the start time in clock ticks.
      const startTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
      if (startTime !== state.init_process_start) return false;
      process.kill(pid, signal as NodeJS.Signals);
      return true;
    } catch {
      return false;
    }
  }

  private async waitExited(c: ContainerRecord, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.containerState(c) === 'CONTAINER_EXITED') return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    await this.loaded;
    const c = this.container(containerId);
    if (this.containerState(c) !== 'CONTAINER_RUNNING') return;
    if (timeoutSeconds > 0) {
      await this.ociKill(c, c.stopSignal);
      if (await this.waitExited(c, timeoutSeconds * 1000)) return;
    }
    await this.ociKill(c, 'SIGKILL');
    if (!(await this.waitExited(c, 10_000))) throw new RuntimeError('DeadlineExceeded', `container ${c.id} did not exit after SIGKILL`);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.loaded;
    let c: ContainerRecord;
    try {
      c = this.container(containerId);
    } catch {
      return;
    }
    if (this.containerState(c) === 'CONTAINER_RUNNING') await this.stopContainer(c.id, 0);
    // The shim deletes the OCI container when its process exits; only one it could not (its state
    // directory under the OCI root is still there) needs another `delete`, a Go start-up (~30 ms CPU) each.
    if (!isUnshare(c.ociBinary) && (await exists(join(this.ociRoot, c.id)))) {
      await execCommand(c.ociBinary, ['--root', this.ociRoot, 'delete', '--force', c.id]).catch(() => undefined);
    }
    await execCommand('umount', [c.rootfs]).catch(() => undefined);
    removeCgroup(c.cgroupsPath, this.cgroupV);
    this.containers.delete(c.id);
    await rm(this.containerDir(c.id), { recursive: true, force: true });
  }

  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    await this.loaded;
    return [...this.containers.values()]
      .filter((c) => existsSync(this.containerDir(c.id)))
      .filter((c) => !filter?.id || c.id.startsWith(filter.id))
      .filter((c) => !filter?.podSandboxId || c.sandboxId.startsWith(filter.podSandboxId))
      .filter((c) => matchesSelector(c.config.labels, filter?.labelSelector))
      .map((c) => ({
        id: c.id,
        podSandboxId: c.sandboxId,
        metadata: c.config.metadata,
        image: c.config.image,
        imageRef: c.imageRef,
        state: this.containerState(c),
        createdAt: BigInt(c.createdAt),
        labels: c.config.labels,
        annotations: c.config.annotations,
      }))
      .filter((c) => !filter?.state || c.state === filter.state);
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    await this.loaded;
    const c = this.container(containerId);
    const state = this.containerState(c);
    const exit = this.exitRecord(c);
    let exitCode = 0;
    let reason = '';
    let message = '';
    let finishedAt = 0n;
    if (state === 'CONTAINER_EXITED') {
      if (exit) {
        exitCode = exit.exitCode;
        finishedAt = BigInt(exit.finishedAt);
        message = exit.message ?? '';
        reason = exit.startError ? 'StartError' : exit.shimLost ? 'Unknown' : exit.oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
      } else {
        exitCode = 255;
        reason = 'Unknown';
        message = shimLostMessage(this.shimPidOf(c));
        finishedAt = nowNanos();
      }
    }
    return {
      id: c.id,
      metadata: c.config.metadata,
      state,
      createdAt: BigInt(c.createdAt),
      startedAt: c.startedAt ? BigInt(c.startedAt) : 0n,
      finishedAt,
      exitCode,
      image: c.config.image,
      imageRef: c.imageRef,
      reason,
      message,
      labels: c.config.labels,
      annotations: c.config.annotations,
      mounts: c.mounts,
      logPath: c.logPath,
      resources: { linux: c.config.linux.resources },
    };
  }

  async containerStats(containerId: string): Promise<ContainerStats> {
    await this.loaded;
    const c = this.container(containerId);
    const u = cgroupUsage(c.cgroupsPath, this.cgroupV);
    const ts = nowNanos();
    const stats: ContainerStats = { attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels, annotations: c.config.annotations } };
    if (u.cpuUsageNanos !== undefined) stats.cpu = { timestamp: ts, usageCoreNanoSeconds: u.cpuUsageNanos };
    if (u.workingSet !== undefined) {
      stats.memory = { timestamp: ts, workingSetBytes: u.workingSet };
      if (u.memoryUsage !== undefined) stats.memory.usageBytes = u.memoryUsage;
      if (u.rss !== undefined) stats.memory.rssBytes = u.rss;
      if (u.pageFaults !== undefined) stats.memory.pageFaults = u.pageFaults;
      if (u.majorPageFaults !== undefined) stats.memory.majorPageFaults = u.majorPageFaults;
    }
    const used = await duBytes(join(this.containerDir(c.id), 'upper'));
    stats.writableLayer = { timestamp: ts, fsId: { mountpoint: this.opts.root }, usedBytes: used.bytes, inodesUsed: used.inodes };
    return stats;
  }

  async listContainerStats(filter?: ContainerFilter): Promise<ContainerStats[]> {
    const list = await this.listContainers({ ...filter, state: 'CONTAINER_RUNNING' });
    return Promise.all(list.map((c) => this.containerStats(c.id)));
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    await this.loaded;
    const c = this.container(containerId);
    if (this.containerState(c) !== 'CONTAINER_RUNNING') throw new RuntimeError('InvalidArgument', `container ${c.id} is not running`);
    const reply = await shimRequest(this.sandbox(c.sandboxId).shimSocket, { op: 'reopenLog', id: c.id });
    if (!reply.ok) throw new RuntimeError('Internal', reply.message);
  }

  // ---- exec / attach / port-forward ------------------------------------------------------------

  private runningContainer(containerId: string): ContainerRecord {
    const c = this.container(containerId);
    if (this.containerState(c) !== 'CONTAINER_RUNNING') throw new RuntimeError('NotFound', `container ${c.id} is not running`);
    return c;
  }

  private execArgv(c: ContainerRecord, cmd: string[], tty: boolean): string[] {
    if (cmd.length === 0) throw new RuntimeError('InvalidArgument', 'exec command must not be empty');
    let argv = [c.ociBinary, '--root', this.ociRoot, 'exec', ...(tty ? ['--tty'] : []), c.id, ...cmd];
    if (isUnshare(c.ociBinary)) {
      const spec = JSON.parse(readFileSync(join(this.containerDir(c.id), 'bundle', 'config.json'), 'utf8')) as { process: { user: { uid: number; gid: number }; env: string[] } };
      argv = nsenterExecArgv(c.pid ?? 0, spec.process.user, spec.process.env, cmd);
    }
    return tty ? underPty(argv) : argv;
  }

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    await this.loaded;
    const c = this.runningContainer(containerId);
    const argv = this.execArgv(c, cmd, false);
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer =
        timeoutSeconds > 0
          ? setTimeout(() => {
              timedOut = true;
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 1000).unref();
            }, timeoutSeconds * 1000)
          : undefined;
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        reject(new RuntimeError('Internal', e.message));
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (timedOut) {
          return reject(new RuntimeError('DeadlineExceeded', `failed to exec in container: timeout ${timeoutSeconds}s exceeded: context deadline exceeded`));
        }
        resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15) });
      });
    });
  }

  async exec(containerId: string, cmd: string[], opts: StreamOptions): Promise<ContainerStreams> {
    await this.loaded;
    const c = this.runningContainer(containerId);
    const argv = this.execArgv(c, cmd, opts.tty);
    const child: ChildProcess = spawn(argv[0] ?? '', argv.slice(1), {
      stdio: [opts.stdin || opts.tty ? 'pipe' : 'ignore', opts.stdout || opts.tty ? 'pipe' : 'ignore', opts.stderr && !opts.tty ? 'pipe' : 'ignore'],
      env: { ...process.env, TERM: 'xterm' },
    });
    child.stdin?.on('error', () => undefined);
    const exit = new Promise<{ exitCode?: number; message?: string }>((resolve) => {
      child.on('error', (e) => resolve({ exitCode: 126, message: e.message }));
      child.on('close', (code, signal) => resolve({ exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15) }));
    });
    const close = () => {
      child.stdin?.end();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      }
    };
    opts.signal?.addEventListener('abort', close, { once: true });
    const streams: ContainerStreams = {
      resize: (size) => {
        if (opts.tty && child.pid) void resizePty(child.pid, size).catch(() => undefined);
      },
      exit,
      close,
    };
    if (opts.stdin && child.stdin) streams.stdin = child.stdin;
    if ((opts.stdout || opts.tty) && child.stdout) streams.stdout = child.stdout;
    if (opts.stderr && !opts.tty && child.stderr) streams.stderr = child.stderr;
    return streams;
  }

  async attach(containerId: string, opts: StreamOptions): Promise<ContainerStreams> {
    await this.loaded;
    const c = this.runningContainer(containerId);
    const sb = this.sandbox(c.sandboxId);
    const tty = c.config.tty;
    const { reply, socket } = await shimCall(sb.shimSocket, { op: 'attach', id: c.id, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr && !tty });
    if (!reply.ok) {
      socket.destroy();
      throw new RuntimeError('NotFound', reply.message);
    }
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let resolveExit!: (v: { exitCode?: number; message?: string }) => void;
    const exit = new Promise<{ exitCode?: number; message?: string }>((r) => (resolveExit = r));
    const decoder = new FrameDecoder((kind, payload) => {
      if (kind === FRAME_STDOUT) stdout.write(payload);
      else if (kind === FRAME_STDERR) stderr.write(payload);
      else if (kind === FRAME_EXIT) resolveExit({});
    });
    socket.on('data', (b: Buffer) => decoder.push(b));
    socket.on('close', () => {
      stdout.end();
      stderr.end();
      resolveExit({});
    });
    socket.on('error', () => undefined);
    socket.resume();
    const close = () => socket.end();
    opts.signal?.addEventListener('abort', close, { once: true });
    const streams: ContainerStreams = {
      resize: (size) => {
        if (tty) socket.write(encodeFrame(FRAME_RESIZE, JSON.stringify(size)));
      },
      exit,
      close,
    };
    if (opts.stdout) streams.stdout = stdout;
    if (opts.stderr && !tty) streams.stderr = stderr;
    if (opts.stdin) {
      const stdin = new PassThrough();
      stdin.on('data', (b: Buffer) => socket.write(encodeFrame(FRAME_STDIN, b)));
      stdin.on('end', () => socket.write(encodeFrame(FRAME_CLOSE_STDIN)));
      streams.stdin = stdin;
    }
    return streams;
  }

  async portForward(podSandboxId: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    await this.loaded;
    const sb = this.sandbox(podSandboxId);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RuntimeError('InvalidArgument', `invalid port ${port}`);
    const refused = (why: string) =>
      new RuntimeError(
        'Unavailable',
        `failed to execute portforward in network namespace "${sb.netnsPath ?? 'host'}": failed to connect to localhost:${port} inside namespace "${sb.id}", IPv4: ${why}`,
      );
    if (!sb.netnsPath) {
      const sock = connect({ host: '127.0.0.1', port, signal });
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', (e) => reject(refused(e.message)));
      });
      return sock;
    }
    // Node cannot setns(2): a helper process in the pod's netns relays bytes over its stdio.
    const relay = `const s=require('net').connect(${port},'127.0.0.1');s.on('connect',()=>{process.stderr.write('+');process.stdin.pipe(s);s.pipe(process.stdout)});s.on('error',e=>{process.stderr.write('!'+e.message);process.exit(1)});s.on('close',()=>process.exit(0));process.stdin.on('end',()=>s.end())`;
    const child = spawn('nsenter', [`--net=${sb.netnsPath}`, process.execPath, '--max-old-space-size=16', '-e', relay], { stdio: ['pipe', 'pipe', 'pipe'], signal });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (err.startsWith('+')) resolve();
      });
      child.once('error', (e) => reject(refused(e.message)));
      child.once('exit', () => reject(refused(err.startsWith('!') ? `dial tcp4 127.0.0.1:${port}: ${err.slice(1)}` : err || 'relay exited')));
    });
    child.removeAllListeners('exit');
    child.stdin.on('error', () => undefined);
    const duplex = Duplex.from({ readable: child.stdout, writable: child.stdin });
    duplex.on('close', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    return duplex;
  }

  // ---- images: the built-in store --------------------------------------------------------------

  listImages(filter?: ImageFilter): Promise<Image[]> {
    return this.opts.images.listImages(filter);
  }
  imageStatus(image: ImageSpec): Promise<Image | undefined> {
    return this.opts.images.imageStatus(image);
  }
  pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    return this.opts.images.pullImage(image, auth, sandboxConfig);
  }
  removeImage(image: ImageSpec): Promise<void> {
    return this.opts.images.removeImage(image);
  }
  imageFsInfo(): Promise<FilesystemUsage[]> {
    return this.opts.images.imageFsInfo();
  }

  /**
   * Shims and containers outlive the runtime object, like containerd's shims. The spare exits and
   * the current shim is retired: it takes no new sandboxes and exits after its last one.
   */
  async close(): Promise<void> {
    await this.loaded.catch(() => undefined);
    await this.placing;
    const spare = this.spare;
    this.spare = undefined;
    const current = this.current;
    this.current = undefined;
    const sockets = [current, spare ? await spare.catch(() => undefined) : undefined];
    for (const socket of sockets) {
      if (!socket) continue;
      await shimRequest(socket, { op: 'shutdown' }, 2000).catch(() => undefined);
      await rm(socket, { force: true });
    }
  }
}

/**
 * crun refuses cgroup "hybrid" mode (v1 hierarchies + a cgroup2 mount) when any controller is
 * enabled on the v2 side (`cgroups in hybrid mode not supported, drop all controllers from cgroupv2`).
 */
function crunUnsupportedReason(): string | undefined {
  try {
    const controllers = readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim();
    if (cgroupVersion() === 1 && controllers) return `cgroup hybrid mode with controllers on cgroup2 (${controllers})`;
  } catch {
    /* no unified mount: pure v1 or pure v2 */
  }
  return undefined;
}

let hostCaps: string[] | undefined;
/** This process's capability bounding set, what privileged containers get. */
function hostCapabilities(): string[] | undefined {
  if (hostCaps) return hostCaps;
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) hostCaps = capabilitiesFromMask(m[1]!);
  } catch {
    /* not Linux: every capability */
  }
  return hostCaps;
}

/** What the runtime reads from exit.json: the shim's record, or the runtime's own for a failed start or a lost shim. */
type RuntimeExitRecord = ShimExitRecord & { startError?: boolean; shimLost?: boolean };

function shimLostMessage(shimPid: number | undefined): string {
  return `the pod shim${shimPid ? ` (pid ${shimPid})` : ''} that ran the container is gone: its exit status is unknown, and a process still running was killed`;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function isUnshare(bin: string): boolean {
  return bin.endsWith('/unshare');
}

async function duBytes(dir: string): Promise<{ bytes: bigint; inodes: bigint }> {
  let bytes = 0n;
  let inodes = 0n;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      inodes++;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        try {
          bytes += BigInt((await stat(p)).size);
        } catch {
          /* vanished */
        }
      }
    }
  };
  await access(dir).then(() => walk(dir)).catch(() => undefined);
  return { bytes, inodes };
}
