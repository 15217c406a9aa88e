// --service-account-lookup: a ServiceAccount token is good only while the objects it names still exist
// with the UIDs it carries. Built from object getters (listers or the store), with upstream's reasons.
import { timingSafeEqual } from 'node:crypto';
import type { Node, Pod, Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import { LEEWAY_SECONDS, type IsLive, type Liveness, type ServiceAccountTokenClaims } from './serviceAccountToken.js';

export const LEGACY_TOKEN_INVALID_SINCE_LABEL = 'kubernetes.io/legacy-token-invalid-since';

/** Read access to the objects tokens are bound to; `undefined` means not found. Objects are read-only. */
export interface LivenessGetters {
  getServiceAccount(namespace: string, name: string): Promise<Readonly<ServiceAccount> | undefined>;
  getSecret(namespace: string, name: string): Promise<Readonly<Secret> | undefined>;
  getPod(namespace: string, name: string): Promise<Readonly<Pod> | undefined>;
  getNode(name: string): Promise<Readonly<Node> | undefined>;
  now?: () => Date;
}

const INVALIDATED = { reason: 'service account token has been invalidated' };

/** Deleted earlier than a leeway ago: objects in graceful deletion keep their tokens for a minute. */
function deletedLongAgo(o: { metadata?: { deletionTimestamp?: string } }, now: Date): boolean {
  const ts = o.metadata?.deletionTimestamp;
  return ts !== undefined && Date.parse(ts) < now.getTime() - LEEWAY_SECONDS * 1000;
}

async function boundLiveness(g: LivenessGetters, c: Extract<ServiceAccountTokenClaims, { kind: 'bound' }>, now: Date): Promise<Liveness> {
  const { namespace, serviceAccount: saRef } = c;
  const sa = await g.getServiceAccount(namespace, saRef.name);
  if (!sa) return { reason: `serviceaccount "${saRef.name}" not found` };
  if ((sa.metadata?.uid ?? '') !== saRef.uid) return { reason: `service account UID (${sa.metadata?.uid ?? ''}) does not match claim (${saRef.uid})` };
  if (deletedLongAgo(sa, now)) return { reason: `service account ${namespace}/${saRef.name} has been deleted` };
  if (c.secret) {
    const secret = await g.getSecret(namespace, c.secret.name);
    if (!secret) return INVALIDATED;
    if ((secret.metadata?.uid ?? '') !== c.secret.uid) {
      return { reason: `secret UID (${secret.metadata?.uid ?? ''}) does not match service account secret ref claim (${c.secret.uid})` };
    }
    if (deletedLongAgo(secret, now)) return INVALIDATED;
  }
  if (c.pod) {
    const pod = await g.getPod(namespace, c.pod.name);
    if (!pod) return INVALIDATED;
    if ((pod.metadata?.uid ?? '') !== c.pod.uid) return { reason: `pod UID (${pod.metadata?.uid ?? ''}) does not match service account pod ref claim (${c.pod.uid})` };
    if (deletedLongAgo(pod, now)) return INVALIDATED;
  } else if (c.node) {
    // Only a token bound to the Node itself is checked against it; a pod-bound token just carries its node.
    const node = await g.getNode(c.node.name);
    if (!node) return INVALIDATED;
    if ((node.metadata?.uid ?? '') !== c.node.uid) return { reason: `node UID (${node.metadata?.uid ?? ''}) does not match service account node ref claim (${c.node.uid})` };
    if (deletedLongAgo(node, now)) return INVALIDATED;
  }
  return true;
}

function sameToken(stored: string | undefined, token: string): boolean {
  if (stored === undefined) return false;
  const a = Buffer.from(stored, 'base64');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

async function legacyLiveness(g: LivenessGetters, c: Extract<ServiceAccountTokenClaims, { kind: 'legacy' }>): Promise<Liveness> {
  const { namespace, secretName, serviceAccount: saRef } = c;
  const secret = await g.getSecret(namespace, secretName);
  if (!secret || secret.metadata?.deletionTimestamp) return { reason: 'Token has been invalidated' };
  if (!sameToken(secret.data?.token, c.token)) return { reason: "Token does not match server's copy" };
  const sa = await g.getServiceAccount(namespace, saRef.name);
  if (!sa) return { reason: `serviceaccount "${saRef.name}" not found` };
  if (sa.metadata?.deletionTimestamp) return { reason: `ServiceAccount ${namespace}/${saRef.name} has been deleted` };
  if ((sa.metadata?.uid ?? '') !== saRef.uid) return { reason: `ServiceAccount UID (${sa.metadata?.uid ?? ''}) does not match claim (${saRef.uid})` };
  if (secret.metadata?.labels?.[LEGACY_TOKEN_INVALID_SINCE_LABEL]) {
    return {
      reason: `the token in secret ${namespace}/${secretName} for service account ${namespace}/${saRef.name} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '${LEGACY_TOKEN_INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of this token`,
    };
  }
  return true;
}

/** The IsLive hook of serviceAccountTokenAuthenticator, from object getters. */
export function serviceAccountLiveness(getters: LivenessGetters): IsLive {
  const now = getters.now ?? (() => new Date());
  return (claims) => (claims.kind === 'bound' ? boundLiveness(getters, claims, now()) : legacyLiveness(getters, claims));
}
