// A KV backed by a real etcd v3 cluster over gRPC (@grpc/grpc-js): unary KV/Lease/Maintenance
// calls with deadlines, one Watch stream per watch() that resumes itself after a broken connection,
// and one shared LeaseKeepAlive stream.

import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import {
  StorageError,
  futureRevision,
  isStorageError,
  tooOldRevision,
  type StorageErrorCode,
} from '../errors.js';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  KV,
  KVStatus,
  LeaseGrantResponse,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchResponse,
} from '../kv.js';
import {
  deleteReqToPb,
  deleteResFromPb,
  eventFromPb,
  headerFromPb,
  num,
  putReqToPb,
  putResFromPb,
  rangeEnd,
  rangeReqToPb,
  rangeResFromPb,
  txnReqToPb,
  txnResFromPb,
} from './proto/codec.js';
import { etcdMethod, type Encodable, type EtcdMethod, type pb } from './proto/etcdApi.js';

export interface EtcdKVOptions {
  /** http://host:port, https://host:port (TLS) or unix:///path; a bare host:port means http. */
  endpoints: string[];
  /** CA bundle for https endpoints; the system roots when absent. */
  caFile?: string;
  /** Client certificate and key, for etcd run with --client-cert-auth. Give both or neither. */
  certFile?: string;
  keyFile?: string;
  /** How long connect() waits for a first answer before it throws Unavailable. Default 5 s. */
  dialTimeoutMs?: number;
  /** Deadline of every unary call, including the wait for a connection. Default 10 s. */
  requestTimeoutMs?: number;
}

const M = {
  range: etcdMethod<pb.RangeRequest, pb.RangeResponse>('KV', 'Range'),
  put: etcdMethod<pb.PutRequest, pb.PutResponse>('KV', 'Put'),
  deleteRange: etcdMethod<pb.DeleteRangeRequest, pb.DeleteRangeResponse>('KV', 'DeleteRange'),
  txn: etcdMethod<pb.TxnRequest, pb.TxnResponse>('KV', 'Txn'),
  compact: etcdMethod<pb.CompactionRequest, pb.HeaderOnly>('KV', 'Compact'),
  watch: etcdMethod<pb.WatchRequest, pb.WatchResponse>('Watch', 'Watch'),
  leaseGrant: etcdMethod<pb.LeaseGrantRequest, pb.LeaseGrantResponse>('Lease', 'LeaseGrant'),
  leaseRevoke: etcdMethod<pb.LeaseIdRequest, pb.HeaderOnly>('Lease', 'LeaseRevoke'),
  leaseKeepAlive: etcdMethod<pb.LeaseIdRequest, pb.LeaseKeepAliveResponse>('Lease', 'LeaseKeepAlive'),
  leaseTimeToLive: etcdMethod<pb.LeaseTimeToLiveRequest, pb.LeaseTimeToLiveResponse>('Lease', 'LeaseTimeToLive'),
  leaseLeases: etcdMethod<pb.Empty, pb.LeaseLeasesResponse>('Lease', 'LeaseLeases'),
  status: etcdMethod<pb.Empty, pb.StatusResponse>('Maintenance', 'Status'),
};

/** A key no one uses, watched from revision 1 to learn the compacted revision (etcd 3.4's Status lacks it). */
const PROBE_KEY = Buffer.from('\u0000k8ts/compact-revision-probe');
const WATCH_BACKOFF_MIN_MS = 100;
const WATCH_BACKOFF_MAX_MS = 2_000;
/** Progress responses wait this long for events of lower revisions that may still be on their way. */
const PROGRESS_GRACE_MS = 50;
/** Keep a watch stream's read side paused while this many responses wait for the consumer. */
const WATCH_HIGH_WATER = 64;

interface Endpoint {
  url: string;
  client: grpc.Client;
}

/**
 * KV over a real etcd. Traps:
 * - etcd's own lease ids exceed 2^53, so leaseGrant() picks its ids itself (random, < 2^48);
 *   lease ids made by other clients are read back with lost precision.
 * - Watches resume from the last delivered revision + 1 after any stream failure, forever, with
 *   back-off, until their signal aborts or close(); a compacted start ends them with compactRevision.
 * - Progress notifications are requested with WatchProgressRequest. etcd 3.4.23 answers those with
 *   the current revision even while a watcher still replays history (fixed in 3.4.31/3.5.13);
 *   we hold each answer briefly and only ask after the stream was idle, which covers the
 *   practical cases but is not a proof.
 */
export class EtcdKV implements KV {
  private readonly endpoints: Endpoint[];
  private readonly requestTimeoutMs: number;
  private cursor = 0;
  private closed = false;
  private readonly inflight = new Set<grpc.ClientUnaryCall>();
  private readonly watches = new Set<{ fail(err: StorageError): void }>();
  private keepAlive: KeepAliveStream | undefined;

  private constructor(endpoints: Endpoint[], requestTimeoutMs: number) {
    this.endpoints = endpoints;
    this.requestTimeoutMs = requestTimeoutMs;
  }

  /** Connects and checks that an endpoint answers within dialTimeoutMs; else throws Unavailable. */
  static async connect(opts: EtcdKVOptions): Promise<EtcdKV> {
    if (opts.endpoints.length === 0) throw new StorageError('InvalidRequest', 'no etcd endpoints given');
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
      throw new StorageError('InvalidRequest', 'give both certFile and keyFile, or neither');
    }
    const tls = await readTlsFiles(opts);
    const endpoints = opts.endpoints.map((url) => openEndpoint(url, tls));
    const kv = new EtcdKV(endpoints, opts.requestTimeoutMs ?? 10_000);
    const dialTimeoutMs = opts.dialTimeoutMs ?? 5_000;
    try {
      await kv.firstReady(dialTimeoutMs);
      await kv.unary(M.status, {}, dialTimeoutMs);
    } catch (err) {
      await kv.close();
      if (isStorageError(err)) throw err;
      throw new StorageError('Unavailable', `etcd at ${opts.endpoints.join(', ')} is unreachable: ${String(err)}`, {
        cause: err,
      });
    }
    return kv;
  }

  async range(req: RangeRequest): Promise<RangeResponse> {
    try {
      return rangeResFromPb(await this.unary(M.range, rangeReqToPb(req)));
    } catch (err) {
      throw await this.explainRevisionError(err, req.revision ?? 0);
    }
  }

  async put(req: PutRequest): Promise<PutResponse> {
    return putResFromPb(await this.unary(M.put, putReqToPb(req)));
  }

  async deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return deleteResFromPb(await this.unary(M.deleteRange, deleteReqToPb(req)));
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    try {
      return txnResFromPb(await this.unary(M.txn, txnReqToPb(req)));
    } catch (err) {
      throw await this.explainRevisionError(err, 0);
    }
  }

  async compact(revision: number): Promise<{ header: ResponseHeader }> {
    try {
      const res = await this.unary(M.compact, { revision: String(revision), physical: false });
      return { header: headerFromPb(res.header) };
    } catch (err) {
      throw await this.explainRevisionError(err, revision);
    }
  }

  watch(req: WatchRequest, signal: AbortSignal): AsyncIterable<WatchResponse> {
    return { [Symbol.asyncIterator]: () => this.watchLoop(req, signal) };
  }

  async leaseGrant(ttlSeconds: number, id?: number): Promise<LeaseGrantResponse> {
    // etcd would pick ids above 2^53; ours stay exact as JS numbers. Retry on the rare collision.
    for (let attempt = 0; ; attempt++) {
      const chosen = id ?? randomInt(1, 2 ** 48);
      try {
        const res = await this.unary(M.leaseGrant, { TTL: String(ttlSeconds), ID: String(chosen) });
        if (res.error) throw new StorageError('Internal', `etcd lease grant: ${res.error}`);
        return { header: headerFromPb(res.header), id: num(res.ID), ttl: num(res.TTL) };
      } catch (err) {
        const collision = id === undefined && attempt < 3 && isStorageError(err) && /lease already exists/.test(err.message);
        if (!collision) throw err;
      }
    }
  }

  async leaseRevoke(id: number): Promise<{ header: ResponseHeader }> {
    const res = await this.unary(M.leaseRevoke, { ID: String(id) });
    return { header: headerFromPb(res.header) };
  }

  async leaseKeepAlive(id: number): Promise<{ header: ResponseHeader; id: number; ttl: number }> {
    this.assertOpen();
    if (!this.keepAlive || this.keepAlive.broken) {
      this.keepAlive = new KeepAliveStream(this.pick().client, (err) => this.mapError(err));
    }
    return this.keepAlive.renew(id, this.requestTimeoutMs);
  }

  async leaseTimeToLive(id: number, keys = false): Promise<LeaseTimeToLiveResponse> {
    const res = await this.unary(M.leaseTimeToLive, { ID: String(id), keys });
    return {
      header: headerFromPb(res.header),
      id: num(res.ID),
      ttl: num(res.TTL),
      grantedTtl: num(res.grantedTTL),
      keys: res.keys,
    };
  }

  async leaseLeases(): Promise<{ header: ResponseHeader; leases: number[] }> {
    const res = await this.unary(M.leaseLeases, {});
    return { header: headerFromPb(res.header), leases: res.leases.map((l) => num(l.ID)) };
  }

  async status(): Promise<KVStatus> {
    const res = await this.unary(M.status, {});
    return {
      header: headerFromPb(res.header),
      version: res.version,
      dbSize: num(res.dbSize),
      dbSizeInUse: num(res.dbSizeInUse),
      compactRevision: (await this.probeCompactRevision()) ?? 0,
    };
  }

  /** Ends every watch with Closed, fails calls in flight, closes the channels. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = new StorageError('Closed', 'the etcd client was closed');
    for (const w of [...this.watches]) w.fail(closed);
    for (const call of [...this.inflight]) call.cancel();
    this.keepAlive?.fail(closed);
    for (const ep of this.endpoints) ep.client.close();
  }

  // ---- plumbing ----

  private assertOpen(): void {
    if (this.closed) throw new StorageError('Closed', 'the etcd client was closed');
  }

  /** A READY endpoint if there is one, else the current one (calls then wait for it to connect). */
  private pick(): Endpoint {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.cursor + i) % n;
      const ep = this.endpoints[idx]!;
      if (ep.client.getChannel().getConnectivityState(true) === grpc.connectivityState.READY) {
        this.cursor = idx;
        return ep;
      }
    }
    return this.endpoints[this.cursor % n]!;
  }

  private rotate(ep: Endpoint): void {
    if (this.endpoints[this.cursor % this.endpoints.length] === ep) this.cursor = (this.cursor + 1) % this.endpoints.length;
  }

  private firstReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      let failures = 0;
      let done = false;
      this.endpoints.forEach((ep, idx) => {
        ep.client.waitForReady(deadline, (err) => {
          if (done) return;
          if (!err) {
            done = true;
            this.cursor = idx;
            resolve();
          } else if (++failures === this.endpoints.length) {
            done = true;
            const urls = this.endpoints.map((e) => e.url).join(', ');
            reject(new StorageError('Unavailable', `etcd at ${urls} is unreachable within ${timeoutMs} ms`, { cause: err }));
          }
        });
      });
    });
  }

  /** One unary RPC: waits for a connection up to the deadline, maps failures to StorageError. */
  private unary<Req, Res>(m: EtcdMethod<Req, Res>, req: NoInfer<Encodable<Req>>, timeoutMs = this.requestTimeoutMs): Promise<Res> {
    this.assertOpen();
    const ep = this.pick();
    return new Promise((resolve, reject) => {
      const call = ep.client.makeUnaryRequest(m.path, m.serialize, m.deserialize, req, waitForReady(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        this.inflight.delete(call);
        if (err) {
          const mapped = this.mapError(err, ep.url);
          if (mapped.code === 'Unavailable') this.rotate(ep);
          reject(mapped);
        } else if (res === undefined) {
          reject(new StorageError('Internal', `etcd sent no response to ${m.path}`));
        } else {
          resolve(res);
        }
      });
      this.inflight.add(call);
    });
  }

  /** Translates a gRPC failure by etcd's error strings first, then by status code. */
  private mapError(err: unknown, where = ''): StorageError {
    if (isStorageError(err)) return err;
    const e = err as Partial<grpc.ServiceError>;
    const code = e.code;
    const details = e.details || e.message || String(err);
    const make = (c: StorageErrorCode, msg = details): StorageError =>
      new StorageError(c, where ? `${msg} (etcd ${where})` : msg, { cause: err });
    if (this.closed && code === grpc.status.CANCELLED) return make('Closed', 'the etcd client was closed');
    if (details.includes('required revision has been compacted')) return make('TooOldRevision');
    if (details.includes('required revision is a future revision')) return make('FutureRevision');
    if (details.includes('database space exceeded')) return make('Internal');
    if (details.includes('too many requests')) return make('Unavailable');
    if (details.includes('request is too large') || code === grpc.status.RESOURCE_EXHAUSTED) return make('ValueTooLarge');
    if (details.includes('requested lease not found')) return make('LeaseNotFound');
    if (details.includes('key not found')) return make('KeyNotFound');
    switch (code) {
      case grpc.status.UNAVAILABLE:
      case grpc.status.DEADLINE_EXCEEDED:
      case grpc.status.CANCELLED:
        return make('Unavailable');
      case grpc.status.INVALID_ARGUMENT:
      case grpc.status.FAILED_PRECONDITION:
      case grpc.status.OUT_OF_RANGE:
        return make('InvalidRequest');
      default:
        return make('Internal');
    }
  }

  /** Adds the compacted revision (or the current one) to TooOldRevision/FutureRevision errors. */
  private async explainRevisionError(err: unknown, requested: number): Promise<unknown> {
    if (!isStorageError(err)) return err;
    if (err.code === 'TooOldRevision' && err.compactRevision === undefined) {
      const compacted = await this.probeCompactRevision().catch(() => undefined);
      if (compacted !== undefined) return tooOldRevision(requested, compacted);
    }
    if (err.code === 'FutureRevision' && err.currentRevision === undefined && requested > 0) {
      const current = await this.unary(M.range, { key: PROBE_KEY, count_only: true }, 2_000).catch(() => undefined);
      if (current) return futureRevision(requested, num(current.header?.revision));
    }
    return err;
  }

  /**
   * The compacted revision: 0 when revision 1 can still be read, else what etcd reports to a watch
   * that starts at revision 1. undefined when etcd does not say within 2 s.
   */
  private async probeCompactRevision(): Promise<number | undefined> {
    try {
      await this.unary(M.range, { key: PROBE_KEY, revision: '1', count_only: true }, 2_000);
      return 0;
    } catch (err) {
      if (!isStorageError(err, 'TooOldRevision')) return undefined;
    }
    const signal = AbortSignal.timeout(2_000);
    try {
      for await (const res of this.watch({ key: PROBE_KEY, startRevision: 1 }, signal)) {
        if (res.compactRevision !== undefined) return res.compactRevision;
      }
    } catch {
      // fall through: unknown
    }
    return undefined;
  }

  /**
   * One watch: opens a stream, delivers responses, and on any failure reopens from the revision
   * after the last one delivered. Ends on abort (quietly), after a compacted response, or throws
   * Closed/WatchCanceled.
   */
  private async *watchLoop(req: WatchRequest, signal: AbortSignal): AsyncGenerator<WatchResponse> {
    this.assertOpen();
    // Where a new stream starts; 0 = "now", fixed by the first created response.
    let next = req.startRevision ?? 0;
    // The newest event delivered: nothing at or below it is delivered again.
    let lastEvent = next > 0 ? next - 1 : 0;
    let backoff = WATCH_BACKOFF_MIN_MS;
    while (!signal.aborted) {
      const session = new WatchSession(this.pick().client, req, next, signal);
      this.watches.add(session);
      try {
        for (;;) {
          const item = await session.next();
          if (item.kind === 'end') return;
          if (item.kind === 'created') {
            if (next === 0) {
              next = item.revision + 1;
              lastEvent = item.revision;
            }
            backoff = WATCH_BACKOFF_MIN_MS;
            continue;
          }
          const res = item.response;
          if (res.compactRevision !== undefined) {
            yield res;
            return;
          }
          if (res.events.length === 0) {
            // Progress: a resumed stream may start after it. Events it should have covered but that
            // arrive late (etcd 3.4's progress race) are still delivered below, not dropped.
            if (res.header.revision < next - 1) continue;
            next = res.header.revision + 1;
            session.delivered();
            yield res;
            continue;
          }
          const last = res.events[res.events.length - 1]!.kv.modRevision;
          if (last <= lastEvent) continue; // never deliver a revision twice
          if (res.events[0]!.kv.modRevision <= lastEvent) res.events = res.events.filter((e) => e.kv.modRevision > lastEvent);
          lastEvent = last;
          next = Math.max(next, last + 1);
          session.delivered();
          yield res;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (this.closed) throw new StorageError('Closed', 'the etcd client was closed');
        if (!isStorageError(err) || err.code !== 'Unavailable') throw err;
      } finally {
        session.close();
        this.watches.delete(session);
      }
      // The stream broke: back off (with jitter) and resume from `next`.
      await sleep(backoff * (0.5 + Math.random() / 2), signal);
      backoff = Math.min(backoff * 2, WATCH_BACKOFF_MAX_MS);
    }
  }
}

type SessionItem =
  | { kind: 'created'; revision: number }
  | { kind: 'response'; response: WatchResponse }
  | { kind: 'end' };

/**
 * One Watch stream carrying one watcher. Buffers what etcd sends (pausing the stream past a high
 * water mark), reassembles fragments, turns progress answers into empty responses after a short
 * grace, and reports failures as thrown StorageErrors from next().
 */
class WatchSession {
  private readonly call: grpc.ClientDuplexStream<Encodable<pb.WatchRequest>, pb.WatchResponse>;
  private readonly buffered: pb.WatchResponse[] = [];
  private failure: StorageError | undefined;
  private wake: (() => void) | undefined;
  private fragments: pb.Event[] = [];
  private created = false;
  private pendingProgress: { revision: number; at: number } | undefined;
  private lastActivity = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  /** Releases the stream at once, even while the consumer is not pulling. */
  private readonly onAbort = (): void => {
    this.call.cancel();
    this.notify();
  };

  constructor(
    client: grpc.Client,
    private readonly req: WatchRequest,
    startRevision: number,
    private readonly signal: AbortSignal,
  ) {
    this.call = client.makeBidiStreamRequest(M.watch.path, M.watch.serialize, M.watch.deserialize, new grpc.Metadata());
    this.call.on('data', (r: pb.WatchResponse) => {
      this.buffered.push(r);
      if (this.buffered.length >= WATCH_HIGH_WATER) this.call.pause();
      this.notify();
    });
    this.call.on('error', (err: grpc.ServiceError) => this.fail(streamError(err)));
    this.call.on('end', () => this.fail(new StorageError('Unavailable', 'etcd ended the watch stream')));
    signal.addEventListener('abort', this.onAbort, { once: true });
    this.call.write({
      create_request: {
        key: req.key,
        range_end: rangeEnd(req.rangeEnd),
        start_revision: String(startRevision),
        prev_kv: req.prevKv === true,
        fragment: true,
      },
    });
    const every = req.progressNotifyMs;
    if (every !== undefined && every > 0) {
      this.timer = setInterval(() => this.maybeRequestProgress(every), Math.max(10, Math.min(every / 4, 1_000)));
    }
  }

  /** The consumer got a response: progress is only asked for after a quiet period. */
  delivered(): void {
    this.lastActivity = Date.now();
  }

  fail(err: StorageError): void {
    this.failure ??= err;
    this.notify();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
    this.call.removeAllListeners('data');
    this.call.on('error', () => {}); // a cancel still emits one
    this.call.cancel();
  }

  async next(): Promise<SessionItem> {
    for (;;) {
      if (this.signal.aborted) return { kind: 'end' };
      if (this.failure?.code === 'Closed') throw this.failure;
      const r = this.buffered.shift();
      if (this.buffered.length < WATCH_HIGH_WATER / 2 && this.call.isPaused()) this.call.resume();
      if (r !== undefined) {
        const item = this.handle(r);
        if (item) return item;
        continue;
      }
      if (this.failure) throw this.failure;
      const pending = this.pendingProgress;
      if (pending && Date.now() - pending.at >= PROGRESS_GRACE_MS) {
        this.pendingProgress = undefined;
        this.lastActivity = Date.now();
        return { kind: 'response', response: { header: { revision: pending.revision }, events: [] } };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        if (pending) setTimeout(resolve, Math.max(1, PROGRESS_GRACE_MS - (Date.now() - pending.at)));
      });
      this.wake = undefined;
    }
  }

  private notify(): void {
    this.wake?.();
  }

  private handle(r: pb.WatchResponse): SessionItem | undefined {
    const revision = num(r.header?.revision);
    if (r.created) {
      if (r.canceled) throw new StorageError('WatchCanceled', `etcd refused the watch: ${r.cancel_reason || 'canceled'}`);
      this.created = true;
      return { kind: 'created', revision };
    }
    const compacted = num(r.compact_revision);
    if (compacted > 0) {
      return { kind: 'response', response: { header: { revision }, events: [], compactRevision: compacted } };
    }
    if (r.canceled) {
      // A cancel with a reason is final (permission, bad range); one without is a server hiccup.
      if (r.cancel_reason) throw new StorageError('WatchCanceled', `etcd canceled the watch: ${r.cancel_reason}`);
      throw new StorageError('Unavailable', 'etcd canceled the watch');
    }
    if (r.fragment) {
      this.fragments.push(...r.events);
      return undefined;
    }
    const events = this.fragments.length > 0 ? [...this.fragments, ...r.events] : r.events;
    this.fragments = [];
    if (events.length === 0) {
      // A progress answer (watch_id -1): hold it briefly so that events it covers arrive first.
      if (this.req.progressNotifyMs && this.created) this.pendingProgress = { revision, at: Date.now() };
      return undefined;
    }
    const out = events.map(eventFromPb);
    const last = out[out.length - 1]!.kv.modRevision;
    if (this.pendingProgress && last >= this.pendingProgress.revision) this.pendingProgress = undefined;
    return { kind: 'response', response: { header: { revision }, events: out } };
  }

  private maybeRequestProgress(every: number): void {
    if (!this.created || this.failure || this.pendingProgress || Date.now() - this.lastActivity < every) return;
    this.lastActivity = Date.now();
    this.call.write({ progress_request: {} });
  }
}

/** Answers LeaseKeepAlive requests in order over one long-lived stream. */
class KeepAliveStream {
  broken = false;
  private readonly call: grpc.ClientDuplexStream<Encodable<pb.LeaseIdRequest>, pb.LeaseKeepAliveResponse>;
  private readonly waiting = new Map<string, Array<{ settle: (err: StorageError | undefined, r?: pb.LeaseKeepAliveResponse) => void }>>();

  constructor(client: grpc.Client, private readonly mapError: (err: unknown) => StorageError) {
    const m = M.leaseKeepAlive;
    this.call = client.makeBidiStreamRequest(m.path, m.serialize, m.deserialize, waitForReady());
    this.call.on('data', (r: pb.LeaseKeepAliveResponse) => this.waiting.get(r.ID)?.shift()?.settle(undefined, r));
    this.call.on('error', (err) => this.fail(this.mapError(err)));
    this.call.on('end', () => this.fail(new StorageError('Unavailable', 'etcd ended the lease keepalive stream')));
  }

  renew(id: number, timeoutMs: number): Promise<{ header: ResponseHeader; id: number; ttl: number }> {
    const key = String(id);
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      this.waiting.set(key, queue);
      const waiter = {
        settle: (err: StorageError | undefined, r?: pb.LeaseKeepAliveResponse): void => {
          clearTimeout(timer);
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
          if (queue.length === 0 && this.waiting.get(key) === queue) this.waiting.delete(key);
          if (err) reject(err);
          else if (!r || num(r.TTL) <= 0) reject(new StorageError('LeaseNotFound', `lease ${id} not found`));
          else resolve({ header: headerFromPb(r.header), id: num(r.ID), ttl: num(r.TTL) });
        },
      };
      const timer = setTimeout(() => {
        waiter.settle(new StorageError('Unavailable', `no keepalive answer for lease ${id} within ${timeoutMs} ms`));
        this.fail(new StorageError('Unavailable', 'lease keepalive stream stalled'));
      }, timeoutMs);
      queue.push(waiter);
      this.call.write({ ID: key });
    });
  }

  fail(err: StorageError): void {
    if (!this.broken) {
      this.broken = true;
      this.call.on('error', () => {});
      this.call.cancel();
    }
    for (const queue of [...this.waiting.values()]) for (const w of [...queue]) w.settle(err);
    this.waiting.clear();
  }
}

/** Call metadata that makes a call wait for a connection (until its deadline) instead of failing fast. */
function waitForReady(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.setOptions({ waitForReady: true });
  return md;
}

function streamError(err: grpc.ServiceError): StorageError {
  return new StorageError('Unavailable', `etcd watch stream failed: ${err.details || err.message}`, { cause: err });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

async function readTlsFiles(opts: EtcdKVOptions): Promise<TlsFiles> {
  const read = async (what: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new StorageError('InvalidRequest', `cannot read etcd ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const out: TlsFiles = {};
  const [ca, cert, key] = await Promise.all([
    read('CA file', opts.caFile),
    read('certificate', opts.certFile),
    read('key', opts.keyFile),
  ]);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  // grpc-js backs off up to 120 s by default; etcd restarts should be noticed within seconds.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
};

function openEndpoint(raw: string, tls: TlsFiles): Endpoint {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StorageError('InvalidRequest', `bad etcd endpoint ${raw}`);
  }
  let target: string;
  let creds: grpc.ChannelCredentials;
  switch (parsed.protocol) {
    case 'unix:':
    case 'unixs:':
      target = `unix://${parsed.pathname}`;
      creds = parsed.protocol === 'unixs:' ? grpc.credentials.createSsl(tls.ca, tls.key, tls.cert) : grpc.credentials.createInsecure();
      break;
    case 'http:':
      target = `${parsed.hostname}:${parsed.port || '2379'}`;
      creds = grpc.credentials.createInsecure();
      break;
    case 'https:':
      target = `${parsed.hostname}:${parsed.port || '2379'}`;
      creds = grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
      break;
    default:
      throw new StorageError('InvalidRequest', `unsupported etcd endpoint scheme in ${raw}`);
  }
  return { url, client: new grpc.Client(target, creds, CHANNEL_OPTIONS) };
}
