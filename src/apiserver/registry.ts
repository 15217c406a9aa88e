// The generic REST storage of one resource type over the Store: keys, encoding, object
// metadata (uid, creationTimestamp, generation, resourceVersion), create/update with
// optimistic concurrency, graceful delete with finalizers, and the resource's watch cache.
// Handlers (handlers.ts) turn HTTP into these calls; strategies (defaults/validation) plug in.

import { randomUUID } from 'node:crypto';
import { storagePrefix, type ResourceType } from '../api/catalog.js';
import type { Store } from '../storage/store.js';
import { conversionFor, type Conversion } from './conversion.js';
import { applyDefaults } from './defaults.js';

const IDENTITY = conversionFor('', '');
import {
  OBJECT_MODIFIED,
  StatusError,
  alreadyExists,
  conflict,
  invalid,
  notFound,
  qualified,
  FieldError as FieldErrorClass,
  type FieldError,
  type GroupResource,
} from './status.js';
import { podQOSClass } from '../api/qos.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { pruneUnknown, validateAgainstSchema } from './schemaValidation.js';
import { validate, validateObjectMeta } from './validation.js';
import { WatchCache, decodeObject, type K8sObject } from './watchCache.js';

/** Random suffix characters upstream uses for generateName (no vowels, no look-alikes). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function generateNameSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
  return s;
}

/** An API timestamp (RFC 3339, whole seconds) `seconds` from now. */
export const timestampIn = (seconds: number): string => new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const nowTimestamp = (): string => timestampIn(0);

const DS_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation';

/**
 * Upstream's Job strategy: unless `manualSelector`, a Job selects its pods by its own UID, and its
 * template carries the labels that make that true (plus the legacy `controller-uid`/`job-name`).
 */
function generateJobSelector(job: K8sObject): void {
  const spec = job.spec;
  if (!spec || spec.manualSelector === true) return;
  if (spec.selector) {
    throw invalid('Job', 'batch', job.metadata.name, [new FieldErrorClass('FieldValueInvalid', 'spec.selector', '`selector` not auto-generated', spec.selector, true)]);
  }
  const uid = job.metadata.uid!;
  const name = job.metadata.name;
  spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  spec.template ??= {};
  spec.template.metadata ??= {};
  spec.template.metadata.labels = { ...(spec.template.metadata.labels ?? {}), 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
}

/** Kinds whose metadata.generation tracks spec changes. */
const NO_GENERATION = new Set(['/Event', 'events.k8s.io/Event', '/ConfigMap', '/Secret', '/Endpoints', 'coordination.k8s.io/Lease', '/ServiceAccount']);

export interface WriteOptions {
  dryRun?: boolean;
}

/** The body of a DELETE, as metav1.DeleteOptions. */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

/** Commits (true) or undoes (false) what a strategy's begin step did, once the write's outcome is known. */
export type FinishWrite = (success: boolean) => Promise<void>;

/**
 * Type-specific steps around the generic writes, as upstream's BeginCreate/BeginUpdate/AfterDelete
 * hooks and strategy methods (Services allocate ClusterIPs and NodePorts through these).
 */
export interface RegistryStrategy {
  /** After defaulting, before validation of a create. */
  beginCreate?(obj: K8sObject, dryRun: boolean): Promise<FinishWrite>;
  /** After defaulting, before validation of a spec update (not of status writes). */
  beginUpdate?(next: K8sObject, current: K8sObject, dryRun: boolean): Promise<FinishWrite>;
  /** Upstream's PrepareForUpdate, after beginUpdate. */
  prepareForUpdate?(next: K8sObject, current: K8sObject): void;
  /** Field errors only an update can have (immutable fields). */
  validateUpdate?(next: K8sObject, current: K8sObject): FieldError[];
  /** After the object is gone from storage. */
  afterDelete?(obj: K8sObject, dryRun: boolean): Promise<void>;
}

export class ResourceRegistry {
  /** Replaced in place when a CRD changes only what is served (columns, schema, subresources). */
  type: ResourceType;
  /** Set by the server for kinds that need one. */
  strategy: RegistryStrategy | undefined;
  readonly gr: GroupResource;
  readonly prefix: string;
  private cache: WatchCache | undefined;
  private readonly conversion: Conversion;

  constructor(
    type: ResourceType,
    readonly store: Store,
  ) {
    this.type = type;
    this.gr = { group: type.group, resource: type.plural };
    this.conversion = conversionFor(type.group, type.plural);
    const prefix = storagePrefix(type);
    if (!prefix) throw new Error(`${type.plural} is not stored`);
    this.prefix = prefix;
  }

  get apiVersion(): string {
    return this.type.group ? `${this.type.group}/${this.type.version}` : this.type.version;
  }

  key(namespace: string | undefined, name: string): string {
    return this.type.namespaced ? `${this.prefix}${namespace}/${name}` : `${this.prefix}${name}`;
  }

  listPrefix(namespace: string | undefined): string {
    return this.type.namespaced && namespace ? `${this.prefix}${namespace}/` : this.prefix;
  }

  watchCache(): WatchCache {
    this.cache ??= new WatchCache(this.store, this.prefix, (o) => this.withType(o));
    return this.cache;
  }

  stop(): void {
    this.cache?.stop();
  }

  async get(namespace: string | undefined, name: string): Promise<K8sObject> {
    const o = await this.store.get(this.key(namespace, name));
    if (!o) throw notFound(this.gr, name);
    return this.withType(decodeObject(o));
  }

  async tryGet(namespace: string | undefined, name: string): Promise<K8sObject | undefined> {
    const o = await this.store.get(this.key(namespace, name));
    return o ? this.withType(decodeObject(o)) : undefined;
  }

  /** Objects carry the apiVersion/kind (and, for events.k8s.io, the fields) of the resource they are served as. */
  withType(obj: K8sObject): K8sObject {
    if (this.conversion !== IDENTITY && obj.apiVersion !== this.apiVersion) return this.conversion.fromStorage(obj) as K8sObject;
    obj.apiVersion = this.apiVersion;
    obj.kind = this.type.kind;
    return obj;
  }

  /** The bytes stored for a served object (converted when this resource shares another's storage). */
  private encodeForStorage(obj: K8sObject): Buffer {
    dropEmptyMetadata(obj);
    return encode(this.conversion === IDENTITY ? obj : (this.conversion.toStorage(obj) as K8sObject));
  }

  /** Defaulting and validation, then the write. `obj` is already named and namespaced. */
  prepareForCreate(obj: K8sObject): void {
    const m = obj.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = nowTimestamp();
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    if (!NO_GENERATION.has(`${this.type.group}/${this.type.kind}`)) m.generation = 1;
    else delete m.generation;
    // Status is the system's to write, so creates drop it — except nodes, which kubelets register
    // with their status, and namespaces, whose phase the strategy sets (both as upstream).
    if (this.type.subresources?.includes('status') && !(this.type.group === '' && (this.type.kind === 'Namespace' || this.type.kind === 'Node'))) delete obj.status;
    applyDefaults(this.type.group, this.type.kind, obj);
    if (this.type.group === 'batch' && this.type.kind === 'Job') generateJobSelector(obj);
    // Every new namespace waits for the namespace controller when deleted.
    if (this.type.group === '' && this.type.kind === 'Namespace') obj.spec = { ...(obj.spec ?? {}), finalizers: ['kubernetes'] };
    if (this.type.group === 'apps' && this.type.kind === 'DaemonSet') m.annotations = { ...(m.annotations ?? {}), [DS_TEMPLATE_GENERATION]: '1' };
    // A new pod is Pending, with its QoS class (upstream's pod strategy).
    if (this.type.group === '' && this.type.kind === 'Pod') obj.status = { phase: 'Pending', qosClass: podQOSClass(obj as Pod) };
  }

  validateOrThrow(obj: K8sObject, extra: FieldError[] = []): void {
    const t = this.type;
    let errs: FieldError[];
    if (t.custom) {
      const schema = t.custom.schema as Record<string, any> | undefined;
      if (schema) pruneUnknown(schema, obj);
      const { metadata: _metadata, ...body } = obj;
      errs = [...validateObjectMeta(t.group, t.kind, obj.metadata, t.namespaced), ...validateAgainstSchema(schema ? { ...schema, properties: { ...(schema.properties ?? {}), metadata: undefined } } : undefined, body, '')];
    } else {
      errs = validate(t.group, t.kind, obj, t.namespaced);
    }
    errs.push(...extra);
    if (errs.length > 0) throw invalid(this.type.kind, this.type.group, String(obj.metadata.name ?? obj.metadata.generateName ?? ''), errs);
  }

  async create(obj: K8sObject, opts: WriteOptions = {}): Promise<K8sObject> {
    const finish = await this.strategy?.beginCreate?.(obj, opts.dryRun === true);
    let ok = false;
    try {
      this.validateOrThrow(obj);
      if (opts.dryRun) {
        ok = true;
        return this.withType(obj);
      }
      const key = this.key(obj.metadata.namespace, obj.metadata.name);
      const ttl = this.type.kind === 'Event' ? 3600 : undefined;
      const r = await this.store.create(key, this.encodeForStorage(obj), { ttlSeconds: ttl });
      if (!r.ok) throw alreadyExists(this.gr, obj.metadata.name);
      obj.metadata.resourceVersion = String(r.object.modRevision);
      ok = true;
      return this.withType(obj);
    } finally {
      await finish?.(ok);
    }
  }

  /**
   * Writes `next` over `current` (which was read at its resourceVersion). Keeps what clients
   * may not change (uid, creationTimestamp), bumps generation on spec changes, and keeps status
   * or spec depending on whether this is a status write. 409 if someone wrote in between.
   */
  async update(current: K8sObject, next: K8sObject, opts: WriteOptions & { subresource?: 'status' | 'finalize' | 'approval'; keepDeletion?: boolean } = {}): Promise<K8sObject> {
    const m = next.metadata;
    const cm = current.metadata;
    // A UID in the object is a precondition, as upstream's.
    if (m.uid && m.uid !== cm.uid) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(this.gr)} "${cm.name}": Precondition failed: UID in precondition: ${m.uid}, UID in object meta: ${cm.uid}`, {
        name: cm.name,
        ...(this.gr.group ? { group: this.gr.group } : {}),
        kind: this.gr.resource,
      });
    }
    m.uid = cm.uid;
    m.creationTimestamp = cm.creationTimestamp;
    if (opts.keepDeletion && m.deletionTimestamp) {
      // The namespace registry starts a deletion this way (its DELETE is an update).
      m.deletionGracePeriodSeconds ??= 0;
    } else if (cm.deletionTimestamp) {
      m.deletionTimestamp = cm.deletionTimestamp;
      m.deletionGracePeriodSeconds = cm.deletionGracePeriodSeconds;
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    const hasStatus = this.type.subresources?.includes('status') ?? false;
    let finish: FinishWrite | undefined;
    let ok = false;
    try {
      const written = await this.writeUpdate(current, next, opts, hasStatus, (f) => (finish = f));
      ok = true;
      return written;
    } finally {
      await (finish as FinishWrite | undefined)?.(ok);
    }
  }

  private async writeUpdate(
    current: K8sObject,
    next: K8sObject,
    opts: WriteOptions & { subresource?: 'status' | 'finalize' | 'approval'; keepDeletion?: boolean },
    hasStatus: boolean,
    setFinish: (f: FinishWrite | undefined) => void,
  ): Promise<K8sObject> {
    const m = next.metadata;
    const cm = current.metadata;
    // A CSR's /approval is a status write too (of its conditions: the CSR strategy in csr.ts narrows it).
    if (opts.subresource === 'status' || opts.subresource === 'approval') {
      // A status write changes status only (and metadata labels/annotations upstream keeps too).
      const keep = { ...current };
      delete keep.status;
      const status = next.status;
      Object.assign(next, { ...keep, metadata: next.metadata, status });
      for (const k of Object.keys(next)) if (!(k in keep) && k !== 'status' && k !== 'metadata') delete next[k];
      m.generation = cm.generation;
    } else {
      if (hasStatus) {
        if (current.status === undefined) delete next.status;
        else next.status = current.status;
      }
      // A namespace's spec.finalizers change only through its finalize subresource (upstream's strategy).
      if (this.type.group === '' && this.type.kind === 'Namespace' && opts.subresource !== 'finalize') {
        next.spec = { ...(next.spec ?? {}) };
        if (current.spec?.finalizers) next.spec.finalizers = current.spec.finalizers;
        else delete next.spec.finalizers;
      }
      applyDefaults(this.type.group, this.type.kind, next);
      setFinish(await this.strategy?.beginUpdate?.(next, current, opts.dryRun === true));
      this.strategy?.prepareForUpdate?.(next, current);
      if (cm.generation !== undefined) {
        // Kinds without a spec (EndpointSlice) count any change outside metadata, as upstream.
        const body = (o: K8sObject) => (this.type.kind === 'EndpointSlice' ? JSON.stringify({ ...o, metadata: undefined }) : JSON.stringify(o.spec ?? null));
        m.generation = body(next) !== body(current) ? cm.generation + 1 : cm.generation;
      }
      // Upstream's DaemonSet strategy tracks template changes in this annotation (pods get it as
      // their pod-template-generation label).
      if (this.type.group === 'apps' && this.type.kind === 'DaemonSet') {
        const changed = JSON.stringify(next.spec?.template ?? null) !== JSON.stringify(current.spec?.template ?? null);
        const prev = current.metadata.annotations?.[DS_TEMPLATE_GENERATION];
        const value = changed ? String(m.generation) : (prev ?? String(m.generation));
        m.annotations = { ...(m.annotations ?? {}), [DS_TEMPLATE_GENERATION]: value };
      }
    }
    const isStatusWrite = opts.subresource === 'status' || opts.subresource === 'approval';
    this.validateOrThrow(next, isStatusWrite ? [] : (this.strategy?.validateUpdate?.(next, current) ?? []));
    if (opts.dryRun) return this.withType({ ...next, metadata: { ...m, resourceVersion: cm.resourceVersion } });
    delete m.resourceVersion;
    const key = this.key(cm.namespace, cm.name);
    // Deleting the last finalizer of an object being deleted removes it.
    if (cm.deletionTimestamp && (m.finalizers ?? []).length === 0 && this.gracefulDoneOnUpdate(next)) {
      const d = await this.store.delete(key, Number(cm.resourceVersion));
      if (!d.ok) throw d.reason === 'NotFound' ? notFound(this.gr, cm.name) : conflict(this.gr, cm.name, OBJECT_MODIFIED);
      next.metadata.resourceVersion = String(d.revision);
      await this.strategy?.afterDelete?.(decodeObject(d.deleted), false);
      return this.withType(next);
    }
    const data = this.encodeForStorage(next);
    // As upstream's GuaranteedUpdate: an update that changes nothing is not written, so it makes no
    // new resourceVersion and no watch event (a client re-sending the same status would otherwise
    // wake every watcher, itself included).
    const unchanged = { ...current, metadata: { ...cm } };
    delete unchanged.metadata.resourceVersion;
    if (data.equals(this.encodeForStorage(unchanged))) {
      m.resourceVersion = cm.resourceVersion;
      return this.withType(next);
    }
    const r = await this.store.update(key, data, Number(cm.resourceVersion));
    if (!r.ok) throw r.reason === 'NotFound' ? notFound(this.gr, cm.name) : conflict(this.gr, cm.name, OBJECT_MODIFIED);
    m.resourceVersion = String(r.object.modRevision);
    return this.withType(next);
  }

  private gracefulDoneOnUpdate(obj: K8sObject): boolean {
    // Namespaces also wait for their spec.finalizers (the namespace controller's `kubernetes`).
    if (this.type.kind === 'Namespace' && this.type.group === '') return (obj.spec?.finalizers ?? []).length === 0;
    // Pods wait for the kubelet's confirmation (grace period 0) even without finalizers.
    return !(this.type.kind === 'Pod' && this.type.group === '' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0);
  }

  /**
   * Deletes as upstream: objects with finalizers (or pods on a node with a grace period) get
   * deletionTimestamp and stay until their finalizers are gone; others go at once.
   * Returns the object as it is after the call and whether it is gone.
   */
  async delete(namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<{ object: K8sObject; gone: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(namespace, name);
      const m = current.metadata;
      if (opts.preconditions?.uid && opts.preconditions.uid !== m.uid) {
        throw conflict(
          this.gr,
          name,
          `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${m.uid}`,
        );
      }
      if (opts.preconditions?.resourceVersion && opts.preconditions.resourceVersion !== m.resourceVersion) {
        throw conflict(
          this.gr,
          name,
          `Precondition failed: ResourceVersion in precondition: ${opts.preconditions.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`,
        );
      }
      const finalizers: string[] = [...(m.finalizers ?? [])];
      // An explicit policy replaces whichever of the two GC finalizers was there, as upstream.
      if (opts.propagationPolicy) {
        for (const f of ['orphan', 'foregroundDeletion']) {
          const i = finalizers.indexOf(f);
          if (i >= 0) finalizers.splice(i, 1);
        }
      }
      if (opts.propagationPolicy === 'Orphan') finalizers.push('orphan');
      if (opts.propagationPolicy === 'Foreground') finalizers.push('foregroundDeletion');
      const grace = this.gracePeriod(current, opts.gracePeriodSeconds);
      const graceful = finalizers.length > 0 || grace > 0;
      if (opts.dryRun) return { object: current, gone: !graceful };
      if (!graceful) {
        const d = await this.store.delete(this.key(namespace, name), Number(m.resourceVersion));
        if (d.ok) {
          current.metadata.resourceVersion = String(d.revision);
          await this.strategy?.afterDelete?.(current, false);
          return { object: current, gone: true };
        }
        if (d.reason === 'NotFound') throw notFound(this.gr, name);
        if (attempt < 5) continue;
        throw conflict(this.gr, name, OBJECT_MODIFIED);
      }
      const next = structuredClone(current);
      next.metadata.finalizers = finalizers.length > 0 ? finalizers : undefined;
      if (!m.deletionTimestamp) {
        next.metadata.deletionTimestamp = timestampIn(grace);
        next.metadata.deletionGracePeriodSeconds = grace;
      } else if (grace < (m.deletionGracePeriodSeconds ?? Infinity)) {
        // A shorter grace period may shorten a deletion in progress, never lengthen it.
        next.metadata.deletionTimestamp = timestampIn(grace);
        next.metadata.deletionGracePeriodSeconds = grace;
      }
      if (this.type.kind === 'Pod' && grace === 0 && finalizers.length === 0) {
        const d = await this.store.delete(this.key(namespace, name), Number(m.resourceVersion));
        if (d.ok) return { object: current, gone: true };
        if (attempt < 5) continue;
        throw conflict(this.gr, name, OBJECT_MODIFIED);
      }
      delete next.metadata.resourceVersion;
      const r = await this.store.update(this.key(namespace, name), this.encodeForStorage(next), Number(m.resourceVersion));
      if (r.ok) {
        next.metadata.resourceVersion = String(r.object.modRevision);
        return { object: this.withType(next), gone: false };
      }
      if (r.reason === 'NotFound') throw notFound(this.gr, name);
      if (attempt >= 5) throw conflict(this.gr, name, OBJECT_MODIFIED);
    }
  }

  /** Only pods that are bound to a node wait out a grace period; everything else goes at once. */
  private gracePeriod(obj: K8sObject, requested: number | undefined): number {
    if (!(this.type.kind === 'Pod' && this.type.group === '')) return 0;
    if (!obj.spec?.nodeName) return 0;
    const phase = obj.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return 0;
    const g = requested ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
    return Math.max(0, Math.floor(g));
  }
}

/**
 * Go drops empty `omitempty` lists and maps when it encodes ObjectMeta, so an object whose last
 * label, owner or finalizer was patched away reads back without the field, not with `[]`/`{}`.
 */
export function dropEmptyMetadata(obj: K8sObject): void {
  const m = obj.metadata as Record<string, unknown>;
  for (const k of ['labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields']) {
    const v = m[k];
    if (v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)) delete m[k];
  }
}

/** Stored bytes: the object without its resourceVersion (the revision is the version). */
export function encode(obj: K8sObject): Buffer {
  const rv = obj.metadata.resourceVersion;
  delete obj.metadata.resourceVersion;
  const b = Buffer.from(JSON.stringify(obj), 'utf8');
  if (rv !== undefined) obj.metadata.resourceVersion = rv;
  return b;
}

export function isStatusError(err: unknown): err is StatusError {
  return err instanceof StatusError;
}
