// The kubelet server on its own: authentication and authorization, the plain endpoints, and the
// WebSocket protocols older or non-kubectl clients use (v4 exec with tty and resize, base64, v4 port-forward).
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Registry, Counter } from 'prom-client';
import WebSocket from 'ws';
import { criLogLine } from '../../../../src/kubelet/runtime/types.js';
import { startKubeletServer, type KubeletServer } from '../../../../src/kubelet/server/server.js';
import { createCA, issueClientCertificate, issueServingCertificate, type IssuedCertificate } from '../../../../src/pki/ca.js';
import { tempDir } from '../../../support/tmp.js';
import { HostRuntime } from './hostRuntime.js';

interface Reply {
  status: number;
  body: string;
}

describe('kubelet server', () => {
  let kubelet: KubeletServer;
  let caPem = '';
  let admin: IssuedCertificate;
  let stranger: IssuedCertificate;
  let echo: Server;
  let echoPort = 0;
  const runtime = new HostRuntime();
  const dir = tempDir('k8ts-kls-');
  const metrics = new Registry();
  new Counter({ name: 'kubelet_test_total', help: 'a test metric', registers: [metrics] }).inc();
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1' },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'app', image: 'busybox', imageID: '', ready: true, restartCount: 0, containerID: 'k8ts://c1', state: { running: {} } }],
    },
  };

  const get = (path: string, opts: { cert?: IssuedCertificate; token?: string; method?: string } = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: kubelet.port,
          path,
          method: opts.method ?? 'GET',
          ca: caPem,
          ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
          headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  const wsConnect = (path: string, protocols: string[]): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${kubelet.port}${path}`, protocols, { ca: caPem, cert: admin.certPem, key: admin.keyPem });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });

  before(async () => {
    const ca = await createCA();
    caPem = ca.certPem;
    const serving = await issueServingCertificate(ca, { commonName: 'node-1', ipAddresses: ['127.0.0.1'] });
    admin = await issueClientCertificate(ca, { user: 'kube-apiserver-kubelet-client', groups: ['system:masters'] });
    stranger = await issueClientCertificate(ca, { user: 'jane', groups: ['devs'] });
    const logPath = join(dir.path, 'app.log');
    writeFileSync(logPath, criLogLine('stdout', 'hello', false));
    runtime.containers.set('c1', { logPath, state: 'CONTAINER_RUNNING' });
    kubelet = await startKubeletServer({
      port: 0,
      address: '127.0.0.1',
      tls: { cert: serving.certPem, key: serving.keyPem },
      clientCAPem: ca.certPem,
      authenticateToken: async (token) => (token === 'good-token' ? { name: 'token-user', groups: ['system:masters'] } : undefined),
      deps: {
        nodeName: 'node-1',
        listPods: () => [pod],
        findPod: (ns, name, uid) => (ns === 'default' && name === 'web' && (uid === undefined || uid === 'uid-1') ? pod : undefined),
        runtime,
        podSandboxId: async () => 'sb-1',
        statsSummary: async () => ({ node: { nodeName: 'node-1' }, pods: [] }),
        metrics,
      },
    });
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as { port: number }).port;
  });

  after(async () => {
    await kubelet?.close();
    echo?.close();
    dir.remove();
  });

  it('refuses requests without credentials (401) and users the authorizer does not allow (403)', async () => {
    assert.deepEqual(await get('/pods'), { status: 401, body: 'Unauthorized' });
    assert.deepEqual(await get('/pods', { token: 'bad' }), { status: 401, body: 'Unauthorized' });
    assert.deepEqual(await get('/stats/summary', { cert: stranger }), { status: 403, body: 'Forbidden (user=jane, verb=get, resource=nodes, subresource=stats)' });
    assert.equal((await get('/healthz', { token: 'good-token' })).status, 200);
  });

  it('serves /healthz, /pods, /stats/summary and /metrics', async () => {
    assert.deepEqual(await get('/healthz', { cert: admin }), { status: 200, body: 'ok' });
    const list = JSON.parse((await get('/pods', { cert: admin })).body);
    assert.equal(list.kind, 'PodList');
    assert.equal(list.items[0].metadata.name, 'web');
    assert.deepEqual(JSON.parse((await get('/stats/summary', { cert: admin })).body), { node: { nodeName: 'node-1' }, pods: [] });
    assert.match((await get('/metrics', { cert: admin })).body, /kubelet_test_total 1/);
    assert.equal((await get('/metrics/resource', { cert: admin })).status, 404);
  });

  it('serves containerLogs and upstream errors for unknown pods and containers', async () => {
    assert.deepEqual(await get('/containerLogs/default/web/app', { cert: admin }), { status: 200, body: 'hello\n' });
    assert.deepEqual(await get('/containerLogs/default/nope/app', { cert: admin }), { status: 404, body: 'pod "nope" does not exist' });
    assert.deepEqual(await get('/containerLogs/default/web/db', { cert: admin }), { status: 404, body: 'container "db" not found in pod "web"' });
    assert.equal((await get('/containerLogs/default/web/app?tailLines=-1', { cert: admin })).status, 422);
    assert.deepEqual(await get('/containerLogs/default/web/app?previous=true', { cert: admin }), { status: 400, body: 'previous terminated container "app" in pod "web" not found' });
  });

  it('runs a command with /run and refuses plain requests to streaming endpoints', async () => {
    assert.deepEqual(await get('/run/default/web/app?cmd=echo%20hi%20there', { cert: admin, method: 'POST' }), { status: 200, body: 'hi there\n' });
    assert.deepEqual(await get('/exec/default/web/app?command=true&stdout=1', { cert: admin }), { status: 400, body: 'Upgrade request required' });
  });

  it('execs over v4.channel.k8s.io with a tty: the ready signal, output and the status on the error channel', async () => {
    const ws = await wsConnect('/exec/default/web/uid-1/app?command=sh&command=-c&command=test%20-t%201%20%26%26%20echo%20tty&stdout=1&tty=1', ['v4.channel.k8s.io']);
    assert.equal(ws.protocol, 'v4.channel.k8s.io');
    const messages: Buffer[] = [];
    ws.on('message', (d: Buffer) => messages.push(d));
    ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":100,"Height":40}')]));
    await new Promise((r) => ws.once('close', r));
    assert.deepEqual(messages[0], Buffer.from([1]), 'an empty stdout message opens the session');
    const stdout = Buffer.concat(messages.filter((m) => m[0] === 1).map((m) => m.subarray(1))).toString();
    assert.match(stdout, /tty/);
    const status = messages.find((m) => m[0] === 3)!;
    assert.deepEqual(JSON.parse(status.subarray(1).toString()), { metadata: {}, status: 'Success' });
    assert.equal(runtime.execs.at(-1)!.opts.tty, true);
  });

  it('execs over base64.channel.k8s.io (text frames) and reports failure as text before v4', async () => {
    const ws = await wsConnect('/exec/default/web/app?command=sh&command=-c&command=echo%20b64%3B%20exit%202&stdout=1&stderr=1', ['base64.channel.k8s.io']);
    const messages: string[] = [];
    ws.on('message', (d: Buffer) => messages.push(d.toString()));
    await new Promise((r) => ws.once('close', r));
    const out = messages.filter((m) => m[0] === '1').map((m) => Buffer.from(m.slice(1), 'base64').toString()).join('');
    assert.equal(out, 'b64\n');
    const err = messages.find((m) => m[0] === '3' && m.length > 1)!;
    assert.equal(Buffer.from(err.slice(1), 'base64').toString(), 'command terminated with non-zero exit code: error executing command [sh -c echo b64; exit 2], exit code 2');
  });

  it('refuses an exec whose subprotocols it does not speak', async () => {
    await assert.rejects(wsConnect('/exec/default/web/app?command=true&stdout=1', ['v9.channel.k8s.io']), /HTTP 403/);
  });

  it('forwards a port over the v4 WebSocket channels: port prefixes, then data both ways', async () => {
    const ws = await wsConnect(`/portForward/default/web?port=${echoPort}`, ['v4.channel.k8s.io']);
    const messages: Buffer[] = [];
    ws.on('message', (d: Buffer) => messages.push(d));
    for (let i = 0; i < 50 && messages.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(echoPort);
    assert.deepEqual(messages.slice(0, 2), [Buffer.concat([Buffer.from([0]), prefix]), Buffer.concat([Buffer.from([1]), prefix])]);
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping through the pod')]));
    for (let i = 0; i < 50 && messages.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(messages[2]!.subarray(1).toString(), 'ping through the pod');
    assert.equal(runtime.forwards.at(-1)!.sandbox, 'sb-1');
    ws.close();
  });
});
