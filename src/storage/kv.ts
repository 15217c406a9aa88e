// The etcd v3 data model as a TypeScript interface. Two engines implement it: the embedded
// SQLite revision log (sqlite/) and a client of a real etcd (etcd/). The Kubernetes-shaped
// Store (store.ts) is written once on top of it, and the etcd-compatible gRPC server
// (etcd/server.ts) exposes any KV to etcdctl. Keys and values are bytes, as in etcd.

export interface KeyValue {
  key: Buffer;
  /** Empty for delete events' kv. */
  value: Buffer;
  createRevision: number;
  modRevision: number;
  /** How many times the key was written since it was (re)created; 0 on a delete event's kv. */
  version: number;
  /** The lease the key is attached to, 0 for none. */
  lease: number;
}

export interface ResponseHeader {
  /** The store's revision when the request was served (after it, for writes). */
  revision: number;
}

/**
 * A key range as etcd has it: `rangeEnd` absent = the single key; `rangeEnd` = [0] = every key >= key;
 * otherwise [key, rangeEnd). `prefixRangeEnd()` gives the end for a prefix.
 */
export interface KeyRange {
  key: Buffer;
  rangeEnd?: Buffer | undefined;
}

export type SortOrder = 'none' | 'ascend' | 'descend';
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';

export interface RangeRequest extends KeyRange {
  /** 0 or absent = the latest revision. */
  revision?: number | undefined;
  /** 0 or absent = no limit. */
  limit?: number | undefined;
  keysOnly?: boolean | undefined;
  countOnly?: boolean | undefined;
  sortOrder?: SortOrder | undefined;
  sortTarget?: SortTarget | undefined;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  /** More keys are in the range than `limit` let through. */
  more: boolean;
  /** How many keys the whole range holds at that revision. */
  count: number;
}

export interface PutRequest {
  key: Buffer;
  value: Buffer;
  lease?: number | undefined;
  prevKv?: boolean | undefined;
  ignoreValue?: boolean | undefined;
  ignoreLease?: boolean | undefined;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue | undefined;
}

export interface DeleteRangeRequest extends KeyRange {
  prevKv?: boolean | undefined;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  prevKvs: KeyValue[];
}

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareResult = 'equal' | 'greater' | 'less' | 'not_equal';

/** A guard of a transaction, compared against every key in the range (a missing key has version/create/mod/lease 0). */
export interface Compare extends KeyRange {
  target: CompareTarget;
  result: CompareResult;
  /** A number for version/create/mod/lease, bytes for value. */
  operand: number | Buffer;
}

export type RequestOp =
  | { range: RangeRequest }
  | { put: PutRequest }
  | { deleteRange: DeleteRangeRequest }
  | { txn: TxnRequest };

export type ResponseOp =
  | { range: RangeResponse }
  | { put: PutResponse }
  | { deleteRange: DeleteRangeResponse }
  | { txn: TxnResponse };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface WatchRequest extends KeyRange {
  /** The first revision to deliver; 0 or absent = only changes after now. */
  startRevision?: number | undefined;
  prevKv?: boolean | undefined;
  /**
   * If set, a synced watcher that saw no event for this long receives an empty response whose
   * header carries the current revision (etcd's progress notification).
   */
  progressNotifyMs?: number | undefined;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For delete: key and modRevision (the delete's revision) only. */
  kv: KeyValue;
  prevKv?: KeyValue | undefined;
}

export interface WatchResponse {
  header: ResponseHeader;
  /** Events of one or more revisions, in revision order. Empty for a progress notification. */
  events: WatchEvent[];
  /**
   * Set (and the watch ends after this response) when `startRevision` is older than the
   * compacted revision: history before it is gone.
   */
  compactRevision?: number | undefined;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  id: number;
  ttl: number;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader;
  id: number;
  /** Seconds left, -1 if the lease does not exist. */
  ttl: number;
  grantedTtl: number;
  keys: Buffer[];
}

export interface KVStatus {
  header: ResponseHeader;
  /** Engine version string, e.g. "3.4.23" for etcd or "3.4.0-k8ts" for the SQLite engine. */
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  compactRevision: number;
}

/** An etcd-shaped revisioned key-value engine. Every method may throw StorageError. */
export interface KV {
  range(req: RangeRequest): Promise<RangeResponse>;
  put(req: PutRequest): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest): Promise<TxnResponse>;
  /** Drops history at and below `revision` except each key's latest version at that revision. */
  compact(revision: number): Promise<{ header: ResponseHeader }>;
  /**
   * Streams changes in revision order from `startRevision`, with no gap and no duplicate.
   * Ends when `signal` aborts (without error), after a compacted response, or by throwing
   * StorageError (Closed, Unavailable, WatchCanceled).
   */
  watch(req: WatchRequest, signal: AbortSignal): AsyncIterable<WatchResponse>;
  leaseGrant(ttlSeconds: number, id?: number): Promise<LeaseGrantResponse>;
  leaseRevoke(id: number): Promise<{ header: ResponseHeader }>;
  /** Renews a lease; returns its TTL, or throws LeaseNotFound. */
  leaseKeepAlive(id: number): Promise<{ header: ResponseHeader; id: number; ttl: number }>;
  leaseTimeToLive(id: number, keys?: boolean): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<{ header: ResponseHeader; leases: number[] }>;
  status(): Promise<KVStatus>;
  close(): Promise<void>;
}

/** The range end that makes `prefix` a prefix range (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff (or empty): every key from here on.
  return Buffer.from([0]);
}

/** True when `key` lies in the range of `r`. */
export function inRange(key: Buffer, r: KeyRange): boolean {
  if (r.rangeEnd === undefined || r.rangeEnd.length === 0) return key.equals(r.key);
  if (Buffer.compare(key, r.key) < 0) return false;
  if (r.rangeEnd.length === 1 && r.rangeEnd[0] === 0) return true;
  return Buffer.compare(key, r.rangeEnd) < 0;
}
