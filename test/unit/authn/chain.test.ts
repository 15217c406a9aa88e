import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import {
  authenticationChain,
  bearerToken,
  bearerTokenAuthenticator,
  unionAuthenticator,
  type AuthenticationDecision,
} from '../../../src/apiserver/authn/chain.js';
import type { Authenticator, AuthResult, TokenAuthenticator, UserInfo } from '../../../src/apiserver/authn/types.js';

describe('bearerToken (upstream header rules)', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['a plain bearer header', 'Bearer abc', 'abc'],
    ['the scheme in any case', 'bEaReR abc', 'abc'],
    ['surrounding spaces are trimmed', '  Bearer abc  ', 'abc'],
    ['anything after a further space is ignored', 'Bearer abc def', 'abc'],
    ['two spaces make an empty token: none', 'Bearer  abc', undefined],
    ['a tab is not a separator', 'Bearer\tabc', undefined],
    ['the scheme alone is no token', 'Bearer', undefined],
    ['another scheme is no token', 'Basic YWxpY2U6cHc=', undefined],
    ['no header is no token', undefined, undefined],
  ];
  for (const [name, header, want] of cases) {
    it(name, () => assert.equal(bearerToken(header === undefined ? {} : { authorization: header }), want));
  }
});

const alice: UserInfo = { name: 'alice', groups: ['dev'] };
const fixed = (r: AuthResult): Authenticator => ({ authenticate: async () => r });
const throwing: Authenticator = {
  authenticate: async () => {
    throw new Error('store unavailable');
  },
};
const tokens = (known: Record<string, AuthResult>): TokenAuthenticator => ({ authenticateToken: async (t) => known[t] });

describe('authenticationChain', () => {
  const ok = (user: UserInfo, authenticator = 'x'): AuthResult => ({ ok: true, user, authenticator });
  type Case = [string, Authenticator[], boolean, IncomingHttpHeaders, AuthenticationDecision];
  const cases: Case[] = [
    ['the first authenticator that knows the user wins, and system:authenticated is added', [fixed(undefined), fixed(ok(alice, 'x509')), fixed(ok({ name: 'bob', groups: [] }))], false, {}, {
      authenticated: true,
      user: { name: 'alice', groups: ['dev', 'system:authenticated'] },
      authenticator: 'x509',
    }],
    ['a rejection does not stop a later authenticator from accepting', [fixed({ ok: false, reason: 'x509: bad' }), fixed(ok(alice))], false, {}, {
      authenticated: true,
      user: { name: 'alice', groups: ['dev', 'system:authenticated'] },
      authenticator: 'x',
    }],
    ['no opinion anywhere is 401 without anonymous', [fixed(undefined)], false, {}, { authenticated: false, code: 401, reason: 'no credentials and anonymous authentication is disabled' }],
    ['no opinion anywhere is system:anonymous with anonymous', [fixed(undefined)], true, {}, {
      authenticated: true,
      user: { name: 'system:anonymous', groups: ['system:unauthenticated'] },
      authenticator: 'anonymous',
    }],
    ['a rejected credential is 401 even with anonymous on', [fixed({ ok: false, reason: 'expired' }), fixed(undefined)], true, {}, { authenticated: false, code: 401, reason: 'expired' }],
    ['several rejections aggregate as Go prints them', [fixed({ ok: false, reason: 'a' }), fixed({ ok: false, reason: 'b' })], true, {}, { authenticated: false, code: 401, reason: '[a, b]' }],
    ['an authenticator that throws rejects, it never admits', [throwing], true, {}, { authenticated: false, code: 401, reason: 'store unavailable' }],
    ['a bearer token nobody knows is 401, not anonymous', [bearerTokenAuthenticator([tokens({})])], true, { authorization: 'Bearer nope' }, { authenticated: false, code: 401, reason: 'invalid bearer token' }],
    ['a known bearer token is its user', [bearerTokenAuthenticator([tokens({}), tokens({ t: ok(alice, 'tokenfile') })])], false, { authorization: 'Bearer t' }, {
      authenticated: true,
      user: { name: 'alice', groups: ['dev', 'system:authenticated'] },
      authenticator: 'tokenfile',
    }],
    ['a token rejected by one and unknown to the rest keeps the rejection reason', [bearerTokenAuthenticator([tokens({ t: { ok: false, reason: 'service account token has expired' } }), tokens({})])], true, { authorization: 'Bearer t' }, {
      authenticated: false,
      code: 401,
      reason: 'service account token has expired',
    }],
    ['a Basic header is no opinion for the bearer authenticator', [bearerTokenAuthenticator([tokens({})])], true, { authorization: 'Basic eDp5' }, {
      authenticated: true,
      user: { name: 'system:anonymous', groups: ['system:unauthenticated'] },
      authenticator: 'anonymous',
    }],
    ['a user that already is system:authenticated gets it once', [fixed(ok({ name: 'x', groups: ['system:authenticated'] }))], false, {}, {
      authenticated: true,
      user: { name: 'x', groups: ['system:authenticated'] },
      authenticator: 'x',
    }],
  ];
  for (const [name, authenticators, anonymous, headers, want] of cases) {
    it(name, async () => assert.deepEqual(await authenticationChain({ authenticators, anonymous }).authenticate({ headers }), want));
  }

  it('deletes the Authorization header once a bearer token authenticated', async () => {
    const headers: IncomingHttpHeaders = { authorization: 'Bearer t', host: 'h' };
    await bearerTokenAuthenticator([tokens({ t: ok(alice) })]).authenticate({ headers });
    assert.deepEqual(headers, { host: 'h' });
  });

  it('keeps the Authorization header of a rejected token', async () => {
    const headers: IncomingHttpHeaders = { authorization: 'Bearer t' };
    await bearerTokenAuthenticator([tokens({})]).authenticate({ headers });
    assert.equal(headers.authorization, 'Bearer t');
  });

  it('the union alone has no opinion when nobody has one', async () => assert.equal(await unionAuthenticator([fixed(undefined)]).authenticate({ headers: {} }), undefined));
});
