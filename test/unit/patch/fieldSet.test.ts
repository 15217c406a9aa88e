import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldSet, fieldSet, fromFieldsV1, pathString, PatchError, toFieldsV1, type FieldPath, type JsonObject, type PathElement } from '../../../src/api/patch/index.js';
import { parsePathElement, serializePathElement } from '../../../src/api/patch/fieldSet.js';
import { deployment, pod } from './schemaFixture.js';

const f = (field: string): PathElement => ({ field });
const k = (...pairs: Array<[string, string | number]>): PathElement => ({ key: pairs });
const v = (value: string | number | boolean): PathElement => ({ value });

describe('path elements', () => {
  const cases: Array<[string, PathElement, string, string]> = [
    ['a field', f('replicas'), 'f:replicas', '.replicas'],
    ['a list-map item with one key', k(['name', 'nginx']), 'k:{"name":"nginx"}', '[name="nginx"]'],
    ['a list-map item with two keys, sorted by name', k(['containerPort', 80], ['protocol', 'TCP']), 'k:{"containerPort":80,"protocol":"TCP"}', '[containerPort=80,protocol="TCP"]'],
    ['a set item', v('kubernetes.io/pv-protection'), 'v:"kubernetes.io/pv-protection"', '[="kubernetes.io/pv-protection"]'],
    ['a numeric set item', v(1000), 'v:1000', '[=1000]'],
    ['an index', { index: 2 }, 'i:2', '[2]'],
    ['a key whose value needs HTML escaping as Go writes it', k(['name', '<a&b>']), 'k:{"name":"\\u003ca\\u0026b\\u003e"}', '[name="<a&b>"]'],
  ];
  for (const [name, pe, serialized, printed] of cases) {
    it(`serializes, parses and prints ${name}`, () => {
      assert.equal(serializePathElement(pe), serialized);
      assert.deepEqual(parsePathElement(serialized), pe);
      assert.equal(pathString([pe]), printed);
    });
  }

  it('prints a whole path as conflicts show it', () => {
    const path: FieldPath = [f('spec'), f('template'), f('spec'), f('containers'), k(['name', 'nginx']), f('image')];
    assert.equal(pathString(path), '.spec.template.spec.containers[name="nginx"].image');
  });

  it('skips element types it does not know, as upstream does', () => assert.equal(parsePathElement('x:whatever'), undefined));

  const bad = ['f', 'fx', 'k:[1]', 'k:{', 'i:one', 'v:{"a"'];
  for (const s of bad) {
    it(`refuses the malformed key ${JSON.stringify(s)}`, () => {
      assert.throws(() => parsePathElement(s), (e: unknown) => e instanceof PatchError && e.code === 'BadRequest');
    });
  }
});

describe('FieldSet in fieldsV1 form', () => {
  it('writes members as {} and members with children with a "." entry, keys in upstream order', () => {
    const set = FieldSet.of(
      [f('spec'), f('replicas')],
      [f('spec'), f('containers'), k(['name', 'b'])],
      [f('spec'), f('containers'), k(['name', 'b']), f('image')],
      [f('spec'), f('containers'), k(['name', 'a'])],
      [f('metadata'), f('finalizers'), v('b')],
      [f('metadata'), f('finalizers'), v('a')],
      [f('metadata'), f('labels')],
      [f('metadata'), f('labels'), f('app')],
    );
    const want = {
      'f:metadata': { 'f:finalizers': { 'v:"a"': {}, 'v:"b"': {} }, 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': { 'f:containers': { 'k:{"name":"a"}': {}, 'k:{"name":"b"}': { '.': {}, 'f:image': {} } }, 'f:replicas': {} },
    };
    assert.equal(JSON.stringify(toFieldsV1(set)), JSON.stringify(want));
  });

  it('reads back what it writes', () => {
    const json = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': {
        'f:replicas': {},
        'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } },
      },
    };
    const set = fromFieldsV1(json);
    assert.deepEqual(toFieldsV1(set), json);
    assert.ok(set.has([f('spec'), f('replicas')]));
    assert.ok(set.has([f('metadata'), f('labels')]));
    assert.ok(set.has([f('spec'), f('template'), f('spec'), f('containers'), k(['name', 'nginx'])]));
    assert.ok(!set.has([f('spec'), f('template')]), 'a parent of members is not itself a member');
  });

  it('reads keys written in another order and drops unknown element types', () => {
    const set = fromFieldsV1({ 'f:b': {}, 'x:future': {}, 'f:a': {} });
    assert.deepEqual(Object.keys(toFieldsV1(set)), ['f:a', 'f:b']);
  });

  it('refuses fieldsV1 that is not an object', () => {
    assert.throws(() => fromFieldsV1([]), (e: unknown) => e instanceof PatchError && e.code === 'BadRequest');
  });
});

describe('FieldSet operations work member by member', () => {
  const a = FieldSet.of([f('spec'), f('replicas')], [f('spec'), f('paused')], [f('metadata'), f('labels'), f('app')]);
  const b = FieldSet.of([f('spec'), f('replicas')], [f('metadata'), f('labels'), f('tier')]);
  const cases: Array<[string, FieldSet, string[]]> = [
    ['union holds the paths of both', a.union(b), ['.metadata.labels.app', '.metadata.labels.tier', '.spec.paused', '.spec.replicas']],
    ['difference keeps the paths only the first has', a.difference(b), ['.metadata.labels.app', '.spec.paused']],
    ['intersection keeps the shared paths', a.intersection(b), ['.spec.replicas']],
    ['difference with itself is empty', a.difference(a), []],
  ];
  for (const [name, set, want] of cases) it(name, () => assert.deepEqual(set.paths().map(pathString), want));

  it('does not treat an ancestor as covering its descendants', () => {
    const parent = FieldSet.of([f('spec')]);
    assert.deepEqual(FieldSet.of([f('spec'), f('replicas')]).difference(parent).paths().map(pathString), ['.spec.replicas']);
  });
});

describe('fieldSet lists what an object sets', () => {
  const cases: Array<[string, JsonObject, JsonObject, typeof pod]> = [
    [
      'containers by name, ports by port and defaulted protocol, env by name, with the item itself as "."',
      {
        spec: {
          containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] }],
        },
      },
      {
        'f:spec': {
          'f:containers': {
            'k:{"name":"app"}': {
              '.': {},
              'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
              'f:image': {},
              'f:name': {},
              'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
            },
          },
        },
      },
      pod,
    ],
    [
      'finalizers as set items and labels as map entries',
      { metadata: { finalizers: ['a', 'b'], labels: { app: 'web' } } },
      { 'f:metadata': { 'f:finalizers': { 'v:"a"': {}, 'v:"b"': {} }, 'f:labels': { 'f:app': {} } } },
      pod,
    ],
    [
      'atomic lists and atomic maps as one field',
      { spec: { tolerations: [{ key: 'a' }], nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', args: ['-v'] }] } },
      { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': { '.': {}, 'f:args': {}, 'f:name': {} } }, 'f:nodeSelector': {}, 'f:tolerations': {} } },
      pod,
    ],
    [
      'an empty map and a null field as members',
      { spec: { strategy: {}, paused: null } },
      { 'f:spec': { 'f:paused': {}, 'f:strategy': {} } },
      deployment,
    ],
    [
      'the atomic selector of a deployment as one field',
      { spec: { selector: { matchLabels: { app: 'web' } } } },
      { 'f:spec': { 'f:selector': {} } },
      deployment,
    ],
    [
      'a duplicated container as the item alone, as upstream records duplicates',
      { spec: { containers: [{ name: 'a', image: 'x' }, { name: 'a', image: 'y' }] } },
      { 'f:spec': { 'f:containers': { 'k:{"name":"a"}': {} } } },
      pod,
    ],
  ];
  for (const [name, obj, want, schema] of cases) {
    it(`records ${name}`, () => assert.deepEqual(toFieldsV1(fieldSet(obj, schema)), want));
  }

  it('records every key as a member and lists whole when there is no schema', () => {
    assert.deepEqual(toFieldsV1(fieldSet({ spec: { size: 1, items: [{ a: 1 }], nested: { x: true } } })), {
      'f:spec': { '.': {}, 'f:items': {}, 'f:nested': { '.': {}, 'f:x': {} }, 'f:size': {} },
    });
  });
});
