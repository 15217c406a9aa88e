// coordination.k8s.io printers: leases (NAME HOLDER AGE) and lease candidates.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

export const leasePrinter = printer<Lease>(
  [NAME_COLUMN, column('Holder', 'string', 'Who holds the lease now.'), AGE_COLUMN],
  (l, ctx) => [l.metadata?.name ?? '', l.spec?.holderIdentity ?? '', ageSince(l.metadata?.creationTimestamp, ctx.now)],
);

/** coordination.k8s.io/v1alpha2 LeaseCandidate (not in kubernetes-types 1.30), the fields printed. */
export interface LeaseCandidate {
  metadata?: ObjectMeta;
  spec?: { leaseName?: string; binaryVersion?: string; emulationVersion?: string };
}

export const leaseCandidatePrinter = printer<LeaseCandidate>(
  [
    NAME_COLUMN,
    column('LeaseName', 'string', 'The lease the candidate runs for.'),
    column('BinaryVersion', 'string', 'The candidate’s binary version.'),
    column('EmulationVersion', 'string', 'The version the candidate emulates.'),
    AGE_COLUMN,
  ],
  (c, ctx) => [
    c.metadata?.name ?? '',
    c.spec?.leaseName ?? '',
    c.spec?.binaryVersion ?? '',
    c.spec?.emulationVersion ?? '',
    ageSince(c.metadata?.creationTimestamp, ctx.now),
  ],
);
