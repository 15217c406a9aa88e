// The authentication contracts of the API server: who a request comes from (UserInfo), what one
// authenticator concludes about a request or a bearer token (AuthResult), and upstream's well-known names.
import type { IncomingHttpHeaders } from 'node:http';
import type { PeerCertificate } from 'node:tls';

/** user.Info of k8s.io/apiserver. Extra keys are lower-case (impersonation round-trips them). */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/**
 * What one authenticator concludes:
 * - `{ ok: true }`: the request is from `user`; `authenticator` names who decided (x509, serviceaccount, tokenfile, anonymous).
 * - `{ ok: false }`: this authenticator applies and rejects the credential (expired, bad signature, unknown CA);
 *   `reason` is for logs and TokenReview `status.error`, never for clients of a 401.
 * - `undefined`: this authenticator has no opinion (no credential of its kind on the request).
 */
export type AuthResult =
  | { ok: true; user: UserInfo; authenticator: string; /** Audiences the credential was accepted for (tokens only). */ audiences?: string[] }
  | { ok: false; reason: string }
  | undefined;

export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /**
   * From `TLSSocket.getPeerCertificate(true)`; absent or `{}` when the client sent none. The x509
   * authenticator verifies it against its own CAs, so it is safe with `rejectUnauthorized: false`.
   */
  peerCertificate?: PeerCertificate | undefined;
}

/** Authenticates a whole request (client certificate, Authorization header, …). */
export interface Authenticator {
  authenticate(req: AuthRequest): Promise<AuthResult>;
}

/** Authenticates a bearer token, wherever it came from (Authorization header, TokenReview). */
export interface TokenAuthenticator {
  /**
   * `audiences`: the audiences the caller needs the token to be good for (TokenReview spec.audiences);
   * default the API server's own. Authenticators without audiences ignore it.
   */
  authenticateToken(token: string, audiences?: readonly string[]): Promise<AuthResult>;
}

// Well-known names of k8s.io/apiserver/pkg/authentication/user.
export const SYSTEM_MASTERS = 'system:masters';
export const NODES_GROUP = 'system:nodes';
export const ALL_AUTHENTICATED = 'system:authenticated';
export const ALL_UNAUTHENTICATED = 'system:unauthenticated';
export const ANONYMOUS_USER = 'system:anonymous';
export const APISERVER_USER = 'system:apiserver';
/** Extra key naming the credential a request used (`X509SHA256=<hex>`, `JTI=<uuid>`); ends up in audit events. */
export const CREDENTIAL_ID_KEY = 'authentication.kubernetes.io/credential-id';

/**
 * Adds `system:authenticated` as upstream's AuthenticatedGroupAdder does: not for system:anonymous, and not
 * when the user already has system:authenticated or system:unauthenticated. Returns a new object.
 */
export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.name === ANONYMOUS_USER || user.groups.includes(ALL_AUTHENTICATED) || user.groups.includes(ALL_UNAUTHENTICATED)) {
    return user;
  }
  return { ...user, groups: [...user.groups, ALL_AUTHENTICATED] };
}
