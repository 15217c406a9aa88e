// resource.k8s.io (dynamic resource allocation) printers, for servers that enable the group: device classes,
// resource claims (with their state), claim templates and resource slices.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

/** The resource.k8s.io/v1beta1 fields printed (newer than kubernetes-types 1.30). */
export interface ResourceClaim {
  metadata?: ObjectMeta;
  status?: { allocation?: object | null; reservedFor?: unknown[] };
}

export interface ResourceSlice {
  metadata?: ObjectMeta;
  spec?: { nodeName?: string; driver?: string; pool?: { name?: string } };
}

export interface NamedObject {
  metadata?: ObjectMeta;
}

/** `deleted`, `pending`, `allocated`, `reserved`, comma-joined as they apply. */
export function resourceClaimState(claim: Readonly<ResourceClaim>): string {
  const states: string[] = [];
  const deleting = !!claim.metadata?.deletionTimestamp;
  if (deleting) states.push('deleted');
  if (!claim.status?.allocation) {
    if (!deleting) states.push('pending');
  } else {
    states.push('allocated');
    if ((claim.status.reservedFor ?? []).length > 0) states.push('reserved');
  }
  return states.join(',');
}

const nameAge = [NAME_COLUMN, AGE_COLUMN];

export const deviceClassPrinter = printer<NamedObject>(nameAge, (o, ctx) => [o.metadata?.name ?? '', ageSince(o.metadata?.creationTimestamp, ctx.now)]);
export const resourceClaimTemplatePrinter = printer<NamedObject>(nameAge, (o, ctx) => [
  o.metadata?.name ?? '',
  ageSince(o.metadata?.creationTimestamp, ctx.now),
]);

export const resourceClaimPrinter = printer<ResourceClaim>(
  [NAME_COLUMN, column('State', 'string', 'Where the claim stands: pending, allocated, reserved, deleted.'), AGE_COLUMN],
  (c, ctx) => [c.metadata?.name ?? '', resourceClaimState(c), ageSince(c.metadata?.creationTimestamp, ctx.now)],
);

export const resourceSlicePrinter = printer<ResourceSlice>(
  [
    NAME_COLUMN,
    column('Node', 'string', 'The node whose devices the slice lists.'),
    column('Driver', 'string', 'The driver that publishes the slice.'),
    column('Pool', 'string', 'The pool the slice belongs to.'),
    AGE_COLUMN,
  ],
  (s, ctx) => [
    s.metadata?.name ?? '',
    s.spec?.nodeName ?? '',
    s.spec?.driver ?? '',
    s.spec?.pool?.name ?? '',
    ageSince(s.metadata?.creationTimestamp, ctx.now),
  ],
);
