// How `k8ts agent --server URL --token TOKEN` gets its kubelet credentials: upstream's kubelet TLS
// bootstrap (a CertificateSigningRequest for CN=system:node:<name>, O=system:nodes, signer
// kubernetes.io/kube-apiserver-client-kubelet, approved by csrapproving and signed by csrsigning)
// with k3s's join UX (the CA comes from the server's /cacerts and is pinned by the hash in the token).
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { isAlreadyExists, isForbidden, isUnauthorized } from '../client/apiError.js';
import { RestClient } from '../client/restClient.js';
import type { KubeObject } from '../client/resourceClient.js';
import { createCSR, describeCertificate } from '../pki/ca.js';
import { buildKubeconfig, loadKubeconfig, writeKubeconfig } from '../pki/kubeconfig.js';
import { CertificateFileStore } from '../kubelet/certificate/store.js';
import { decodeCertificatePEM, encodePrivateKeyPEM, generateKeyPair, publicKeySPKI } from '../pki/pem.js';
import { logger } from '../util/log.js';
import { caHashOf, parseNodeToken, verifyCAHash, NodeTokenError, type NodeToken } from './nodeToken.js';

const log = logger('agent-bootstrap');

export const KUBELET_KUBECONFIG = 'kubelet.kubeconfig';
/** The kubelet's certificate directory under the agent dir (upstream /var/lib/kubelet/pki). */
export const KUBELET_PKI_DIR = 'pki';

/** The store of the agent's kubelet client certificate: `<dataDir>/agent/pki/kubelet-client-current.pem`. */
export function kubeletClientCertificateStore(dataDir: string): CertificateFileStore {
  return new CertificateFileStore(join(dataDir, 'agent', KUBELET_PKI_DIR), 'kubelet-client');
}
export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
/** A kubeconfig is reused while more than this share of its certificate's life is left. */
export const REUSE_MIN_REMAINING_FRACTION = 0.1;
export const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 5 * 60_000;

export type AgentBootstrapErrorCode =
  | 'InvalidToken'
  | 'CAHashMismatch'
  /** The token gives no CA pin and no CA file was given. */
  | 'NoCAPin'
  /** /cacerts could not be fetched or holds no certificate. */
  | 'CAUnavailable'
  /** The server refused the token. */
  | 'Unauthorized'
  | 'CSRDenied'
  | 'CSRFailed'
  | 'Timeout';

export class AgentBootstrapError extends Error {
  override readonly name = 'AgentBootstrapError';
  constructor(
    readonly code: AgentBootstrapErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BootstrapAgentOptions {
  /** https://host:port of the API server. */
  server: string;
  /** The node token (`K10<hash>::server:<secret>`) or, with `caFile`, its secret alone. */
  token: string;
  /** The agent's --data-dir; the kubeconfig goes to `<dataDir>/agent/kubelet.kubeconfig`. */
  dataDir: string;
  nodeName: string;
  /** A CA bundle to trust instead of the token's CA pin (needed for tokens without the K10 prefix). */
  caFile?: string;
  /** How long to wait for the CSR to be approved and signed; default 5 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface AgentCredentials {
  /** Path of the kubelet kubeconfig (client certificate of system:node:<nodeName>). */
  kubeconfig: string;
  caPem: string;
  /** The kubeconfig was still good and no CSR was made. */
  reused: boolean;
  /** Name of the CSR made this time. */
  csrName?: string;
}

/** GETs <server>/cacerts without verifying the server (the caller verifies the body against its pin). */
export async function fetchCACerts(server: string, signal?: AbortSignal): Promise<string> {
  const url = new URL('/cacerts', server);
  return new Promise<string>((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 30_000, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new AgentBootstrapError('CAUnavailable', `GET ${url.href} answered ${res.statusCode}: is ${server} a k8ts server?`));
          return;
        }
        if (!body.includes('-----BEGIN CERTIFICATE-----')) {
          reject(new AgentBootstrapError('CAUnavailable', `GET ${url.href} returned no PEM certificate: is ${server} a k8ts server?`));
          return;
        }
        resolve(body);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', (err) => {
      if (err instanceof AgentBootstrapError) reject(err);
      else reject(new AgentBootstrapError('CAUnavailable', `cannot fetch the cluster CA from ${url.href}: ${err.message}`, { cause: err }));
    });
  });
}

/**
 * Whether the kubeconfig at `path` can be used as is: it talks to `server`, its client certificate is
 * system:node:<nodeName>, its CA matches the token's pin, and more than 10% of the certificate's life is left.
 */
export async function reusableKubeconfig(path: string, o: { server: string; nodeName: string; token: NodeToken; caPem?: string; now?: Date }): Promise<{ caPem: string } | undefined> {
  let kc;
  try {
    kc = await loadKubeconfig(path);
  } catch {
    return undefined;
  }
  if (!kc.clientCertPem || !kc.clientKeyPem || !kc.caPem) return undefined;
  if (kc.server.replace(/\/+$/, '') !== o.server.replace(/\/+$/, '')) return undefined;
  if (o.token.caHash && caHashOf(kc.caPem) !== o.token.caHash) return undefined;
  if (o.caPem && kc.caPem.trim() !== o.caPem.trim()) return undefined;
  let info;
  try {
    info = describeCertificate(kc.clientCertPem);
  } catch {
    return undefined;
  }
  if (info.commonName !== `system:node:${o.nodeName}` || !info.organizations.includes('system:nodes')) return undefined;
  const now = (o.now ?? new Date()).getTime();
  const life = info.notAfter.getTime() - info.notBefore.getTime();
  const left = info.notAfter.getTime() - now;
  if (life <= 0 || left <= life * REUSE_MIN_REMAINING_FRACTION) return undefined;
  return { caPem: kc.caPem };
}

/** The CSR's name as the kubelet derives it: `node-csr-` + a digest of the key, subject and usages. */
export function csrNameFor(spki: Buffer, subject: string, usages: readonly string[]): string {
  const h = createHash('sha512').update(spki).update('\0').update(subject).update('\0').update(usages.join(',')).digest('base64url');
  return `node-csr-${h.slice(0, 43)}`;
}

type CSRObject = CertificateSigningRequest & KubeObject;

function csrOutcome(csr: Readonly<CertificateSigningRequest>): { certPem: string } | { error: AgentBootstrapError } | undefined {
  const name = csr.metadata?.name ?? '';
  for (const c of csr.status?.conditions ?? []) {
    if (c.type === 'Denied' && c.status !== 'False') {
      return { error: new AgentBootstrapError('CSRDenied', `certificate signing request ${name} was denied (${c.reason ?? ''}${c.message ? `: ${c.message}` : ''})`) };
    }
    if (c.type === 'Failed' && c.status !== 'False') {
      return { error: new AgentBootstrapError('CSRFailed', `certificate signing request ${name} failed (${c.reason ?? ''}${c.message ? `: ${c.message}` : ''})`) };
    }
  }
  if (csr.status?.certificate) return { certPem: Buffer.from(csr.status.certificate, 'base64').toString('utf8') };
  return undefined;
}

/** Waits (get, then watch) until the CSR has a certificate, is denied or failed, or `deadline` passes. */
export async function waitForCertificate(client: RestClient, name: string, deadline: number, signal?: AbortSignal): Promise<string> {
  const csrs = client.resource<CSRObject>('certificates.k8s.io', 'v1', 'certificatesigningrequests', { namespaced: false });
  const timeoutError = () =>
    new AgentBootstrapError(
      'Timeout',
      `timed out waiting for certificate signing request ${name} to be approved and signed: check \`kubectl get csr ${name}\` on the server; ` +
        `the csrapproving and csrsigning controllers must run there (or approve it by hand with \`kubectl certificate approve ${name}\`)`,
    );
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    const current = await csrs.get(undefined, name, signal ? { signal } : {});
    const done = csrOutcome(current);
    if (done) {
      if ('error' in done) throw done.error;
      return done.certPem;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(), left);
    try {
      const events = await csrs.watch({ name, resourceVersion: current.metadata?.resourceVersion, timeoutSeconds: Math.max(1, Math.ceil(left / 1000)), signal: ac.signal });
      for await (const ev of events) {
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
        const r = csrOutcome(ev.object);
        if (!r) continue;
        if ('error' in r) throw r.error;
        return r.certPem;
      }
    } catch (err) {
      if (err instanceof AgentBootstrapError) throw err;
      signal?.throwIfAborted();
      if (!ac.signal.aborted) log.debug({ err: (err as Error).message, csr: name }, 'watch of the CSR ended; looking again');
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
  throw timeoutError();
}

/**
 * Gets the agent a kubelet client certificate through TLS bootstrap and writes
 * `<dataDir>/agent/kubelet.kubeconfig`; a kubeconfig still good from an earlier start is reused.
 * Errors are AgentBootstrapError values whose message tells a CLI user what to do.
 */
export async function bootstrapAgentCredentials(opts: BootstrapAgentOptions): Promise<AgentCredentials> {
  const server = opts.server.replace(/\/+$/, '');
  const path = join(opts.dataDir, 'agent', KUBELET_KUBECONFIG);
  let token: NodeToken;
  try {
    token = parseNodeToken(opts.token);
  } catch (err) {
    throw new AgentBootstrapError('InvalidToken', `--token: ${(err as Error).message}`, { cause: err });
  }
  const fileCA = opts.caFile ? await readFile(opts.caFile, 'utf8') : undefined;
  if (!token.caHash && !fileCA) {
    throw new AgentBootstrapError(
      'NoCAPin',
      'the token has no CA hash (it does not start with K10), so the server cannot be verified: use the full token from <data-dir>/server/node-token on the server, or pass a CA file',
    );
  }
  const reuse = await reusableKubeconfig(path, { server, nodeName: opts.nodeName, token, ...(fileCA ? { caPem: fileCA } : {}) });
  if (reuse) {
    log.info({ kubeconfig: path }, 'reusing the kubelet client certificate');
    return { kubeconfig: path, caPem: reuse.caPem, reused: true };
  }

  let caPem: string;
  if (fileCA) {
    caPem = fileCA;
    if (token.caHash) verifyCAHash(token, caPem, server);
  } else {
    caPem = await fetchCACerts(server, opts.signal);
    try {
      verifyCAHash(token, caPem, server);
    } catch (err) {
      if (err instanceof NodeTokenError) throw new AgentBootstrapError('CAHashMismatch', err.message, { cause: err });
      throw err;
    }
  }

  const key = await generateKeyPair('ECDSA-P256');
  const commonName = `system:node:${opts.nodeName}`;
  const usages = ['digital signature', 'client auth'];
  const request = await createCSR({ commonName, organizations: ['system:nodes'], key });
  const name = csrNameFor(await publicKeySPKI(key.publicKey), `O=system:nodes,CN=${commonName}`, usages);
  // Upstream kubelets send the full bootstrap token; the secret part authenticates just the same.
  const client = new RestClient({ server, caPem, token: opts.token.trim() }, { component: 'kubelet-bootstrap', qps: -1, maxRetries: 3 });
  try {
    const csrs = client.resource<CSRObject>('certificates.k8s.io', 'v1', 'certificatesigningrequests', { namespaced: false });
    const body: CSRObject = {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name },
      spec: { request: Buffer.from(request, 'utf8').toString('base64'), signerName: KUBELET_CLIENT_SIGNER, usages },
    };
    try {
      await csrs.create(body, opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      if (isUnauthorized(err)) {
        throw new AgentBootstrapError('Unauthorized', `${server} rejected the token (401 Unauthorized): copy the token from <data-dir>/server/node-token on the server`, { cause: err });
      }
      if (isForbidden(err)) throw new AgentBootstrapError('Unauthorized', `${server} does not let this token request node certificates: ${(err as Error).message}`, { cause: err });
      if (!isAlreadyExists(err)) throw err;
    }
    log.info({ csr: name, node: opts.nodeName }, 'requested a kubelet client certificate; waiting for approval and signing');
    const certPem = await waitForCertificate(client, name, Date.now() + (opts.timeoutMs ?? DEFAULT_BOOTSTRAP_TIMEOUT_MS), opts.signal);
    // The certificate must be for our key: a same-named CSR made with another key would not be.
    const spki = Buffer.from(decodeCertificatePEM(certPem).publicKey.rawData);
    if (!spki.equals(await publicKeySPKI(key.publicKey))) throw new AgentBootstrapError('CSRFailed', `the certificate issued for ${name} is not for this agent's key`);
    await mkdir(join(opts.dataDir, 'agent'), { recursive: true, mode: 0o700 });
    // As upstream's bootstrap: the pair goes to kubelet-client-current.pem and the kubeconfig points at
    // that file, so certificate rotation only swaps the file and the kubeconfig stays right.
    const store = kubeletClientCertificateStore(opts.dataDir);
    await store.update(certPem, await encodePrivateKeyPEM(key));
    const kubeconfig = buildKubeconfig({ name: 'k8ts', userName: commonName, server, caPem });
    kubeconfig.users[0]!.user = { 'client-certificate': store.currentPath, 'client-key': store.currentPath };
    await writeKubeconfig(path, kubeconfig);
    log.info({ kubeconfig: path, csr: name }, 'kubelet client certificate issued');
    return { kubeconfig: path, caPem, reused: false, csrName: name };
  } finally {
    client.close();
  }
}
