import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_RESOURCES } from '../../../src/api/catalog.js';
import { definitionNameFor, openapiV2, openapiV3, openapiV3Discovery, openapiV3Json } from '../../../src/api/openapi/index.js';

type Schema = {
  description?: string;
  type?: string;
  enum?: string[];
  $ref?: string;
  allOf?: Schema[];
  items?: Schema;
  properties?: Record<string, Schema>;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
};
type V2 = { info: { version: string }; definitions: Record<string, Schema>; paths: Record<string, Record<string, { operationId?: string; 'x-kubernetes-action'?: string; parameters?: unknown[] }>> };
type V3 = { components: { schemas: Record<string, Schema> }; paths: Record<string, Record<string, { operationId?: string }>> };

const v2 = openapiV2(BUILTIN_RESOURCES) as V2;

function refs(o: unknown, out: string[] = []): string[] {
  if (Array.isArray(o)) o.forEach((x) => refs(x, out));
  else if (typeof o === 'object' && o !== null) {
    for (const [k, v] of Object.entries(o)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

test('every built-in kind and its list have a definition with the upstream name and GVK', () => {
  for (const r of BUILTIN_RESOURCES) {
    for (const kind of [r.kind, `${r.kind}List`]) {
      if (r.verbs.length === 1 && r.verbs[0] === 'create' && kind.endsWith('List')) continue;
      const name = definitionNameFor(BUILTIN_RESOURCES, { group: r.group, version: r.version, kind });
      assert.ok(name, `${r.group}/${r.version} ${kind} has a definition`);
      const def = v2.definitions[name];
      assert.ok(def, `${name} is in the v2 document`);
      assert.ok(def['x-kubernetes-group-version-kind']?.some((g) => g.group === r.group && g.version === r.version && g.kind === kind), `${name} carries its GVK`);
      assert.ok(def.description && def.description.length > 0, `${name} has a description`);
    }
  }
});

test('definitions are named as upstream names them', () => {
  const cases: [string, string, string, string][] = [
    ['apps', 'v1', 'Deployment', 'io.k8s.api.apps.v1.Deployment'],
    ['', 'v1', 'Pod', 'io.k8s.api.core.v1.Pod'],
    ['apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition'],
    ['apiregistration.k8s.io', 'v1', 'APIService', 'io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService'],
    ['', 'v1', 'Status', 'io.k8s.apimachinery.pkg.apis.meta.v1.Status'],
  ];
  for (const [group, version, kind, want] of cases) assert.equal(definitionNameFor(BUILTIN_RESOURCES, { group, version, kind }), want);
  assert.ok(v2.definitions['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']?.properties?.['labels']);
  assert.match(v2.info.version, /^v1\.32\.\d+\+k8ts$/);
});

test('Container.imagePullPolicy has its description, and its enum in v3 (v2 carries none, like upstream)', () => {
  const v2Field = v2.definitions['io.k8s.api.core.v1.Container']?.properties?.['imagePullPolicy'];
  assert.match(v2Field?.description ?? '', /^Image pull policy\. One of Always, Never, IfNotPresent\./);
  assert.match(v2Field?.description ?? '', /Possible enum values:\n - `"Always"`/);
  assert.equal(v2Field?.enum, undefined);
  const v3 = openapiV3('api/v1', BUILTIN_RESOURCES) as V3;
  const v3Field = v3.components.schemas['io.k8s.api.core.v1.Container']?.properties?.['imagePullPolicy'];
  assert.deepEqual(v3Field?.enum, ['Always', 'IfNotPresent', 'Never']);
  assert.equal(v3Field?.type, 'string');
});

test('integer formats and required lists come through from the compiled validators', () => {
  const port = v2.definitions['io.k8s.api.core.v1.ContainerPort'] as Schema & { required?: string[]; properties: Record<string, Schema & { format?: string }> };
  assert.equal(port.properties['containerPort']?.type, 'integer');
  assert.equal(port.properties['containerPort']?.format, 'int32');
  assert.deepEqual(port.required, ['containerPort']);
  const deployment = v2.definitions['io.k8s.api.apps.v1.Deployment'] as Schema & { required?: string[] };
  assert.equal(deployment.required, undefined, 'apiVersion/kind are not required upstream');
  const grace = v2.definitions['io.k8s.api.core.v1.PodSpec']?.properties?.['terminationGracePeriodSeconds'] as Schema & { format?: string };
  assert.equal(grace.format, 'int64');
  const intOrString = v2.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] as Schema & { format?: string };
  assert.deepEqual([intOrString.type, intOrString.format], ['string', 'int-or-string']);
});

test('every $ref of the v2 document resolves', () => {
  for (const ref of refs(v2)) {
    if (ref.startsWith('#/parameters/')) continue;
    assert.ok(ref.startsWith('#/definitions/'), ref);
    assert.ok(v2.definitions[ref.slice('#/definitions/'.length)], `${ref} resolves`);
  }
});

test('every v3 document of the index is self-contained and pinned by its hash', () => {
  const index = openapiV3Discovery(BUILTIN_RESOURCES);
  for (const key of ['api/v1', 'apis/apps/v1', 'apis/apps', 'api', 'apis', 'version']) assert.ok(index.paths[key], `index lists ${key}`);
  for (const [key, { serverRelativeURL }] of Object.entries(index.paths)) {
    const doc = openapiV3Json(key, BUILTIN_RESOURCES);
    assert.ok(doc, key);
    assert.equal(serverRelativeURL, `/openapi/v3/${key}?hash=${doc.etag}`);
    const parsed = JSON.parse(doc.json) as V3;
    for (const ref of refs(parsed)) {
      assert.ok(ref.startsWith('#/components/schemas/'), `${key}: ${ref}`);
      assert.ok(parsed.components.schemas[ref.slice('#/components/schemas/'.length)], `${key}: ${ref} resolves`);
    }
  }
  assert.equal(openapiV3('apis/nope/v1', BUILTIN_RESOURCES), undefined);
});

test('v3 wraps refs that have siblings in allOf and gives value-typed fields their defaults', () => {
  const v3 = openapiV3('apis/apps/v1', BUILTIN_RESOURCES) as V3;
  const spec = v3.components.schemas['io.k8s.api.apps.v1.DeploymentSpec']?.properties ?? {};
  assert.deepEqual(spec['template']?.allOf, [{ $ref: '#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec' }]);
  assert.deepEqual((spec['template'] as { default?: unknown }).default, {});
  assert.ok(spec['template']?.description);
  const containers = v3.components.schemas['io.k8s.api.core.v1.PodSpec']?.properties?.['containers'];
  assert.deepEqual(containers?.items, { allOf: [{ $ref: '#/components/schemas/io.k8s.api.core.v1.Container' }], default: {} });
  assert.ok(v3.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']);
  assert.equal(v3.paths['/api/v1/pods'], undefined, 'core paths stay in api/v1');
});

test('DeleteOptions and WatchEvent are kinds of every served group-version', () => {
  for (const name of ['io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions', 'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent']) {
    const gvks = v2.definitions[name]?.['x-kubernetes-group-version-kind'] ?? [];
    for (const r of BUILTIN_RESOURCES) assert.ok(gvks.some((g) => g.group === r.group && g.version === r.version), `${name} for ${r.group}/${r.version}`);
  }
});

test('documents are cached per resource list', () => {
  assert.equal(openapiV2(BUILTIN_RESOURCES), v2);
  assert.equal(openapiV3Json('apis/apps/v1', BUILTIN_RESOURCES), openapiV3Json('apis/apps/v1', BUILTIN_RESOURCES));
});
