// Pure translation of a CRI container config + image config + sandbox into an OCI runtime spec
// (config.json for runc/crun), following containerd's CRI plugin (pkg/cri/server/container_create_linux.go)
// for argument resolution, environment, user lookup, default mounts, capabilities and masked paths.
import type { ContainerConfig, LinuxContainerResources, Mount } from '../types.js';
import type { OciImageConfig } from '../../images/types.js';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** containerd's default capability set for unprivileged containers. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability name up to CAP_CHECKPOINT_RESTORE (40), for privileged containers. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capability names set in a /proc/<pid>/status mask (`CapBnd: 000001fffeffffff`). Privileged
 * containers get the runtime's own bounding set, as containerd does: on hosts where root lacks a
 * capability (CAP_SYS_RESOURCE here), asking runc for every capability fails the container.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim() || '0'}`);
  return ALL_CAPABILITIES.filter((_c, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

export const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Thrown for configs that cannot be run; the runtime maps it to CreateContainerFailed. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
}

/**
 * The process argv as containerd's CRI plugin builds it: pod `command` replaces the image
 * Entrypoint (and then the image Cmd is dropped); pod `args` replace the image Cmd.
 */
export function resolveProcessArgs(command: string[], args: string[], image: OciImageConfig): string[] {
  let cmd = command;
  let rest = args;
  if (cmd.length === 0) {
    if (rest.length === 0) rest = image.Cmd ?? [];
    cmd = image.Entrypoint ?? [];
  }
  const argv = [...cmd, ...rest];
  if (argv.length === 0) throw new SpecError('no command specified');
  return argv;
}

/** `KEY=value` list: defaults, then the image's Env, then the config's envs; later keys replace earlier ones in place. */
export function mergeEnv(layers: string[][]): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  for (const layer of layers) {
    for (const kv of layer) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (!values.has(key)) order.push(key);
      values.set(key, kv);
    }
  }
  return order.map((k) => values.get(k) ?? k);
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? ''))
    .map((f) => ({ name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2] ?? ''))
    .map((f) => ({ name: f[0] ?? '', gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** For HOME when the image sets none. */
  home?: string;
}

/**
 * The container user: runAsUser/runAsGroup win, else the image's `User` (`name`, `uid`, `name:group`, `uid:gid`)
 * looked up in the rootfs' /etc/passwd and /etc/group; supplementary groups are the user's group memberships
 * plus `supplementalGroups`. An unknown user name is an error, an unknown numeric uid gets gid 0, as runc/containerd.
 */
export function resolveUser(
  sc: { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[] },
  imageUser: string | undefined,
  passwd: PasswdEntry[],
  groups: GroupEntry[],
): ResolvedUser {
  let uid = 0;
  let gid: number | undefined;
  let entry: PasswdEntry | undefined;
  if (sc.runAsUser !== undefined) {
    uid = sc.runAsUser;
    entry = passwd.find((p) => p.uid === uid);
  } else if (imageUser) {
    const [u = '', g] = imageUser.split(':');
    if (/^\d+$/.test(u)) {
      uid = Number(u);
      entry = passwd.find((p) => p.uid === uid);
    } else if (u) {
      entry = passwd.find((p) => p.name === u);
      if (!entry) throw new SpecError(`unable to find user ${u}: no matching entries in passwd file`);
      uid = entry.uid;
    }
    if (g !== undefined && g !== '') {
      if (/^\d+$/.test(g)) gid = Number(g);
      else {
        const grp = groups.find((x) => x.name === g);
        if (!grp) throw new SpecError(`unable to find group ${g}: no matching entries in group file`);
        gid = grp.gid;
      }
    }
  } else {
    entry = passwd.find((p) => p.uid === 0);
  }
  if (sc.runAsGroup !== undefined) gid = sc.runAsGroup;
  gid ??= entry?.gid ?? 0;
  const additional = new Set<number>();
  if (entry) for (const grp of groups) if (grp.members.includes(entry.name) && grp.gid !== gid) additional.add(grp.gid);
  for (const g of sc.supplementalGroups ?? []) additional.add(g);
  return { uid, gid, additionalGids: [...additional], ...(entry ? { home: entry.home } : {}) };
}

/** Namespaces the container joins or creates; a path joins an existing one. */
export interface SpecNamespaces {
  network?: string | 'host';
  uts?: string | 'host';
  ipc?: string | 'host';
  pid?: string | 'host' | 'new';
}

export interface BuildSpecInput {
  config: ContainerConfig;
  image: OciImageConfig;
  rootfs: string;
  user: ResolvedUser;
  /** HOSTNAME env and (own UTS ns only) the hostname. */
  hostname: string;
  namespaces: SpecNamespaces;
  cgroupsPath: string;
  /** Bind mounts the runtime adds (resolv.conf, hostname, hosts, /dev/shm); the config's mounts override by containerPath. */
  runtimeMounts: Mount[];
  /** The runtime's bounding set: "all capabilities" (privileged, add ALL) means these. Default: every known one. */
  hostCapabilities?: string[];
}

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

function bindMountOptions(m: Mount): string[] {
  const opts = ['rbind'];
  if (m.propagation === 'PROPAGATION_HOST_TO_CONTAINER') opts.push('rslave');
  else if (m.propagation === 'PROPAGATION_BIDIRECTIONAL') opts.push('rshared');
  else opts.push('rprivate');
  opts.push(m.readonly ? 'ro' : 'rw');
  return opts;
}

/** The OCI linux.resources section; never a negative oomScoreAdj (root here lacks CAP_SYS_RESOURCE). */
export function ociResources(r: LinuxContainerResources): Record<string, unknown> {
  const out: Record<string, unknown> = {
    devices: [{ allow: false, access: 'rwm' }],
  };
  if (r.memoryLimitInBytes && r.memoryLimitInBytes > 0) out.memory = { limit: r.memoryLimitInBytes, swap: r.memoryLimitInBytes };
  const cpu: Record<string, number> = {};
  if (r.cpuShares && r.cpuShares > 0) cpu.shares = r.cpuShares;
  if (r.cpuQuota && r.cpuQuota > 0) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod && r.cpuPeriod > 0) cpu.period = r.cpuPeriod;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (r.unified && Object.keys(r.unified).length > 0) out.unified = r.unified;
  return out;
}

/** Builds config.json for runc/crun (OCI runtime spec 1.0.2). */
export function buildOciSpec(input: BuildSpecInput): Record<string, unknown> {
  const { config, image, user, namespaces } = input;
  const sc = config.linux.securityContext;
  const privileged = sc.privileged === true;
  const args = resolveProcessArgs(config.command, config.args, image);
  const env = mergeEnv([
    [DEFAULT_PATH_ENV, `HOSTNAME=${input.hostname}`],
    image.Env ?? [],
    config.envs.map((e) => `${e.key}=${e.value}`),
  ]);
  if (!env.some((e) => e.startsWith('HOME=')) && user.home) env.push(`HOME=${user.home}`);
  const all = input.hostCapabilities ?? ALL_CAPABILITIES;
  let caps = privileged ? [...all] : [...DEFAULT_CAPABILITIES];
  const capName = (c: string) => (c.startsWith('CAP_') ? c : `CAP_${c}`).toUpperCase();
  const add = sc.capabilities?.addCapabilities ?? [];
  const drop = sc.capabilities?.dropCapabilities ?? [];
  if (add.some((c) => c.toUpperCase() === 'ALL')) caps = [...all];
  else for (const c of add) if (!caps.includes(capName(c))) caps.push(capName(c));
  if (drop.some((c) => c.toUpperCase() === 'ALL')) caps = add.filter((c) => c.toUpperCase() !== 'ALL').map(capName);
  else caps = caps.filter((c) => !drop.map(capName).includes(c));

  const process: Record<string, unknown> = {
    terminal: config.tty,
    user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
    args,
    env,
    cwd: config.workingDir || image.WorkingDir || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: sc.noNewPrivs === true,
  };
  const oomScoreAdj = config.linux.resources.oomScoreAdj;
  if (oomScoreAdj !== undefined && oomScoreAdj >= 0) process.oomScoreAdj = oomScoreAdj;

  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
  ];
  const userPaths = new Set(config.mounts.map((m) => m.containerPath));
  const extra = [...input.runtimeMounts.filter((m) => !userPaths.has(m.containerPath)), ...config.mounts];
  // Parents before children, so a mount under another one's path is not hidden by it.
  extra.sort((a, b) => a.containerPath.split('/').length - b.containerPath.split('/').length);
  for (const m of extra) {
    const i = mounts.findIndex((x) => x.destination === m.containerPath);
    if (i >= 0) mounts.splice(i, 1);
    mounts.push({ destination: m.containerPath, type: 'bind', source: m.hostPath, options: bindMountOptions(m) });
  }

  const nsList: { type: string; path?: string }[] = [{ type: 'mount' }];
  const ns = (type: string, v: string | undefined) => {
    if (v === 'host') return;
    if (v === undefined || v === 'new') nsList.push({ type });
    else nsList.push({ type, path: v });
  };
  ns('network', namespaces.network);
  ns('uts', namespaces.uts);
  ns('ipc', namespaces.ipc);
  ns('pid', namespaces.pid);

  const linux: Record<string, unknown> = {
    namespaces: nsList,
    cgroupsPath: input.cgroupsPath,
    resources: privileged ? { ...ociResources(config.linux.resources), devices: [{ allow: true, access: 'rwm' }] } : ociResources(config.linux.resources),
  };
  if (!privileged) {
    linux.maskedPaths = MASKED_PATHS;
    linux.readonlyPaths = READONLY_PATHS;
  }
  const spec: Record<string, unknown> = {
    ociVersion: '1.0.2',
    process,
    root: { path: input.rootfs, readonly: sc.readonlyRootfs === true },
    mounts,
    linux,
  };
  if (namespaces.uts === undefined && input.hostname) spec.hostname = input.hostname;
  return spec;
}
