import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  certHash,
  createCA,
  createCSR,
  describeCertificate,
  isIssuedBy,
  issueCertificate,
  issueClientCertificate,
  issueServingCertificate,
  loadCA,
  OID_CLIENT_AUTH,
  OID_SERVER_AUTH,
  signCSR,
  type CertificateAuthority,
  type CertificateInfo,
} from '../../../src/pki/ca.js';
import { isPKIError } from '../../../src/pki/errors.js';
import { decodePrivateKeyPEM, encodePEM, encodePrivateKeyPEM, generateKeyPair } from '../../../src/pki/pem.js';
import { tempDir } from '../../support/tmp.js';

const DAY = 86_400_000;
const now = new Date('2026-01-10T12:00:00Z');
const days = (info: CertificateInfo): number => Math.round((info.notAfter.getTime() - now.getTime()) / DAY);

let ca: CertificateAuthority;
const tmp = tempDir('k8ts-ca-');
before(async () => {
  ca = await createCA({ now });
});
after(() => tmp.remove());

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('certificate fields', () => {
  type Want = Partial<CertificateInfo> & { validityDays: number };
  const cases: Array<[string, () => Promise<string>, Want]> = [
    [
      'the CA is self-signed "kubernetes", a CA for 10 years that may sign certificates and CRLs',
      async () => ca.certPem,
      { commonName: 'kubernetes', issuerCommonName: 'kubernetes', isCA: true, keyUsages: ['digital signature', 'cert sign', 'crl sign'], extKeyUsages: [], dnsNames: ['kubernetes'], validityDays: 3650 },
    ],
    [
      'a serving certificate carries its DNS and IP SANs and serverAuth only, for a year',
      async () => (await issueServingCertificate(ca, { commonName: 'kube-apiserver', dnsNames: ['kubernetes', 'node-1'], ipAddresses: ['10.96.0.1', '0:0::1'], now })).certPem,
      {
        commonName: 'kube-apiserver',
        organizations: [],
        isCA: false,
        keyUsages: ['digital signature'],
        extKeyUsages: [OID_SERVER_AUTH],
        dnsNames: ['kubernetes', 'node-1'],
        ipAddresses: ['10.96.0.1', '::1'],
        validityDays: 365,
      },
    ],
    [
      'a client certificate names the user in CN and every group in O, with clientAuth only',
      async () => (await issueClientCertificate(ca, { user: 'kubernetes-admin', groups: ['system:masters', 'dev'], now })).certPem,
      { commonName: 'kubernetes-admin', organizations: ['system:masters', 'dev'], isCA: false, extKeyUsages: [OID_CLIENT_AUTH], dnsNames: [], ipAddresses: [], validityDays: 365 },
    ],
    [
      'an RSA leaf also gets keyEncipherment',
      async () => (await issueClientCertificate(ca, { user: 'u', algorithm: 'RSA-2048', now })).certPem,
      { keyUsages: ['digital signature', 'key encipherment'], extKeyUsages: [OID_CLIENT_AUTH], validityDays: 365 },
    ],
    [
      'a leaf asked to outlive its CA ends with the CA',
      async () => (await issueClientCertificate(ca, { user: 'u', validityDays: 5000, now })).certPem,
      { validityDays: 3650 },
    ],
    [
      'a signed CSR keeps its subject and SANs and takes the usages of the API object',
      async () => {
        const key = await generateKeyPair();
        const csr = await createCSR({ commonName: 'system:node:n1', organizations: ['system:nodes'], dnsNames: ['n1'], ipAddresses: ['192.168.1.5'], key });
        return signCSR(ca, csr, { usages: ['digital signature', 'key encipherment', 'server auth'], expirationSeconds: 86400, now });
      },
      {
        commonName: 'system:node:n1',
        organizations: ['system:nodes'],
        keyUsages: ['digital signature', 'key encipherment'],
        extKeyUsages: [OID_SERVER_AUTH],
        dnsNames: ['n1'],
        ipAddresses: ['192.168.1.5'],
        validityDays: 1,
      },
    ],
  ];
  for (const [name, make, want] of cases) {
    it(name, async () => {
      const info = describeCertificate(await make());
      const { validityDays, ...fields } = want;
      const got = Object.fromEntries(Object.keys(fields).map((k) => [k, info[k as keyof CertificateInfo]]));
      assert.deepEqual(got, fields);
      assert.equal(days(info), validityDays);
      // Backdated five minutes for peers with slow clocks (the CA has nothing earlier to stay within).
      assert.equal(now.getTime() - info.notBefore.getTime(), 5 * 60_000);
    });
  }
});

describe('certificates other tools accept', () => {
  it('openssl verifies a serving certificate for sslserver and a client certificate for sslclient', async () => {
    const serving = await issueServingCertificate(ca, { commonName: 's', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const client = await issueClientCertificate(ca, { user: 'c', groups: ['g'] });
    const caFile = join(tmp.path, 'ca.crt');
    writeFileSync(caFile, ca.certPem);
    writeFileSync(join(tmp.path, 's.crt'), serving.certPem);
    writeFileSync(join(tmp.path, 'c.crt'), client.certPem);
    assert.match(openssl(['verify', '-CAfile', caFile, '-purpose', 'sslserver', join(tmp.path, 's.crt')]), /: OK/);
    assert.match(openssl(['verify', '-CAfile', caFile, '-purpose', 'sslclient', join(tmp.path, 'c.crt')]), /: OK/);
    assert.throws(() => openssl(['verify', '-CAfile', caFile, '-purpose', 'sslserver', join(tmp.path, 'c.crt')]));
  });

  it('an RSA CA signs leaves that verify against it', async () => {
    const rsa = await createCA({ algorithm: 'RSA-2048', commonName: 'k8ts-ca' });
    const leaf = await issueServingCertificate(rsa, { commonName: 'x', dnsNames: ['x'] });
    assert.ok(await isIssuedBy(leaf.cert, rsa.cert));
    assert.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(rsa.certPem).publicKey));
    assert.equal(describeCertificate(rsa.certPem).commonName, 'k8ts-ca');
  });

  it('an intermediate CA chains to its parent', async () => {
    const mid = await createCA({ commonName: 'intermediate', parent: ca });
    assert.ok(await isIssuedBy(mid.cert, ca.cert));
    assert.equal(describeCertificate(mid.certPem).isCA, true);
    assert.equal(await isIssuedBy(mid.cert, mid.cert), false);
  });

  it('serial numbers are positive and minimally encoded, as Go requires', async () => {
    for (let i = 0; i < 20; i++) {
      const { cert } = await issueClientCertificate(ca, { user: `u${i}` });
      const first = parseInt(cert.serialNumber.slice(0, 2), 16);
      assert.ok(first >= 1 && first <= 0x7f, `serial ${cert.serialNumber}`);
    }
  });
});

describe('certHash', () => {
  it('is kubeadm\'s sha256:<hex> of the CA SubjectPublicKeyInfo, as openssl computes it', () => {
    const der = execFileSync('sh', ['-c', 'openssl x509 -pubkey -noout | openssl pkey -pubin -outform der'], { input: ca.certPem });
    assert.equal(certHash(ca.certPem), `sha256:${createHash('sha256').update(der).digest('hex')}`);
    const spki = createPublicKey(ca.certPem).export({ type: 'spki', format: 'der' });
    assert.equal(certHash(ca.certPem), `sha256:${createHash('sha256').update(spki).digest('hex')}`);
  });
});

describe('loadCA', () => {
  it('round-trips a CA through PEM', async () => {
    const loaded = await loadCA(ca.certPem, await encodePrivateKeyPEM(ca.key));
    assert.equal(loaded.certPem, ca.certPem);
    const leaf = await issueClientCertificate(loaded, { user: 'x' });
    assert.ok(await isIssuedBy(leaf.cert, ca.cert));
  });

  const refusals: Array<[string, () => Promise<[string, string]>, string]> = [
    ['a leaf certificate as CA', async () => {
      const leaf = await issueClientCertificate(ca, { user: 'x' });
      return [leaf.certPem, leaf.keyPem];
    }, 'NotCA'],
    ['the key of another CA', async () => [ca.certPem, await encodePrivateKeyPEM((await createCA()).key)], 'KeyMismatch'],
    ['text without a certificate', async () => ['hello', await encodePrivateKeyPEM(ca.key)], 'InvalidPEM'],
    ['a damaged certificate block', async () => [encodePEM('CERTIFICATE', Buffer.from('not der')), await encodePrivateKeyPEM(ca.key)], 'InvalidPEM'],
    ['an encrypted key', async () => [ca.certPem, encodePEM('ENCRYPTED PRIVATE KEY', Buffer.from([1, 2, 3]))], 'UnsupportedKey'],
  ];
  for (const [name, make, code] of refusals) {
    it(`refuses ${name} with ${code}`, async () => {
      const [cert, key] = await make();
      await assert.rejects(loadCA(cert, key), (e: unknown) => isPKIError(e, code as never));
    });
  }
});

describe('private keys on disk', () => {
  const cases: Array<[string, string[], string]> = [
    ['an openssl PKCS#1 RSA key', ['genrsa', '-traditional', '2048'], 'RSA-2048'],
    ['an openssl SEC1 EC key', ['ecparam', '-name', 'prime256v1', '-genkey'], 'ECDSA-P256'],
    ['an openssl PKCS#8 EC key', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'ECDSA-P256'],
  ];
  for (const [name, args, alg] of cases) {
    it(`reads ${name}`, async () => {
      const key = await decodePrivateKeyPEM(openssl(args));
      assert.equal(key.algorithm, alg);
      assert.match(await encodePrivateKeyPEM(key), /^-----BEGIN PRIVATE KEY-----\n/);
    });
  }
  it('refuses a P-384 key with UnsupportedKey', async () => {
    await assert.rejects(decodePrivateKeyPEM(openssl(['ecparam', '-name', 'secp384r1', '-genkey'])), (e: unknown) => isPKIError(e, 'UnsupportedKey'));
  });
});

describe('signCSR refusals', () => {
  it('refuses a request whose signature does not verify', async () => {
    const key = await generateKeyPair();
    const pem = await createCSR({ commonName: 'system:node:n1', key });
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] as number) ^ 0xff; // flip signature bits
    await assert.rejects(signCSR(ca, encodePEM('CERTIFICATE REQUEST', der), { usages: ['client auth'] }), (e: unknown) => isPKIError(e, 'InvalidCSR'));
  });
  it('refuses a usage certificates.k8s.io does not define', async () => {
    const pem = await createCSR({ commonName: 'x', key: await generateKeyPair() });
    await assert.rejects(signCSR(ca, pem, { usages: ['world domination' as never] }), (e: unknown) => isPKIError(e, 'UnsupportedUsage'));
  });
  it('refuses to issue without usages', async () => {
    await assert.rejects(issueCertificate(ca, { commonName: 'x', usages: [] }), (e: unknown) => isPKIError(e, 'UnsupportedUsage'));
  });
});
