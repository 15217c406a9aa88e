// Creating in a namespace that is being deleted is refused; controllers that create per-namespace
// objects treat that as "nothing to do", as upstream's HasStatusCause(err, NamespaceTerminatingCause).
import { ApiError, isForbidden } from '../client/apiError.js';

export const NAMESPACE_TERMINATING_CAUSE = 'NamespaceTerminating';

export function isNamespaceTerminating(err: unknown): boolean {
  if (!(err instanceof ApiError) || !isForbidden(err)) return false;
  if (err.details?.causes?.some((c) => c.reason === NAMESPACE_TERMINATING_CAUSE)) return true;
  // k8ts's API server says so only in the message today.
  return /because it is being terminated/.test(err.message);
}
