// The SPDY streaming client against a loopback HTTP server that upgrades to SPDY/3.1 and runs the
// kubelet's own server side (spdyRemoteCommand, serveSpdyPortForward): stdin EOF, exit codes, resize,
// port-forward half-close and errors, and servers that refuse the upgrade.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { serveSpdyPortForward } from '../../../../src/kubelet/server/portforward.js';
import { nonZeroExitStatus, spdyRemoteCommand, successStatus, watchResize } from '../../../../src/kubelet/server/remotecommand.js';
import { connectPortForwardSpdy, connectRemoteCommandSpdy, SpdyUpgradeRefusedError } from '../../../../src/kubelet/runtime/cri/spdyStreamClient.js';
import { isRuntimeError } from '../../../../src/kubelet/runtime/types.js';
import type { SpdyStream } from '../../../../src/kubelet/server/spdy.js';

function readAll(s: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!s) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    let t = '';
    s.on('data', (c: Buffer) => (t += c.toString()));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });
}

function switchProtocols(socket: Duplex, protocol: string): void {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
}

describe('SPDY streaming client against a SPDY/3.1 streaming server', () => {
  let http: Server;
  let echo: TcpServer;
  let base = '';
  const seenRequests: { method?: string; upgrade?: string; protocol?: string }[] = [];

  before(async () => {
    // An echo server that upper-cases and only answers once the client half-closed.
    echo = createTcpServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('end', () => s.end(`ECHO:${got.toUpperCase()}`));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const echoPort = (echo.address() as AddressInfo).port;

    http = createHttpServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('only upgrades here\n');
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      seenRequests.push({ method: req.method, upgrade: req.headers.upgrade, protocol: String(req.headers['x-stream-protocol-version']) });
      if (head.length > 0) socket.unshift(head);
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/websocket-only') {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 24\r\n\r\nMissing or invalid Sec-\n');
        return;
      }
      if (path === '/old-protocol') {
        switchProtocols(socket, 'v3.channel.k8s.io');
        socket.resume();
        socket.once('end', () => socket.destroy());
        return;
      }
      if (path === '/exec/cat') {
        // `sh -c 'cat; echo done; exit 3'`: stdout gets stdin back once stdin ends.
        switchProtocols(socket, 'v4.channel.k8s.io');
        void (async () => {
          const s = await spdyRemoteCommand(socket, 4, { stdin: true, stdout: true, stderr: true, tty: false });
          const input = await readAll(s.stdin);
          s.stdout!.write(input);
          s.stdout!.end('done\n');
          s.stderr!.end('to stderr\n');
          await s.finish(nonZeroExitStatus(['sh'], 3));
        })();
        return;
      }
      if (path === '/attach/hold') {
        // An attach: "ready" first, then what came on stdin once the client ended it.
        switchProtocols(socket, 'v4.channel.k8s.io');
        void (async () => {
          const s = await spdyRemoteCommand(socket, 4, { stdin: true, stdout: true, stderr: false, tty: false });
          s.stdout!.write('ready\n');
          const input = await readAll(s.stdin);
          s.stdout!.end(`got:${input}`);
          await s.finish(successStatus());
        })();
        return;
      }
      if (path === '/exec/tty') {
        switchProtocols(socket, 'v4.channel.k8s.io');
        void (async () => {
          const s = await spdyRemoteCommand(socket, 4, { stdin: true, stdout: true, stderr: false, tty: true });
          s.stdin!.resume();
          const size = await new Promise<{ width: number; height: number }>((resolve) => watchResize(s.resize!, resolve));
          s.stdout!.end(`${size.height} ${size.width}\n`);
          await s.finish(successStatus());
        })();
        return;
      }
      if (path === '/portforward') {
        switchProtocols(socket, 'portforward.k8s.io');
        serveSpdyPortForward(socket, async (port) => {
          if (port !== 7) throw new Error('connection refused');
          return connect({ port: echoPort, host: '127.0.0.1', allowHalfOpen: true });
        }, { pod: 'sandbox-1', uid: '' });
        return;
      }
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  after(async () => {
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('ends stdin with a FIN: the command sees EOF, and its output, stderr and exit code come back', async () => {
    const s = await connectRemoteCommandSpdy(`${base}/exec/cat`, { stdin: true, stdout: true, stderr: true, tty: false }, 'exec');
    s.stdin!.write('first line\n');
    s.stdin!.end('second line\n');
    const [out, err, exit] = await Promise.all([readAll(s.stdout), readAll(s.stderr), s.exit]);
    assert.deepEqual({ out, err, exitCode: exit.exitCode }, { out: 'first line\nsecond line\ndone\n', err: 'to stderr\n', exitCode: 3 });
    assert.deepEqual(seenRequests.at(-1), { method: 'POST', upgrade: 'SPDY/3.1', protocol: 'v4.channel.k8s.io' });
  });

  it("keeps the server's side of stdin open until the session ends (client-go closes stdin when it sees our FIN)", async () => {
    const s = await connectRemoteCommandSpdy(`${base}/attach/hold`, { stdin: true, stdout: true, stderr: false, tty: false }, 'attach');
    let out = '';
    s.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    try {
      for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(out, 'ready\n');
      // Frames arrive in order: a FIN sent on stdin when the session started would be here by now.
      assert.equal((s.stdin as SpdyStream).remoteClosed, false, 'the server half-closed stdin before the session ended');
      s.stdin!.end('hello\n');
      await s.exit;
      assert.equal(out, 'ready\ngot:hello\n');
    } finally {
      s.close();
    }
  });

  it('sends terminal sizes on the resize stream with a tty', async () => {
    const s = await connectRemoteCommandSpdy(`${base}/exec/tty`, { stdin: true, stdout: true, stderr: true, tty: true }, 'exec');
    assert.equal(s.stderr, undefined, 'a tty has no separate stderr');
    s.resize({ width: 120, height: 33 });
    const [out, exit] = await Promise.all([readAll(s.stdout), s.exit]);
    assert.deepEqual({ out, exitCode: exit.exitCode }, { out: '33 120\n', exitCode: 0 });
  });

  it('forwards a port: ending our side half-closes the data stream, and the answer still arrives', async () => {
    const conn = await connectPortForwardSpdy(`${base}/portforward`, 7);
    conn.end('hello pod');
    assert.equal(await readAll(conn), 'ECHO:HELLO POD');
    assert.equal(seenRequests.at(-1)?.protocol, 'portforward.k8s.io');
  });

  it("turns the runtime's error stream into an error of the forwarded connection", async () => {
    const conn = await connectPortForwardSpdy(`${base}/portforward`, 9);
    await assert.rejects(readAll(conn), (err: Error) => isRuntimeError(err, 'Internal') && /error forwarding port 9 to pod sandbox-1.*connection refused/.test(err.message));
  });

  const refused: { name: string; path: string; status: number; message: RegExp }[] = [
    { name: 'a WebSocket-only server that answers 400', path: '/websocket-only', status: 400, message: /refused SPDY\/3\.1 .*: HTTP 400: Missing or invalid/ },
    { name: 'a server that switches to another subprotocol', path: '/old-protocol', status: 101, message: /with protocol "v3\.channel\.k8s\.io", wanted SPDY\/3\.1 with v4\.channel\.k8s\.io/ },
    { name: 'an unknown or used token (404)', path: '/exec/gone', status: 404, message: /HTTP 404/ },
  ];
  for (const c of refused) {
    it(`reports SpdyUpgradeRefusedError for ${c.name}`, async () => {
      await assert.rejects(
        connectRemoteCommandSpdy(`${base}${c.path}`, { stdin: false, stdout: true, stderr: false, tty: false }, 'exec'),
        (err: Error) => err instanceof SpdyUpgradeRefusedError && err.statusCode === c.status && c.message.test(err.message),
      );
    });
  }

  it('gives up at once when the caller has already aborted', async () => {
    const ac = new AbortController();
    ac.abort(new Error('kubectl went away'));
    await assert.rejects(connectPortForwardSpdy(`${base}/portforward`, 7, ac.signal), /kubectl went away/);
  });

  it('reports an unreachable streaming server as Unavailable', async () => {
    const closed = createTcpServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(connectPortForwardSpdy(`http://127.0.0.1:${port}/portforward/x`, 80), (err: Error) => isRuntimeError(err, 'Unavailable'));
  });
});
