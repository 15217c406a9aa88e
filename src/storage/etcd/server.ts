// An etcd v3 gRPC server over any KV, so etcdctl and etcd clients (EtcdKV, a real kube-apiserver)
// can use the embedded store. Serves KV, Watch, Lease, Maintenance and Cluster.MemberList of a
// one-member "cluster"; failures go back as gRPC statuses carrying etcd's own error strings.

import { readFile } from 'node:fs/promises';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { MAX_VALUE_BYTES, StorageError, isStorageError } from '../errors.js';
import { inRange, type KV, type KeyRange, type RangeResponse, type WatchEvent } from '../kv.js';
import { logger } from '../../util/log.js';
import {
  deleteReqFromPb,
  deleteResToPb,
  eventToPb,
  num,
  putReqFromPb,
  putResToPb,
  rangeReqFromPb,
  rangeResToPb,
  txnReqFromPb,
  txnResToPb,
  type HeaderFn,
} from './proto/codec.js';
import { AuthorityFilter } from './authorityFilter.js';
import { etcdService, type Encodable, type pb } from './proto/etcdApi.js';

const log = logger('etcd-server');

export interface EtcdServerOptions {
  /** http://host:port, https://host:port (needs `tls`) or unix:///path. Port 0 picks a free one. */
  listen: string;
  /** Server certificate and key; with caFile, clients must present a certificate signed by it. */
  tls?: { certFile: string; keyFile: string; caFile?: string | undefined } | undefined;
  /** uint64 ids reported in every response header (decimal string, number or bigint). */
  clusterId?: string | number | bigint | undefined;
  memberId?: string | number | bigint | undefined;
  /** The member's name in MemberList. Default "k8ts". */
  name?: string | undefined;
  /** Version reported by Maintenance.Status. Default: the KV's, if it reads like "3.4.23", else "3.4.23". */
  version?: string | undefined;
  /** How often a watcher created with progress_notify gets an idle progress response. etcd: 10 min. */
  progressNotifyIntervalMs?: number | undefined;
}

export interface EtcdServer {
  /** Where clients connect, with the real port when port 0 was asked for. */
  url: string;
  /** Ends every stream, stops accepting calls and releases the port. Does not close the KV. */
  close(): Promise<void>;
}

/** etcd's --max-request-bytes default plus the gRPC overhead etcd allows on top of it. */
const MAX_RECEIVE_BYTES = MAX_VALUE_BYTES + 512 * 1024;
/** etcd's MaxLeaseTTL. */
const MAX_LEASE_TTL = 9_000_000_000;
/** etcd's minimum lease TTL with default heartbeat/election settings (1.5 s rounded up). */
const MIN_LEASE_TTL = 2;
/** How often each served watcher asks the KV for a progress mark, so progress requests can be answered. */
const INTERNAL_PROGRESS_MS = 200;
/** How long a WatchProgressRequest waits for every watcher of its stream to catch up before it is dropped. */
const PROGRESS_REQUEST_WAIT_MS = 1_000;

const ERR = {
  emptyKey: status(grpc.status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  valueProvided: status(grpc.status.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: status(grpc.status.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  duplicateKey: status(grpc.status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  leaseTtlTooLarge: status(grpc.status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  badLeaderTransferee: status(grpc.status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
};

/** A gRPC status thrown by a handler; anything else thrown is mapped by toStatus(). */
class GrpcStatus extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

function status(code: grpc.status, details: string): () => GrpcStatus {
  return () => new GrpcStatus(code, details);
}

const etcdMessage = (m: string): string => (m.startsWith('etcdserver: ') ? m : `etcdserver: ${m}`);

/** Maps a handler failure to the status etcd would send; Go clients match on these exact strings. */
export function toStatus(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof GrpcStatus) return { code: err.code, details: err.details };
  if (!isStorageError(err)) {
    log.error({ err }, 'etcd request failed unexpectedly');
    return { code: grpc.status.INTERNAL, details: `etcdserver: internal error: ${(err as Error)?.message ?? String(err)}` };
  }
  switch (err.code) {
    case 'TooOldRevision':
      return { code: grpc.status.OUT_OF_RANGE, details: 'etcdserver: mvcc: required revision has been compacted' };
    case 'FutureRevision':
      return { code: grpc.status.OUT_OF_RANGE, details: 'etcdserver: mvcc: required revision is a future revision' };
    case 'ValueTooLarge':
      return { code: grpc.status.INVALID_ARGUMENT, details: 'etcdserver: request is too large' };
    case 'LeaseNotFound':
      return { code: grpc.status.NOT_FOUND, details: 'etcdserver: requested lease not found' };
    case 'KeyNotFound':
      return { code: grpc.status.INVALID_ARGUMENT, details: 'etcdserver: key not found' };
    case 'InvalidRequest':
    case 'InvalidKey':
    case 'InvalidContinue':
      if (/lease already exists/.test(err.message)) {
        return { code: grpc.status.FAILED_PRECONDITION, details: 'etcdserver: lease already exists' };
      }
      if (/duplicate key/.test(err.message)) return ERR.duplicateKey();
      return { code: grpc.status.INVALID_ARGUMENT, details: etcdMessage(err.message) };
    case 'Unavailable':
      return { code: grpc.status.UNAVAILABLE, details: etcdMessage(err.message) };
    case 'Closed':
      return { code: grpc.status.UNAVAILABLE, details: 'etcdserver: server stopped' };
    case 'WatchCanceled':
      return { code: grpc.status.CANCELLED, details: 'etcdserver: watch canceled' };
    case 'Corrupt':
      return { code: grpc.status.DATA_LOSS, details: 'etcdserver: corrupt cluster' };
    default:
      return { code: grpc.status.INTERNAL, details: etcdMessage(err.message) };
  }
}

interface ParsedListen {
  /** Where net.Server#listen goes: a unix socket path, or host and port (0 = any free one). */
  path?: string;
  host?: string;
  port?: number;
  secure: boolean;
  url: (port: number) => string;
}

function parseListen(listen: string): ParsedListen {
  if (listen.startsWith('unix://')) {
    const path = listen.slice('unix://'.length);
    if (!path.startsWith('/')) throw new StorageError('InvalidRequest', `unix listen address needs an absolute path: ${listen}`);
    return { path, secure: false, url: () => `unix://${path}` };
  }
  let u: URL;
  try {
    u = new URL(listen);
  } catch {
    throw new StorageError('InvalidRequest', `bad listen URL ${listen} (want http://host:port, https://host:port or unix:///path)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new StorageError('InvalidRequest', `unsupported listen scheme in ${listen}`);
  }
  const host = u.hostname || '127.0.0.1';
  const scheme = u.protocol.slice(0, -1);
  return {
    host: host.replace(/^\[(.*)\]$/, '$1'),
    port: Number(u.port || '2379'),
    secure: u.protocol === 'https:',
    url: (port) => `${scheme}://${host}:${port}`,
  };
}

/** A plain or TLS listener whose connections go to `accept` (TLS ones after the handshake). */
async function createListener(
  p: ParsedListen,
  tlsFiles: EtcdServerOptions['tls'],
  accept: (socket: Socket) => void,
): Promise<NetServer> {
  if (!p.secure) return createNetServer(accept);
  if (!tlsFiles) throw new StorageError('InvalidRequest', 'an https:// listen URL needs tls.certFile and tls.keyFile');
  const [cert, key, ca] = await Promise.all([
    readFile(tlsFiles.certFile),
    readFile(tlsFiles.keyFile),
    tlsFiles.caFile ? readFile(tlsFiles.caFile) : Promise.resolve(undefined),
  ]);
  const server = createTlsServer({
    cert,
    key,
    ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
    ALPNProtocols: ['h2'],
  });
  server.on('secureConnection', accept);
  server.on('tlsClientError', () => {
    // a refused client certificate or a failed handshake: the client sees it; nothing to do here
  });
  return server;
}

const uint64 = (v: string | number | bigint | undefined, fallback: bigint): string => {
  try {
    return BigInt.asUintN(64, v === undefined ? fallback : BigInt(v)).toString();
  } catch {
    throw new StorageError('InvalidRequest', `not a uint64: ${String(v)}`);
  }
};

/**
 * Starts serving `kv` over etcd's v3 gRPC API. Traps: lease TTLs below 2 s are raised to 2 s as
 * etcd does; Snapshot is UNIMPLEMENTED (back up the SQLite file instead); Hash/HashKV are CRC32s
 * over the live key-value pairs, not etcd's algorithm, so compare them only between our servers.
 */
export async function startEtcdServer(kv: KV, opts: EtcdServerOptions): Promise<EtcdServer> {
  const listen = parseListen(opts.listen);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    // etcdctl pings every 2 s by default, also on idle connections; do not punish it for that.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 1_000,
  });
  const ctx = new ServerContext(kv, opts);
  server.addService(etcdService('KV'), kvService(ctx));
  server.addService(etcdService('Watch'), { Watch: (call: WatchCall) => ctx.track(new WatchStream(ctx, call)) });
  server.addService(etcdService('Lease'), leaseService(ctx));
  server.addService(etcdService('Maintenance'), maintenanceService(ctx));
  server.addService(etcdService('Cluster'), clusterService(ctx));

  // We own the listener (TLS included) so that every connection can pass the :authority filter
  // before grpc-js's HTTP/2 server sees it; see AuthorityFilter.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const listener = await createListener(listen, opts.tls, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // reset by peer and the like end the connection, not the process
    // Node's HTTP/2 turns Nagle off only on sockets it sees directly; behind the filter we must,
    // or every small response waits for the peer's delayed ACK (~40 ms).
    socket.setNoDelay(true);
    injector.injectConnection(new AuthorityFilter(socket));
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    const ready = (): void => {
      listener.off('error', reject);
      listener.on('error', (err) => log.error({ err }, 'etcd listener failed'));
      resolve();
    };
    if (listen.path !== undefined) listener.listen(listen.path, ready);
    else listener.listen(listen.port, listen.host, ready);
  });
  const address = listener.address();
  const url = listen.url(typeof address === 'object' && address ? address.port : 0);
  ctx.url = url;

  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
        ctx.closeStreams();
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2_000);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        injector.destroy();
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

interface ClosableStream {
  close(): void;
}

/** What every handler shares: the KV, the header ids and the streams to end on close. */
class ServerContext {
  readonly clusterId: string;
  readonly memberId: string;
  readonly name: string;
  readonly progressIntervalMs: number;
  readonly version: string | undefined;
  url = '';
  /** The highest revision seen in any KV answer, for headers of answers that carry none. */
  revision = 0;
  private readonly streams = new Set<ClosableStream>();

  constructor(
    readonly kv: KV,
    opts: EtcdServerOptions,
  ) {
    this.clusterId = uint64(opts.clusterId, 0x6b38_7473_6b38_7473n);
    this.memberId = uint64(opts.memberId, 0x6b38_7473_0000_0001n);
    this.name = opts.name ?? 'k8ts';
    this.version = opts.version;
    this.progressIntervalMs = opts.progressNotifyIntervalMs ?? 10 * 60_000;
  }

  readonly header: HeaderFn = (revision) => {
    if (revision > this.revision) this.revision = revision;
    return { cluster_id: this.clusterId, member_id: this.memberId, revision: String(revision), raft_term: '2' };
  };

  /** The store's current revision, from the cheapest possible read. */
  async currentRevision(): Promise<number> {
    const r = await this.kv.range({ key: Buffer.from([0]), countOnly: true });
    if (r.header.revision > this.revision) this.revision = r.header.revision;
    return r.header.revision;
  }

  track(s: ClosableStream & { done: Promise<void> }): void {
    this.streams.add(s);
    void s.done.finally(() => this.streams.delete(s));
  }

  closeStreams(): void {
    for (const s of [...this.streams]) s.close();
  }
}

type UnaryImpl<Req, Res> = (req: Req) => Promise<Encodable<Res>>;

/** Wraps an async handler: its result or its failure (as etcd's status) goes to the callback. */
function unary<Req, Res>(fn: UnaryImpl<Req, Res>): grpc.handleUnaryCall<Req, Encodable<Res>> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toStatus(err)),
      );
  };
}

// ---- KV ----

function kvService(ctx: ServerContext): grpc.UntypedServiceImplementation {
  const { kv, header } = ctx;
  return {
    Range: unary<pb.RangeRequest, pb.RangeResponse>(async (req) => {
      if (req.key.length === 0) throw ERR.emptyKey();
      return rangeResToPb(await rangeFiltered(kv, req), header);
    }),
    Put: unary<pb.PutRequest, pb.PutResponse>(async (req) => {
      checkPut(req);
      return putResToPb(await kv.put(putReqFromPb(req)), header);
    }),
    DeleteRange: unary<pb.DeleteRangeRequest, pb.DeleteRangeResponse>(async (req) => {
      if (req.key.length === 0) throw ERR.emptyKey();
      return deleteResToPb(await kv.deleteRange(deleteReqFromPb(req)), header);
    }),
    Txn: unary<pb.TxnRequest, pb.TxnResponse>(async (req) => {
      checkTxn(req);
      checkIntervals(req.success);
      checkIntervals(req.failure);
      return txnResToPb(await kv.txn(txnReqFromPb(req)), header);
    }),
    Compact: unary<pb.CompactionRequest, pb.HeaderOnly>(async (req) => {
      const res = await kv.compact(num(req.revision));
      return { header: header(res.header.revision) };
    }),
  };
}

/** A Range, with etcd's min/max mod/create revision filters applied here (the KV has none). */
async function rangeFiltered(kv: KV, req: pb.RangeRequest): Promise<RangeResponse> {
  const r = rangeReqFromPb(req);
  const bounds = {
    minMod: num(req.min_mod_revision),
    maxMod: num(req.max_mod_revision),
    minCreate: num(req.min_create_revision),
    maxCreate: num(req.max_create_revision),
  };
  if (!bounds.minMod && !bounds.maxMod && !bounds.minCreate && !bounds.maxCreate) return kv.range(r);
  const all = await kv.range({ ...r, limit: 0, countOnly: false });
  const kvs = all.kvs.filter(
    (v) =>
      (!bounds.minMod || v.modRevision >= bounds.minMod) &&
      (!bounds.maxMod || v.modRevision <= bounds.maxMod) &&
      (!bounds.minCreate || v.createRevision >= bounds.minCreate) &&
      (!bounds.maxCreate || v.createRevision <= bounds.maxCreate),
  );
  const limit = r.limit ?? 0;
  const shown = r.countOnly ? [] : limit > 0 ? kvs.slice(0, limit) : kvs;
  return { header: all.header, kvs: shown, more: limit > 0 && kvs.length > limit, count: all.count };
}

function checkPut(req: pb.PutRequest): void {
  if (req.key.length === 0) throw ERR.emptyKey();
  if (req.ignore_value && req.value.length > 0) throw ERR.valueProvided();
  if (req.ignore_lease && num(req.lease) !== 0) throw ERR.leaseProvided();
}

function checkTxn(req: pb.TxnRequest): void {
  for (const c of req.compare) if (c.key.length === 0) throw ERR.emptyKey();
  for (const op of [...req.success, ...req.failure]) {
    if (op.request_range && op.request_range.key.length === 0) throw ERR.emptyKey();
    if (op.request_delete_range && op.request_delete_range.key.length === 0) throw ERR.emptyKey();
    if (op.request_put) checkPut(op.request_put);
    if (op.request_txn) checkTxn(op.request_txn);
  }
}

/**
 * etcd refuses a txn branch that writes a key twice: a put twice, or a put inside a deleted
 * range, counting the puts of nested txns (whose then/else branches may share keys, since only
 * one of them runs). Deletes may overlap each other.
 */
function checkIntervals(ops: pb.RequestOp[]): { puts: Set<string>; dels: KeyRange[] } {
  const dels: KeyRange[] = [];
  for (const op of ops) {
    const d = op.request_delete_range;
    if (d) dels.push({ key: d.key, rangeEnd: d.range_end.length > 0 ? d.range_end : undefined });
  }
  const deleted = (k: string): boolean => dels.some((r) => inRange(Buffer.from(k, 'latin1'), r));
  const puts = new Set<string>();
  for (const op of ops) {
    const t = op.request_txn;
    if (!t) continue;
    const then = checkIntervals(t.success);
    const otherwise = checkIntervals(t.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deleted(k)) throw ERR.duplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if ((puts.has(k) && !then.puts.has(k)) || deleted(k)) throw ERR.duplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (!op.request_put) continue;
    const k = op.request_put.key.toString('latin1');
    if (puts.has(k) || deleted(k)) throw ERR.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}

// ---- Lease ----

type KeepAliveCall = grpc.ServerDuplexStream<pb.LeaseIdRequest, Encodable<pb.LeaseKeepAliveResponse>>;

function leaseService(ctx: ServerContext): grpc.UntypedServiceImplementation {
  const { kv, header } = ctx;
  return {
    LeaseGrant: unary<pb.LeaseGrantRequest, pb.LeaseGrantResponse>(async (req) => {
      const ttl = num(req.TTL);
      if (ttl > MAX_LEASE_TTL) throw ERR.leaseTtlTooLarge();
      const id = num(req.ID);
      const res = await kv.leaseGrant(Math.max(ttl, MIN_LEASE_TTL), id > 0 ? id : undefined);
      return { header: header(res.header.revision), ID: String(res.id), TTL: String(res.ttl), error: '' };
    }),
    LeaseRevoke: unary<pb.LeaseIdRequest, pb.HeaderOnly>(async (req) => {
      const res = await kv.leaseRevoke(num(req.ID));
      return { header: header(res.header.revision) };
    }),
    LeaseTimeToLive: unary<pb.LeaseTimeToLiveRequest, pb.LeaseTimeToLiveResponse>(async (req) => {
      const res = await kv.leaseTimeToLive(num(req.ID), req.keys);
      return {
        header: header(res.header.revision),
        ID: req.ID,
        TTL: String(res.ttl),
        grantedTTL: String(res.grantedTtl),
        keys: res.keys,
      };
    }),
    LeaseLeases: unary<pb.Empty, pb.LeaseLeasesResponse>(async () => {
      const res = await kv.leaseLeases();
      return { header: header(res.header.revision), leases: res.leases.map((id) => ({ ID: String(id) })) };
    }),
    LeaseKeepAlive: (call: KeepAliveCall) => ctx.track(new KeepAliveStream(ctx, call)),
  };
}

/** Renews leases in request order; a lease that does not exist is answered with TTL 0, as etcd does. */
class KeepAliveStream implements ClosableStream {
  readonly done: Promise<void>;
  private finish!: () => void;
  private chain: Promise<void> = Promise.resolve();
  private ended = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly call: KeepAliveCall,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    call.on('data', (req: pb.LeaseIdRequest) => {
      this.chain = this.chain.then(() => this.renew(req));
    });
    call.on('end', () => {
      this.chain = this.chain.then(() => this.close());
    });
    call.on('cancelled', () => this.stop());
    call.on('error', () => this.stop());
    call.on('close', () => this.stop());
  }

  private async renew(req: pb.LeaseIdRequest): Promise<void> {
    if (this.ended) return;
    const { header, kv } = this.ctx;
    try {
      const res = await kv.leaseKeepAlive(num(req.ID));
      this.write({ header: header(res.header.revision), ID: req.ID, TTL: String(res.ttl) });
    } catch (err) {
      if (isStorageError(err, 'LeaseNotFound')) {
        this.write({ header: header(this.ctx.revision), ID: req.ID, TTL: '0' });
      } else {
        this.fail(err);
      }
    }
  }

  private write(res: Encodable<pb.LeaseKeepAliveResponse>): void {
    if (!this.ended) this.call.write(res);
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.call.emit('error', toStatus(err));
    this.finish();
  }

  private stop(): void {
    this.ended = true;
    this.finish();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
    this.finish();
  }
}

// ---- Watch ----

type WatchCall = grpc.ServerDuplexStream<pb.WatchRequest, Encodable<pb.WatchResponse>>;

interface ServedWatcher {
  id: string;
  abort: AbortController;
  /** Every event at or below this revision was sent. */
  confirmed: number;
}

/**
 * One Watch stream: many watchers told apart by watch_id. Control requests (create, cancel,
 * progress) are handled one at a time in arrival order, so created answers come back in request
 * order; each watcher then pumps its KV watch into the stream on its own, waiting for the stream
 * to drain when the client reads slowly.
 */
class WatchStream implements ClosableStream {
  readonly done: Promise<void>;
  private finish!: () => void;
  private readonly watchers = new Map<string, ServedWatcher>();
  private nextId = 0;
  private control: Promise<void> = Promise.resolve();
  private ended = false;
  private readonly confirmedListeners = new Set<() => void>();
  private readonly drainListeners = new Set<() => void>();

  constructor(
    private readonly ctx: ServerContext,
    private readonly call: WatchCall,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    call.on('data', (req: pb.WatchRequest) => {
      this.control = this.control.then(() => this.onRequest(req)).catch((err: unknown) => this.fail(err));
    });
    call.on('end', () => this.close());
    call.on('cancelled', () => this.stop());
    call.on('error', () => this.stop());
    call.on('close', () => this.stop());
    call.on('drain', () => {
      for (const l of [...this.drainListeners]) l();
    });
  }

  close(): void {
    if (this.ended) return;
    this.stop();
    this.call.end();
  }

  private stop(): void {
    if (this.ended) return;
    this.ended = true;
    for (const w of this.watchers.values()) w.abort.abort();
    this.watchers.clear();
    for (const l of [...this.drainListeners]) l();
    for (const l of [...this.confirmedListeners]) l();
    this.finish();
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    this.stop();
    this.call.emit('error', toStatus(err));
  }

  /** Writes one response, waiting while the client is not reading. False once the stream is gone. */
  private async send(res: Encodable<pb.WatchResponse>): Promise<boolean> {
    if (this.ended) return false;
    if (this.call.write(res)) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.drainListeners.delete(done);
        resolve();
      };
      this.drainListeners.add(done);
    });
    return !this.ended;
  }

  private async onRequest(req: pb.WatchRequest): Promise<void> {
    if (this.ended) return;
    if (req.create_request) await this.create(req.create_request);
    else if (req.cancel_request) await this.cancel(req.cancel_request.watch_id);
    else if (req.progress_request) await this.progress();
  }

  private async create(c: pb.WatchCreateRequest): Promise<void> {
    const { header } = this.ctx;
    const key = c.key.length > 0 ? c.key : Buffer.from([0]);
    const rangeEnd = c.range_end.length > 0 ? c.range_end : undefined;
    const current = await this.ctx.currentRevision();
    const refuse = (reason: string): Promise<boolean> =>
      this.send({ header: header(current), watch_id: '-1', created: true, canceled: true, cancel_reason: reason });
    if (rangeEnd && !(rangeEnd.length === 1 && rangeEnd[0] === 0) && Buffer.compare(key, rangeEnd) >= 0) {
      await refuse('mvcc: watcher range is empty');
      return;
    }
    let id = num(c.watch_id);
    if (id !== 0) {
      if (this.watchers.has(String(id))) {
        await refuse('mvcc: duplicate watch ID provided on the WatchStream');
        return;
      }
    } else {
      while (this.watchers.has(String(this.nextId))) this.nextId++;
      id = this.nextId++;
    }
    const start = num(c.start_revision) > 0 ? num(c.start_revision) : current + 1;
    const w: ServedWatcher = { id: String(id), abort: new AbortController(), confirmed: start - 1 };
    this.watchers.set(w.id, w);
    if (!(await this.send({ header: header(current), watch_id: w.id, created: true }))) return;
    void this.pump(w, c, { key, rangeEnd, start });
  }

  private async cancel(watchId: string): Promise<void> {
    const w = this.watchers.get(num(watchId).toString());
    if (!w) return;
    this.watchers.delete(w.id);
    w.abort.abort();
    await this.send({ header: this.ctx.header(this.ctx.revision), watch_id: w.id, canceled: true });
  }

  /**
   * Answers a stream-wide progress request with the current revision once every watcher of the
   * stream has sent everything up to it; if one does not catch up in time, no answer is sent (as
   * etcd >= 3.5.13 does for unsynced watchers), and the client asks again.
   */
  private async progress(): Promise<void> {
    const target = await this.ctx.currentRevision();
    const behind = (): boolean => [...this.watchers.values()].some((w) => w.confirmed < target);
    if (behind()) {
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.ended || !behind()) done();
        };
        const done = (): void => {
          clearTimeout(timer);
          this.confirmedListeners.delete(check);
          resolve();
        };
        const timer = setTimeout(done, PROGRESS_REQUEST_WAIT_MS);
        this.confirmedListeners.add(check);
      });
      if (behind()) return;
    }
    await this.send({ header: this.ctx.header(target), watch_id: '-1' });
  }

  private confirm(w: ServedWatcher, revision: number): void {
    if (revision <= w.confirmed) return;
    w.confirmed = revision;
    for (const l of [...this.confirmedListeners]) l();
  }

  /** Feeds one watcher from the KV until it is canceled, compacted, or the stream ends. */
  private async pump(w: ServedWatcher, c: pb.WatchCreateRequest, r: { key: Buffer; rangeEnd: Buffer | undefined; start: number }): Promise<void> {
    const { header } = this.ctx;
    const noPut = c.filters.includes('NOPUT');
    const noDelete = c.filters.includes('NODELETE');
    let lastSent = Date.now();
    try {
      const stream = this.ctx.kv.watch(
        { key: r.key, rangeEnd: r.rangeEnd, startRevision: r.start, prevKv: c.prev_kv, progressNotifyMs: INTERNAL_PROGRESS_MS },
        w.abort.signal,
      );
      for await (const res of stream) {
        if (w.abort.signal.aborted) return;
        if (res.compactRevision !== undefined) {
          this.watchers.delete(w.id);
          await this.send({
            header: header(res.header.revision),
            watch_id: w.id,
            canceled: true,
            compact_revision: String(res.compactRevision),
          });
          return;
        }
        if (res.events.length === 0) {
          this.confirm(w, res.header.revision);
          if (c.progress_notify && Date.now() - lastSent >= this.ctx.progressIntervalMs) {
            lastSent = Date.now();
            if (!(await this.send({ header: header(res.header.revision), watch_id: w.id }))) return;
          }
          continue;
        }
        const last = res.events[res.events.length - 1]!.kv.modRevision;
        const events = res.events.filter((e) => !(noPut && e.type === 'put') && !(noDelete && e.type === 'delete'));
        if (events.length > 0) {
          lastSent = Date.now();
          if (!(await this.sendEvents(w, res.header.revision, events, c.fragment))) return;
        }
        this.confirm(w, last);
      }
      if (w.abort.signal.aborted) return;
      throw new StorageError('WatchCanceled', 'the store ended the watch');
    } catch (err) {
      if (w.abort.signal.aborted || this.ended) return;
      this.watchers.delete(w.id);
      const reason = isStorageError(err) ? etcdMessage(err.message) : 'etcdserver: watch canceled';
      if (!isStorageError(err)) log.error({ err, watchId: w.id }, 'watch failed unexpectedly');
      await this.send({ header: header(this.ctx.revision), watch_id: w.id, canceled: true, cancel_reason: reason });
    }
  }

  /** Sends events, split into fragments of about --max-request-bytes when the client allows it. */
  private async sendEvents(w: ServedWatcher, revision: number, events: WatchEvent[], fragment: boolean): Promise<boolean> {
    const header = this.ctx.header(revision);
    if (!fragment) return this.send({ header, watch_id: w.id, events: events.map(eventToPb) });
    const size = (e: WatchEvent): number =>
      e.kv.key.length + e.kv.value.length + (e.prevKv ? e.prevKv.key.length + e.prevKv.value.length : 0) + 64;
    let batch: WatchEvent[] = [];
    let bytes = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (batch.length > 0 && bytes + size(e) > MAX_VALUE_BYTES) {
        if (!(await this.send({ header, watch_id: w.id, events: batch.map(eventToPb), fragment: true }))) return false;
        batch = [];
        bytes = 0;
      }
      batch.push(e);
      bytes += size(e);
    }
    return this.send({ header, watch_id: w.id, events: batch.map(eventToPb) });
  }
}

// ---- Maintenance and Cluster ----

function maintenanceService(ctx: ServerContext): grpc.UntypedServiceImplementation {
  const { kv, header } = ctx;
  return {
    Status: unary<pb.Empty, pb.StatusResponse>(async () => {
      const s = await kv.status();
      const rev = String(s.header.revision);
      return {
        header: header(s.header.revision),
        version: ctx.version ?? (/^3\.\d+\.\d+/.test(s.version) ? s.version : '3.4.23'),
        dbSize: String(s.dbSize),
        dbSizeInUse: String(s.dbSizeInUse),
        leader: ctx.memberId,
        raftIndex: rev,
        raftTerm: '2',
        raftAppliedIndex: rev,
        errors: [],
        isLearner: false,
      };
    }),
    Alarm: unary<pb.AlarmRequest, pb.AlarmResponse>(async () => ({
      header: header(await ctx.currentRevision()),
      alarms: [],
    })),
    Defragment: unary<pb.Empty, pb.HeaderOnly>(async () => ({ header: header(await ctx.currentRevision()) })),
    Hash: unary<pb.Empty, pb.HashResponse>(async () => {
      const { revision, hash } = await hashKV(kv, 0);
      return { header: header(revision), hash };
    }),
    HashKV: unary<pb.HashKVRequest, pb.HashKVResponse>(async (req) => {
      const { revision, hash } = await hashKV(kv, num(req.revision));
      const s = await kv.status();
      return { header: header(revision), hash, compact_revision: String(s.compactRevision) };
    }),
    Snapshot: (call: grpc.ServerWritableStream<pb.Empty, Encodable<pb.HeaderOnly>>) => {
      call.emit('error', {
        code: grpc.status.UNIMPLEMENTED,
        details: 'etcdserver: snapshot is not supported by the k8ts datastore; copy its SQLite database file instead',
      });
    },
    MoveLeader: unary<pb.MoveLeaderRequest, pb.HeaderOnly>(async (req) => {
      if (req.targetID !== ctx.memberId) throw ERR.badLeaderTransferee();
      return { header: header(await ctx.currentRevision()) };
    }),
  };
}

/** CRC32 over every live key, value and mod revision at `revision` (0 = latest), a page at a time. */
async function hashKV(kv: KV, revision: number): Promise<{ revision: number; hash: number }> {
  let at = revision;
  let hash = 0;
  let from = Buffer.from([0]);
  for (;;) {
    const page = await kv.range({ key: from, rangeEnd: Buffer.from([0]), revision: at, limit: 1000 });
    if (at === 0) at = page.header.revision;
    for (const v of page.kvs) {
      hash = crc32(v.key, hash);
      hash = crc32(v.value, hash);
      hash = crc32(String(v.modRevision), hash);
    }
    const last = page.kvs[page.kvs.length - 1];
    if (!page.more || !last) return { revision: at, hash };
    from = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

function clusterService(ctx: ServerContext): grpc.UntypedServiceImplementation {
  return {
    MemberList: unary<pb.Empty, pb.MemberListResponse>(async () => ({
      header: ctx.header(await ctx.currentRevision()),
      members: [{ ID: ctx.memberId, name: ctx.name, peerURLs: [], clientURLs: [ctx.url], isLearner: false }],
    })),
  };
}
