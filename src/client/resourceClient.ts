// Typed access to one resource (`pods`, `leases.coordination.k8s.io`, …): the verbs client-go's
// typed clients have, with URL paths derived from group/version/plural as the catalog declares them.
import type { ListMeta, ObjectMeta, Status } from 'kubernetes-types/meta/v1.js';
import type { CallOptions, QueryValue, RestClient } from './restClient.js';
import { readWatchStream, type WatchEvent } from './watch.js';

/** The shape every API object has; the parameter T of the typed API extends this in practice. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: ListMeta;
  items: T[];
}

export type LabelSelectorInput = string | Readonly<Record<string, string>>;

export interface SelectorOptions {
  /** `app=web,tier!=db` or `{app: 'web'}`. */
  labelSelector?: LabelSelectorInput;
  /** `spec.nodeName=node-1,metadata.namespace!=kube-system`. */
  fieldSelector?: string;
}

export interface ListOptions extends CallOptions, SelectorOptions {
  /** Omit for all namespaces of a namespaced resource. */
  namespace?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  timeoutSeconds?: number;
}

export interface WatchOptions extends CallOptions, SelectorOptions {
  namespace?: string;
  /** Watch one object (a metadata.name field selector, as client-go does). */
  name?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  allowWatchBookmarks?: boolean;
  /** The server ends the watch after this long. */
  timeoutSeconds?: number;
  sendInitialEvents?: boolean;
}

export interface WriteOptions extends CallOptions {
  /** dryRun=All: validated and admitted, not stored. */
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: 'Ignore' | 'Warn' | 'Strict';
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export const PATCH_CONTENT_TYPES: Readonly<Record<PatchType, string>> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface PatchOptions extends WriteOptions {
  /** Default `merge`. `apply` needs fieldManager. */
  type?: PatchType;
  /** Server-side apply: take ownership of conflicting fields. */
  force?: boolean;
  /** Patch a subresource (`status`, `scale`). */
  subresource?: string;
}

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

export interface DeleteOptions extends CallOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: Preconditions;
  dryRun?: boolean;
}

export interface DeleteCollectionOptions extends DeleteOptions, SelectorOptions {
  namespace?: string;
}

export interface ResourceInfo {
  group: string;
  version: string;
  plural: string;
  kind: string | undefined;
  namespaced: boolean;
}

export function labelSelectorString(sel: LabelSelectorInput | undefined): string | undefined {
  if (sel === undefined) return undefined;
  if (typeof sel === 'string') return sel || undefined;
  const parts = Object.entries(sel).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : undefined;
}

export class ResourceClient<T extends object> {
  constructor(
    readonly client: RestClient,
    readonly info: ResourceInfo,
  ) {}

  get apiVersion(): string {
    return this.info.group ? `${this.info.group}/${this.info.version}` : this.info.version;
  }

  /** The URL path of the collection (namespace given) or of one object or subresource. */
  path(namespace: string | undefined, name?: string, subresource?: string): string {
    const root = this.info.group ? `/apis/${this.info.group}/${this.info.version}` : `/api/${this.info.version}`;
    let p = root;
    if (namespace && this.info.namespaced) p += `/namespaces/${encodeURIComponent(namespace)}`;
    p += `/${this.info.plural}`;
    if (name !== undefined) p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
    return p;
  }

  async get(namespace: string | undefined, name: string, opts: CallOptions & { resourceVersion?: string } = {}): Promise<T> {
    return this.client.request<T>({ ...call(opts), method: 'GET', path: this.path(namespace, name), query: { resourceVersion: opts.resourceVersion } });
  }

  /** One page (or all, without `limit`). Follow `metadata.continue` for the next page, or use listAll. */
  async list(opts: ListOptions = {}): Promise<ObjectList<T>> {
    return this.client.request<ObjectList<T>>({
      ...call(opts),
      method: 'GET',
      path: this.path(opts.namespace),
      query: {
        labelSelector: labelSelectorString(opts.labelSelector),
        fieldSelector: opts.fieldSelector || undefined,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
        timeoutSeconds: opts.timeoutSeconds,
      },
    });
  }

  /** Every item, fetched in pages of `limit` (default 500); the list's resourceVersion is the first page's. */
  async listAll(opts: ListOptions = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let first: ObjectList<T> | undefined;
    let cont: string | undefined = opts.continue;
    do {
      const page: ObjectList<T> = await this.list({ ...opts, limit: opts.limit ?? 500, continue: cont, ...(cont ? { resourceVersion: undefined, resourceVersionMatch: undefined } : {}) });
      first ??= page;
      items.push(...page.items);
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { ...first, metadata: { ...first.metadata, continue: undefined }, items };
  }

  /** Creates `obj` in its metadata.namespace (or `opts.namespace`). */
  async create(obj: T, opts: WriteOptions & { namespace?: string } = {}): Promise<T> {
    return this.client.request<T>({ ...call(opts), method: 'POST', path: this.path(opts.namespace ?? ns(obj)), query: writeQuery(opts), body: this.withTypeMeta(obj) });
  }

  /** Replaces `obj`; its metadata.resourceVersion makes this a compare-and-swap (409 Conflict if stale). */
  async update(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.client.request<T>({ ...call(opts), method: 'PUT', path: this.path(ns(obj), name(obj)), query: writeQuery(opts), body: this.withTypeMeta(obj) });
  }

  /** Replaces the status subresource of `obj`. */
  async updateStatus(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.client.request<T>({ ...call(opts), method: 'PUT', path: this.path(ns(obj), name(obj), 'status'), query: writeQuery(opts), body: this.withTypeMeta(obj) });
  }

  /**
   * Patches one object. `patch` is the document for its type: an array of operations for `json`,
   * a partial object for `merge`/`strategic`, the full intent for `apply`.
   */
  async patch(namespace: string | undefined, name: string, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    const type = opts.type ?? 'merge';
    return this.client.request<T>({
      ...call(opts),
      method: 'PATCH',
      path: this.path(namespace, name, opts.subresource),
      query: { ...writeQuery(opts), force: type === 'apply' && opts.force ? 'true' : undefined },
      body: patch,
      contentType: PATCH_CONTENT_TYPES[type],
    });
  }

  /** Server-side apply of `obj` as `fieldManager`. */
  async apply(obj: T, fieldManager: string, opts: Omit<PatchOptions, 'type' | 'fieldManager'> = {}): Promise<T> {
    return this.patch(ns(obj), name(obj), this.withTypeMeta(obj), { ...opts, type: 'apply', fieldManager });
  }

  /** Deletes one object; the answer is the object (still terminating, or as deleted) or a Status. */
  async delete(namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<T | Status> {
    return this.client.request<T | Status>({ ...call(opts), method: 'DELETE', path: this.path(namespace, name), body: deleteBody(opts) });
  }

  /** Deletes every object matching the selectors (in one namespace, or cluster-wide for cluster-scoped kinds). */
  async deleteCollection(opts: DeleteCollectionOptions = {}): Promise<ObjectList<T> | Status> {
    return this.client.request<ObjectList<T> | Status>({
      ...call(opts),
      method: 'DELETE',
      path: this.path(opts.namespace),
      query: { labelSelector: labelSelectorString(opts.labelSelector), fieldSelector: opts.fieldSelector || undefined },
      body: deleteBody(opts),
    });
  }

  /** GET of a subresource (`scale`, `status`, `log`…). */
  async getSubresource<R>(namespace: string | undefined, name: string, subresource: string, opts: CallOptions = {}): Promise<R> {
    return this.client.request<R>({ ...call(opts), method: 'GET', path: this.path(namespace, name, subresource) });
  }

  /** POST to a subresource: `pods/binding`, `pods/eviction`, `serviceaccounts/token`. */
  async createSubresource<B, R = B>(namespace: string | undefined, name: string, subresource: string, body: B, opts: WriteOptions = {}): Promise<R> {
    return this.client.request<R>({ ...call(opts), method: 'POST', path: this.path(namespace, name, subresource), query: writeQuery(opts), body });
  }

  /** PUT to a subresource (`scale`, `finalize`). */
  async updateSubresource<B, R = B>(namespace: string | undefined, name: string, subresource: string, body: B, opts: WriteOptions = {}): Promise<R> {
    return this.client.request<R>({ ...call(opts), method: 'PUT', path: this.path(namespace, name, subresource), query: writeQuery(opts), body });
  }

  /**
   * Watches the resource. Iterate the result; it ends when the server closes the stream or the
   * signal aborts, and throws ApiError for ERROR events (`isGone` → relist). Not retried: informers
   * add reconnection.
   */
  async watch(opts: WatchOptions = {}): Promise<AsyncGenerator<WatchEvent<T>, void, undefined>> {
    const fields = [opts.fieldSelector, opts.name !== undefined ? `metadata.name=${opts.name}` : undefined].filter((s) => s).join(',');
    const query: Record<string, QueryValue> = {
      watch: 'true',
      labelSelector: labelSelectorString(opts.labelSelector),
      fieldSelector: fields || undefined,
      resourceVersion: opts.resourceVersion,
      resourceVersionMatch: opts.resourceVersionMatch,
      allowWatchBookmarks: opts.allowWatchBookmarks ? 'true' : undefined,
      timeoutSeconds: opts.timeoutSeconds,
      sendInitialEvents: opts.sendInitialEvents === undefined ? undefined : String(opts.sendInitialEvents),
    };
    const res = await this.client.stream({ ...call(opts), path: this.path(opts.namespace), query });
    return readWatchStream<T>(res, opts.signal);
  }

  private withTypeMeta(obj: T): T {
    const o = obj as KubeObject;
    if (o.apiVersion && o.kind) return obj;
    return { ...obj, apiVersion: o.apiVersion ?? this.apiVersion, ...(this.info.kind ? { kind: o.kind ?? this.info.kind } : {}) };
  }
}

function call(opts: CallOptions): CallOptions {
  const c: CallOptions = {};
  if (opts.signal) c.signal = opts.signal;
  if (opts.timeoutMs !== undefined) c.timeoutMs = opts.timeoutMs;
  return c;
}

function ns(obj: object): string | undefined {
  return (obj as KubeObject).metadata?.namespace || undefined;
}

function name(obj: object): string {
  const n = (obj as KubeObject).metadata?.name;
  if (!n) throw new TypeError('the object has no metadata.name');
  return n;
}

function writeQuery(opts: WriteOptions): Record<string, QueryValue> {
  return { dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager, fieldValidation: opts.fieldValidation };
}

function deleteBody(opts: DeleteOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
  if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.preconditions) body.preconditions = opts.preconditions;
  if (opts.dryRun) body.dryRun = ['All'];
  return body;
}
