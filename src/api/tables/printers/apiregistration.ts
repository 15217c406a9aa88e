// apiregistration.k8s.io printer (kube-aggregator's): API services, NAME SERVICE AVAILABLE AGE.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { ageSince } from '../humanDuration.js';
import { AGE_COLUMN, column, NAME_COLUMN, printer } from '../printer.js';

/** apiregistration.k8s.io/v1 APIService, the fields printed (kubernetes-types does not carry this group). */
export interface APIService {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { service?: { namespace?: string; name?: string } | null; group?: string; version?: string };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

/** `True`; `False (Reason)` or bare status without a reason; `Unknown` without an Available condition. */
export function apiServiceAvailable(svc: Readonly<APIService>): string {
  const c = (svc.status?.conditions ?? []).find((x) => x.type === 'Available');
  if (!c) return 'Unknown';
  if (c.status === 'True' || !c.reason) return c.status;
  return `${c.status} (${c.reason})`;
}

export const apiServicePrinter = printer<APIService>(
  [
    NAME_COLUMN,
    column('Service', 'string', 'The service that serves the API, as namespace/name, or Local when the API server does.'),
    column('Available', 'string', 'Whether the API is reachable, with the reason when it is not.'),
    AGE_COLUMN,
  ],
  (svc, ctx) => {
    const s = svc.spec?.service;
    return [
      svc.metadata?.name ?? '',
      s ? `${s.namespace ?? ''}/${s.name ?? ''}` : 'Local',
      apiServiceAvailable(svc),
      ageSince(svc.metadata?.creationTimestamp, ctx.now),
    ];
  },
);
