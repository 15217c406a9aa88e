// ControllerRevision helpers: Go-compatible JSON and hashes, names, ordering and equality.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  controllerRevisionName,
  equalRevision,
  fnv32,
  fnv32a,
  goJson,
  nextRevision,
  safeEncodeString,
  sortControllerRevisions,
  templateFromRevision,
  templatePatch,
  type Revision,
} from '../../../../src/controllers/history/controllerHistory.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const rev = (name: string, revision: number, data: unknown, created = '2025-01-01T00:00:00Z'): Revision => ({ metadata: { name, creationTimestamp: created }, revision, data: data as Revision['data'] });

describe('controller history', () => {
  it('hashes with FNV-1 and FNV-1a as Go does', () => {
    assert.equal(fnv32(bytes('')), 0x811c9dc5);
    assert.equal(fnv32(bytes('a')), 0x050c5d7e);
    assert.equal(fnv32a(bytes('a')), 0xe40c292c);
  });
  it('safe-encodes digits without vowels', () => assert.equal(safeEncodeString('123'), '567'));
  it('writes JSON as Go marshals a map: sorted keys, HTML characters escaped', () => {
    assert.equal(goJson({ b: 1, a: [{ d: '<x>', c: null }], e: true }), '{"a":[{"c":null,"d":"\\u003cx\\u003e"}],"b":1,"e":true}');
  });
  it('makes a template-replacing patch with sorted keys and reads the template back', () => {
    const t = { spec: { containers: [{ name: 'c', image: 'i' }] }, metadata: { labels: { app: 'a' } } };
    const p = templatePatch(t);
    assert.equal(JSON.stringify(p), '{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"a"}},"spec":{"containers":[{"image":"i","name":"c"}]}}}}');
    assert.deepEqual(templateFromRevision(rev('r', 1, p)), t);
  });
  it('cuts long name prefixes to 223 bytes', () => assert.equal(controllerRevisionName('x'.repeat(300), 'h').length, 225));
  it('orders revisions by number, then creation time, then name; the next number follows the highest', () => {
    const sorted = sortControllerRevisions([rev('c', 2, {}), rev('b', 1, {}, '2025-01-02T00:00:00Z'), rev('a', 1, {}, '2025-01-02T00:00:00Z'), rev('z', 1, {})]);
    assert.deepEqual(
      sorted.map((r) => r.metadata?.name),
      ['z', 'a', 'b', 'c'],
    );
    assert.equal(nextRevision(sorted), 3);
    assert.equal(nextRevision([]), 1);
  });
  it('compares revisions by data', () => {
    assert.equal(equalRevision(rev('a', 1, { x: 1, y: 2 }), rev('b', 2, { y: 2, x: 1 })), true);
    assert.equal(equalRevision(rev('a', 1, { x: 1 }), rev('b', 2, { x: 2 })), false);
  });
});
