// The real kubectl (1.32: WebSocket exec, SPDY-in-WebSocket port-forward; 1.27: SPDY) against the real
// k8ts API server, which proxies pods/log, exec, attach and portforward to a kubelet server started here
// with a host-process runtime double.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { criLogLine } from '../../../../src/kubelet/runtime/types.js';
import { startKubeletServer, type KubeletServer } from '../../../../src/kubelet/server/server.js';
import { loadCA, issueServingCertificate } from '../../../../src/pki/ca.js';
import { startK8tsServer, type RunningServer } from '../../../support/k8tsServer.js';
import { tempDir } from '../../../support/tmp.js';
import { HostRuntime } from './hostRuntime.js';

const KUBECTL_127 = '/usr/lib/google-cloud-sdk/bin/kubectl.1.27';
const NODE = 'node-streaming';

describe('kubelet streaming through the API server with the real kubectl', () => {
  let server: RunningServer;
  let kubelet: KubeletServer;
  let httpServer: Server;
  let httpPort = 0;
  const dir = tempDir('k8ts-kls-');
  const runtime = new HostRuntime();
  const pods = new Map<string, Pod>();
  const streams: { kind: string; protocol: string; transport: string }[] = [];
  const logPath = join(dir.path, 'web-0.log');
  const prevLogPath = join(dir.path, 'web-prev.log');

  const podObject = (name: string, containers: string[]): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: NODE, containers: containers.map((c) => ({ name: c, image: 'busybox' })) },
  });

  before(async () => {
    server = await startK8tsServer(['--disable-scheduler', '--disable-controller-manager']);
    const tls = join(server.dataDir, 'tls');
    const ca = await loadCA(readFileSync(join(tls, 'ca.crt'), 'utf8'), readFileSync(join(tls, 'ca.key'), 'utf8'));
    const serving = await issueServingCertificate(ca, { commonName: NODE, ipAddresses: ['127.0.0.1'], dnsNames: [NODE] });
    kubelet = await startKubeletServer({
      port: 0,
      address: '127.0.0.1',
      tls: { cert: serving.certPem, key: serving.keyPem },
      clientCAPem: ca.certPem,
      onStream: (s) => streams.push(s),
      deps: {
        nodeName: NODE,
        listPods: () => [...pods.values()],
        findPod: (ns, name) => pods.get(`${ns}/${name}`),
        runtime,
        podSandboxId: async (pod) => `sandbox-${pod.metadata!.name}`,
      },
    });
    httpServer = createServer((_req, res) => res.end('hello from the pod\n'));
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    httpPort = (httpServer.address() as { port: number }).port;

    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: NODE },
      status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } } },
    };
    let r = await server.kubectl(['create', '-f', '-'], { input: JSON.stringify(node) });
    assert.equal(r.code, 0, r.stderr);
    r = await server.kubectl(['patch', 'node', NODE, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: node.status })]);
    assert.equal(r.code, 0, r.stderr);

    writeFileSync(prevLogPath, criLogLine('stdout', 'from the previous instance', false));
    writeFileSync(
      logPath,
      criLogLine('stdout', 'line one', false, new Date('2026-01-01T00:00:01Z')) +
        criLogLine('stderr', 'an error line', false, new Date('2026-01-01T00:00:02Z')) +
        criLogLine('stdout', 'line ', true, new Date('2026-01-01T00:00:03Z')) +
        criLogLine('stdout', 'three', false, new Date('2026-01-01T00:00:04Z')),
    );
    runtime.containers.set('c1', { logPath, state: 'CONTAINER_RUNNING' });
    runtime.containers.set('c0', { logPath: prevLogPath, state: 'CONTAINER_EXITED' });
    const main = spawn('sh', ['-c', 'while read l; do echo "got:$l"; done'], { stdio: ['pipe', 'pipe', 'ignore'] });
    runtime.mains.set('c1', main);

    for (const [name, containers] of [['web', ['app']], ['two', ['a', 'b']]] as const) {
      const pod = podObject(name, [...containers]);
      r = await server.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) });
      assert.equal(r.code, 0, r.stderr);
      const status: Pod['status'] = {
          phase: 'Running',
          containerStatuses: containers.map((c) => ({
            name: c,
            image: 'busybox',
            imageID: '',
            ready: true,
            restartCount: 1,
            containerID: 'k8ts://c1',
            state: { running: { startedAt: '2026-01-01T00:00:00Z' } },
            lastState: { terminated: { exitCode: 1, containerID: 'k8ts://c0' } },
          })),
      };
      pods.set(`default/${name}`, { ...pod, status });
      r = await server.kubectl(['patch', 'pod', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    for (const m of runtime.mains.values()) m.kill();
    await kubelet?.close();
    httpServer?.close();
    await server?.stop();
    dir.remove();
  });

  it('kubectl logs shows the container log, with P records joined into lines', async () => {
    const r = await server.kubectl(['logs', 'web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line one\nan error line\nline three\n');
  });

  it('kubectl logs --tail, --timestamps, --previous and --limit-bytes', async () => {
    let r = await server.kubectl(['logs', 'web', '--tail=1']);
    assert.equal(r.stdout, 'line three\n', r.stderr);
    r = await server.kubectl(['logs', 'web', '--timestamps', '--tail=2']);
    assert.equal(r.stdout, '2026-01-01T00:00:02Z an error line\n2026-01-01T00:00:03Z line three\n', r.stderr);
    r = await server.kubectl(['logs', 'web', '--previous']);
    assert.equal(r.stdout, 'from the previous instance\n', r.stderr);
    r = await server.kubectl(['logs', 'web', '--limit-bytes=4']);
    assert.equal(r.stdout, 'line', r.stderr);
  });

  it('kubectl logs refuses an unknown container and asks for one when the pod has several', async () => {
    let r = await server.kubectl(['logs', 'web', '-c', 'nope']);
    assert.notEqual(r.code, 0, JSON.stringify(r));
    assert.match(r.stderr, /container nope is not valid for pod web/);
    // kubectl picks a default container itself; the API server's own check shows on a raw request.
    r = await server.kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/two/log']);
    assert.notEqual(r.code, 0, JSON.stringify(r));
    assert.match(r.stderr, /a container name must be specified for pod two, choose one of: \[a b\]/);
  });

  it('kubectl logs -f streams new lines and ends when the container stops', async () => {
    const child = spawn('kubectl', ['--kubeconfig', server.kubeconfig, 'logs', '-f', 'web', '--tail=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    // Once the existing tail arrived the kubelet is following: what is appended now must follow it.
    for (let i = 0; i < 100 && !out.includes('line three'); i++) await new Promise((r) => setTimeout(r, 100));
    appendFileSync(logPath, criLogLine('stdout', 'followed line', false));
    for (let i = 0; i < 50 && !out.includes('followed line'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(out, 'line three\nfollowed line\n');
    runtime.containers.get('c1')!.state = 'CONTAINER_EXITED';
    try {
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 8000))]);
      assert.equal(code, 0);
    } finally {
      runtime.containers.get('c1')!.state = 'CONTAINER_RUNNING';
      child.kill();
    }
  });

  for (const [label, binary, transport] of [
    ['kubectl 1.32', 'kubectl', 'websocket'],
    ['kubectl 1.27', KUBECTL_127, 'spdy'],
  ] as const) {
    it(`${label}: exec propagates stdout, stderr and the exit code (over ${transport})`, { skip: !existsSync(binary) && binary !== 'kubectl' }, async () => {
      streams.length = 0;
      const r = await server.kubectl(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { binary });
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /err\n/);
      assert.match(r.stderr, /command terminated with exit code 3/);
      assert.equal(streams[0]?.transport, transport);
      assert.equal(streams[0]?.protocol, transport === 'websocket' ? 'v5.channel.k8s.io' : 'v4.channel.k8s.io');
    });

    it(`${label}: exec -i passes stdin through and sees its end`, { skip: !existsSync(binary) && binary !== 'kubectl' }, async () => {
      const r = await server.kubectl(['exec', '-i', 'web', '--', 'sh', '-c', 'cat; echo done'], { binary, input: 'some input\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'some input\ndone\n');
    });

    it(`${label}: port-forward carries an HTTP request to the pod's port`, { skip: !existsSync(binary) && binary !== 'kubectl' }, async () => {
      streams.length = 0;
      const child = spawn(binary, ['--kubeconfig', server.kubeconfig, 'port-forward', 'pod/web', `:${httpPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      try {
        let local = 0;
        for (let i = 0; i < 100 && !local; i++) {
          local = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
          if (!local) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(local, `no forwarding line: ${out} ${err}`);
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`http://127.0.0.1:${local}/`);
          assert.equal(await res.text(), 'hello from the pod\n');
        }
        assert.equal(streams[0]?.transport, transport, JSON.stringify(streams));
        assert.equal(runtime.forwards.at(-1)?.sandbox, 'sandbox-web');
      } finally {
        child.kill();
      }
    });

    it(`${label}: cp copies a file out of the container (tar over exec)`, { skip: !existsSync(binary) && binary !== 'kubectl' }, async () => {
      const src = join(dir.path, `src-${transport}.txt`);
      writeFileSync(src, 'copied content\n');
      const dest = join(dir.path, `dest-${transport}.txt`);
      const r = await server.kubectl(['cp', `web:${src}`, dest], { binary });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(dest, 'utf8'), 'copied content\n');
    });

    it(`${label}: attach -i talks to the main process`, { skip: !existsSync(binary) && binary !== 'kubectl' }, async () => {
      const r = await server.kubectl(['attach', '-i', 'web'], { binary, input: `hello ${transport}\n`, timeoutMs: 20_000 });
      assert.match(r.stdout, new RegExp(`got:hello ${transport}`), JSON.stringify(r));
    });
  }

  it('kubectl 1.32: exec -it runs the command on a terminal and sends the terminal size', async () => {
    // `script` gives kubectl a terminal of its own, so it asks for a tty as a user's shell would.
    streams.length = 0;
    const before = runtime.execs.length;
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('script', ['-qfec', `stty cols 91 rows 33; kubectl --kubeconfig ${server.kubeconfig} exec -it web -- sh -c 'test -t 0 && test -t 1 && echo on-a-tty'`, '/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => resolve({ code, out }));
      setTimeout(() => child.kill(), 20_000).unref();
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /on-a-tty/);
    assert.equal(runtime.execs.at(-1)!.opts.tty, true);
    assert.ok(runtime.execs.length > before);
    assert.deepEqual(runtime.resizes.at(-1), { width: 91, height: 33 });
    assert.equal(streams[0]?.protocol, 'v5.channel.k8s.io');
  });

  it('kubectl 1.32: port-forward to a port nothing listens on reports the runtime error', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const child = spawn('kubectl', ['--kubeconfig', server.kubeconfig, 'port-forward', 'pod/web', `:${closed}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      let local = 0;
      for (let i = 0; i < 100 && !local; i++) {
        local = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
        if (!local) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(local, out);
      await fetch(`http://127.0.0.1:${local}/`).catch(() => undefined);
      for (let i = 0; i < 50 && !out.includes('error forwarding port'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, new RegExp(`error forwarding port ${closed} to pod sandbox-web, uid : failed to connect to localhost:${closed} inside the pod`));
    } finally {
      child.kill();
    }
  });

  it('nodes/proxy reaches any kubelet path', async () => {
    let r = await server.kubectl(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/healthz`]);
    assert.equal(r.stdout, 'ok', r.stderr);
    r = await server.kubectl(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/pods`]);
    assert.deepEqual(JSON.parse(r.stdout).items.map((p: Pod) => p.metadata!.name).sort(), ['two', 'web']);
  });

  it('a kubelet that does not answer is a 500 naming the address', async () => {
    const dead = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'dead-node' },
      status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: 1 } } },
    };
    let r = await server.kubectl(['create', '-f', '-'], { input: JSON.stringify(dead) });
    assert.equal(r.code, 0, r.stderr);
    await server.kubectl(['patch', 'node', 'dead-node', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: dead.status })]);
    r = await server.kubectl(['create', '-f', '-'], { input: JSON.stringify({ ...podObject('orphan', ['app']), spec: { nodeName: 'dead-node', containers: [{ name: 'app', image: 'busybox' }] } }) });
    assert.equal(r.code, 0, r.stderr);
    r = await server.kubectl(['logs', 'orphan']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Get "https:\/\/127\.0\.0\.1:1\/containerLogs\/default\/orphan\/app": dial tcp 127\.0\.0\.1:1: connect: connection refused/);
  });

  it('exec into a container of an unknown pod is 404 from the API server', async () => {
    const r = await server.kubectl(['exec', 'missing', '--', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pods "missing" not found/);
  });
});
