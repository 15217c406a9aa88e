// Pure mapping between the kubelet's runtime types (../types.ts) and CRI v1 wire messages as
// proto-loader decodes them (camelCase, enum names, int64 as strings, wrappers like Int64Value).
// Used in both directions: by CriRuntime (client) and by serveCri (server).
import type {
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerStats,
  ContainerStatus,
  FilesystemUsage,
  Image,
  ImageFilter,
  ImageSpec,
  LinuxContainerResources,
  Mount,
  NamespaceOptions,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  SecurityContext,
} from '../types.js';

/** A decoded protobuf message: the parsing boundary, typed again by the functions below. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WireMessage = any;

const int = (v: unknown): number => (v === undefined || v === null || v === '' ? 0 : Number(v));
const big = (v: unknown): bigint => (v === undefined || v === null || v === '' ? 0n : BigInt(v as string | number));
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const map = (v: unknown): Record<string, string> => ({ ...((v as Record<string, string> | undefined) ?? {}) });
const i64 = (v: bigint | number | undefined): string => (v === undefined ? '0' : v.toString());

// ---------- shared pieces ----------

export function imageSpecToWire(s: ImageSpec | undefined): WireMessage {
  return { image: s?.image ?? '', annotations: s?.annotations ?? {}, userSpecifiedImage: '', runtimeHandler: s?.runtimeHandler ?? '' };
}

export function imageSpecFromWire(w: WireMessage): ImageSpec {
  const spec: ImageSpec = { image: str(w?.image) };
  if (w?.annotations && Object.keys(w.annotations).length > 0) spec.annotations = map(w.annotations);
  if (w?.runtimeHandler) spec.runtimeHandler = str(w.runtimeHandler);
  return spec;
}

const NAMESPACE_MODES = new Set(['POD', 'CONTAINER', 'NODE']);

export function namespaceOptionsToWire(n: NamespaceOptions | undefined): WireMessage {
  return { network: n?.network ?? 'POD', pid: n?.pid ?? 'CONTAINER', ipc: n?.ipc ?? 'POD', targetId: '' };
}

export function namespaceOptionsFromWire(w: WireMessage): NamespaceOptions {
  const mode = (v: unknown, dflt: NamespaceOptions['network']): NamespaceOptions['network'] =>
    NAMESPACE_MODES.has(String(v)) ? (String(v) as NamespaceOptions['network']) : dflt;
  return { network: mode(w?.network, 'POD'), pid: mode(w?.pid, 'CONTAINER'), ipc: mode(w?.ipc, 'POD') };
}

export function resourcesToWire(r: LinuxContainerResources | undefined): WireMessage {
  return {
    cpuPeriod: i64(r?.cpuPeriod),
    cpuQuota: i64(r?.cpuQuota),
    cpuShares: i64(r?.cpuShares),
    memoryLimitInBytes: i64(r?.memoryLimitInBytes),
    oomScoreAdj: i64(r?.oomScoreAdj),
    unified: r?.unified ?? {},
  };
}

/** Zero means "not set" on the wire (proto3), so zeros are left out of the result. */
export function resourcesFromWire(w: WireMessage): LinuxContainerResources {
  const r: LinuxContainerResources = {};
  if (int(w?.cpuPeriod)) r.cpuPeriod = int(w.cpuPeriod);
  if (int(w?.cpuQuota)) r.cpuQuota = int(w.cpuQuota);
  if (int(w?.cpuShares)) r.cpuShares = int(w.cpuShares);
  if (int(w?.memoryLimitInBytes)) r.memoryLimitInBytes = int(w.memoryLimitInBytes);
  if (int(w?.oomScoreAdj)) r.oomScoreAdj = int(w.oomScoreAdj);
  if (w?.unified && Object.keys(w.unified).length > 0) r.unified = map(w.unified);
  return r;
}

function securityContextToWire(s: SecurityContext | undefined): WireMessage {
  const w: WireMessage = {
    privileged: s?.privileged ?? false,
    supplementalGroups: (s?.supplementalGroups ?? []).map(String),
    readonlyRootfs: s?.readonlyRootfs ?? false,
  };
  if (s?.namespaceOptions) w.namespaceOptions = namespaceOptionsToWire(s.namespaceOptions);
  if (s?.capabilities) w.capabilities = { addCapabilities: s.capabilities.addCapabilities, dropCapabilities: s.capabilities.dropCapabilities };
  if (s?.noNewPrivs) w.noNewPrivs = true;
  if (s?.runAsUser !== undefined) w.runAsUser = { value: String(s.runAsUser) };
  if (s?.runAsGroup !== undefined) w.runAsGroup = { value: String(s.runAsGroup) };
  return w;
}

function securityContextFromWire(w: WireMessage): SecurityContext {
  const s: SecurityContext = {};
  if (w?.privileged) s.privileged = true;
  if (w?.runAsUser) s.runAsUser = int(w.runAsUser.value);
  if (w?.runAsGroup) s.runAsGroup = int(w.runAsGroup.value);
  if (w?.supplementalGroups?.length) s.supplementalGroups = (w.supplementalGroups as unknown[]).map(int);
  if (w?.readonlyRootfs) s.readonlyRootfs = true;
  if (w?.namespaceOptions) s.namespaceOptions = namespaceOptionsFromWire(w.namespaceOptions);
  if (w?.capabilities && (w.capabilities.addCapabilities?.length || w.capabilities.dropCapabilities?.length)) {
    s.capabilities = { addCapabilities: [...w.capabilities.addCapabilities], dropCapabilities: [...w.capabilities.dropCapabilities] };
  }
  if (w?.noNewPrivs) s.noNewPrivs = true;
  return s;
}

function mountToWire(m: Mount): WireMessage {
  return {
    containerPath: m.containerPath,
    hostPath: m.hostPath,
    readonly: m.readonly,
    selinuxRelabel: m.selinuxRelabel ?? false,
    propagation: m.propagation ?? 'PROPAGATION_PRIVATE',
  };
}

function mountFromWire(w: WireMessage): Mount {
  const m: Mount = { containerPath: str(w.containerPath), hostPath: str(w.hostPath), readonly: Boolean(w.readonly) };
  if (w.propagation && w.propagation !== 'PROPAGATION_PRIVATE') m.propagation = w.propagation;
  if (w.selinuxRelabel) m.selinuxRelabel = true;
  return m;
}

// ---------- sandboxes ----------

export function sandboxConfigToWire(c: PodSandboxConfig): WireMessage {
  const sc = c.linux.securityContext;
  const linuxSecurity: WireMessage = {
    namespaceOptions: namespaceOptionsToWire(sc.namespaceOptions),
    readonlyRootfs: sc.readonlyRootfs ?? false,
    supplementalGroups: (sc.supplementalGroups ?? []).map(String),
    privileged: sc.privileged ?? false,
  };
  if (sc.runAsUser !== undefined) linuxSecurity.runAsUser = { value: String(sc.runAsUser) };
  if (sc.runAsGroup !== undefined) linuxSecurity.runAsGroup = { value: String(sc.runAsGroup) };
  const linux: WireMessage = { cgroupParent: c.linux.cgroupParent, securityContext: linuxSecurity, sysctls: c.linux.sysctls ?? {} };
  if (c.linux.resources) linux.resources = resourcesToWire(c.linux.resources);
  return {
    metadata: { ...c.metadata },
    hostname: c.hostname,
    logDirectory: c.logDirectory,
    dnsConfig: c.dnsConfig ? { ...c.dnsConfig } : undefined,
    portMappings: c.portMappings.map((p) => ({ ...p })),
    labels: c.labels,
    annotations: c.annotations,
    linux,
  };
}

export function sandboxConfigFromWire(w: WireMessage): PodSandboxConfig {
  const sc = w?.linux?.securityContext;
  const securityContext: PodSandboxConfig['linux']['securityContext'] = {
    namespaceOptions: namespaceOptionsFromWire(sc?.namespaceOptions),
  };
  if (sc?.privileged) securityContext.privileged = true;
  if (sc?.runAsUser) securityContext.runAsUser = int(sc.runAsUser.value);
  if (sc?.runAsGroup) securityContext.runAsGroup = int(sc.runAsGroup.value);
  if (sc?.readonlyRootfs) securityContext.readonlyRootfs = true;
  if (sc?.supplementalGroups?.length) securityContext.supplementalGroups = (sc.supplementalGroups as unknown[]).map(int);
  const config: PodSandboxConfig = {
    metadata: { name: str(w?.metadata?.name), uid: str(w?.metadata?.uid), namespace: str(w?.metadata?.namespace), attempt: int(w?.metadata?.attempt) },
    hostname: str(w?.hostname),
    logDirectory: str(w?.logDirectory),
    portMappings: ((w?.portMappings ?? []) as WireMessage[]).map((p) => ({
      protocol: p.protocol ?? 'TCP',
      containerPort: int(p.containerPort),
      hostPort: int(p.hostPort),
      hostIp: str(p.hostIp),
    })),
    labels: map(w?.labels),
    annotations: map(w?.annotations),
    linux: { cgroupParent: str(w?.linux?.cgroupParent), securityContext },
  };
  if (w?.dnsConfig) config.dnsConfig = { servers: [...w.dnsConfig.servers], searches: [...w.dnsConfig.searches], options: [...w.dnsConfig.options] };
  if (w?.linux?.sysctls && Object.keys(w.linux.sysctls).length > 0) config.linux.sysctls = map(w.linux.sysctls);
  if (w?.linux?.resources) config.linux.resources = resourcesFromWire(w.linux.resources);
  return config;
}

export function sandboxStatusFromWire(w: WireMessage): PodSandboxStatus {
  const status: PodSandboxStatus = {
    id: str(w.id),
    metadata: { name: str(w.metadata?.name), uid: str(w.metadata?.uid), namespace: str(w.metadata?.namespace), attempt: int(w.metadata?.attempt) },
    state: w.state === 'SANDBOX_READY' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
    createdAt: big(w.createdAt),
    labels: map(w.labels),
    annotations: map(w.annotations),
    runtimeHandler: str(w.runtimeHandler),
  };
  if (w.network && (w.network.ip || w.network.additionalIps?.length)) {
    status.network = { ip: str(w.network.ip), additionalIps: ((w.network.additionalIps ?? []) as WireMessage[]).map((a) => ({ ip: str(a.ip) })) };
  }
  if (w.linux?.namespaces?.options) status.linux = { namespaces: { options: namespaceOptionsFromWire(w.linux.namespaces.options) } };
  return status;
}

export function sandboxStatusToWire(s: PodSandboxStatus): WireMessage {
  return {
    id: s.id,
    metadata: { ...s.metadata },
    state: s.state,
    createdAt: i64(s.createdAt),
    network: s.network ? { ip: s.network.ip, additionalIps: s.network.additionalIps.map((a) => ({ ip: a.ip })) } : { ip: '', additionalIps: [] },
    linux: s.linux?.namespaces?.options ? { namespaces: { options: namespaceOptionsToWire(s.linux.namespaces.options) } } : undefined,
    labels: s.labels,
    annotations: s.annotations,
    runtimeHandler: s.runtimeHandler,
  };
}

export function podSandboxFromWire(w: WireMessage): PodSandbox {
  return {
    id: str(w.id),
    metadata: { name: str(w.metadata?.name), uid: str(w.metadata?.uid), namespace: str(w.metadata?.namespace), attempt: int(w.metadata?.attempt) },
    state: w.state === 'SANDBOX_READY' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY',
    createdAt: big(w.createdAt),
    labels: map(w.labels),
    annotations: map(w.annotations),
    runtimeHandler: str(w.runtimeHandler),
  };
}

export function podSandboxToWire(s: PodSandbox): WireMessage {
  return { ...s, metadata: { ...s.metadata }, createdAt: i64(s.createdAt) };
}

export function sandboxFilterToWire(f: PodSandboxFilter | undefined): WireMessage {
  if (!f) return undefined;
  return { id: f.id ?? '', state: f.state ? { state: f.state } : undefined, labelSelector: f.labelSelector ?? {} };
}

export function sandboxFilterFromWire(w: WireMessage): PodSandboxFilter | undefined {
  if (!w) return undefined;
  const f: PodSandboxFilter = {};
  if (w.id) f.id = str(w.id);
  if (w.state) f.state = w.state.state;
  if (w.labelSelector && Object.keys(w.labelSelector).length > 0) f.labelSelector = map(w.labelSelector);
  return f;
}

// ---------- containers ----------

export function containerConfigToWire(c: ContainerConfig): WireMessage {
  return {
    metadata: { ...c.metadata },
    image: imageSpecToWire(c.image),
    command: c.command,
    args: c.args,
    workingDir: c.workingDir,
    envs: c.envs.map((e) => ({ key: e.key, value: e.value })),
    mounts: c.mounts.map(mountToWire),
    devices: c.devices.map((d) => ({ ...d })),
    labels: c.labels,
    annotations: c.annotations,
    logPath: c.logPath,
    stdin: c.stdin,
    stdinOnce: c.stdinOnce,
    tty: c.tty,
    linux: { resources: resourcesToWire(c.linux.resources), securityContext: securityContextToWire(c.linux.securityContext) },
  };
}

export function containerConfigFromWire(w: WireMessage): ContainerConfig {
  return {
    metadata: { name: str(w?.metadata?.name), attempt: int(w?.metadata?.attempt) },
    image: imageSpecFromWire(w?.image),
    command: [...(w?.command ?? [])],
    args: [...(w?.args ?? [])],
    workingDir: str(w?.workingDir),
    envs: ((w?.envs ?? []) as WireMessage[]).map((e) => ({ key: str(e.key), value: str(e.value) })),
    mounts: ((w?.mounts ?? []) as WireMessage[]).map(mountFromWire),
    devices: ((w?.devices ?? []) as WireMessage[]).map((d) => ({ containerPath: str(d.containerPath), hostPath: str(d.hostPath), permissions: str(d.permissions) })),
    labels: map(w?.labels),
    annotations: map(w?.annotations),
    logPath: str(w?.logPath),
    stdin: Boolean(w?.stdin),
    stdinOnce: Boolean(w?.stdinOnce),
    tty: Boolean(w?.tty),
    linux: { resources: resourcesFromWire(w?.linux?.resources), securityContext: securityContextFromWire(w?.linux?.securityContext) },
  };
}

const CONTAINER_STATES = new Set(['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN']);
const containerState = (v: unknown): Container['state'] => (CONTAINER_STATES.has(String(v)) ? (String(v) as Container['state']) : 'CONTAINER_UNKNOWN');

export function containerFromWire(w: WireMessage): Container {
  return {
    id: str(w.id),
    podSandboxId: str(w.podSandboxId),
    metadata: { name: str(w.metadata?.name), attempt: int(w.metadata?.attempt) },
    image: imageSpecFromWire(w.image),
    imageRef: str(w.imageRef),
    state: containerState(w.state),
    createdAt: big(w.createdAt),
    labels: map(w.labels),
    annotations: map(w.annotations),
  };
}

export function containerToWire(c: Container): WireMessage {
  return { ...c, metadata: { ...c.metadata }, image: imageSpecToWire(c.image), createdAt: i64(c.createdAt), imageId: c.imageRef };
}

export function containerStatusFromWire(w: WireMessage): ContainerStatus {
  const s: ContainerStatus = {
    id: str(w.id),
    metadata: { name: str(w.metadata?.name), attempt: int(w.metadata?.attempt) },
    state: containerState(w.state),
    createdAt: big(w.createdAt),
    startedAt: big(w.startedAt),
    finishedAt: big(w.finishedAt),
    exitCode: int(w.exitCode),
    image: imageSpecFromWire(w.image),
    imageRef: str(w.imageRef),
    reason: str(w.reason),
    message: str(w.message),
    labels: map(w.labels),
    annotations: map(w.annotations),
    mounts: ((w.mounts ?? []) as WireMessage[]).map(mountFromWire),
    logPath: str(w.logPath),
  };
  if (w.resources?.linux) s.resources = { linux: resourcesFromWire(w.resources.linux) };
  return s;
}

export function containerStatusToWire(s: ContainerStatus): WireMessage {
  return {
    ...s,
    metadata: { ...s.metadata },
    image: imageSpecToWire(s.image),
    createdAt: i64(s.createdAt),
    startedAt: i64(s.startedAt),
    finishedAt: i64(s.finishedAt),
    mounts: s.mounts.map(mountToWire),
    resources: s.resources?.linux ? { linux: resourcesToWire(s.resources.linux) } : undefined,
    imageId: s.imageRef,
  };
}

export function containerFilterToWire(f: ContainerFilter | undefined): WireMessage {
  if (!f) return undefined;
  return { id: f.id ?? '', state: f.state ? { state: f.state } : undefined, podSandboxId: f.podSandboxId ?? '', labelSelector: f.labelSelector ?? {} };
}

export function containerFilterFromWire(w: WireMessage): ContainerFilter | undefined {
  if (!w) return undefined;
  const f: ContainerFilter = {};
  if (w.id) f.id = str(w.id);
  if (w.state) f.state = containerState(w.state.state);
  if (w.podSandboxId) f.podSandboxId = str(w.podSandboxId);
  if (w.labelSelector && Object.keys(w.labelSelector).length > 0) f.labelSelector = map(w.labelSelector);
  return f;
}

const u64 = (v: bigint | undefined): WireMessage => (v === undefined ? undefined : { value: v.toString() });
const fromU64 = (w: WireMessage): bigint | undefined => (w ? big(w.value) : undefined);

export function filesystemUsageToWire(u: FilesystemUsage): WireMessage {
  return { timestamp: i64(u.timestamp), fsId: { mountpoint: u.fsId.mountpoint }, usedBytes: u64(u.usedBytes), inodesUsed: u64(u.inodesUsed) };
}

export function filesystemUsageFromWire(w: WireMessage): FilesystemUsage {
  return { timestamp: big(w.timestamp), fsId: { mountpoint: str(w.fsId?.mountpoint) }, usedBytes: fromU64(w.usedBytes) ?? 0n, inodesUsed: fromU64(w.inodesUsed) ?? 0n };
}

export function containerStatsFromWire(w: WireMessage): ContainerStats {
  const a = w.attributes ?? {};
  const stats: ContainerStats = {
    attributes: { id: str(a.id), metadata: { name: str(a.metadata?.name), attempt: int(a.metadata?.attempt) }, labels: map(a.labels), annotations: map(a.annotations) },
  };
  if (w.cpu) stats.cpu = { timestamp: big(w.cpu.timestamp), usageCoreNanoSeconds: fromU64(w.cpu.usageCoreNanoSeconds) ?? 0n };
  if (w.memory) {
    const memory: NonNullable<ContainerStats['memory']> = { timestamp: big(w.memory.timestamp), workingSetBytes: fromU64(w.memory.workingSetBytes) ?? 0n };
    for (const k of ['usageBytes', 'rssBytes', 'pageFaults', 'majorPageFaults'] as const) {
      const v = fromU64(w.memory[k]);
      if (v !== undefined) memory[k] = v;
    }
    stats.memory = memory;
  }
  if (w.writableLayer) stats.writableLayer = filesystemUsageFromWire(w.writableLayer);
  return stats;
}

export function containerStatsToWire(s: ContainerStats): WireMessage {
  return {
    attributes: { ...s.attributes, metadata: { ...s.attributes.metadata } },
    cpu: s.cpu ? { timestamp: i64(s.cpu.timestamp), usageCoreNanoSeconds: u64(s.cpu.usageCoreNanoSeconds) } : undefined,
    memory: s.memory
      ? {
          timestamp: i64(s.memory.timestamp),
          workingSetBytes: u64(s.memory.workingSetBytes),
          usageBytes: u64(s.memory.usageBytes),
          rssBytes: u64(s.memory.rssBytes),
          pageFaults: u64(s.memory.pageFaults),
          majorPageFaults: u64(s.memory.majorPageFaults),
        }
      : undefined,
    writableLayer: s.writableLayer ? filesystemUsageToWire(s.writableLayer) : undefined,
  };
}

// ---------- images ----------

export function imageFromWire(w: WireMessage): Image {
  const image: Image = {
    id: str(w.id),
    repoTags: [...(w.repoTags ?? [])],
    repoDigests: [...(w.repoDigests ?? [])],
    size: big(w.size),
    username: str(w.username),
    pinned: Boolean(w.pinned),
  };
  if (w.uid) image.uid = int(w.uid.value);
  if (w.spec?.image) image.spec = imageSpecFromWire(w.spec);
  return image;
}

export function imageToWire(i: Image): WireMessage {
  return {
    id: i.id,
    repoTags: i.repoTags,
    repoDigests: i.repoDigests,
    size: i.size.toString(),
    uid: i.uid === undefined ? undefined : { value: String(i.uid) },
    username: i.username,
    spec: i.spec ? imageSpecToWire(i.spec) : undefined,
    pinned: i.pinned,
  };
}

export function imageFilterToWire(f: ImageFilter | undefined): WireMessage {
  return f?.image ? { image: imageSpecToWire(f.image) } : undefined;
}

export function imageFilterFromWire(w: WireMessage): ImageFilter | undefined {
  return w?.image?.image ? { image: imageSpecFromWire(w.image) } : undefined;
}
