import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SchemaNode } from '../../../src/api/schema.js';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { addCustomResourceSchema, openapiV2, openapiV3, removeCustomResourceSchema, schemaFor, unknownFields } from '../../../src/api/openapi/index.js';

/** Walks a dotted path; `[]` steps into list items, `{}` into map values. */
function at(group: string, version: string, kind: string, path: string): SchemaNode | undefined {
  let node = schemaFor(group, version, kind);
  for (const step of path.split('.')) {
    if (!node) return undefined;
    node = step === '[]' ? node.items() : step === '{}' ? node.values() : node.field(step);
  }
  return node;
}

test('schemaFor carries upstream patch and list metadata', () => {
  const cases: { name: string; gvk: [string, string, string]; path: string; want: Record<string, unknown> }[] = [
    {
      name: 'PodSpec.containers merge by name, list-map keyed by name',
      gvk: ['', 'v1', 'Pod'],
      path: 'spec.containers',
      want: { patchMergeKey: 'name', patchStrategy: ['merge'], listType: 'map', listMapKeys: ['name'] },
    },
    {
      name: 'Container.ports merge by containerPort, list-map keyed by containerPort and protocol',
      gvk: ['apps', 'v1', 'Deployment'],
      path: 'spec.template.spec.containers.[].ports',
      want: { patchMergeKey: 'containerPort', patchStrategy: ['merge'], listType: 'map', listMapKeys: ['containerPort', 'protocol'] },
    },
    {
      name: 'PodSpec.volumes merge by name with retainKeys',
      gvk: ['', 'v1', 'Pod'],
      path: 'spec.volumes',
      want: { patchMergeKey: 'name', patchStrategy: ['merge', 'retainKeys'], listType: 'map', listMapKeys: ['name'] },
    },
    { name: 'DeploymentSpec.strategy retains keys', gvk: ['apps', 'v1', 'Deployment'], path: 'spec.strategy', want: { patchStrategy: ['retainKeys'] } },
    { name: 'a LabelSelector is an atomic map', gvk: ['apps', 'v1', 'Deployment'], path: 'spec.selector', want: { mapType: 'atomic' } },
    { name: 'finalizers are a set', gvk: ['', 'v1', 'ConfigMap'], path: 'metadata.finalizers', want: { patchStrategy: ['merge'], listType: 'set' } },
    { name: 'args are atomic', gvk: ['', 'v1', 'Pod'], path: 'spec.containers.[].args', want: { listType: 'atomic' } },
  ];
  for (const c of cases) {
    const node = at(...c.gvk, c.path);
    assert.ok(node, c.name);
    assert.deepEqual({ ...node.meta }, c.want, c.name);
  }
});

test('schemaFor gives node kinds and scalar types', () => {
  const cases: [string, [string, string, string], string, SchemaNode['kind'], string?][] = [
    ['the root is an object', ['apps', 'v1', 'Deployment'], 'spec', 'object'],
    ['replicas is an integer', ['apps', 'v1', 'Deployment'], 'spec.replicas', 'scalar', 'integer'],
    ['labels are a map of strings', ['', 'v1', 'Pod'], 'metadata.labels', 'map'],
    ['a label value is a string', ['', 'v1', 'Pod'], 'metadata.labels.{}', 'scalar', 'string'],
    ['maxSurge is int-or-string', ['apps', 'v1', 'Deployment'], 'spec.strategy.rollingUpdate.maxSurge', 'scalar', 'int-or-string'],
    ['fieldsV1 takes anything', ['', 'v1', 'Pod'], 'metadata.managedFields.[].fieldsV1', 'any'],
    ['ControllerRevision.data is a RawExtension', ['apps', 'v1', 'ControllerRevision'], 'data', 'any'],
  ];
  for (const [name, gvk, path, kind, scalarType] of cases) {
    const node = at(...gvk, path);
    assert.equal(node?.kind, kind, name);
    if (scalarType) assert.equal(node?.scalarType, scalarType, name);
  }
  assert.equal(schemaFor('apps', 'v1', 'NoSuchKind'), undefined);
  assert.equal(at('apps', 'v1', 'Deployment', 'spec.nope'), undefined);
});

const deployment = (spec: Record<string, unknown>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' }, managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': { 'f:replicas': {} } } }] },
  spec,
});
const validSpec = () => ({
  replicas: 2,
  selector: { matchLabels: { app: 'web' } },
  strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
  template: {
    metadata: { labels: { app: 'web' } },
    spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '1' } } }] },
  },
});

test('unknownFields reports paths the way strict field validation does', () => {
  const cases: { name: string; obj: unknown; want: string[] }[] = [
    { name: 'a valid Deployment has none', obj: deployment(validSpec()), want: [] },
    { name: 'an unknown spec field', obj: deployment({ ...validSpec(), foo: 1 }), want: ['spec.foo'] },
    {
      name: 'an unknown field in a container',
      obj: deployment({ ...validSpec(), template: { spec: { containers: [{ name: 'a', bogus: true }] } } }),
      want: ['spec.template.spec.containers[0].bogus'],
    },
    { name: 'an unknown top-level field', obj: { apiVersion: 'apps/v1', kind: 'Deployment', extra: 1 }, want: ['extra'] },
    { name: 'an unknown metadata field', obj: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { nam: 'x' } }, want: ['metadata.nam'] },
    { name: 'nulls are not fields', obj: deployment({ ...validSpec(), strategy: null }), want: [] },
  ];
  for (const c of cases) assert.deepEqual(unknownFields('apps', 'v1', 'Deployment', c.obj), c.want, c.name);
  assert.deepEqual(unknownFields('apps', 'v1', 'NoSuchKind', { spec: { foo: 1 } }), []);
});

test('custom resource schemas join schemaFor, unknownFields and the documents, and leave again', () => {
  const resources = [
    ...BUILTIN_RESOURCES,
    { group: 'stable.example.com', version: 'v1', kind: 'CronTab', plural: 'crontabs', singular: 'crontab', namespaced: true, verbs: ['get', 'list', 'patch'] as const },
  ];
  addCustomResourceSchema('stable.example.com', 'v1', 'CronTab', 'crontabs', true, {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          cronSpec: { type: 'string' },
          ports: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['port'], items: { type: 'object', properties: { port: { type: 'integer' } } } },
          extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
      },
    },
  });
  try {
    assert.deepEqual(at('stable.example.com', 'v1', 'CronTab', 'spec.ports')?.meta, { listType: 'map', listMapKeys: ['port'] });
    const obj = { apiVersion: 'stable.example.com/v1', kind: 'CronTab', metadata: { name: 'x' }, spec: { cronSpec: '* * * * *', nope: 1, extra: { any: { thing: 1 } }, ports: [{ port: 1, p: 2 }] } };
    assert.deepEqual(unknownFields('stable.example.com', 'v1', 'CronTab', obj), ['spec.nope', 'spec.ports[0].p']);
    const v2 = openapiV2(resources) as { definitions: Record<string, unknown>; paths: Record<string, Record<string, { operationId?: string }>> };
    assert.ok(v2.definitions['com.example.stable.v1.CronTab']);
    assert.equal(v2.paths['/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}']?.['get']?.operationId, 'readStableExampleComV1NamespacedCronTab');
    const v3 = openapiV3('apis/stable.example.com/v1', resources) as { components: { schemas: Record<string, unknown> } };
    assert.ok(v3.components.schemas['com.example.stable.v1.CronTabList']);
  } finally {
    removeCustomResourceSchema('stable.example.com', 'v1', 'CronTab');
  }
  assert.equal(schemaFor('stable.example.com', 'v1', 'CronTab'), undefined);
});
