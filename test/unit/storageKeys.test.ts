import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inRange, prefixRangeEnd } from '../../src/storage/kv.js';
import { decodeContinue, encodeContinue, encodeKey } from '../../src/storage/store.js';
import { parseDuration } from '../../src/cli/main.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('prefixRangeEnd', () => {
  const cases: Array<[string, Buffer, Buffer]> = [
    ['increments the last byte of a plain prefix', b('/registry/pods/'), b('/registry/pods0')],
    ['drops trailing 0xff bytes before incrementing', Buffer.from([0x61, 0xff, 0xff]), Buffer.from([0x62])],
    ['means every key when the prefix is all 0xff', Buffer.from([0xff]), Buffer.from([0])],
    ['means every key for the empty prefix', Buffer.alloc(0), Buffer.from([0])],
  ];
  for (const [name, prefix, want] of cases) it(name, () => assert.deepEqual(prefixRangeEnd(prefix), want));
});

describe('inRange', () => {
  const pods = { key: b('/registry/pods/'), rangeEnd: prefixRangeEnd(b('/registry/pods/')) };
  const cases: Array<[string, Buffer, { key: Buffer; rangeEnd?: Buffer }, boolean]> = [
    ['a key under the prefix is in', b('/registry/pods/ns/a'), pods, true],
    ['a sibling resource sharing letters is out', b('/registry/podsecuritypolicies/x'), pods, false],
    ['the prefix directory itself is in', b('/registry/pods/'), pods, true],
    ['a single-key range holds only that key', b('/a'), { key: b('/a') }, true],
    ['a single-key range does not hold a longer key', b('/ab'), { key: b('/a') }, false],
    ['an open range holds everything after its key', b('/zzz'), { key: b('/a'), rangeEnd: Buffer.from([0]) }, true],
    ['an open range holds nothing before its key', b('/0'), { key: b('/a'), rangeEnd: Buffer.from([0]) }, false],
  ];
  for (const [name, key, range, want] of cases) it(name, () => assert.equal(inRange(key, range), want));
});

describe('encodeKey', () => {
  const good = ['/registry/pods/default/nginx', '/registry/minions/node-1', '/registry/pods/'];
  for (const k of good) it(`accepts ${k}`, () => assert.equal(encodeKey(k).toString(), k));
  const bad: Array<[string, string]> = [
    ['an empty key', ''],
    ['a relative key', 'registry/pods/x'],
    ['an empty segment', '/registry//x'],
    ['a dot-dot segment', '/registry/../x'],
    ['a dot segment', '/registry/./x'],
    ['a NUL byte', '/registry/x\u0000'],
    ['a 5,000-byte key', `/${'k'.repeat(5000)}`],
  ];
  for (const [name, k] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => encodeKey(k), (e: unknown) => (e as { code?: string }).code === 'InvalidKey'));
  }
});

describe('continue tokens', () => {
  it('round-trip the revision and start key in upstream format', () => {
    const token = encodeContinue(42, 'ns/p3\u0000');
    assert.deepEqual(JSON.parse(Buffer.from(token, 'base64url').toString()), { v: 'meta.k8s.io/v1', rv: 42, start: 'ns/p3\u0000' });
    assert.deepEqual(decodeContinue(token), { rv: 42, start: 'ns/p3\u0000' });
  });
  const bad: Array<[string, string]> = [
    ['garbage', '%%%'],
    ['another version', Buffer.from(JSON.stringify({ v: 'x', rv: 1, start: 'a' })).toString('base64url')],
    ['a negative revision', Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: -1, start: 'a' })).toString('base64url')],
    ['a start that climbs out of the prefix', Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: 1, start: '../x' })).toString('base64url')],
    ['an absolute start', Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: 1, start: '/registry' })).toString('base64url')],
  ];
  for (const [name, t] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => decodeContinue(t), (e: unknown) => (e as { code?: string }).code === 'InvalidContinue'));
  }
});

describe('parseDuration', () => {
  const cases: Array<[string, number]> = [
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['90s', 90_000],
    ['2', 2000],
  ];
  for (const [text, ms] of cases) it(`reads ${text} as ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  it('refuses words', () => assert.throws(() => parseDuration('soon')));
});
