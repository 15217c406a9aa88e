// The PKI and authentication against real clients: kubectl 1.32 and curl connect with TLS verification on,
// present the admin client certificate or a token, and a small HTTPS server reports whom it saw.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { authenticationChain, authRequestFrom, bearerTokenAuthenticator } from '../../../src/apiserver/authn/chain.js';
import { ServiceAccountTokenIssuer, serviceAccountTokenAuthenticator } from '../../../src/apiserver/authn/serviceAccountToken.js';
import { parseTokenFile, tokenFileAuthenticator } from '../../../src/apiserver/authn/tokenFile.js';
import type { UserInfo } from '../../../src/apiserver/authn/types.js';
import { x509Authenticator } from '../../../src/apiserver/authn/x509.js';
import { createCA, issueClientCertificate } from '../../../src/pki/ca.js';
import { ensureServerPKI, type ServerPKI } from '../../../src/pki/files.js';
import { buildKubeconfig, writeKubeconfig, type KubeconfigCluster } from '../../../src/pki/kubeconfig.js';
import { tempDir } from '../../support/tmp.js';

const run = promisify(execFile);
const tmp = tempDir('k8ts-pki-it-');
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp.path, KUBECACHEDIR: join(tmp.path, 'cache') };

let pki: ServerPKI;
let server: Server;
let port: number;
let saToken: string;

async function kubectl(kubeconfig: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { env, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const r = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], { env, timeout: 30_000 });
  const at = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
}

before(async () => {
  const t0 = performance.now();
  pki = await ensureServerPKI(join(tmp.path, 'tls'), { hostname: 'test-node' });
  const coldMs = performance.now() - t0;
  const issuer = ServiceAccountTokenIssuer.fromPEM(pki.serviceAccount.keyPem);
  saToken = (await issuer.issueToken({ namespace: 'default', name: 'builder', uid: 'sa-uid' })).token;
  const chain = authenticationChain({
    authenticators: [
      x509Authenticator({ clientCAPem: pki.ca.certPem }),
      bearerTokenAuthenticator([
        serviceAccountTokenAuthenticator({ publicKeysPem: pki.serviceAccount.pubPem }),
        tokenFileAuthenticator(parseTokenFile('static-token,alice,1001,"dev,ops"\n')),
      ]),
    ],
  });
  server = createServer({ cert: pki.apiserver.certPem, key: pki.apiserver.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    void chain.authenticate(authRequestFrom(req)).then((d) => {
      res.setHeader('Content-Type', 'application/json');
      if (!d.authenticated) {
        res.writeHead(401).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
        return;
      }
      res.writeHead(200).end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0+k8ts', platform: 'linux/amd64', user: d.user }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  // Diagnostic, not an assertion: the cold-start cost of the PKI on this machine.
  process.stderr.write(`# ensureServerPKI cold start: ${coldMs.toFixed(0)} ms\n`);
});

after(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  tmp.remove();
});

const userOf = (body: string): UserInfo => (JSON.parse(body) as { user: UserInfo }).user;

describe('kubectl against the PKI', () => {
  it('connects with the admin kubeconfig, verifying the serving certificate, as kubernetes-admin in system:masters', async () => {
    const kubeconfig = join(tmp.path, 'admin.conf');
    await writeKubeconfig(kubeconfig, { name: 'k8ts', server: `https://127.0.0.1:${port}`, caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem });
    const r = await kubectl(kubeconfig, 'get', '--raw', '/version');
    assert.equal(r.code, 0, r.stderr);
    const user = userOf(r.stdout);
    assert.equal(user.name, 'kubernetes-admin');
    assert.deepEqual(user.groups, ['system:masters', 'system:authenticated']);
  });

  it('reaches the server by the name localhost too (a SAN)', async () => {
    const kubeconfig = join(tmp.path, 'localhost.conf');
    await writeKubeconfig(kubeconfig, { name: 'k8ts', server: `https://localhost:${port}`, caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem });
    const r = await kubectl(kubeconfig, 'get', '--raw', '/version');
    assert.equal(r.code, 0, r.stderr);
  });

  it('refuses a server whose certificate its CA did not sign (verification is really on)', async () => {
    const stranger = await createCA({ commonName: 'stranger' });
    const kubeconfig = join(tmp.path, 'stranger.conf');
    await writeKubeconfig(kubeconfig, { name: 'k8ts', server: `https://127.0.0.1:${port}`, caPem: stranger.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem });
    const r = await kubectl(kubeconfig, 'get', '--raw', '/version');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /x509: certificate signed by unknown authority/);
  });

  it('refuses a server name the certificate does not carry', async () => {
    const kubeconfig = join(tmp.path, 'sni.conf');
    const cfg = buildKubeconfig({ name: 'k8ts', server: `https://127.0.0.1:${port}`, caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem });
    (cfg.clusters[0] as { cluster: KubeconfigCluster }).cluster['tls-server-name'] = 'not-in-the-cert.example';
    await writeKubeconfig(kubeconfig, cfg);
    const r = await kubectl(kubeconfig, 'get', '--raw', '/version');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /x509: certificate is valid for .*kubernetes.*, not not-in-the-cert\.example/);
  });

  it('authenticates a ServiceAccount token from the kubeconfig', async () => {
    const kubeconfig = join(tmp.path, 'sa.conf');
    await writeKubeconfig(kubeconfig, { name: 'k8ts', server: `https://127.0.0.1:${port}`, caPem: pki.ca.certPem, token: saToken });
    const r = await kubectl(kubeconfig, 'get', '--raw', '/version');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(userOf(r.stdout).name, 'system:serviceaccount:default:builder');
  });

  it('gets 401 Unauthorized for a token nobody issued', async () => {
    const kubeconfig = join(tmp.path, 'bad.conf');
    await writeKubeconfig(kubeconfig, { name: 'k8ts', server: `https://127.0.0.1:${port}`, caPem: pki.ca.certPem, token: 'not-a-token' });
    const r = await kubectl(kubeconfig, 'get', '--raw', '/version');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized/);
  });
});

describe('curl against the PKI', () => {
  const url = () => `https://127.0.0.1:${port}/version`;
  const files = () => {
    const dir = join(tmp.path, 'tls');
    return { ca: join(dir, 'ca.crt'), cert: join(dir, 'admin.crt'), key: join(dir, 'admin.key') };
  };

  it('presents admin.crt/admin.key and is kubernetes-admin', async () => {
    const f = files();
    const r = await curl('--cacert', f.ca, '--cert', f.cert, '--key', f.key, url());
    assert.equal(r.status, 200, r.body);
    assert.equal(userOf(r.body).name, 'kubernetes-admin');
  });

  it('sends a static token and is its user', async () => {
    const r = await curl('--cacert', files().ca, '-H', 'Authorization: Bearer static-token', url());
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(userOf(r.body), { name: 'alice', uid: '1001', groups: ['dev', 'ops', 'system:authenticated'] });
  });

  it('gets 401 with a client certificate of another CA, though TLS lets it in', async () => {
    const stranger = await createCA({ commonName: 'stranger' });
    const c = await issueClientCertificate(stranger, { user: 'kubernetes-admin', groups: ['system:masters'] });
    writeFileSync(join(tmp.path, 's.crt'), c.certPem);
    writeFileSync(join(tmp.path, 's.key'), c.keyPem);
    const r = await curl('--cacert', files().ca, '--cert', join(tmp.path, 's.crt'), '--key', join(tmp.path, 's.key'), url());
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).reason, 'Unauthorized');
  });

  it('gets 401 without any credential (anonymous off)', async () => {
    assert.equal((await curl('--cacert', files().ca, url())).status, 401);
  });
});
