// csrcleaner (upstream certificatesigningrequest-cleaner-controller, cleaner.go): every hour deletes
// CSRs that are done with: issued and approved more than 1 h ago, denied or failed more than 1 h ago,
// pending for more than 24 h, or whose certificate has expired.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { isNotFound } from '../../client/apiError.js';
import { CSR_APPROVED, CSR_DENIED, CSR_FAILED } from '../../apiserver/csr.js';
import { x509 } from '../../pki/peculiar.js';
import { decodePEM } from '../../pki/pem.js';
import type { Controller, ControllerContext } from '../controller.js';
import { csrClient, csrInformer } from './csrUtil.js';

export const CSR_CLEANER_CONTROLLER = 'certificatesigningrequest-cleaner-controller';
const HOUR_MS = 3600_000;
export const POLLING_INTERVAL_MS = HOUR_MS;
export const APPROVED_EXPIRATION_MS = HOUR_MS;
export const DENIED_EXPIRATION_MS = HOUR_MS;
export const FAILED_EXPIRATION_MS = HOUR_MS;
export const PENDING_EXPIRATION_MS = 24 * HOUR_MS;

const olderThan = (t: string | undefined, ageMs: number, now: number): boolean => {
  if (!t) return false;
  const at = Date.parse(t);
  return Number.isFinite(at) && now - at > ageMs;
};

function certificateNotAfter(csr: Readonly<CertificateSigningRequest>): Date | undefined {
  const b64 = csr.status?.certificate;
  if (!b64) return undefined;
  const block = decodePEM(Buffer.from(b64, 'base64').toString('latin1'))[0];
  if (!block) throw new Error('expected the certificate associated with the CSR to be PEM encoded');
  try {
    return new x509.X509Certificate(block.der).notAfter;
  } catch (err) {
    throw new Error(`unable to parse certificate data: ${(err as Error).message}`);
  }
}

/** Why a CSR is due for deletion at `now`, or undefined to keep it (upstream's five criteria). */
export function cleanupReason(csr: Readonly<CertificateSigningRequest>, now: number): string | undefined {
  const conditions = csr.status?.conditions ?? [];
  const issued = !!csr.status?.certificate;
  if (issued && conditions.some((c) => c.type === CSR_APPROVED && olderThan(c.lastUpdateTime, APPROVED_EXPIRATION_MS, now))) return 'it is more than 1h0m0s old and approved';
  if (conditions.some((c) => c.type === CSR_DENIED && olderThan(c.lastUpdateTime, DENIED_EXPIRATION_MS, now))) return 'it is more than 1h0m0s old and denied';
  if (conditions.some((c) => c.type === CSR_FAILED && olderThan(c.lastUpdateTime, FAILED_EXPIRATION_MS, now))) return 'it is more than 1h0m0s old and failed';
  if (conditions.length === 0 && olderThan(csr.metadata?.creationTimestamp, PENDING_EXPIRATION_MS, now)) return 'it is more than 24h0m0s old and unhandled';
  if (issued && conditions.some((c) => c.type === CSR_APPROVED)) {
    const notAfter = certificateNotAfter(csr);
    if (notAfter && notAfter.getTime() < now) return 'the associated certificate is expired';
  }
  return undefined;
}

export interface CSRCleanerOptions {
  now?: () => number;
  pollingIntervalMs?: number;
}

export function newCSRCleanerController(ctx: ControllerContext, opts: CSRCleanerOptions = {}): Controller {
  const informer = csrInformer(ctx);
  const client = csrClient(ctx);
  const now = opts.now ?? Date.now;
  const interval = opts.pollingIntervalMs ?? POLLING_INTERVAL_MS;
  const log = ctx.log.child({ controller: CSR_CLEANER_CONTROLLER });

  async function sweep(signal: AbortSignal): Promise<void> {
    for (const csr of informer.list()) {
      if (signal.aborted) return;
      const name = csr.metadata?.name ?? '';
      let reason: string | undefined;
      try {
        reason = cleanupReason(csr, now());
      } catch (err) {
        log.error({ csr: name, err: (err as Error).message }, 'Error while attempting to clean CSR');
        continue;
      }
      if (!reason) continue;
      log.info({ csr: name }, `Cleaning CSR as ${reason}`);
      await client.delete(undefined, name, { signal, preconditions: { uid: csr.metadata?.uid } }).catch((err: unknown) => {
        if (!isNotFound(err) && !signal.aborted) log.error({ csr: name, err: (err as Error).message }, 'unable to delete CSR');
      });
    }
  }

  return {
    name: CSR_CLEANER_CONTROLLER,
    async run(signal) {
      if (!(await informer.waitForSync(signal))) return;
      while (!signal.aborted) {
        await sweep(signal);
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, interval);
          function done() {
            clearTimeout(t);
            signal.removeEventListener('abort', done);
            resolve();
          }
          signal.addEventListener('abort', done, { once: true });
        });
      }
    },
  };
}
