// A CRI v1 gRPC server on a unix socket exposing any ContainerRuntime (the built-in process
// runtime), so `k8ts crictl` and real crictl talk to it as to containerd. Exec, Attach and
// PortForward answer with URLs of a loopback streaming server (streamServer.ts).
import { Server, ServerCredentials, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { logger } from '../../../util/log.js';
import type { ContainerRuntime } from '../types.js';
import { RuntimeError } from '../types.js';
import { grpcStatusFromError } from './errors.js';
import { criServices } from './proto.js';
import { StreamServer } from './streamServer.js';
import * as wire from './wire.js';

const log = logger('cri-server');

export interface CriServer {
  /** `unix://<socketPath>`. */
  endpoint: string;
  socketPath: string;
  close(): Promise<void>;
}

export interface ServeCriOptions {
  /** Address of the loopback streaming server for exec/attach/port-forward; default 127.0.0.1 on a free port. */
  streamHost?: string;
  streamPort?: number;
}

type Handler = (req: wire.WireMessage) => Promise<wire.WireMessage>;

function unary(method: string, fn: Handler) {
  return (call: ServerUnaryCall<wire.WireMessage, wire.WireMessage>, callback: sendUnaryData<wire.WireMessage>): void => {
    fn(call.request).then(
      (res) => callback(null, res ?? {}),
      (err: unknown) => {
        const { code, details } = grpcStatusFromError(err);
        if (code === GrpcStatus.INTERNAL) log.warn({ err, method }, 'CRI call failed');
        callback({ code, details, name: 'CriError', message: details });
      },
    );
  };
}

function required(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new RuntimeError('InvalidArgument', `${field} must not be empty`);
  return value;
}

/** A gRPC server with the CRI RuntimeService and ImageService of `runtime`, and its streaming server (listening). */
async function criGrpcServer(runtime: ContainerRuntime, opts: ServeCriOptions): Promise<{ server: Server; streams: StreamServer }> {
  const { RuntimeService, ImageService } = criServices();
  const streams = new StreamServer(runtime);
  await streams.listen(opts.streamHost ?? '127.0.0.1', opts.streamPort ?? 0);

  const runtimeService: UntypedServiceImplementation = {
    Version: unary('Version', async () => {
      const v = await runtime.version();
      return { version: v.version, runtimeName: v.runtimeName, runtimeVersion: v.runtimeVersion, runtimeApiVersion: v.runtimeApiVersion };
    }),
    Status: unary('Status', async (req) => {
      const s = await runtime.status(Boolean(req.verbose));
      const info = Object.fromEntries(Object.entries(s.info ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      return {
        status: { conditions: s.conditions },
        info: req.verbose ? info : {},
        runtimeHandlers: runtime.handlers.map((name) => ({ name, features: { recursiveReadOnlyMounts: false, userNamespaces: false } })),
      };
    }),
    UpdateRuntimeConfig: unary('UpdateRuntimeConfig', async (req) => {
      const podCIDR = String(req.runtimeConfig?.networkConfig?.podCidr ?? '');
      if (podCIDR) await runtime.updateRuntimeConfig({ podCIDR });
      return {};
    }),
    RunPodSandbox: unary('RunPodSandbox', async (req) => ({
      podSandboxId: await runtime.runPodSandbox(wire.sandboxConfigFromWire(req.config), String(req.runtimeHandler ?? '')),
    })),
    StopPodSandbox: unary('StopPodSandbox', async (req) => runtime.stopPodSandbox(required(req.podSandboxId, 'pod_sandbox_id')).then(() => ({}))),
    RemovePodSandbox: unary('RemovePodSandbox', async (req) => runtime.removePodSandbox(required(req.podSandboxId, 'pod_sandbox_id')).then(() => ({}))),
    PodSandboxStatus: unary('PodSandboxStatus', async (req) => ({
      status: wire.sandboxStatusToWire(await runtime.podSandboxStatus(required(req.podSandboxId, 'pod_sandbox_id'))),
      info: {},
      containersStatuses: [],
      timestamp: '0',
    })),
    ListPodSandbox: unary('ListPodSandbox', async (req) => ({
      items: (await runtime.listPodSandbox(wire.sandboxFilterFromWire(req.filter))).map(wire.podSandboxToWire),
    })),
    CreateContainer: unary('CreateContainer', async (req) => ({
      containerId: await runtime.createContainer(
        required(req.podSandboxId, 'pod_sandbox_id'),
        wire.containerConfigFromWire(req.config),
        wire.sandboxConfigFromWire(req.sandboxConfig),
      ),
    })),
    StartContainer: unary('StartContainer', async (req) => runtime.startContainer(required(req.containerId, 'container_id')).then(() => ({}))),
    StopContainer: unary('StopContainer', async (req) => runtime.stopContainer(required(req.containerId, 'container_id'), Number(req.timeout ?? 0)).then(() => ({}))),
    RemoveContainer: unary('RemoveContainer', async (req) => runtime.removeContainer(required(req.containerId, 'container_id')).then(() => ({}))),
    ListContainers: unary('ListContainers', async (req) => ({
      containers: (await runtime.listContainers(wire.containerFilterFromWire(req.filter))).map(wire.containerToWire),
    })),
    ContainerStatus: unary('ContainerStatus', async (req) => ({
      status: wire.containerStatusToWire(await runtime.containerStatus(required(req.containerId, 'container_id'))),
      info: {},
    })),
    ContainerStats: unary('ContainerStats', async (req) => {
      if (!runtime.containerStats) throw new RuntimeError('Unimplemented', 'this runtime does not report container stats');
      return { stats: wire.containerStatsToWire(await runtime.containerStats(required(req.containerId, 'container_id'))) };
    }),
    ListContainerStats: unary('ListContainerStats', async (req) => {
      if (!runtime.listContainerStats) throw new RuntimeError('Unimplemented', 'this runtime does not report container stats');
      const f = req.filter;
      const filter = f ? { ...(f.id ? { id: f.id } : {}), ...(f.podSandboxId ? { podSandboxId: f.podSandboxId } : {}), ...(f.labelSelector && Object.keys(f.labelSelector).length ? { labelSelector: f.labelSelector } : {}) } : undefined;
      return { stats: (await runtime.listContainerStats(filter)).map(wire.containerStatsToWire) };
    }),
    ReopenContainerLog: unary('ReopenContainerLog', async (req) => {
      if (!runtime.reopenContainerLog) throw new RuntimeError('Unimplemented', 'this runtime does not reopen container logs');
      await runtime.reopenContainerLog(required(req.containerId, 'container_id'));
      return {};
    }),
    ExecSync: unary('ExecSync', async (req) => {
      const r = await runtime.execSync(required(req.containerId, 'container_id'), [...(req.cmd ?? [])], Number(req.timeout ?? 0));
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
    }),
    Exec: unary('Exec', async (req) => {
      const cmd = [...(req.cmd ?? [])] as string[];
      if (cmd.length === 0) throw new RuntimeError('InvalidArgument', 'cmd must not be empty');
      const stdout = Boolean(req.stdout);
      const stderr = Boolean(req.stderr);
      if (!req.stdin && !stdout && !stderr) throw new RuntimeError('InvalidArgument', 'one of stdin, stdout, or stderr must be set');
      return {
        url: streams.register({ kind: 'exec', containerId: required(req.containerId, 'container_id'), cmd, stdin: Boolean(req.stdin), stdout, stderr, tty: Boolean(req.tty) }),
      };
    }),
    Attach: unary('Attach', async (req) => ({
      url: streams.register({
        kind: 'attach',
        containerId: required(req.containerId, 'container_id'),
        stdin: Boolean(req.stdin),
        stdout: Boolean(req.stdout),
        stderr: Boolean(req.stderr),
        tty: Boolean(req.tty),
      }),
    })),
    PortForward: unary('PortForward', async (req) => ({
      url: streams.register({ kind: 'portforward', podSandboxId: required(req.podSandboxId, 'pod_sandbox_id') }),
    })),
  };

  const imageService: UntypedServiceImplementation = {
    ListImages: unary('ListImages', async (req) => ({ images: (await runtime.listImages(wire.imageFilterFromWire(req.filter))).map(wire.imageToWire) })),
    ImageStatus: unary('ImageStatus', async (req) => {
      const image = await runtime.imageStatus(wire.imageSpecFromWire(req.image));
      return { image: image ? wire.imageToWire(image) : undefined, info: {} };
    }),
    PullImage: unary('PullImage', async (req) => {
      const auth = req.auth ? Object.fromEntries(Object.entries(req.auth).filter(([, v]) => v !== '')) : undefined;
      const sandbox = req.sandboxConfig ? wire.sandboxConfigFromWire(req.sandboxConfig) : undefined;
      return { imageRef: await runtime.pullImage(wire.imageSpecFromWire(req.image), auth, sandbox) };
    }),
    RemoveImage: unary('RemoveImage', async (req) => runtime.removeImage(wire.imageSpecFromWire(req.image)).then(() => ({}))),
    ImageFsInfo: unary('ImageFsInfo', async () => ({ imageFilesystems: (await runtime.imageFsInfo()).map(wire.filesystemUsageToWire), containerFilesystems: [] })),
  };

  const server = new Server();
  server.addService(RuntimeService.service, runtimeService);
  server.addService(ImageService.service, imageService);
  return { server, streams };
}

/** Serves `runtime` over CRI v1 on `socketPath` (an existing socket file there is replaced). */
export async function serveCri(runtime: ContainerRuntime, socketPath: string, opts: ServeCriOptions = {}): Promise<CriServer> {
  const { server, streams } = await criGrpcServer(runtime, opts);
  await mkdir(dirname(socketPath), { recursive: true });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  log.info({ socket: socketPath }, 'serving CRI');
  return {
    endpoint: `unix://${socketPath}`,
    socketPath,
    async close() {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await streams.close();
      await rm(socketPath, { force: true });
    },
  };
}

/** CRI for connections accepted elsewhere (serveCriOnDemand's socket): each one becomes a gRPC session. */
export interface CriConnectionHandler {
  inject(connection: Duplex): void;
  close(): Promise<void>;
}

export async function criConnectionHandler(runtime: ContainerRuntime, opts: ServeCriOptions = {}): Promise<CriConnectionHandler> {
  const { server, streams } = await criGrpcServer(runtime, opts);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  return {
    inject: (connection) => injector.injectConnection(connection),
    async close() {
      injector.destroy();
      server.forceShutdown();
      await streams.close();
    },
  };
}
