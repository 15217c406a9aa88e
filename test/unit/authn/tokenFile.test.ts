import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadTokenFile, parseCSV, parseTokenFile, tokenFileAuthenticator, TokenFileError } from '../../../src/apiserver/authn/tokenFile.js';
import type { UserInfo } from '../../../src/apiserver/authn/types.js';
import { tempDir } from '../../support/tmp.js';

describe('parseCSV (Go encoding/csv rules)', () => {
  const cases: Array<[string, string, string[][]]> = [
    ['plain fields', 'a,b,c\n', [['a', 'b', 'c']]],
    ['a last line without newline', 'a,b\nc,d', [['a', 'b'], ['c', 'd']]],
    ['CRLF line ends', 'a,b\r\nc,d\r\n', [['a', 'b'], ['c', 'd']]],
    ['empty lines are skipped', '\na,b\n\n\nc\n', [['a', 'b'], ['c']]],
    ['a quoted field may hold commas', 'tok,user,uid,"g1,g2"\n', [['tok', 'user', 'uid', 'g1,g2']]],
    ['a doubled quote is a quote', '"a ""b"" c",d\n', [['a "b" c', 'd']]],
    ['a quoted field may span lines', '"a\nb",c\nd\n', [['a\nb', 'c'], ['d']]],
    ['spaces are kept', ' a , b \n', [[' a ', ' b ']]],
    ['empty fields count', ',,\n', [['', '', '']]],
    ['a line of spaces is a record', '  \n', [['  ']]],
    ['a # line is data, not a comment', '#x,y\n', [['#x', 'y']]],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual(parseCSV(text).map((r) => r.fields), want));

  const errors: Array<[string, string, string]> = [
    ['a bare quote in an unquoted field', 'a,b"c\n', 'parse error on line 1, column 4: bare " in non-quoted-field'],
    ['text after a closing quote', '"a"b,c\n', 'parse error on line 1, column 4: extraneous or missing " in quoted-field'],
    ['an unterminated quote', 'x\n"abc\n', 'extraneous or missing " in quoted-field'],
  ];
  for (const [name, text, msg] of errors) {
    it(`rejects ${name}`, () =>
      assert.throws(() => parseCSV(text), (e: unknown) => e instanceof TokenFileError && e.code === 'InvalidTokenFile' && e.message.includes(msg)));
  }
});

describe('parseTokenFile', () => {
  const cases: Array<[string, string, Array<[string, UserInfo]>]> = [
    ['token, user and uid', 'abc,alice,1001\n', [['abc', { name: 'alice', uid: '1001', groups: [] }]]],
    ['groups in a quoted fourth column', 'abc,alice,1001,"system:masters,dev"\n', [['abc', { name: 'alice', uid: '1001', groups: ['system:masters', 'dev'] }]]],
    ['a single unquoted group', 'abc,alice,1001,dev\n', [['abc', { name: 'alice', uid: '1001', groups: ['dev'] }]]],
    ['columns after the fourth are ignored', 'abc,alice,1001,dev,extra\n', [['abc', { name: 'alice', uid: '1001', groups: ['dev'] }]]],
    ['an empty uid is no uid', 'abc,alice,\n', [['abc', { name: 'alice', groups: [] }]]],
    ['an empty token is skipped', ',alice,1\nt,bob,2\n', [['t', { name: 'bob', uid: '2', groups: [] }]]],
    ['a duplicate token replaces the earlier one', 't,alice,1\nt,bob,2\n', [['t', { name: 'bob', uid: '2', groups: [] }]]],
    ['an empty file has no tokens', '', []],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual([...parseTokenFile(text)], want));

  it('refuses a record of fewer than 3 columns with upstream\'s message', () => {
    assert.throws(
      () => parseTokenFile('abc,alice\n', '/etc/k8ts/tokens.csv'),
      (e: unknown) => e instanceof TokenFileError && e.message === "token file '/etc/k8ts/tokens.csv' must have at least 3 columns (token, user name, user uid), found 2",
    );
  });
});

describe('tokenFileAuthenticator', () => {
  const users = parseTokenFile('t1,alice,1,"dev,ops"\n');
  const a = tokenFileAuthenticator(users);
  it('knows its tokens and adds system:authenticated', async () => {
    assert.deepEqual(await a.authenticateToken('t1'), { ok: true, user: { name: 'alice', uid: '1', groups: ['dev', 'ops', 'system:authenticated'] }, authenticator: 'tokenfile' });
  });
  it('has no opinion on other tokens', async () => assert.equal(await a.authenticateToken('t2'), undefined));
  it('does not let callers change its users', async () => {
    const r = await a.authenticateToken('t1');
    if (r?.ok) r.user.groups.push('system:masters');
    assert.deepEqual(users.get('t1')?.groups, ['dev', 'ops']);
  });
  it('loads from a file', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'tokens.csv'), 'tok,bob,2\n');
      assert.equal((await (await loadTokenFile(join(dir.path, 'tokens.csv'))).authenticateToken('tok'))?.ok, true);
    } finally {
      dir.remove();
    }
  });
});
