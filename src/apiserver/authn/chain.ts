// How the API server turns a request into a user: bearer-token parsing (upstream request/bearertoken), the
// union of authenticators (request/union), system:authenticated (group adder) and the anonymous fallback
// (which, as upstream's FailOnError union, applies only when no authenticator had an opinion).
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { logger } from '../../util/log.js';
import {
  ALL_UNAUTHENTICATED,
  ANONYMOUS_USER,
  withAuthenticatedGroup,
  type Authenticator,
  type AuthRequest,
  type AuthResult,
  type TokenAuthenticator,
  type UserInfo,
} from './types.js';

const log = logger('authn');

export const INVALID_BEARER_TOKEN = 'invalid bearer token';
export const ANONYMOUS_AUTHENTICATOR = 'anonymous';

/**
 * The token of an `Authorization: Bearer <token>` header, as upstream reads it: the header is trimmed and
 * split on single spaces into at most three parts; the scheme is case-insensitive; the token is the second
 * part (anything after a further space is ignored); an empty token (two spaces) is no token.
 */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const auth = (headers.authorization ?? '').trim();
  if (!auth) return undefined;
  const parts = auth.split(' ');
  if (parts.length < 2 || (parts[0] ?? '').toLowerCase() !== 'bearer') return undefined;
  const token = parts[1] ?? '';
  return token === '' ? undefined : token;
}

/** Go's utilerrors.NewAggregate(...).Error(): one message as is, several as "[a, b]". */
function aggregate(reasons: string[]): string {
  return reasons.length === 1 ? (reasons[0] as string) : `[${reasons.join(', ')}]`;
}

async function safely(name: string, run: () => Promise<AuthResult>): Promise<AuthResult> {
  try {
    return await run();
  } catch (err) {
    // An authenticator that cannot decide (its lookups fail) rejects; it never lets the request through.
    log.warn({ err, authenticator: name }, 'authenticator failed');
    return { ok: false, reason: (err as Error).message || String(err) };
  }
}

/** Tries the token authenticators in order; the first `ok` wins, otherwise their reasons are aggregated. */
export function tokenUnion(tokens: readonly TokenAuthenticator[]): TokenAuthenticator {
  return {
    async authenticateToken(token: string, audiences?: readonly string[]): Promise<AuthResult> {
      const reasons: string[] = [];
      for (const [i, t] of tokens.entries()) {
        const r = await safely(`token[${i}]`, () => t.authenticateToken(token, audiences));
        if (r?.ok) return r;
        if (r) reasons.push(r.reason);
      }
      return reasons.length ? { ok: false, reason: aggregate(reasons) } : undefined;
    },
  };
}

/**
 * The request authenticator for bearer tokens. A token that no token authenticator claims is rejected
 * ("invalid bearer token"), it does not fall through to anonymous. On success the Authorization header is
 * deleted from `req.headers`, so nothing downstream (proxies, logs) can reuse the credential.
 */
export function bearerTokenAuthenticator(tokens: readonly TokenAuthenticator[]): Authenticator {
  const union = tokenUnion(tokens);
  return {
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const token = bearerToken(req.headers);
      if (token === undefined) return undefined;
      const r = await union.authenticateToken(token);
      if (r?.ok) {
        delete req.headers.authorization;
        return r;
      }
      return r ?? { ok: false, reason: INVALID_BEARER_TOKEN };
    },
  };
}

/** Tries request authenticators in order; the first `ok` wins, otherwise failures aggregate, otherwise no opinion. */
export function unionAuthenticator(authenticators: readonly Authenticator[]): Authenticator {
  return {
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const reasons: string[] = [];
      for (const [i, a] of authenticators.entries()) {
        const r = await safely(`request[${i}]`, () => a.authenticate(req));
        if (r?.ok) return r;
        if (r) reasons.push(r.reason);
      }
      return reasons.length ? { ok: false, reason: aggregate(reasons) } : undefined;
    },
  };
}

export type AuthenticationDecision =
  | { authenticated: true; user: UserInfo; authenticator: string }
  /** Answer 401 with upstream's Status (message "Unauthorized"); `reason` is for the log only. */
  | { authenticated: false; code: 401; reason: string };

export interface AuthenticationChainOptions {
  /** In upstream's order: x509 first, then bearer tokens. */
  authenticators: readonly Authenticator[];
  /** --anonymous-auth: requests without any credential become system:anonymous. Default false (safe); kube-apiserver defaults to true. */
  anonymous?: boolean;
}

export interface AuthenticationChain {
  authenticate(req: AuthRequest): Promise<AuthenticationDecision>;
}

export const ANONYMOUS: Readonly<UserInfo> = Object.freeze({ name: ANONYMOUS_USER, groups: [ALL_UNAUTHENTICATED] });

/** The API server's authentication step: a user, or a 401 decision. */
export function authenticationChain(options: AuthenticationChainOptions): AuthenticationChain {
  const union = unionAuthenticator(options.authenticators);
  return {
    async authenticate(req: AuthRequest): Promise<AuthenticationDecision> {
      const r = await union.authenticate(req);
      if (r?.ok) return { authenticated: true, user: withAuthenticatedGroup(r.user), authenticator: r.authenticator };
      if (r) {
        log.debug({ reason: r.reason }, 'Unable to authenticate the request');
        return { authenticated: false, code: 401, reason: r.reason };
      }
      if (options.anonymous) return { authenticated: true, user: { ...ANONYMOUS, groups: [...ANONYMOUS.groups] }, authenticator: ANONYMOUS_AUTHENTICATOR };
      return { authenticated: false, code: 401, reason: 'no credentials and anonymous authentication is disabled' };
    },
  };
}

/** The AuthRequest of a Node request: its headers and, on TLS, the client's certificate chain. */
export function authRequestFrom(req: IncomingMessage): AuthRequest {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return { headers: req.headers };
  const cert = socket.getPeerCertificate(true);
  // Without a client certificate Node returns {} (or null after the socket closed).
  return cert && cert.raw ? { headers: req.headers, peerCertificate: cert } : { headers: req.headers };
}
