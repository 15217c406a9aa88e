// More than one runtime behind the kubelet's one ContainerRuntime: RuntimeClass handlers pick the
// backend (e.g. `k8ts` → the built-in process runtime on a node whose default runtime is containerd),
// the rest go to the default runtime with the handler passed on as CRI's runtime_handler. Sandboxes
// and containers are routed to the backend that owns their id; lists are the backends' union.
import type { Duplex } from 'node:stream';
import {
  RuntimeError,
  type AuthConfig,
  type Container,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerStats,
  type ContainerStatus,
  type ContainerStreams,
  type ExecSyncResult,
  type FilesystemUsage,
  type Image,
  type ImageFilter,
  type ImageSpec,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatus,
  type RuntimeStatus,
  type StreamOptions,
  type VersionInfo,
} from './types.js';

/** A runtime that serves the named RuntimeClass handlers in place of the default runtime. */
export interface HandlerRoute {
  handlers: readonly string[];
  runtime: ContainerRuntime;
}

/**
 * The node's runtimes as one. The default runtime's version and status are the node's (a node
 * is Ready when its default runtime is); the routed runtimes add their handlers.
 */
export class RuntimeHandlerRouter implements ContainerRuntime {
  readonly handlers: readonly string[];
  private readonly all: ContainerRuntime[];
  private readonly sandboxOwner = new Map<string, ContainerRuntime>();
  private readonly containerOwner = new Map<string, ContainerRuntime>();

  constructor(
    private readonly defaultRuntime: ContainerRuntime,
    private readonly routes: readonly HandlerRoute[],
  ) {
    this.handlers = [...new Set([...defaultRuntime.handlers, ...routes.flatMap((r) => r.handlers)])];
    this.all = [defaultRuntime, ...routes.map((r) => r.runtime).filter((r) => r !== defaultRuntime)];
  }

  /** The backend for a RuntimeClass handler (`""` and unknown handlers: the default runtime). */
  runtimeFor(handler: string | undefined): ContainerRuntime {
    if (!handler) return this.defaultRuntime;
    return this.routes.find((r) => r.handlers.includes(handler))?.runtime ?? this.defaultRuntime;
  }

  private async findOwner(
    id: string,
    cache: Map<string, ContainerRuntime>,
    probe: (rt: ContainerRuntime) => Promise<unknown>,
    what: string,
  ): Promise<ContainerRuntime> {
    const known = cache.get(id);
    if (known) return known;
    // After a kubelet restart the map is empty: ask each backend (ids are random, so at most one knows it).
    for (const rt of this.all) {
      try {
        await probe(rt);
        cache.set(id, rt);
        return rt;
      } catch {
        /* not this one */
      }
    }
    throw new RuntimeError('NotFound', `an error occurred when try to find ${what} "${id}": not found`);
  }

  private sandboxRuntime(id: string): Promise<ContainerRuntime> {
    return this.findOwner(id, this.sandboxOwner, (rt) => rt.podSandboxStatus(id), 'sandbox');
  }

  private containerRuntime(id: string): Promise<ContainerRuntime> {
    return this.findOwner(id, this.containerOwner, (rt) => rt.containerStatus(id), 'container');
  }

  // ---- version / status / config --------------------------------------------------------------

  version(): Promise<VersionInfo> {
    return this.defaultRuntime.version();
  }

  async status(verbose?: boolean): Promise<RuntimeStatus> {
    const st = await this.defaultRuntime.status(verbose);
    if (!verbose) return st;
    const routed: Record<string, unknown> = {};
    for (const r of this.routes) {
      const s = await r.runtime.status(true).catch((err: unknown) => ({ conditions: [], info: { error: (err as Error).message } }));
      for (const h of r.handlers) routed[h] = { conditions: s.conditions, info: s.info, runtime: (await r.runtime.version().catch(() => undefined))?.runtimeName };
    }
    return { ...st, info: { ...(st.info ?? {}), routedHandlers: routed } };
  }

  async updateRuntimeConfig(config: { podCIDR: string }): Promise<void> {
    // The default runtime first: it owns the node's network config, which the others then find as is.
    for (const rt of this.all) await rt.updateRuntimeConfig(config);
  }

  // ---- sandboxes ------------------------------------------------------------------------------

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    const rt = this.runtimeFor(runtimeHandler);
    const id = await rt.runPodSandbox(config, runtimeHandler);
    this.sandboxOwner.set(id, rt);
    return id;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    return (await this.sandboxRuntime(podSandboxId)).stopPodSandbox(podSandboxId);
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    let rt: ContainerRuntime;
    try {
      rt = await this.sandboxRuntime(podSandboxId);
    } catch {
      return; // CRI: removing a missing sandbox is not an error
    }
    await rt.removePodSandbox(podSandboxId);
    this.sandboxOwner.delete(podSandboxId);
  }

  async podSandboxStatus(podSandboxId: string): Promise<PodSandboxStatus> {
    return (await this.sandboxRuntime(podSandboxId)).podSandboxStatus(podSandboxId);
  }

  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    const lists = await Promise.all(this.all.map(async (rt) => ({ rt, items: await rt.listPodSandbox(filter) })));
    for (const { rt, items } of lists) for (const s of items) this.sandboxOwner.set(s.id, rt);
    return lists.flatMap((l) => l.items);
  }

  // ---- containers -----------------------------------------------------------------------------

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const rt = await this.sandboxRuntime(podSandboxId);
    const id = await rt.createContainer(podSandboxId, config, sandboxConfig);
    this.containerOwner.set(id, rt);
    return id;
  }

  async startContainer(containerId: string): Promise<void> {
    return (await this.containerRuntime(containerId)).startContainer(containerId);
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    return (await this.containerRuntime(containerId)).stopContainer(containerId, timeoutSeconds);
  }

  async removeContainer(containerId: string): Promise<void> {
    let rt: ContainerRuntime;
    try {
      rt = await this.containerRuntime(containerId);
    } catch {
      return;
    }
    await rt.removeContainer(containerId);
    this.containerOwner.delete(containerId);
  }

  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    const lists = await Promise.all(this.all.map(async (rt) => ({ rt, items: await rt.listContainers(filter) })));
    for (const { rt, items } of lists) for (const c of items) this.containerOwner.set(c.id, rt);
    return lists.flatMap((l) => l.items);
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    return (await this.containerRuntime(containerId)).containerStatus(containerId);
  }

  async containerStats(containerId: string): Promise<ContainerStats> {
    const rt = await this.containerRuntime(containerId);
    if (!rt.containerStats) throw new RuntimeError('Unimplemented', 'the runtime of this container reports no stats');
    return rt.containerStats(containerId);
  }

  async listContainerStats(filter?: ContainerFilter): Promise<ContainerStats[]> {
    const lists = await Promise.all(this.all.map((rt) => rt.listContainerStats?.(filter) ?? Promise.resolve([])));
    return lists.flat();
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    const rt = await this.containerRuntime(containerId);
    if (!rt.reopenContainerLog) throw new RuntimeError('Unimplemented', 'the runtime of this container cannot reopen its log');
    return rt.reopenContainerLog(containerId);
  }

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    return (await this.containerRuntime(containerId)).execSync(containerId, cmd, timeoutSeconds);
  }

  async exec(containerId: string, cmd: string[], opts: StreamOptions): Promise<ContainerStreams> {
    return (await this.containerRuntime(containerId)).exec(containerId, cmd, opts);
  }

  async attach(containerId: string, opts: StreamOptions): Promise<ContainerStreams> {
    return (await this.containerRuntime(containerId)).attach(containerId, opts);
  }

  async portForward(podSandboxId: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    return (await this.sandboxRuntime(podSandboxId)).portForward(podSandboxId, port, signal);
  }

  // ---- images: each backend has its own store; ImageSpec.runtimeHandler picks it -------------

  async listImages(filter?: ImageFilter): Promise<Image[]> {
    if (filter?.image?.runtimeHandler) return this.runtimeFor(filter.image.runtimeHandler).listImages(filter);
    const lists = await Promise.all(this.all.map((rt) => rt.listImages(filter)));
    return lists.flat();
  }

  imageStatus(image: ImageSpec): Promise<Image | undefined> {
    return this.runtimeFor(image.runtimeHandler).imageStatus(image);
  }

  pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    return this.runtimeFor(image.runtimeHandler).pullImage(image, auth, sandboxConfig);
  }

  async removeImage(image: ImageSpec): Promise<void> {
    if (image.runtimeHandler) return this.runtimeFor(image.runtimeHandler).removeImage(image);
    // Image GC names images by id only: remove it from whichever stores hold it.
    for (const rt of this.all) {
      if (await rt.imageStatus(image).catch(() => undefined)) await rt.removeImage(image);
    }
  }

  async imageFsInfo(): Promise<FilesystemUsage[]> {
    const lists = await Promise.all(this.all.map((rt) => rt.imageFsInfo()));
    return lists.flat();
  }

  async close(): Promise<void> {
    for (const rt of this.all) await rt.close();
  }
}
