// The built-in process runtime end to end, as root: real netns + CNI bridge, runc, overlayfs,
// cgroups. Everything global it creates is named k8ts-t-<random> and removed in `after`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
    const { leftNetns, mounts } = await tearDownRuntime(rt, { bridge, cgroupRoot, netnsPrefix: prefix, dir: tmp.path });
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

  async function runPod(name: string, over: Partial<ContainerConfig> & { image?: string } = {}, hostNetwork = false) {
    const sbConf = sandboxConfig(name, { logDirectory: join(tmp.path, 'logs', `default_${name}`) }, hostNetwork);
    const sb = await rt.runPodSandbox(sbConf);
    const { image = 'localhost/t/busybox:1', ...rest } = over;
    const c = await rt.createContainer(sb, containerConfig(name, image, rest), sbConf);
    await rt.startContainer(c);
    return { sb, c, sbConf, log: join(sbConf.logDirectory, `${name}/0.log`) };
  }

  it('writes stdout and stderr in CRI format and reports exit code 3 as Error, 0 as Completed', async () => {
    const failing = await runPod('fail', { command: ['sh', '-c'], args: ['echo out; echo err >&2; printf "no newline"; exit 3'] });
    const st = await waitFor('exit', async () => {
      const s = await rt.containerStatus(failing.c);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 10_000, 20);
    assert.equal(st.exitCode, 3);
    assert.equal(st.reason, 'Error');
    assert.ok(st.finishedAt >= st.startedAt);
    const lines = logLines(failing.log);
    assert.deepEqual(
      lines.map((l) => [l.stream, l.tag, l.content]).sort(),
      [['stderr', 'F', 'err'], ['stdout', 'F', 'no newline'], ['stdout', 'F', 'out']].sort(),
    );
    const ok = await runPod('done', { command: ['true'] });
    const st0 = await waitFor('exit', async () => {
      const s = await rt.containerStatus(ok.c);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 10_000, 20);
    assert.equal(st0.exitCode, 0);
    assert.equal(st0.reason, 'Completed');
  });

  it('splits a line longer than 16 KiB into partial lines', async () => {
    const p = await runPod('long', { command: ['sh', '-c', 'head -c 40000 /dev/zero | tr "\\0" a; echo'] });
    await waitFor('exit', async () => (await rt.containerStatus(p.c)).state === 'CONTAINER_EXITED', 10_000, 20);
    const lines = logLines(p.log);
    assert.deepEqual(lines.map((l) => [l.tag, l.content.length]), [['P', 16384], ['P', 16384], ['F', 40000 - 32768]]);
  });

  it('reports a command that cannot run as a start failure with StartError', async () => {
    const sbConf = sandboxConfig('bad', { logDirectory: join(tmp.path, 'logs', 'default_bad') });
    const sb = await rt.runPodSandbox(sbConf);
    const c = await rt.createContainer(sb, containerConfig('bad', 'localhost/t/busybox:1', { command: ['/no/such/binary'] }), sbConf);
    await assert.rejects(rt.startContainer(c), (e: Error & { code?: string }) => e.code === 'StartContainerFailed' && /no\/such\/binary/.test(e.message));
    const st = await rt.containerStatus(c);
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.reason, 'StartError');
    assert.equal(st.exitCode, 128);
  });

  it('stops with SIGTERM when the process traps it, and with SIGKILL after the grace period when it does not', async () => {
    const trap = await runPod('trap', { command: ['sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo ready; while true; do sleep 0.1; done'] });
    await waitFor('ready', async () => existsSync(trap.log) && readFileSync(trap.log, 'utf8').includes('ready'), 5000, 20);
    let t = Date.now();
    await rt.stopContainer(trap.c, 10);
    assert.ok(Date.now() - t < 3000, 'graceful stop is quick');
    const st = await rt.containerStatus(trap.c);
    assert.equal(st.exitCode, 0);
    assert.ok(logLines(trap.log).some((l) => l.content === 'got TERM'));
    // pid 1 ignores SIGTERM when it installs no handler: the grace period runs out, then SIGKILL.
    const stubborn = await runPod('stubborn', { command: ['sleep', '1000'] });
    t = Date.now();
    await rt.stopContainer(stubborn.c, 1);
    const elapsed = Date.now() - t;
    const st2 = await rt.containerStatus(stubborn.c);
    assert.equal(st2.state, 'CONTAINER_EXITED');
    assert.equal(st2.exitCode, 137);
    assert.ok(elapsed >= 900, `waited the grace period (${elapsed} ms)`);
  });

  it('execSync returns exit codes and output, and times out', async () => {
    const p = await runPod('exec', { command: ['sleep', '1000'] });
    const r = await rt.execSync(p.c, ['sh', '-c', 'echo hi; echo oops >&2; exit 7'], 10);
    assert.deepEqual([r.exitCode, r.stdout.toString(), r.stderr.toString()], [7, 'hi\n', 'oops\n']);
    await assert.rejects(rt.execSync(p.c, ['sleep', '5'], 1), (e: Error & { code?: string }) => e.code === 'DeadlineExceeded');
  });

  it('exec streams: stdin to stdout with separate stderr and the exit code; tty mode with a resize', async () => {
    const p = await runPod('streams', { command: ['sleep', '1000'] });
    const s = await rt.exec(p.c, ['sh', '-c', 'cat; echo bye >&2; exit 4'], { stdin: true, stdout: true, stderr: true, tty: false });
    s.stdin?.end('through cat\n');
    const [out, err, exit] = await Promise.all([readAll(s.stdout), readAll(s.stderr), s.exit]);
    assert.deepEqual([out, err, exit.exitCode], ['through cat\n', 'bye\n', 4]);

    const t = await rt.exec(p.c, ['sh'], { stdin: true, stdout: true, stderr: false, tty: true });
    assert.equal(t.stderr, undefined);
    let tout = '';
    t.stdout?.on('data', (b: Buffer) => (tout += b.toString()));
    await waitFor('a prompt', async () => tout.length > 0, 5000, 20);
    t.resize({ width: 123, height: 45 });
    await new Promise((r) => setTimeout(r, 200));
    t.stdin?.write('tty; stty size; exit 5\n');
    const texit = await t.exit;
    assert.equal(texit.exitCode, 5);
    assert.match(tout, /\/dev\/pts\/\d+/);
    assert.match(tout, /45 123/);
  });

  it('attaches to the main process: stdin in, stdout out', async () => {
    const p = await runPod('attach', { command: ['sh', '-c', 'while read l; do echo "got $l"; done'], stdin: true });
    const a = await rt.attach(p.c, { stdin: true, stdout: true, stderr: true, tty: false });
    let out = '';
    a.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    a.stdin?.write('one\n');
    await waitFor('echo through attach', async () => out.includes('got one'), 5000, 20);
    a.close();
    await a.exit;
    assert.ok(logLines(p.log).some((l) => l.content === 'got one'));
  });

  it('port-forwards to a port that listens only on the pod localhost', async () => {
    const p = await runPod('pf', { command: ['httpd', '-f', '-p', '127.0.0.1:9090', '-h', '/www'] });
    const conn = await waitFor('port-forward', () => rt.portForward(p.sb, 9090).catch(() => undefined), 5000, 50);
    conn.write('GET /index.html HTTP/1.0\r\n\r\n');
    const reply = await readAll(conn);
    assert.match(reply, /^HTTP\/1\.[01] 200/);
    assert.match(reply, /hello from the pod/);
    await assert.rejects(rt.portForward(p.sb, 9191), (e: Error & { code?: string }) => e.code === 'Unavailable');
  });

  it('OOM-kills a process over its 32 MiB memory limit and reports OOMKilled', async () => {
    const p = await runPod('hog', {
      command: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=100M count=1'],
      linux: { resources: { memoryLimitInBytes: 32 * 1024 * 1024 }, securityContext: {} },
    });
    const st = await waitFor('exit', async () => {
      const s = await rt.containerStatus(p.c);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 15_000, 50);
    assert.equal(st.reason, 'OOMKilled');
    assert.notEqual(st.exitCode, 0);
  });

  it('runs a host-network pod without a netns or an IP', async () => {
    const p = await runPod('hostnet', { command: ['sleep', '1000'] }, true);
    const st = await rt.podSandboxStatus(p.sb);
    assert.equal(st.network, undefined);
    const r = await rt.execSync(p.c, ['sh', '-c', 'ls /sys/class/net'], 5);
    assert.match(r.stdout.toString(), /lo/);
    assert.doesNotMatch(r.stdout.toString(), /^eth0$/m.test(execFileSync('ls', ['/sys/class/net'], { encoding: 'utf8' })) ? /NEVER/ : /^eth0$/m);
  });

  it('maps a hostPort to the pod through the portmap plugin, and removes the rule with the pod', async () => {
    const hostPort = 30000 + Math.floor(Math.random() * 10000);
    const sbConf = sandboxConfig('hp', { logDirectory: join(tmp.path, 'logs', 'default_hp'), portMappings: [{ protocol: 'TCP', containerPort: 8080, hostPort, hostIp: '' }] });
    const sb = await rt.runPodSandbox(sbConf);
    const c = await rt.createContainer(sb, containerConfig('hp', 'localhost/t/web:1'), sbConf);
    await rt.startContainer(c);
    const gateway = podCIDR.replace(/\.0\/24$/, '.1');
    const body = await waitFor('hostPort answer', async () => {
      const r = await fetch(`http://${gateway}:${hostPort}/index.html`);
      return r.ok ? r.text() : undefined;
    }, 10_000, 100);
    assert.equal(body, 'hello from layer 2\n');
    await rt.removePodSandbox(sb);
    const nat = execFileSync('iptables', ['-t', 'nat', '-S'], { encoding: 'utf8' });
    assert.ok(!nat.includes(`--dport ${hostPort}`), 'the DNAT rule is gone');
  });

  it('runs a tty container: its output is logged, attach gets the terminal and resize reaches it', async () => {
    const p = await runPod('ttyc', { command: ['sh', '-c', 'tty; while read l; do stty size; echo "line $l"; done'], tty: true, stdin: true });
    await waitFor('tty output', async () => existsSync(p.log) && readFileSync(p.log, 'utf8').includes('/dev/pts/'), 5000, 20);
    const a = await rt.attach(p.c, { stdin: true, stdout: true, stderr: true, tty: true });
    assert.equal(a.stderr, undefined);
    let out = '';
    a.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    a.resize({ width: 100, height: 30 });
    await new Promise((r) => setTimeout(r, 300));
    a.stdin?.write('x\n');
    await waitFor('resized terminal answer', async () => /30 100/.test(out) && out.includes('line x'), 5000, 20);
    a.close();
    await rt.stopContainer(p.c, 0);
    assert.equal((await rt.containerStatus(p.c)).state, 'CONTAINER_EXITED');
  });

  it('shares one pid namespace between containers when the pod asks for it', async () => {
    const sbConf = sandboxConfig('shared', { logDirectory: join(tmp.path, 'logs', 'default_shared') });
    sbConf.linux.securityContext.namespaceOptions.pid = 'POD';
    const sb = await rt.runPodSandbox(sbConf);
    const a = await rt.createContainer(sb, containerConfig('a', 'localhost/t/busybox:1', { command: ['sleep', '1001'] }), sbConf);
    const b = await rt.createContainer(sb, containerConfig('b', 'localhost/t/busybox:1', { command: ['sleep', '1002'] }), sbConf);
    await rt.startContainer(a);
    await rt.startContainer(b);
    const ps = (await rt.execSync(b, ['ps', '-o', 'args'], 5)).stdout.toString();
    assert.match(ps, /sleep 1001/);
    assert.match(ps, /sleep 1002/);
    await rt.removePodSandbox(sb);
  });

  it('runs with crun for the crun RuntimeClass handler', async (t) => {
    if (!rt.handlers.includes('crun')) {
      await assert.rejects(rt.runPodSandbox(sandboxConfig('nocrun'), 'crun'), (e: Error & { code?: string }) => e.code === 'InvalidArgument');
      return t.skip('crun is not installed or cannot run on this host (cgroup hybrid mode)');
    }
    const sbConf = sandboxConfig('crun', { logDirectory: join(tmp.path, 'logs', 'default_crun') });
    const sb = await rt.runPodSandbox(sbConf, 'crun');
    assert.equal((await rt.podSandboxStatus(sb)).runtimeHandler, 'crun');
    const c = await rt.createContainer(sb, containerConfig('c', 'localhost/t/busybox:1', { command: ['sh', '-c', 'echo via crun; exit 2'] }), sbConf);
    await rt.startContainer(c);
    const st = await waitFor('exit', async () => {
      const s = await rt.containerStatus(c);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 10_000, 20);
    assert.deepEqual([st.exitCode, st.reason], [2, 'Error']);
    assert.ok(logLines(join(sbConf.logDirectory, 'c/0.log')).some((l) => l.content === 'via crun'));
    await rt.removePodSandbox(sb);
  });

  it('a new runtime object over the same root finds running sandboxes and containers, and their logs continue', async () => {
    const p = await runPod('survivor', { command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'] });
    await waitFor('ticks', async () => existsSync(p.log) && logLines(p.log).length >= 2, 5000, 50);
    const rt2 = new ProcessRuntime(opts());
    const sandboxes = await rt2.listPodSandbox({ id: p.sb });
    assert.equal(sandboxes[0]?.state, 'SANDBOX_READY');
    const containers = await rt2.listContainers({ podSandboxId: p.sb });
    assert.deepEqual(containers.map((c) => [c.id, c.state]), [[p.c, 'CONTAINER_RUNNING']]);
    const before = logLines(p.log).length;
    await waitFor('more ticks', async () => logLines(p.log).length > before + 1, 5000, 50);
    await rt2.stopContainer(p.c, 5);
    assert.equal((await rt2.containerStatus(p.c)).state, 'CONTAINER_EXITED');
    await rt2.removePodSandbox(p.sb);
    await rt2.close();
  });
});
