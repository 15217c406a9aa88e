import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { StatusError } from '../../../src/apiserver/status.js';
import {
  DEFAULT_ISSUER,
  EXPIRATION_EXTENSION_SECONDS,
  keyIDFromPublicKey,
  ServiceAccountTokenIssuer,
  serviceAccountTokenAuthenticator,
  splitServiceAccountUsername,
  type BoundObject,
  type ServiceAccountTokenAuthenticatorOptions,
  type ServiceAccountTokenIssuerOptions,
} from '../../../src/apiserver/authn/serviceAccountToken.js';
import { serviceAccountLiveness, type LivenessGetters } from '../../../src/apiserver/authn/serviceAccountLiveness.js';
import type { AuthResult } from '../../../src/apiserver/authn/types.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubPem = (k: typeof rsa) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;

const T0 = new Date('2026-03-01T10:00:00Z');
const t0 = T0.getTime() / 1000;
const clock = (offsetSeconds = 0) => () => new Date(T0.getTime() + offsetSeconds * 1000);
const issuer = (o: ServiceAccountTokenIssuerOptions = {}, key = rsa.privateKey) =>
  new ServiceAccountTokenIssuer(key, { now: clock(), newJTI: () => 'jti-1', ...o });
const authn = (o: Partial<ServiceAccountTokenAuthenticatorOptions> = {}) =>
  serviceAccountTokenAuthenticator({ publicKeysPem: pubPem(rsa), now: clock(), ...o });

const decode = (token: string, part: 0 | 1): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[part] ?? '', 'base64url').toString());
const sa = { namespace: 'default', name: 'builder', uid: 'sa-uid' };

describe('issuing bound tokens (TokenRequest)', () => {
  it('signs RS256 with upstream\'s key id: base64url(sha256(PKIX public key))', async () => {
    const { token } = await issuer().issueToken(sa);
    const spki = createPublicKey(rsa.privateKey).export({ type: 'spki', format: 'der' });
    const kid = createHash('sha256').update(spki).digest('base64url');
    assert.deepEqual(decode(token, 0), { alg: 'RS256', kid });
    assert.equal(keyIDFromPublicKey(rsa.publicKey), kid);
  });

  it('signs ES256 with an EC key', async () => {
    const { token } = await issuer({}, ec.privateKey).issueToken(sa);
    assert.equal(decode(token, 0).alg, 'ES256');
    const r = await serviceAccountTokenAuthenticator({ publicKeysPem: pubPem(ec), now: clock() }).authenticateToken(token);
    assert.equal(r?.ok, true);
  });

  const bound: Array<[string, BoundObject | undefined, Record<string, unknown>]> = [
    ['an unbound token names only the namespace and service account', undefined, { namespace: 'default', serviceaccount: { name: 'builder', uid: 'sa-uid' } }],
    [
      'a pod-bound token names the pod and the node it runs on',
      { kind: 'Pod', name: 'web-0', uid: 'pod-uid', node: { name: 'node-1', uid: 'node-uid' } },
      { namespace: 'default', node: { name: 'node-1', uid: 'node-uid' }, pod: { name: 'web-0', uid: 'pod-uid' }, serviceaccount: { name: 'builder', uid: 'sa-uid' } },
    ],
    ['a secret-bound token names the secret', { kind: 'Secret', name: 's', uid: 'secret-uid' }, { namespace: 'default', secret: { name: 's', uid: 'secret-uid' }, serviceaccount: { name: 'builder', uid: 'sa-uid' } }],
    ['a node-bound token names the node', { kind: 'Node', name: 'node-1', uid: 'node-uid' }, { namespace: 'default', node: { name: 'node-1', uid: 'node-uid' }, serviceaccount: { name: 'builder', uid: 'sa-uid' } }],
  ];
  for (const [name, boundObject, k8s] of bound) {
    it(name, async () => {
      const { token, expirationTimestamp } = await issuer().issueToken({ ...sa, ...(boundObject ? { boundObject } : {}) });
      const payload = decode(token, 1);
      assert.deepEqual(payload, {
        aud: [DEFAULT_ISSUER],
        exp: t0 + 3600,
        iat: t0,
        iss: DEFAULT_ISSUER,
        jti: 'jti-1',
        'kubernetes.io': k8s,
        nbf: t0,
        sub: 'system:serviceaccount:default:builder',
      });
      // Keys sorted at every level, as Go's claim merging produces.
      assert.equal(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString(), JSON.stringify(payload));
      assert.equal(expirationTimestamp.getTime(), (t0 + 3600) * 1000);
    });
  }

  it('uses the asked audiences and lifetime', async () => {
    const { token } = await issuer().issueToken({ ...sa, audiences: ['vault'], expirationSeconds: 600 });
    assert.deepEqual([decode(token, 1).aud, decode(token, 1).exp], [['vault'], t0 + 600]);
  });

  it('extends the kubelet\'s 3607 s pod tokens to a year with warnafter, and reports the asked expiry', async () => {
    const { token, expirationTimestamp } = await issuer().issueToken({ ...sa, expirationSeconds: 3607, boundObject: { kind: 'Pod', name: 'p', uid: 'u' } });
    const p = decode(token, 1);
    assert.equal(p.exp, t0 + EXPIRATION_EXTENSION_SECONDS);
    assert.equal((p['kubernetes.io'] as Record<string, unknown>).warnafter, t0 + 3607);
    assert.equal(expirationTimestamp.getTime(), (t0 + 3607) * 1000);
  });

  it('does not extend when the extension is off, the token is not pod-bound or is for another audience', async () => {
    for (const [o, req] of [
      [{ extendExpiration: false }, { boundObject: { kind: 'Pod', name: 'p', uid: 'u' } as BoundObject }],
      [{}, {}],
      [{}, { boundObject: { kind: 'Pod', name: 'p', uid: 'u' } as BoundObject, audiences: ['vault'] }],
    ] as const) {
      const { token } = await issuer(o).issueToken({ ...sa, expirationSeconds: 3607, ...req });
      assert.equal(decode(token, 1).exp, t0 + 3607);
    }
  });

  it('caps the lifetime at --service-account-max-token-expiration', async () => {
    const { token, expirationTimestamp } = await issuer({ maxExpirationSeconds: 7200 }).issueToken({ ...sa, expirationSeconds: 86400 });
    assert.equal(decode(token, 1).exp, t0 + 7200);
    assert.equal(expirationTimestamp.getTime(), (t0 + 7200) * 1000);
  });

  const invalid: Array<[string, number]> = [
    ['less than 10 minutes', 599],
    ['more than 2^32 seconds', 2 ** 32 + 1],
  ];
  for (const [name, exp] of invalid) {
    it(`rejects an expiration of ${name} as 422 Invalid on spec.expirationSeconds`, async () => {
      await assert.rejects(issuer().issueToken({ ...sa, expirationSeconds: exp }), (e: unknown) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.code, 422);
        assert.equal(e.reason, 'Invalid');
        assert.equal(e.details?.causes?.[0]?.field, 'spec.expirationSeconds');
        return true;
      });
    });
  }
  it('accepts exactly 10 minutes', async () => assert.ok((await issuer().issueToken({ ...sa, expirationSeconds: 600 })).token));
});

describe('verifying tokens', () => {
  const tamper = (token: string): string => {
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    payload['kubernetes.io'].serviceaccount.name = 'admin';
    return [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
  };
  type Case = [string, () => Promise<string>, Partial<ServiceAccountTokenAuthenticatorOptions>, AuthResult | 'ok'];
  const cases: Case[] = [
    ['a fresh token is the service account', async () => (await issuer().issueToken(sa)).token, {}, 'ok'],
    ['a token a minute past its expiry is still good (leeway)', async () => (await issuer().issueToken(sa)).token, { now: clock(3600 + 60) }, 'ok'],
    ['a token past expiry plus leeway has expired', async () => (await issuer().issueToken(sa)).token, { now: clock(3600 + 61) }, { ok: false, reason: 'service account token has expired' }],
    ['a token from the future is not valid yet', async () => (await issuer().issueToken(sa)).token, { now: clock(-61) }, { ok: false, reason: 'service account token is not valid yet' }],
    ['a token for another audience is refused', async () => (await issuer().issueToken({ ...sa, audiences: ['vault'] })).token, {}, {
      ok: false,
      reason: `token audiences ["vault"] is invalid for the target audiences ["${DEFAULT_ISSUER}"]`,
    }],
    ['a tampered payload fails the signature', async () => tamper((await issuer().issueToken(sa)).token), {}, { ok: false, reason: 'go-jose/go-jose: error in cryptographic primitive' }],
    ['a token signed by an unknown key finds no key for its kid', async () => (await issuer({}, other.privateKey).issueToken(sa)).token, {}, { ok: false, reason: 'invalid signature, no keys found' }],
    ['a token of another issuer is none of our business', async () => (await issuer({ issuer: 'https://elsewhere' }).issueToken({ ...sa, audiences: [DEFAULT_ISSUER] })).token, {}, undefined],
    ['a token of a second accepted issuer is good', async () => (await issuer({ issuer: 'https://old' }).issueToken({ ...sa, audiences: [DEFAULT_ISSUER] })).token, { issuers: [DEFAULT_ISSUER, 'https://old'], apiAudiences: [DEFAULT_ISSUER] }, 'ok'],
    ['a static token is none of our business', async () => 'abcdef.0123456789abcdef', {}, undefined],
    ['a JSON token is none of our business', async () => '{"a":1}.x.y', {}, undefined],
    ['a legacy secret token is the service account', async () => issuer().issueLegacyToken({ ...sa, secretName: 'builder-token-x' }), {}, 'ok'],
    ['a legacy token is ignored when legacy tokens are off', async () => issuer().issueLegacyToken({ ...sa, secretName: 's' }), { legacy: false }, undefined],
    ['a token whose objects are gone is invalidated', async () => (await issuer().issueToken(sa)).token, { isLive: async () => false }, { ok: false, reason: 'service account token has been invalidated' }],
    ['the liveness hook\'s reason is kept', async () => (await issuer().issueToken(sa)).token, { isLive: async () => ({ reason: 'nope' }) }, { ok: false, reason: 'nope' }],
  ];
  for (const [name, token, o, want] of cases) {
    it(name, async () => {
      const got = await authn(o).authenticateToken(await token());
      if (want === 'ok') assert.equal(got?.ok, true, JSON.stringify(got));
      else assert.deepEqual(got, want);
    });
  }

  it('a key rotation keeps old tokens valid while sa.pub lists both keys', async () => {
    const old = (await issuer({}, other.privateKey).issueToken(sa)).token;
    const both = pubPem(rsa) + pubPem(other);
    assert.equal((await authn({ publicKeysPem: both }).authenticateToken(old))?.ok, true);
  });

  it('checks the audiences a TokenReview asks for', async () => {
    const { token } = await issuer().issueToken({ ...sa, audiences: ['vault', 'api'] });
    const r = await authn().authenticateToken(token, ['vault']);
    assert.deepEqual(r?.ok && r.audiences, ['vault']);
  });

  it('gives the user upstream\'s name, uid, groups and extra', async () => {
    const { token } = await issuer().issueToken({ ...sa, boundObject: { kind: 'Pod', name: 'web-0', uid: 'pod-uid', node: { name: 'node-1', uid: 'node-uid' } } });
    const r = await authn().authenticateToken(token);
    assert.ok(r?.ok);
    assert.deepEqual(r.user, {
      name: 'system:serviceaccount:default:builder',
      uid: 'sa-uid',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
      extra: {
        'authentication.kubernetes.io/pod-name': ['web-0'],
        'authentication.kubernetes.io/pod-uid': ['pod-uid'],
        'authentication.kubernetes.io/credential-id': ['JTI=jti-1'],
        'authentication.kubernetes.io/node-name': ['node-1'],
        'authentication.kubernetes.io/node-uid': ['node-uid'],
      },
    });
    assert.equal(r.authenticator, 'serviceaccount');
  });

  it('gives a legacy token\'s user no extra', async () => {
    const r = await authn().authenticateToken(await issuer().issueLegacyToken({ ...sa, secretName: 's' }));
    assert.ok(r?.ok);
    assert.deepEqual(r.user, { name: 'system:serviceaccount:default:builder', uid: 'sa-uid', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] });
  });
});

describe('splitServiceAccountUsername', () => {
  const cases: Array<[string, { namespace: string; name: string } | undefined]> = [
    ['system:serviceaccount:kube-system:coredns', { namespace: 'kube-system', name: 'coredns' }],
    ['system:serviceaccount:ns:a.b', { namespace: 'ns', name: 'a.b' }],
    ['system:serviceaccount:ns:a:b', undefined],
    ['system:serviceaccount:NS:a', undefined],
    ['system:serviceaccounts:ns', undefined],
    ['alice', undefined],
  ];
  for (const [u, want] of cases) it(`${u} splits to ${JSON.stringify(want)}`, () => assert.deepEqual(splitServiceAccountUsername(u), want));
});

describe('serviceAccountLiveness (--service-account-lookup)', () => {
  const meta = (uid: string, deletionTimestamp?: string) => ({ metadata: { uid, ...(deletionTimestamp ? { deletionTimestamp } : {}) } });
  const longAgo = new Date(T0.getTime() - 120_000).toISOString();
  const justNow = new Date(T0.getTime() - 10_000).toISOString();
  type World = { sa?: ReturnType<typeof meta> & { secrets?: Array<{ name: string }> }; pod?: ReturnType<typeof meta>; secret?: ReturnType<typeof meta> & { data?: Record<string, string>; metadata: { labels?: Record<string, string> } }; node?: ReturnType<typeof meta> };
  const getters = (w: World): LivenessGetters => ({
    getServiceAccount: async () => w.sa,
    getPod: async () => w.pod,
    getSecret: async () => w.secret,
    getNode: async () => w.node,
    now: clock(),
  });
  const live = async (w: World, bound?: BoundObject): Promise<AuthResult> => {
    const { token } = await issuer().issueToken({ ...sa, ...(bound ? { boundObject: bound } : {}) });
    return authn({ isLive: serviceAccountLiveness(getters(w)) }).authenticateToken(token);
  };
  const pod: BoundObject = { kind: 'Pod', name: 'p', uid: 'pod-uid' };
  const cases: Array<[string, World, BoundObject | undefined, string | 'ok']> = [
    ['a token of an existing service account is live', { sa: meta('sa-uid') }, undefined, 'ok'],
    ['a deleted service account invalidates it', {}, undefined, 'serviceaccount "builder" not found'],
    ['a re-created service account invalidates it', { sa: meta('new-uid') }, undefined, 'service account UID (new-uid) does not match claim (sa-uid)'],
    ['a service account deleting for more than a minute invalidates it', { sa: meta('sa-uid', longAgo) }, undefined, 'service account default/builder has been deleted'],
    ['a service account deleting for seconds does not yet', { sa: meta('sa-uid', justNow) }, undefined, 'ok'],
    ['a live bound pod keeps it live', { sa: meta('sa-uid'), pod: meta('pod-uid') }, pod, 'ok'],
    ['a deleted bound pod invalidates it', { sa: meta('sa-uid') }, pod, 'service account token has been invalidated'],
    ['a re-created bound pod invalidates it', { sa: meta('sa-uid'), pod: meta('other') }, pod, 'pod UID (other) does not match service account pod ref claim (pod-uid)'],
    ['a pod deleting for more than a minute invalidates it', { sa: meta('sa-uid'), pod: meta('pod-uid', longAgo) }, pod, 'service account token has been invalidated'],
    ['a re-created bound secret invalidates it', { sa: meta('sa-uid'), secret: { metadata: { uid: 'x' } } }, { kind: 'Secret', name: 's', uid: 'secret-uid' }, 'secret UID (x) does not match service account secret ref claim (secret-uid)'],
    ['a deleted bound node invalidates it', { sa: meta('sa-uid') }, { kind: 'Node', name: 'n', uid: 'node-uid' }, 'service account token has been invalidated'],
    ['a pod-bound token does not check the node it carries', { sa: meta('sa-uid'), pod: meta('pod-uid') }, { ...pod, node: { name: 'gone', uid: 'x' } } as BoundObject, 'ok'],
  ];
  for (const [name, world, bound, want] of cases) {
    it(name, async () => {
      const r = await live(world, bound);
      if (want === 'ok') assert.equal(r?.ok, true, JSON.stringify(r));
      else assert.deepEqual(r, { ok: false, reason: want });
    });
  }

  const legacyCases: Array<[string, (token: string) => World, string | 'ok']> = [
    ['a legacy token matching its secret is live', (t) => ({ sa: meta('sa-uid'), secret: { metadata: { uid: 's' }, data: { token: Buffer.from(t).toString('base64') } } }), 'ok'],
    ['a legacy token whose secret is gone is invalidated', () => ({ sa: meta('sa-uid') }), 'Token has been invalidated'],
    ['a legacy token that differs from the secret\'s copy is refused', () => ({ sa: meta('sa-uid'), secret: { metadata: { uid: 's' }, data: { token: 'eA==' } } }), "Token does not match server's copy"],
    [
      'a legacy token marked invalid since is refused with the way out',
      (t) => ({ sa: meta('sa-uid'), secret: { metadata: { uid: 's', labels: { 'kubernetes.io/legacy-token-invalid-since': '2025-01-01' } }, data: { token: Buffer.from(t).toString('base64') } } }),
      "the token in secret default/builder-token for service account default/builder has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token",
    ],
  ];
  for (const [name, world, want] of legacyCases) {
    it(name, async () => {
      const token = await issuer().issueLegacyToken({ ...sa, secretName: 'builder-token' });
      const r = await authn({ isLive: serviceAccountLiveness(getters(world(token))) }).authenticateToken(token);
      if (want === 'ok') assert.equal(r?.ok, true, JSON.stringify(r));
      else assert.deepEqual(r, { ok: false, reason: want });
    });
  }
});
