// The runtime's fallback without runc/crun (ociRuntime: 'unshare'): the same pod story on
// util-linux namespaces and cgroups the runtime makes itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../../../support/tmp.js';
import { waitFor } from '../../../support/waitFor.js';
import { ProcessRuntime } from '../../../../src/kubelet/runtime/process/runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../../../src/kubelet/runtime/types.js';
import { MemoryImageStore, busyboxLayer, overrideLayer, tearDownRuntime } from './fixtures.js';

const isRoot = process.getuid?.() === 0;
const tag = randomBytes(3).toString('hex');
const prefix = `k8ts-t-${tag}-`;
const bridge = `k8ts-t-${tag}`;
const cgroupRoot = `/k8ts-t-${tag}`;
const podCIDR = `10.${100 + (parseInt(tag.slice(0, 2), 16) % 100)}.${parseInt(tag.slice(2, 4), 16)}.0/24`;

describe('ProcessRuntime with the unshare fallback (root)', { skip: !isRoot && 'needs root' }, () => {
  const tmp = tempDir('k8ts-pru-');
  const images = new MemoryImageStore();
  let rt: ProcessRuntime;

  function sandboxConfig(name: string): PodSandboxConfig {
    const uid = randomBytes(8).toString('hex');
    return {
      metadata: { name, uid, namespace: 'default', attempt: 0 },
      hostname: name,
      logDirectory: join(tmp.path, 'logs', name),
      portMappings: [],
      labels: {},
      annotations: {},
      linux: { cgroupParent: `${cgroupRoot}/pod${uid}`, securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
  }
  function containerConfig(name: string, image: string, over: Partial<ContainerConfig> = {}): ContainerConfig {
    return {
      metadata: { name, attempt: 0 },
      image: { image },
      command: [],
      args: [],
      workingDir: '',
      envs: [],
      mounts: [],
      devices: [],
      labels: {},
      annotations: {},
      logPath: `${name}/0.log`,
      stdin: false,
      stdinOnce: false,
      tty: false,
      linux: { resources: {}, securityContext: {} },
      ...over,
    };
  }
  async function runPod(name: string, image: string, over: Partial<ContainerConfig> = {}) {
    const sbConf = sandboxConfig(name);
    const sb = await rt.runPodSandbox(sbConf);
    const c = await rt.createContainer(sb, containerConfig(name, image, over), sbConf);
    await rt.startContainer(c);
    return { sb, c, log: join(sbConf.logDirectory, `${name}/0.log`) };
  }
  const exited = (c: string) =>
    waitFor('exit', async () => {
      const s = await rt.containerStatus(c);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 15_000, 20);

  before(async () => {
    images.add('localhost/t/busybox:1', [busyboxLayer(tmp.path)], { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] });
    images.add('localhost/t/web:1', [busyboxLayer(join(tmp.path, 'b2')), overrideLayer(tmp.path)], {
      Entrypoint: ['/bin/httpd', '-f'],
      Cmd: ['-p', '8080', '-h', '/www'],
      Env: ['PATH=/bin'],
      User: 'app',
    });
    rt = new ProcessRuntime({ root: join(tmp.path, 'rt'), images, namePrefix: prefix, ociRuntime: 'unshare', cni: { confDir: join(tmp.path, 'net.d'), bridge } });
    await rt.updateRuntimeConfig({ podCIDR });
  });

  after(async () => {
    const { leftNetns, mounts } = await tearDownRuntime(rt, { bridge, cgroupRoot, netnsPrefix: prefix, dir: tmp.path });
    tmp.remove();
    assert.deepEqual(leftNetns, [], 'no netns left');
    assert.deepEqual(mounts, [], 'no mounts left');
  });

  it('serves httpd on the pod IP as the image user, execs with exit codes, logs in CRI format', async () => {
    const p = await runPod('web', 'localhost/t/web:1');
    const ip = (await rt.podSandboxStatus(p.sb)).network?.ip ?? '';
    const body = await waitFor('httpd', async () => {
      const r = await fetch(`http://${ip}:8080/index.html`);
      return r.ok ? r.text() : undefined;
    }, 10_000, 50);
    assert.equal(body, 'hello from layer 2\n');
    const r = await rt.execSync(p.c, ['sh', '-c', 'id -u; hostname; echo oops >&2; exit 6'], 10);
    assert.deepEqual([r.exitCode, r.stdout.toString(), r.stderr.toString()], [6, '1000\nweb\n', 'oops\n']);
    // The pty comes from the host's devpts (no runc to make one in the container's), so `tty` cannot name it: test isatty.
    const t = await rt.exec(p.c, ['sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo is-a-tty'], { stdin: false, stdout: true, stderr: false, tty: true });
    let out = '';
    t.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    assert.equal((await t.exit).exitCode, 0);
    assert.match(out, /is-a-tty/);
  });

  it('stops gracefully, reports exit codes and OOMKilled', async () => {
    const trap = await runPod('trap', 'localhost/t/busybox:1', { command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while true; do sleep 0.1; done'] });
    await waitFor('up', async () => existsSync(trap.log) && readFileSync(trap.log, 'utf8').includes('up'), 5000, 20);
    await rt.stopContainer(trap.c, 10);
    const st = await rt.containerStatus(trap.c);
    assert.deepEqual([st.exitCode, st.reason], [0, 'Completed']);
    assert.match(readFileSync(trap.log, 'utf8'), /stdout F bye/);
    const fail = await runPod('fail', 'localhost/t/busybox:1', { command: ['sh', '-c', 'exit 3'] });
    assert.deepEqual([(await exited(fail.c)).exitCode, (await exited(fail.c)).reason], [3, 'Error']);
    const hog = await runPod('hog', 'localhost/t/busybox:1', {
      command: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'],
      linux: { resources: { memoryLimitInBytes: 32 * 1024 * 1024 }, securityContext: {} },
    });
    assert.equal((await exited(hog.c)).reason, 'OOMKilled');
  });
});
