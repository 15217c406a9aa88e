// The Kubernetes-shaped store the API server uses, written once over any KV engine
// (SQLite or etcd), as upstream's apiserver storage is written over etcd's client.
// Keys are upstream's: /registry/<resource>/<namespace>/<name>, /registry/<resource>/<name>.

import { StorageError, isStorageError, tooOldRevision, valueTooLarge, MAX_VALUE_BYTES } from './errors.js';
import { Compactor, type CompactionOptions } from './compactor.js';
import { prefixRangeEnd, type KV, type KeyValue, type WatchEvent } from './kv.js';

/** One stored object: its key, its bytes and the revisions that become its resourceVersion. */
export interface StoredObject {
  key: string;
  value: Buffer;
  createRevision: number;
  /** The revision of its last write: the object's resourceVersion. */
  modRevision: number;
}

export type CreateResult =
  | { ok: true; object: StoredObject }
  | { ok: false; reason: 'AlreadyExists'; current: StoredObject };

export type UpdateResult =
  | { ok: true; object: StoredObject }
  | { ok: false; reason: 'Conflict'; current: StoredObject }
  | { ok: false; reason: 'NotFound' };

export type DeleteResult =
  | { ok: true; revision: number; deleted: StoredObject }
  | { ok: false; reason: 'Conflict'; current: StoredObject }
  | { ok: false; reason: 'NotFound' };

export interface ListOptions {
  /** Read at this revision (0/absent = latest). Ignored with `continueFrom`, whose revision wins. */
  revision?: number | undefined;
  /** At most this many items (0/absent = all). */
  limit?: number | undefined;
  /** A token returned by an earlier page of the same prefix. */
  continueFrom?: string | undefined;
}

export interface ListResult {
  items: StoredObject[];
  /** The revision the list was read at (all pages of one list share it). */
  revision: number;
  /** Present when more items follow: pass it as `continueFrom`. */
  continue?: string | undefined;
  /** With `continue`: how many items the next pages hold. */
  remainingItemCount?: number | undefined;
}

export type StoreEvent =
  | { type: 'created'; revision: number; object: StoredObject }
  | { type: 'updated'; revision: number; object: StoredObject; prev: StoredObject }
  | { type: 'deleted'; revision: number; prev: StoredObject }
  /** Nothing under the prefix changed up to `revision` (for bookmarks). */
  | { type: 'progress'; revision: number };

export interface Store {
  get(key: string, opts?: { revision?: number | undefined }): Promise<StoredObject | undefined>;
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  count(prefix: string): Promise<number>;
  /** Creates `key` unless it exists; with `ttlSeconds` the key is deleted after that long (events). */
  create(key: string, value: Buffer, opts?: { ttlSeconds?: number | undefined }): Promise<CreateResult>;
  /** Compare-and-swap on the key's modRevision. */
  update(key: string, value: Buffer, expectedModRevision: number): Promise<UpdateResult>;
  /** Deletes `key`, only if its modRevision is `expectedModRevision` when given. */
  delete(key: string, expectedModRevision?: number): Promise<DeleteResult>;
  /**
   * Every change under `prefix` after `fromRevision`, in revision order, with no gap and no
   * duplicate. Ends when `signal` aborts. Throws StorageError TooOldRevision (through the
   * iterator) when history after `fromRevision` was compacted.
   */
  watch(prefix: string, fromRevision: number, signal: AbortSignal, opts?: { progressNotifyMs?: number }): AsyncIterable<StoreEvent>;
  /** Forgets history before `revision`. Compacting to an already compacted revision does nothing. */
  compact(revision: number): Promise<void>;
  /** Calls `fn` with the revision of every compaction this store makes; returns a function that stops it. */
  onCompact(fn: (revision: number) => void): () => void;
  currentRevision(): Promise<number>;
  close(): Promise<void>;
}

export interface KVStoreOptions {
  /** Automatic compaction; `false` turns it off. */
  compaction?: CompactionOptions | false;
  /** Called when automatic compaction fails (it retries on its next round). */
  onCompactionError?: (err: unknown) => void;
  /** How long a lease for TTL'd keys is shared by later writes (default 60 s, as upstream). */
  leaseReuseMs?: number;
}

const MAX_KEY_BYTES = 4096;

export class KVStore implements Store {
  readonly kv: KV;
  private readonly compactor: Compactor | undefined;
  private readonly leases = new Map<number, { id: number; grantedAt: number }>();
  private readonly leaseReuseMs: number;
  private readonly compactListeners = new Set<(revision: number) => void>();

  constructor(kv: KV, opts: KVStoreOptions = {}) {
    this.kv = kv;
    this.leaseReuseMs = opts.leaseReuseMs ?? 60_000;
    if (opts.compaction !== false) {
      this.compactor = new Compactor(kv, opts.compaction ?? {}, opts.onCompactionError, (rev) => this.compacted(rev));
    }
  }

  onCompact(fn: (revision: number) => void): () => void {
    this.compactListeners.add(fn);
    return () => this.compactListeners.delete(fn);
  }

  private compacted(revision: number): void {
    for (const fn of this.compactListeners) fn(revision);
  }

  async get(key: string, opts: { revision?: number | undefined } = {}): Promise<StoredObject | undefined> {
    const k = encodeKey(key);
    const resp = await this.kv.range({ key: k, revision: opts.revision });
    const kv = resp.kvs[0];
    return kv ? toObject(kv) : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const dir = encodeKey(asDirectory(prefix));
    let start = dir;
    let revision = opts.revision && opts.revision > 0 ? opts.revision : 0;
    if (opts.continueFrom) {
      const token = decodeContinue(opts.continueFrom);
      start = Buffer.concat([dir, Buffer.from(token.start, 'utf8')]);
      revision = token.rv;
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const resp = await this.kv.range({ key: start, rangeEnd: prefixRangeEnd(dir), revision, limit });
    const readAt = revision || resp.header.revision;
    const items = resp.kvs.map(toObject);
    if (!resp.more || items.length === 0) return { items, revision: readAt };
    const last = resp.kvs[resp.kvs.length - 1]!.key.subarray(dir.length);
    return {
      items,
      revision: readAt,
      continue: encodeContinue(readAt, `${last.toString('utf8')}\u0000`),
      remainingItemCount: Math.max(0, resp.count - items.length),
    };
  }

  async count(prefix: string): Promise<number> {
    const dir = encodeKey(asDirectory(prefix));
    return (await this.kv.range({ key: dir, rangeEnd: prefixRangeEnd(dir), countOnly: true })).count;
  }

  async create(key: string, value: Buffer, opts: { ttlSeconds?: number | undefined } = {}): Promise<CreateResult> {
    const k = encodeKey(key);
    checkValue(key, value);
    const lease = opts.ttlSeconds && opts.ttlSeconds > 0 ? await this.leaseFor(opts.ttlSeconds) : 0;
    const resp = await this.kv.txn({
      compare: [{ key: k, target: 'mod', result: 'equal', operand: 0 }],
      success: [{ put: { key: k, value, lease } }],
      failure: [{ range: { key: k } }],
    });
    if (resp.succeeded) {
      const rev = resp.header.revision;
      return { ok: true, object: { key, value, createRevision: rev, modRevision: rev } };
    }
    const current = rangeResult(resp.responses[0]);
    // It existed at the compare and was gone at the read: only possible across a concurrent delete.
    if (!current) return this.create(key, value, opts);
    return { ok: false, reason: 'AlreadyExists', current };
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<UpdateResult> {
    const k = encodeKey(key);
    checkValue(key, value);
    if (!(expectedModRevision > 0)) {
      throw new StorageError('InvalidRequest', `update of ${key} needs the revision it was read at`);
    }
    const resp = await this.kv.txn({
      compare: [{ key: k, target: 'mod', result: 'equal', operand: expectedModRevision }],
      success: [{ put: { key: k, value, prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    if (resp.succeeded) {
      const put = resp.responses[0];
      const prev = put && 'put' in put ? put.put.prevKv : undefined;
      const rev = resp.header.revision;
      return { ok: true, object: { key, value, createRevision: prev?.createRevision ?? rev, modRevision: rev } };
    }
    const current = rangeResult(resp.responses[0]);
    return current ? { ok: false, reason: 'Conflict', current } : { ok: false, reason: 'NotFound' };
  }

  async delete(key: string, expectedModRevision?: number): Promise<DeleteResult> {
    const k = encodeKey(key);
    const guarded = expectedModRevision !== undefined && expectedModRevision > 0;
    const resp = await this.kv.txn({
      compare: guarded ? [{ key: k, target: 'mod', result: 'equal', operand: expectedModRevision }] : [],
      success: [{ deleteRange: { key: k, prevKv: true } }],
      failure: [{ range: { key: k } }],
    });
    const first = resp.responses[0];
    if (resp.succeeded && first && 'deleteRange' in first) {
      const prev = first.deleteRange.prevKvs[0];
      if (!prev) return { ok: false, reason: 'NotFound' };
      return { ok: true, revision: resp.header.revision, deleted: toObject(prev) };
    }
    const current = rangeResult(first);
    return current ? { ok: false, reason: 'Conflict', current } : { ok: false, reason: 'NotFound' };
  }

  async *watch(
    prefix: string,
    fromRevision: number,
    signal: AbortSignal,
    opts: { progressNotifyMs?: number } = {},
  ): AsyncIterable<StoreEvent> {
    const dir = encodeKey(asDirectory(prefix));
    const from = Math.max(0, Math.floor(fromRevision));
    const responses = this.kv.watch(
      { key: dir, rangeEnd: prefixRangeEnd(dir), startRevision: from + 1, prevKv: true, progressNotifyMs: opts.progressNotifyMs },
      signal,
    );
    for await (const resp of responses) {
      if (resp.compactRevision !== undefined) throw tooOldRevision(from, resp.compactRevision);
      if (resp.events.length === 0) {
        yield { type: 'progress', revision: resp.header.revision };
        continue;
      }
      for (const e of resp.events) yield toStoreEvent(e, from);
    }
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.kv.compact(revision);
    } catch (err) {
      if (isStorageError(err, 'TooOldRevision')) return; // already compacted that far
      throw err;
    }
    this.compacted(revision);
  }

  async currentRevision(): Promise<number> {
    return (await this.kv.range({ key: Buffer.from('/'), countOnly: true })).header.revision;
  }

  async close(): Promise<void> {
    this.compactor?.stop();
    await this.kv.close();
  }

  private async leaseFor(ttlSeconds: number): Promise<number> {
    const ttl = Math.ceil(ttlSeconds);
    const now = Date.now();
    const cached = this.leases.get(ttl);
    if (cached && now - cached.grantedAt < this.leaseReuseMs) return cached.id;
    // Keys written later in the window live at most leaseReuseMs longer than asked.
    const grant = await this.kv.leaseGrant(ttl + Math.ceil(this.leaseReuseMs / 1000));
    this.leases.set(ttl, { id: grant.id, grantedAt: now });
    return grant.id;
  }
}

function toObject(kv: KeyValue): StoredObject {
  return { key: kv.key.toString('utf8'), value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision };
}

function rangeResult(op: unknown): StoredObject | undefined {
  if (op && typeof op === 'object' && 'range' in op) {
    const kv = (op as { range: { kvs: KeyValue[] } }).range.kvs[0];
    return kv ? toObject(kv) : undefined;
  }
  return undefined;
}

function toStoreEvent(e: WatchEvent, from: number): StoreEvent {
  const revision = e.kv.modRevision;
  if (e.type === 'put' && e.kv.version === 1) return { type: 'created', revision, object: toObject(e.kv) };
  // An update or delete must carry what it replaced; only the edge of compacted history lacks it.
  if (!e.prevKv) throw tooOldRevision(from, revision);
  if (e.type === 'put') return { type: 'updated', revision, object: toObject(e.kv), prev: toObject(e.prevKv) };
  return { type: 'deleted', revision, prev: toObject(e.prevKv) };
}

/** Checks a key is an absolute, clean path and returns its bytes. */
export function encodeKey(key: string): Buffer {
  const problem = keyProblem(key);
  if (problem) throw new StorageError('InvalidKey', `invalid key ${JSON.stringify(key.slice(0, 200))}: ${problem}`);
  return Buffer.from(key, 'utf8');
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'empty';
  if (!key.startsWith('/')) return 'must start with "/"';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\u0000')) return 'contains a NUL character';
  const segments = key.split('/').slice(1);
  const inner = key.endsWith('/') ? segments.slice(0, -1) : segments;
  if (inner.some((s) => s === '')) return 'has an empty path segment';
  if (inner.some((s) => s === '.' || s === '..')) return 'has a "." or ".." segment';
  return undefined;
}

/** A prefix always names a directory, so /registry/pods never matches /registry/podsecuritypolicies. */
function asDirectory(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function checkValue(key: string, value: Buffer): void {
  if (!Buffer.isBuffer(value)) throw new StorageError('InvalidRequest', `value for ${key} must be bytes`);
  if (value.length > MAX_VALUE_BYTES) throw valueTooLarge(key, value.length);
}

/** Upstream's continue token: base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>"}. */
export function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start }), 'utf8').toString('base64url');
}

export function decodeContinue(token: string): { rv: number; start: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new StorageError('InvalidContinue', 'continue key is not valid: not a token this server issued');
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (t.v !== 'meta.k8s.io/v1') throw new StorageError('InvalidContinue', 'continue key is not valid: unknown version');
  if (typeof t.rv !== 'number' || !Number.isSafeInteger(t.rv) || t.rv <= 0) {
    throw new StorageError('InvalidContinue', 'continue key is not valid: bad resource version');
  }
  if (typeof t.start !== 'string' || t.start.length === 0) {
    throw new StorageError('InvalidContinue', 'continue key is not valid: no start key');
  }
  // The start key is relative to the listed prefix and may not climb out of it.
  if (t.start.startsWith('/') || t.start.split('/').some((s) => s === '..' || s === '.')) {
    throw new StorageError('InvalidContinue', 'continue key is not valid: start key leaves the prefix');
  }
  return { rv: t.rv, start: t.start };
}
