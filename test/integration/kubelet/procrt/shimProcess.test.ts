// The pod shim process on its own, driven over its sockets (no root, no runc: containers are plain
// commands that write their pid file): how many sandboxes it takes, what `shutdown` on a sandbox's
// socket and on the control socket stops, and when the shim exits.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../../support/tmp.js';
import { processAlive } from '../../../support/process.js';
import { waitFor } from '../../../support/waitFor.js';
import { shimRequest, type ShimContainerSpec, type ShimExitRecord, type ShimReply } from '../../../../src/kubelet/runtime/process/shimProtocol.js';

const SHIM = fileURLToPath(new URL('../../../../src/kubelet/runtime/process/shim.js', import.meta.url));

interface Shim {
  proc: ChildProcess;
  control: string;
  exited: Promise<number | null>;
}

describe('pod shim process', () => {
  const tmp = tempDir('k8ts-shimproc-');
  const started: Shim[] = [];
  let n = 0;

  after(() => {
    for (const s of started) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    tmp.remove();
  });

  async function startShim(): Promise<Shim> {
    const control = join(tmp.path, `shim-${n++}.sock`);
    const proc = spawn(process.execPath, [SHIM, control], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      proc.once('exit', (code) => reject(new Error(`shim exited with ${code}`)));
    });
    const shim = { proc, control, exited };
    started.push(shim);
    return shim;
  }

  /** A sandbox dir and its socket path. */
  function sandbox(name: string): { dir: string; socket: string } {
    const dir = join(tmp.path, `sb-${name}`);
    mkdirSync(dir, { recursive: true });
    return { dir, socket: join(tmp.path, `${name}.sock`) };
  }

  async function adopt(shim: Shim, sb: { dir: string; socket: string }, maxSandboxes: number): Promise<ShimReply> {
    return shimRequest(shim.control, { op: 'adopt', socket: sb.socket, sandboxDir: sb.dir, maxSandboxes });
  }

  /** A container that is a plain shell loop writing a line every 50 ms. */
  function container(name: string): { dir: string; spec: ShimContainerSpec } {
    const dir = join(tmp.path, `c-${name}`);
    mkdirSync(dir, { recursive: true });
    const spec: ShimContainerSpec = {
      id: name,
      ociBinary: '/bin/sh',
      ociRoot: dir,
      bundle: dir,
      logPath: join(dir, 'log'),
      tty: false,
      stdin: false,
      stdinOnce: false,
      pidFile: join(dir, 'pid'),
      exitFile: join(dir, 'exit.json'),
      ociLog: join(dir, 'oci.log'),
      command: ['/bin/sh', '-c', `echo $$ > ${join(dir, 'pid')}; exec sh -c 'while true; do echo tick; sleep 0.05; done'`],
    };
    writeFileSync(join(dir, 'shim.json'), JSON.stringify(spec));
    return { dir, spec };
  }
  const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

  it('takes sandboxes up to maxSandboxes, then closes its control socket and refuses more', async () => {
    const shim = await startShim();
    const [a, b] = [sandbox('max-a'), sandbox('max-b')];
    assert.deepEqual(await adopt(shim, a, 2), { ok: true, shimPid: shim.proc.pid, sandboxes: 1, full: false });
    assert.deepEqual(await adopt(shim, b, 2), { ok: true, shimPid: shim.proc.pid, sandboxes: 2, full: true });
    assert.equal(existsSync(shim.control), false, 'the control socket is gone');
    await assert.rejects(adopt(shim, sandbox('max-c'), 2), /ENOENT|ECONNREFUSED/);
    for (const sb of [a, b]) {
      assert.deepEqual(JSON.parse(readFileSync(join(sb.dir, 'shim.pid.json'), 'utf8')), { pid: shim.proc.pid, socket: sb.socket });
      assert.equal((await shimRequest(sb.socket, { op: 'ping' })).ok, true);
    }
    assert.match(readFileSync(`/proc/${shim.proc.pid}/cmdline`, 'utf8'), /^k8ts-shim 2\/2 /);
    for (const sb of [a, b]) await shimRequest(sb.socket, { op: 'shutdown' });
    assert.equal(await shim.exited, 0);
  });

  it("shutdown on one sandbox's socket kills only that sandbox's containers; the shim exits after the last sandbox", async () => {
    const shim = await startShim();
    const [a, b] = [sandbox('rel-a'), sandbox('rel-b')];
    await adopt(shim, a, 8);
    await adopt(shim, b, 8);
    const ca = container('rel-ca');
    const cb = container('rel-cb');
    const ra = await shimRequest(a.socket, { op: 'start', dir: ca.dir });
    const rb = await shimRequest(b.socket, { op: 'start', dir: cb.dir });
    assert.ok(ra.ok && rb.ok && ra.pid && rb.pid && ra.shimPid === shim.proc.pid);
    await shimRequest(a.socket, { op: 'shutdown' });
    assert.equal(existsSync(a.socket), false, "a's socket is closed");
    const exit = await waitFor('exit record of a', async () => (existsSync(ca.spec.exitFile) ? (JSON.parse(readFileSync(ca.spec.exitFile, 'utf8')) as ShimExitRecord) : undefined), 5000, 20);
    assert.equal(exit.exitCode, 137);
    assert.equal(processAlive(rb.pid), true, "b's container runs on");
    const before = lines(cb.spec.logPath);
    await waitFor("b's log to grow", async () => lines(cb.spec.logPath) > before + 2, 5000, 20);
    assert.equal(shim.proc.exitCode, null, 'the shim serves b');
    await shimRequest(b.socket, { op: 'shutdown' });
    assert.equal(await shim.exited, 0);
    assert.ok(existsSync(cb.spec.exitFile), "b's exit is recorded before the shim exits");
  });

  it('shutdown on the control socket retires the shim: its sandboxes go on, it takes no new one, and a spare that hosts nothing exits', async () => {
    const shim = await startShim();
    const a = sandbox('ret-a');
    await adopt(shim, a, 8);
    assert.deepEqual(await shimRequest(shim.control, { op: 'shutdown' }), { ok: true });
    await waitFor('the control socket to close', async () => !existsSync(shim.control), 2000, 20);
    await assert.rejects(adopt(shim, sandbox('ret-b'), 8), /ENOENT|ECONNREFUSED/);
    assert.equal((await shimRequest(a.socket, { op: 'ping' })).ok, true);
    await shimRequest(a.socket, { op: 'shutdown' });
    assert.equal(await shim.exited, 0);

    const spare = await startShim();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(spare.proc.exitCode, null, 'a spare waits for its first sandbox');
    await shimRequest(spare.control, { op: 'shutdown' });
    assert.equal(await spare.exited, 0);
  });

  it('answers a request it cannot serve with an error and keeps serving', async () => {
    const shim = await startShim();
    const a = sandbox('bad-a');
    await adopt(shim, a, 8);
    const cases: { name: string; socket: string; req: Parameters<typeof shimRequest>[1]; message: RegExp }[] = [
      { name: 'start of a container dir without shim.json', socket: a.socket, req: { op: 'start', dir: join(tmp.path, 'nope') }, message: /ENOENT/ },
      { name: 'start on the control socket', socket: shim.control, req: { op: 'start', dir: tmp.path }, message: /sandbox socket/ },
      { name: "adopt on a sandbox's socket", socket: a.socket, req: { op: 'adopt', socket: join(tmp.path, 'x.sock'), sandboxDir: tmp.path }, message: /control socket/ },
      { name: 'attach to an unknown container', socket: a.socket, req: { op: 'attach', id: 'nope', stdin: false, stdout: true, stderr: true }, message: /not running/ },
    ];
    for (const c of cases) {
      const reply = await shimRequest(c.socket, c.req);
      assert.equal(reply.ok, false, c.name);
      assert.match(reply.ok ? '' : reply.message, c.message, c.name);
    }
    assert.equal((await shimRequest(a.socket, { op: 'ping' })).ok, true);
    await shimRequest(a.socket, { op: 'shutdown' });
    assert.equal(await shim.exited, 0);
  });
});
