// Starts a throwaway single-member etcd for integration tests: loopback-only random ports, a temp
// data dir removed on stop, optional mutual TLS with certificates made by openssl on the spot.
// Every etcd started here is also killed (and its dir removed) if the test process exits early.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ETCD_BIN = '/usr/bin/etcd';
const run = promisify(execFile);

export interface EtcdTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface TestEtcd {
  /** http://127.0.0.1:port or https://127.0.0.1:port */
  endpoint: string;
  dataDir: string;
  /** The current process id (changes after restart()). */
  readonly pid: number;
  /** With `tls: true`: the CA and a client certificate the server accepts. */
  tls?: EtcdTlsFiles;
  /** SIGTERM, wait for exit, remove the data dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; the data dir stays for restart(). */
  kill9(): Promise<void>;
  /** Starts etcd again on the same ports and data dir (after kill9, or kills the running one first). */
  restart(): Promise<void>;
}

/** Whether a real etcd binary is installed; tests skip with a message when it is not. */
export function etcdAvailable(): boolean {
  return existsSync(ETCD_BIN);
}

/** Why etcd tests are skipped, or false when they can run (for node:test's `skip` option). */
export function skipWithoutEtcd(): string | false {
  return etcdAvailable() ? false : `etcd is not installed at ${ETCD_BIN} (apt-get install etcd-server etcd-client)`;
}

const live = new Set<{ child: ChildProcess | undefined; dir: string }>();
process.on('exit', () => {
  for (const e of live) {
    try {
      e.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(e.dir, { recursive: true, force: true });
  }
});

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface StartEtcdOptions {
  /** Serve https with client certificates required (made by openssl into the temp dir). */
  tls?: boolean;
  /**
   * etcd's --max-request-bytes; its default (1.5 MiB) when absent. Trap: that limit counts the
   * whole request, so with the default a value of exactly 1.5 MiB plus its key does not fit.
   */
  maxRequestBytes?: number;
  startTimeoutMs?: number;
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<TestEtcd> {
  if (!etcdAvailable()) throw new Error(`etcd is not installed at ${ETCD_BIN}`);
  const dir = await mkdtemp(join(tmpdir(), 'k8ts-etcd-'));
  const entry: { child: ChildProcess | undefined; dir: string } = { child: undefined, dir };
  live.add(entry);
  try {
    const tls = opts.tls ? await makeCertificates(dir) : undefined;
    const clientPort = await freePort();
    const peerPort = await freePort();
    const scheme = tls ? 'https' : 'http';
    const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const dataDir = join(dir, 'data');
    const args = [
      '--name=k8ts-test',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=k8ts-test=${peer}`,
      '--initial-cluster-state=new',
      `--quota-backend-bytes=${4 * 1024 * 1024 * 1024}`,
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=error',
    ];
    if (opts.maxRequestBytes !== undefined) args.push(`--max-request-bytes=${opts.maxRequestBytes}`);
    if (tls) {
      args.push(`--cert-file=${tls.serverCert}`, `--key-file=${tls.serverKey}`);
      args.push(`--trusted-ca-file=${tls.caFile}`, '--client-cert-auth=true');
    }
    const clientTls = tls ? { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } : undefined;
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    let stderr = '';

    const launch = async (): Promise<void> => {
      stderr = '';
      const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      entry.child = child;
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        stderr = (stderr + d).slice(-4000);
      });
      await waitHealthy(endpoint, clientTls, child, timeoutMs, () => stderr);
    };
    const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
      const child = entry.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    };

    await launch();
    let stopped = false;
    const handle: TestEtcd = {
      endpoint,
      dataDir,
      get pid() {
        return entry.child?.pid ?? -1;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await waitExit('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      },
      async kill9() {
        await waitExit('SIGKILL');
      },
      async restart() {
        if (stopped) throw new Error('etcd was stopped; start a new one');
        await waitExit('SIGKILL');
        await launch();
      },
    };
    if (clientTls) handle.tls = clientTls;
    return handle;
  } catch (err) {
    try {
      entry.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
    live.delete(entry);
    throw err;
  }
}

async function waitHealthy(
  endpoint: string,
  tls: EtcdTlsFiles | undefined,
  child: ChildProcess,
  timeoutMs: number,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const creds = tls
    ? { ca: await readFile(tls.caFile), cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) }
    : undefined;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`etcd exited (${child.exitCode ?? child.signalCode}) while starting:\n${stderr()}`);
    }
    if (await healthy(`${endpoint}/health`, creds)) return;
    if (Date.now() > deadline) throw new Error(`etcd at ${endpoint} not healthy after ${timeoutMs} ms:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function healthy(url: string, creds: { ca: Buffer; cert: Buffer; key: Buffer } | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const onRes = (res: import('node:http').IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
    };
    const req = creds ? httpsRequest(url, { ...creds, timeout: 1000 }, onRes) : httpRequest(url, { timeout: 1000 }, onRes);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Writes a throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate
 * (all P-256, valid two days) into `dir` with the openssl CLI.
 */
export async function makeCertificates(
  dir: string,
): Promise<EtcdTlsFiles & { serverCert: string; serverKey: string }> {
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=k8ts-test-ca']);
  const issue = async (name: string, cn: string, ext: string): Promise<void> => {
    await writeFile(f(`${name}.ext`), ext);
    await run('openssl', ['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await run('openssl', [
      'x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`),
    ]);
  };
  await issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await issue('client', 'k8ts-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: f('ca.crt'),
    certFile: f('client.crt'),
    keyFile: f('client.key'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
  };
}
