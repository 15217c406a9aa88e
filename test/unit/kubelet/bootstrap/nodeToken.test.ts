import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BOOTSTRAPPERS_GROUP, NODE_TOKEN_GROUP, NODE_TOKEN_USER, nodeTokenAuthenticator } from '../../../../src/apiserver/authentication.js';
import { caHashOf, ensureNodeToken, formatNodeToken, NodeTokenError, parseNodeToken, verifyCAHash } from '../../../../src/server/nodeToken.js';
import { tempDir } from '../../../support/tmp.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const HASH = createHash('sha256').update(CA).digest('hex');

describe('node token format', () => {
  it('is K10 + sha256 hex of the CA PEM bytes + ::server: + the secret, as k3s writes it', () => {
    assert.equal(formatNodeToken(CA, 'abc123'), `K10${HASH}::server:abc123`);
    assert.equal(caHashOf(CA), HASH);
  });

  const cases: Array<{ name: string; token: string; want?: { caHash?: string; username?: string; secret: string }; error?: string }> = [
    { name: 'a full token parses into hash, user and secret', token: `K10${HASH}::server:s3cret`, want: { caHash: HASH, username: 'server', secret: 's3cret' } },
    { name: 'surrounding whitespace (a file with a newline) is ignored', token: `  K10${HASH}::server:s3cret\n`, want: { caHash: HASH, username: 'server', secret: 's3cret' } },
    { name: 'an upper-case hash is accepted and normalised', token: `K10${HASH.toUpperCase()}::server:x`, want: { caHash: HASH, username: 'server', secret: 'x' } },
    { name: 'a secret may itself contain colons', token: `K10${HASH}::node:a:b`, want: { caHash: HASH, username: 'node', secret: 'a:b' } },
    { name: 'a token without K10 is a plain secret with no CA pin', token: 'plainsecret', want: { secret: 'plainsecret' } },
    { name: 'an empty token is refused', token: '  ', error: 'InvalidToken' },
    { name: 'a K10 token without :: is refused rather than taken as a plain secret', token: `K10${HASH}server:x`, error: 'InvalidToken' },
    { name: 'a K10 token with a short hash is refused', token: 'K10abcd::server:x', error: 'InvalidToken' },
    { name: 'a K10 token without user:secret is refused', token: `K10${HASH}::server`, error: 'InvalidToken' },
    { name: 'a K10 token with an empty secret is refused', token: `K10${HASH}::server:`, error: 'InvalidToken' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error) {
        assert.throws(() => parseNodeToken(c.token), (err: unknown) => err instanceof NodeTokenError && err.code === c.error);
        return;
      }
      assert.deepEqual(parseNodeToken(c.token), c.want);
    });
  }

  it('verifyCAHash accepts the pinned CA and names both hashes when another CA is served', () => {
    const t = parseNodeToken(formatNodeToken(CA, 'x'));
    verifyCAHash(t, CA, 'https://s:6443');
    assert.throws(
      () => verifyCAHash(t, CA.replace('fake', 'other'), 'https://s:6443'),
      (err: unknown) => err instanceof NodeTokenError && err.code === 'CAHashMismatch' && err.message.includes(HASH) && err.message.includes('https://s:6443/cacerts'),
    );
    // A plain secret pins nothing.
    verifyCAHash(parseNodeToken('plain'), 'anything', 'https://s:6443');
  });
});

describe('ensureNodeToken', () => {
  it('creates node-token and token (0600, same content, 32 hex digits of secret) and keeps the secret across restarts', async () => {
    const dir = tempDir('k8ts-t-token-');
    try {
      const first = await ensureNodeToken(dir.path, CA);
      assert.match(first.secret, /^[0-9a-f]{32}$/);
      assert.equal(first.token, `K10${HASH}::server:${first.secret}`);
      for (const f of ['node-token', 'token']) {
        const p = join(dir.path, 'server', f);
        assert.equal(readFileSync(p, 'utf8'), `${first.token}\n`);
        assert.equal(statSync(p).mode & 0o777, 0o600);
      }
      const again = await ensureNodeToken(dir.path, CA);
      assert.equal(again.token, first.token);
      // A new CA keeps the secret but the pin follows the CA.
      const rotated = await ensureNodeToken(dir.path, CA.replace('fake', 'new'));
      assert.equal(rotated.secret, first.secret);
      assert.equal(rotated.token, formatNodeToken(CA.replace('fake', 'new'), first.secret));
      assert.equal(readFileSync(join(dir.path, 'server', 'token'), 'utf8').trim(), rotated.token);
    } finally {
      dir.remove();
    }
  });

  it('replaces a damaged token file with a fresh token', async () => {
    const dir = tempDir('k8ts-t-token-');
    try {
      await ensureNodeToken(dir.path, CA);
      writeFileSync(join(dir.path, 'server', 'node-token'), 'K10garbage');
      writeFileSync(join(dir.path, 'server', 'token'), 'K10garbage');
      const t = await ensureNodeToken(dir.path, CA);
      assert.match(t.token, /^K10[0-9a-f]{64}::server:[0-9a-f]{32}$/);
    } finally {
      dir.remove();
    }
  });
});

describe('nodeTokenAuthenticator', () => {
  const token = formatNodeToken(CA, 'deadbeef');
  const authn = nodeTokenAuthenticator({ token, secret: 'deadbeef' });
  const cases: Array<{ name: string; presented: string; ok: boolean }> = [
    { name: 'the full token authenticates', presented: token, ok: true },
    { name: 'the secret part alone authenticates (k3s accepts both)', presented: 'deadbeef', ok: true },
    { name: 'another secret gets no opinion, so other authenticators may decide', presented: 'deadbeee', ok: false },
    { name: 'the full token with another secret gets no opinion', presented: formatNodeToken(CA, 'other'), ok: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await authn.authenticateToken(c.presented);
      if (!c.ok) {
        assert.equal(r, undefined);
        return;
      }
      assert.ok(r?.ok);
      assert.equal(r.user.name, NODE_TOKEN_USER);
      assert.deepEqual(r.user.groups, [BOOTSTRAPPERS_GROUP, NODE_TOKEN_GROUP, 'system:authenticated']);
    });
  }
});
