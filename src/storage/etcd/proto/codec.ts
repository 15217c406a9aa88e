// Converts between the KV interface's types and etcd's wire messages, both ways: EtcdKV encodes
// requests and decodes responses, the server decodes requests and encodes responses.
// Trap: int64 values travel as decimal strings; revisions fit a JS number, but lease ids made by a
// real etcd (not by EtcdKV, which picks its own) can exceed 2^53 and then lose precision here.

import type * as kv from '../../kv.js';
import { StorageError } from '../../errors.js';
import type { Encodable, Int64, pb } from './etcdApi.js';

/** An int64 from the wire as a number (exact up to 2^53). */
export function num(v: Int64 | number | null | undefined): number {
  if (v === null || v === undefined || v === '') return 0;
  return Number(v);
}

const i64 = (n: number | undefined): Int64 => String(Math.trunc(n ?? 0));

/**
 * The KV interface says "the single key" with an undefined rangeEnd; so does an empty range_end on
 * the wire. Trap: when sending, leave the field out rather than sending it empty: protobufjs
 * encodes an explicit empty Buffer, etcd (gogoproto) decodes it as a non-nil empty slice, and
 * etcd's index reads a non-nil empty end as "every key >= key".
 */
export const rangeEnd = (b: Buffer | null | undefined): Buffer | undefined => (b && b.length > 0 ? b : undefined);

// ---- shared ----

export function kvToPb(v: kv.KeyValue): Encodable<pb.KeyValue> {
  return {
    key: v.key,
    value: v.value,
    create_revision: i64(v.createRevision),
    mod_revision: i64(v.modRevision),
    version: i64(v.version),
    lease: i64(v.lease),
  };
}

export function kvFromPb(v: pb.KeyValue): kv.KeyValue {
  return {
    key: v.key,
    value: v.value,
    createRevision: num(v.create_revision),
    modRevision: num(v.mod_revision),
    version: num(v.version),
    lease: num(v.lease),
  };
}

export function headerFromPb(h: pb.ResponseHeader | null): kv.ResponseHeader {
  return { revision: num(h?.revision) };
}

export type HeaderFn = (revision: number) => Encodable<pb.ResponseHeader>;

const SORT_ORDERS: Record<pb.SortOrder, kv.SortOrder> = { NONE: 'none', ASCEND: 'ascend', DESCEND: 'descend' };
const SORT_TARGETS: Record<pb.SortTarget, kv.SortTarget> = {
  KEY: 'key',
  VERSION: 'version',
  CREATE: 'create',
  MOD: 'mod',
  VALUE: 'value',
};
const COMPARE_RESULTS: Record<pb.CompareResult, kv.CompareResult> = {
  EQUAL: 'equal',
  GREATER: 'greater',
  LESS: 'less',
  NOT_EQUAL: 'not_equal',
};
const COMPARE_TARGETS: Record<pb.CompareTarget, kv.CompareTarget> = {
  VERSION: 'version',
  CREATE: 'create',
  MOD: 'mod',
  VALUE: 'value',
  LEASE: 'lease',
};

/** Looks an enum name up; an unknown value (a number the proto does not name) is a bad request. */
function enumValue<K extends string, V>(table: Record<K, V>, name: unknown, what: string): V {
  const v = Object.hasOwn(table, String(name)) ? table[name as K] : undefined;
  if (v === undefined) throw new StorageError('InvalidRequest', `unknown ${what} ${String(name)}`);
  return v;
}

function enumName<K extends string, V>(table: Record<K, V>, value: V): K {
  for (const k of Object.keys(table) as K[]) if (table[k] === value) return k;
  throw new StorageError('InvalidRequest', `unknown value ${String(value)}`);
}

// ---- requests: KV -> wire (client) ----

export function rangeReqToPb(r: kv.RangeRequest): Encodable<pb.RangeRequest> {
  return {
    key: r.key,
    range_end: rangeEnd(r.rangeEnd),
    limit: i64(r.limit),
    revision: i64(r.revision),
    sort_order: enumName(SORT_ORDERS, r.sortOrder ?? 'none'),
    sort_target: enumName(SORT_TARGETS, r.sortTarget ?? 'key'),
    keys_only: r.keysOnly === true,
    count_only: r.countOnly === true,
  };
}

export function putReqToPb(r: kv.PutRequest): Encodable<pb.PutRequest> {
  return {
    key: r.key,
    value: r.value,
    lease: i64(r.lease),
    prev_kv: r.prevKv === true,
    ignore_value: r.ignoreValue === true,
    ignore_lease: r.ignoreLease === true,
  };
}

export function deleteReqToPb(r: kv.DeleteRangeRequest): Encodable<pb.DeleteRangeRequest> {
  return { key: r.key, range_end: rangeEnd(r.rangeEnd), prev_kv: r.prevKv === true };
}

export function compareToPb(c: kv.Compare): Encodable<pb.Compare> {
  const out: Encodable<pb.Compare> = {
    key: c.key,
    range_end: rangeEnd(c.rangeEnd),
    target: enumName(COMPARE_TARGETS, c.target),
    result: enumName(COMPARE_RESULTS, c.result),
  };
  const n = (): Int64 => {
    if (typeof c.operand !== 'number') throw new StorageError('InvalidRequest', `compare on ${c.target} needs a number`);
    return i64(c.operand);
  };
  switch (c.target) {
    case 'version':
      out.version = n();
      break;
    case 'create':
      out.create_revision = n();
      break;
    case 'mod':
      out.mod_revision = n();
      break;
    case 'lease':
      out.lease = n();
      break;
    case 'value':
      if (typeof c.operand === 'number') throw new StorageError('InvalidRequest', 'compare on value needs bytes');
      out.value = c.operand;
      break;
  }
  return out;
}

export function requestOpToPb(op: kv.RequestOp): Encodable<pb.RequestOp> {
  if ('range' in op) return { request_range: rangeReqToPb(op.range) };
  if ('put' in op) return { request_put: putReqToPb(op.put) };
  if ('deleteRange' in op) return { request_delete_range: deleteReqToPb(op.deleteRange) };
  return { request_txn: txnReqToPb(op.txn) };
}

export function txnReqToPb(t: kv.TxnRequest): Encodable<pb.TxnRequest> {
  return {
    compare: t.compare.map(compareToPb),
    success: t.success.map(requestOpToPb),
    failure: t.failure.map(requestOpToPb),
  };
}

// ---- responses: wire -> KV (client) ----

export function rangeResFromPb(r: pb.RangeResponse): kv.RangeResponse {
  return { header: headerFromPb(r.header), kvs: r.kvs.map(kvFromPb), more: r.more, count: num(r.count) };
}

export function putResFromPb(r: pb.PutResponse): kv.PutResponse {
  const out: kv.PutResponse = { header: headerFromPb(r.header) };
  if (r.prev_kv) out.prevKv = kvFromPb(r.prev_kv);
  return out;
}

export function deleteResFromPb(r: pb.DeleteRangeResponse): kv.DeleteRangeResponse {
  return { header: headerFromPb(r.header), deleted: num(r.deleted), prevKvs: r.prev_kvs.map(kvFromPb) };
}

export function txnResFromPb(r: pb.TxnResponse): kv.TxnResponse {
  return { header: headerFromPb(r.header), succeeded: r.succeeded, responses: r.responses.map(responseOpFromPb) };
}

function responseOpFromPb(op: pb.ResponseOp): kv.ResponseOp {
  if (op.response_range) return { range: rangeResFromPb(op.response_range) };
  if (op.response_put) return { put: putResFromPb(op.response_put) };
  if (op.response_delete_range) return { deleteRange: deleteResFromPb(op.response_delete_range) };
  if (op.response_txn) return { txn: txnResFromPb(op.response_txn) };
  throw new StorageError('Internal', 'etcd sent an empty ResponseOp');
}

export function eventFromPb(e: pb.Event): kv.WatchEvent {
  if (!e.kv) throw new StorageError('Internal', 'etcd sent a watch event without kv');
  const out: kv.WatchEvent = { type: e.type === 'DELETE' ? 'delete' : 'put', kv: kvFromPb(e.kv) };
  if (e.prev_kv) out.prevKv = kvFromPb(e.prev_kv);
  return out;
}

// ---- requests: wire -> KV (server) ----

export function rangeReqFromPb(r: pb.RangeRequest): kv.RangeRequest {
  return {
    key: r.key,
    rangeEnd: rangeEnd(r.range_end),
    revision: Math.max(0, num(r.revision)),
    limit: Math.max(0, num(r.limit)),
    keysOnly: r.keys_only,
    countOnly: r.count_only,
    sortOrder: enumValue(SORT_ORDERS, r.sort_order, 'sort order'),
    sortTarget: enumValue(SORT_TARGETS, r.sort_target, 'sort target'),
  };
}

export function putReqFromPb(r: pb.PutRequest): kv.PutRequest {
  return {
    key: r.key,
    value: r.value,
    lease: num(r.lease),
    prevKv: r.prev_kv,
    ignoreValue: r.ignore_value,
    ignoreLease: r.ignore_lease,
  };
}

export function deleteReqFromPb(r: pb.DeleteRangeRequest): kv.DeleteRangeRequest {
  return { key: r.key, rangeEnd: rangeEnd(r.range_end), prevKv: r.prev_kv };
}

/** etcd reads the operand that matches the target; a missing one counts as 0 (or empty bytes). */
export function compareFromPb(c: pb.Compare): kv.Compare {
  const target = enumValue(COMPARE_TARGETS, c.target, 'compare target');
  const result = enumValue(COMPARE_RESULTS, c.result, 'compare result');
  const base = { key: c.key, rangeEnd: rangeEnd(c.range_end), target, result };
  switch (target) {
    case 'version':
      return { ...base, operand: num(c.version) };
    case 'create':
      return { ...base, operand: num(c.create_revision) };
    case 'mod':
      return { ...base, operand: num(c.mod_revision) };
    case 'lease':
      return { ...base, operand: num(c.lease) };
    case 'value':
      return { ...base, operand: c.value ?? Buffer.alloc(0) };
  }
}

export function requestOpFromPb(op: pb.RequestOp): kv.RequestOp {
  if (op.request_range) return { range: rangeReqFromPb(op.request_range) };
  if (op.request_put) return { put: putReqFromPb(op.request_put) };
  if (op.request_delete_range) return { deleteRange: deleteReqFromPb(op.request_delete_range) };
  if (op.request_txn) return { txn: txnReqFromPb(op.request_txn) };
  throw new StorageError('InvalidRequest', 'empty RequestOp in txn');
}

export function txnReqFromPb(t: pb.TxnRequest): kv.TxnRequest {
  return {
    compare: t.compare.map(compareFromPb),
    success: t.success.map(requestOpFromPb),
    failure: t.failure.map(requestOpFromPb),
  };
}

// ---- responses: KV -> wire (server) ----

export function rangeResToPb(r: kv.RangeResponse, hdr: HeaderFn): Encodable<pb.RangeResponse> {
  return { header: hdr(r.header.revision), kvs: r.kvs.map(kvToPb), more: r.more, count: i64(r.count) };
}

export function putResToPb(r: kv.PutResponse, hdr: HeaderFn): Encodable<pb.PutResponse> {
  return { header: hdr(r.header.revision), prev_kv: r.prevKv ? kvToPb(r.prevKv) : null };
}

export function deleteResToPb(r: kv.DeleteRangeResponse, hdr: HeaderFn): Encodable<pb.DeleteRangeResponse> {
  return { header: hdr(r.header.revision), deleted: i64(r.deleted), prev_kvs: r.prevKvs.map(kvToPb) };
}

export function txnResToPb(r: kv.TxnResponse, hdr: HeaderFn): Encodable<pb.TxnResponse> {
  return {
    header: hdr(r.header.revision),
    succeeded: r.succeeded,
    responses: r.responses.map((op): Encodable<pb.ResponseOp> => {
      if ('range' in op) return { response_range: rangeResToPb(op.range, hdr) };
      if ('put' in op) return { response_put: putResToPb(op.put, hdr) };
      if ('deleteRange' in op) return { response_delete_range: deleteResToPb(op.deleteRange, hdr) };
      return { response_txn: txnResToPb(op.txn, hdr) };
    }),
  };
}

export function eventToPb(e: kv.WatchEvent): Encodable<pb.Event> {
  return { type: e.type === 'delete' ? 'DELETE' : 'PUT', kv: kvToPb(e.kv), prev_kv: e.prevKv ? kvToPb(e.prevKv) : null };
}
