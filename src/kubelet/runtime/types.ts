// The kubelet's one runtime interface, shaped like CRI v1's RuntimeService and ImageService
// (k8s.io/cri-api runtime/v1/api.proto) with camelCase field names, so the containerd backend maps
// 1:1 onto gRPC and the built-in process and simulated runtimes implement the same contract.
// Differences from CRI, on purpose:
//  - Streaming (exec/attach/port-forward) returns live streams instead of a URL to a streaming
//    server: the kubelet's own API server speaks the wire protocols (WebSocket, SPDY) for every backend.
//  - Errors are RuntimeError values with a stable code, not gRPC statuses.
import type { Duplex, Readable, Writable } from 'node:stream';

export const CONTAINER_STATE = ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN'] as const;
export type ContainerState = (typeof CONTAINER_STATE)[number];
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
/** CRI NamespaceMode: POD = shared by the pod's containers, CONTAINER = per container, NODE = the host's. */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE';

export interface KeyValue {
  key: string;
  value: string;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface NamespaceOptions {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
}

export interface LinuxContainerResources {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
  oomScoreAdj?: number;
  /** Huge pages and unified (cgroup v2 key/value) are passed through where supported. */
  unified?: Record<string, string>;
}

export interface SecurityContext {
  privileged?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  supplementalGroups?: number[];
  readonlyRootfs?: boolean;
  capabilities?: { addCapabilities: string[]; dropCapabilities: string[] };
  noNewPrivs?: boolean;
  namespaceOptions?: NamespaceOptions;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  /** Empty for host-network pods (a UTS namespace is not created for them). */
  hostname: string;
  /** `/var/log/pods/<namespace>_<name>_<uid>`; container logs go to `<logDirectory>/<container.logPath>`. */
  logDirectory: string;
  dnsConfig?: DNSConfig;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: {
    /** The pod's cgroup, e.g. `/kubepods/burstable/pod<uid>`; the runtime creates it and puts containers beneath it. */
    cgroupParent: string;
    securityContext: SecurityContext & { namespaceOptions: NamespaceOptions };
    sysctls?: Record<string, string>;
    /** Pod-level resource totals, for runtimes that size the sandbox. */
    resources?: LinuxContainerResources;
  };
}

export interface PodSandboxNetworkStatus {
  ip: string;
  additionalIps: { ip: string }[];
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** Nanoseconds since the epoch, as CRI. */
  createdAt: bigint;
  /** Empty for host-network pods: the kubelet uses the node's IP. */
  network?: PodSandboxNetworkStatus;
  linux?: { namespaces?: { options?: NamespaceOptions } };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  createdAt: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface PodSandboxFilter {
  id?: string;
  state?: PodSandboxState;
  labelSelector?: Record<string, string>;
}

export interface ImageSpec {
  /** A reference (`docker.io/library/busybox:1.36`, `localhost:5000/x@sha256:…`) or an image id. */
  image: string;
  annotations?: Record<string, string>;
  runtimeHandler?: string;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  /** CRI MountPropagation: PROPAGATION_PRIVATE (default), PROPAGATION_HOST_TO_CONTAINER, PROPAGATION_BIDIRECTIONAL. */
  propagation?: 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL';
  selinuxRelabel?: boolean;
}

export interface Device {
  containerPath: string;
  hostPath: string;
  permissions: string;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  /** ENTRYPOINT override (pod `command`); empty = the image's. */
  command: string[];
  /** CMD override (pod `args`); empty = the image's (when command is empty too). */
  args: string[];
  workingDir: string;
  envs: KeyValue[];
  mounts: Mount[];
  devices: Device[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Relative to the sandbox's logDirectory, e.g. `web/0.log`. */
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  linux: {
    resources: LinuxContainerResources;
    securityContext: SecurityContext;
  };
}

export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  /** Nanoseconds since the epoch; 0 when not reached. */
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  image: ImageSpec;
  /** The image's id (`sha256:…` of its config) — what pod status `imageID` reports after a `docker-pullable://` style prefix is chosen by the kubelet. */
  imageRef: string;
  /** Upstream reasons: `Completed` (exit 0), `Error`, `OOMKilled`, `ContainerCannotRun`… */
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Mount[];
  /** Absolute path of the CRI-format log file. */
  logPath: string;
  resources?: { linux?: LinuxContainerResources };
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: ContainerMetadata;
  image: ImageSpec;
  imageRef: string;
  state: ContainerState;
  createdAt: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  podSandboxId?: string;
  labelSelector?: Record<string, string>;
}

export interface RuntimeCondition {
  type: 'RuntimeReady' | 'NetworkReady' | string;
  status: boolean;
  reason: string;
  message: string;
}

export interface RuntimeStatus {
  conditions: RuntimeCondition[];
  /** Free-form facts for `k8ts crictl info` (config, CNI, versions). */
  info?: Record<string, unknown>;
}

export interface VersionInfo {
  version: string;
  /** `containerd`, `k8ts-process`, `k8ts-simulated`: the node reports `<runtimeName>://<runtimeVersion>`. */
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  signal?: AbortSignal;
}

/**
 * A live process in a container (exec) or a container's own main process (attach).
 * With tty, stderr is absent (merged into stdout). `exit` settles when the process ends
 * (attach: when the streams close); exitCode is undefined for attach.
 */
export interface ContainerStreams {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  resize(size: { width: number; height: number }): void;
  exit: Promise<{ exitCode?: number; message?: string }>;
  /** Ends the session (closes stdin, kills an exec'd process). */
  close(): void;
}

export interface Image {
  /** `sha256:<config digest>`. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: bigint;
  /** From the image config. */
  uid?: number;
  username: string;
  spec?: ImageSpec;
  pinned: boolean;
}

export interface ImageFilter {
  image?: ImageSpec;
}

export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

export interface FilesystemUsage {
  timestamp: bigint;
  fsId: { mountpoint: string };
  usedBytes: bigint;
  inodesUsed: bigint;
}

export interface ContainerStats {
  attributes: { id: string; metadata: ContainerMetadata; labels: Record<string, string>; annotations: Record<string, string> };
  cpu?: { timestamp: bigint; usageCoreNanoSeconds: bigint };
  memory?: { timestamp: bigint; workingSetBytes: bigint; usageBytes?: bigint; rssBytes?: bigint; pageFaults?: bigint; majorPageFaults?: bigint };
  writableLayer?: FilesystemUsage;
}

/** CRI RuntimeService, with streams in place of streaming URLs. */
export interface RuntimeService {
  version(): Promise<VersionInfo>;
  status(verbose?: boolean): Promise<RuntimeStatus>;
  /** CRI UpdateRuntimeConfig: the node's pod CIDR, once known, for the pod network. */
  updateRuntimeConfig(config: { podCIDR: string }): Promise<void>;

  runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string>;
  stopPodSandbox(podSandboxId: string): Promise<void>;
  removePodSandbox(podSandboxId: string): Promise<void>;
  podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]>;

  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** SIGTERM (or the image's StopSignal), then SIGKILL after `timeoutSeconds`; 0 = kill at once. */
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<Container[]>;
  containerStatus(containerId: string): Promise<ContainerStatus>;
  containerStats?(containerId: string): Promise<ContainerStats>;
  listContainerStats?(filter?: ContainerFilter): Promise<ContainerStats[]>;
  /** CRI ReopenContainerLog: after the kubelet rotated the log file. */
  reopenContainerLog?(containerId: string): Promise<void>;

  execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult>;
  exec(containerId: string, cmd: string[], opts: StreamOptions): Promise<ContainerStreams>;
  attach(containerId: string, opts: StreamOptions): Promise<ContainerStreams>;
  /** A connection to `port` on the pod's localhost, inside its network namespace. */
  portForward(podSandboxId: string, port: number, signal?: AbortSignal): Promise<Duplex>;
}

/** CRI ImageService. */
export interface ImageService {
  listImages(filter?: ImageFilter): Promise<Image[]>;
  /** undefined when the image is not present. */
  imageStatus(image: ImageSpec): Promise<Image | undefined>;
  /** Returns the image's id (`sha256:…`). Throws RuntimeError ErrImagePull / ErrImageNeverPull semantics are the kubelet's. */
  pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string>;
  removeImage(image: ImageSpec): Promise<void>;
  imageFsInfo(): Promise<FilesystemUsage[]>;
}

/** What the kubelet holds: both services of one backend, plus its lifecycle. */
export interface ContainerRuntime extends RuntimeService, ImageService {
  /** The RuntimeClass handler names this backend serves (`""` is the default handler). */
  readonly handlers: readonly string[];
  close(): Promise<void>;
}

export type RuntimeErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'ImagePullFailed'
  | 'ImageNotFound'
  | 'RegistryUnavailable'
  | 'CreateContainerFailed'
  | 'StartContainerFailed'
  | 'NetworkSetupFailed'
  | 'DeadlineExceeded'
  | 'Unavailable'
  | 'Unimplemented'
  | 'Internal';

/** An expected runtime failure, with a stable code; `message` is for users (it lands in pod status and events). */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isRuntimeError(err: unknown, code?: RuntimeErrorCode): err is RuntimeError {
  return err instanceof RuntimeError && (code === undefined || err.code === code);
}

/** Nanoseconds since the epoch, as CRI timestamps. */
export function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** CRI's container log line: `<RFC3339Nano> <stdout|stderr> <F|P> <content>`. */
export function criLogLine(stream: 'stdout' | 'stderr', content: string, partial: boolean, at = new Date()): string {
  return `${rfc3339Nano(at)} ${stream} ${partial ? 'P' : 'F'} ${content}\n`;
}

/** `2026-11-25T19:36:34.123456789Z` from a Date (nanoseconds padded from the milliseconds) or from nanoseconds. */
export function rfc3339Nano(at: Date | bigint): string {
  if (typeof at === 'bigint') {
    const ms = Number(at / 1_000_000n);
    const frac = (at % 1_000_000_000n).toString().padStart(9, '0');
    return new Date(ms).toISOString().replace(/\.\d+Z$/, `.${frac}Z`);
  }
  return at.toISOString().replace(/\.(\d+)Z$/, (_m, ms: string) => `.${ms.padEnd(9, '0')}Z`);
}
