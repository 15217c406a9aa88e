// The built-in process runtime end to end, as root: real netns + CNI bridge, runc, overlayfs,
// cgroups. Everything global it creates is named k8ts-t-<random> and removed in `after`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../../../support/tmp.js';
import { waitFor } from '../../../support/waitFor.js';
import { ProcessRuntime } from '../../../../src/kubelet/runtime/process/runtime.js';
import type { ContainerConfig, PodSandboxConfig } from '../../../../src/kubelet/runtime/types.js';
import { MemoryImageStore, busyboxLayer, overrideLayer } from './fixtures.js';

const isRoot = process.getuid?.() === 0;
const tag = randomBytes(3).toString('hex');
const prefix = `k8ts-t-${tag}-`;
const bridge = `k8ts-t-${tag}`;
const cgroupRoot = `/k8ts-t-${tag}`;
const podCIDR = `10.${100 + (parseInt(tag.slice(0, 2), 16) % 100)}.${parseInt(tag.slice(2, 4), 16)}.0/24`;

function sandboxConfig(name: string, over: Partial<PodSandboxConfig> = {}, hostNetwork = false): PodSandboxConfig {
  const uid = randomBytes(8).toString('hex');
  return {
    metadata: { name, uid, namespace: 'default', attempt: 0 },
    hostname: hostNetwork ? '' : name,
    logDirectory: '',
    dnsConfig: { servers: ['10.43.0.10'], searches: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] },
    portMappings: [],
    labels: { 'io.kubernetes.pod.name': name },
    annotations: {},
    linux: {
      cgroupParent: `${cgroupRoot}/pod${uid}`,
      securityContext: { namespaceOptions: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    },
    ...over,
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
    labels: { 'io.kubernetes.container.name': name },
    annotations: {},
    logPath: `${name}/0.log`,
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: { resources: {}, securityContext: {} },
    ...over,
  };
}

function logLines(file: string): { stream: string; tag: string; content: string }[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(l);
      assert.ok(m, `CRI log line: ${l}`);
      assert.ok(!Number.isNaN(Date.parse(m[1] ?? '')), `timestamp of ${l}`);
      return { stream: m[2] ?? '', tag: m[3] ?? '', content: m[4] ?? '' };
    });
}

async function readAll(s: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!s) return '';
  let out = '';
  for await (const chunk of s) out += chunk.toString();
  return out;
}

describe('ProcessRuntime (root)', { skip: !isRoot && 'needs root' }, () => {
  const tmp = tempDir('k8ts-pr-');
  const root = join(tmp.path, 'rt');
  const images = new MemoryImageStore();
  let rt: ProcessRuntime;
  const opts = () => ({
    root,
    images,
    namePrefix: prefix,
    cni: { confDir: join(tmp.path, 'net.d'), bridge },
  });

  before(async () => {
    images.add('localhost/t/busybox:1', [busyboxLayer(tmp.path)], { Cmd: ['/bin/sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'FROM_IMAGE=yes'], WorkingDir: '/' });
    images.add('localhost/t/web:1', [busyboxLayer(join(tmp.path, 'b2')), overrideLayer(tmp.path)], {
      Entrypoint: ['/bin/httpd', '-f'],
      Cmd: ['-p', '8080', '-h', '/www'],
      Env: ['PATH=/bin'],
      User: 'app',
    });
    rt = new ProcessRuntime(opts());
    await rt.updateRuntimeConfig({ podCIDR });
  });

  after(async () => {
    for (const s of await rt.listPodSandbox().catch(() => [])) await rt.removePodSandbox(s.id).catch((e) => console.error(e));
    await rt.close();
    try {
      execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    } catch {
      /* not created */
    }
    for (const ctl of readdirSync('/sys/fs/cgroup')) {
      const d = join('/sys/fs/cgroup', ctl, cgroupRoot);
      if (existsSync(d)) execFileSync('find', [d, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    }
    const leftNetns = readdirSync('/var/run/netns').filter((n) => n.startsWith(prefix));
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(tmp.path));
    tmp.remove();
    assert.deepEqual(leftNetns, [], 'no netns left');
    assert.deepEqual(mounts, [], 'no mounts left');
  });

  it('runs a pod whose httpd answers on the pod IP from the host, with the image entrypoint, user, env and layers', async () => {
    const sbConf = sandboxConfig('web', { logDirectory: join(tmp.path, 'logs', 'default_web') });
    const t0 = Date.now();
    const sb = await rt.runPodSandbox(sbConf);
    const tSandbox = Date.now() - t0;
    const status = await rt.podSandboxStatus(sb);
    assert.equal(status.state, 'SANDBOX_READY');
    const ip = status.network?.ip ?? '';
    assert.match(ip, new RegExp(`^${podCIDR.split('.').slice(0, 3).join('\\.')}\\.`));
    const c = await rt.createContainer(sb, containerConfig('web', 'localhost/t/web:1', { envs: [{ key: 'GREETING', value: 'hi' }] }), sbConf);
    const t1 = Date.now();
    await rt.startContainer(c);
    const tStart = Date.now() - t1;
    console.log(`# sandbox ${tSandbox} ms, create→running ${tStart} ms`);
    const res = await waitFor('httpd on the pod IP', async () => {
      const r = await fetch(`http://${ip}:8080/index.html`);
      return r.ok ? r.text() : undefined;
    }, 10_000, 50);
    assert.equal(res, 'hello from layer 2\n');
    const st = await rt.containerStatus(c);
    assert.equal(st.state, 'CONTAINER_RUNNING');
    assert.ok(st.startedAt > 0n);
    const id = await rt.execSync(c, ['sh', '-c', 'id -u; id -g; echo $GREETING; hostname; cat /etc/resolv.conf; ls /dev'], 10);
    const out = id.stdout.toString();
    assert.equal(id.exitCode, 0, id.stderr.toString());
    assert.match(out, /^1000\n1000\nhi\nweb\n/);
    assert.match(out, /nameserver 10\.43\.0\.10/);
    assert.match(out, /search default\.svc\.cluster\.local svc\.cluster\.local/);
    for (const dev of ['null', 'zero', 'urandom', 'shm', 'pts']) assert.match(out, new RegExp(`\\b${dev}\\b`));
    const stats = await rt.containerStats(c);
    assert.ok((stats.memory?.workingSetBytes ?? 0n) > 0n, 'working set');
    assert.ok((stats.cpu?.usageCoreNanoSeconds ?? 0n) > 0n, 'cpu usage');
  });
});
