// serveCri round trip: CriRuntime (the client) → gRPC on a unix socket → serveCri → a test-double
// ContainerRuntime, and back; exec/attach/port-forward through the streaming server. The same
// round trip through serveCriOnDemand (gRPC loaded with the first connection).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import { connect } from 'node:net';
import { CriRuntime } from '../../../../src/kubelet/runtime/cri/runtime.js';
import { serveCri, type CriServer } from '../../../../src/kubelet/runtime/cri/server.js';
import { serveCriOnDemand } from '../../../../src/kubelet/runtime/cri/onDemandServer.js';
import {
  RuntimeError,
  type Container,
  type ContainerConfig,
  type ContainerRuntime,
  type ContainerStatus,
  type ContainerStreams,
  type Image,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxStatus,
  type StreamOptions,
} from '../../../../src/kubelet/runtime/types.js';
import { tempDir } from '../../../support/tmp.js';

const T0 = 1_795_000_000_123_456_789n;

/** A ContainerRuntime test double: sandboxes and containers in maps, exec runs the command on the host. */
class RecordingRuntime implements ContainerRuntime {
  readonly handlers = ['', 'runc'];
  readonly sandboxes = new Map<string, { config: PodSandboxConfig; state: PodSandbox['state']; handler: string }>();
  readonly containers = new Map<string, { sandboxId: string; config: ContainerConfig; status: ContainerStatus }>();
  podCIDR = '';
  private next = 0;

  async version() {
    return { version: '0.1.0', runtimeName: 'k8ts-process', runtimeVersion: '0.1.0', runtimeApiVersion: 'v1' };
  }
  async status() {
    return { conditions: [{ type: 'RuntimeReady', status: true, reason: '', message: '' }, { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: 'no podCIDR yet' }] };
  }
  async updateRuntimeConfig(c: { podCIDR: string }) {
    this.podCIDR = c.podCIDR;
  }
  async runPodSandbox(config: PodSandboxConfig, handler = '') {
    const id = `sb${++this.next}`;
    this.sandboxes.set(id, { config, state: 'SANDBOX_READY', handler });
    return id;
  }
  async stopPodSandbox(id: string) {
    this.sandbox(id).state = 'SANDBOX_NOTREADY';
  }
  async removePodSandbox(id: string) {
    this.sandbox(id);
    this.sandboxes.delete(id);
  }
  async podSandboxStatus(id: string): Promise<PodSandboxStatus> {
    const s = this.sandbox(id);
    return {
      id,
      metadata: s.config.metadata,
      state: s.state,
      createdAt: T0,
      network: { ip: '10.99.0.5', additionalIps: [{ ip: 'fd00::5' }] },
      linux: { namespaces: { options: s.config.linux.securityContext.namespaceOptions } },
      labels: s.config.labels,
      annotations: s.config.annotations,
      runtimeHandler: s.handler,
    };
  }
  async listPodSandbox(): Promise<PodSandbox[]> {
    return [...this.sandboxes].map(([id, s]) => ({ id, metadata: s.config.metadata, state: s.state, createdAt: T0, labels: s.config.labels, annotations: s.config.annotations, runtimeHandler: s.handler }));
  }
  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    this.sandbox(sandboxId);
    const id = `c${++this.next}`;
    this.containers.set(id, {
      sandboxId,
      config,
      status: {
        id, metadata: config.metadata, state: 'CONTAINER_CREATED', createdAt: T0, startedAt: 0n, finishedAt: 0n, exitCode: 0,
        image: config.image, imageRef: 'sha256:' + 'a'.repeat(64), reason: '', message: '', labels: config.labels, annotations: config.annotations,
        mounts: config.mounts, logPath: `/logs/${config.logPath}`, resources: { linux: config.linux.resources },
      },
    });
    return id;
  }
  async startContainer(id: string) {
    Object.assign(this.container(id).status, { state: 'CONTAINER_RUNNING', startedAt: T0 + 1n });
  }
  async stopContainer(id: string) {
    Object.assign(this.container(id).status, { state: 'CONTAINER_EXITED', finishedAt: T0 + 2n, exitCode: 143, reason: 'Error' });
  }
  async removeContainer(id: string) {
    this.container(id);
    this.containers.delete(id);
  }
  async listContainers(): Promise<Container[]> {
    return [...this.containers].map(([id, c]) => ({ id, podSandboxId: c.sandboxId, metadata: c.config.metadata, image: c.config.image, imageRef: c.status.imageRef, state: c.status.state, createdAt: T0, labels: c.config.labels, annotations: c.config.annotations }));
  }
  async containerStatus(id: string) {
    return this.container(id).status;
  }
  async execSync(_id: string, cmd: string[]) {
    const r = await this.exec(_id, cmd, { stdin: false, stdout: true, stderr: true, tty: false });
    const collect = (s?: NodeJS.ReadableStream) => new Promise<Buffer>((res) => { const parts: Buffer[] = []; s?.on('data', (c: Buffer) => parts.push(c)); s?.on('end', () => res(Buffer.concat(parts))); if (!s) res(Buffer.alloc(0)); });
    const [stdout, stderr, exit] = await Promise.all([collect(r.stdout), collect(r.stderr), r.exit]);
    return { stdout, stderr, exitCode: exit.exitCode ?? -1 };
  }
  async exec(id: string, cmd: string[], opts: StreamOptions): Promise<ContainerStreams> {
    this.container(id);
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const resized: { width: number; height: number }[] = [];
    return {
      stdin: opts.stdin ? child.stdin : undefined,
      stdout: child.stdout,
      stderr: opts.tty ? undefined : child.stderr,
      resize: (size) => resized.push(size),
      exit: new Promise((resolve) => child.on('close', (code) => resolve({ exitCode: code ?? -1 }))),
      close: () => child.kill(),
    } as ContainerStreams;
  }
  async attach(id: string): Promise<ContainerStreams> {
    this.container(id);
    const out = new PassThrough();
    out.end('attached output\n');
    return { stdout: out, resize: () => undefined, exit: Promise.resolve({}), close: () => undefined };
  }
  async portForward(sandboxId: string, port: number): Promise<Duplex> {
    this.sandbox(sandboxId);
    return connect(port, '127.0.0.1');
  }
  async listImages(): Promise<Image[]> {
    return [{ id: 'sha256:' + 'b'.repeat(64), repoTags: ['localhost/x/busybox:1'], repoDigests: ['localhost/x/busybox@sha256:' + 'c'.repeat(64)], size: 1234567n, uid: 0, username: '', pinned: false }];
  }
  async imageStatus(spec: { image: string }) {
    return (await this.listImages()).find((i) => i.repoTags.includes(spec.image));
  }
  async pullImage(spec: { image: string }) {
    if (spec.image.includes('missing')) throw new RuntimeError('ImageNotFound', `failed to resolve reference "${spec.image}": not found`);
    return 'sha256:' + 'b'.repeat(64);
  }
  async removeImage() {}
  async imageFsInfo() {
    return [{ timestamp: T0, fsId: { mountpoint: '/var/lib/k8ts/agent/images' }, usedBytes: 42n, inodesUsed: 7n }];
  }
  async close() {}

  private sandbox(id: string) {
    const s = this.sandboxes.get(id);
    if (!s) throw new RuntimeError('NotFound', `pod sandbox ${id} not found`);
    return s;
  }
  private container(id: string) {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('NotFound', `container ${id} not found`);
    return c;
  }
}

const sandboxConfig: PodSandboxConfig = {
  metadata: { name: 'web', uid: 'u-1', namespace: 'default', attempt: 1 },
  hostname: 'web',
  logDirectory: '/var/log/pods/default_web_u-1',
  dnsConfig: { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
  portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort: 8080, hostIp: '' }],
  labels: { app: 'web' },
  annotations: { note: 'x' },
  linux: {
    cgroupParent: '/kubepods/besteffort/podu-1',
    securityContext: { namespaceOptions: { network: 'NODE', pid: 'POD', ipc: 'POD' }, runAsUser: 1000 },
    sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
  },
};

const containerConfig: ContainerConfig = {
  metadata: { name: 'main', attempt: 2 },
  image: { image: 'localhost/x/busybox:1' },
  command: ['sh', '-c'],
  args: ['echo hi'],
  workingDir: '/work',
  envs: [{ key: 'A', value: '1' }],
  mounts: [{ containerPath: '/data', hostPath: '/tmp/data', readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }],
  devices: [],
  labels: { 'io.kubernetes.container.name': 'main' },
  annotations: {},
  logPath: 'main/2.log',
  stdin: false,
  stdinOnce: false,
  tty: false,
  linux: { resources: { cpuPeriod: 100000, cpuQuota: 50000, cpuShares: 512, memoryLimitInBytes: 67108864 }, securityContext: { runAsUser: 0, runAsGroup: 0, readonlyRootfs: true, noNewPrivs: true, capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['ALL'] } } },
};

const servers: [string, (rt: ContainerRuntime, socket: string) => Promise<CriServer>][] = [
  ['serveCri', serveCri],
  ['serveCriOnDemand', serveCriOnDemand],
];

for (const [serverName, serve] of servers) describe(`${serverName} round trip`, () => {
  const tmp = tempDir('k8ts-cri-srv-');
  const fake = new RecordingRuntime();
  let server: CriServer;
  let client: CriRuntime;
  let echo: Server;

  before(async () => {
    server = await serve(fake, join(tmp.path, 'k8ts-cri.sock'));
    client = new CriRuntime({ endpoint: server.endpoint });
    await client.waitReady(5_000);
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    await client.close();
    await server.close();
    echo.close();
    tmp.remove();
  });

  it('carries version, status and the pod CIDR', async () => {
    assert.equal((await client.version()).runtimeName, 'k8ts-process');
    const status = await client.status();
    assert.deepEqual(status.conditions.map((c) => [c.type, c.status, c.reason]), [['RuntimeReady', true, ''], ['NetworkReady', false, 'NetworkPluginNotReady']]);
    await client.updateRuntimeConfig({ podCIDR: '10.244.1.0/24' });
    assert.equal(fake.podCIDR, '10.244.1.0/24');
  });

  it('carries sandbox and container configs and statuses without loss', async () => {
    const podId = await client.runPodSandbox(sandboxConfig, 'runc');
    assert.deepEqual(fake.sandboxes.get(podId)?.config, sandboxConfig);
    assert.equal(fake.sandboxes.get(podId)?.handler, 'runc');
    const status = await client.podSandboxStatus(podId);
    assert.deepEqual(status, await fake.podSandboxStatus(podId));
    assert.equal(status.createdAt, T0);

    const id = await client.createContainer(podId, containerConfig, sandboxConfig);
    assert.deepEqual(fake.containers.get(id)?.config, containerConfig);
    await client.startContainer(id);
    assert.deepEqual(await client.containerStatus(id), await fake.containerStatus(id));
    await client.stopContainer(id, 10);
    const stopped = await client.containerStatus(id);
    assert.deepEqual([stopped.state, stopped.exitCode, stopped.reason, stopped.finishedAt], ['CONTAINER_EXITED', 143, 'Error', T0 + 2n]);
    assert.deepEqual(await client.listContainers(), await fake.listContainers());
    assert.deepEqual(await client.listPodSandbox(), await fake.listPodSandbox());
    await client.removeContainer(id);
    await client.stopPodSandbox(podId);
    await client.removePodSandbox(podId);
    assert.equal(fake.sandboxes.size, 0);
  });

  it('turns runtime errors into gRPC statuses and back into the same codes', async () => {
    await assert.rejects(client.containerStatus('nope'), (e: RuntimeError) => e.code === 'NotFound' && /container nope not found/.test(e.message));
    await assert.rejects(client.pullImage({ image: 'localhost/x/missing:1' }), (e: RuntimeError) => e.code === 'ImageNotFound');
    await assert.rejects(client.startContainer(''), (e: RuntimeError) => e.code === 'InvalidArgument');
  });

  it('carries images and image filesystem usage', async () => {
    assert.deepEqual(await client.listImages(), await fake.listImages());
    assert.equal((await client.imageStatus({ image: 'localhost/x/busybox:1' }))?.size, 1234567n);
    assert.equal(await client.imageStatus({ image: 'localhost/x/other:1' }), undefined);
    assert.equal(await client.pullImage({ image: 'localhost/x/busybox:1' }), 'sha256:' + 'b'.repeat(64));
    assert.deepEqual(await client.imageFsInfo(), await fake.imageFsInfo());
  });

  it('streams exec (stdin, stdout, stderr, exit code), execSync, attach and port-forward', async () => {
    const podId = await client.runPodSandbox(sandboxConfig);
    const id = await client.createContainer(podId, containerConfig, sandboxConfig);
    const sync = await client.execSync(id, ['sh', '-c', 'echo out; echo err >&2; exit 4'], 5);
    assert.deepEqual([sync.stdout.toString(), sync.stderr.toString(), sync.exitCode], ['out\n', 'err\n', 4]);

    // Our streaming server speaks WebSocket only: the client's SPDY upgrade is refused, and it falls
    // back to WebSocket for this and every later session.
    assert.equal(client.streamingTransport, 'spdy');
    const s = await client.exec(id, ['sh', '-c', 'read l; echo got:$l; echo e2 >&2; exit 7'], { stdin: true, stdout: true, stderr: true, tty: false });
    assert.equal(client.streamingTransport, 'websocket');
    s.stdin?.write('hello\n');
    const text = (r?: NodeJS.ReadableStream) => new Promise<string>((res) => { let t = ''; r?.on('data', (c: Buffer) => (t += c)); r?.on('end', () => res(t)); });
    const [out, err, exit] = await Promise.all([text(s.stdout), text(s.stderr), s.exit]);
    assert.deepEqual([out, err, exit.exitCode], ['got:hello\n', 'e2\n', 7]);

    const a = await client.attach(id, { stdin: false, stdout: true, stderr: false, tty: false });
    assert.equal(await text(a.stdout), 'attached output\n');

    const conn = await client.portForward(podId, (echo.address() as AddressInfo).port);
    conn.write('ping through the tunnel');
    const echoed = await new Promise<string>((res) => conn.once('data', (c: Buffer) => res(c.toString())));
    assert.equal(echoed, 'ping through the tunnel');
    conn.destroy();
  });
});

describe('serveCriOnDemand', () => {
  it('listens at once and loads the gRPC server only when a client connects', async () => {
    const tmp = tempDir('k8ts-cri-lazy-');
    const server = await serveCriOnDemand(new RecordingRuntime(), join(tmp.path, 'k8ts-cri.sock'));
    const client = new CriRuntime({ endpoint: server.endpoint });
    try {
      assert.equal(server.loaded, false);
      assert.equal((await client.version()).runtimeName, 'k8ts-process');
      assert.equal(server.loaded, true);
    } finally {
      await client.close();
      await server.close();
      tmp.remove();
    }
  });
});
