// csrsigning (upstream certificatesigningrequest-signing-controller, signer.go): signs approved
// requests of the kube-apiserver-client, kube-apiserver-client-kubelet and kubelet-serving signers
// with the cluster CA; a request its signer refuses gets a Failed condition (SignerValidationFailure).
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import {
  CSR_FAILED,
  KUBE_APISERVER_CLIENT_KUBELET_SIGNER,
  KUBE_APISERVER_CLIENT_SIGNER,
  KUBELET_SERVING_SIGNER,
  apiServerClientCSRProblem,
  kubeletClientCSRProblem,
  kubeletServingCSRProblem,
  parseCSR,
  type ParsedCSR,
} from '../../apiserver/csr.js';
import { signCSR, type CertificateAuthority, type KeyUsage } from '../../pki/ca.js';
import type { Controller, ControllerContext } from '../controller.js';
import { certificateController, csrClient, isApproved, isFailed, requestPem, type CSRObject } from './csrUtil.js';

export const CSR_SIGNING_CONTROLLER = 'certificatesigningrequest-signing-controller';
export const SIGNER_VALIDATION_FAILURE = 'SignerValidationFailure';
/** Requests for shorter than this get this much: twice the 5 minute backdate (upstream's sanity bound). */
export const MIN_CERTIFICATE_DURATION_S = 600;

/** The signers csrsigning serves and what each accepts (undefined: acceptable, else why not). */
export const SIGNERS: Readonly<Record<string, (req: ParsedCSR, usages: readonly string[]) => string | undefined>> = {
  [KUBELET_SERVING_SIGNER]: kubeletServingCSRProblem,
  [KUBE_APISERVER_CLIENT_KUBELET_SIGNER]: kubeletClientCSRProblem,
  [KUBE_APISERVER_CLIENT_SIGNER]: (_req, usages) => apiServerClientCSRProblem(usages),
};

/** Upstream signer.duration: the requested expirationSeconds, capped at the signing duration and raised to 10 minutes. */
export function certificateDurationSeconds(expirationSeconds: number | undefined | null, maxSeconds: number): number {
  if (expirationSeconds === undefined || expirationSeconds === null) return maxSeconds;
  if (expirationSeconds > maxSeconds) return maxSeconds;
  return Math.max(expirationSeconds, MIN_CERTIFICATE_DURATION_S);
}

export type SigningDecision =
  | { action: 'ignore'; why: string }
  | { action: 'fail'; message: string }
  | { action: 'sign'; pem: string; usages: string[]; seconds: number };

/** What the signer does with a CSR (pure but for parsing). */
export async function decideSigning(csr: Readonly<CertificateSigningRequest>, maxSeconds: number): Promise<SigningDecision> {
  if (!isApproved(csr) || isFailed(csr)) return { action: 'ignore', why: 'not approved, or failed' };
  if (csr.status?.certificate) return { action: 'ignore', why: 'already issued' };
  const check = SIGNERS[csr.spec?.signerName ?? ''];
  if (!check) return { action: 'ignore', why: `signer ${csr.spec?.signerName} is not ours` };
  const pem = requestPem(csr);
  let req: ParsedCSR;
  try {
    req = await parseCSR(pem);
  } catch (err) {
    throw new Error(`unable to parse csr "${csr.metadata?.name}": ${(err as Error).message}`);
  }
  const usages = csr.spec?.usages ?? [];
  const problem = check(req, usages);
  if (problem) return { action: 'fail', message: problem };
  return { action: 'sign', pem, usages: [...usages], seconds: certificateDurationSeconds(csr.spec?.expirationSeconds, maxSeconds) };
}

export interface CSRSigningOptions {
  now?: () => Date;
}

export function newCSRSigningController(ctx: ControllerContext, opts: CSRSigningOptions = {}): Controller {
  const ca: CertificateAuthority | undefined = ctx.options.signingCA;
  const maxSeconds = Math.floor(ctx.options.clusterSigningDurationMs / 1000);
  const now = opts.now ?? (() => new Date());
  const client = csrClient(ctx);
  const log = ctx.log.child({ controller: CSR_SIGNING_CONTROLLER });
  const inner = certificateController(ctx, CSR_SIGNING_CONTROLLER, async (csr: CSRObject, signal) => {
    if (!ca) return;
    const d = await decideSigning(csr, maxSeconds);
    if (d.action === 'ignore') return;
    csr.status ??= {};
    if (d.action === 'fail') {
      const t = now().toISOString().replace(/\.\d{3}Z$/, 'Z');
      csr.status.conditions = [...(csr.status.conditions ?? []), { type: CSR_FAILED, status: 'True', reason: SIGNER_VALIDATION_FAILURE, message: d.message, lastUpdateTime: t }];
      try {
        await client.updateStatus(csr, { signal });
      } catch (err) {
        throw new Error(`error adding failure condition for csr: ${(err as Error).message}`, { cause: err });
      }
      log.info({ csr: csr.metadata?.name, reason: d.message }, 'refused certificate signing request');
      return;
    }
    let certPem: string;
    try {
      certPem = await signCSR(ca, d.pem, { usages: d.usages as KeyUsage[], expirationSeconds: d.seconds, now: now() });
    } catch (err) {
      throw new Error(`error auto signing csr: ${(err as Error).message}`, { cause: err });
    }
    csr.status.certificate = Buffer.from(certPem, 'utf8').toString('base64');
    try {
      await client.updateStatus(csr, { signal });
    } catch (err) {
      throw new Error(`error updating signature for csr: ${(err as Error).message}`, { cause: err });
    }
    log.info({ csr: csr.metadata?.name, signer: csr.spec?.signerName, seconds: d.seconds }, 'signed certificate');
  });
  return {
    name: CSR_SIGNING_CONTROLLER,
    run: async (signal) => {
      if (!ca) log.warn('no signing CA configured (--cluster-signing-cert-file/--cluster-signing-key-file); certificate signing requests will not be signed');
      await inner.run(signal);
    },
  };
}
