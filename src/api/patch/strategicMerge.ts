// Strategic merge patch (application/strategic-merge-patch+json), applied the way the API server
// applies it: JSON merge patch, except that lists whose field says `patchStrategy: merge` are
// merged item by item (by `patchMergeKey`, or as sets of scalars), and the patch may carry
// directives: `$patch` (replace/delete), `$retainKeys`, `$deleteFromPrimitiveList/<list>` and
// `$setElementOrder/<list>`.
import type { FieldMeta, SchemaNode } from '../schema.js';
import { PatchError, badRequest, unprocessable } from './errors.js';
import { clone, deepEqual, goString, goTypeName, has, isJsonObject, jsonKind, own, type JsonKind, type JsonObject, type JsonValue } from './json.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';

/** Upstream's (mergepatch) sentinel errors that the API server answers with 400. */
const ERR_PRIMITIVE_LIST = 'invalid patch format of primitive list';
const ERR_RETAIN_KEYS = 'invalid patch format of retainKeys';
const ERR_SET_ELEMENT_ORDER = 'invalid patch format of setElementOrder list';
const ERR_LIST_OF_LISTS = 'lists of lists are not supported';

/**
 * Applies a strategic merge patch to a copy of `original`.
 *
 * With `schema` undefined (an unknown kind, a CRD without schema) no list is merged: maps merge as
 * in a JSON merge patch and lists are replaced; directives still apply. Fields the schema does not
 * know behave the same way below them.
 *
 * Throws `PatchError`: BadRequest for a patch that is not an object and for malformed directives
 * (unknown `$patch` value, `$patch: merge`, a `$retainKeys` list that misses a patched key, a
 * `$setElementOrder` list that contradicts the patch list, an item without its merge key, …);
 * UnprocessableEntity for lists of lists. Upstream answers the errors that are not its named
 * sentinels with a 500; here they are 400s, since the patch is what is wrong.
 *
 * Values taken from the patch never keep directive keys or null members: upstream decodes the
 * merged map into the typed object, which drops both.
 */
export function strategicMergePatch(original: JsonObject, patch: unknown, schema?: SchemaNode): JsonObject {
  if (patch === null || patch === undefined) return clone(original);
  if (!isJsonObject(patch)) {
    const kind = jsonKind(patch as JsonValue);
    throw badRequest(`json: cannot unmarshal ${kind === 'boolean' ? 'bool' : kind} into Go value of type map[string]interface {}`);
  }
  return mergeMap(clone(original), clone(patch), schema);
}

/** An error upstream returns unwrapped (a 500 there); a 400 here. */
function malformed(message: string): PatchError {
  return new PatchError('BadRequest', message);
}

function badArgType(expected: string, actual: JsonValue | undefined): PatchError {
  return malformed(`expected a ${expected}, but received a ${goTypeName(actual)}`);
}

function noMergeKey(item: JsonObject, mergeKey: string): PatchError {
  return malformed(`map: ${goString(item)} does not contain declared merge key: ${mergeKey}`);
}

interface Lookup {
  /** The schema below the field (for a list: of its items). */
  sub: SchemaNode | undefined;
  meta: FieldMeta;
}

function lookupField(node: SchemaNode | undefined, key: string): Lookup {
  const child = node?.kind === 'object' ? node.field(key) : node?.kind === 'map' ? node.values() : undefined;
  return { sub: child, meta: child?.meta ?? {} };
}

function lookupList(node: SchemaNode | undefined, key: string): Lookup {
  const { sub, meta } = lookupField(node, key);
  return { sub: sub?.kind === 'list' ? sub.items() : undefined, meta };
}

/** The field's strategy other than retainKeys: '' (none), 'merge' or 'replace'. */
function strategyOf(meta: FieldMeta): string {
  const all = meta.patchStrategy ?? [];
  const others = all.filter((s) => s !== 'retainKeys');
  if (all.length > 2 || others.length > 1 || (all.length === 2 && others.length !== 1)) {
    throw malformed(`unexpected patch strategy: ${goString([...all])}`);
  }
  return others[0] ?? '';
}

function mergeMap(original: JsonObject | null, patch: JsonObject, schema: SchemaNode | undefined): JsonObject {
  if (has(patch, DIRECTIVE)) return mapDirective(patch);
  const out = original ?? {};
  applyRetainKeys(out, patch);
  applyElementOrders(out, patch, schema);

  for (const [rawKey, patchValue] of Object.entries(patch)) {
    const isDeleteList = rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST);
    const key = isDeleteList ? extractKey(rawKey, DELETE_FROM_PRIMITIVE_LIST, ERR_PRIMITIVE_LIST) : rawKey;
    if (patchValue === null) {
      delete out[key];
      continue;
    }
    const current = own(out, key);
    if (current === undefined || jsonKind(current) !== jsonKind(patchValue)) {
      // A new field, or one whose type changes, takes the patch value; a deletion list never adds.
      if (!isDeleteList) setNew(out, key, patchValue);
      continue;
    }
    if (isJsonObject(current) && isJsonObject(patchValue)) {
      const { sub, meta } = lookupField(schema, key);
      out[key] = strategyOf(meta) === 'replace' ? takeRaw(patchValue) : mergeMap(current, patchValue, sub);
    } else if (Array.isArray(current) && Array.isArray(patchValue)) {
      const { sub, meta } = lookupList(schema, key);
      const merge = strategyOf(meta) === 'merge' || isDeleteList;
      out[key] = merge ? mergeList(current, patchValue, sub, meta.patchMergeKey ?? '', isDeleteList) : takeRaw(patchValue);
    } else {
      out[key] = patchValue;
    }
  }
  return out;
}

/** `$patch` in a map: replace the whole map with the rest of the patch, or delete its contents. */
function mapDirective(patch: JsonObject): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') {
    delete patch[DIRECTIVE];
    return takeRaw(patch);
  }
  if (directive === 'delete') return {};
  throw malformed(`unknown patch type: ${goString(directive)} in map: ${goString(patch)}`);
}

/** `<prefix>/<field>` → `<field>`. */
function extractKey(key: string, prefix: string, error: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) throw badRequest(error);
  return key.slice(slash + 1);
}

/** `$retainKeys`: every key the patch sets must be listed; keys not listed are cleared from the original. */
function applyRetainKeys(out: JsonObject, patch: JsonObject): void {
  if (!has(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw badRequest(ERR_RETAIN_KEYS);
  const keep = new Set(list.filter((k): k is string => typeof k === 'string'));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(k)) throw badRequest(ERR_RETAIN_KEYS);
  }
  for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
}

/**
 * `$setElementOrder/<list>`: merges the list (if the patch has it) and then orders the result:
 * the order list first, then the patch list, then the live list, which places server-only items
 * among the others as closely as it can. Both keys are consumed from the patch.
 */
function applyElementOrders(out: JsonObject, patch: JsonObject, schema: SchemaNode | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw badArgType('[]interface {}', order);
    const listKey = extractKey(key, SET_ELEMENT_ORDER, ERR_SET_ELEMENT_ORDER);
    const originalValue = own(out, listKey);
    const patchValue = own(patch, listKey);
    if (originalValue !== undefined && !Array.isArray(originalValue)) throw badArgType('[]interface {}', originalValue);
    if (patchValue !== undefined && !Array.isArray(patchValue)) throw badArgType('[]interface {}', patchValue);
    const { sub, meta } = lookupList(schema, listKey);
    const strategy = strategyOf(meta);
    const mergeKey = meta.patchMergeKey ?? '';
    validateOrderList(patchValue ?? [], order, mergeKey);

    let merged: JsonValue[];
    if (originalValue !== undefined && patchValue === undefined) merged = originalValue;
    else if (originalValue === undefined && patchValue !== undefined) merged = takeNewList(patchValue);
    else if (originalValue !== undefined && patchValue !== undefined) {
      merged = strategy === 'merge' ? mergeList(originalValue, patchValue, sub, mergeKey, false) : takeRaw(patchValue);
    } else continue;

    const [inOrder, serverOnly] = partition(merged, order, mergeKey);
    const kind = elementKind(originalValue ?? [], patchValue ?? []);
    out[listKey] = normalizeElementOrder(inOrder, serverOnly, order, originalValue ?? [], mergeKey, kind);
    delete patch[listKey];
  }
}

/** The patch list's items must appear in the `$setElementOrder` list, in the same relative order. */
function validateOrderList(patchList: JsonValue[], order: JsonValue[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey ? splitDeletions(patchList)[0] : patchList;
  let p = 0;
  let o = 0;
  while (p < items.length && o < order.length) {
    const item = items[p] as JsonValue;
    if (isJsonObject(item) && has(item, DIRECTIVE)) {
      p++;
      continue;
    }
    if (mergeKeyValueEqual(item, order[o] as JsonValue, mergeKey)) p++;
    o++;
  }
  if (p < items.length && o >= order.length) {
    throw malformed(`The order in patch list:\n${goString(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goString(order)}\n`);
  }
}

function mergeKeyValueEqual(left: JsonValue, right: JsonValue, mergeKey: string): boolean {
  if (!mergeKey) return sameValue(left, right);
  if (!isJsonObject(left)) throw badArgType('map[string]interface {}', left);
  if (!isJsonObject(right)) throw badArgType('map[string]interface {}', right);
  if (!has(left, mergeKey)) throw noMergeKey(left, mergeKey);
  if (!has(right, mergeKey)) throw noMergeKey(right, mergeKey);
  return sameValue(left[mergeKey] as JsonValue, right[mergeKey] as JsonValue);
}

/** Go's `==` on decoded JSON values (which cannot compare maps; we compare them deeply). */
function sameValue(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return typeof a === 'object' && a !== null ? deepEqual(a, b) : a === b;
}

/** Merges a patch list into a live list with merge semantics (or applies a deletion list). */
function mergeList(original: JsonValue[], patch: JsonValue[], schema: SchemaNode | undefined, mergeKey: string, isDeleteList: boolean): JsonValue[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch);
  let live = original;
  let items = patch;
  let merged: JsonValue[];
  if (kind !== 'object') {
    if (isDeleteList) return original.filter((v) => !patch.some((d) => sameValue(v, d)));
    merged = dedupe([...original, ...patch]);
  } else {
    if (!mergeKey) throw malformed(`cannot merge lists without merge key for ${schemaName(schema)}`);
    [live, items] = applyListDirectives(original, patch, mergeKey);
    merged = mergeItemsByKey(live, items, mergeKey, schema);
  }
  const [inPatch, serverOnly] = partition(merged, items, mergeKey);
  return normalizeElementOrder(inPatch, serverOnly, items, live, mergeKey, kind);
}

function schemaName(schema: SchemaNode | undefined): string {
  if (!schema) return 'nil';
  return schema.kind === 'object' ? 'Struct' : schema.kind;
}

/** The kind shared by every item of the lists; lists of lists and mixed lists are refused. */
function elementKind(...lists: JsonValue[][]): JsonKind {
  let kind: JsonKind | undefined;
  for (const list of lists) {
    for (const v of list) {
      const k = jsonKind(v);
      if (kind === undefined) {
        if (k === 'array') throw unprocessable(ERR_LIST_OF_LISTS);
        kind = k;
      } else if (k !== kind) {
        throw malformed(`list element types are not identical: ${goString(lists)}`);
      }
    }
  }
  if (kind === undefined) throw malformed('no elements in any of the given slices');
  return kind;
}

function dedupe(list: JsonValue[]): JsonValue[] {
  const out: JsonValue[] = [];
  for (const v of list) if (!out.some((o) => sameValue(o, v))) out.push(v);
  return out;
}

/**
 * Handles `$patch` items of a list of maps: `delete` removes every live item with that key,
 * `replace` makes the other patch items the whole list, `merge` is refused (as upstream does).
 * Returns the live list and the patch items left to merge.
 */
function applyListDirectives(original: JsonValue[], patch: JsonValue[], mergeKey: string): [JsonValue[], JsonValue[]] {
  const rest: JsonValue[] = [];
  let live = original;
  let replace = false;
  for (const v of patch) {
    const item = v as JsonObject;
    if (!has(item, DIRECTIVE)) {
      rest.push(item);
      continue;
    }
    const directive = item[DIRECTIVE];
    if (directive === 'delete') {
      if (!has(item, mergeKey)) throw noMergeKey(item, mergeKey);
      const doomed = item[mergeKey] as JsonValue;
      live = live.filter((o, i) => {
        if (!isJsonObject(o)) throw malformed(`value for key ${i} is not a map`);
        return !(has(o, mergeKey) && sameValue(o[mergeKey], doomed));
      });
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw malformed('merging lists cannot yet be specified in the patch');
    } else {
      throw malformed(`unknown patch type: ${goString(directive)} in map: ${goString(item)}`);
    }
  }
  return replace ? [takeRaw(rest), []] : [live, rest];
}

function indexByKey(list: JsonValue[], mergeKey: string, value: JsonValue | undefined): number {
  return list.findIndex((o, i) => {
    if (!isJsonObject(o)) throw malformed(`value for key ${i} is not a map`);
    return has(o, mergeKey) && sameValue(o[mergeKey], value);
  });
}

/** Patch items merge into the live item with the same key, or are appended. */
function mergeItemsByKey(live: JsonValue[], items: JsonValue[], mergeKey: string, schema: SchemaNode | undefined): JsonValue[] {
  const out = [...live];
  for (const v of items) {
    const item = v as JsonObject;
    if (!has(item, mergeKey)) throw noMergeKey(item, mergeKey);
    const at = indexByKey(out, mergeKey, item[mergeKey]);
    if (at >= 0) out[at] = mergeMap(out[at] as JsonObject, item, schema);
    else out.push(takeRaw(item));
  }
  return out;
}

/** Splits `list` into the items present in `by` (by merge key, or by value for scalars) and the rest. */
function partition(list: JsonValue[], by: JsonValue[], mergeKey: string): [JsonValue[], JsonValue[]] {
  const present: JsonValue[] = [];
  const absent: JsonValue[] = [];
  for (const v of list) {
    let found: boolean;
    if (mergeKey) {
      if (!isJsonObject(v)) throw badArgType('map[string]interface {}', v);
      if (!has(v, mergeKey)) throw noMergeKey(v, mergeKey);
      found = indexByKey(by, mergeKey, v[mergeKey]) >= 0;
    } else {
      found = by.some((o) => sameValue(o, v));
    }
    (found ? present : absent).push(v);
  }
  return [present, absent];
}

function splitDeletions(list: JsonValue[]): [JsonValue[], JsonValue[]] {
  const keep: JsonValue[] = [];
  const doomed: JsonValue[] = [];
  for (const v of list) {
    if (!isJsonObject(v)) throw badArgType('map[string]interface {}', v);
    (v[DIRECTIVE] === 'delete' ? doomed : keep).push(v);
  }
  return [keep, doomed];
}

/** Position of `item` in `list`: by merge key value for maps, by value for scalars. */
function indexIn(list: JsonValue[], item: JsonValue, mergeKey: string, kind: JsonKind): number {
  if (kind === 'object') {
    const want = isJsonObject(item) ? own(item, mergeKey) : undefined;
    return list.findIndex((o) => sameValue(isJsonObject(o) ? own(o, mergeKey) : undefined, want));
  }
  return list.findIndex((o) => sameValue(o, item));
}

function normalizeSliceOrder(toSort: JsonValue[], order: JsonValue[], mergeKey: string, kind: JsonKind): JsonValue[] {
  let items = toSort;
  let doomed: JsonValue[] = [];
  if (kind === 'object') {
    for (const v of [...toSort, ...order]) {
      if (!isJsonObject(v)) throw badArgType('map[string]interface {}', v);
      if (!has(v, mergeKey)) throw noMergeKey(v, mergeKey);
    }
    [items, doomed] = splitDeletions(toSort);
  }
  const rank = (v: JsonValue): number => {
    const i = indexIn(order, v, mergeKey, kind);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  const sorted = items
    .map((v, i) => ({ v, i, r: rank(v) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.v);
  return [...sorted, ...doomed];
}

/**
 * Orders the patch items by the patch order and the server-only items by the live order, then
 * interleaves them: a server-only item goes before a patch item when the live list had it first.
 */
function normalizeElementOrder(
  patchItems: JsonValue[],
  serverOnly: JsonValue[],
  patchOrder: JsonValue[],
  serverOrder: JsonValue[],
  mergeKey: string,
  kind: JsonKind,
): JsonValue[] {
  const right = normalizeSliceOrder(patchItems, patchOrder, mergeKey, kind);
  const left = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  const out: JsonValue[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    const l = left[i];
    const r = right[j];
    if (l === undefined) {
      out.push(r as JsonValue);
      j++;
    } else if (r === undefined) {
      out.push(l);
      i++;
    } else {
      const li = indexIn(serverOrder, l, mergeKey, kind);
      const ri = indexIn(serverOrder, r, mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) {
        out.push(l);
        i++;
      } else {
        out.push(r);
        j++;
      }
    }
  }
  return out;
}

function isDirectiveKey(k: string): boolean {
  return k === DIRECTIVE || k === RETAIN_KEYS || k.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`) || k.startsWith(`${SET_ELEMENT_ORDER}/`);
}

/** Sets a new field from the patch: null members dropped, maps carrying `$patch` dropped (upstream's removeDirectives). */
function setNew(out: JsonObject, key: string, value: JsonValue): void {
  const v = takeNew(value);
  if (v === undefined) delete out[key];
  else out[key] = v;
}

function takeNew(value: JsonValue): JsonValue | undefined {
  if (Array.isArray(value)) return takeNewList(value);
  if (!isJsonObject(value)) return value;
  if (has(value, DIRECTIVE)) return undefined;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || isDirectiveKey(k)) continue;
    const t = takeNew(v);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

function takeNewList(list: JsonValue[]): JsonValue[] {
  return list.map(takeNew).filter((v): v is JsonValue => v !== undefined);
}

/** A patch value used as it is (replaced lists and maps): only directive keys and null members go. */
function takeRaw<T extends JsonValue>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => takeRaw(v)) as T;
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || isDirectiveKey(k)) continue;
    out[k] = takeRaw(v);
  }
  return out as T;
}
