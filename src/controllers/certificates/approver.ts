// csrapproving (upstream certificatesigningrequest-approving-controller, sarapprove.go): approves
// kubelet client certificate requests of the kube-apiserver-client-kubelet signer that a node
// (renewal: `selfnodeclient`) or a bootstrapper (first join: `nodeclient`) may make.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { CSR_APPROVED, KUBE_APISERVER_CLIENT_KUBELET_SIGNER, kubeletClientCSRProblem, parseCSR, type ParsedCSR } from '../../apiserver/csr.js';
import type { ControllerContext, Controller } from '../controller.js';
import { approvalState, certificateController, csrClient, requestPem, type CSRObject } from './csrUtil.js';

export const CSR_APPROVING_CONTROLLER = 'certificatesigningrequest-approving-controller';

/** The permission a recognizer checks, as the subresource of `create certificatesigningrequests` (upstream's SAR attributes). */
export type ApprovalPermission = 'selfnodeclient' | 'nodeclient';

export interface Recognizer {
  permission: ApprovalPermission;
  successMessage: string;
  recognize(csr: Readonly<CertificateSigningRequest>, req: ParsedCSR): boolean;
}

const isNodeClientCert = (csr: Readonly<CertificateSigningRequest>, req: ParsedCSR): boolean =>
  csr.spec?.signerName === KUBE_APISERVER_CLIENT_KUBELET_SIGNER && kubeletClientCSRProblem(req, csr.spec.usages ?? []) === undefined;

/** Upstream's recognizers, in order: a node renewing its own certificate, then any node client request. */
export const RECOGNIZERS: readonly Recognizer[] = [
  {
    permission: 'selfnodeclient',
    successMessage: 'Auto approving self kubelet client certificate after SubjectAccessReview.',
    recognize: (csr, req) => csr.spec?.username === req.commonName && isNodeClientCert(csr, req),
  },
  {
    permission: 'nodeclient',
    successMessage: 'Auto approving kubelet client certificate after SubjectAccessReview.',
    recognize: isNodeClientCert,
  },
];

/** Who asked, as the CSR recorded it. */
export interface Requester {
  username: string;
  groups: readonly string[];
}

/**
 * Whether the requester holds `permission`. k8ts has no RBAC yet, so the default is the policy
 * upstream's default bindings give (kubeadm's `kubeadm:node-autoapprove-bootstrap` and
 * `kubeadm:node-autoapprove-certificate-rotation`): bootstrappers may get node client certificates,
 * nodes may renew their own. Replace with a SubjectAccessReview once authorization exists.
 */
export type ApprovalAuthorizer = (requester: Requester, permission: ApprovalPermission, signal: AbortSignal) => Promise<boolean>;

export const defaultApprovalAuthorizer: ApprovalAuthorizer = async (requester, permission) => {
  if (permission === 'nodeclient') return requester.groups.includes('system:bootstrappers');
  return requester.groups.includes('system:nodes');
};

/**
 * What the approver does with a CSR: the Approved condition to add, or why it adds none. Pure but for
 * the authorizer, so tests are a table.
 */
export async function decideApproval(
  csr: Readonly<CertificateSigningRequest>,
  authorize: ApprovalAuthorizer,
  signal: AbortSignal,
): Promise<{ approve: true; message: string } | { approve: false; why: string }> {
  if (csr.status?.certificate) return { approve: false, why: 'already issued' };
  const { approved, denied } = approvalState(csr);
  if (approved || denied) return { approve: false, why: 'already approved or denied' };
  let req: ParsedCSR;
  try {
    req = await parseCSR(requestPem(csr));
  } catch (err) {
    throw new Error(`unable to parse csr "${csr.metadata?.name}": ${(err as Error).message}`);
  }
  const tried: string[] = [];
  const requester = { username: csr.spec?.username ?? '', groups: csr.spec?.groups ?? [] };
  for (const r of RECOGNIZERS) {
    if (!r.recognize(csr, req)) continue;
    tried.push(r.permission);
    if (await authorize(requester, r.permission, signal)) return { approve: true, message: r.successMessage };
  }
  if (tried.length > 0) return { approve: false, why: `recognized csr "${csr.metadata?.name}" as [${tried.join(' ')}] but subject access review was not approved` };
  return { approve: false, why: 'not a kubelet client certificate request' };
}

export interface CSRApprovingOptions {
  authorize?: ApprovalAuthorizer;
}

export function newCSRApprovingController(ctx: ControllerContext, opts: CSRApprovingOptions = {}): Controller {
  const authorize = opts.authorize ?? defaultApprovalAuthorizer;
  const client = csrClient(ctx);
  const log = ctx.log.child({ controller: CSR_APPROVING_CONTROLLER });
  return certificateController(ctx, CSR_APPROVING_CONTROLLER, async (csr: CSRObject, signal) => {
    const d = await decideApproval(csr, authorize, signal);
    if (!d.approve) {
      log.debug({ csr: csr.metadata?.name, why: d.why }, 'not approving');
      return;
    }
    csr.status ??= {};
    csr.status.conditions = [...(csr.status.conditions ?? []), { type: CSR_APPROVED, status: 'True', reason: 'AutoApproved', message: d.message }];
    try {
      await client.updateSubresource(undefined, csr.metadata!.name!, 'approval', csr, { signal });
    } catch (err) {
      throw new Error(`error updating approval for csr: ${(err as Error).message}`, { cause: err });
    }
    log.info({ csr: csr.metadata?.name, user: csr.spec?.username }, 'approved kubelet client certificate request');
  });
}
