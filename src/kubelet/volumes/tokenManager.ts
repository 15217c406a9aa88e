// The kubelet's ServiceAccount token cache (upstream pkg/kubelet/token/token_manager.go): tokens
// are requested through `serviceaccounts/<name>/token`, bound to the pod, and reused until 80% of
// their lifetime (or 24 h) has passed; a failed refresh keeps serving a still-valid cached token.
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import type { ServiceAccount } from 'kubernetes-types/core/v1.js';
import { realClock, type Clock } from '../../client/clock.js';
import type { RestClient } from '../../client/restClient.js';
import { logger } from '../../util/log.js';

const log = logger('token-manager');

/** A token older than this is refreshed whatever its expiry (upstream maxTTL). */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_JITTER_MS = 10_000;
const GC_PERIOD_MS = 60_000;

export interface BoundPod {
  name: string;
  uid: string;
}

export interface TokenRequestKey {
  namespace: string;
  serviceAccountName: string;
  audiences: readonly string[];
  expirationSeconds: number | undefined;
  boundPod: BoundPod;
}

export interface TokenManagerOptions {
  client: RestClient;
  clock?: Clock;
  /** Random jitter in ms (0 ≤ j < 10 s); injectable for tests. */
  jitterMs?: () => number;
}

/** A token could not be fetched; message as upstream (`failed to fetch token: …`). */
export class TokenFetchError extends Error {
  override readonly name = 'TokenFetchError';
}

/**
 * True when a token issued for `expirationSeconds` and expiring at `expiresAtMs` must be renewed at
 * `nowMs`: older than 24 h minus jitter, or within 20% of its lifetime (plus jitter) of expiry.
 */
export function requiresRefresh(nowMs: number, expiresAtMs: number, expirationSeconds: number | undefined, jitterMs: number): boolean {
  if (expirationSeconds === undefined) return false;
  const issuedAt = expiresAtMs - expirationSeconds * 1000;
  if (nowMs > issuedAt + MAX_TTL_MS - jitterMs) return true;
  return nowMs > expiresAtMs - Math.floor((expirationSeconds * 20) / 100) * 1000 - jitterMs;
}

interface Cached {
  request: TokenRequest;
  expiresAtMs: number;
}

export class ServiceAccountTokenManager {
  private readonly cache = new Map<string, Cached>();
  private readonly clock: Clock;
  private readonly jitter: () => number;
  private lastGc = 0;

  constructor(private readonly opts: TokenManagerOptions) {
    this.clock = opts.clock ?? realClock;
    this.jitter = opts.jitterMs ?? (() => Math.floor(Math.random() * (MAX_JITTER_MS / 1000)) * 1000);
  }

  /** A token for the request, from the cache when still fresh. */
  async getServiceAccountToken(key: TokenRequestKey, signal?: AbortSignal): Promise<TokenRequest> {
    this.gc();
    const k = cacheKey(key);
    const cached = this.cache.get(k);
    const now = this.clock.now();
    if (cached && !requiresRefresh(now, cached.expiresAtMs, key.expirationSeconds, this.jitter())) return cached.request;
    let tr: TokenRequest;
    try {
      tr = await this.opts.client.resource<ServiceAccount>('', 'v1', 'serviceaccounts').createSubresource<TokenRequest, TokenRequest>(
        key.namespace,
        key.serviceAccountName,
        'token',
        {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          metadata: { name: key.serviceAccountName, namespace: key.namespace },
          spec: {
            audiences: [...key.audiences],
            ...(key.expirationSeconds !== undefined ? { expirationSeconds: key.expirationSeconds } : {}),
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: key.boundPod.name, uid: key.boundPod.uid },
          },
        },
        signal ? { signal } : {},
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (cached && cached.expiresAtMs > now) {
        log.warn({ err: msg, namespace: key.namespace, serviceAccount: key.serviceAccountName }, "couldn't update token; serving the cached one");
        return cached.request;
      }
      throw new TokenFetchError(`failed to fetch token: ${msg}`, { cause: err });
    }
    const expiresAtMs = Date.parse(tr.status?.expirationTimestamp ?? '');
    if (!tr.status?.token || Number.isNaN(expiresAtMs)) throw new TokenFetchError('failed to fetch token: the token request returned no token or expiration');
    this.cache.set(k, { request: tr, expiresAtMs });
    return tr;
  }

  /** Forgets every token bound to the pod (upstream DeleteServiceAccountToken on pod removal). */
  deletePodTokens(podUid: string): void {
    for (const [k, c] of this.cache) if (c.request.spec.boundObjectRef?.uid === podUid) this.cache.delete(k);
  }

  private gc(): void {
    const now = this.clock.now();
    if (now - this.lastGc < GC_PERIOD_MS) return;
    this.lastGc = now;
    for (const [k, c] of this.cache) if (c.expiresAtMs <= now) this.cache.delete(k);
  }
}

function cacheKey(k: TokenRequestKey): string {
  return JSON.stringify([k.namespace, k.serviceAccountName, [...k.audiences], k.expirationSeconds ?? null, k.boundPod.name, k.boundPod.uid]);
}
