// The REST verbs of stored resources: get, list, watch, create, update, patch, delete,
// deletecollection, and the status/scale/binding subresources, with upstream's semantics for
// resourceVersion, selectors, pagination, dryRun, fieldValidation and preconditions.

import type { ServerResponse } from 'node:http';
import type { ResourceType } from '../api/catalog.js';
import { fieldsMatch, parseFieldSelector, pinnedName, type FieldRequirement } from '../api/fields.js';
import { SelectorParseError, matches, parseLabelSelector, type Requirement } from '../api/labels.js';
import { isStorageError } from '../storage/errors.js';
import type { Store } from '../storage/store.js';
import { decodeBody, type PatchType, type ResponseForm } from './negotiate.js';
import { generateNameSuffix, nowTimestamp, type DeleteOptions, type ResourceRegistry } from './registry.js';
import {
  StatusError,
  badRequest,
  conflict,
  expired,
  forbidden,
  invalid,
  invalidValue,
  notSupported,
  methodNotAllowed,
  notFound,
  OBJECT_MODIFIED,
  required,
  serviceUnavailable,
  timeout,
} from './status.js';
import { TooOldResourceVersion, decodeObject, encodedWatchLine, type K8sObject, type WatchItem } from './watchCache.js';

export type Obj = Record<string, any>;

/** What the server knows about one resource request after routing. */
export interface ResourceRequest {
  type: ResourceType;
  registry: ResourceRegistry | undefined;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  query: URLSearchParams;
  user: { name: string; groups: string[]; uid?: string; extra?: Record<string, string[]> };
  userAgent: string;
}

/** Hooks the handlers need from the rest of the server (schemas, patching, tables, admission). */
export interface HandlerHooks {
  store: Store;
  registryFor(group: string, plural: string): ResourceRegistry | undefined;
  /** Paths of fields the schema does not know (`spec.foo`), for fieldValidation. */
  unknownFields?(type: ResourceType, obj: unknown): string[];
  /** Applies a PATCH body of `patchType` to `current` (undefined: apply creating). */
  patch?(type: ResourceType, current: K8sObject | undefined, body: Buffer, patchType: PatchType, req: ResourceRequest): Promise<K8sObject> | K8sObject;
  /** Records managedFields for a write by `manager`. */
  manageFields?(type: ResourceType, before: K8sObject | undefined, after: K8sObject, manager: string): void;
  /** Turns objects into a meta.k8s.io Table. */
  table?(type: ResourceType, objects: K8sObject[], includeHeaders: boolean): Obj;
  /** Mutating then validating admission for creates and updates. */
  admit?(req: ResourceRequest, obj: K8sObject, old: K8sObject | undefined): Promise<void>;
  /** The cluster's system namespaces, which may not be deleted. */
  immortalNamespaces: ReadonlySet<string>;
}

export interface Reply {
  code: number;
  body: Obj;
  warnings?: string[];
}

const GONE_RETRIES = 5;

// ---- query parameters ----

function selectors(req: ResourceRequest): { labels: Requirement[]; fields: FieldRequirement[] } {
  try {
    return {
      labels: parseLabelSelector(req.query.get('labelSelector') ?? ''),
      fields: parseFieldSelector(req.query.get('fieldSelector') ?? '', req.type.group, req.type.plural),
    };
  } catch (err) {
    if (err instanceof SelectorParseError) throw badRequest(err.message);
    throw err;
  }
}

function intParam(req: ResourceRequest, name: string): number | undefined {
  const v = req.query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${name}: invalid value '${v}': must be an integer`);
  return Number(v);
}

function resourceVersionParam(req: ResourceRequest): number | undefined {
  const v = req.query.get('resourceVersion');
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw badRequest(`invalid resource version "${v}"`);
  return Number(v);
}

function dryRun(req: ResourceRequest): boolean {
  const values = req.query.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return values.length > 0;
}

function fieldManager(req: ResourceRequest, fallbackToAgent = true): string {
  const m = req.query.get('fieldManager');
  if (m !== null) {
    if (m.length > 128) throw badRequest('fieldManager: Too long: may not be more than 128 bytes');
    return m;
  }
  if (!fallbackToAgent) return '';
  // Upstream names an unnamed manager after the user agent's program name.
  return (req.userAgent.split('/')[0] || 'unknown').slice(0, 128);
}

type FieldValidation = 'Strict' | 'Warn' | 'Ignore';
function fieldValidation(req: ResourceRequest): FieldValidation {
  const v = req.query.get('fieldValidation') ?? 'Warn';
  if (v !== 'Strict' && v !== 'Warn' && v !== 'Ignore') {
    throw badRequest(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return v;
}

/** Strict field validation as upstream: unknown fields refuse the request (400) or warn. */
function checkFields(req: ResourceRequest, hooks: HandlerHooks, obj: unknown): string[] {
  const mode = fieldValidation(req);
  if (mode === 'Ignore' || !hooks.unknownFields) return [];
  const unknown = hooks.unknownFields(req.type, obj);
  if (unknown.length === 0) return [];
  const texts = unknown.map((p) => `unknown field "${p}"`);
  if (mode === 'Strict') {
    throw badRequest(
      `${req.type.kind} in version "${req.type.version}" cannot be handled as a ${req.type.kind}: strict decoding error: ${texts.join(', ')}`,
    );
  }
  return texts;
}

// ---- reading ----

export async function handleGet(req: ResourceRequest): Promise<K8sObject> {
  const reg = need(req);
  return reg.get(req.namespace, req.name!);
}

interface Filter {
  labels: Requirement[];
  fields: FieldRequirement[];
}

function filterMatches(req: ResourceRequest, f: Filter, obj: K8sObject): boolean {
  if (req.namespace && req.type.namespaced && obj.metadata.namespace !== req.namespace) return false;
  return matches(f.labels, obj.metadata.labels) && fieldsMatch(f.fields, obj, req.type.group, req.type.plural);
}

export async function handleList(req: ResourceRequest): Promise<Obj> {
  const reg = need(req);
  const filter = selectors(req);
  const limit = intParam(req, 'limit') ?? 0;
  const cont = req.query.get('continue') ?? '';
  const rv = req.query.get('resourceVersion');
  const match = req.query.get('resourceVersionMatch');
  if (match !== null && match !== '' && match !== 'NotOlderThan' && match !== 'Exact') {
    throw badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
  }
  if (cont && rv !== null && rv !== '' && rv !== '0') {
    throw badRequest('specifying resource version is not allowed when using continue');
  }
  let items: K8sObject[];
  let revision: number;
  let next: string | undefined;
  let remaining: number | undefined;
  if (rv === '0' && !cont && match !== 'Exact') {
    // "Any" resource version: served from the watch cache, without paging (as upstream).
    const snap = await reg.watchCache().snapshot();
    // Cached objects are shared and read-only; they are serialized, never edited.
    items = snap.items.filter((o) => filterMatches(req, filter, o));
    items.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    revision = snap.revision;
  } else {
    const atRevision = match === 'Exact' || (rv && rv !== '0' && match === undefined) ? resourceVersionParam(req) : undefined;
    if (match === 'NotOlderThan' && rv && rv !== '0') {
      const want = resourceVersionParam(req)!;
      if (!(await reg.watchCache().waitFor(want, 3000))) throw timeout(`Too large resource version: ${want}, current: ${reg.watchCache().revision}`);
    }
    const pinned = pinnedName(filter.fields);
    items = [];
    revision = 0;
    if (pinned !== undefined && !cont && (!req.type.namespaced || req.namespace)) {
      const o = await reg.store.get(reg.key(req.namespace, pinned), { revision: atRevision });
      revision = atRevision ?? (await reg.store.currentRevision());
      if (o) {
        const obj = reg.withType(decodeObject(o));
        if (filterMatches(req, filter, obj)) items.push(obj);
      }
    } else {
      let token = cont || undefined;
      const filtered = filter.labels.length > 0 || filter.fields.length > 0;
      // Fill the page: with selectors a stored page can hold fewer matches than asked for.
      do {
        const page = await listStore(reg, req.namespace, { revision: token ? undefined : atRevision, limit: limit > 0 ? Math.max(limit - items.length, filtered ? 500 : 0) : 0, continueFrom: token });
        revision = page.revision;
        for (const o of page.items) {
          const obj = reg.withType(decodeObject(o));
          if (filterMatches(req, filter, obj)) items.push(obj);
        }
        token = page.continue;
        if (!filtered) remaining = page.remainingItemCount;
      } while (token && limit > 0 && items.length < limit);
      if (limit > 0 && items.length > limit) {
        // The page overshot the limit; continue right after the last item returned.
        items.length = limit;
        token = continueAfter(reg, req.namespace, revision, keyOf(items[items.length - 1]!));
        remaining = undefined;
      }
      next = token;
    }
  }
  const list: Obj = {
    kind: `${req.type.kind}List`,
    apiVersion: reg.apiVersion,
    metadata: { resourceVersion: String(revision) },
    items,
  };
  if (next) list.metadata.continue = next;
  if (next && remaining !== undefined) list.metadata.remainingItemCount = remaining;
  return list;
}

async function listStore(reg: ResourceRegistry, namespace: string | undefined, opts: { revision?: number | undefined; limit: number; continueFrom?: string | undefined }) {
  try {
    return await reg.store.list(reg.listPrefix(namespace), opts);
  } catch (err) {
    if (isStorageError(err, 'TooOldRevision')) {
      if (opts.continueFrom) {
        throw expired(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      }
      throw expired(`too old resource version: ${opts.revision} (${err.compactRevision ?? 0})`);
    }
    if (isStorageError(err, 'InvalidContinue')) throw badRequest(`continue key is not valid: ${err.message}`);
    if (isStorageError(err, 'FutureRevision')) throw timeout(`Too large resource version: ${opts.revision}, current: ${err.currentRevision}`);
    throw err;
  }
}

function keyOf(o: K8sObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function continueAfter(reg: ResourceRegistry, namespace: string | undefined, revision: number, lastKey: string): string {
  const [ns, name] = lastKey.split('/');
  const start = reg.type.namespaced && !namespace ? `${ns}/${name}` : `${name}`;
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: revision, start: `${start}\u0000` })).toString('base64url');
}

// ---- watch ----

/**
 * Bytes a watch response may hold in Node's buffers before its writer waits for 'drain'. A socket's
 * 'drain' comes at the earliest on the next turn of the event loop, so stopping at the socket's
 * 16 KiB high-water mark let a watch send only ~16 KiB per turn while the same turn could commit
 * dozens of writes: a busy server's watchers fell behind until they were closed. A slow client
 * still stops its writer here and then fills its own queue in the watch cache.
 */
const WATCH_SEND_BUFFER_BYTES = 256 * 1024;

export async function handleWatch(req: ResourceRequest, res: ServerResponse, form: ResponseForm, hooks: HandlerHooks, signal: AbortSignal): Promise<void> {
  const reg = need(req);
  const filter = selectors(req);
  if (req.name) filter.fields.push({ field: 'metadata.name', op: '=', value: req.name });
  const rvText = req.query.get('resourceVersion');
  const timeoutSeconds = intParam(req, 'timeoutSeconds');
  const bookmarks = req.query.get('allowWatchBookmarks') === 'true';
  const sendInitial = req.query.get('sendInitialEvents');
  if (sendInitial === 'true' && req.query.get('resourceVersionMatch') !== 'NotOlderThan') {
    throw invalid('ListOptions', 'meta.k8s.io', '', [
      required('resourceVersionMatch', "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
    ]);
  }
  const cache = reg.watchCache();
  await cache.ready;
  const initial = sendInitial === 'true' || (sendInitial === null && (rvText === null || rvText === '' || rvText === '0'));
  let from: number | 'now' = 'now';
  if (!initial && rvText && rvText !== '0') from = resourceVersionParam(req)!;
  if (typeof from === 'number' && from > cache.revision && !(await cache.waitFor(from, 3000))) {
    throw timeout(`Too large resource version: ${from}, current: ${cache.revision}`);
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  const limitMs = (timeoutSeconds && timeoutSeconds > 0 ? timeoutSeconds : 1800 * (1 + Math.random())) * 1000;
  const timer = setTimeout(stop, limitMs);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  let headersSent = false;
  const write = (type: string, object: Obj): boolean => {
    let body = object;
    if (form.form === 'table' && type !== 'ERROR' && type !== 'BOOKMARK' && hooks.table) {
      body = hooks.table(req.type, [object as K8sObject], !headersSent);
      headersSent = true;
    } else if (form.form === 'partial' && type !== 'ERROR') {
      body = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
    }
    return res.write(`${JSON.stringify({ type, object: body })}\n`);
  };
  const bookmark = (revision: number, initialEnd = false): Obj => ({
    kind: req.type.kind,
    apiVersion: reg.apiVersion,
    metadata: { resourceVersion: String(revision), ...(initialEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}) },
  });
  try {
    const items: AsyncIterable<WatchItem> =
      typeof from === 'number' && from < cache.oldestRevision
        ? cache.storeWatch(from, ac.signal)
        : cache.watch(from, { initial, signal: ac.signal, bookmarkMs: bookmarks ? 60_000 : undefined });
    let initialCount = -1;
    if (initial) initialCount = cache.size;
    let seen = 0;
    const initialEnd = async () => {
      if (sendInitial === 'true' && bookmarks) write('BOOKMARK', bookmark(cache.revision, true));
    };
    if (initialCount === 0) await initialEnd();
    for await (const item of items) {
      let ok = true;
      if (item.type === 'BOOKMARK') ok = write('BOOKMARK', bookmark(item.revision));
      else if (item.type === 'ERROR') {
        const status = item.error instanceof TooOldResourceVersion ? expired(item.error.message) : serviceUnavailable(item.error.message);
        write('ERROR', status.toStatus() as Obj);
        break;
      } else {
        const now = filterMatches(req, filter, item.object);
        const before = item.prev ? filterMatches(req, filter, item.prev) : false;
        let type: string | undefined;
        if (item.type === 'ADDED') type = now ? 'ADDED' : undefined;
        else if (item.type === 'DELETED') type = before ? 'DELETED' : undefined;
        else if (now && before) type = 'MODIFIED';
        else if (now) type = 'ADDED';
        else if (before) type = 'DELETED';
        if (type) {
          ok = form.form === 'object' ? res.write(encodedWatchLine(item, type as 'ADDED' | 'MODIFIED' | 'DELETED')) : write(type, item.object);
        }
        if (initialCount > 0 && ++seen === initialCount) await initialEnd();
      }
      if (!ok && res.writableLength >= WATCH_SEND_BUFFER_BYTES) await new Promise((resolve) => res.once('drain', resolve));
      if (ac.signal.aborted) break;
    }
  } catch (err) {
    if (err instanceof TooOldResourceVersion) write('ERROR', expired(err.message).toStatus() as Obj);
    else if (err instanceof StatusError) write('ERROR', err.toStatus() as Obj);
    else throw err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', stop);
    res.end();
  }
}

// ---- writing ----

function checkTypeMeta(req: ResourceRequest, obj: Obj): void {
  const apiVersion = req.type.group ? `${req.type.group}/${req.type.version}` : req.type.version;
  if (obj.kind !== undefined && obj.kind !== req.type.kind) {
    throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${req.type.kind})`);
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`);
  }
}

/** The request body as this resource's object: decoded, typed, field-checked, namespaced. */
function decodeObjectBody(req: ResourceRequest, reg: ResourceRegistry, body: Buffer, contentType: string | undefined, hooks: HandlerHooks): { obj: K8sObject; warnings: string[] } {
  const obj = asObject(decodeBody(body, contentType));
  checkTypeMeta(req, obj);
  const warnings = checkFields(req, hooks, obj);
  obj.apiVersion = reg.apiVersion;
  obj.kind = req.type.kind;
  setNamespace(req, obj);
  return { obj, warnings };
}

function asObject(v: unknown): K8sObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('the body of the request must be a JSON object');
  const obj = v as K8sObject;
  if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
  if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) {
    throw badRequest(`metadata must be an object, not ${Array.isArray(obj.metadata) ? 'an array' : `a ${typeof obj.metadata}`}`);
  }
  return obj;
}

function setNamespace(req: ResourceRequest, obj: K8sObject): void {
  if (!req.type.namespaced) {
    delete obj.metadata.namespace;
    return;
  }
  const ns = obj.metadata.namespace;
  if (ns && req.namespace && ns !== req.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  obj.metadata.namespace = req.namespace ?? ns;
}

export async function checkNamespace(req: ResourceRequest, hooks: HandlerHooks): Promise<void> {
  if (!req.type.namespaced || !req.namespace) return;
  const nsReg = hooks.registryFor('', 'namespaces')!;
  // The cache answers almost always; a namespace created a moment ago may not be in it yet.
  const ns = nsReg.watchCache().cached(nsReg.key(undefined, req.namespace)) ?? (await nsReg.tryGet(undefined, req.namespace));
  if (!ns) throw notFound({ group: '', resource: 'namespaces' }, req.namespace);
  if (ns.status?.phase === 'Terminating' || ns.metadata.deletionTimestamp) {
    // Upstream's NamespaceLifecycle: Forbidden with a NamespaceTerminating cause clients test for.
    throw new StatusError(
      403,
      'Forbidden',
      `${req.type.plural}${req.type.group ? `.${req.type.group}` : ''} "${req.name ?? ''}" is forbidden: unable to create new content in namespace ${req.namespace} because it is being terminated`,
      {
        name: req.name ?? '',
        ...(req.type.group ? { group: req.type.group } : {}),
        kind: req.type.plural,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${req.namespace} is being terminated`, field: 'metadata.namespace' }],
      },
    );
  }
}

export async function handleCreate(req: ResourceRequest, body: Buffer, contentType: string | undefined, hooks: HandlerHooks): Promise<Reply> {
  const reg = need(req);
  const { obj, warnings } = decodeObjectBody(req, reg, body, contentType, hooks);
  const m = obj.metadata;
  if (!m.name && m.generateName) m.name = `${m.generateName}${generateNameSuffix()}`;
  if (!m.name) reg.validateOrThrow(obj);
  await checkNamespace({ ...req, name: m.name }, hooks);
  reg.prepareForCreate(obj);
  await hooks.admit?.(req, obj, undefined);
  hooks.manageFields?.(req.type, undefined, obj, fieldManager(req));
  const created = await reg.create(obj, { dryRun: dryRun(req) });
  return { code: 201, body: created, warnings };
}

export async function handleUpdate(req: ResourceRequest, body: Buffer, contentType: string | undefined, hooks: HandlerHooks): Promise<Reply> {
  const reg = need(req);
  const { obj, warnings } = decodeObjectBody(req, reg, body, contentType, hooks);
  if (obj.metadata.name && obj.metadata.name !== req.name) {
    throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${req.name})`);
  }
  obj.metadata.name = req.name;
  const current = await reg.get(req.namespace, req.name!);
  const rv = obj.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
    throw conflict(reg.gr, req.name!, OBJECT_MODIFIED);
  }
  obj.metadata.resourceVersion = current.metadata.resourceVersion;
  if (req.subresource === 'finalize') {
    // namespaces/<name>/finalize changes spec.finalizers and nothing else.
    const finalizers = (obj.spec as Obj | undefined)?.finalizers;
    const next = structuredClone(current);
    next.spec = { ...(next.spec ?? {}), finalizers: finalizers ?? [] };
    if ((next.spec.finalizers as unknown[]).length === 0) delete next.spec.finalizers;
    const updated = await reg.update(current, next, { dryRun: dryRun(req), keepDeletion: true, subresource: 'finalize' });
    return { code: 200, body: updated, warnings };
  }
  const sub = req.subresource === 'status' || req.subresource === 'approval' ? req.subresource : undefined;
  await hooks.admit?.(req, obj, current);
  hooks.manageFields?.(req.type, current, obj, fieldManager(req));
  const updated = await reg.update(current, obj, { dryRun: dryRun(req), subresource: sub });
  return { code: 200, body: updated, warnings };
}

export async function handlePatch(req: ResourceRequest, body: Buffer, patchType: PatchType, hooks: HandlerHooks): Promise<Reply> {
  const reg = need(req);
  if (!hooks.patch) throw new StatusError(415, 'UnsupportedMediaType', 'patching is not available');
  const isApply = patchType === 'application/apply-patch+yaml';
  if (isApply && !req.query.get('fieldManager')) {
    throw invalid('PatchOptions', 'meta.k8s.io', '', [required('fieldManager', 'is required for apply requests')]);
  }
  for (let attempt = 0; ; attempt++) {
    const current = await reg.tryGet(req.namespace, req.name!);
    if (!current && !isApply) throw notFound(reg.gr, req.name!);
    const next = await hooks.patch(req.type, current ? structuredClone(current) : undefined, body, patchType, req);
    if (typeof next !== 'object' || next === null || Array.isArray(next)) throw badRequest('the patch produced something that is not an object');
    next.metadata ??= {};
    if (next.kind !== undefined && next.kind !== req.type.kind) throw badRequest(`kind of the patched object (${next.kind}) does not match ${req.type.kind}`);
    next.apiVersion = reg.apiVersion;
    next.kind = req.type.kind;
    if (next.metadata.name !== undefined && next.metadata.name !== req.name) {
      throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${req.name})`);
    }
    next.metadata.name = req.name;
    setNamespace(req, next);
    const warnings = checkFields(req, hooks, next);
    try {
      if (!current) {
        await checkNamespace(req, hooks);
        reg.prepareForCreate(next);
        await hooks.admit?.(req, next, undefined);
        const created = await reg.create(next, { dryRun: dryRun(req) });
        return { code: 201, body: created, warnings };
      }
      // A resourceVersion in the patch is a precondition; otherwise patch the latest.
      const asked = next.metadata.resourceVersion;
      if (asked !== undefined && asked !== current.metadata.resourceVersion) throw conflict(reg.gr, req.name!, OBJECT_MODIFIED);
      next.metadata.resourceVersion = current.metadata.resourceVersion;
      await hooks.admit?.(req, next, current);
      if (!isApply) hooks.manageFields?.(req.type, current, next, fieldManager(req));
      const sub = req.subresource === 'status' || req.subresource === 'approval' ? req.subresource : undefined;
      const updated = await reg.update(current, next, { dryRun: dryRun(req), subresource: sub });
      return { code: 200, body: updated, warnings };
    } catch (err) {
      const retry = err instanceof StatusError && err.code === 409 && err.reason === 'Conflict' && attempt < GONE_RETRIES;
      const asked = (next.metadata as Obj).resourceVersion;
      if (retry && (asked === undefined || asked === current?.metadata.resourceVersion)) continue;
      if (err instanceof StatusError && err.reason === 'AlreadyExists' && isApply && attempt < GONE_RETRIES) continue;
      throw err;
    }
  }
}

export function deleteOptions(req: ResourceRequest, body: Buffer, contentType: string | undefined): DeleteOptions {
  let opts: Obj = {};
  if (body.length > 0 && body.toString('utf8').trim() !== '') {
    const v = decodeBody(body, contentType);
    if (v && typeof v === 'object' && !Array.isArray(v)) opts = v as Obj;
    else throw badRequest('the body of a delete request must be a DeleteOptions object');
  }
  const grace = intParam(req, 'gracePeriodSeconds') ?? opts.gracePeriodSeconds;
  const policy = req.query.get('propagationPolicy') ?? opts.propagationPolicy;
  if (policy !== undefined && policy !== null && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
    throw invalid('DeleteOptions', 'meta.k8s.io', '', [notSupported('propagationPolicy', policy, ['Foreground', 'Background', 'Orphan'])]);
  }
  let resolved = policy ?? undefined;
  if (resolved === undefined && opts.orphanDependents === true) resolved = 'Orphan';
  if (grace !== undefined && (typeof grace !== 'number' || grace < 0)) {
    throw badRequest('gracePeriodSeconds must be a non-negative integer');
  }
  return {
    gracePeriodSeconds: grace,
    propagationPolicy: resolved,
    preconditions: opts.preconditions,
    dryRun: dryRun(req) || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All')),
  };
}

export async function handleDelete(req: ResourceRequest, body: Buffer, contentType: string | undefined, hooks: HandlerHooks): Promise<Reply> {
  const reg = need(req);
  const opts = deleteOptions(req, body, contentType);
  if (req.type.kind === 'Namespace' && req.type.group === '') return deleteNamespace(req, reg, opts, hooks);
  const { object, gone } = await reg.delete(req.namespace, req.name!, opts);
  if (!gone) return { code: 200, body: object };
  return { code: 200, body: deletedStatus(req, object) };
}

function deletedStatus(req: ResourceRequest, object: K8sObject): Obj {
  const details: Obj = { name: req.name, kind: req.type.plural, uid: object.metadata.uid };
  if (req.type.group) details.group = req.type.group;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

/** Namespaces go Terminating; the namespace controller empties and finalizes them. */
async function deleteNamespace(req: ResourceRequest, reg: ResourceRegistry, opts: DeleteOptions, hooks: HandlerHooks): Promise<Reply> {
  if (hooks.immortalNamespaces.has(req.name!)) {
    throw forbidden(`namespaces "${req.name}" is forbidden: this namespace may not be deleted`);
  }
  for (let attempt = 0; attempt < GONE_RETRIES; attempt++) {
    const current = await reg.get(undefined, req.name!);
    if ((current.spec?.finalizers ?? []).length === 0 && (current.metadata.finalizers ?? []).length === 0) {
      const { object } = await reg.delete(undefined, req.name!, opts);
      return { code: 200, body: deletedStatus(req, object) };
    }
    const next = structuredClone(current);
    next.metadata.deletionTimestamp ??= nowTimestamp();
    next.metadata.deletionGracePeriodSeconds ??= 0;
    next.status = { ...(next.status ?? {}), phase: 'Terminating' };
    if (opts.dryRun) return { code: 200, body: next };
    try {
      const updated = await reg.update(current, next, { subresource: 'status', keepDeletion: true });
      return { code: 200, body: updated };
    } catch (err) {
      if (err instanceof StatusError && err.reason === 'Conflict') continue;
      throw err;
    }
  }
  throw conflict(reg.gr, req.name!, OBJECT_MODIFIED);
}

export async function handleDeleteCollection(req: ResourceRequest, body: Buffer, contentType: string | undefined, hooks: HandlerHooks): Promise<Reply> {
  const reg = need(req);
  const opts = deleteOptions(req, body, contentType);
  const list = await handleList({ ...req, query: new URLSearchParams([...req.query].filter(([k]) => k !== 'limit' && k !== 'continue')) });
  const items: Obj[] = [];
  for (const obj of list.items as K8sObject[]) {
    try {
      const { object } = await reg.delete(obj.metadata.namespace, obj.metadata.name, opts);
      items.push(object);
    } catch (err) {
      if (!(err instanceof StatusError && err.code === 404)) throw err;
    }
  }
  void hooks;
  return { code: 200, body: { kind: `${req.type.kind}List`, apiVersion: reg.apiVersion, metadata: {}, items } };
}

// ---- subresources ----

export function scaleOf(req: ResourceRequest, obj: K8sObject): Obj {
  const selector = obj.spec?.selector;
  let selectorText = '';
  if (selector && typeof selector === 'object') {
    if (selector.matchLabels || selector.matchExpressions) {
      const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
      for (const e of selector.matchExpressions ?? []) {
        if (e.operator === 'In') parts.push(`${e.key} in (${(e.values ?? []).join(',')})`);
        else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${(e.values ?? []).join(',')})`);
        else if (e.operator === 'Exists') parts.push(e.key);
        else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
      }
      selectorText = parts.join(',');
    } else {
      selectorText = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
    }
  }
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: obj.spec?.replicas ?? 0 },
    status: { replicas: obj.status?.replicas ?? 0, selector: selectorText },
  };
}

/** PUT/PATCH of /scale: sets spec.replicas on the parent. */
export async function writeScale(req: ResourceRequest, scale: Obj): Promise<Obj> {
  const reg = need(req);
  const replicas = scale?.spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw invalid('Scale', 'autoscaling', req.name!, [invalidValue('spec.replicas', replicas, 'must be greater than or equal to 0')]);
  }
  for (let attempt = 0; ; attempt++) {
    const current = await reg.get(req.namespace, req.name!);
    const rv = scale.metadata?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(reg.gr, req.name!, OBJECT_MODIFIED);
    const next = structuredClone(current);
    next.spec = { ...(next.spec ?? {}), replicas };
    try {
      return scaleOf(req, await reg.update(current, next, { dryRun: dryRun(req) }));
    } catch (err) {
      if (err instanceof StatusError && err.reason === 'Conflict' && !rv && attempt < GONE_RETRIES) continue;
      throw err;
    }
  }
}

/** POST pods/binding (or bindings): assigns a pod to a node, once. */
export async function bindPod(req: ResourceRequest, binding: Obj, hooks: HandlerHooks): Promise<Reply> {
  const pods = hooks.registryFor('', 'pods')!;
  const podName = req.subresource === 'binding' ? req.name! : binding?.metadata?.name;
  const node = binding?.target?.name;
  if (!podName) throw invalid('Binding', '', '', [required('metadata.name')]);
  if (!node || (binding.target.kind && binding.target.kind !== 'Node')) throw invalid('Binding', '', podName, [required('target.name')]);
  for (let attempt = 0; ; attempt++) {
    // First from the watch cache (a stale copy only costs a conflict and a retry from the store),
    // as upstream's GuaranteedUpdate starts from its cached object.
    const cached = attempt === 0 ? pods.watchCache().cached(pods.key(req.namespace, podName)) : undefined;
    const pod = cached ? pods.withType(cached) : await pods.get(req.namespace, podName);
    const uid = binding.metadata?.uid;
    if (uid && uid !== pod.metadata.uid) {
      if (cached) continue;
      throw conflict(pods.gr, podName, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid}`);
    }
    if (pod.metadata.deletionTimestamp) throw conflict(pods.gr, podName, 'pod is being deleted, cannot be assigned to a host');
    if (pod.spec?.nodeName) {
      if (cached) continue;
      throw conflict(pods.gr, podName, `pod ${podName} is already assigned to node "${pod.spec.nodeName}"`);
    }
    const next = structuredClone(pod);
    next.spec.nodeName = node;
    if (binding.metadata?.annotations) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), ...binding.metadata.annotations };
    // Upstream's assignPod also marks the pod PodScheduled=True.
    const conditions: Obj[] = [...((next.status?.conditions as Obj[] | undefined) ?? [])];
    const at = conditions.findIndex((c) => c.type === 'PodScheduled');
    const scheduled: Obj = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: at >= 0 && conditions[at]!.status === 'True' ? conditions[at]!.lastTransitionTime : nowTimestamp() };
    if (at >= 0) conditions[at] = scheduled;
    else conditions.push(scheduled);
    next.status = { ...(next.status ?? {}), conditions };
    try {
      await pods.update(pod, next, { dryRun: dryRun(req) });
      return { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
    } catch (err) {
      if (err instanceof StatusError && err.reason === 'Conflict' && attempt < GONE_RETRIES) continue;
      throw err;
    }
  }
}

function need(req: ResourceRequest): ResourceRegistry {
  if (!req.registry) throw methodNotAllowed();
  return req.registry;
}
