// Server-side apply and field ownership (metadata.managedFields), with structured-merge-diff's
// semantics: an apply merges the configuration into the live object, prunes what the applier
// stopped applying, and fails on conflicts with other owners unless forced; an ordinary write
// (create, update, patch) hands every field it changed to its manager.
import type { StatusCause } from 'kubernetes-types/meta/v1.js';
import type { SchemaNode } from '../schema.js';
import { PatchError, badRequest } from './errors.js';
import { FieldSet, pathString, type FieldPath } from './fieldSet.js';
import { clone, deepEqual, isJsonObject, own, type JsonObject, type JsonValue } from './json.js';
import { compareObjects, fieldSetOf, mergeApplied, removeItems, UNTYPED_OBJECT, withNamedFieldsAsMembers } from './typed.js';

export type ManagedFieldsOperation = 'Apply' | 'Update';

/** One metadata.managedFields entry, as it is written (kubernetes-types' ManagedFieldsEntry, with the fields we always set). */
export interface ManagedFieldsEntry {
  manager: string;
  operation: ManagedFieldsOperation;
  apiVersion: string;
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

/** A field another manager owns and the apply would change. */
export interface ApplyConflict {
  manager: string;
  /** Upstream's path text: `.spec.replicas`, `.spec.template.spec.containers[name="nginx"].image`. */
  field: string;
  operation: ManagedFieldsOperation;
  apiVersion: string;
  subresource?: string;
}

export interface ApplyOptions {
  /** The stored object; undefined when the apply creates it. */
  live: JsonObject | undefined;
  /** The configuration the client applied (apiVersion, kind, metadata.name and the fields it cares about). */
  applied: JsonObject;
  /** The field manager (`?fieldManager=`); empty means "unknown", as upstream. */
  manager: string;
  force?: boolean;
  schema?: SchemaNode;
  now: Date;
  /** The request's group/version; defaults to the applied object's apiVersion. */
  apiVersion?: string;
  subresource?: string;
}

export type ApplyResult =
  | { ok: true; object: JsonObject; managedFields: ManagedFieldsEntry[] }
  | { ok: false; conflicts: ApplyConflict[] };

export interface UpdateManagedFieldsOptions {
  /** The stored object; undefined on create. */
  live: JsonObject | undefined;
  /** The object about to be stored (after the patch, for PATCH). */
  updated: JsonObject;
  manager: string;
  operation?: 'Update';
  /** The request's group/version. */
  apiVersion: string;
  now: Date;
  schema?: SchemaNode;
  subresource?: string;
}

/** Upstream keeps at most this many Update entries; older ones merge into "ancient-changes". */
export const MAX_UPDATE_MANAGERS = 10;

/** Paths no manager ever owns (upstream's stripMeta). */
const STRIPPED = FieldSet.of(
  [{ field: 'apiVersion' }],
  [{ field: 'kind' }],
  [{ field: 'metadata' }],
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map(
    (f): FieldPath => [{ field: 'metadata' }, { field: f }],
  ),
);

interface Manager {
  manager: string;
  operation: ManagedFieldsOperation;
  apiVersion: string;
  subresource: string;
  time: string | undefined;
  set: FieldSet;
}

type Managers = Map<string, Manager>;

/**
 * The identity of an entry, as upstream builds it: the entry without fields and time, as JSON;
 * appliers are one entry whatever apiVersion they applied with.
 */
function identity(m: Pick<Manager, 'manager' | 'operation' | 'apiVersion' | 'subresource'>): string {
  const id: Record<string, string> = { manager: m.manager, operation: m.operation };
  if (m.operation === 'Update' && m.apiVersion) id['apiVersion'] = m.apiVersion;
  if (m.subresource) id['subresource'] = m.subresource;
  return JSON.stringify(id);
}

/** The fields an object sets, in managedFields terms (see fieldSetOf); metadata bookkeeping included. */
export function fieldSet(obj: JsonObject, schema?: SchemaNode): FieldSet {
  return fieldSetOf(obj, schema ?? UNTYPED_OBJECT, true);
}

export function toFieldsV1(set: FieldSet): JsonObject {
  return set.toFieldsV1();
}

/** Decodes a `fieldsV1` value; throws PatchError (BadRequest) when it is malformed. */
export function fromFieldsV1(json: unknown): FieldSet {
  return FieldSet.fromFieldsV1(json);
}

function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function seconds(time: string | undefined): number {
  if (!time) return 0;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** Decodes metadata.managedFields; throws PatchError on an entry upstream would refuse. */
function decodeManagedFields(entries: unknown): Managers {
  const out: Managers = new Map();
  if (entries === undefined || entries === null) return out;
  if (!Array.isArray(entries)) throw badRequest('managedFields must be a list');
  entries.forEach((e: unknown, i) => {
    if (!isJsonObject(e)) throw badRequest(`managed fields entry ${i} must be an object`);
    const operation = e['operation'];
    if (operation !== 'Apply' && operation !== 'Update') throw badRequest('operation must be `Apply` or `Update`');
    const apiVersion = e['apiVersion'];
    if (typeof apiVersion !== 'string' || apiVersion === '') throw badRequest('apiVersion must not be empty');
    const fieldsType = e['fieldsType'];
    if (fieldsType === undefined || fieldsType === '') throw badRequest(`missing fieldsType in managed fields entry ${i}`);
    if (fieldsType !== 'FieldsV1') throw badRequest(`invalid fieldsType ${JSON.stringify(fieldsType)} in managed fields entry ${i}`);
    const m: Manager = {
      manager: typeof e['manager'] === 'string' ? e['manager'] : '',
      operation,
      apiVersion,
      subresource: typeof e['subresource'] === 'string' ? e['subresource'] : '',
      time: typeof e['time'] === 'string' ? e['time'] : undefined,
      set: e['fieldsV1'] === undefined || e['fieldsV1'] === null ? FieldSet.empty() : FieldSet.fromFieldsV1(e['fieldsV1']),
    };
    out.set(identity(m), m);
  });
  return out;
}

function decodeOrEmpty(entries: unknown): Managers {
  try {
    return decodeManagedFields(entries);
  } catch {
    return new Map();
  }
}

/** Entries in upstream's order: operation, then time (to the second), manager, apiVersion, subresource. */
function encodeManagedFields(managers: Managers): ManagedFieldsEntry[] {
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...managers.values()]
    .sort(
      (a, b) =>
        cmp(a.operation, b.operation) ||
        seconds(a.time) - seconds(b.time) ||
        cmp(a.manager, b.manager) ||
        cmp(a.apiVersion, b.apiVersion) ||
        cmp(a.subresource, b.subresource),
    )
    .map((m) => {
      // Keys in the order upstream serializes them.
      const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion } as ManagedFieldsEntry;
      if (m.time !== undefined) e.time = m.time;
      e.fieldsType = 'FieldsV1';
      e.fieldsV1 = m.set.toFieldsV1();
      if (m.subresource) e.subresource = m.subresource;
      return e;
    });
}

function metadataOf(obj: JsonObject): JsonObject | undefined {
  const m = own(obj, 'metadata');
  return isJsonObject(m) ? m : undefined;
}

function withoutManagedFields(obj: JsonObject): JsonObject {
  const copy = clone(obj);
  const meta = metadataOf(copy);
  if (meta) delete meta['managedFields'];
  return copy;
}

function withManagedFields(obj: JsonObject, entries: ManagedFieldsEntry[]): JsonObject {
  let meta = metadataOf(obj);
  if (entries.length === 0) {
    if (meta) delete meta['managedFields'];
    return obj;
  }
  if (!meta) {
    meta = {};
    obj['metadata'] = meta;
  }
  meta['managedFields'] = clone(entries as unknown as JsonValue);
  return obj;
}

/**
 * Server-side apply (PATCH with application/apply-patch+yaml), structured-merge-diff style.
 *
 * - The configuration is merged into the live object (see mergeApplied); the applier now owns
 *   exactly the fields its configuration sets.
 * - Fields the applier owned in its previous apply and no longer sets are removed, unless another
 *   manager owns them too.
 * - A conflict is a field the apply changes (or adds) that another manager, applier or updater,
 *   owns. Without `force` the result lists them (see conflictMessage); with it, they move to the
 *   applier. Managers lose the fields the apply removes; entries left empty are dropped.
 * - The applier's entry gets `now` as its time only when the object changed (re-applying the
 *   same configuration leaves managedFields as they were).
 *
 * Throws PatchError (BadRequest) when the configuration carries metadata.managedFields, lacks an
 * apiVersion, or does not fit its schema (an item without its keys, duplicate items).
 * Not done here: apiVersion/kind checks against the URL, defaulting, validation, and the
 * last-applied-configuration annotation of client-side apply.
 */
export function serverSideApply(opts: ApplyOptions): ApplyResult {
  const { applied } = opts;
  const schema = opts.schema ?? UNTYPED_OBJECT;
  const appliedMeta = metadataOf(applied);
  if (appliedMeta && own(appliedMeta, 'managedFields') !== undefined && appliedMeta['managedFields'] !== null) {
    throw badRequest('metadata.managedFields must be nil');
  }
  const apiVersion = opts.apiVersion ?? stringField(applied, 'apiVersion') ?? (opts.live && stringField(opts.live, 'apiVersion'));
  if (!apiVersion) throw badRequest('apiVersion must be set in the applied configuration');
  const applier: Manager = {
    manager: opts.manager || 'unknown',
    operation: 'Apply',
    apiVersion,
    subresource: opts.subresource ?? '',
    time: undefined,
    set: FieldSet.empty(),
  };
  const applierId = identity(applier);

  const managers = decodeOrEmpty(opts.live && metadataOf(opts.live)?.['managedFields']);
  const liveBody = opts.live ? withoutManagedFields(opts.live) : {};
  const config = withoutManagedFields(applied);
  const configSet = wrap(() => fieldSetOf(config, schema, false));
  const merged = wrap(() => mergeApplied(liveBody, config, schema));

  const previous = managers.get(applierId);
  managers.set(applierId, { ...applier, time: previous?.time, set: configSet });
  const next = wrap(() => prune(merged, managers, previous?.set, schema));
  const { added, modified, removed } = wrap(() => compareObjects(liveBody, next, schema));
  const changed = added.union(modified);

  const conflicts: ApplyConflict[] = [];
  for (const [id, m] of managers) {
    if (id === applierId) continue;
    const owned = m.set.intersection(changed);
    for (const path of owned.paths()) conflicts.push(conflictOf(m, path));
    m.set = m.set.difference(owned).difference(removed);
    if (m.set.isEmpty()) managers.delete(id);
  }
  if (conflicts.length > 0 && !opts.force) return { ok: false, conflicts: sortConflicts(conflicts) };

  const self = managers.get(applierId) as Manager;
  self.set = self.set.difference(STRIPPED);
  const objectChanged = !deepEqual(liveBody, next);
  if (objectChanged || self.time === undefined) self.time = formatTime(opts.now);
  if (self.set.isEmpty()) managers.delete(applierId);

  const managedFields = encodeManagedFields(managers);
  const object = withManagedFields(objectChanged ? next : liveBody, managedFields);
  return { ok: true, object, managedFields };
}

function stringField(obj: JsonObject, key: string): string | undefined {
  const v = own(obj, key);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Schema mismatches found while walking the configuration are the client's fault. */
function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PatchError) throw badRequest(`failed to create typed patch object: ${e.message}`);
    throw e;
  }
}

function conflictOf(m: Manager, path: FieldPath): ApplyConflict {
  const c: ApplyConflict = { manager: m.manager, field: pathString(path), operation: m.operation, apiVersion: m.apiVersion };
  if (m.subresource) c.subresource = m.subresource;
  return c;
}

function sortConflicts(conflicts: ApplyConflict[]): ApplyConflict[] {
  const id = (c: ApplyConflict): string => identity({ ...c, subresource: c.subresource ?? '' });
  // Stable: within one manager, paths keep the set's order.
  return conflicts.map((c, i) => ({ c, i })).sort((a, b) => (id(a.c) < id(b.c) ? -1 : id(a.c) > id(b.c) ? 1 : a.i - b.i)).map((x) => x.c);
}

/**
 * Removes what the applier applied last time and not now, unless someone (the applier's new
 * configuration included) owns it; only items from the previous apply are ever removed.
 */
function prune(merged: JsonObject, managers: Managers, last: FieldSet | undefined, schema: SchemaNode): JsonObject {
  if (!last || last.isEmpty()) return merged;
  const named = (s: FieldSet): FieldSet => withNamedFieldsAsMembers(s, schema);
  const setOf = (o: JsonObject): FieldSet => named(fieldSetOf(o, schema, true));
  const lastNamed = named(last);

  const first = removeItems(merged, lastNamed, schema);
  let owned = FieldSet.empty();
  for (const m of managers.values()) owned = owned.union(m.set);
  const mergedSet = setOf(merged);
  const keptOwned = removeItems(merged, mergedSet.difference(setOf(first).union(named(owned))), schema);
  return removeItems(merged, mergedSet.difference(setOf(keptOwned)).intersection(lastNamed), schema);
}

/**
 * Field ownership after an ordinary create, update or patch: every field the write added or
 * changed now belongs to `manager` (operation Update, one entry per manager and apiVersion) and
 * is taken from every other manager, appliers included; removed fields leave every set; empty
 * entries are dropped; more than ten Update entries merge the oldest into "ancient-changes".
 *
 * The entries start from the updated object's managedFields when it carries some (a client may
 * edit them; an empty list resets them), else from the live object's. If the objects do not fit
 * the schema, the live object's managedFields are kept, as upstream does.
 */
export function updateManagedFields(opts: UpdateManagedFieldsOptions): { object: JsonObject; managedFields: ManagedFieldsEntry[] } {
  const liveEntries = opts.live ? metadataOf(opts.live)?.['managedFields'] : undefined;
  const object = withoutManagedFields(opts.updated);
  try {
    const managers = startingManagers(opts, liveEntries);
    const liveBody = opts.live ? withoutManagedFields(opts.live) : {};
    const { added, modified, removed } = compareObjects(liveBody, object, opts.schema ?? UNTYPED_OBJECT);
    const changed = added.union(modified);
    for (const [id, m] of managers) {
      m.set = m.set.difference(changed).difference(removed);
      if (m.set.isEmpty()) managers.delete(id);
    }
    const taken = changed.difference(STRIPPED);
    if (!taken.isEmpty()) {
      const updater: Manager = {
        manager: opts.manager || 'unknown',
        operation: 'Update',
        apiVersion: opts.apiVersion,
        subresource: opts.subresource ?? '',
        time: formatTime(opts.now),
        set: taken,
      };
      const id = identity(updater);
      const prev = managers.get(id);
      if (prev) updater.set = prev.set.union(taken);
      managers.set(id, updater);
    }
    capUpdateManagers(managers);
    const managedFields = encodeManagedFields(managers);
    return { object: withManagedFields(object, managedFields), managedFields };
  } catch (e) {
    if (!(e instanceof PatchError)) throw e;
    const kept = Array.isArray(liveEntries) ? (clone(liveEntries) as unknown as ManagedFieldsEntry[]) : [];
    return { object: withManagedFields(object, kept), managedFields: kept };
  }
}

function startingManagers(opts: UpdateManagedFieldsOptions, liveEntries: JsonValue | undefined): Managers {
  if (opts.subresource) return decodeOrEmpty(liveEntries);
  const sent = metadataOf(opts.updated)?.['managedFields'];
  if (Array.isArray(sent) && (sent.length === 0 || (sent.length === 1 && deepEqual(sent[0], {})))) return new Map();
  const fromRequest = decodeOrEmpty(sent);
  return fromRequest.size > 0 ? fromRequest : decodeOrEmpty(liveEntries);
}

/** Merges the oldest Update entries into per-apiVersion "ancient-changes" entries until at most ten remain. */
function capUpdateManagers(managers: Managers): void {
  const updaters = [...managers].filter(([, m]) => m.operation === 'Update');
  if (updaters.length <= MAX_UPDATE_MANAGERS) return;
  updaters.sort(([ia, a], [ib, b]) => seconds(a.time) - seconds(b.time) || (ia < ib ? -1 : ia > ib ? 1 : 0));
  const firstOfVersion = new Map<string, string>();
  let count = updaters.length;
  for (const [id, m] of updaters) {
    if (count <= MAX_UPDATE_MANAGERS) break;
    const first = firstOfVersion.get(m.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(m.apiVersion, id);
      continue;
    }
    const bucketId = identity({ manager: 'ancient-changes', operation: 'Update', apiVersion: m.apiVersion, subresource: '' });
    if (id === bucketId) continue; // upstream would merge the bucket into itself and then delete it
    let bucket = managers.get(bucketId);
    if (!bucket) {
      const moved = managers.get(first) as Manager;
      managers.delete(first);
      bucket = { ...moved, manager: 'ancient-changes', subresource: '' };
      managers.set(bucketId, bucket);
    }
    bucket.set = m.set.union(bucket.set);
    bucket.time = m.time;
    managers.delete(id);
    count--;
  }
}

/** How upstream names a manager in conflict texts: `"kubectl"`, `"kubectl-edit" using apps/v1`. */
function printManager(c: ApplyConflict): string {
  let s = JSON.stringify(c.manager);
  if (c.subresource) s += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') s += ` using ${c.apiVersion}`;
  return s;
}

/**
 * Upstream's 409 message: `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply"
 * using apps/v1: .spec.replicas`, or for several, grouped by manager (sorted):
 * `Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n- .spec.paused`.
 */
export function conflictMessage(conflicts: readonly ApplyConflict[]): string {
  const [only] = conflicts;
  if (conflicts.length === 1 && only) return `Apply failed with 1 conflict: conflict with ${printManager(only)}: ${only.field}`;
  const groups = new Map<string, { who: string; fields: string[] }>();
  for (const c of conflicts) {
    const id = identity({ ...c, subresource: c.subresource ?? '' });
    const g = groups.get(id) ?? { who: printManager(c), fields: [] };
    g.fields.push(c.field);
    groups.set(id, g);
  }
  const lines: string[] = [];
  for (const id of [...groups.keys()].sort()) {
    const g = groups.get(id) as { who: string; fields: string[] };
    lines.push(`conflicts with ${g.who}:`, ...g.fields.map((f) => `- ${f}`));
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}

/** The Status causes upstream attaches to an apply conflict (reason FieldManagerConflict). */
export function conflictCauses(conflicts: readonly ApplyConflict[]): StatusCause[] {
  return conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c)}`, field: c.field }));
}

/** The 409 as an error: code Conflict, upstream's message, causes for Status.details. */
export function applyConflictError(conflicts: readonly ApplyConflict[]): PatchError {
  const message = conflictMessage(conflicts);
  return new PatchError('Conflict', message, message, conflictCauses(conflicts));
}
