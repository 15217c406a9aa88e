// The containerd backend end to end (root, containerd installed): a ManagedContainerd in a temp
// data dir, offline images imported both as an OCI layout and as a docker-archive, and a pod's
// whole life through CriRuntime: CNI IP on a test bridge, logs, exec, port-forward, stop, OOM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { connectContainerdRuntime, readRuntimeEndpointFile } from '../../../../src/kubelet/runtime/cri/connect.js';
import { ManagedContainerd, containerdInstalled } from '../../../../src/kubelet/runtime/cri/managedContainerd.js';
import { writeBusyboxOciArchive } from '../../../../src/kubelet/runtime/cri/ociArchive.js';
import type { CriRuntime } from '../../../../src/kubelet/runtime/cri/runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../../../src/kubelet/runtime/types.js';
import { Command } from 'commander';
import { Writable } from 'node:stream';
import { registerCrictlCommand } from '../../../../src/cli/crictlCommand.js';
import { tempDir } from '../../../support/tmp.js';
import { waitFor } from '../../../support/waitFor.js';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : !containerdInstalled() ? 'containerd, ctr or runc not installed' : false;

const suffix = randomBytes(4).toString('hex');
const bridge = `k8ts-t-${suffix}`;
const cgroupRoot = `k8ts-t-${suffix}`;
const podCIDR = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}.0/24`;
const BUSYBOX = 'localhost/k8ts-test/busybox:latest';
const BUSYBOX_DOCKER = 'localhost/k8ts-test/busybox-docker:1';

function sandboxConfig(name: string, logDirectory: string): PodSandboxConfig {
  const uid = randomBytes(8).toString('hex');
  return {
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory: join(logDirectory, `default_${name}_${uid}`),
    dnsConfig: { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
    portMappings: [],
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
    annotations: {},
    linux: {
      cgroupParent: `/${cgroupRoot}/pod${uid}`,
      securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    },
  };
}

function containerConfig(name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command,
    args: [],
    workingDir: '',
    envs: [{ key: 'GREETING', value: 'hello' }],
    mounts: [],
    devices: [],
    labels: { 'io.kubernetes.container.name': name, 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default' },
    annotations: {},
    logPath: `${name}/0.log`,
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: {}, securityContext: {} },
    ...extra,
  };
}

function readAll(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    let s = '';
    stream.on('data', (c: Buffer) => (s += c.toString('utf8')));
    stream.on('end', () => resolve(s));
    stream.on('error', reject);
  });
}

describe('containerd through CRI', { skip, timeout: 180_000 }, () => {
  const tmp = tempDir('k8ts-cri-');
  const dataDir = join(tmp.path, 'data');
  const logRoot = join(dataDir, 'agent', 'logs', 'pods');
  let managed: ManagedContainerd;
  let rt: CriRuntime;

  before(async () => {
    const connected = await connectContainerdRuntime({ dataDir, bridge, networkName: `k8ts-t-${suffix}` });
    assert.ok(connected.managed, 'no endpoint given: k8ts runs its own containerd');
    managed = connected.managed;
    rt = connected.runtime;
    assert.equal(await readRuntimeEndpointFile(dataDir), managed.endpoint);
    await rt.updateRuntimeConfig({ podCIDR });
    await waitFor('NetworkReady', async () => (await rt.status()).conditions.find((c) => c.type === 'NetworkReady')?.status === true, 15_000);
  });

  after(async () => {
    if (rt) {
      for (const s of await rt.listPodSandbox().catch(() => [])) {
        await rt.stopPodSandbox(s.id).catch(() => undefined);
        await rt.removePodSandbox(s.id).catch(() => undefined);
      }
      await rt.close();
    }
    if (managed) await managed.close();
    try {
      execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    } catch {
      /* not created */
    }
    for (const controller of readdirSync('/sys/fs/cgroup')) removeCgroupTree(join('/sys/fs/cgroup', controller, cgroupRoot));
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n').reverse()) {
      const target = line.split(' ')[1];
      if (target?.startsWith(tmp.path)) execFileSync('umount', ['-l', target]);
    }
    tmp.remove();
  });

  it('imports an OCI layout and a docker-archive, each under a clean name', async () => {
    const oci = join(tmp.path, 'busybox-oci.tar');
    await writeBusyboxOciArchive(oci, { tag: 'latest', cmd: ['/bin/sh'] });
    assert.deepEqual(await managed.importImageArchive(oci, { baseName: 'localhost/k8ts-test/busybox' }), [BUSYBOX]);
    const docker = join(tmp.path, 'busybox-docker.tar');
    execFileSync('skopeo', ['copy', '-q', `oci-archive:${oci}:latest`, `docker-archive:${docker}:${BUSYBOX_DOCKER}`]);
    assert.deepEqual(await managed.importImageArchive(docker), [BUSYBOX_DOCKER]);
    const tags = (await rt.listImages()).flatMap((i) => i.repoTags);
    for (const want of [BUSYBOX, BUSYBOX_DOCKER, 'localhost/k8ts/pause:3.10']) assert.ok(tags.includes(want), `${want} in ${tags.join(', ')}`);
    const status = await rt.imageStatus({ image: BUSYBOX_DOCKER });
    assert.match(status?.id ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(await rt.imageStatus({ image: 'localhost/k8ts-test/absent:1' }), undefined);
  });

  it('runs a pod: CNI IP reachable from the host, CRI logs, exec, port-forward, stop with 143', async () => {
    const sandbox = sandboxConfig('web', logRoot);
    const podId = await rt.runPodSandbox(sandbox);
    const podStatus = await rt.podSandboxStatus(podId);
    assert.equal(podStatus.state, 'SANDBOX_READY');
    const ip = podStatus.network?.ip ?? '';
    assert.ok(ip.startsWith(podCIDR.split('.').slice(0, 3).join('.') + '.'), `pod IP ${ip} in ${podCIDR}`);

    const script = 'mkdir -p /www; echo hello-www > /www/index.html; echo started $GREETING; echo oops >&2; trap "exit 143" TERM; httpd -f -p 8080 -h /www & wait';
    const id = await rt.createContainer(podId, containerConfig('web', ['sh', '-c', script]), sandbox);
    await rt.startContainer(id);
    const running = await rt.containerStatus(id);
    assert.equal(running.state, 'CONTAINER_RUNNING');
    assert.equal(running.logPath, join(sandbox.logDirectory, 'web/0.log'));

    await waitFor('httpd answering on the pod IP', async () => (await fetch(`http://${ip}:8080/`).then((r) => r.text()).catch(() => '')) === 'hello-www\n', 10_000);
    await waitFor('stderr in the CRI log', async () => existsSync(running.logPath) && readFileSync(running.logPath, 'utf8').includes('stderr F oops'), 5_000);
    assert.match(readFileSync(running.logPath, 'utf8'), /^\S+Z stdout F started hello$/m);

    const sync = await rt.execSync(id, ['sh', '-c', 'echo out $GREETING; cat /etc/resolv.conf; echo e >&2; exit 3'], 10);
    assert.equal(sync.exitCode, 3);
    assert.match(sync.stdout.toString(), /^out hello\n/);
    assert.match(sync.stdout.toString(), /nameserver 10\.43\.0\.10/);
    assert.equal(sync.stderr.toString(), 'e\n');

    const session = await rt.exec(id, ['sh', '-c', 'read line; echo got:$line; echo to-err >&2; exit 5'], { stdin: true, stdout: true, stderr: true, tty: false });
    session.stdin?.write('hi\n');
    const [out, err, exit] = await Promise.all([readAll(session.stdout), readAll(session.stderr), session.exit]);
    assert.deepEqual({ out, err, exitCode: exit.exitCode }, { out: 'got:hi\n', err: 'to-err\n', exitCode: 5 });

    // SPDY carries the end of stdin (a stream's FIN) to the process: `cat` sees EOF, as `kubectl cp` needs.
    assert.equal(rt.streamingTransport, 'spdy');
    const cat = await rt.exec(id, ['sh', '-c', 'cat; echo done'], { stdin: true, stdout: true, stderr: true, tty: false });
    cat.stdin?.end('line one\nline two\n');
    const [catOut, catErr, catExit] = await Promise.all([readAll(cat.stdout), readAll(cat.stderr), cat.exit]);
    assert.deepEqual({ out: catOut, err: catErr, exitCode: catExit.exitCode }, { out: 'line one\nline two\ndone\n', err: '', exitCode: 0 });

    const tty = await rt.exec(id, ['sh', '-c', 'sleep 0.5; stty size'], { stdin: true, stdout: true, stderr: false, tty: true });
    tty.resize({ width: 100, height: 40 });
    const [ttyOut, ttyExit] = await Promise.all([readAll(tty.stdout), tty.exit]);
    assert.equal(ttyExit.exitCode, 0);
    assert.match(ttyOut, /40 100/);
    tty.close();

    const conn = await rt.portForward(podId, 8080);
    conn.write('GET / HTTP/1.0\r\n\r\n');
    const response = await readAll(conn);
    assert.match(response, /^HTTP\/1\.[01] 200/);
    assert.match(response, /hello-www/);

    // The container traps TERM and exits 143 at once: well before the 20 s grace period ends.
    const stopStarted = Date.now();
    await checkCrictl(managed.endpoint, dataDir, id, podId);
    await rt.stopContainer(id, 20);
    assert.ok(Date.now() - stopStarted < 5_000, `stopped after ${Date.now() - stopStarted} ms`);
    const stopped = await rt.containerStatus(id);
    assert.equal(stopped.state, 'CONTAINER_EXITED');
    assert.equal(stopped.exitCode, 143);
    assert.equal(stopped.reason, 'Error');

    await rt.removeContainer(id);
    await rt.stopPodSandbox(podId);
    assert.equal((await rt.podSandboxStatus(podId)).state, 'SANDBOX_NOTREADY');
    await rt.removePodSandbox(podId);
    await assert.rejects(rt.podSandboxStatus(podId), (e: Error & { code?: string }) => e.code === 'NotFound');
  });

  it('reports OOMKilled for a container over its 32 MiB limit', async () => {
    const sandbox = sandboxConfig('hog', logRoot);
    const podId = await rt.runPodSandbox(sandbox);
    const id = await rt.createContainer(
      podId,
      containerConfig('hog', ['tail', '/dev/zero'], { linux: { resources: { memoryLimitInBytes: 32 * 1024 * 1024 }, securityContext: {} } }),
      sandbox,
    );
    await rt.startContainer(id);
    await waitFor('the hog to exit', async () => (await rt.containerStatus(id)).state === 'CONTAINER_EXITED', 30_000);
    const status = await rt.containerStatus(id);
    assert.equal(status.reason, 'OOMKilled');
    assert.equal(status.exitCode, 137);
    const listed = await rt.listContainers({ podSandboxId: podId });
    assert.deepEqual(listed.map((c) => [c.id, c.state]), [[id, 'CONTAINER_EXITED']]);
    await rt.removeContainer(id);
    await rt.stopPodSandbox(podId);
    await rt.removePodSandbox(podId);
  });

  it('attaches to the output of a running container', async () => {
    const sandbox = sandboxConfig('ticker', logRoot);
    const podId = await rt.runPodSandbox(sandbox);
    const id = await rt.createContainer(podId, containerConfig('ticker', ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done']), sandbox);
    await rt.startContainer(id);
    const session = await rt.attach(id, { stdin: false, stdout: true, stderr: true, tty: false });
    const first = await new Promise<string>((resolve) => session.stdout?.once('data', (c: Buffer) => resolve(c.toString())));
    assert.match(first, /^tick \d+\n/);
    session.close();
    await session.exit;
    await rt.stopPodSandbox(podId);
    await rt.removePodSandbox(podId);
  });

  it('reuses a running containerd, and containers keep running while containerd restarts', async () => {
    const sandbox = sandboxConfig('survivor', logRoot);
    const podId = await rt.runPodSandbox(sandbox);
    const id = await rt.createContainer(podId, containerConfig('survivor', ['sleep', '3600']), sandbox);
    await rt.startContainer(id);

    const again = await ManagedContainerd.start({ dataDir, bridge, networkName: `k8ts-t-${suffix}` });
    assert.equal(again.started, false);
    assert.equal(again.pid, managed.pid);

    await managed.close();
    assert.throws(() => process.kill(managed.pid, 0), 'containerd stopped');
    managed = await ManagedContainerd.start({ dataDir, bridge, networkName: `k8ts-t-${suffix}` });
    assert.equal(managed.started, true);
    await waitFor('the container seen running again', async () => (await rt.containerStatus(id)).state === 'CONTAINER_RUNNING', 15_000);
    assert.equal((await rt.podSandboxStatus(podId)).state, 'SANDBOX_READY');
    await rt.stopPodSandbox(podId);
    await rt.removePodSandbox(podId);
  });

  it('refuses an OCI layout that names images by tag only unless given a base name', async () => {
    const oci = join(tmp.path, 'tag-only.tar');
    await writeBusyboxOciArchive(oci, { tag: 'v2', applets: ['sh'] });
    await assert.rejects(managed.importImageArchive(oci), (e: Error & { code?: string }) => e.code === 'InvalidArgument' && /give a base name/.test(e.message));
  });

  it('maps a missing container to NotFound and an unknown image to CreateContainerFailed', async () => {
    await assert.rejects(rt.containerStatus('0'.repeat(64)), (e: Error & { code?: string }) => e.code === 'NotFound');
    const sandbox = sandboxConfig('bad', logRoot);
    const podId = await rt.runPodSandbox(sandbox);
    await assert.rejects(
      rt.createContainer(podId, containerConfig('bad', ['true'], { image: { image: 'localhost/k8ts-test/absent:1' } }), sandbox),
      (e: Error & { code?: string }) => ['CreateContainerFailed', 'NotFound'].includes(e.code ?? ''),
    );
    await rt.stopPodSandbox(podId);
    await rt.removePodSandbox(podId);
  });
});

/** Removes a cgroup directory tree this test created (children first; cgroupfs dirs are removed with rmdir). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    /* busy: left for the runtime */
  }
}

/** Runs `k8ts crictl ARGS` in-process and returns what it printed. */
async function crictl(args: string[]): Promise<{ out: string; err: string; exitCode: number | undefined }> {
  let out = '';
  let err = '';
  let exitCode: number | undefined;
  const sink = (append: (s: string) => void) => new Writable({ write(c: Buffer, _e, cb) { append(c.toString()); cb(); } });
  const program = new Command('k8ts').exitOverride().enablePositionalOptions();
  registerCrictlCommand(program, { out: sink((s) => (out += s)), err: sink((s) => (err += s)), exit: (c) => (exitCode = c) });
  const saved = process.exitCode;
  await program.parseAsync(['node', 'k8ts', 'crictl', ...args]);
  process.exitCode = saved;
  return { out, err, exitCode };
}

async function checkCrictl(endpoint: string, dataDir: string, id: string, podId: string): Promise<void> {
  // No --runtime-endpoint: the endpoint recorded in the data dir is the default.
  const ps = await crictl(['--data-dir', dataDir, 'ps']);
  assert.match(ps.out, /^CONTAINER\s+IMAGE\s+CREATED\s+STATE\s+NAME\s+ATTEMPT\s+POD ID\s+POD\s+NAMESPACE\n/);
  assert.match(ps.out, new RegExp(`^${id.slice(0, 13)}\\s+\\S+\\s+.+ ago\\s+Running\\s+web\\s+0\\s+${podId.slice(0, 13)}\\s+web\\s+default$`, 'm'));
  const pods = await crictl(['-r', endpoint, 'pods']);
  assert.match(pods.out, new RegExp(`^${podId.slice(0, 13)}\\s+.+ ago\\s+Ready\\s+web\\s+default\\s+0\\s+\\(default\\)$`, 'm'));
  const images = await crictl(['-r', endpoint, 'images']);
  assert.match(images.out, /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE\n/);
  assert.match(images.out, /^localhost\/k8ts-test\/busybox\s+latest\s+[0-9a-f]{13}\s+[\d.]+[kM]B$/m);
  const inspect = JSON.parse((await crictl(['-r', endpoint, 'inspect', id.slice(0, 8)])).out) as { status: { state: string; id: string }; info: { pid?: number } };
  assert.equal(inspect.status.id, id);
  assert.equal(inspect.status.state, 'CONTAINER_RUNNING');
  assert.equal(typeof inspect.info.pid, 'number');
  const inspectp = JSON.parse((await crictl(['-r', endpoint, 'inspectp', podId])).out) as { status: { state: string; network: { ip: string } } };
  assert.equal(inspectp.status.state, 'SANDBOX_READY');
  const logs = await crictl(['-r', endpoint, 'logs', id]);
  assert.equal(logs.out, 'started hello\n');
  assert.equal(logs.err, 'oops\n');
  const tail = await crictl(['-r', endpoint, 'logs', '--tail', '1', '--timestamps', id]);
  // --tail counts lines of the one log file both streams share; which of the two lines containerd
  // wrote last is up to the order its shim copied them, so the one line may be on either stream.
  assert.match(tail.out + tail.err, /^\S+Z (oops|started hello)\n$/);
  const exec = await crictl(['-r', endpoint, 'exec', id, 'sh', '-c', 'echo via-crictl; exit 2']);
  assert.deepEqual([exec.out, exec.exitCode], ['via-crictl\n', 2]);
  const version = await crictl(['-r', endpoint, 'version']);
  assert.match(version.out, /^RuntimeName:  containerd$/m);
  const info = JSON.parse((await crictl(['-r', endpoint, 'info'])).out) as { status: { conditions: { type: string; status: boolean }[] }; config?: unknown };
  assert.ok(info.status.conditions.every((c) => c.status), JSON.stringify(info.status));
  assert.ok(info.config, 'containerd reports its config in info');
  const missing = await crictl(['-r', endpoint, 'inspect', 'ffffffffffff']);
  assert.match(missing.err, /container "ffffffffffff" not found/);
}
