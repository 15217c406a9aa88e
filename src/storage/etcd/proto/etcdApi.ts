// Loads the etcd v3 API (rpc.proto, kv.proto beside this file's source) for @grpc/grpc-js and
// types its messages as they look on the wire once decoded. Shared by EtcdKV (client) and the
// etcd-compatible server.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The folder holding the .proto files. tsc does not copy them, so from the compiled file
 * (dist/src/storage/etcd/proto/etcdApi.js) we reach back into the source tree; when this module
 * runs from source (a TS loader), the protos sit right beside it.
 */
export function etcdProtoDir(): string {
  const beside = fileURLToPath(new URL('./', import.meta.url));
  if (existsSync(`${beside}rpc.proto`)) return beside;
  const source = fileURLToPath(new URL('../../../../../src/storage/etcd/proto/', import.meta.url));
  if (existsSync(`${source}rpc.proto`)) return source;
  throw new Error(`etcd .proto files not found beside ${beside} nor in ${source}`);
}

/**
 * Decoding options. Trap: int64 fields arrive as exact decimal strings (`longs: String`), never
 * as JS numbers, because etcd lease ids and uint64 cluster/member ids exceed 2^53. Unset message
 * fields decode as null, unset oneof members as absent (the oneof's name field tells which is set).
 */
const LOAD_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

let loaded: protoLoader.PackageDefinition | undefined;

function etcdPackage(): protoLoader.PackageDefinition {
  loaded ??= protoLoader.loadSync('rpc.proto', { ...LOAD_OPTIONS, includeDirs: [etcdProtoDir()] });
  return loaded;
}

export type EtcdServiceName = 'KV' | 'Watch' | 'Lease' | 'Cluster' | 'Maintenance';

/** A service of package etcdserverpb, ready for grpc.Server#addService. */
export function etcdService(name: EtcdServiceName): ServiceDefinition {
  const def = etcdPackage()[`etcdserverpb.${name}`];
  if (def === undefined || 'format' in def) throw new Error(`etcdserverpb.${name} is not a service`);
  return def as unknown as ServiceDefinition;
}

/** One RPC of the etcd API with its path and codecs; requests are encoded from partial objects. */
export interface EtcdMethod<Req, Res> {
  path: string;
  serialize: (req: Encodable<Req>) => Buffer;
  deserialize: (buf: Buffer) => Res;
}

export function etcdMethod<Req, Res>(service: EtcdServiceName, name: string): EtcdMethod<Req, Res> {
  const m = etcdService(service)[name] as MethodDefinition<Encodable<Req>, Res> | undefined;
  if (m === undefined) throw new Error(`etcdserverpb.${service} has no method ${name}`);
  return { path: m.path, serialize: m.requestSerialize, deserialize: m.responseDeserialize };
}

/** What a message may be encoded from: any field may be left out (or null); int64 as string or number. */
export type Encodable<T> = T extends Buffer
  ? Buffer
  : T extends string
    ? string extends T
      ? string | number
      : T
    : T extends (infer U)[]
      ? Encodable<U>[]
      : T extends object
        ? { [K in keyof T]?: Encodable<T[K]> | null }
        : T;

/** An int64/uint64 as its exact decimal string. */
export type Int64 = string;

// The decoded messages. Field names and numbers are etcd's; see rpc.proto.
export declare namespace pb {
  interface ResponseHeader {
    cluster_id: Int64;
    member_id: Int64;
    revision: Int64;
    raft_term: Int64;
  }
  interface KeyValue {
    key: Buffer;
    create_revision: Int64;
    mod_revision: Int64;
    version: Int64;
    value: Buffer;
    lease: Int64;
  }
  interface Event {
    type: 'PUT' | 'DELETE';
    kv: KeyValue | null;
    prev_kv: KeyValue | null;
  }
  type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
  type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';
  interface RangeRequest {
    key: Buffer;
    range_end: Buffer;
    limit: Int64;
    revision: Int64;
    sort_order: SortOrder;
    sort_target: SortTarget;
    serializable: boolean;
    keys_only: boolean;
    count_only: boolean;
    min_mod_revision: Int64;
    max_mod_revision: Int64;
    min_create_revision: Int64;
    max_create_revision: Int64;
  }
  interface RangeResponse {
    header: ResponseHeader | null;
    kvs: KeyValue[];
    more: boolean;
    count: Int64;
  }
  interface PutRequest {
    key: Buffer;
    value: Buffer;
    lease: Int64;
    prev_kv: boolean;
    ignore_value: boolean;
    ignore_lease: boolean;
  }
  interface PutResponse {
    header: ResponseHeader | null;
    prev_kv: KeyValue | null;
  }
  interface DeleteRangeRequest {
    key: Buffer;
    range_end: Buffer;
    prev_kv: boolean;
  }
  interface DeleteRangeResponse {
    header: ResponseHeader | null;
    deleted: Int64;
    prev_kvs: KeyValue[];
  }
  interface RequestOp {
    request?: 'request_range' | 'request_put' | 'request_delete_range' | 'request_txn';
    request_range?: RangeRequest | null;
    request_put?: PutRequest | null;
    request_delete_range?: DeleteRangeRequest | null;
    request_txn?: TxnRequest | null;
  }
  interface ResponseOp {
    response?: 'response_range' | 'response_put' | 'response_delete_range' | 'response_txn';
    response_range?: RangeResponse | null;
    response_put?: PutResponse | null;
    response_delete_range?: DeleteRangeResponse | null;
    response_txn?: TxnResponse | null;
  }
  type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
  type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
  interface Compare {
    result: CompareResult;
    target: CompareTarget;
    key: Buffer;
    target_union?: 'version' | 'create_revision' | 'mod_revision' | 'value' | 'lease';
    version?: Int64;
    create_revision?: Int64;
    mod_revision?: Int64;
    value?: Buffer;
    lease?: Int64;
    range_end: Buffer;
  }
  interface TxnRequest {
    compare: Compare[];
    success: RequestOp[];
    failure: RequestOp[];
  }
  interface TxnResponse {
    header: ResponseHeader | null;
    succeeded: boolean;
    responses: ResponseOp[];
  }
  interface CompactionRequest {
    revision: Int64;
    physical: boolean;
  }
  interface HeaderOnly {
    header: ResponseHeader | null;
  }
  type FilterType = 'NOPUT' | 'NODELETE';
  interface WatchCreateRequest {
    key: Buffer;
    range_end: Buffer;
    start_revision: Int64;
    progress_notify: boolean;
    filters: FilterType[];
    prev_kv: boolean;
    watch_id: Int64;
    fragment: boolean;
  }
  interface WatchRequest {
    request_union?: 'create_request' | 'cancel_request' | 'progress_request';
    create_request?: WatchCreateRequest | null;
    cancel_request?: { watch_id: Int64 } | null;
    progress_request?: Record<string, never> | null;
  }
  interface WatchResponse {
    header: ResponseHeader | null;
    watch_id: Int64;
    created: boolean;
    canceled: boolean;
    compact_revision: Int64;
    cancel_reason: string;
    fragment: boolean;
    events: Event[];
  }
  interface LeaseGrantRequest {
    TTL: Int64;
    ID: Int64;
  }
  interface LeaseGrantResponse {
    header: ResponseHeader | null;
    ID: Int64;
    TTL: Int64;
    error: string;
  }
  interface LeaseIdRequest {
    ID: Int64;
  }
  interface LeaseKeepAliveResponse {
    header: ResponseHeader | null;
    ID: Int64;
    TTL: Int64;
  }
  interface LeaseTimeToLiveRequest {
    ID: Int64;
    keys: boolean;
  }
  interface LeaseTimeToLiveResponse {
    header: ResponseHeader | null;
    ID: Int64;
    TTL: Int64;
    grantedTTL: Int64;
    keys: Buffer[];
  }
  interface LeaseLeasesResponse {
    header: ResponseHeader | null;
    leases: { ID: Int64 }[];
  }
  interface Member {
    ID: Int64;
    name: string;
    peerURLs: string[];
    clientURLs: string[];
    isLearner: boolean;
  }
  interface MemberListResponse {
    header: ResponseHeader | null;
    members: Member[];
  }
  type AlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT';
  interface AlarmRequest {
    action: 'GET' | 'ACTIVATE' | 'DEACTIVATE';
    memberID: Int64;
    alarm: AlarmType;
  }
  interface AlarmResponse {
    header: ResponseHeader | null;
    alarms: { memberID: Int64; alarm: AlarmType }[];
  }
  interface StatusResponse {
    header: ResponseHeader | null;
    version: string;
    dbSize: Int64;
    leader: Int64;
    raftIndex: Int64;
    raftTerm: Int64;
    raftAppliedIndex: Int64;
    errors: string[];
    dbSizeInUse: Int64;
    isLearner: boolean;
  }
  interface HashResponse {
    header: ResponseHeader | null;
    hash: number;
  }
  interface HashKVRequest {
    revision: Int64;
  }
  interface HashKVResponse {
    header: ResponseHeader | null;
    hash: number;
    compact_revision: Int64;
  }
  interface MoveLeaderRequest {
    targetID: Int64;
  }
  type Empty = Record<string, never>;
}
