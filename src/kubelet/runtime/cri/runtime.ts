// CriRuntime: the kubelet's ContainerRuntime over CRI v1 gRPC to a runtime's unix socket
// (containerd). Streaming calls get a URL from the runtime and connect to it over SPDY/3.1
// (spdyStreamClient.ts), or WebSocket (streamClient.ts) where the streaming server refuses SPDY.
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import type { Duplex } from 'node:stream';
import { logger } from '../../../util/log.js';
import type {
  AuthConfig,
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerRuntime,
  ContainerStats,
  ContainerStatus,
  ContainerStreams,
  ExecSyncResult,
  FilesystemUsage,
  Image,
  ImageFilter,
  ImageSpec,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  RuntimeStatus,
  StreamOptions,
  VersionInfo,
} from '../types.js';
import { RuntimeError } from '../types.js';
import { runtimeErrorFromGrpc } from './errors.js';
import { criServices } from './proto.js';
import { connectPortForwardSpdy, connectRemoteCommandSpdy, SpdyUpgradeRefusedError } from './spdyStreamClient.js';
import { connectPortForward, connectRemoteCommand } from './streamClient.js';
import * as wire from './wire.js';

const log = logger('cri-runtime');

export interface CriRuntimeOptions {
  /** `unix:///run/containerd/containerd.sock` (a bare path is taken as a unix socket). */
  endpoint: string;
  /** Deadline of ordinary calls (the kubelet's --runtime-request-timeout, 2 minutes). */
  requestTimeoutMs?: number;
  /** Deadline of PullImage (pulls are slow; upstream uses no deadline but the image-pull-progress watchdog). */
  pullTimeoutMs?: number;
  /** RuntimeClass handlers the runtime is configured with; containerd 1.6 does not report them. Default `['']`. */
  handlers?: readonly string[];
  /**
   * Called with the node's podCIDR before UpdateRuntimeConfig is sent: where the runtime takes its pod
   * network from files (containerd's CNI conf_dir), this writes them (ManagedContainerd does).
   */
  onUpdateRuntimeConfig?: (podCIDR: string) => Promise<unknown>;
  /**
   * How exec/attach/port-forward reach the runtime's streaming server. 'spdy' (default, what
   * containerd's server and upstream's kubelet speak; it can close stdin) falls back to 'websocket'
   * (v4.channel.k8s.io, cannot close stdin) for good once a server refuses SPDY.
   */
  streamingTransport?: 'spdy' | 'websocket';
}

/** `unix:///abs.sock` from an endpoint that may be a bare path. */
export function normaliseEndpoint(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return endpoint;
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  throw new RuntimeError('InvalidArgument', `container runtime endpoint ${JSON.stringify(endpoint)} is not a unix:// socket`);
}

type Unary = (req: unknown, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: wire.WireMessage) => void) => void;

export class CriRuntime implements ContainerRuntime {
  readonly handlers: readonly string[];
  readonly endpoint: string;
  private readonly runtimeClient: Client;
  private readonly imageClient: Client;
  private readonly timeoutMs: number;
  private readonly pullTimeoutMs: number;
  private readonly onUpdateRuntimeConfig: ((podCIDR: string) => Promise<unknown>) | undefined;
  /** Switches to 'websocket' when the streaming server refuses SPDY. */
  streamingTransport: 'spdy' | 'websocket';

  constructor(opts: CriRuntimeOptions) {
    this.endpoint = normaliseEndpoint(opts.endpoint);
    const { RuntimeService, ImageService } = criServices();
    const channelOptions = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
    this.runtimeClient = new RuntimeService(this.endpoint, credentials.createInsecure(), channelOptions);
    this.imageClient = new ImageService(this.endpoint, credentials.createInsecure(), channelOptions);
    this.timeoutMs = opts.requestTimeoutMs ?? 120_000;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? 30 * 60_000;
    this.handlers = opts.handlers ?? [''];
    this.onUpdateRuntimeConfig = opts.onUpdateRuntimeConfig;
    this.streamingTransport = opts.streamingTransport ?? 'spdy';
  }

  /** Waits until the socket accepts a connection (and `version()` answers), or throws Unavailable. */
  async waitReady(timeoutMs = 10_000, signal?: AbortSignal): Promise<VersionInfo> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      try {
        return await this.call<VersionInfo>('Version', { version: 'v1' }, (r) => this.versionFromWire(r), 1_000);
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new RuntimeError('Unavailable', `container runtime at ${this.endpoint} did not answer within ${timeoutMs} ms: ${(last as Error)?.message}`, { cause: last });
  }

  private call<T>(method: string, req: unknown, map: (res: wire.WireMessage) => T, timeoutMs = this.timeoutMs, image = false): Promise<T> {
    const client = (image ? this.imageClient : this.runtimeClient) as unknown as Record<string, Unary>;
    const fn = client[method];
    if (!fn) return Promise.reject(new RuntimeError('Unimplemented', `CRI method ${method} is not in the schema`));
    return new Promise((resolve, reject) => {
      fn.call(client, req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (err) return reject(runtimeErrorFromGrpc(method, err));
        try {
          resolve(map(res));
        } catch (mapErr) {
          reject(mapErr);
        }
      });
    });
  }

  private versionFromWire(r: wire.WireMessage): VersionInfo {
    return { version: r.version, runtimeName: r.runtimeName, runtimeVersion: r.runtimeVersion, runtimeApiVersion: r.runtimeApiVersion };
  }

  // ---------- RuntimeService ----------

  version(): Promise<VersionInfo> {
    return this.call('Version', { version: 'v1' }, (r) => this.versionFromWire(r));
  }

  status(verbose = false): Promise<RuntimeStatus> {
    return this.call('Status', { verbose }, (r) => {
      const status: RuntimeStatus = {
        conditions: ((r.status?.conditions ?? []) as wire.WireMessage[]).map((c) => ({
          type: String(c.type),
          status: Boolean(c.status),
          reason: String(c.reason ?? ''),
          message: String(c.message ?? ''),
        })),
      };
      const info = parseInfo(r.info);
      // containerd's info values are JSON documents (config, cniconfig, golang…).
      if (Object.keys(info).length > 0) status.info = info;
      return status;
    });
  }

  async updateRuntimeConfig(config: { podCIDR: string }): Promise<void> {
    await this.onUpdateRuntimeConfig?.(config.podCIDR);
    return this.call('UpdateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: config.podCIDR } } }, () => undefined);
  }

  runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return this.call('RunPodSandbox', { config: wire.sandboxConfigToWire(config), runtimeHandler }, (r) => String(r.podSandboxId));
  }

  stopPodSandbox(podSandboxId: string): Promise<void> {
    return this.call('StopPodSandbox', { podSandboxId }, () => undefined);
  }

  removePodSandbox(podSandboxId: string): Promise<void> {
    return this.call('RemovePodSandbox', { podSandboxId }, () => undefined);
  }

  podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus> {
    return this.call('PodSandboxStatus', { podSandboxId, verbose: false }, (r) => {
      if (!r.status) throw new RuntimeError('NotFound', `pod sandbox ${podSandboxId} has no status`);
      return wire.sandboxStatusFromWire(r.status);
    });
  }

  /** The runtime's verbose sandbox info (containerd: JSON with pid, netns path, config). */
  podSandboxInfo(podSandboxId: string): Promise<Record<string, unknown>> {
    return this.call('PodSandboxStatus', { podSandboxId, verbose: true }, (r) => parseInfo(r.info));
  }

  listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    return this.call('ListPodSandbox', { filter: wire.sandboxFilterToWire(filter) }, (r) => ((r.items ?? []) as wire.WireMessage[]).map(wire.podSandboxFromWire));
  }

  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    return this.call(
      'CreateContainer',
      { podSandboxId, config: wire.containerConfigToWire(config), sandboxConfig: wire.sandboxConfigToWire(sandboxConfig) },
      (r) => String(r.containerId),
    );
  }

  startContainer(containerId: string): Promise<void> {
    return this.call('StartContainer', { containerId }, () => undefined);
  }

  stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    // The runtime waits up to `timeout` for the process; give the call that long on top of the usual deadline.
    return this.call('StopContainer', { containerId, timeout: String(timeoutSeconds) }, () => undefined, this.timeoutMs + timeoutSeconds * 1000);
  }

  removeContainer(containerId: string): Promise<void> {
    return this.call('RemoveContainer', { containerId }, () => undefined);
  }

  listContainers(filter?: ContainerFilter): Promise<Container[]> {
    return this.call('ListContainers', { filter: wire.containerFilterToWire(filter) }, (r) => ((r.containers ?? []) as wire.WireMessage[]).map(wire.containerFromWire));
  }

  containerStatus(containerId: string): Promise<ContainerStatus> {
    return this.call('ContainerStatus', { containerId, verbose: false }, (r) => {
      if (!r.status) throw new RuntimeError('NotFound', `container ${containerId} has no status`);
      return wire.containerStatusFromWire(r.status);
    });
  }

  /** The runtime's verbose container info (containerd: JSON with pid, OCI spec, snapshot). */
  containerInfo(containerId: string): Promise<Record<string, unknown>> {
    return this.call('ContainerStatus', { containerId, verbose: true }, (r) => parseInfo(r.info));
  }

  containerStats(containerId: string): Promise<ContainerStats> {
    return this.call('ContainerStats', { containerId }, (r) => wire.containerStatsFromWire(r.stats ?? {}));
  }

  listContainerStats(filter?: ContainerFilter): Promise<ContainerStats[]> {
    const f = filter ? { id: filter.id ?? '', podSandboxId: filter.podSandboxId ?? '', labelSelector: filter.labelSelector ?? {} } : undefined;
    return this.call('ListContainerStats', { filter: f }, (r) => ((r.stats ?? []) as wire.WireMessage[]).map(wire.containerStatsFromWire));
  }

  reopenContainerLog(containerId: string): Promise<void> {
    return this.call('ReopenContainerLog', { containerId }, () => undefined);
  }

  execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    // timeout 0 = no timeout in CRI; the gRPC deadline then is the ordinary one.
    const deadlineMs = timeoutSeconds > 0 ? timeoutSeconds * 1000 + 5_000 : this.timeoutMs;
    return this.call('ExecSync', { containerId, cmd, timeout: String(timeoutSeconds) }, (r) => ({
      stdout: Buffer.from(r.stdout ?? []),
      stderr: Buffer.from(r.stderr ?? []),
      exitCode: Number(r.exitCode ?? 0),
    }), deadlineMs);
  }

  exec(containerId: string, cmd: string[], opts: StreamOptions): Promise<ContainerStreams> {
    const req = { containerId, cmd, tty: opts.tty, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr && !opts.tty };
    return this.stream(
      () => this.call('Exec', req, (r) => String(r.url)),
      (url) => connectRemoteCommandSpdy(url, opts, 'exec'),
      (url) => connectRemoteCommand(url, opts, 'exec'),
    );
  }

  attach(containerId: string, opts: StreamOptions): Promise<ContainerStreams> {
    const req = { containerId, stdin: opts.stdin, tty: opts.tty, stdout: opts.stdout, stderr: opts.stderr && !opts.tty };
    return this.stream(
      () => this.call('Attach', req, (r) => String(r.url)),
      (url) => connectRemoteCommandSpdy(url, opts, 'attach'),
      (url) => connectRemoteCommand(url, opts, 'attach'),
    );
  }

  portForward(podSandboxId: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    return this.stream(
      () => this.call('PortForward', { podSandboxId, port: [port] }, (r) => String(r.url)),
      (url) => connectPortForwardSpdy(url, port, signal),
      (url) => connectPortForward(url, port, signal),
    );
  }

  /**
   * Gets a streaming URL and connects over the current transport. A URL is good for one connection
   * attempt (the server consumes its token), so falling back to WebSocket asks for a new one.
   */
  private async stream<T>(getUrl: () => Promise<string>, spdy: (url: string) => Promise<T>, websocket: (url: string) => Promise<T>): Promise<T> {
    const url = await getUrl();
    if (this.streamingTransport === 'websocket') return websocket(url);
    try {
      return await spdy(url);
    } catch (err) {
      if (!(err instanceof SpdyUpgradeRefusedError) || err.statusCode === 404) throw err;
      log.info({ endpoint: this.endpoint, reason: err.message }, 'streaming server refused SPDY/3.1; using WebSocket (v4.channel.k8s.io) from now on');
      this.streamingTransport = 'websocket';
      return websocket(await getUrl());
    }
  }

  // ---------- ImageService ----------

  listImages(filter?: ImageFilter): Promise<Image[]> {
    return this.call('ListImages', { filter: wire.imageFilterToWire(filter) }, (r) => ((r.images ?? []) as wire.WireMessage[]).map(wire.imageFromWire), this.timeoutMs, true);
  }

  imageStatus(image: ImageSpec): Promise<Image | undefined> {
    return this.call('ImageStatus', { image: wire.imageSpecToWire(image), verbose: false }, (r) => (r.image && r.image.id ? wire.imageFromWire(r.image) : undefined), this.timeoutMs, true);
  }

  pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    const req = {
      image: wire.imageSpecToWire(image),
      auth: auth ? { ...auth } : undefined,
      sandboxConfig: sandboxConfig ? wire.sandboxConfigToWire(sandboxConfig) : undefined,
    };
    return this.call('PullImage', req, (r) => String(r.imageRef), this.pullTimeoutMs, true);
  }

  removeImage(image: ImageSpec): Promise<void> {
    return this.call('RemoveImage', { image: wire.imageSpecToWire(image) }, () => undefined, this.timeoutMs, true);
  }

  imageFsInfo(): Promise<FilesystemUsage[]> {
    return this.call('ImageFsInfo', {}, (r) => ((r.imageFilesystems ?? []) as wire.WireMessage[]).map(wire.filesystemUsageFromWire), this.timeoutMs, true);
  }

  async close(): Promise<void> {
    this.runtimeClient.close();
    this.imageClient.close();
    log.debug({ endpoint: this.endpoint }, 'closed CRI connection');
  }
}

function parseInfo(info: Record<string, string> | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(info ?? {}).map(([k, v]) => {
      try {
        return [k, JSON.parse(v) as unknown];
      } catch {
        return [k, v];
      }
    }),
  );
}
