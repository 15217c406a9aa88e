import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyMergePatch, PatchError, type JsonObject } from '../../../src/api/patch/index.js';

describe('applyMergePatch follows RFC 7386', () => {
  const cases: Array<[string, JsonObject, unknown, JsonObject]> = [
    ['sets a new field', { spec: { replicas: 1 } }, { spec: { paused: true } }, { spec: { replicas: 1, paused: true } }],
    ['replaces a scalar', { spec: { replicas: 1 } }, { spec: { replicas: 3 } }, { spec: { replicas: 3 } }],
    ['deletes a field set to null', { metadata: { labels: { app: 'web', tier: 'fe' } } }, { metadata: { labels: { tier: null } } }, { metadata: { labels: { app: 'web' } } }],
    ['ignores null for a field that is not there', { spec: { replicas: 1 } }, { spec: { paused: null } }, { spec: { replicas: 1 } }],
    ['replaces a list whole, with no merging by name', { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } }, { spec: { containers: [{ name: 'a', image: 'z' }] } }, { spec: { containers: [{ name: 'a', image: 'z' }] } }],
    ['replaces a scalar with an object', { spec: { strategy: 'Recreate' } }, { spec: { strategy: { type: 'RollingUpdate' } } }, { spec: { strategy: { type: 'RollingUpdate' } } }],
    ['replaces an object with a scalar', { spec: { strategy: { type: 'RollingUpdate' } } }, { spec: { strategy: 'Recreate' } }, { spec: { strategy: 'Recreate' } }],
    ['drops nulls inside an object it adds', { spec: {} }, { spec: { selector: { matchLabels: { app: 'web', old: null } } } }, { spec: { selector: { matchLabels: { app: 'web' } } } }],
    ['keeps nulls inside a list it adds', { spec: {} }, { spec: { args: ['a', null] } }, { spec: { args: ['a', null] } }],
    ['leaves the object alone for an empty patch', { spec: { replicas: 1 } }, {}, { spec: { replicas: 1 } }],
    ['merges into a field that was null as if it were missing', { spec: { selector: null } }, { spec: { selector: { a: 1, b: null } } }, { spec: { selector: { a: 1 } } }],
  ];
  for (const [name, doc, patch, want] of cases) {
    it(name, () => {
      const before = structuredClone(doc);
      assert.deepEqual(applyMergePatch(doc, patch), want);
      assert.deepEqual(doc, before, 'the input document is not modified');
    });
  }
});

describe('applyMergePatch refuses patches that are not objects', () => {
  const cases: Array<[string, unknown, PatchError['code']]> = [
    ['null, as upstream answers "Invalid JSON Patch"', null, 'BadRequest'],
    ['a number', 5, 'BadRequest'],
    ['a string', 'x', 'BadRequest'],
    ['a list, whose result would not be an object', [{ a: 1 }], 'Invalid'],
  ];
  for (const [name, patch, code] of cases) {
    it(`answers ${code} for ${name}`, () => {
      assert.throws(() => applyMergePatch({ a: 1 }, patch), (e: unknown) => e instanceof PatchError && e.code === code);
    });
  }
});
