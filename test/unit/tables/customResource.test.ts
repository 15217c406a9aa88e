import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CustomResourceColumnDefinition } from 'kubernetes-types/apiextensions/v1.js';
import { compileCustomResourceColumns, compileJsonPath, customResourceTable, type TableCell } from '../../../src/api/tables/index.js';
import { ago, NOW, onlyRow } from './clock.js';

const widget = {
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'w1', namespace: 'default', creationTimestamp: ago(90, 's') },
  spec: { replicas: 3, ratio: 1.5, big: 2500000.5, enabled: true, tags: ['a', 'b'], selector: { z: '1', a: '<2>' }, 'dotted.key': 'v' },
  status: {
    conditions: [
      { type: 'Progressing', status: 'True', lastTransitionTime: ago(5, 'h') },
      { type: 'Ready', status: 'False', reason: 'Waiting' },
    ],
    observedGeneration: 4,
  },
};

const col = (name: string, type: string, jsonPath: string, extra: Partial<CustomResourceColumnDefinition> = {}): CustomResourceColumnDefinition => ({
  name,
  type,
  jsonPath,
  ...extra,
});

describe('compileJsonPath', () => {
  const cases: Array<[string, string, unknown[]]> = [
    ['a field path', '.spec.replicas', [3]],
    ['braces and $ are accepted', '{$.spec.replicas}', [3]],
    ['a filter on a list of conditions', '.status.conditions[?(@.type=="Ready")].status', ['False']],
    ['a filter with single quotes and !=', ".status.conditions[?(@.type!='Ready')].type", ['Progressing']],
    ['an index', '.spec.tags[1]', ['b']],
    ['a negative index', '.spec.tags[-1]', ['b']],
    ['a wildcard over a list', '.status.conditions[*].type', ['Progressing', 'Ready']],
    ['a slice', '.spec.tags[0:1]', ['a']],
    ['a bracketed key with dots', ".spec['dotted.key']", ['v']],
    ['an existence filter', '.status.conditions[?(@.reason)].type', ['Ready']],
    ['a numeric comparison', '.status.conditions[?(@.type=="Ready")].reason', ['Waiting']],
    ['recursive descent', '..observedGeneration', [4]],
    ['a missing key finds nothing', '.spec.missing.deeper', []],
    ['an index past the end finds nothing', '.spec.tags[5]', []],
  ];
  for (const [name, path, want] of cases) it(name, () => assert.deepEqual(compileJsonPath(path).find(widget), want));

  it('rejects what does not parse', () => {
    assert.throws(() => compileJsonPath('.spec[?(@.x=='), { name: 'JsonPathError' });
  });
});

describe('customResourceTable', () => {
  it('without printer columns: NAME and AGE (a date column computed at request time)', () => {
    const t = customResourceTable([], [widget], { now: NOW });
    assert.deepEqual(
      t.columnDefinitions.map((c) => [c.name, c.type, c.format, c.priority]),
      [
        ['Name', 'string', 'name', 0],
        ['Age', 'date', '', 0],
      ],
    );
    assert.deepEqual(onlyRow(t.rows).cells, ['w1', '90s']);
  });

  it('columns keep their type, format, priority, and description (or one naming the path)', () => {
    const t = customResourceTable([col('Replicas', 'integer', '.spec.replicas', { priority: 1, format: 'int32', description: 'Wanted replicas' }), col('Ready', 'string', '.status.ready')], [], {
      now: NOW,
    });
    assert.deepEqual(t.columnDefinitions.slice(1).map((c) => [c.name, c.type, c.format, c.priority]), [
      ['Replicas', 'integer', 'int32', 1],
      ['Ready', 'string', '', 0],
    ]);
    assert.equal(t.columnDefinitions[1]?.description, 'Wanted replicas');
    assert.match(t.columnDefinitions[2]?.description ?? '', /\.status\.ready/);
  });

  const cases: Array<[string, CustomResourceColumnDefinition, TableCell]> = [
    ['an integer column holds the number', col('Replicas', 'integer', '.spec.replicas'), 3],
    ['an integer column truncates a fraction', col('Ratio', 'integer', '.spec.ratio'), 1],
    ['a number column holds the number', col('Ratio', 'number', '.spec.ratio'), 1.5],
    ['a boolean column holds the boolean', col('Enabled', 'boolean', '.spec.enabled'), true],
    ['a string column holds text as is', col('Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'), 'False'],
    ['a string column prints integers', col('Replicas', 'string', '.spec.replicas'), '3'],
    ['a string column prints floats as Go does', col('Big', 'string', '.spec.big'), '2.5000005e+06'],
    ['a string column prints booleans', col('Enabled', 'string', '.spec.enabled'), 'true'],
    ['a string column prints objects as Go’s JSON (sorted keys, HTML escaped)', col('Sel', 'string', '.spec.selector'), '{"a":"\\u003c2\\u003e","z":"1"}'],
    ['a string column prints lists as JSON', col('Tags', 'string', '.spec.tags'), '["a","b"]'],
    ['a multi-match path takes the first match', col('Type', 'string', '.status.conditions[*].type'), 'Progressing'],
    ['a date column is an age', col('Since', 'date', '.status.conditions[0].lastTransitionTime'), '5h'],
    ['a date column with text that is no time is <invalid>', col('Since', 'date', '.status.conditions[1].reason'), '<invalid>'],
    ['a value of the wrong type is null', col('Replicas', 'boolean', '.spec.replicas'), null],
    ['a missing value is null', col('Missing', 'string', '.spec.missing'), null],
    ['a failed comparison is null', col('Bad', 'string', '.status.conditions[?(@.type==1)].status'), null],
  ];
  for (const [name, c, want] of cases) it(name, () => assert.deepEqual(onlyRow(customResourceTable([c], [widget], { now: NOW }).rows).cells, ['w1', want]));

  it('an unparsable path drops that column and the ones after it, and says which', () => {
    const compiled = compileCustomResourceColumns([col('A', 'integer', '.spec.replicas'), col('B', 'string', '.spec[?('), col('C', 'string', '.spec.tags')]);
    assert.deepEqual(
      compiled.printer.columns.map((c) => c.name),
      ['Name', 'A'],
    );
    assert.equal(compiled.invalid?.column, 'B');
  });

  it('rows carry partial metadata like built-in kinds', () => {
    const row = onlyRow(customResourceTable(undefined, [widget], { now: NOW }).rows);
    assert.deepEqual(row.object, { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: widget.metadata });
  });
});
