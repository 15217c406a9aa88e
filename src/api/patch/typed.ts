// Objects walked with their schema, as structured-merge-diff walks typed values: which paths an
// object sets, how an applied configuration merges into a live object, what changed between two
// objects, and removing owned items. Lists are atomic, sets or maps (keyed); maps and structs are
// granular or atomic; without a schema everything is deduced from the value (maps granular, lists
// atomic), as upstream does for untyped fields.
import type { FieldMeta, SchemaNode } from '../schema.js';
import { PatchError } from './errors.js';
import { FieldSet, pathString, serializePathElement, type FieldPath, type PathElement } from './fieldSet.js';
import { deepEqual, isJsonObject, own, type JsonObject, type JsonValue } from './json.js';

type ListShape = { t: 'list'; atomic: boolean; keys: readonly string[]; item: SchemaNode | undefined };
type MapShape = { t: 'map'; atomic: boolean; child: (key: string) => { node: SchemaNode | undefined; named: boolean } };
type Shape = { t: 'scalar' } | ListShape | MapShape;

const SCALAR: Shape = { t: 'scalar' };

const deducedMap: MapShape = { t: 'map', atomic: false, child: () => ({ node: undefined, named: false }) };
const deducedList: ListShape = { t: 'list', atomic: true, keys: [], item: undefined };

/** A list's relationship: x-kubernetes-list-type, else the patch strategy (merge with a key → map, merge → set), else atomic. */
function listShape(meta: FieldMeta, item: SchemaNode | undefined): ListShape {
  const mergeKeys = meta.patchMergeKey ? [meta.patchMergeKey] : [];
  switch (meta.listType) {
    case 'atomic':
      return { t: 'list', atomic: true, keys: [], item };
    case 'set':
      return { t: 'list', atomic: false, keys: [], item };
    case 'map':
      return { t: 'list', atomic: false, keys: meta.listMapKeys ?? mergeKeys, item };
    default:
      if (meta.patchStrategy?.includes('merge')) return { t: 'list', atomic: false, keys: mergeKeys, item };
      return { t: 'list', atomic: true, keys: [], item };
  }
}

function objectChild(node: SchemaNode, key: string): { node: SchemaNode | undefined; named: boolean } {
  const child = node.field(key);
  const named = child !== undefined && !(node.preservesUnknownFields && child.kind === 'any');
  return { node: child, named };
}

/** The shape of `value` at `node`; a value that does not fit its schema is a leaf. */
function shapeOf(node: SchemaNode | undefined, value: JsonValue | undefined): Shape {
  const isMap = value === undefined || value === null || isJsonObject(value);
  const isList = value === undefined || value === null || Array.isArray(value);
  if (node === undefined || node.kind === 'any') {
    if (isJsonObject(value)) return deducedMap;
    if (Array.isArray(value)) return deducedList;
    return SCALAR;
  }
  switch (node.kind) {
    case 'object':
      return isMap ? { t: 'map', atomic: node.meta.mapType === 'atomic', child: (k) => objectChild(node, k) } : SCALAR;
    case 'map':
      return isMap ? { t: 'map', atomic: node.meta.mapType === 'atomic', child: () => ({ node: node.values(), named: false }) } : SCALAR;
    case 'list':
      return isList ? listShape(node.meta, node.items()) : SCALAR;
    default:
      return SCALAR;
  }
}

/** The schema of a path element below `node`, from the schema alone (no value). */
function childNode(node: SchemaNode | undefined, pe: PathElement): SchemaNode | undefined {
  if (node === undefined) return undefined;
  if ('field' in pe) return node.kind === 'object' ? node.field(pe.field) : node.kind === 'map' ? node.values() : undefined;
  return node.kind === 'list' ? node.items() : undefined;
}

function schemaNode(kind: SchemaNode['kind'], meta: FieldMeta, parts: { fields?: Record<string, SchemaNode>; values?: SchemaNode; items?: SchemaNode; rest?: SchemaNode } = {}): SchemaNode {
  const node: SchemaNode = {
    kind,
    meta,
    preservesUnknownFields: parts.rest !== undefined,
    field: (name) => (parts.fields && Object.hasOwn(parts.fields, name) ? parts.fields[name] : parts.rest),
    values: () => parts.values,
    items: () => parts.items,
  };
  return node;
}

const UNTYPED = schemaNode('any', {});
const STRING = schemaNode('scalar', {});

/**
 * The schema used when a kind has none: metadata typed as ObjectMeta (as the API server always
 * types it, CRDs included), everything else deduced from the value.
 */
export const UNTYPED_OBJECT: SchemaNode = schemaNode('object', {}, {
  rest: UNTYPED,
  fields: {
    metadata: schemaNode('object', {}, {
      rest: UNTYPED,
      fields: {
        labels: schemaNode('map', {}, { values: STRING }),
        annotations: schemaNode('map', {}, { values: STRING }),
        finalizers: schemaNode('list', { patchStrategy: ['merge'], listType: 'set' }, { items: STRING }),
        ownerReferences: schemaNode('list', { patchStrategy: ['merge'], patchMergeKey: 'uid', listType: 'map', listMapKeys: ['uid'] }, { items: schemaNode('object', {}, { rest: UNTYPED }) }),
        managedFields: schemaNode('list', { listType: 'atomic' }, { items: UNTYPED }),
      },
    }),
  },
});

/** A key field's schema default (OpenAPI `default`), when the schema node carries one. */
function keyDefault(item: SchemaNode | undefined, key: string): JsonValue | undefined {
  const field = item?.kind === 'object' ? item.field(key) : undefined;
  const d = (field as { default?: unknown } | undefined)?.default;
  return d === undefined ? undefined : (d as JsonValue);
}

function typeError(path: FieldPath, message: string): PatchError {
  const where = path.length ? `${pathString(path)}: ` : '';
  return new PatchError('BadRequest', `${where}${message}`);
}

/** The path element naming a list item: its key fields for a list-map, its value for a set. */
function itemElement(list: ListShape, item: JsonValue, path: FieldPath, index: number): PathElement {
  if (list.keys.length > 0) {
    if (item === null) throw typeError(path, `element ${index}: associative list with keys may not have a null element`);
    if (!isJsonObject(item)) throw typeError(path, `element ${index}: associative list with keys may not have non-map elements`);
    const fields: Array<[string, JsonValue]> = [];
    for (const k of list.keys) {
      const v = own(item, k) ?? keyDefault(list.item, k);
      if (v !== undefined) fields.push([k, v]);
    }
    if (fields.length === 0) {
      throw typeError(
        path,
        `element ${index}: associative list with keys has an element that omits all key fields ${JSON.stringify(list.keys)} (and doesn't have default values for any key fields)`,
      );
    }
    fields.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { key: fields };
  }
  if (isJsonObject(item)) throw typeError(path, `element ${index}: associative list without keys has an element that's a map type`);
  if (Array.isArray(item)) throw typeError(path, `element ${index}: not supported: associative list with lists as elements`);
  if (item === null) throw typeError(path, `element ${index}: associative list without keys has an element that's an explicit null`);
  return { value: item };
}

/** A mutable trie used while walking; frozen into a FieldSet at the end. */
class SetBuilder {
  private readonly members = new Map<string, PathElement>();
  private readonly children = new Map<string, { pe: PathElement; b: SetBuilder }>();

  insert(path: FieldPath): void {
    const [head, ...rest] = path;
    if (head === undefined) return;
    const key = serializePathElement(head);
    if (rest.length === 0) {
      this.members.set(key, head);
      return;
    }
    let child = this.children.get(key);
    if (!child) {
      child = { pe: head, b: new SetBuilder() };
      this.children.set(key, child);
    }
    child.b.insert(rest);
  }

  build(): FieldSet {
    return FieldSet.build(this.members.values(), [...this.children.values()].map((c) => [c.pe, c.b.build()] as const));
  }
}

/**
 * The set of paths `value` sets: every scalar, every atomic list or map, every list item (and,
 * inside, its fields), map entries whose key is not a declared field, and empty or null fields.
 * Duplicate list items are recorded as the item alone; `allowDuplicates: false` refuses them
 * (an applied configuration may not have duplicates; a live object may).
 */
export function fieldSetOf(value: JsonValue, schema: SchemaNode | undefined, allowDuplicates = true): FieldSet {
  const out = new SetBuilder();
  walkSet(value, schema, [], out, allowDuplicates);
  return out.build();
}

function walkSet(value: JsonValue, node: SchemaNode | undefined, path: PathElement[], out: SetBuilder, allowDuplicates: boolean): void {
  const shape = shapeOf(node, value);
  if (shape.t === 'scalar' || shape.atomic) {
    out.insert(path);
    return;
  }
  if (shape.t === 'list') {
    if (!Array.isArray(value)) return;
    const seen = new Map<string, number>();
    const elements = value.map((item, i) => itemElement(shape, item, path, i));
    for (const pe of elements) {
      const k = serializePathElement(pe);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    value.forEach((item, i) => {
      const pe = elements[i] as PathElement;
      const count = seen.get(serializePathElement(pe)) ?? 0;
      if (count > 1) {
        if (!allowDuplicates) throw typeError(path, `duplicate entries for key ${pathString([pe])}`);
        out.insert([...path, pe]);
        return;
      }
      path.push(pe);
      walkSet(item, shape.item, path, out, allowDuplicates);
      out.insert(path);
      path.pop();
    });
    return;
  }
  if (!isJsonObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const { node: child, named } = shape.child(k);
    path.push({ field: k });
    walkSet(v, child, path, out, allowDuplicates);
    if (v === null || (isJsonObject(v) && Object.keys(v).length === 0) || !named) out.insert(path);
    path.pop();
  }
}

/**
 * Merges an applied configuration into a live object: the configuration's scalars, atomic lists
 * and atomic maps win; maps merge key by key; list-maps merge item by item (the configuration's
 * order for the items it names, live-only items kept in place); sets are unioned. A null in the
 * configuration removes the field (upstream stores the zero value, which is omitted).
 */
export function mergeApplied(live: JsonObject, applied: JsonObject, schema: SchemaNode | undefined): JsonObject {
  const out = mergeValue(live, applied, schema, []);
  return isJsonObject(out) ? out : {};
}

function mergeValue(l: JsonValue | undefined, r: JsonValue | undefined, node: SchemaNode | undefined, path: PathElement[]): JsonValue | undefined {
  if (r === undefined) return l;
  if (r === null) return undefined;
  const shape = shapeOf(node, r);
  if (shape.t === 'scalar' || shape.atomic) return r;
  if (shape.t === 'map') {
    if (!isJsonObject(r)) return r;
    const lo = isJsonObject(l) ? l : {};
    if (Object.keys(r).length === 0 && Object.keys(lo).length === 0) return r;
    const out: JsonObject = {};
    for (const k of new Set([...Object.keys(lo), ...Object.keys(r)])) {
      path.push({ field: k });
      const m = mergeValue(own(lo, k), own(r, k), shape.child(k).node, path);
      path.pop();
      if (m !== undefined) out[k] = m;
    }
    return out;
  }
  if (!Array.isArray(r)) return r;
  const la = Array.isArray(l) ? l : [];
  if (la.length === 0 && r.length === 0) return r;
  return mergeListItems(shape, la, r, path);
}

/**
 * Merges two associative lists. Items both lists name come in the configuration's order; items
 * only the live list has stay where they were relative to those; new items follow the
 * configuration's order.
 */
function mergeListItems(shape: ListShape, lhs: JsonValue[], rhs: JsonValue[], path: PathElement[]): JsonValue[] {
  const rPEs = rhs.map((item, i) => itemElement(shape, item, path, i));
  const rByKey = new Map<string, JsonValue>();
  rPEs.forEach((pe, i) => {
    const k = serializePathElement(pe);
    if (rByKey.has(k)) throw typeError(path, `duplicate entries for key ${pathString([pe])}`);
    rByKey.set(k, rhs[i] as JsonValue);
  });
  const lKeys = lhs.map((item, i) => serializePathElement(itemElement(shape, item, path, i)));
  const lByKey = new Map<string, JsonValue | null>();
  lKeys.forEach((k, i) => lByKey.set(k, lByKey.has(k) ? null : (lhs[i] as JsonValue)));
  const rKeys = rPEs.map(serializePathElement);
  const shared = rKeys.filter((k) => lByKey.has(k));
  let nextShared = 0;
  const merged = new Set<string>();
  const out: JsonValue[] = [];

  const emit = (k: string, pe: PathElement, l: JsonValue | undefined, r: JsonValue | undefined): void => {
    path.push(pe);
    const m = mergeValue(l ?? undefined, r, shape.item, path);
    path.pop();
    if (m !== undefined) out.push(m);
    merged.add(k);
  };

  let li = 0;
  let ri = 0;
  while (li < lhs.length || ri < rhs.length) {
    if (li < lhs.length && ri < rhs.length) {
      const lk = lKeys[li] as string;
      if (lk === rKeys[ri]) {
        emit(lk, rPEs[ri] as PathElement, lByKey.get(lk) ?? undefined, rByKey.get(lk));
        li++;
        ri++;
        nextShared++;
        continue;
      }
      if (rByKey.has(lk) && nextShared < shared.length && shared[nextShared] !== lk) {
        li++;
        continue;
      }
    }
    if (li < lhs.length) {
      const lk = lKeys[li] as string;
      if (!rByKey.has(lk)) {
        out.push(lhs[li] as JsonValue);
        li++;
        continue;
      }
      if (merged.has(lk)) li++;
    }
    if (ri < rhs.length) {
      const rk = rKeys[ri] as string;
      emit(rk, rPEs[ri] as PathElement, lByKey.get(rk) ?? undefined, rByKey.get(rk));
      ri++;
      if (shared[nextShared] === rk) nextShared++;
    }
  }
  return out;
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** What changed from `lhs` to `rhs`: leaves and items added, modified and removed (upstream's Compare). */
export function compareObjects(lhs: JsonObject, rhs: JsonObject, schema: SchemaNode | undefined): Comparison {
  const acc = { added: new SetBuilder(), modified: new SetBuilder(), removed: new SetBuilder() };
  compareValue(lhs, rhs, schema, [], acc);
  return { added: acc.added.build(), modified: acc.modified.build(), removed: acc.removed.build() };
}

interface CompareAcc {
  added: SetBuilder;
  modified: SetBuilder;
  removed: SetBuilder;
}

function isEmptyContainer(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isJsonObject(v) && Object.keys(v).length === 0;
}

function sameShapeKind(l: JsonValue | undefined, r: JsonValue | undefined): boolean {
  if (l === undefined || r === undefined || l === null || r === null) return true;
  return Array.isArray(l) === Array.isArray(r) && isJsonObject(l) === isJsonObject(r);
}

function compareValue(l: JsonValue | undefined, r: JsonValue | undefined, node: SchemaNode | undefined, path: PathElement[], acc: CompareAcc): void {
  const shape = shapeOf(node, r !== undefined && r !== null ? r : l);
  const leaf =
    shape.t === 'scalar' || shape.atomic || (isEmptyContainer(l) && isEmptyContainer(r)) || !sameShapeKind(l, r);
  if (leaf) {
    if (l === undefined) acc.added.insert(path);
    else if (r === undefined) acc.removed.insert(path);
    else if (!deepEqual(l, r)) acc.modified.insert(path);
    return;
  }
  if (shape.t === 'map') {
    const lo = isJsonObject(l) ? l : {};
    const ro = isJsonObject(r) ? r : {};
    for (const k of new Set([...Object.keys(lo), ...Object.keys(ro)])) {
      path.push({ field: k });
      compareValue(own(lo, k), own(ro, k), shape.child(k).node, path, acc);
      path.pop();
    }
  } else if (shape.t === 'list') {
    compareListItems(shape, Array.isArray(l) ? l : [], Array.isArray(r) ? r : [], path, acc);
  }
  if (l === undefined) acc.added.insert(path);
  else if (r === undefined) acc.removed.insert(path);
}

function groupByElement(shape: ListShape, list: JsonValue[], path: FieldPath): Map<string, { pe: PathElement; items: JsonValue[] }> {
  const out = new Map<string, { pe: PathElement; items: JsonValue[] }>();
  list.forEach((item, i) => {
    const pe = itemElement(shape, item, path, i);
    const k = serializePathElement(pe);
    const g = out.get(k);
    if (g) g.items.push(item);
    else out.set(k, { pe, items: [item] });
  });
  return out;
}

function compareListItems(shape: ListShape, lhs: JsonValue[], rhs: JsonValue[], path: PathElement[], acc: CompareAcc): void {
  const lg = groupByElement(shape, lhs, path);
  const rg = groupByElement(shape, rhs, path);
  const all = new Map([...lg, ...rg].map(([k, g]) => [k, g.pe]));
  for (const [k, pe] of all) {
    const ls = lg.get(k)?.items ?? [];
    const rs = rg.get(k)?.items ?? [];
    path.push(pe);
    if (ls.length <= 1 && rs.length <= 1) {
      compareValue(ls[0], rs[0], shape.item, path, acc);
    } else if (ls.length >= 2 && rs.length >= 2) {
      if (!deepEqual(ls, rs)) acc.modified.insert(path);
    } else if (ls.length >= 2) {
      if (rs.length > 0) compareValue(undefined, rs[0], shape.item, path, acc);
      acc.removed.insert(path);
    } else {
      if (ls.length > 0) compareValue(ls[0], undefined, shape.item, path, acc);
      acc.added.insert(path);
    }
    path.pop();
  }
}

/**
 * Removes from `value` every field and list item that is a member of `set` (and, below members'
 * ancestors, recursively). Containers emptied by the removal are dropped from their parent.
 */
export function removeItems(value: JsonObject, set: FieldSet, schema: SchemaNode | undefined): JsonObject {
  const out = removeFrom(value, set, schema);
  return isJsonObject(out) ? out : {};
}

function removeFrom(value: JsonValue, set: FieldSet, node: SchemaNode | undefined): JsonValue | undefined {
  const shape = shapeOf(node, value);
  if (shape.t === 'scalar' || shape.atomic) return value;
  if (shape.t === 'list') {
    if (!Array.isArray(value) || value.length === 0) return value;
    const out: JsonValue[] = [];
    value.forEach((item, i) => {
      let pe: PathElement;
      try {
        pe = itemElement(shape, item, [], i);
      } catch {
        out.push(item);
        return;
      }
      if (set.hasMember(pe)) return;
      const below = set.withPrefix(pe);
      const kept = below.isEmpty() ? item : removeFrom(item, below, shape.item);
      if (kept !== undefined) out.push(kept);
    });
    return out.length > 0 ? out : undefined;
  }
  if (!isJsonObject(value) || Object.keys(value).length === 0) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const pe = { field: k };
    if (set.hasMember(pe)) continue;
    const below = set.withPrefix(pe);
    const kept = below.isEmpty() ? v : removeFrom(v, below, shape.child(k).node);
    if (kept !== undefined) out[k] = kept;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The set plus, as members, every declared (named) field that has children in it: owning
 * `.spec.replicas` then also means owning `.spec`, but owning `.metadata.labels.app` does not
 * mean owning an entry of a map. Used when pruning, so that emptied structs go too.
 */
export function withNamedFieldsAsMembers(set: FieldSet, schema: SchemaNode | undefined): FieldSet {
  const members = set.members();
  const children: Array<readonly [PathElement, FieldSet]> = [];
  for (const [pe, child] of set.children()) {
    if ('field' in pe && schema?.kind === 'object' && objectChild(schema, pe.field).named) members.push(pe);
    children.push([pe, withNamedFieldsAsMembers(child, childNode(schema, pe))]);
  }
  return FieldSet.build(members, children);
}
