// The served documents: /openapi/v2 (Swagger 2.0) and /openapi/v3[/<group-version path>]
// (OpenAPI 3.0), built from the definitions and the resource list, cached until either changes.
import { createHash } from 'node:crypto';
import type { ResourceType } from '../catalog.js';
import type { JsonSchema } from './factTypes.js';
import {
  V2_REF_PREFIX,
  V3_REF_PREFIX,
  builtinDefinitions,
  builtinGvkIndex,
  forEachRef,
  gvkKey,
  gvkList,
  refName,
  type GroupVersionKind,
} from './definitions.js';
import { customResourceGeneration, customResourceSchemas } from './customResources.js';
import { SHARED_PARAMETERS, addDiscoveryPaths, addResourcePaths, type Operation, type Parameter, type ParameterOrRef, type PathItem } from './paths.js';
import { DELETE_RETURNS_OBJECT, UPSTREAM_KUBERNETES_VERSION } from './upstreamFacts.js';

/** info.version of the documents: the Kubernetes version whose API we serve, marked as ours. */
export const OPENAPI_INFO_VERSION = `${UPSTREAM_KUBERNETES_VERSION}+k8ts`;

const DELETE_OPTIONS = 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions';
const WATCH_EVENT = 'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent';

/** A served JSON document with its serialized form and ETag (upper-case hex SHA-512, as upstream). */
export interface CachedDocument {
  readonly doc: object;
  readonly json: string;
  readonly etag: string;
}

interface Model {
  crdGeneration: number;
  /** All definitions (v2 form): built-in ones plus custom resources, with served GVKs added. */
  definitions: Record<string, JsonSchema>;
  gvkIndex: Map<string, string>;
  paths: Record<string, PathItem>;
  v2?: CachedDocument;
  v3: Map<string, CachedDocument | null>;
  v3Index?: { paths: Record<string, { serverRelativeURL: string }> };
  /** v3 forms of definitions, converted once and shared by every v3 document. */
  v3Schemas: Map<string, JsonSchema>;
}

/** Models by resource-list fingerprint, so callers may pass a fresh array per request; a few kept. */
const models = new Map<string, Model>();
const MAX_MODELS = 4;

function fingerprint(resources: readonly ResourceType[]): string {
  return resources
    .map((r) => `${r.group}/${r.version}/${r.kind}/${r.plural}/${r.namespaced ? 'n' : 'c'}/${r.verbs.join(',')}/${(r.subresources ?? []).join(',')}`)
    .join('|');
}

function cached(json: string, doc: object): CachedDocument {
  return { doc, json, etag: createHash('sha512').update(json).digest('hex').toUpperCase() };
}

function groupVersions(resources: readonly ResourceType[]): GroupVersionKind[] {
  const seen = new Map<string, GroupVersionKind>();
  for (const r of resources) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version, kind: '' });
  return [...seen.values()];
}

/** The definitions and paths for one resource list, rebuilt when custom resource schemas change. */
function model(resources: readonly ResourceType[]): Model {
  const generation = customResourceGeneration();
  const key = fingerprint(resources);
  const existing = models.get(key);
  if (existing && existing.crdGeneration === generation) return existing;

  const builtin = builtinDefinitions().definitions;
  // Shallow copy: entries we change are replaced, never mutated.
  const definitions: Record<string, JsonSchema> = { ...builtin };
  const gvkIndex = new Map(builtinGvkIndex());
  for (const crd of customResourceSchemas()) {
    definitions[crd.name] = crd.definition;
    definitions[crd.listName] = crd.listDefinition;
    gvkIndex.set(gvkKey(crd), crd.name);
    gvkIndex.set(gvkKey({ ...crd, kind: `${crd.kind}List` }), crd.listName);
  }
  // Served kinds without a schema accept anything, so that paths never point nowhere.
  for (const r of resources) {
    for (const kind of r.verbs.includes('list') ? [r.kind, `${r.kind}List`] : [r.kind]) {
      const served = gvkKey({ group: r.group, version: r.version, kind });
      if (gvkIndex.has(served)) continue;
      const name = `${r.group === '' ? 'io.k8s.api.core' : r.group.split('.').reverse().join('.')}.${r.version}.${kind}`;
      definitions[name] = {
        type: 'object',
        'x-kubernetes-preserve-unknown-fields': true,
        'x-kubernetes-group-version-kind': [{ group: r.group, kind, version: r.version }],
      };
      gvkIndex.set(served, name);
    }
  }
  // DeleteOptions and WatchEvent are kinds of every served group-version.
  for (const name of [DELETE_OPTIONS, WATCH_EVENT]) {
    const def = definitions[name];
    if (!def) continue;
    const list = gvkList(def);
    const have = new Set(list.map((g) => `${g.group}/${g.version}`));
    const kind = list[0]?.kind ?? '';
    const extra = groupVersions(resources).filter((g) => !have.has(`${g.group}/${g.version}`));
    if (extra.length > 0) {
      definitions[name] = {
        ...def,
        'x-kubernetes-group-version-kind': [...list, ...extra.map((g) => ({ group: g.group, kind, version: g.version }))].sort((a, b) =>
          `${a.group}/${a.version}`.localeCompare(`${b.group}/${b.version}`),
        ),
      };
    }
  }

  const paths: Record<string, PathItem> = {};
  addDiscoveryPaths(paths, resources);
  const deleteReturnsObject = new Set(DELETE_RETURNS_OBJECT);
  const ctx = { definitionFor: (g: GroupVersionKind) => gvkIndex.get(gvkKey(g)), deleteReturnsObject };
  for (const r of resources) addResourcePaths(paths, r, ctx);

  const m: Model = { crdGeneration: generation, definitions, gvkIndex, paths, v3: new Map(), v3Schemas: new Map() };
  models.delete(key);
  models.set(key, m);
  while (models.size > MAX_MODELS) models.delete(models.keys().next().value!);
  return m;
}

/** Definition name of a kind in the served model (built-in or custom). */
export function definitionNameFor(resources: readonly ResourceType[], gvk: GroupVersionKind): string | undefined {
  return model(resources).gvkIndex.get(gvkKey(gvk));
}

/** Swagger 2.0 drops what upstream's v2 document does not carry: enums (v3 only). */
function toV2Schema(schema: JsonSchema): JsonSchema {
  const { enum: _enum, ...rest } = schema;
  const out: JsonSchema = { ...rest };
  if (schema.items) out.items = toV2Schema(schema.items);
  if (typeof schema.additionalProperties === 'object') out.additionalProperties = toV2Schema(schema.additionalProperties);
  if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, toV2Schema(v)]));
  return out;
}

function sortedObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

/** The /openapi/v2 document for these resources: built once, cached (with its JSON) until CRD schemas change. */
export function openapiV2Document(resources: readonly ResourceType[]): CachedDocument {
  const m = model(resources);
  if (m.v2) return m.v2;
  const definitions = sortedObject(Object.fromEntries(Object.entries(m.definitions).map(([k, v]) => [k, toV2Schema(v)])));
  const doc = {
    definitions,
    info: { title: 'Kubernetes', version: OPENAPI_INFO_VERSION },
    parameters: SHARED_PARAMETERS,
    paths: sortedObject(m.paths),
    security: [{ BearerToken: [] }],
    securityDefinitions: { BearerToken: { description: 'Bearer Token authentication', in: 'header', name: 'authorization', type: 'apiKey' } },
    swagger: '2.0',
  };
  m.v2 = cached(JSON.stringify(doc), doc);
  return m.v2;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI v3

/** "api/v1", "apis/apps/v1", "apis/apps", "api", "apis", "version": the documents /openapi/v3 lists. */
function v3DocumentPaths(resources: readonly ResourceType[]): string[] {
  const out = new Set<string>(['apis', 'version']);
  for (const r of resources) {
    if (r.group === '') {
      out.add('api');
      out.add(`api/${r.version}`);
    } else {
      out.add(`apis/${r.group}`);
      out.add(`apis/${r.group}/${r.version}`);
    }
  }
  return [...out].sort();
}

/** Which served paths belong to one v3 document. */
function belongsTo(docPath: string, path: string): boolean {
  const parts = docPath.split('/');
  if (docPath === 'api' || docPath === 'apis' || docPath === 'version') return path === `/${docPath}/`;
  if (parts.length === 2 && parts[0] === 'apis') return path === `/${docPath}/`;
  return path.startsWith(`/${docPath}/`);
}

const ZERO: Record<string, unknown> = { string: '', integer: 0, number: 0, boolean: false };

/**
 * A v2 schema in v3 form: refs to #/components/schemas, a $ref with siblings wrapped in allOf,
 * and the defaults upstream's v3 documents carry for non-pointer Go fields (approximated: objects
 * in lists and required or metadata/spec/status objects default to {}, required scalars and
 * list/map scalars to their zero value).
 */
function toV3Schema(schema: JsonSchema, defs: Record<string, JsonSchema>, defaultValue?: unknown): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref' || k === 'items' || k === 'properties' || k === 'additionalProperties') continue;
    (out as Record<string, unknown>)[k] = v;
  }
  if (defaultValue !== undefined && out.default === undefined) out.default = defaultValue;
  if (schema.items) out.items = toV3Schema(schema.items, defs, elementDefault(schema.items, defs));
  if (typeof schema.additionalProperties === 'object') {
    out.additionalProperties = toV3Schema(schema.additionalProperties, defs, elementDefault(schema.additionalProperties, defs));
  } else if (schema.additionalProperties !== undefined) {
    out.additionalProperties = schema.additionalProperties;
  }
  if (schema.properties) {
    const required = new Set(schema.required ?? []);
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, toV3Schema(v, defs, propertyDefault(k, v, required.has(k), defs))]),
    );
  }
  if (schema.$ref !== undefined) {
    const ref = V3_REF_PREFIX + refName(schema.$ref);
    if (Object.keys(out).length === 0) return { $ref: ref };
    return { allOf: [{ $ref: ref }], ...out };
  }
  return out;
}

/** Definitions that are structs upstream (defaulted to {} when embedded by value), not string-like wrappers. */
function isStruct(name: string, defs: Record<string, JsonSchema>): boolean {
  const d = defs[name];
  return d !== undefined && d.type === 'object' && d.properties !== undefined;
}

function elementDefault(s: JsonSchema, defs: Record<string, JsonSchema>): unknown {
  if (s.$ref !== undefined) return isStruct(refName(s.$ref), defs) ? {} : undefined;
  return s.type !== undefined ? ZERO[s.type] : undefined;
}

function propertyDefault(name: string, s: JsonSchema, required: boolean, defs: Record<string, JsonSchema>): unknown {
  if (s.$ref !== undefined) {
    if (!isStruct(refName(s.$ref), defs)) return undefined;
    return required || name === 'metadata' || name === 'spec' || name === 'status' ? {} : undefined;
  }
  return required && s.type !== undefined ? ZERO[s.type] : undefined;
}

/** v3 forms of property-less "custom" definitions, which upstream describes with oneOf there. */
function v3Definition(name: string, def: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema {
  if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') {
    return { description: def.description, format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }] } as JsonSchema;
  }
  if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') {
    return { ...(def.description !== undefined ? { description: def.description } : {}), oneOf: [{ type: 'string' }, { type: 'number' }] } as JsonSchema;
  }
  return toV3Schema(def, defs);
}

function resolveParameter(p: ParameterOrRef): Parameter {
  if ('$ref' in p) {
    const key = p.$ref.slice('#/parameters/'.length);
    const shared = SHARED_PARAMETERS[key];
    if (!shared) throw new Error(`unknown parameter ${p.$ref}`);
    return shared;
  }
  return p;
}

function v3Parameter(p: Parameter, defs: Record<string, JsonSchema>): object {
  const schema: JsonSchema = p.schema ? toV3Schema(p.schema, defs) : { type: p.type ?? 'string', ...(p.uniqueItems ? { uniqueItems: true } : {}) };
  return { ...(p.description !== undefined ? { description: p.description } : {}), in: p.in, name: p.name, ...(p.required ? { required: true } : {}), schema };
}

function v3Operation(op: Operation, defs: Record<string, JsonSchema>): object {
  const params = (op.parameters ?? []).map(resolveParameter);
  const body = params.find((p) => p.in === 'body');
  const out: Record<string, unknown> = { description: op.description, operationId: op.operationId };
  const rest = params.filter((p) => p.in !== 'body').map((p) => v3Parameter(p, defs));
  if (rest.length > 0) out['parameters'] = rest;
  if (body?.schema) {
    const schema = toV3Schema(body.schema, defs);
    out['requestBody'] = { content: Object.fromEntries(op.consumes.map((c) => [c, { schema }])), ...(body.required ? { required: true } : {}) };
  }
  out['responses'] = Object.fromEntries(
    Object.entries(op.responses).map(([code, r]) => {
      if (!r.schema) return [code, { description: r.description }];
      const schema = toV3Schema(r.schema, defs);
      return [code, { content: Object.fromEntries(op.produces.map((c) => [c, { schema }])), description: r.description }];
    }),
  );
  out['tags'] = op.tags;
  if (op['x-kubernetes-action'] !== undefined) out['x-kubernetes-action'] = op['x-kubernetes-action'];
  if (op['x-kubernetes-group-version-kind'] !== undefined) out['x-kubernetes-group-version-kind'] = op['x-kubernetes-group-version-kind'];
  return out;
}

function v3PathItem(item: PathItem, defs: Record<string, JsonSchema>): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k === 'parameters') {
      if (Array.isArray(v) && v.length > 0) out['parameters'] = (v as ParameterOrRef[]).map((p) => v3Parameter(resolveParameter(p), defs));
    } else {
      out[k] = v3Operation(v as Operation, defs);
    }
  }
  return out;
}

/** Every definition reachable from the given roots. */
function closure(roots: Iterable<string>, defs: Record<string, JsonSchema>): string[] {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name) || !defs[name]) continue;
    seen.add(name);
    forEachRef(defs[name], (n) => queue.push(n));
  }
  return [...seen].sort();
}

/** The OpenAPI v3 document of one group-version path ("apis/apps/v1"), or undefined if not served. */
export function openapiV3Document(docPath: string, resources: readonly ResourceType[]): CachedDocument | undefined {
  const m = model(resources);
  const key = docPath.replace(/^\/+|\/+$/g, '');
  const hit = m.v3.get(key);
  if (hit !== undefined) return hit ?? undefined;
  if (!v3DocumentPaths(resources).includes(key)) {
    m.v3.set(key, null);
    return undefined;
  }
  const paths: Record<string, PathItem> = {};
  for (const [p, item] of Object.entries(m.paths)) if (belongsTo(key, p)) paths[p] = item;
  const roots: string[] = [];
  const collect = (o: unknown) => forEachRef(o, (n) => roots.push(n));
  for (const item of Object.values(paths)) {
    for (const [k, v] of Object.entries(item)) {
      if (k === 'parameters') for (const p of (v as ParameterOrRef[]) ?? []) collect(resolveParameter(p).schema);
      else {
        const op = v as Operation;
        for (const p of op.parameters ?? []) collect(resolveParameter(p).schema);
        for (const r of Object.values(op.responses)) collect(r.schema);
      }
    }
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const name of closure(roots, m.definitions)) {
    let s = m.v3Schemas.get(name);
    if (!s) m.v3Schemas.set(name, (s = v3Definition(name, m.definitions[name]!, m.definitions)));
    schemas[name] = s;
  }
  const doc = {
    components: {
      schemas,
      securitySchemes: { BearerToken: { description: 'Bearer Token authentication', in: 'header', name: 'authorization', type: 'apiKey' } },
    },
    info: { title: 'Kubernetes', version: OPENAPI_INFO_VERSION },
    openapi: '3.0.0',
    paths: Object.fromEntries(Object.keys(paths).sort().map((p) => [p, v3PathItem(paths[p]!, m.definitions)])),
  };
  const c = cached(JSON.stringify(doc), doc);
  m.v3.set(key, c);
  return c;
}

/** The /openapi/v3 index: every document path with its hash-pinned URL. */
export function openapiV3Index(resources: readonly ResourceType[]): { paths: Record<string, { serverRelativeURL: string }> } {
  const m = model(resources);
  if (m.v3Index) return m.v3Index;
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const p of v3DocumentPaths(resources)) {
    const d = openapiV3Document(p, resources);
    if (d) paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${d.etag}` };
  }
  m.v3Index = { paths };
  return m.v3Index;
}

export { V2_REF_PREFIX };
