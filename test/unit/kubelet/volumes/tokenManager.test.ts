import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import type { RestClient } from '../../../../src/client/restClient.js';
import { requiresRefresh, ServiceAccountTokenManager, type TokenRequestKey } from '../../../../src/kubelet/volumes/tokenManager.js';

const H = 3600_000;
describe('token refresh rule (upstream token_manager requiresRefresh)', () => {
  const exp = 10 * H; // a 1 h token issued at 9 h
  const cases: Array<[string, number, number | undefined, number, boolean]> = [
    ['a fresh token is kept', 9 * H + 60_000, 3600, 0, false],
    ['a token at 79% of its life is kept', 9 * H + 0.79 * H, 3600, 0, false],
    ['a token past 80% of its life is refreshed', 9 * H + 0.81 * H, 3600, 0, true],
    ['jitter brings the refresh earlier', 9 * H + 0.8 * H - 5000, 3600, 10_000, true],
    ['a token without expirationSeconds is never refreshed', 10 * H + 1, undefined, 0, false],
  ];
  for (const [name, now, seconds, jitter, want] of cases) it(name, () => assert.equal(requiresRefresh(now, exp, seconds, jitter), want));
  it('a long-lived token is refreshed after 24 h', () => {
    const issued = 0;
    const year = 365 * 24 * 3600;
    assert.equal(requiresRefresh(issued + 23 * H, issued + year * 1000, year, 0), false);
    assert.equal(requiresRefresh(issued + 24 * H + 1, issued + year * 1000, year, 0), true);
  });
});

/** A RestClient double answering serviceaccounts/<sa>/token with numbered tokens. */
function tokenClient(now: () => number, fail: { on: boolean }) {
  const requests: TokenRequest[] = [];
  const client = {
    resource: () => ({
      createSubresource: async (ns: string, name: string, sub: string, body: TokenRequest) => {
        assert.equal(sub, 'token');
        if (fail.on) throw new Error('connection refused');
        requests.push(body);
        const seconds = body.spec.expirationSeconds ?? 3600;
        return { ...body, metadata: { name, namespace: ns }, status: { token: `tok-${requests.length}`, expirationTimestamp: new Date(now() + seconds * 1000).toISOString() } };
      },
    }),
  } as unknown as RestClient;
  return { client, requests };
}

describe('ServiceAccountTokenManager', () => {
  const key: TokenRequestKey = { namespace: 'ns', serviceAccountName: 'default', audiences: [], expirationSeconds: 3607, boundPod: { name: 'p', uid: 'uid-1' } };
  it('requests a pod-bound token, caches it, refreshes after 80% of its life, and serves the cached one while refresh fails', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const fail = { on: false };
    const { client, requests } = tokenClient(() => now, fail);
    const m = new ServiceAccountTokenManager({ client, clock: { now: () => now, setTimer: () => ({ cancel() {} }) }, jitterMs: () => 0 });
    assert.equal((await m.getServiceAccountToken(key)).status!.token, 'tok-1');
    assert.deepEqual(requests[0]!.spec, { audiences: [], expirationSeconds: 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'uid-1' } });
    now += 2000_000; // 55%
    assert.equal((await m.getServiceAccountToken(key)).status!.token, 'tok-1');
    now += 1000_000; // 83%
    fail.on = true;
    assert.equal((await m.getServiceAccountToken(key)).status!.token, 'tok-1', 'cached token while still valid');
    fail.on = false;
    assert.equal((await m.getServiceAccountToken(key)).status!.token, 'tok-2');
    assert.equal((await m.getServiceAccountToken({ ...key, audiences: ['vault'] })).status!.token, 'tok-3', 'another audience is another token');
    m.deletePodTokens('uid-1');
    fail.on = true;
    await assert.rejects(m.getServiceAccountToken(key), { name: 'TokenFetchError', message: 'failed to fetch token: connection refused' });
  });
});
