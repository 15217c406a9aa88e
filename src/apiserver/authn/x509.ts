// Client-certificate authentication (upstream request/x509 with CommonNameUserConversion): the verified
// leaf's CN is the user name, every O is a group. The server runs TLS with `requestCert: true,
// rejectUnauthorized: false` (so token clients still connect), so TLS has NOT vouched for the
// certificate: this authenticator verifies the chain to its own CAs, the validity periods and clientAuth.
import { createHash, X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { decodePEM } from '../../pki/pem.js';
import { x509 } from '../../pki/peculiar.js';
import { CREDENTIAL_ID_KEY, withAuthenticatedGroup, type Authenticator, type AuthRequest, type AuthResult, type UserInfo } from './types.js';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXT_KEY_USAGE = '2.5.29.37.0';
const MAX_CHAIN = 8;

export const X509_AUTHENTICATOR = 'x509';

export interface X509AuthenticatorOptions {
  /** PEM bundle of the client CAs (--client-ca-file). */
  clientCAPem: string;
  now?: () => Date;
}

/** The DER of the leaf and of the intermediates the client sent (getPeerCertificate(true) links them). */
function presentedChain(peer: PeerCertificate): { leaf: Buffer; intermediates: Buffer[] } | undefined {
  if (!peer.raw || peer.raw.length === 0) return undefined;
  const intermediates: Buffer[] = [];
  let cur = (peer as Partial<DetailedPeerCertificate>).issuerCertificate;
  const seen = new Set([peer.fingerprint256]);
  while (cur?.raw && !seen.has(cur.fingerprint256) && intermediates.length < MAX_CHAIN) {
    seen.add(cur.fingerprint256);
    intermediates.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return { leaf: peer.raw, intermediates };
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

function goTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Go crypto/x509 Verify's outcome for a chain with ExtKeyUsageClientAuth; undefined when it verifies. */
function verifyChain(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], now: Date): string | undefined {
  const chain = [leaf];
  for (let cur = leaf; ; ) {
    if (roots.some((r) => signedBy(cur, r))) {
      chain.push(roots.find((r) => signedBy(cur, r)) as X509Certificate);
      break;
    }
    const next = intermediates.find((i) => i.ca && !chain.includes(i) && signedBy(cur, i));
    if (!next || chain.length > MAX_CHAIN) return 'x509: certificate signed by unknown authority';
    chain.push(next);
    cur = next;
  }
  for (const c of chain) {
    const from = new Date(c.validFrom);
    const to = new Date(c.validTo);
    if (now < from) return `x509: certificate has expired or is not yet valid: current time ${goTime(now)} is before ${goTime(from)}`;
    if (now > to) return `x509: certificate has expired or is not yet valid: current time ${goTime(now)} is after ${goTime(to)}`;
  }
  // Go treats a certificate without extKeyUsage as good for any usage.
  for (const c of chain.slice(0, -1)) {
    const eku = c.keyUsage;
    if (eku && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EXT_KEY_USAGE)) return 'x509: certificate specifies an incompatible key usage';
  }
  return undefined;
}

interface Verified {
  user: UserInfo;
  /** The window in which every certificate of the verified chain is valid. */
  notBefore: number;
  notAfter: number;
}

/** Verified chains are remembered (by fingerprints) so that keep-alive clients do not pay ~0.7 ms a request. */
const CACHE_SIZE = 1024;

/** An Authenticator for verified client certificates; no certificate, or one without a CN, is "no opinion". */
export function x509Authenticator(options: X509AuthenticatorOptions): Authenticator {
  const roots = decodePEM(options.clientCAPem)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => new X509Certificate(b.der));
  if (roots.length === 0) throw new Error('x509 authenticator: the client CA bundle holds no CERTIFICATE');
  const now = options.now ?? (() => new Date());
  const cache = new Map<string, Verified>();

  const verify = (presented: { leaf: Buffer; intermediates: Buffer[] }, at: Date): Exclude<AuthResult, { ok: true }> | Verified => {
    let leaf: X509Certificate;
    let intermediates: X509Certificate[];
    try {
      leaf = new X509Certificate(presented.leaf);
      intermediates = presented.intermediates.map((d) => new X509Certificate(d));
    } catch (err) {
      return { ok: false, reason: `x509: malformed certificate: ${(err as Error).message}` };
    }
    const failure = verifyChain(leaf, intermediates, roots, at);
    if (failure) return { ok: false, reason: failure };
    const subject = new x509.X509Certificate(presented.leaf).subjectName;
    // Go keeps the last CN of a subject and every O, in order.
    const name = subject.getField('CN').at(-1) ?? '';
    if (!name) return undefined;
    const all = [leaf, ...intermediates];
    return {
      user: withAuthenticatedGroup({
        name,
        groups: subject.getField('O'),
        extra: { [CREDENTIAL_ID_KEY]: [`X509SHA256=${createHash('sha256').update(presented.leaf).digest('hex')}`] },
      }),
      notBefore: Math.max(...all.map((c) => Date.parse(c.validFrom)), ...roots.map((r) => Date.parse(r.validFrom))),
      notAfter: Math.min(...all.map((c) => Date.parse(c.validTo)), ...roots.map((r) => Date.parse(r.validTo))),
    };
  };

  return {
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const presented = req.peerCertificate && presentedChain(req.peerCertificate);
      if (!presented) return undefined;
      const at = now();
      const key = [presented.leaf, ...presented.intermediates].map((d) => createHash('sha256').update(d).digest('base64')).join('/');
      let v: Exclude<AuthResult, { ok: true }> | Verified = cache.get(key);
      if (!v || at.getTime() < v.notBefore || at.getTime() > v.notAfter) {
        cache.delete(key);
        v = verify(presented, at);
        if (!v || !('user' in v)) return v;
        if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(key, v);
      }
      const { user } = v;
      return { ok: true, user: { ...user, groups: [...user.groups], extra: { ...user.extra } }, authenticator: X509_AUTHENTICATOR };
    },
  };
}
