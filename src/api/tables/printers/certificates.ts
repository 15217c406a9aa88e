// certificates.k8s.io printers: signing requests (NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION)
// and cluster trust bundles.
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { ClusterTrustBundle } from 'kubernetes-types/certificates/v1alpha1.js';
import { ageSince, humanDuration } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

/** Denied beats Approved beats Pending; `,Failed` and `,Issued` follow when they apply. */
export function csrCondition(csr: Readonly<CertificateSigningRequest>): string {
  const types = new Set((csr.status?.conditions ?? []).map((c) => c.type));
  let status = types.has('Denied') ? 'Denied' : types.has('Approved') ? 'Approved' : 'Pending';
  if (types.has('Failed')) status += ',Failed';
  if ((csr.status?.certificate ?? '').length > 0) status += ',Issued';
  return status;
}

export const certificateSigningRequestPrinter = printer<CertificateSigningRequest>(
  [
    NAME_COLUMN,
    AGE_COLUMN,
    column('SignerName', 'string', 'The signer asked to sign the certificate.'),
    column('Requestor', 'string', 'The user who created the request.'),
    column('RequestedDuration', 'string', 'How long the certificate is asked to be valid.'),
    column('Condition', 'string', 'Pending, Approved or Denied, then Failed and Issued when they apply.'),
  ],
  (csr, ctx) => {
    const seconds = csr.spec?.expirationSeconds;
    return [
      csr.metadata?.name ?? '',
      ageSince(csr.metadata?.creationTimestamp, ctx.now),
      csr.spec?.signerName || '<none>',
      csr.spec?.username ?? '',
      seconds === undefined || seconds === null ? '<none>' : humanDuration(seconds * 1000),
      csrCondition(csr),
    ];
  },
);

export const clusterTrustBundlePrinter = printer<ClusterTrustBundle>(
  [NAME_COLUMN, column('SignerName', 'string', 'The signer whose trust anchors the bundle holds.')],
  (b) => [b.metadata?.name ?? '', b.spec?.signerName || '<none>'],
);
