// The structured walks behind server-side apply: merging a configuration, comparing two objects,
// removing owned items. Expectations restate structured-merge-diff's own tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldSet, pathString, type JsonObject, type JsonValue } from '../../../src/api/patch/index.js';
import { compareObjects, mergeApplied, removeItems, withNamedFieldsAsMembers } from '../../../src/api/patch/typed.js';
import { atomicList, int, mergeList, obj, pod, setList, str, bool } from './schemaFixture.js';

const sets = obj({ tags: setList(str) });
/** "abc" → ["a", "b", "c"]: one character per set item. */
const chars = (s: string): string[] => [...s];

describe('mergeApplied on sets keeps live order and places the configuration items by theirs', () => {
  const cases: Array<[string, string, string, string]> = [
    ['keeps an item the configuration omits', 'abc', 'ab', 'abc'],
    ['appends an item the configuration adds', 'ab', 'abc', 'abc'],
    ['keeps everything for an empty configuration', 'abc', '', 'abc'],
    ['takes the configuration into an empty set', '', 'abc', 'abc'],
    ['takes the configuration order for the items both name', 'ab', 'ba', 'ba'],
    ['appends disjoint items after the live ones', 'abc', 'def', 'abcdef'],
    ['continues after a shared last item', 'abc', 'cdef', 'abcdef'],
    ['keeps a live-only item before the new ones that follow a shared item', 'abcgf', 'cdef', 'abcgdef'],
    ['inserts new items before the shared item they precede', 'cdef', 'ace', 'acdef'],
    ['appends new items after live-only ones at the end', 'abcxyz', 'def', 'abcxyzdef'],
    ['places new items before the shared tail', 'abcxyz', 'defxyz', 'abcdefxyz'],
    ['reorders the shared items as configured', 'cagf', 'cfag', 'cfag'],
    ['moves a shared item behind the new ones configured before it', 'abcd', 'defa', 'bcdefa'],
    ['interleaves live-only runs with configured items', 'cdefghij', '2h3e4kl', 'cdfg2hij3e4kl'],
    ['interleaves at both ends', 'abcdefghij', '1b2h3e4kl', 'a1bcdfg2hij3e4kl'],
    ['keeps live duplicates the configuration does not name', 'abb', 'c', 'abbc'],
    ['collapses live duplicates the configuration names', 'abb', 'b', 'ab'],
    ['keeps live duplicates when the configuration names another item', 'abb', 'a', 'abb'],
    ['keeps a duplicate in place when configured items come around it', 'abcdec', '1b2ed', 'a1bc2ecd'],
    ['keeps one of a duplicate the configuration names', 'abcdec', '1b2ced', 'a1b2ced'],
    ['replaces one duplicated item and keeps another', 'aabb', 'bcd', 'aabcd'],
    ['keeps every duplicate for an empty configuration', 'aabb', '', 'aabb'],
    ['collapses every duplicate the configuration names', 'cagfca', 'cfag', 'cfag'],
  ];
  for (const [name, live, applied, want] of cases) {
    it(name, () => assert.deepEqual(mergeApplied({ tags: chars(live) }, { tags: chars(applied) }, sets), { tags: chars(want) }));
  }

  it('keeps booleans and numbers of both sides', () => {
    const s = obj({ flags: setList(bool), nums: setList(int) });
    assert.deepEqual(mergeApplied({ flags: [true], nums: [1, 2, 3.5] }, { flags: [false], nums: [1, 2, 3] }, s), { flags: [true, false], nums: [1, 2, 3.5, 3] });
  });
});

describe('mergeApplied on list-maps and atomic lists', () => {
  const item = obj({ key: str, id: int, value: str, n: int });
  const schema = obj({ list: mergeList(item, 'key', ['key', 'id']), atomic: atomicList(str) });
  const kv = (key: string, id: number, extra: JsonObject = {}): JsonObject => ({ key, id, ...extra });
  const cases: Array<[string, JsonObject, JsonObject, JsonObject]> = [
    ['changes nothing for an identical item', { list: [kv('a', 1, { value: 'x' })] }, { list: [kv('a', 1, { value: 'x' })] }, { list: [kv('a', 1, { value: 'x' })] }],
    ['treats items differing in one key field as different items', { list: [kv('a', 1)] }, { list: [kv('a', 2)] }, { list: [kv('a', 1), kv('a', 2)] }],
    ['appends a new item after the live-only ones', { list: [kv('a', 1), kv('b', 1)] }, { list: [kv('a', 1), kv('a', 2)] }, { list: [kv('a', 1), kv('b', 1), kv('a', 2)] }],
    ['places new items around a shared one as configured', { list: [kv('b', 2)] }, { list: [kv('a', 1), kv('b', 2), kv('c', 3)] }, { list: [kv('a', 1), kv('b', 2), kv('c', 3)] }],
    ['reorders shared items and keeps a live-only first item first', { list: [kv('a', 1), kv('b', 2), kv('c', 3)] }, { list: [kv('c', 3), kv('b', 2)] }, { list: [kv('a', 1), kv('c', 3), kv('b', 2)] }],
    ['moves a live-only item before the shared items that followed it', { list: [kv('a', 1), kv('b', 2), kv('c', 3)] }, { list: [kv('c', 3), kv('a', 1)] }, { list: [kv('b', 2), kv('c', 3), kv('a', 1)] }],
    ['merges the fields of an item, configuration winning', { list: [kv('a', 1, { value: 'x', n: 1 })] }, { list: [kv('a', 1, { n: 2 })] }, { list: [kv('a', 1, { value: 'x', n: 2 })] }],
    ['replaces live duplicates with the configured item', { list: [kv('a', 1, { value: 'x' }), kv('b', 2), kv('a', 1, { n: 2 })] }, { list: [kv('a', 1, { n: 3 }), kv('c', 3), kv('b', 2)] }, { list: [kv('a', 1, { n: 3 }), kv('c', 3), kv('b', 2)] }],
    ['keeps live duplicates for an empty configuration list', { list: [kv('a', 1, { n: 1 }), kv('a', 1, { n: 2 })] }, { list: [] }, { list: [kv('a', 1, { n: 1 }), kv('a', 1, { n: 2 })] }],
    ['replaces an atomic list whole', { atomic: ['a', 'b', 'c'] }, { atomic: ['x'] }, { atomic: ['x'] }],
    ['empties an atomic list configured empty', { atomic: ['a', 'b', 'c'] }, { atomic: [] }, { atomic: [] }],
    ['removes an atomic list configured null (stored as the zero value upstream)', { atomic: ['a'] }, { atomic: null }, {}],
    ['keeps an empty configured map beside live entries', { m: { a: 1 } }, { m: {} }, { m: { a: 1 } }],
  ];
  for (const [name, live, applied, want] of cases) it(name, () => assert.deepEqual(mergeApplied(live, applied, schema), want));
});

describe('compareObjects', () => {
  const paths = (s: FieldSet): string[] => s.paths().map(pathString);
  const spec = (s: JsonObject): JsonObject => ({ spec: s });
  const cases: Array<[string, JsonObject, JsonObject, { added?: string[]; modified?: string[]; removed?: string[] }]> = [
    ['reports a changed scalar as modified', spec({ restartPolicy: 'Always' }), spec({ restartPolicy: 'Never' }), { modified: ['.spec.restartPolicy'] }],
    ['reports a new container with its fields as added, the item itself included', spec({ containers: [{ name: 'a' }] }), spec({ containers: [{ name: 'a' }, { name: 'b', image: 'x' }] }), {
      added: ['.spec.containers[name="b"]', '.spec.containers[name="b"].image', '.spec.containers[name="b"].name'],
    }],
    ['reports a removed label and the map it emptied as removed', { metadata: { labels: { a: '1' } } }, { metadata: {} }, {
      removed: ['.metadata.labels', '.metadata.labels.a'],
    }],
    ['reports a changed atomic list as one modified field', spec({ tolerations: [{ key: 'a' }] }), spec({ tolerations: [{ key: 'b' }] }), { modified: ['.spec.tolerations'] }],
    ['reports a set item swap as one removed and one added', { metadata: { finalizers: ['a'] } }, { metadata: { finalizers: ['b'] } }, {
      added: ['.metadata.finalizers[="b"]'],
      removed: ['.metadata.finalizers[="a"]'],
    }],
    ['reports nothing for a reordered set', { metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['b', 'a'] } }, {}],
    ['reports a changed atomic map as one modified field', spec({ nodeSelector: { a: '1' } }), spec({ nodeSelector: { a: '2' } }), { modified: ['.spec.nodeSelector'] }],
  ];
  for (const [name, lhs, rhs, want] of cases) {
    it(name, () => {
      const got = compareObjects(lhs, rhs, pod);
      assert.deepEqual(
        { added: paths(got.added), modified: paths(got.modified), removed: paths(got.removed) },
        { added: want.added ?? [], modified: want.modified ?? [], removed: want.removed ?? [] },
      );
    });
  }
});

describe('removeItems and named fields', () => {
  const f = (field: string) => ({ field });
  const live: JsonObject = {
    metadata: { labels: { app: 'web', tier: 'fe' }, finalizers: ['a', 'b'] },
    spec: { containers: [{ name: 'app', image: 'x' }, { name: 'log' }], restartPolicy: 'Always' },
  };
  const cases: Array<[string, FieldSet, JsonValue]> = [
    ['removes one label', FieldSet.of([f('metadata'), f('labels'), f('tier')]), { ...live, metadata: { labels: { app: 'web' }, finalizers: ['a', 'b'] } }],
    ['removes a container by its key', FieldSet.of([f('spec'), f('containers'), { key: [['name', 'log']] }]), { ...live, spec: { containers: [{ name: 'app', image: 'x' }], restartPolicy: 'Always' } }],
    ['removes a set item by value', FieldSet.of([f('metadata'), f('finalizers'), { value: 'a' }]), { ...live, metadata: { labels: { app: 'web', tier: 'fe' }, finalizers: ['b'] } }],
    ['drops a map emptied by the removal', FieldSet.of([f('metadata'), f('labels'), f('app')], [f('metadata'), f('labels'), f('tier')]), { ...live, metadata: { finalizers: ['a', 'b'] } }],
  ];
  for (const [name, set, want] of cases) it(name, () => assert.deepEqual(removeItems(live, set, pod), want));

  it('adds declared parents of owned fields as members, but not map entries', () => {
    const set = FieldSet.of([f('spec'), f('containers'), { key: [['name', 'app']] }, f('image')], [f('metadata'), f('labels'), f('app')]);
    assert.deepEqual(withNamedFieldsAsMembers(set, pod).paths().map(pathString), [
      '.metadata',
      '.spec',
      '.metadata.labels',
      '.metadata.labels.app',
      '.spec.containers',
      '.spec.containers[name="app"].image',
    ]);
  });
});
