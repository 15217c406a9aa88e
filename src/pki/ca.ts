// The cluster certificate authority: create or load one, sign leaf certificates and CSRs, and describe
// certificates. Defaults follow kubeadm (CA "kubernetes", 10 years; leaves 1 year) and the upstream CSR signer
// (5 minute back-dating, usages named as in certificates.k8s.io/v1).
import { isIP } from 'node:net';
import { randomBytes, type webcrypto } from 'node:crypto';
import { PKIError } from './errors.js';
import { x509 } from './peculiar.js';
import {
  decodeCertificatePEM,
  decodePrivateKeyPEM,
  encodeCertificatePEM,
  encodePrivateKeyPEM,
  generateKeyPair,
  samePublicKey,
  sha256Hex,
  signingParams,
  type KeyAlgorithm,
  type KeyPair,
} from './pem.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates start this far in the past so that a peer whose clock is a little behind accepts them (upstream signer's backdate). */
export const CERTIFICATE_BACKDATE_MS = 5 * 60 * 1000;
export const CA_VALIDITY_DAYS = 3650;
export const LEAF_VALIDITY_DAYS = 365;

export interface CertificateAuthority {
  readonly cert: x509.X509Certificate;
  readonly certPem: string;
  readonly key: KeyPair;
}

export interface IssuedCertificate {
  readonly cert: x509.X509Certificate;
  readonly certPem: string;
  readonly key: KeyPair;
  readonly keyPem: string;
}

/** Key usages by their certificates.k8s.io/v1 names (CertificateSigningRequest spec.usages). */
export type KeyUsage =
  | 'signing'
  | 'digital signature'
  | 'content commitment'
  | 'key encipherment'
  | 'key agreement'
  | 'data encipherment'
  | 'cert sign'
  | 'crl sign'
  | 'encipher only'
  | 'decipher only'
  | 'any'
  | 'server auth'
  | 'client auth'
  | 'code signing'
  | 'email protection'
  | 's/mime'
  | 'ipsec end system'
  | 'ipsec tunnel'
  | 'ipsec user'
  | 'timestamping'
  | 'ocsp signing'
  | 'microsoft sgc'
  | 'netscape sgc';

const F = x509.KeyUsageFlags;
const KEY_USAGE_FLAGS: Partial<Record<KeyUsage, number>> = {
  signing: F.digitalSignature,
  'digital signature': F.digitalSignature,
  'content commitment': F.nonRepudiation,
  'key encipherment': F.keyEncipherment,
  'key agreement': F.keyAgreement,
  'data encipherment': F.dataEncipherment,
  'cert sign': F.keyCertSign,
  'crl sign': F.cRLSign,
  'encipher only': F.encipherOnly,
  'decipher only': F.decipherOnly,
};

const EXT_KEY_USAGE_OIDS: Partial<Record<KeyUsage, string>> = {
  any: '2.5.29.37.0',
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
  'code signing': '1.3.6.1.5.5.7.3.3',
  'email protection': '1.3.6.1.5.5.7.3.4',
  's/mime': '1.3.6.1.5.5.7.3.4',
  'ipsec end system': '1.3.6.1.5.5.7.3.5',
  'ipsec tunnel': '1.3.6.1.5.5.7.3.6',
  'ipsec user': '1.3.6.1.5.5.7.3.7',
  timestamping: '1.3.6.1.5.5.7.3.8',
  'ocsp signing': '1.3.6.1.5.5.7.3.9',
  'microsoft sgc': '1.3.6.1.4.1.311.10.3.3',
  'netscape sgc': '2.16.840.1.113730.4.1',
};

export const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const OID_ANY_EXT_KEY_USAGE = '2.5.29.37.0';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** A random positive serial of 16 bytes, minimally DER-encodable (first byte 0x01–0x7f), as Go insists on. */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return b.toString('hex');
}

/** Subject in Go's pkix.Name order: every O, then CN. */
function subjectName(commonName: string, organizations: readonly string[] = []): x509.JsonName {
  return [...organizations.map((o) => ({ O: [o] })), { CN: [commonName] }];
}

function sanExtension(dnsNames: readonly string[], ipAddresses: readonly string[]): x509.Extension[] {
  const names = [
    ...dedupe(dnsNames).map((value) => ({ type: 'dns' as const, value })),
    ...dedupe(ipAddresses.map(canonicalIP)).map((value) => ({ type: 'ip' as const, value })),
  ];
  return names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [];
}

function dedupe(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** The canonical text of an IP address (lower-case, compressed IPv6); throws InvalidSAN for anything else. */
export function canonicalIP(ip: string): string {
  const v = isIP(ip);
  if (v === 4) return ip.split('.').map((o) => String(Number(o))).join('.');
  if (v === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped?.[1]) return mapped[1];
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  }
  throw new PKIError('InvalidSAN', `${JSON.stringify(ip)} is not an IP address`);
}

function usageExtensions(usages: readonly KeyUsage[], isCA: boolean): x509.Extension[] {
  if (usages.length === 0) throw new PKIError('UnsupportedUsage', 'at least one key usage is required');
  let flags = 0;
  const oids: string[] = [];
  for (const u of usages) {
    const flag = KEY_USAGE_FLAGS[u];
    const oid = EXT_KEY_USAGE_OIDS[u];
    if (flag !== undefined) flags |= flag;
    else if (oid !== undefined) oids.push(oid);
    else throw new PKIError('UnsupportedUsage', `unknown key usage ${JSON.stringify(u)}`);
  }
  const exts: x509.Extension[] = [new x509.BasicConstraintsExtension(isCA, undefined, true)];
  if (flags) exts.push(new x509.KeyUsagesExtension(flags, true));
  if (oids.length) exts.push(new x509.ExtendedKeyUsageExtension(dedupe(oids)));
  return exts;
}

function clampDates(now: Date, validityMs: number, issuer?: x509.X509Certificate): { notBefore: Date; notAfter: Date } {
  // A certificate shorter-lived than two backdates (--cluster-signing-duration under 10 minutes, for
  // tests of rotation) is backdated by half its life, so that renewal at 70–90% of it still falls
  // after it was issued instead of at once.
  let notBefore = new Date(now.getTime() - Math.min(CERTIFICATE_BACKDATE_MS, validityMs / 2));
  let notAfter = new Date(now.getTime() + validityMs);
  // A leaf never outlives or predates its issuer: Go rejects such a chain as "expired or not yet valid".
  if (issuer && notBefore < issuer.notBefore) notBefore = issuer.notBefore;
  if (issuer && notAfter > issuer.notAfter) notAfter = issuer.notAfter;
  return { notBefore, notAfter };
}

export interface CreateCAOptions {
  /** Subject CN; kubeadm uses "kubernetes". */
  commonName?: string;
  algorithm?: KeyAlgorithm;
  validityDays?: number;
  /** Sign with this CA instead of self-signing (an intermediate CA). */
  parent?: CertificateAuthority;
  now?: Date;
}

/** A new CA: basicConstraints CA:TRUE and keyUsage digitalSignature|keyCertSign|cRLSign (both critical), SKI, self-signed unless `parent`. */
export async function createCA(options: CreateCAOptions = {}): Promise<CertificateAuthority> {
  const { commonName = 'kubernetes', algorithm = 'ECDSA-P256', validityDays = CA_VALIDITY_DAYS, now = new Date(), parent } = options;
  const key = await generateKeyPair(algorithm);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(F.digitalSignature | F.keyCertSign | F.cRLSign, true),
    // kubeadm's CA also names its CN as a DNS SAN.
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: commonName }]),
  ];
  const cert = parent
    ? await sign(parent, subjectName(commonName), key.publicKey, extensions, validityDays * DAY_MS, now)
    : await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: newSerial(),
        name: subjectName(commonName),
        ...clampDates(now, validityDays * DAY_MS),
        keys: { privateKey: key.privateKey, publicKey: key.publicKey },
        signingAlgorithm: signingParams(algorithm),
        extensions: [...extensions, await x509.SubjectKeyIdentifierExtension.create(key.publicKey)],
      });
  return { cert, certPem: encodeCertificatePEM(cert), key };
}

/** A CA from its PEM certificate and key; checks that the certificate is a CA and that the key is its key. */
export async function loadCA(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = decodeCertificatePEM(certPem);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (!bc?.ca || (ku && !(ku.usages & F.keyCertSign))) {
    throw new PKIError('NotCA', `certificate "${cert.subject}" is not a CA (needs basicConstraints CA:TRUE and keyUsage keyCertSign)`);
  }
  const key = await decodePrivateKeyPEM(keyPem);
  if (!(await samePublicKey(await cert.publicKey.export(), key.publicKey))) {
    throw new PKIError('KeyMismatch', `the CA key does not match the CA certificate "${cert.subject}"`);
  }
  return { cert, certPem: encodeCertificatePEM(cert), key };
}

export interface IssueOptions {
  commonName: string;
  organizations?: readonly string[];
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  usages: readonly KeyUsage[];
  validityDays?: number;
  /** Reuse this key (certificate renewal keeps the key, as `kubeadm certs renew` does); default a new one. */
  key?: KeyPair;
  /** Algorithm of the new key when `key` is not given; default the CA's (ECDSA P-256 for an RSA CA is fine too). */
  algorithm?: KeyAlgorithm;
  now?: Date;
}

async function sign(
  ca: CertificateAuthority,
  subject: x509.JsonName | x509.Name,
  publicKey: webcrypto.CryptoKey | x509.PublicKey,
  extensions: x509.Extension[],
  validityMs: number,
  now: Date,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject,
    issuer: ca.cert.subjectName,
    ...clampDates(now, validityMs, ca.cert),
    publicKey,
    signingKey: ca.key.privateKey,
    signingAlgorithm: signingParams(ca.key.algorithm),
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.key.publicKey),
    ],
  });
}

/** A leaf certificate (and key) signed by `ca`. Key usage always has digitalSignature, plus keyEncipherment for RSA keys. */
export async function issueCertificate(ca: CertificateAuthority, options: IssueOptions): Promise<IssuedCertificate> {
  const { commonName, organizations = [], dnsNames = [], ipAddresses = [], usages, validityDays = LEAF_VALIDITY_DAYS, now = new Date() } = options;
  if (!commonName) throw new PKIError('InvalidCSR', 'a certificate needs a CommonName');
  if (usages.length === 0) throw new PKIError('UnsupportedUsage', 'at least one key usage is required');
  const key = options.key ?? (await generateKeyPair(options.algorithm ?? ca.key.algorithm));
  const keyUsages: KeyUsage[] = ['digital signature', ...(key.algorithm.startsWith('RSA') ? (['key encipherment'] as const) : []), ...usages];
  const cert = await sign(
    ca,
    subjectName(commonName, organizations),
    key.publicKey,
    [...usageExtensions(dedupe(keyUsages) as KeyUsage[], false), ...sanExtension(dnsNames, ipAddresses)],
    validityDays * DAY_MS,
    now,
  );
  return { cert, certPem: encodeCertificatePEM(cert), key, keyPem: await encodePrivateKeyPEM(key) };
}

/** A TLS serving certificate (extKeyUsage serverAuth) for these names. */
export function issueServingCertificate(
  ca: CertificateAuthority,
  options: Omit<IssueOptions, 'usages' | 'organizations'>,
): Promise<IssuedCertificate> {
  return issueCertificate(ca, { ...options, usages: ['server auth'] });
}

/** A client certificate (extKeyUsage clientAuth) for user CN=`user` in groups O=`groups`. */
export function issueClientCertificate(
  ca: CertificateAuthority,
  options: { user: string; groups?: readonly string[]; validityDays?: number; key?: KeyPair; algorithm?: KeyAlgorithm; now?: Date },
): Promise<IssuedCertificate> {
  const { user, groups = [], ...rest } = options;
  return issueCertificate(ca, { ...rest, commonName: user, organizations: groups, usages: ['client auth'] });
}

export interface CSROptions {
  commonName: string;
  organizations?: readonly string[];
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  key: KeyPair;
}

/** A PEM "CERTIFICATE REQUEST" as a kubelet or `kubeadm certs generate-csr` would send. */
export async function createCSR(options: CSROptions): Promise<string> {
  const { commonName, organizations = [], dnsNames = [], ipAddresses = [], key } = options;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subjectName(commonName, organizations),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: signingParams(key.algorithm),
    extensions: sanExtension(dnsNames, ipAddresses),
  });
  return csr.toString('pem');
}

export interface SignCSROptions {
  /** spec.usages of the CertificateSigningRequest. */
  usages: readonly KeyUsage[];
  /** spec.expirationSeconds; default one year (the signer's --cluster-signing-duration). */
  expirationSeconds?: number;
  now?: Date;
}

/**
 * Signs a PEM CSR the way the upstream CSR signer does: verifies the request's own signature, keeps its
 * subject and SANs, applies `usages` from the API object (never from the request) and backdates 5 minutes.
 * Whether the requester may get this subject is the approver's business, not this function's.
 */
export async function signCSR(ca: CertificateAuthority, csrPem: string, options: SignCSROptions): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new PKIError('InvalidCSR', `the certificate request does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (!(await csr.verify().catch(() => false))) throw new PKIError('InvalidCSR', 'the certificate request signature does not verify');
  const san = csr.getExtension(OID_SUBJECT_ALT_NAME);
  const extensions = usageExtensions(options.usages, false);
  if (san) extensions.push(new x509.SubjectAlternativeNameExtension(new x509.SubjectAlternativeNameExtension(san.rawData).names.toJSON()));
  const seconds = options.expirationSeconds ?? LEAF_VALIDITY_DAYS * 86400;
  const cert = await sign(ca, csr.subjectName, csr.publicKey, extensions, seconds * 1000, options.now ?? new Date());
  return encodeCertificatePEM(cert);
}

/** kubeadm's CA pin for `--discovery-token-ca-cert-hash`: `sha256:` + hex SHA-256 of the CA's SubjectPublicKeyInfo. */
export function certHash(caPem: string): string {
  return `sha256:${sha256Hex(decodeCertificatePEM(caPem).publicKey.rawData)}`;
}

/** What a certificate says, in plain values (for checks, tests and `k8ts certs check-expiration`-style output). */
export interface CertificateInfo {
  commonName: string;
  organizations: string[];
  issuerCommonName: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  /** certificates.k8s.io names of the keyUsage bits, e.g. "digital signature", "cert sign". */
  keyUsages: KeyUsage[];
  /** Extended key usage OIDs. */
  extKeyUsages: string[];
  dnsNames: string[];
  /** Canonical text form. */
  ipAddresses: string[];
}

export function describeCertificate(certOrPem: x509.X509Certificate | string): CertificateInfo {
  const cert = typeof certOrPem === 'string' ? decodeCertificatePEM(certOrPem) : certOrPem;
  const ku = cert.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  const keyUsages = (Object.entries(KEY_USAGE_FLAGS) as Array<[KeyUsage, number]>)
    .filter(([name, flag]) => name !== 'signing' && (ku & flag) !== 0)
    .map(([name]) => name);
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  return {
    commonName: cert.subjectName.getField('CN')[0] ?? '',
    organizations: cert.subjectName.getField('O'),
    issuerCommonName: cert.issuerName.getField('CN')[0] ?? '',
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isCA: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    keyUsages,
    extKeyUsages: Array.from(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [], String),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => canonicalIP(n.value)),
  };
}

/** True when `cert` carries `ca`'s name as issuer and a signature that `ca`'s key verifies. */
export async function isIssuedBy(cert: x509.X509Certificate, ca: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== ca.subject) return false;
  return cert.verify({ publicKey: ca, signatureOnly: true }).catch(() => false);
}
