import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate, type TemplateContext, type TemplateValue } from '../../../../src/kubelet/sim/template.js';
import { StageError } from '../../../../src/kubelet/sim/stage.js';

const obj = {
  metadata: { name: 'p', annotations: { 'x/code': '3' } },
  spec: { nodeName: 'n1', containers: [{ name: 'a', image: 'ia' }, { name: 'b', image: 'ib' }], initContainers: [] as unknown[] },
};
const ctx: TemplateContext = { vars: { now: () => 'NOW', who: (scope) => `who:${(scope as { name?: string }).name ?? 'root'}` } };

test('template rendering, case by case', () => {
  const cases: Array<[string, TemplateValue, unknown]> = [
    ['plain values pass through', { a: 1, b: 'x', c: [true, null] }, { a: 1, b: 'x', c: [true, null] }],
    ['a whole-string expression keeps its type', { n: '{{ $.metadata.annotations["x/code"] | int }}' }, { n: 3 }],
    ['interpolation inside a string', { s: 'node {{ .spec.nodeName }} at {{ now }}' }, { s: 'node n1 at NOW' }],
    ['a missing value drops the key', { a: '{{ .status.podIP }}', b: 1 }, { b: 1 }],
    ['default fills a missing value', { a: '{{ .status.podIP | default "none" }}' }, { a: 'none' }],
    ['a variable sees the current item', { who: '{{ who }}' }, { who: 'who:root' }],
    [
      '$range renders one item per element with the element as scope',
      { cs: { $range: '.spec.containers', $each: { name: '{{ .name }}', image: '{{ .image }}', by: '{{ who }}', pod: '{{ $.metadata.name }}' } } },
      { cs: [{ name: 'a', image: 'ia', by: 'who:a', pod: 'p' }, { name: 'b', image: 'ib', by: 'who:b', pod: 'p' }] },
    ],
    ['$range over an empty list is an empty list', { ic: { $range: '.spec.initContainers', $each: { x: 1 } } }, { ic: [] }],
    ['$range over a missing path drops the key', { ec: { $range: '.spec.ephemeralContainers', $each: { x: 1 } } }, {}],
    ['$range inside a list splices', { l: [{ fixed: true }, { $range: '.spec.containers', $each: '{{ .name }}' }] }, { l: [{ fixed: true }, 'a', 'b'] }],
    ['$if picks $then', { v: { $if: { key: '.spec.nodeName', operator: 'In', values: ['n1'] }, $then: 'yes', $else: 'no' } }, { v: 'yes' }],
    ['$if with a list ANDs', { v: { $if: [{ key: '.spec.nodeName', operator: 'Exists' }, { key: '.metadata.name', operator: 'In', values: ['q'] }], $then: 'yes', $else: 'no' } }, { v: 'no' }],
    ['$if without $else drops the element', { l: [1, { $if: { key: '.nope', operator: 'Exists' }, $then: 2 }] }, { l: [1] }],
    ['$if with a $-key reads the whole object from inside a $range', { l: { $range: '.spec.containers', $each: { $if: { key: '$.metadata.name', operator: 'In', values: ['p'] }, $then: '{{ .name }}' } } }, { l: ['a', 'b'] }],
  ];
  for (const [name, t, want] of cases) assert.deepEqual(renderTemplate(t, obj, ctx), want, name);
});

test('template errors are StageErrors: unknown variable, unknown filter, non-integer int', () => {
  for (const t of ['{{ nope }}', '{{ .metadata.name | upper }}', '{{ .metadata.name | int }}'] as TemplateValue[]) {
    assert.throws(() => renderTemplate({ v: t }, obj, ctx), (e: unknown) => e instanceof StageError && e.code === 'InvalidStage', String(t));
  }
});
