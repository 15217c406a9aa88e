// Probe kinds against real loopback servers (HTTP, TCP, gRPC) and an ExecSync test double.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Container, Pod, PodStatus, Probe } from 'kubernetes-types/core/v1.js';
import type { ObjectReference } from 'kubernetes-types/core/v1.js';
import {
  canonicalHeaderKey,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  execProbe,
  goDuration,
  grpcProbe,
  httpProbe,
  newRequestForHTTPGetAction,
  ProbeError,
  resolveContainerPort,
  tcpProbe,
} from '../../../../src/kubelet/prober/probes.js';
import { probeContainer } from '../../../../src/kubelet/prober/prober.js';
import { RuntimeError, type ExecSyncResult } from '../../../../src/kubelet/runtime/types.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A port with nothing listening: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('ports, durations, header names', () => {
  const c: Pick<Container, 'ports'> = { ports: [{ name: 'http', containerPort: 8080 }] };
  it('resolves numbers, named ports and numeric strings', () => {
    assert.equal(resolveContainerPort(80, c), 80);
    assert.equal(resolveContainerPort('http', c), 8080);
    assert.equal(resolveContainerPort('9090', c), 9090);
  });
  it('refuses unknown names and out-of-range ports with upstream texts', () => {
    assert.throws(() => resolveContainerPort('metrics', c), (e: unknown) => e instanceof ProbeError && e.message === 'strconv.Atoi: parsing "metrics": invalid syntax');
    assert.throws(() => resolveContainerPort(0, c), /invalid port number: 0/);
    assert.throws(() => resolveContainerPort(70000, c), /invalid port number: 70000/);
  });
  it('prints durations as Go', () => {
    assert.deepEqual([1, 59, 60, 90, 3600].map(goDuration), ['1s', '59s', '1m0s', '1m30s', '1h0m0s']);
  });
  it('canonicalizes header names as Go', () => {
    assert.deepEqual(['user-agent', 'X-CUSTOM-header', 'accept'].map(canonicalHeaderKey), ['User-Agent', 'X-Custom-Header', 'Accept']);
  });
});

describe('httpGet probes against a loopback server', () => {
  let server: Server;
  let port: number;
  let otherPort: number;
  let other: Server;
  let lastHeaders: IncomingHttpHeaders = {};
  before(async () => {
    server = createServer((req, res) => {
      lastHeaders = req.headers;
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/ok':
          res.end('fine');
          return;
        case '/fail':
          res.statusCode = 500;
          res.end('secret details');
          return;
        case '/redirect-local':
          res.writeHead(302, { location: '/ok' }).end();
          return;
        case '/redirect-remote':
          res.writeHead(301, { location: `http://localhost:${otherPort}/ok` }).end('moved away');
          return;
        case '/loop':
          res.writeHead(302, { location: '/loop' }).end();
          return;
        case '/slow':
          setTimeout(() => res.end('late'), 3000).unref();
          return;
        case '/big':
          res.end('x'.repeat(50_000));
          return;
        default:
          res.statusCode = 404;
          res.end();
      }
    });
    port = await listen(server);
    other = createServer((_req, res) => res.end('other host'));
    otherPort = await listen(other);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    other.close();
  });

  const req = (path: string, extra: Partial<NonNullable<Probe['httpGet']>> = {}, p = port) => newRequestForHTTPGetAction({ path, port: p, ...extra }, {}, '127.0.0.1', 'probe');

  it('succeeds on 2xx with the body as output and sends kube-probe headers', async () => {
    assert.deepEqual(await httpProbe(req('/ok'), 1), { result: 'success', output: 'fine' });
    assert.equal(lastHeaders['user-agent'], 'kube-probe/1.32');
    assert.equal(lastHeaders.accept, '*/*');
    assert.equal(lastHeaders.connection, 'close');
  });

  it('fails on 500 without the body in the message', async () => {
    assert.deepEqual(await httpProbe(req('/fail'), 1), { result: 'failure', output: 'HTTP probe failed with statuscode: 500' });
  });

  it('follows a redirect to the same host', async () => {
    assert.deepEqual(await httpProbe(req('/redirect-local'), 1), { result: 'success', output: 'fine' });
  });

  it('does not follow a redirect to another host: a warning with the body', async () => {
    assert.deepEqual(await httpProbe(req('/redirect-remote'), 1), { result: 'warning', output: 'Probe terminated redirects, Response body: moved away' });
  });

  it('stops after 10 redirects', async () => {
    const got = await httpProbe(req('/loop'), 2);
    assert.equal(got.result, 'failure');
    assert.equal(got.output, `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects`);
  });

  it('sends custom headers, a Host override, and drops an empty Accept', async () => {
    await httpProbe(req('/ok', { httpHeaders: [{ name: 'x-token', value: 'abc' }, { name: 'Host', value: 'svc.example' }, { name: 'accept', value: '' }, { name: 'user-agent', value: 'mine' }] }), 1);
    assert.equal(lastHeaders['x-token'], 'abc');
    assert.equal(lastHeaders.host, 'svc.example');
    assert.equal(lastHeaders.accept, undefined);
    assert.equal(lastHeaders['user-agent'], 'mine');
  });

  it('times out with Go http client text', async () => {
    const got = await httpProbe(req('/slow'), 1);
    assert.deepEqual(got, { result: 'failure', output: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
  });

  it('reports a refused connection as Go does', async () => {
    const p = await closedPort();
    assert.deepEqual(await httpProbe(req('/healthz', {}, p), 1), { result: 'failure', output: `Get "http://127.0.0.1:${p}/healthz": dial tcp 127.0.0.1:${p}: connect: connection refused` });
  });

  it('reads at most 10 KiB of the body', async () => {
    const got = await httpProbe(req('/big'), 1);
    assert.equal(got.result, 'success');
    assert.equal(got.output.length, 10 * 1024);
  });

  it('uses the named container port and the pod IP', () => {
    const r = newRequestForHTTPGetAction({ path: 'healthz', port: 'web', scheme: 'HTTPS' }, { ports: [{ name: 'web', containerPort: 8443 }] }, '10.42.0.7', 'probe');
    assert.equal(r.urlText, 'https://10.42.0.7:8443/healthz');
    const v6 = newRequestForHTTPGetAction({ port: 80 }, {}, 'fd00::7', 'lifecycle');
    assert.equal(v6.urlText, 'http://[fd00::7]:80');
    assert.deepEqual(v6.headers.get('User-Agent'), ['kube-lifecycle/1.32']);
  });
});

describe('tcpSocket probes', () => {
  it('succeeds when the port accepts', async () => {
    const s = createTcpServer((sock) => sock.end());
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    try {
      assert.deepEqual(await tcpProbe('127.0.0.1', (s.address() as AddressInfo).port, 1), { result: 'success', output: '' });
    } finally {
      s.close();
    }
  });
  it('fails with Go dial text when refused', async () => {
    const p = await closedPort();
    assert.deepEqual(await tcpProbe('127.0.0.1', p, 1), { result: 'failure', output: `dial tcp 127.0.0.1:${p}: connect: connection refused` });
  });
});

describe('grpc probes against a grpc-js health server', () => {
  let server: grpc.Server;
  let port: number;
  let bare: grpc.Server;
  let barePort: number;
  const statuses: Record<string, number> = { '': 1, down: 2 };
  before(async () => {
    server = new grpc.Server();
    server.register(
      '/grpc.health.v1.Health/Check',
      (call: grpc.ServerUnaryCall<{ service: string }, number>, cb: grpc.sendUnaryData<number>) => {
        const s = statuses[call.request.service];
        if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else cb(null, s);
      },
      (status: number) => Buffer.from(status ? [0x08, status] : []),
      // The request carries the service name in field 1 (an object: grpc-js refuses a falsy request).
      (buf: Buffer) => ({ service: buf.length ? buf.subarray(2).toString('utf8') : '' }),
      'unary',
    );
    port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    bare = new grpc.Server();
    barePort = await new Promise<number>((res, rej) => bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  });
  after(() => {
    server.forceShutdown();
    bare.forceShutdown();
  });

  it('encodes and decodes the health messages', () => {
    assert.deepEqual([...encodeHealthCheckRequest('ab')], [0x0a, 2, 0x61, 0x62]);
    assert.equal(encodeHealthCheckRequest('').length, 0);
    assert.equal(decodeHealthCheckResponse(Buffer.from([0x08, 0x02])), 2);
    assert.equal(decodeHealthCheckResponse(Buffer.from([0x12, 0x01, 0x00, 0x08, 0x01])), 1, 'unknown fields are skipped');
  });

  it('SERVING is success', async () => {
    assert.deepEqual(await grpcProbe('127.0.0.1', '', port, 2), { result: 'success', output: 'service healthy' });
  });
  it('NOT_SERVING is a failure', async () => {
    assert.deepEqual(await grpcProbe('127.0.0.1', 'down', port, 2), { result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' });
  });
  it('an unknown service is a failure with the rpc error', async () => {
    assert.deepEqual(await grpcProbe('127.0.0.1', 'nope', port, 2), { result: 'failure', output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service' });
  });
  it('a server without the health service is named as such', async () => {
    const got = await grpcProbe('127.0.0.1', '', barePort, 2);
    assert.equal(got.result, 'failure');
    assert.match(got.output, /^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /);
  });
  it('no server: a connect timeout', async () => {
    const p = await closedPort();
    assert.deepEqual(await grpcProbe('127.0.0.1', '', p, 1), { result: 'failure', output: `timeout: failed to connect service "127.0.0.1:${p}" within 1s: context deadline exceeded` });
  });
});

/** An ExecSync test double: answers from a table of commands. */
function execRuntime(answer: (cmd: string[]) => ExecSyncResult | Error) {
  const calls: Array<{ id: string; cmd: string[]; timeout: number }> = [];
  return {
    calls,
    execSync: async (id: string, cmd: string[], timeout: number): Promise<ExecSyncResult> => {
      calls.push({ id, cmd, timeout });
      const a = answer(cmd);
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

const out = (stdout: string, stderr: string, exitCode: number): ExecSyncResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), exitCode });

describe('exec probes', () => {
  const rt = execRuntime((cmd) => {
    if (cmd[0] === 'ok') return out('all good\n', '', 0);
    if (cmd[0] === 'bad') return out('', "cat: can't open '/tmp/healthy': No such file or directory\n", 1);
    if (cmd[0] === 'sleep') return new RuntimeError('DeadlineExceeded', 'deadline');
    return new RuntimeError('NotFound', 'container not found');
  });
  it('exit 0 is success with the output', async () => {
    assert.deepEqual(await execProbe(rt, 'c1', ['ok'], 1), { result: 'success', output: 'all good\n' });
    assert.deepEqual(rt.calls.at(-1), { id: 'c1', cmd: ['ok'], timeout: 1 });
  });
  it('another exit code is a failure with stdout+stderr', async () => {
    assert.deepEqual(await execProbe(rt, 'c1', ['bad'], 1), { result: 'failure', output: "cat: can't open '/tmp/healthy': No such file or directory\n" });
  });
  it('a runtime timeout is a failure `command "…" timed out`', async () => {
    assert.deepEqual(await execProbe(rt, 'c1', ['sleep', '10'], 1), { result: 'failure', output: 'command "sleep 10" timed out' });
  });
  it('other runtime errors make the probe error', async () => {
    await assert.rejects(execProbe(rt, 'c1', ['other'], 1), (e: unknown) => e instanceof ProbeError && e.message === 'container not found');
  });
});

describe('probeContainer: retries and events', () => {
  const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'apps', uid: 'u1' }, spec: { containers: [{ name: 'app' }] } };
  const status: PodStatus = { podIP: '127.0.0.1' };

  it('records `Liveness probe failed: …` on the container and returns Failure', async () => {
    const events: string[] = [];
    const rt = execRuntime(() => out('nope', '', 3));
    const spec: Probe = { exec: { command: ['check', '$(MODE)'] } };
    const run = await probeContainer({ runtime: rt, recorder: { event: (ref, t, r, m) => events.push(`${(ref as ObjectReference).fieldPath} ${t} ${r} ${m}`) } }, 'Liveness', spec, pod, status, { name: 'app', env: [{ name: 'MODE', value: 'deep' }] }, 'cid');
    assert.deepEqual(run, { result: 'Failure' });
    assert.deepEqual(events, ['spec.containers{app} Warning Unhealthy Liveness probe failed: nope']);
    assert.deepEqual(rt.calls[0]!.cmd, ['check', 'deep'], 'the command expands static env values');
  });

  it('retries an erroring probe 3 times, then reports `probe errored`', async () => {
    const events: string[] = [];
    const rt = execRuntime(() => new RuntimeError('Unavailable', 'runtime is down'));
    const run = await probeContainer({ runtime: rt, recorder: { event: (_ref, _t, r, m) => events.push(`${r} ${m}`) } }, 'Readiness', { exec: { command: ['x'] } }, pod, status, { name: 'app' }, 'cid');
    assert.equal(rt.calls.length, 3);
    assert.deepEqual(run, { result: 'Failure', error: 'runtime is down' });
    assert.deepEqual(events, ['Unhealthy Readiness probe errored: runtime is down']);
  });

  it('a redirect warning is a success with a ProbeWarning event', async () => {
    const s = createServer((_req, res) => res.writeHead(302, { location: 'http://elsewhere.invalid/' }).end('bye'));
    const p = await listen(s);
    try {
      const events: string[] = [];
      const run = await probeContainer({ runtime: execRuntime(() => out('', '', 0)), recorder: { event: (_ref, t, r, m) => events.push(`${t} ${r} ${m}`) } }, 'Startup', { httpGet: { port: p, path: '/' } }, pod, status, { name: 'app' }, 'cid');
      assert.deepEqual(run, { result: 'Success' });
      assert.deepEqual(events, ['Warning ProbeWarning Startup probe warning: Probe terminated redirects, Response body: bye']);
    } finally {
      s.close();
    }
  });
});
