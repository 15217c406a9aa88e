// Shared pod shims of the process runtime, as root with real runc: sandboxes share a shim up to
// maxSandboxesPerShim, releasing one sandbox leaves the others running, a shim exits after its last
// sandbox, and a shim killed with SIGKILL costs only its own pods. Global names are k8ts-t-<random>.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../../../support/tmp.js';
import { processAlive } from '../../../support/process.js';
import { waitFor } from '../../../support/waitFor.js';
import { ProcessRuntime } from '../../../../src/kubelet/runtime/process/runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../../../src/kubelet/runtime/types.js';
import { MemoryImageStore, busyboxLayer, tearDownRuntime } from './fixtures.js';

const isRoot = process.getuid?.() === 0;
const hasRunc = ['/usr/sbin/runc', '/usr/bin/runc', '/sbin/runc', '/bin/runc'].some((p) => existsSync(p));
const tag = randomBytes(3).toString('hex');
const prefix = `k8ts-t-${tag}-`;
const bridge = `k8ts-t-${tag}`;
const cgroupRoot = `/k8ts-t-${tag}`;
const podCIDR = `10.${100 + (parseInt(tag.slice(0, 2), 16) % 100)}.${parseInt(tag.slice(2, 4), 16)}.0/24`;
const IMAGE = 'localhost/t/busybox:1';
const TICKER = ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'];

function sandboxConfig(name: string, logDirectory: string): PodSandboxConfig {
  const uid = randomBytes(8).toString('hex');
  return {
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: name,
    logDirectory,
    dnsConfig: { servers: [], searches: [], options: [] },
    portMappings: [],
    labels: { 'io.kubernetes.pod.name': name },
    annotations: {},
    linux: { cgroupParent: `${cgroupRoot}/pod${uid}`, securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

function containerConfig(name: string, command: string[], attempt = 0): ContainerConfig {
  return {
    metadata: { name, attempt },
    image: { image: IMAGE },
    command,
    args: [],
    workingDir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: { 'io.kubernetes.container.name': name },
    annotations: {},
    logPath: `${name}/${attempt}.log`,
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: {}, securityContext: {} },
  };
}

/** Lines in a CRI log file (0 when it is not there yet). */
function logLineCount(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

describe('ProcessRuntime shared shims (root)', { skip: (!isRoot && 'needs root') || (!hasRunc && 'needs runc') }, () => {
  const tmp = tempDir('k8ts-shim-');
  const root = join(tmp.path, 'rt');
  const images = new MemoryImageStore();
  let rt: ProcessRuntime;
  const opts = () => ({ root, images, namePrefix: prefix, maxSandboxesPerShim: 2, cni: { confDir: join(tmp.path, 'net.d'), bridge } });
  interface Pod {
    name: string;
    sb: string;
    c: string;
    log: string;
    sbConf: PodSandboxConfig;
  }
  const pods = new Map<string, Pod>();

  async function runPod(name: string, command = TICKER): Promise<Pod> {
    const sbConf = sandboxConfig(name, join(tmp.path, 'logs', `default_${name}`));
    const sb = await rt.runPodSandbox(sbConf);
    const c = await rt.createContainer(sb, containerConfig(name, command), sbConf);
    await rt.startContainer(c);
    const pod = { name, sb, c, sbConf, log: join(sbConf.logDirectory, `${name}/0.log`) };
    pods.set(name, pod);
    return pod;
  }
  /** The pid of the shim that serves a sandbox, as the shim recorded it. */
  const shimOf = (sb: string) => (JSON.parse(readFileSync(join(root, 'sandboxes', sb, 'shim.pid.json'), 'utf8')) as { pid: number }).pid;
  /** Every live shim process of this runtime root (their titles name their control socket under it). */
  const shimPids = () =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
          return cmd.startsWith('k8ts-shim') && cmd.includes(root);
        } catch {
          return false;
        }
      })
      .map(Number);
  const containerPid = (c: string) => (JSON.parse(readFileSync(join(root, 'containers', c, 'container.json'), 'utf8')) as { pid: number }).pid;

  before(async () => {
    images.add(IMAGE, [busyboxLayer(tmp.path)], { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], WorkingDir: '/' });
    rt = new ProcessRuntime(opts());
    await rt.updateRuntimeConfig({ podCIDR });
  });

  after(async () => {
    let left: number[] = [];
    const { leftNetns, mounts } = await tearDownRuntime(rt, {
      bridge,
      cgroupRoot,
      netnsPrefix: prefix,
      dir: tmp.path,
      // Every shim of this root exits once its sandboxes are gone; kill stragglers so a failure leaks nothing.
      afterClose: async () => {
        left = await waitFor('shims to exit', async () => (shimPids().length === 0 ? [] : undefined), 5000, 50).catch(() => shimPids());
        for (const pid of left) process.kill(pid, 'SIGKILL');
      },
    });
    tmp.remove();
    assert.deepEqual(left, [], 'no shim left running');
    assert.deepEqual(leftNetns, [], 'no netns left');
    assert.deepEqual(mounts, [], 'no mounts left');
  });

  it('puts two sandboxes in one shim process, and a third in a second shim when a shim hosts at most 2', async () => {
    const a = await runPod('a');
    const b = await runPod('b');
    const c = await runPod('c');
    assert.equal(shimOf(a.sb), shimOf(b.sb), 'a and b share a shim');
    assert.notEqual(shimOf(c.sb), shimOf(a.sb), 'c is in another shim');
    for (const p of [a, b, c]) assert.equal((await rt.containerStatus(p.c)).state, 'CONTAINER_RUNNING');
    // The two hosting shims, and the spare started for the next one.
    await waitFor('the spare shim', async () => shimPids().length === 3, 5000, 50);
    assert.ok(shimPids().includes(shimOf(a.sb)) && shimPids().includes(shimOf(c.sb)));
    for (const p of [a, b, c]) await waitFor(`ticks of ${p.name}`, async () => logLineCount(p.log) >= 2, 5000, 50);
  });

  it('stopping and removing one sandbox leaves the other sandbox of its shim running, with its log still written', async () => {
    const a = pods.get('a')!;
    const b = pods.get('b')!;
    const shim = shimOf(b.sb);
    await rt.stopPodSandbox(a.sb);
    assert.equal((await rt.containerStatus(a.c)).state, 'CONTAINER_EXITED');
    await rt.removePodSandbox(a.sb);
    assert.ok(processAlive(shim), 'the shared shim lives on');
    assert.equal((await rt.containerStatus(b.c)).state, 'CONTAINER_RUNNING');
    assert.ok(processAlive(containerPid(b.c)), "b's process runs");
    const before = logLineCount(b.log);
    await waitFor("b's log to grow", async () => logLineCount(b.log) > before + 2, 5000, 50);
    // The shim still serves b: a log reopen goes through b's socket.
    await rt.reopenContainerLog(b.c);
    await waitFor("b's log to grow after the reopen", async () => logLineCount(b.log) > before + 4, 5000, 50);
  });

  it('the shim exits after the last of its sandboxes is removed', async () => {
    const b = pods.get('b')!;
    const shim = shimOf(b.sb);
    await rt.stopPodSandbox(b.sb);
    await rt.removePodSandbox(b.sb);
    await waitFor('the shim to exit', async () => !processAlive(shim), 5000, 20);
    assert.equal((await rt.containerStatus(pods.get('c')!.c)).state, 'CONTAINER_RUNNING', 'the other shim is untouched');
  });

  it('a shim killed with SIGKILL: its containers are reported exited and killed, other shims go on, new sandboxes still start', async () => {
    const c = pods.get('c')!;
    const d = await runPod('d'); // the second sandbox of c's shim, which is then full
    const e = await runPod('e'); // a new shim
    const dead = shimOf(c.sb);
    assert.equal(shimOf(d.sb), dead);
    assert.notEqual(shimOf(e.sb), dead);
    const orphans = [containerPid(c.c), containerPid(d.c)];
    process.kill(dead, 'SIGKILL');
    await waitFor('the shim to die', async () => !processAlive(dead), 5000, 20);
    for (const p of [c, d]) {
      const st = await rt.containerStatus(p.c);
      assert.equal(st.state, 'CONTAINER_EXITED', `${p.name} is reported exited`);
      assert.equal(st.reason, 'Unknown');
      assert.equal(st.exitCode, 255);
    }
    await waitFor('the orphaned containers to be killed', async () => orphans.every((pid) => !processAlive(pid)), 10_000, 50);
    const st = await rt.containerStatus(c.c);
    assert.deepEqual([st.state, st.reason, st.exitCode], ['CONTAINER_EXITED', 'Unknown', 255], 'the recorded exit says the same');
    assert.ok(st.finishedAt > 0n);
    assert.equal((await rt.containerStatus(e.c)).state, 'CONTAINER_RUNNING', "another shim's pod is untouched");
    const before = logLineCount(e.log);
    await waitFor("e's log to grow", async () => logLineCount(e.log) > before + 2, 5000, 50);

    const f = await runPod('f');
    assert.ok(processAlive(shimOf(f.sb)));
    assert.notEqual(shimOf(f.sb), dead);
    await waitFor("f's ticks", async () => logLineCount(f.log) >= 2, 5000, 50);
    // A restarted container of a pod whose shim died runs under a live shim.
    const again = await rt.createContainer(c.sb, containerConfig('c', TICKER, 1), c.sbConf);
    await rt.startContainer(again);
    assert.equal((await rt.containerStatus(again)).state, 'CONTAINER_RUNNING');
    assert.ok(processAlive(shimOf(c.sb)) && shimOf(c.sb) !== dead);
    await waitFor("the restarted container's ticks", async () => logLineCount(join(c.sbConf.logDirectory, 'c/1.log')) >= 2, 5000, 50);
  });

  it('a new runtime object finds the running pods through their sockets and places new sandboxes on a fresh shim', async () => {
    const e = pods.get('e')!;
    const f = pods.get('f')!;
    const old = new Set(shimPids());
    // As after a kubelet restart (the old object is not even closed): the new object retires the
    // shims it finds taking sandboxes, and the pods they host go on.
    const rt2 = new ProcessRuntime(opts());
    assert.equal((await rt2.containerStatus(e.c)).state, 'CONTAINER_RUNNING');
    // The old object's current and spare shims are retired under it: it still places a sandbox.
    const g = await runPod('g');
    assert.ok(!old.has(shimOf(g.sb)), 'g is on a fresh shim');
    await waitFor('ticks of g', async () => logLineCount(g.log) >= 2, 5000, 50);
    await rt.removePodSandbox(g.sb); // rt2 loaded its records before g existed
    await rt.close();
    rt = rt2;
    const h = await runPod('h');
    assert.ok(!old.has(shimOf(h.sb)), 'h is on a fresh shim');
    await rt.stopPodSandbox(e.sb);
    await rt.removePodSandbox(e.sb);
    assert.equal((await rt.containerStatus(f.c)).state, 'CONTAINER_RUNNING');
    await rt.reopenContainerLog(f.c);
    await waitFor('ticks of h', async () => logLineCount(h.log) >= 2, 5000, 50);
  });
});
