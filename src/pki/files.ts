// The PKI folder of a k8ts server (kubeadm's file names): ca.crt/key, apiserver.crt/key, admin.crt/key and
// the service-account signing pair sa.key/sa.pub. ensureServerPKI is idempotent: it keeps what is there and
// valid, creates what is missing and re-issues leaves that no longer fit, but it never replaces the CA or
// the service-account key, because every issued credential hangs on them.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { isIP } from 'node:net';
import {
  canonicalIP,
  createCA,
  describeCertificate,
  isIssuedBy,
  issueClientCertificate,
  issueServingCertificate,
  loadCA,
  OID_CLIENT_AUTH,
  OID_SERVER_AUTH,
  type CertificateAuthority,
  type IssuedCertificate,
} from './ca.js';
import { isPKIError, PKIError } from './errors.js';
import {
  decodeCertificatePEM,
  decodePrivateKeyPEM,
  decodePublicKeysPEM,
  encodePrivateKeyPEM,
  encodePublicKeyPEM,
  generateKeyPair,
  samePublicKey,
  type KeyAlgorithm,
  type KeyPair,
} from './pem.js';
import { logger } from '../util/log.js';

const log = logger('pki');

export const ADMIN_USER = 'kubernetes-admin';
export const SYSTEM_MASTERS = 'system:masters';
export const APISERVER_COMMON_NAME = 'kube-apiserver';
export const DEFAULT_SERVICE_IP = '10.96.0.1';
export const DEFAULT_DNS_DOMAIN = 'cluster.local';
/** Leaves expiring sooner than this are re-issued at start-up (k3s renews 90 days ahead). */
export const DEFAULT_RENEW_BEFORE_DAYS = 90;

export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  apiserverCert: 'apiserver.crt',
  apiserverKey: 'apiserver.key',
  adminCert: 'admin.crt',
  adminKey: 'admin.key',
  serviceAccountKey: 'sa.key',
  serviceAccountPub: 'sa.pub',
} as const;

export interface ServerPKIOptions {
  /** The node's host name; becomes a DNS SAN of the serving certificate. */
  hostname: string;
  /** First IP of the service CIDR (the `kubernetes` Service's ClusterIP); default 10.96.0.1. */
  serviceIP?: string;
  /** More SANs (IPs or DNS names, wildcards allowed), like kubeadm's certSANs / k3s's --tls-san. */
  extraSANs?: readonly string[];
  /** The address the apiserver listens on; added as an IP SAN unless it is 0.0.0.0 or ::. */
  bindAddress?: string;
  dnsDomain?: string;
  /** Key algorithm for new keys; default ECDSA-P256. The service-account key is always RSA 2048 (RS256). */
  algorithm?: KeyAlgorithm;
  caCommonName?: string;
  renewBeforeDays?: number;
  now?: Date;
}

export interface CertAndKeyFiles {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface ServerPKI {
  dir: string;
  ca: CertificateAuthority;
  caCertPath: string;
  caKeyPath: string;
  apiserver: CertAndKeyFiles;
  admin: CertAndKeyFiles;
  serviceAccount: { keyPath: string; pubPath: string; keyPem: string; pubPem: string };
  /** File names written by this call, in order; empty on a warm start that had nothing to do. */
  written: string[];
}

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);

/** True for an RFC 1123 subdomain or a wildcard one (`*.example.com`), the forms kubeadm accepts as DNS SANs. */
export function isDNSName(name: string): boolean {
  const bare = name.startsWith('*.') ? name.slice(2) : name;
  return bare.length > 0 && name.length <= 253 && DNS1123_SUBDOMAIN.test(bare);
}

/** The DNS names and IPs the apiserver serving certificate must carry for these options. */
export function apiServerSANs(options: ServerPKIOptions): { dnsNames: string[]; ipAddresses: string[] } {
  const domain = options.dnsDomain ?? DEFAULT_DNS_DOMAIN;
  const dnsNames = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${domain}`, 'localhost'];
  const ipAddresses = ['127.0.0.1', '::1', options.serviceIP ?? DEFAULT_SERVICE_IP];
  const hostname = options.hostname.toLowerCase();
  if (isIP(hostname)) ipAddresses.push(hostname);
  else if (isDNSName(hostname)) dnsNames.push(hostname);
  else throw new PKIError('InvalidSAN', `host name ${JSON.stringify(options.hostname)} is not a valid DNS name; pass another with --node-name`);
  const bind = options.bindAddress;
  if (bind && isIP(bind) && !['0.0.0.0', '::'].includes(canonicalIP(bind))) ipAddresses.push(bind);
  for (const san of options.extraSANs ?? []) {
    if (isIP(san)) ipAddresses.push(san);
    else if (isDNSName(san.toLowerCase())) dnsNames.push(san.toLowerCase());
    else throw new PKIError('InvalidSAN', `SAN ${JSON.stringify(san)} is neither an IP address nor an RFC 1123 DNS name`);
  }
  return { dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses.map(canonicalIP))] };
}

/**
 * Writes `data` to `path` so that readers see the old file or the new one, never a part: a temp file in
 * the same folder (created with `mode`), fsync, rename.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // open() honours the umask; the mode we ask for is the mode we mean
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

interface Ctx {
  dir: string;
  written: string[];
  now: Date;
}

async function write(ctx: Ctx, name: string, data: string, mode: number): Promise<string> {
  const path = join(ctx.dir, name);
  await writeFileAtomic(path, data, mode);
  ctx.written.push(name);
  return path;
}

async function ensureCA(ctx: Ctx, options: ServerPKIOptions): Promise<CertificateAuthority> {
  const [certPem, keyPem] = await Promise.all([readIfExists(join(ctx.dir, PKI_FILES.caCert)), readIfExists(join(ctx.dir, PKI_FILES.caKey))]);
  if (certPem !== undefined && keyPem !== undefined) return loadCA(certPem, keyPem);
  if (certPem !== undefined || keyPem !== undefined) {
    const [have, missing] = certPem !== undefined ? [PKI_FILES.caCert, PKI_FILES.caKey] : [PKI_FILES.caKey, PKI_FILES.caCert];
    throw new PKIError(
      'PartialFiles',
      `${join(ctx.dir, have)} exists but ${missing} does not; restore ${missing}, or remove ${have} to start a new cluster CA (every issued credential becomes invalid)`,
    );
  }
  const ca = await createCA({ commonName: options.caCommonName ?? 'kubernetes', algorithm: options.algorithm ?? 'ECDSA-P256', now: ctx.now });
  // Key first: a crash between the two writes leaves a key without a cert, which we refuse loudly rather than
  // a cert whose key is lost.
  await write(ctx, PKI_FILES.caKey, await encodePrivateKeyPEM(ca.key), 0o600);
  await write(ctx, PKI_FILES.caCert, ca.certPem, 0o644);
  return ca;
}

interface LeafWant {
  certName: string;
  keyName: string;
  /** Why the existing certificate must be re-issued, or undefined when it is fine. */
  staleReason(info: ReturnType<typeof describeCertificate>): string | undefined;
  issue(key: KeyPair | undefined): Promise<IssuedCertificate>;
}

async function ensureLeaf(ctx: Ctx, ca: CertificateAuthority, want: LeafWant, renewBeforeDays: number): Promise<CertAndKeyFiles> {
  const certPath = join(ctx.dir, want.certName);
  const keyPath = join(ctx.dir, want.keyName);
  const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  let key: KeyPair | undefined;
  if (certPem !== undefined && keyPem !== undefined) {
    let stale: string | false | undefined;
    try {
      key = await decodePrivateKeyPEM(keyPem);
      const cert = decodeCertificatePEM(certPem);
      const info = describeCertificate(cert);
      const renewAt = info.notAfter.getTime() - renewBeforeDays * 86_400_000;
      stale =
        (!(await isIssuedBy(cert, ca.cert)) && 'not issued by the current CA') ||
        (!(await samePublicKey(await cert.publicKey.export(), key.publicKey)) && 'key does not match') ||
        (ctx.now.getTime() >= renewAt && 'expires soon') ||
        want.staleReason(info);
    } catch (err) {
      // A damaged leaf is re-made from the CA (with a new key if the key is the damaged part).
      if (!isPKIError(err)) throw err;
      stale = `unreadable: ${err.message}`;
    }
    if (!stale) return { certPath, keyPath, certPem, keyPem };
    // Re-issuing keeps the key on disk (the new certificate is made for it), as `kubeadm certs renew` does.
    log.info({ file: certPath, reason: stale }, 're-issuing certificate');
  }
  const issued = await want.issue(key);
  if (!key) await write(ctx, want.keyName, issued.keyPem, 0o600);
  await write(ctx, want.certName, issued.certPem, 0o644);
  return { certPath, keyPath, certPem: issued.certPem, keyPem: key && keyPem !== undefined ? keyPem : issued.keyPem };
}

async function ensureServiceAccountKey(ctx: Ctx): Promise<ServerPKI['serviceAccount']> {
  const keyPath = join(ctx.dir, PKI_FILES.serviceAccountKey);
  const pubPath = join(ctx.dir, PKI_FILES.serviceAccountPub);
  let [keyPem, pubPem] = await Promise.all([readIfExists(keyPath), readIfExists(pubPath)]);
  if (keyPem === undefined && pubPem !== undefined) {
    throw new PKIError(
      'PartialFiles',
      `${pubPath} exists but sa.key does not; restore sa.key, or remove sa.pub to start a new signing key (every ServiceAccount token becomes invalid)`,
    );
  }
  if (keyPem === undefined) {
    const key = await generateKeyPair('RSA-2048');
    keyPem = await encodePrivateKeyPEM(key);
    pubPem = await encodePublicKeyPEM(key.publicKey);
    await write(ctx, PKI_FILES.serviceAccountKey, keyPem, 0o600);
    await write(ctx, PKI_FILES.serviceAccountPub, pubPem, 0o644);
    return { keyPath, pubPath, keyPem, pubPem };
  }
  const key = await decodePrivateKeyPEM(keyPem);
  const derived = await encodePublicKeyPEM(key.publicKey);
  if (pubPem === undefined) {
    pubPem = derived;
    await write(ctx, PKI_FILES.serviceAccountPub, pubPem, 0o644);
  } else {
    const first = decodePublicKeysPEM(pubPem)[0];
    const same = first?.export({ type: 'spki', format: 'der' }).equals(Buffer.from(await globalThis.crypto.subtle.exportKey('spki', key.publicKey)));
    if (!same) throw new PKIError('KeyMismatch', `${pubPath} does not hold the public key of sa.key; remove sa.pub to derive it again`);
  }
  return { keyPath, pubPath, keyPem, pubPem };
}

/**
 * Makes `dir` hold a complete server PKI and returns it. Cold start (empty folder) creates everything;
 * warm start reads the files and writes nothing unless a leaf needs re-issuing: serving SANs no longer
 * cover `apiServerSANs(options)`, a leaf is not from the current CA, its key does not match, or it expires
 * within `renewBeforeDays`. Keys are 0600, certificates 0644, the folder 0700.
 *
 * Trap: two processes running this at once on an empty folder can create two different CAs; the caller
 * holds the data-dir lock.
 */
export async function ensureServerPKI(dir: string, options: ServerPKIOptions): Promise<ServerPKI> {
  const ctx: Ctx = { dir, written: [], now: options.now ?? new Date() };
  const renewBeforeDays = options.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
  const algorithm = options.algorithm ?? 'ECDSA-P256';
  const sans = apiServerSANs(options);
  await mkdir(dir, { recursive: true, mode: 0o700 });

  // The RSA service-account key is the slow part of a cold start; make it while the CA work runs.
  const [ca, serviceAccount] = await Promise.all([ensureCA(ctx, options), ensureServiceAccountKey(ctx)]);
  const [apiserver, admin] = await Promise.all([
    ensureLeaf(
      ctx,
      ca,
      {
        certName: PKI_FILES.apiserverCert,
        keyName: PKI_FILES.apiserverKey,
        staleReason: (info) => {
          if (!info.extKeyUsages.includes(OID_SERVER_AUTH)) return 'no serverAuth usage';
          const dns = new Set(info.dnsNames.map((d) => d.toLowerCase()));
          const ips = new Set(info.ipAddresses);
          const missing = [...sans.dnsNames.filter((d) => !dns.has(d)), ...sans.ipAddresses.filter((ip) => !ips.has(ip))];
          return missing.length ? `SANs miss ${missing.join(', ')}` : undefined;
        },
        issue: (key) =>
          issueServingCertificate(ca, { commonName: APISERVER_COMMON_NAME, ...sans, algorithm, now: ctx.now, ...(key ? { key } : {}) }),
      },
      renewBeforeDays,
    ),
    ensureLeaf(
      ctx,
      ca,
      {
        certName: PKI_FILES.adminCert,
        keyName: PKI_FILES.adminKey,
        staleReason: (info) =>
          info.commonName !== ADMIN_USER || !info.organizations.includes(SYSTEM_MASTERS) || !info.extKeyUsages.includes(OID_CLIENT_AUTH)
            ? 'not an admin client certificate'
            : undefined,
        issue: (key) => issueClientCertificate(ca, { user: ADMIN_USER, groups: [SYSTEM_MASTERS], algorithm, now: ctx.now, ...(key ? { key } : {}) }),
      },
      renewBeforeDays,
    ),
  ]);
  return {
    dir,
    ca,
    caCertPath: join(dir, PKI_FILES.caCert),
    caKeyPath: join(dir, PKI_FILES.caKey),
    apiserver,
    admin,
    serviceAccount,
    written: ctx.written,
  };
}

/** The identity kube-apiserver presents to kubelets (kubeadm's apiserver-kubelet-client certificate). */
export const APISERVER_KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';
export const KUBELET_CLIENT_FILES = { cert: 'apiserver-kubelet-client.crt', key: 'apiserver-kubelet-client.key' } as const;

/**
 * The API server's client certificate for kubelets (pods/log, exec, attach, port-forward, nodes/proxy):
 * CN=kube-apiserver-kubelet-client, O=system:masters, signed by `ca`, kept in `dir` next to the other
 * leaves and re-issued on the same rules (other CA, wrong identity, expiring within renewBeforeDays).
 */
export async function ensureKubeletClientCertificate(
  dir: string,
  ca: CertificateAuthority,
  options: { algorithm?: KeyAlgorithm; renewBeforeDays?: number; now?: Date } = {},
): Promise<CertAndKeyFiles> {
  const ctx: Ctx = { dir, written: [], now: options.now ?? new Date() };
  const algorithm = options.algorithm ?? 'ECDSA-P256';
  return ensureLeaf(
    ctx,
    ca,
    {
      certName: KUBELET_CLIENT_FILES.cert,
      keyName: KUBELET_CLIENT_FILES.key,
      staleReason: (info) =>
        info.commonName !== APISERVER_KUBELET_CLIENT_USER || !info.organizations.includes(SYSTEM_MASTERS) || !info.extKeyUsages.includes(OID_CLIENT_AUTH)
          ? 'not a kubelet client certificate'
          : undefined,
      issue: (key) => issueClientCertificate(ca, { user: APISERVER_KUBELET_CLIENT_USER, groups: [SYSTEM_MASTERS], algorithm, now: ctx.now, ...(key ? { key } : {}) }),
    },
    options.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS,
  );
}
