// The kubelet's client certificate rotation (upstream client-go util/certificate certificate_manager
// and pkg/kubelet/certificate): at a random point between 70% and 90% of the certificate's life the
// kubelet makes a new key, asks for a certificate with a CertificateSigningRequest made with its
// current one (approved as `selfnodeclient`), waits for it, stores it and switches its connections.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RestClient } from '../../client/restClient.js';
import type { KubeObject } from '../../client/resourceClient.js';
import { createCSR } from '../../pki/ca.js';
import { decodeCertificatePEM, encodePrivateKeyPEM, generateKeyPair, publicKeySPKI } from '../../pki/pem.js';
import { KUBELET_CLIENT_SIGNER, waitForCertificate } from '../../server/agentBootstrap.js';
import { logger } from '../../util/log.js';
import { pairOf, type CertificateFileStore, type CertificatePair } from './store.js';

const log = logger('certificate-manager');

/** How long one CSR may wait for approval and signing (upstream certificateWaitTimeout). */
export const CERTIFICATE_WAIT_TIMEOUT_MS = 15 * 60_000;
/** Retries after a failed rotation: 2 s doubling, 5 steps, then every 32 s (upstream's backoff). */
export const ROTATION_BACKOFF_MS: readonly number[] = [2000, 4000, 8000, 16000, 32000];
export const ROTATION_RETRY_MS = 32_000;

export class CertificateRotationError extends Error {
  override readonly name = 'CertificateRotationError';
}

/**
 * The rotation deadline: notBefore + 70–90% of the certificate's whole life (`random` in [0, 1)),
 * so that nodes started together do not all renew at once.
 */
export function rotationDeadline(pair: Pick<CertificatePair, 'notBefore' | 'notAfter'>, random: number): number {
  const total = pair.notAfter.getTime() - pair.notBefore.getTime();
  return pair.notBefore.getTime() + total * (0.7 + 0.2 * random);
}

export interface ClientCertificateManagerOptions {
  /** The kubelet's API client: CSRs are made with its current certificate, and it gets every new one. */
  client: RestClient;
  nodeName: string;
  /** The pair in use now (from the kubeconfig or the store). */
  initial: { certPem: string; keyPem: string };
  /** Where new pairs go (`kubelet-client-current.pem`). */
  store: CertificateFileStore;
  signerName?: string;
  /** spec.expirationSeconds of each CSR; undefined = the signer's --cluster-signing-duration. */
  expirationSeconds?: number;
  /** Gets the two upstream metrics. */
  registry?: Registry;
  /** Called after a new pair is stored (the client was already switched). */
  onRotate?(pair: CertificatePair): void;
  now?: () => number;
  random?: () => number;
  waitTimeoutMs?: number;
}

type CSRObject = CertificateSigningRequest & KubeObject;

export class ClientCertificateManager {
  private pair: CertificatePair;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly renewErrors: Counter | undefined;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: ClientCertificateManagerOptions) {
    this.pair = pairOf(o.initial.certPem, o.initial.keyPem);
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    if (o.registry) {
      this.renewErrors = new Counter({ name: 'kubelet_certificate_manager_client_expiration_renew_errors', help: 'Counter of certificate renewal errors.', registers: [o.registry] });
      const self = this;
      new Gauge({
        name: 'kubelet_certificate_manager_client_ttl_seconds',
        help: "Gauge of the TTL (time-to-live) of the Kubelet's client certificate. The value is in seconds until certificate expiry (negative if already expired). If client certificate is invalid or unused, the value will be +INF.",
        registers: [o.registry],
        collect() {
          this.set(Math.floor((self.pair.notAfter.getTime() - self.now()) / 1000));
        },
      });
    }
  }

  /** The pair in use. */
  current(): Readonly<CertificatePair> {
    return this.pair;
  }

  /** Starts the background rotation; idempotent. */
  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    log.info({ node: this.o.nodeName }, 'Certificate rotation is enabled');
    this.loop = this.run(this.abort.signal).catch((err: unknown) => {
      if (!this.abort?.signal.aborted) log.error({ err: (err as Error).message }, 'certificate rotation stopped');
    });
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error('certificate manager stopping'));
    await this.loop;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const deadline = rotationDeadline(this.pair, this.random());
      log.info({ expiration: this.pair.notAfter.toISOString(), deadline: new Date(deadline).toISOString() }, 'Certificate rotation deadline determined');
      if (deadline > this.now()) log.debug({ sleepMs: Math.round(deadline - this.now()) }, 'Waiting for next certificate rotation');
      while (!signal.aborted && deadline > this.now()) await sleep(deadline - this.now(), signal);
      for (let attempt = 0; !signal.aborted; attempt++) {
        try {
          await this.rotate(signal);
          break;
        } catch (err) {
          if (signal.aborted) return;
          this.renewErrors?.inc();
          const retryMs = ROTATION_BACKOFF_MS[attempt] ?? ROTATION_RETRY_MS;
          if (this.now() > this.pair.notAfter.getTime()) {
            // Upstream's kubelet exits here; ours keeps serving its pods and says how to get a new certificate.
            log.error(
              { err: (err as Error).message, expired: this.pair.notAfter.toISOString() },
              'the kubelet client certificate has expired and could not be renewed: restart the agent, which bootstraps a new one with the node token',
            );
          } else if (attempt === ROTATION_BACKOFF_MS.length) log.error({ err: (err as Error).message }, 'Reached backoff limit, still unable to rotate certs');
          else log.warn({ err: (err as Error).message, retryMs }, 'certificate rotation failed; retrying');
          await sleep(retryMs * (1 + 0.1 * this.random()), signal);
        }
      }
    }
  }

  /**
   * One rotation (rotateCerts): new key, CSR with the current identity, wait for the certificate,
   * store it, switch the client. Throws CertificateRotationError (or the API error) on failure.
   */
  async rotate(signal?: AbortSignal): Promise<CertificatePair> {
    log.info('Rotating certificates');
    const key = await generateKeyPair('ECDSA-P256');
    const commonName = `system:node:${this.o.nodeName}`;
    const usages = ['digital signature', 'client auth'];
    const request = await createCSR({ commonName, organizations: ['system:nodes'], key });
    const csrs = this.o.client.resource<CSRObject>('certificates.k8s.io', 'v1', 'certificatesigningrequests', { namespaced: false });
    const created = await csrs.create(
      {
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        // Renewals are named by the server (upstream's generateName "csr-"); bootstrap CSRs by digest.
        metadata: { generateName: 'csr-' },
        spec: {
          request: Buffer.from(request, 'utf8').toString('base64'),
          signerName: this.o.signerName ?? KUBELET_CLIENT_SIGNER,
          usages,
          ...(this.o.expirationSeconds !== undefined ? { expirationSeconds: this.o.expirationSeconds } : {}),
        },
      },
      signal ? { signal } : {},
    );
    const name = created.metadata!.name!;
    let certPem: string;
    try {
      certPem = await waitForCertificate(this.o.client, name, this.now() + (this.o.waitTimeoutMs ?? CERTIFICATE_WAIT_TIMEOUT_MS), signal);
    } catch (err) {
      throw new CertificateRotationError(`Certificate request was not signed: ${(err as Error).message}`, { cause: err });
    }
    const spki = Buffer.from(decodeCertificatePEM(certPem).publicKey.rawData);
    if (!spki.equals(await publicKeySPKI(key.publicKey))) throw new CertificateRotationError(`the certificate issued for ${name} is not for the key this kubelet made`);
    const keyPem = await encodePrivateKeyPEM(key);
    const pair = await this.o.store.update(certPem, keyPem, new Date(this.now()));
    const old = this.pair;
    this.pair = pair;
    this.o.client.setClientCertificate(pair.certPem, pair.keyPem);
    log.info(
      { csr: name, expiration: pair.notAfter.toISOString(), previousExpiration: old.notAfter.toISOString(), file: this.o.store.currentPath },
      'certificate rotation detected, shutting down client connections to start using new credentials',
    );
    this.o.onRotate?.(pair);
    return pair;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    // setTimeout caps at 2^31-1 ms (~24.8 days): the caller sleeps again until its deadline.
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.min(ms, 2 ** 31 - 1));
    t.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
