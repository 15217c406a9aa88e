// Sets of field paths, as server-side apply records ownership: path elements (a field name, the
// keys of a list-map item, the value of a set item, or an index), the set as a trie whose nodes
// may be members, and its `fieldsV1` JSON encoding (`{"f:spec":{"f:replicas":{}}}`).
import { PatchError } from './errors.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json.js';

export type PathElement =
  | { readonly field: string }
  /** A list-map item: its key fields, sorted by name. */
  | { readonly key: ReadonlyArray<readonly [string, JsonValue]> }
  /** A set item (a scalar in a list of type set). */
  | { readonly value: JsonValue }
  | { readonly index: number };

export type FieldPath = readonly PathElement[];

const TYPE_RANK = { field: 0, key: 1, value: 2, index: 3 } as const;

function typeOf(pe: PathElement): keyof typeof TYPE_RANK {
  if ('field' in pe) return 'field';
  if ('key' in pe) return 'key';
  if ('value' in pe) return 'value';
  return 'index';
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function valueRank(v: JsonValue): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (v !== null) return 4;
  return 5;
}

/** A total order on JSON values: numbers, strings, booleans, lists, maps, null (structured-merge-diff's). */
export function compareValues(a: JsonValue, b: JsonValue): number {
  const ra = valueRank(a);
  const rb = valueRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i] as JsonValue, b[i] as JsonValue);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (isJsonObject(a) && isJsonObject(b)) return compareFieldLists(sortedEntries(a), sortedEntries(b));
  return 0;
}

function sortedEntries(o: JsonObject): Array<[string, JsonValue]> {
  return Object.keys(o)
    .sort()
    .map((k) => [k, o[k] as JsonValue]);
}

function compareFieldLists(a: ReadonlyArray<readonly [string, JsonValue]>, b: ReadonlyArray<readonly [string, JsonValue]>): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [an, av] = a[i] as readonly [string, JsonValue];
    const [bn, bv] = b[i] as readonly [string, JsonValue];
    const c = compareStrings(an, bn) || compareValues(av, bv);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Fields before keys before values before indices; each ordered within its type. */
export function comparePathElements(a: PathElement, b: PathElement): number {
  const ta = typeOf(a);
  const tb = typeOf(b);
  if (ta !== tb) return TYPE_RANK[ta] - TYPE_RANK[tb];
  if ('field' in a && 'field' in b) return compareStrings(a.field, b.field);
  if ('key' in a && 'key' in b) return compareFieldLists(a.key, b.key);
  if ('value' in a && 'value' in b) return compareValues(a.value, b.value);
  return (a as { index: number }).index - (b as { index: number }).index;
}

/** JSON as Go's encoder writes it: sorted map keys, `<`, `>`, `&` escaped. */
function goJson(v: JsonValue): string {
  const sorted = (x: JsonValue): JsonValue => {
    if (Array.isArray(x)) return x.map(sorted);
    if (isJsonObject(x)) return Object.fromEntries(sortedEntries(x).map(([k, y]) => [k, sorted(y)]));
    return x;
  };
  return JSON.stringify(sorted(v))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The `fieldsV1` key of a path element: `f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`. */
export function serializePathElement(pe: PathElement): string {
  if ('field' in pe) return `f:${pe.field}`;
  if ('key' in pe) return `k:${goJson(Object.fromEntries(pe.key.map(([k, v]) => [k, v])))}`;
  if ('value' in pe) return `v:${goJson(pe.value)}`;
  return `i:${pe.index}`;
}

/** Parses a `fieldsV1` key; undefined for element types this version does not know (upstream drops them). */
export function parsePathElement(s: string): PathElement | undefined {
  if (s.length < 2) throw new PatchError('BadRequest', 'key must be 2 characters long:');
  if (s[1] !== ':') throw new PatchError('BadRequest', `missing colon: ${s}`);
  const rest = s.slice(2);
  switch (s[0]) {
    case 'f':
      return { field: rest };
    case 'v':
      return { value: parseJson(rest) };
    case 'k': {
      const obj = parseJson(rest);
      if (!isJsonObject(obj)) throw new PatchError('BadRequest', `parsing key as path element: expected an object: ${s}`);
      return { key: sortedEntries(obj) };
    }
    case 'i': {
      if (!/^-?\d+$/.test(rest)) throw new PatchError('BadRequest', `parsing key as path element: invalid index: ${s}`);
      return { index: Number(rest) };
    }
    default:
      return undefined;
  }
}

function parseJson(s: string): JsonValue {
  try {
    return JSON.parse(s) as JsonValue;
  } catch (e) {
    throw new PatchError('BadRequest', `parsing key as path element: ${(e as Error).message}`);
  }
}

/** A path element as structured-merge-diff prints it: `.spec`, `[name="nginx"]`, `[="a"]`, `[0]`. */
export function pathElementString(pe: PathElement): string {
  if ('field' in pe) return `.${pe.field}`;
  if ('key' in pe) return `[${pe.key.map(([k, v]) => `${k}=${valueString(v)}`).join(',')}]`;
  if ('value' in pe) return `[=${valueString(pe.value)}]`;
  return `[${pe.index}]`;
}

/** A path as conflicts print it: `.spec.template.spec.containers[name="nginx"].image`. */
export function pathString(path: FieldPath): string {
  return path.map(pathElementString).join('');
}

function valueString(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(valueString).join(',')}]`;
  if (typeof v === 'object') return sortedEntries(v).map(([k, x]) => `${k}=${valueString(x)}`).join('');
  return String(v);
}

interface Child {
  readonly pe: PathElement;
  readonly set: FieldSet;
}

/**
 * An immutable set of field paths. A node is a member when the path to it is in the set; its
 * children hold longer paths. Operations work member by member, level by level, as upstream's do.
 */
export class FieldSet {
  private constructor(
    private readonly memberMap: ReadonlyMap<string, PathElement>,
    private readonly childMap: ReadonlyMap<string, Child>,
  ) {}

  static empty(): FieldSet {
    return new FieldSet(new Map(), new Map());
  }

  static of(...paths: FieldPath[]): FieldSet {
    return paths.reduce((s, p) => s.with(p), FieldSet.empty());
  }

  /** Builds a set from its members at this level and its child sets (empty children are dropped). */
  static build(members: Iterable<PathElement>, children: Iterable<readonly [PathElement, FieldSet]>): FieldSet {
    const m = new Map<string, PathElement>();
    for (const pe of members) m.set(serializePathElement(pe), pe);
    const c = new Map<string, Child>();
    for (const [pe, set] of children) if (!set.isEmpty()) c.set(serializePathElement(pe), { pe, set });
    return new FieldSet(m, c);
  }

  isEmpty(): boolean {
    return this.memberMap.size === 0 && this.childMap.size === 0;
  }

  /** The members at this level, sorted. */
  members(): PathElement[] {
    return [...this.memberMap.values()].sort(comparePathElements);
  }

  /** The children at this level, sorted by path element. */
  children(): Array<[PathElement, FieldSet]> {
    return [...this.childMap.values()].sort((a, b) => comparePathElements(a.pe, b.pe)).map((c) => [c.pe, c.set]);
  }

  hasMember(pe: PathElement): boolean {
    return this.memberMap.has(serializePathElement(pe));
  }

  /** The paths below `pe` (empty if none). */
  withPrefix(pe: PathElement): FieldSet {
    return this.childMap.get(serializePathElement(pe))?.set ?? FieldSet.empty();
  }

  has(path: FieldPath): boolean {
    const [head, ...rest] = path;
    if (head === undefined) return false;
    return rest.length === 0 ? this.hasMember(head) : this.withPrefix(head).has(rest);
  }

  /** A copy with `path` added (the empty path is ignored: the root is never a member). */
  with(path: FieldPath): FieldSet {
    const [head, ...rest] = path;
    if (head === undefined) return this;
    const key = serializePathElement(head);
    if (rest.length === 0) {
      const m = new Map(this.memberMap);
      m.set(key, head);
      return new FieldSet(m, this.childMap);
    }
    const c = new Map(this.childMap);
    c.set(key, { pe: head, set: (this.childMap.get(key)?.set ?? FieldSet.empty()).with(rest) });
    return new FieldSet(this.memberMap, c);
  }

  union(other: FieldSet): FieldSet {
    const m = new Map([...this.memberMap, ...other.memberMap]);
    const c = new Map(this.childMap);
    for (const [k, child] of other.childMap) {
      const mine = c.get(k);
      c.set(k, mine ? { pe: mine.pe, set: mine.set.union(child.set) } : child);
    }
    return new FieldSet(m, c);
  }

  difference(other: FieldSet): FieldSet {
    const m = new Map([...this.memberMap].filter(([k]) => !other.memberMap.has(k)));
    const c = new Map<string, Child>();
    for (const [k, child] of this.childMap) {
      const theirs = other.childMap.get(k);
      const set = theirs ? child.set.difference(theirs.set) : child.set;
      if (!set.isEmpty()) c.set(k, { pe: child.pe, set });
    }
    return new FieldSet(m, c);
  }

  intersection(other: FieldSet): FieldSet {
    const m = new Map([...this.memberMap].filter(([k]) => other.memberMap.has(k)));
    const c = new Map<string, Child>();
    for (const [k, child] of this.childMap) {
      const theirs = other.childMap.get(k);
      if (!theirs) continue;
      const set = child.set.intersection(theirs.set);
      if (!set.isEmpty()) c.set(k, { pe: child.pe, set });
    }
    return new FieldSet(m, c);
  }

  equals(other: FieldSet): boolean {
    return this.difference(other).isEmpty() && other.difference(this).isEmpty();
  }

  /** Every member path: this level's members first, then each child's, in sorted order. */
  paths(): FieldPath[] {
    const out: FieldPath[] = this.members().map((pe) => [pe]);
    for (const [pe, set] of this.children()) for (const p of set.paths()) out.push([pe, ...p]);
    return out;
  }

  /** The `fieldsV1` encoding, with keys in upstream's order. */
  toFieldsV1(): JsonObject {
    return this.encode(false);
  }

  private encode(includeSelf: boolean): JsonObject {
    const out: JsonObject = {};
    if (includeSelf) out['.'] = {};
    const keys = new Map<string, PathElement>();
    for (const [k, pe] of this.memberMap) keys.set(k, pe);
    for (const [k, c] of this.childMap) keys.set(k, c.pe);
    const sorted = [...keys].sort((a, b) => comparePathElements(a[1], b[1]));
    for (const [k] of sorted) {
      const child = this.childMap.get(k);
      out[k] = child ? child.set.encode(this.memberMap.has(k)) : {};
    }
    return out;
  }

  /** Decodes `fieldsV1`; unknown element types are skipped, malformed keys throw (BadRequest). */
  static fromFieldsV1(json: unknown): FieldSet {
    if (!isJsonObject(json)) throw new PatchError('BadRequest', 'error decoding set: fieldsV1 must be an object');
    return FieldSet.decode(json).children ?? FieldSet.empty();
  }

  private static decode(json: JsonObject): { children: FieldSet | undefined; isMember: boolean } {
    let isMember = false;
    const members: PathElement[] = [];
    const children: Array<[PathElement, FieldSet]> = [];
    for (const [k, v] of Object.entries(json)) {
      if (k === '.') {
        isMember = true;
        continue;
      }
      const pe = parsePathElement(k);
      if (pe === undefined) continue;
      if (!isJsonObject(v)) throw new PatchError('BadRequest', `error decoding set: the value of ${JSON.stringify(k)} must be an object`);
      const sub = FieldSet.decode(v);
      if (sub.isMember) members.push(pe);
      if (sub.children) children.push([pe, sub.children]);
    }
    const set = FieldSet.build(members, children);
    return set.isEmpty() ? { children: undefined, isMember: true } : { children: set, isMember };
  }
}
