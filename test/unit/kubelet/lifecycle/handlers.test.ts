import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import { FakeClock } from '../../../../src/client/clock.js';
import { HandlerRunner, runHandler, type HandlerRunnerOptions } from '../../../../src/kubelet/lifecycle/handlers.js';
import { RuntimeError, type ExecSyncResult } from '../../../../src/kubelet/runtime/types.js';

const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'apps', uid: 'u1' }, spec: { containers: [{ name: 'app' }] } };
const WHO = 'for Container "app" in Pod "web_apps(u1)"';

function options(over: Partial<HandlerRunnerOptions> = {}, answer?: (cmd: string[]) => Promise<ExecSyncResult>): HandlerRunnerOptions & { events: string[]; execs: string[][] } {
  const events: string[] = [];
  const execs: string[][] = [];
  return {
    runtime: {
      execSync: async (_id, cmd, timeout) => {
        execs.push([...cmd, `timeout=${timeout}`]);
        if (answer) return answer(cmd);
        if (cmd[0] === 'fail') return { stdout: Buffer.from('out\n'), stderr: Buffer.from('boom\n'), exitCode: 2 };
        if (cmd[0] === 'gone') throw new RuntimeError('NotFound', 'container "c1" not found');
        return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 };
      },
    },
    podIP: () => '127.0.0.1',
    recorder: { event: (subject, type, reason, message) => events.push(`${(subject as ObjectReference).fieldPath ?? 'pod'} ${type} ${reason} ${message}`) },
    events,
    execs,
    ...over,
  };
}

describe('exec hooks', () => {
  it('succeed on exit 0 and run without a timeout', async () => {
    const o = options();
    assert.equal(await runHandler(o, pod, { name: 'app' }, 'c1', { exec: { command: ['sh', '-c', 'true'] } }), undefined);
    assert.deepEqual(o.execs, [['sh', '-c', 'true', 'timeout=0']]);
  });
  it('fail with upstream message on a non-zero exit', async () => {
    const msg = await runHandler(options(), pod, { name: 'app' }, 'c1', { exec: { command: ['fail', 'now'] } });
    assert.equal(msg, `Exec lifecycle hook ([fail now]) ${WHO} failed - error: command 'fail now' exited with 2: boom\n, message: "out\\nboom\\n"`);
  });
  it('fail with the runtime error', async () => {
    const msg = await runHandler(options(), pod, { name: 'app' }, 'c1', { exec: { command: ['gone'] } });
    assert.equal(msg, `Exec lifecycle hook ([gone]) ${WHO} failed - error: container "c1" not found, message: ""`);
  });
});

describe('httpGet hooks', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.statusCode = req.url === '/broken' ? 500 : 200;
      res.end('x');
    });
    port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  });
  after(() => server.close());

  it('GET the pod IP with kube-lifecycle User-Agent; any status counts as done', async () => {
    const o = options();
    assert.equal(await runHandler(o, pod, { name: 'app' }, 'c1', { httpGet: { path: '/hook', port } }), undefined);
    assert.equal(await runHandler(o, pod, { name: 'app' }, 'c1', { httpGet: { path: '/broken', port } }), undefined);
    assert.equal(seen.at(-2)!.url, '/hook');
    assert.equal(seen.at(-2)!.headers['user-agent'], 'kube-lifecycle/1.32');
  });

  it('uses a named container port', async () => {
    const c: Container = { name: 'app', ports: [{ name: 'admin', containerPort: port }] };
    assert.equal(await runHandler(options(), pod, c, 'c1', { httpGet: { path: '/named', port: 'admin' } }), undefined);
    assert.equal(seen.at(-1)!.url, '/named');
  });

  it('fails with Go text when nothing listens', async () => {
    const msg = await runHandler(options(), pod, { name: 'app' }, 'c1', { httpGet: { path: '/x', port: 1 } });
    assert.equal(msg, `HTTP lifecycle hook (/x) ${WHO} failed - error: Get "http://127.0.0.1:1/x": dial tcp 127.0.0.1:1: connect: connection refused`);
  });

  it('fails without a pod IP', async () => {
    const msg = await runHandler(options({ podIP: () => undefined }), pod, { name: 'app' }, 'c1', { httpGet: { path: '/x', port } });
    assert.match(msg ?? '', /^HTTP lifecycle hook \(\/x\) .* failed - error: failed to find networking container/);
  });

  it('falls back from HTTPS to HTTP without Authorization, with a LifecycleHTTPFallback event', async () => {
    const o = options();
    const msg = await runHandler(o, pod, { name: 'app' }, 'c1', { httpGet: { path: '/tls', port, scheme: 'HTTPS', httpHeaders: [{ name: 'Authorization', value: 'Bearer x' }] } });
    assert.equal(msg, undefined);
    assert.equal(seen.at(-1)!.url, '/tls');
    assert.equal(seen.at(-1)!.headers.authorization, undefined);
    assert.deepEqual(o.events, [`pod Warning LifecycleHTTPFallback request to HTTPS lifecycle hook 127.0.0.1:${port} got HTTP response, retry with HTTP succeeded`]);
  });
});

describe('sleep and unsupported hooks', () => {
  it('sleep waits the seconds on the clock', async () => {
    const clock = new FakeClock(0);
    let done: string | undefined | null = null;
    void runHandler(options({ clock }), pod, { name: 'app' }, 'c1', { sleep: { seconds: 5 } }).then((m) => (done = m));
    clock.step(4_999);
    await tick();
    assert.equal(done, null);
    clock.step(1);
    await tick();
    assert.equal(done, undefined);
  });

  it('an aborted sleep fails as upstream', async () => {
    const ac = new AbortController();
    const p = runHandler(options({ clock: new FakeClock(0) }), pod, { name: 'app' }, 'c1', { sleep: { seconds: 30 } }, ac.signal);
    ac.abort();
    assert.equal(await p, `Sleep lifecycle hook (30) ${WHO} failed - error: container terminated before sleep hook finished`);
  });

  it('tcpSocket is not a runnable handler', async () => {
    assert.match((await runHandler(options(), pod, { name: 'app' }, 'c1', { tcpSocket: { port: 80 } })) ?? '', /^Cannot run handler: invalid handler: /);
  });
});

describe('postStart and preStop steps', () => {
  it('postStart failure records FailedPostStartHook without details and returns the message', async () => {
    const o = options();
    const c: Container = { name: 'app', lifecycle: { postStart: { exec: { command: ['fail'] } } } };
    const msg = await new HandlerRunner(o).runPostStartHook(pod, c, 'c1');
    assert.match(msg ?? '', /^Exec lifecycle hook \(\[fail\]\)/);
    assert.deepEqual(o.events, ['spec.containers{app} Warning FailedPostStartHook PostStartHook failed']);
    assert.equal(await new HandlerRunner(o).runPostStartHook(pod, { name: 'app' }, 'c1'), undefined, 'no hook, nothing to do');
  });

  it('preStop waits at most the grace period and returns the seconds spent', async () => {
    const clock = new FakeClock(0);
    const o = options({ clock }, () => new Promise(() => {})); // a hook that never returns
    const c: Container = { name: 'app', lifecycle: { preStop: { exec: { command: ['hang'] } } } };
    let spent: number | undefined;
    void new HandlerRunner(o).runPreStopHook(pod, c, 'c1', 10).then((s) => (spent = s));
    await tick();
    clock.step(9_000);
    await tick();
    assert.equal(spent, undefined);
    clock.step(1_000);
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(spent, 10);
    assert.deepEqual(o.events, []);
  });

  it('preStop failure records FailedPreStopHook and returns early', async () => {
    const o = options();
    const c: Container = { name: 'app', lifecycle: { preStop: { exec: { command: ['fail'] } } } };
    assert.equal(await new HandlerRunner(o).runPreStopHook(pod, c, 'c1', 30), 0);
    assert.deepEqual(o.events, ['spec.containers{app} Warning FailedPreStopHook PreStopHook failed']);
  });
});
