// What the certificate controllers share (upstream pkg/controller/certificates): the CSR informer
// and client, condition helpers, and the queue-and-handle loop of upstream's CertificateController.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { KubeObject, ResourceClient } from '../../client/resourceClient.js';
import type { SharedInformer } from '../../client/informer.js';
import { CSR_APPROVED, CSR_DENIED, CSR_FAILED } from '../../apiserver/csr.js';
import { newQueue, runQueueWorkers, type Controller, type ControllerContext } from '../controller.js';

export type CSRObject = CertificateSigningRequest & KubeObject;

export function csrInformer(ctx: ControllerContext): SharedInformer<CSRObject> {
  return ctx.informers.informerFor<CSRObject>('certificates.k8s.io', 'v1', 'certificatesigningrequests');
}

export function csrClient(ctx: ControllerContext): ResourceClient<CSRObject> {
  return ctx.client.resource<CSRObject>('certificates.k8s.io', 'v1', 'certificatesigningrequests', { namespaced: false });
}

export function hasTrueCondition(csr: Readonly<CertificateSigningRequest>, type: string): boolean {
  return (csr.status?.conditions ?? []).some((c) => c.type === type && (c.status === 'True' || !c.status));
}

/** Upstream's GetCertApprovalCondition. */
export function approvalState(csr: Readonly<CertificateSigningRequest>): { approved: boolean; denied: boolean } {
  return { approved: hasTrueCondition(csr, CSR_APPROVED), denied: hasTrueCondition(csr, CSR_DENIED) };
}

/** Upstream's IsCertificateRequestApproved: Approved and not Denied. */
export function isApproved(csr: Readonly<CertificateSigningRequest>): boolean {
  const s = approvalState(csr);
  return s.approved && !s.denied;
}

export const isFailed = (csr: Readonly<CertificateSigningRequest>): boolean => hasTrueCondition(csr, CSR_FAILED);

/** PEM text of spec.request (base64 of PEM bytes on the wire). */
export function requestPem(csr: Readonly<CertificateSigningRequest>): string {
  return Buffer.from(csr.spec?.request ?? '', 'base64').toString('latin1');
}

/**
 * Upstream's CertificateController: every add/update of a CSR queues its name; `handle` gets a copy
 * of the cached object and throws to be retried with back-off. Deletes need no work.
 */
export function certificateController(
  ctx: ControllerContext,
  name: string,
  handle: (csr: CSRObject, signal: AbortSignal) => Promise<void>,
  workers = 5,
): Controller {
  const log = ctx.log.child({ controller: name });
  const queue = newQueue(name);
  const informer = csrInformer(ctx);
  const enqueue = (csr: Readonly<CSRObject>) => {
    if (csr.metadata?.name) queue.add(csr.metadata.name);
  };
  informer.addEventHandler({ onAdd: enqueue, onUpdate: (_old, csr) => enqueue(csr) });
  async function sync(key: string, signal: AbortSignal): Promise<void> {
    const csr = informer.get(undefined, key);
    if (!csr) return;
    await handle(structuredClone(csr) as CSRObject, signal);
  }
  return {
    name,
    run: (signal) => runQueueWorkers({ name, queue, sync, workers, synced: [() => informer.hasSynced()], log }, signal),
  };
}
