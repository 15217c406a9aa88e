import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { before, describe, it } from 'node:test';
import { x509Authenticator } from '../../../src/apiserver/authn/x509.js';
import type { AuthResult } from '../../../src/apiserver/authn/types.js';
import { createCA, issueCertificate, issueClientCertificate, signCSR, type CertificateAuthority } from '../../../src/pki/ca.js';
import { decodePEM } from '../../../src/pki/pem.js';

const der = (pem: string): Buffer => decodePEM(pem)[0]?.der ?? Buffer.alloc(0);

/** A PeerCertificate as getPeerCertificate(true) gives it: raw DER, fingerprint, issuer links (the root links to itself). */
function peer(chainPems: string[]): PeerCertificate {
  const nodes = chainPems.map((p) => {
    const raw = der(p);
    return { raw, fingerprint256: new X509Certificate(raw).fingerprint256 } as unknown as PeerCertificate & { issuerCertificate?: unknown };
  });
  nodes.forEach((n, i) => {
    n.issuerCertificate = nodes[i + 1] ?? n;
  });
  return nodes[0] as PeerCertificate;
}

/** A CSR with exactly this subject, made by openssl (our own createCSR insists on a CN). */
function opensslCSR(subject: string): string {
  const args = ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', subject];
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

let ca: CertificateAuthority;
let otherCA: CertificateAuthority;
let intermediate: CertificateAuthority;
before(async () => {
  ca = await createCA();
  otherCA = await createCA({ commonName: 'other' });
  intermediate = await createCA({ commonName: 'clients', parent: ca });
});

describe('x509Authenticator', () => {
  it('makes the CN the user and every O a group, adds system:authenticated and the credential id', async () => {
    const c = await issueClientCertificate(ca, { user: 'kubernetes-admin', groups: ['system:masters', 'ops'] });
    const r = await x509Authenticator({ clientCAPem: ca.certPem }).authenticate({ headers: {}, peerCertificate: peer([c.certPem]) });
    assert.deepEqual(r, {
      ok: true,
      authenticator: 'x509',
      user: {
        name: 'kubernetes-admin',
        groups: ['system:masters', 'ops', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/credential-id': [`X509SHA256=${createHash('sha256').update(der(c.certPem)).digest('hex')}`] },
      },
    });
  });

  const DAY = 86_400_000;
  type Case = [string, () => Promise<PeerCertificate | undefined>, { clientCAPem?: () => string; now?: Date }, AuthResult | string];
  const cases: Case[] = [
    ['no certificate is no opinion', async () => undefined, {}, undefined],
    ['the empty object Node gives without a certificate is no opinion', async () => ({}) as PeerCertificate, {}, undefined],
    ['a certificate of another CA is refused', async () => peer([(await issueClientCertificate(otherCA, { user: 'mallory' })).certPem]), {}, { ok: false, reason: 'x509: certificate signed by unknown authority' }],
    ['a self-signed certificate with our CA\'s name is refused', async () => peer([(await createCA()).certPem]), {}, { ok: false, reason: 'x509: certificate signed by unknown authority' }],
    ['an expired certificate is refused', async () => peer([(await issueClientCertificate(ca, { user: 'u', validityDays: 1 })).certPem]), { now: new Date(Date.now() + 2 * DAY) }, 'x509: certificate has expired or is not yet valid: current time '],
    ['a serving-only certificate is refused', async () => peer([(await issueCertificate(ca, { commonName: 'u', usages: ['server auth'] })).certPem]), {}, { ok: false, reason: 'x509: certificate specifies an incompatible key usage' }],
    ['a certificate without CN is no opinion', async () => peer([await signCSR(ca, opensslCSR('/O=grp'), { usages: ['client auth'] })]), {}, undefined],
    ['the last CN counts, as in Go', async () => peer([await signCSR(ca, opensslCSR('/CN=first/CN=last'), { usages: ['client auth'] })]), {}, 'last'],
    ['a client certificate through a sent intermediate is good', async () => peer([(await issueClientCertificate(intermediate, { user: 'carol' })).certPem, intermediate.certPem, ca.certPem]), {}, 'ok'],
    ['an intermediate that was not sent cannot be found', async () => peer([(await issueClientCertificate(intermediate, { user: 'carol' })).certPem]), {}, { ok: false, reason: 'x509: certificate signed by unknown authority' }],
    ['any CA of the bundle is trusted', async () => peer([(await issueClientCertificate(otherCA, { user: 'dave' })).certPem]), { clientCAPem: () => ca.certPem + otherCA.certPem }, 'ok'],
  ];
  for (const [name, make, o, want] of cases) {
    it(name, async () => {
      const a = x509Authenticator({ clientCAPem: o.clientCAPem?.() ?? ca.certPem, ...(o.now ? { now: () => o.now as Date } : {}) });
      const got = await a.authenticate({ headers: {}, peerCertificate: await make() });
      if (want === 'ok') assert.equal(got?.ok, true, JSON.stringify(got));
      else if (want === 'last') assert.equal(got?.ok && got.user.name, 'last');
      else if (typeof want === 'string') assert.ok(got && !got.ok && got.reason.startsWith(want), JSON.stringify(got));
      else assert.deepEqual(got, want);
    });
  }

  it('remembers a verified chain but still notices when it expires', async () => {
    let now = new Date();
    const a = x509Authenticator({ clientCAPem: ca.certPem, now: () => now });
    const p = peer([(await issueClientCertificate(ca, { user: 'u', validityDays: 1 })).certPem]);
    assert.equal((await a.authenticate({ headers: {}, peerCertificate: p }))?.ok, true);
    const again = await a.authenticate({ headers: {}, peerCertificate: p });
    assert.ok(again?.ok);
    again.user.groups.push('system:masters'); // a caller's change must not reach the cache
    const third = await a.authenticate({ headers: {}, peerCertificate: p });
    assert.deepEqual(third?.ok && third.user.groups, ['system:authenticated']);
    now = new Date(Date.now() + 2 * DAY);
    const expired = await a.authenticate({ headers: {}, peerCertificate: p });
    assert.ok(expired && !expired.ok && expired.reason.startsWith('x509: certificate has expired'));
  });

  it('refuses a CA bundle without certificates', () => assert.throws(() => x509Authenticator({ clientCAPem: 'nothing' })));
});
