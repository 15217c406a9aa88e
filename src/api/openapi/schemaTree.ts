// SchemaNode (src/api/schema.ts) over the definitions, for strategic merge patch, server-side
// apply and field validation; and unknownFields, the paths strict field validation reports.
import type { FieldMeta, SchemaNode } from '../schema.js';
import type { JsonSchema } from './factTypes.js';
import { builtinDefinitions, builtinGvkIndex, gvkKey, refName, type GroupVersionKind } from './definitions.js';
import { customResourceGeneration, customResourceSchema, customResourceSchemas } from './customResources.js';

const EMPTY_META: FieldMeta = Object.freeze({});

const LIST_TYPES = new Set(['atomic', 'set', 'map']);

function fieldMeta(s: JsonSchema, target: JsonSchema | undefined): FieldMeta {
  const meta: FieldMeta = {};
  const pmk = s['x-kubernetes-patch-merge-key'];
  const ps = s['x-kubernetes-patch-strategy'];
  const lt = s['x-kubernetes-list-type'];
  const lmk = s['x-kubernetes-list-map-keys'];
  const mt = s['x-kubernetes-map-type'] ?? target?.['x-kubernetes-map-type'];
  if (typeof pmk === 'string') meta.patchMergeKey = pmk;
  if (typeof ps === 'string') meta.patchStrategy = ps.split(',');
  if (typeof lt === 'string' && LIST_TYPES.has(lt)) meta.listType = lt as FieldMeta['listType'];
  if (Array.isArray(lmk)) meta.listMapKeys = lmk.filter((k): k is string => typeof k === 'string');
  if (mt === 'atomic' || mt === 'granular') meta.mapType = mt;
  return Object.keys(meta).length > 0 ? meta : EMPTY_META;
}

/** Resolves refs against a definitions table; shared by every node of one tree. */
class Resolver {
  constructor(private readonly defs: Readonly<Record<string, JsonSchema>>) {}

  /** A property schema with its $ref (or single allOf ref) followed; the referencing schema keeps the field's metadata. */
  resolve(s: JsonSchema): JsonSchema | undefined {
    let ref = s.$ref;
    if (ref === undefined && s.allOf?.length === 1) ref = s.allOf[0]?.$ref;
    return ref === undefined ? s : this.defs[refName(ref)];
  }
}

class Node implements SchemaNode {
  readonly kind: SchemaNode['kind'];
  readonly meta: FieldMeta;
  readonly scalarType?: string;
  readonly preservesUnknownFields?: boolean;
  /** The field's OpenAPI default, when it has one (server-side apply matches list-map keys with it). */
  readonly default?: unknown;
  private readonly target: JsonSchema;
  private fields?: Map<string, Node | undefined>;
  private child?: Node | null;

  constructor(
    private readonly resolver: Resolver,
    via: JsonSchema,
    meta?: FieldMeta,
  ) {
    const target = resolver.resolve(via) ?? {};
    this.target = target;
    this.meta = meta ?? fieldMeta(via, target);
    const dflt = (via as { default?: unknown }).default ?? (target as { default?: unknown }).default;
    if (dflt !== undefined) this.default = dflt;
    const preserve = target['x-kubernetes-preserve-unknown-fields'] === true || via['x-kubernetes-preserve-unknown-fields'] === true;
    if (target.format === 'int-or-string' || target['x-kubernetes-int-or-string'] === true) {
      this.kind = 'scalar';
      this.scalarType = 'int-or-string';
    } else if (target.type === 'array') {
      this.kind = 'list';
    } else if (target.properties && (Object.keys(target.properties).length > 0 || target.additionalProperties === undefined)) {
      this.kind = 'object';
    } else if (typeof target.additionalProperties === 'object') {
      this.kind = 'map';
    } else if (target.type === 'string' || target.type === 'integer' || target.type === 'number' || target.type === 'boolean') {
      this.kind = 'scalar';
      this.scalarType = target.type;
    } else if (target.type === 'object' && via.$ref === undefined && via.allOf === undefined && !preserve) {
      // An inline object schema with no fields (custom resources): every field below it is unknown.
      this.kind = 'object';
    } else {
      // No type (JSON), or a named object with no declared fields (RawExtension, FieldsV1, Patch).
      this.kind = 'any';
    }
    if (this.kind === 'any' || preserve || target.additionalProperties === true) this.preservesUnknownFields = true;
  }

  field(name: string): SchemaNode | undefined {
    if (this.kind === 'any') return anyNode(this.resolver);
    if (this.kind === 'map') return this.values();
    if (this.kind !== 'object') return undefined;
    this.fields ??= new Map();
    if (this.fields.has(name)) return this.fields.get(name);
    const s = this.target.properties?.[name];
    const node = s ? new Node(this.resolver, s) : this.preservesUnknownFields ? anyNode(this.resolver) : undefined;
    this.fields.set(name, node);
    return node;
  }

  values(): SchemaNode | undefined {
    if (this.kind === 'any') return anyNode(this.resolver);
    if (this.child === undefined) {
      const ap = this.target.additionalProperties;
      this.child = this.kind === 'map' && typeof ap === 'object' ? new Node(this.resolver, ap) : null;
    }
    return this.child ?? undefined;
  }

  items(): SchemaNode | undefined {
    if (this.kind === 'any') return anyNode(this.resolver);
    if (this.child === undefined) {
      this.child = this.kind === 'list' && this.target.items ? new Node(this.resolver, this.target.items) : null;
    }
    return this.child ?? undefined;
  }
}

const anyNodes = new WeakMap<Resolver, Node>();
function anyNode(resolver: Resolver): Node {
  let n = anyNodes.get(resolver);
  if (!n) {
    n = new Node(resolver, {}, EMPTY_META);
    anyNodes.set(resolver, n);
  }
  return n;
}

let builtinResolver: Resolver | undefined;
const roots = new Map<string, Node | null>();
let rootsGeneration = -1;

/** Definitions visible to schemaFor: built-in plus custom resources. */
function resolverFor(gvk: GroupVersionKind): { resolver: Resolver; name: string } | undefined {
  const crd = customResourceSchema(gvk);
  if (crd) {
    const defs: Record<string, JsonSchema> = { ...builtinDefinitions().definitions };
    for (const c of customResourceSchemas()) {
      defs[c.name] = c.definition;
      defs[c.listName] = c.listDefinition;
    }
    return { resolver: new Resolver(defs), name: crd.name };
  }
  const name = builtinGvkIndex().get(gvkKey(gvk));
  if (name === undefined) return undefined;
  builtinResolver ??= new Resolver(withKeyDefaults(builtinDefinitions().definitions));
  return { resolver: builtinResolver, name };
}

/**
 * The schema tree of a kind (built-in or custom), or undefined when none is known.
 * Nodes are built lazily and cached; the tree is shared, so treat it as read-only.
 */
export function schemaFor(group: string, version: string, kind: string): SchemaNode | undefined {
  if (rootsGeneration !== customResourceGeneration()) {
    roots.clear();
    rootsGeneration = customResourceGeneration();
  }
  const key = gvkKey({ group, version, kind });
  const hit = roots.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const r = resolverFor({ group, version, kind });
  const node = r ? new Node(r.resolver, { $ref: r.name }, EMPTY_META) : null;
  roots.set(key, node);
  return node ?? undefined;
}

const ROOT_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Paths of the fields in obj that the kind's schema does not know, formatted as upstream's strict
 * field validation reports them (without the leading dot): `spec.foo`,
 * `spec.template.spec.containers[0].bogus`, map values as `.key`. Fields below
 * x-kubernetes-preserve-unknown-fields, RawExtension, JSON and fieldsV1 are all known.
 * Returns [] when the kind has no schema.
 */
export function unknownFields(group: string, version: string, kind: string, obj: unknown): string[] {
  const root = schemaFor(group, version, kind);
  const out: string[] = [];
  if (!root || !isPlainObject(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    const child = root.field(k);
    if (!child) {
      if (!ROOT_FIELDS.has(k)) out.push(k);
      continue;
    }
    walk(child, v, k, out);
  }
  return out;
}

function walk(node: SchemaNode, value: unknown, path: string, out: string[]): void {
  if (value === null || value === undefined || node.kind === 'any' || node.kind === 'scalar') return;
  if (node.kind === 'list') {
    if (!Array.isArray(value)) return;
    const items = node.items();
    if (items) value.forEach((v, i) => walk(items, v, `${path}[${i}]`, out));
    return;
  }
  if (!isPlainObject(value)) return;
  if (node.kind === 'map') {
    const values = node.values();
    if (values) for (const [k, v] of Object.entries(value)) walk(values, v, `${path}.${k}`, out);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const child = node.field(k);
    if (!child) out.push(`${path}.${k}`);
    else walk(child, v, `${path}.${k}`, out);
  }
}

/**
 * Upstream's OpenAPI v3 carries `default: "TCP"` on the protocol of ports, which are list-map keys
 * (containers[].ports by containerPort+protocol, service ports by port+protocol); the v2-derived
 * definitions lack it, so it is put back here for server-side apply's key matching.
 */
const KEY_DEFAULTS: ReadonlyArray<[string, string, unknown]> = [
  ['io.k8s.api.core.v1.ContainerPort', 'protocol', 'TCP'],
  ['io.k8s.api.core.v1.ServicePort', 'protocol', 'TCP'],
];

function withKeyDefaults(defs: Record<string, JsonSchema>): Record<string, JsonSchema> {
  const out = { ...defs };
  for (const [def, field, value] of KEY_DEFAULTS) {
    const d = out[def];
    const prop = d?.properties?.[field];
    if (!d || !prop) continue;
    out[def] = { ...d, properties: { ...d.properties, [field]: { ...prop, default: value } as JsonSchema } };
  }
  return out;
}

