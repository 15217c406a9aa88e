// Client certificate rotation pieces: the rotation deadline, the signer's backdate for short-lived
// certificates, the kubelet-client-current.pem store, and the REST client switching certificates
// (against a real local TLS server that asks for client certificates).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { RestClient } from '../../../../src/client/restClient.js';
import { rotationDeadline } from '../../../../src/kubelet/certificate/manager.js';
import { CertificateFileStore, CertificateStoreError, splitPairPEM } from '../../../../src/kubelet/certificate/store.js';
import { createCA, createCSR, describeCertificate, issueClientCertificate, issueServingCertificate, signCSR, type CertificateAuthority } from '../../../../src/pki/ca.js';
import { encodePrivateKeyPEM, generateKeyPair } from '../../../../src/pki/pem.js';
import { tempDir } from '../../../support/tmp.js';

const T0 = Date.parse('2025-06-01T00:00:00Z');
const at = (ms: number) => new Date(T0 + ms);

describe('rotationDeadline (70–90% of the certificate life from notBefore)', () => {
  const cases: Array<{ name: string; notBefore: number; notAfter: number; random: number; want: number }> = [
    { name: 'a one-year certificate with the least jitter renews at 70% of its life', notBefore: 0, notAfter: 365 * 86400_000, random: 0, want: 0.7 * 365 * 86400_000 },
    { name: 'with the most jitter it renews at 90%', notBefore: 0, notAfter: 1000_000, random: 1, want: 900_000 },
    { name: 'the middle is 80%', notBefore: 0, notAfter: 1000_000, random: 0.5, want: 800_000 },
    { name: 'a 60 s certificate backdated 30 s renews 33–51 s after it was issued (here 42 s)', notBefore: -30_000, notAfter: 60_000, random: 0.5, want: 42_000 },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(rotationDeadline({ notBefore: at(c.notBefore), notAfter: at(c.notAfter) }, c.random), T0 + c.want));
  }
});

describe('the signer backdates a certificate at most half its life', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createCA({ now: at(-86400_000) });
  });
  const cases = [
    { name: 'a 60 s certificate starts 30 s before it is signed', seconds: 60, backdateMs: 30_000 },
    { name: 'a 10 minute one starts the usual 5 minutes before', seconds: 600, backdateMs: 300_000 },
    { name: 'a one hour one too (its life is 65 minutes, as upstream)', seconds: 3600, backdateMs: 300_000 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const key = await generateKeyPair('ECDSA-P256');
      const csr = await createCSR({ commonName: 'system:node:n1', organizations: ['system:nodes'], key });
      const info = describeCertificate(await signCSR(ca, csr, { usages: ['digital signature', 'client auth'], expirationSeconds: c.seconds, now: at(0) }));
      assert.equal(info.notBefore.getTime(), T0 - c.backdateMs);
      assert.equal(info.notAfter.getTime(), T0 + c.seconds * 1000);
    });
  }
});

describe('CertificateFileStore (kubelet-client-current.pem)', () => {
  const dir = tempDir('k8ts-certstore-');
  after(() => dir.remove());
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createCA();
  });
  const pair = async (cn: string) => {
    const c = await issueClientCertificate(ca, { user: cn, groups: ['system:nodes'] });
    return { certPem: c.certPem, keyPem: c.keyPem };
  };

  it('has no current pair before the first update', async () => {
    assert.equal(await new CertificateFileStore(join(dir.path, 'empty')).current(), undefined);
  });

  it('writes each pair to its own 0600 file and swaps the current symlink to it; keeps two old ones', async () => {
    const store = new CertificateFileStore(join(dir.path, 'pki'));
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await pair(`system:node:n${i}`);
      await store.update(p.certPem, p.keyPem, at(i * 1000));
      assert.equal(lstatSync(store.currentPath).isSymbolicLink(), true);
      names.push(readlinkSync(store.currentPath));
      const cur = await store.current();
      assert.equal(describeCertificate(cur!.certPem).commonName, `system:node:n${i}`);
      assert.equal(cur!.keyPem, p.keyPem);
      assert.equal(statSync(join(store.dir, names[i]!)).mode & 0o777, 0o600);
    }
    assert.deepEqual(names, ['00', '01', '02', '03', '04'].map((s) => `kubelet-client-2025-06-01-00-00-${s}.pem`));
    assert.deepEqual(readdirSync(store.dir).sort(), ['kubelet-client-2025-06-01-00-00-02.pem', 'kubelet-client-2025-06-01-00-00-03.pem', 'kubelet-client-2025-06-01-00-00-04.pem', 'kubelet-client-current.pem']);
  });

  it('two updates within one second do not overwrite the current file', async () => {
    const store = new CertificateFileStore(join(dir.path, 'same-second'));
    const a = await pair('system:node:a');
    const b = await pair('system:node:b');
    await store.update(a.certPem, a.keyPem, at(0));
    await store.update(b.certPem, b.keyPem, at(0));
    assert.equal(readlinkSync(store.currentPath), 'kubelet-client-2025-06-01-00-00-00-1.pem');
    assert.equal(describeCertificate((await store.current())!.certPem).commonName, 'system:node:b');
  });

  it('refuses a file without both a certificate and a key', async () => {
    const key = await encodePrivateKeyPEM(await generateKeyPair('ECDSA-P256'));
    assert.throws(() => splitPairPEM(key), CertificateStoreError);
    const store = new CertificateFileStore(join(dir.path, 'bad'));
    const p = await pair('system:node:x');
    await store.update(p.certPem, p.keyPem, at(0));
    writeFileSync(join(store.dir, readlinkSync(store.currentPath)), p.certPem);
    await assert.rejects(store.current(), CertificateStoreError);
  });
});

describe('RestClient.setClientCertificate', () => {
  let ca: CertificateAuthority;
  let server: https.Server;
  let url = '';
  before(async () => {
    ca = await createCA();
    const serving = await issueServingCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    server = https.createServer({ cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ cn: peer.subject?.CN }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('presents the new certificate on the next request, even over a kept-alive pool', async () => {
    const first = await issueClientCertificate(ca, { user: 'system:node:old', groups: ['system:nodes'] });
    const second = await issueClientCertificate(ca, { user: 'system:node:new', groups: ['system:nodes'] });
    const client = new RestClient({ server: url, caPem: ca.certPem, certPem: first.certPem, keyPem: first.keyPem }, { qps: -1 });
    try {
      assert.deepEqual(await client.request({ method: 'GET', path: '/who' }), { cn: 'system:node:old' });
      assert.deepEqual(await client.request({ method: 'GET', path: '/who' }), { cn: 'system:node:old' });
      client.setClientCertificate(second.certPem, second.keyPem);
      assert.deepEqual(await client.request({ method: 'GET', path: '/who' }), { cn: 'system:node:new' });
    } finally {
      client.close();
    }
  });
});
