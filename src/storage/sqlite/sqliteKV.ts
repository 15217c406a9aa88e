// The embedded engine: etcd's data model on one SQLite revision log (see schema.ts).
//
// One connection, one thread. Reads run at once. Writes are queued and group-committed: every
// write that arrives before the next turn of the event loop goes into one SQLite transaction
// (one fsync), each in its own savepoint with its own revision, and no promise resolves before
// that transaction is durable. Watchers are fed from the committed batch in memory; a watcher
// that starts in the past or falls behind catches up from the log (etcd's unsynced watchers).

import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  MAX_VALUE_BYTES,
  StorageError,
  futureRevision,
  isStorageError,
  tooOldRevision,
} from '../errors.js';
import {
  inRange,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KV,
  type KVStatus,
  type KeyRange,
  type KeyValue,
  type LeaseGrantResponse,
  type LeaseTimeToLiveResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
  type WatchEvent,
  type WatchRequest,
  type WatchResponse,
} from '../kv.js';
import { SCHEMA_SQL, SCHEMA_VERSION, SUB_REVISIONS, firstRowOf, revisionOf, rowId } from './schema.js';

export const SQLITE_ENGINE_VERSION = '3.4.23';

export interface SqliteKVOptions {
  /** The database file; its folder is created if missing. */
  path: string;
  /** fsync every commit (default true). Off only for throwaway data. */
  durable?: boolean;
  /** How long opening waits for another process to let go of the file (default 1000 ms). */
  busyTimeoutMs?: number;
  /** Events buffered for one watcher before it is switched to catching up from the log (default 10,000). */
  watchBufferEvents?: number;
  /** WAL pages before an automatic checkpoint (default 1000, SQLite's own). */
  walAutocheckpointPages?: number;
}

interface LogRow {
  id: number;
  key: Buffer;
  create_rev: number;
  version: number;
  lease: number;
  deleted: number;
  prev_id: number;
  value: Buffer | null;
}

interface HistoryRow extends LogRow {
  p_id: number | null;
  p_create_rev: number | null;
  p_version: number | null;
  p_lease: number | null;
  p_deleted: number | null;
  p_value: Buffer | null;
}

interface PendingWrite {
  apply(events: WatchEvent[]): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Lease {
  id: number;
  ttl: number;
  expiresAt: number;
}

/** Revisions a catching-up watcher reads from the log per step. */
const CATCH_UP_WINDOW = 512;
const LEASE_CHECK_MS = 500;
const COMPACT_CHUNK_REVISIONS = 5000;

const EMPTY = Buffer.alloc(0);

export class SqliteKV implements KV {
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly watchBufferEvents: number;
  private rev: number;
  private compactRev: number;
  /** Rows at or below this revision were physically compacted; above it up to compactRev is still to do. */
  private physicallyCompacted: number;
  private compacting = false;
  /** The revision and next sub-revision of the transaction being applied, if it has written. */
  private writing: { rev: number; sub: number } | null = null;
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly watchers = new Set<Watcher>();
  private readonly leases = new Map<number, Lease>();
  private readonly leaseTimer: NodeJS.Timeout;
  private readonly runBatch: (batch: PendingWrite[], events: WatchEvent[], results: unknown[]) => void;
  private readonly runOne: (apply: (events: WatchEvent[]) => unknown, events: WatchEvent[]) => unknown;

  private constructor(db: Database.Database, opts: SqliteKVOptions) {
    this.db = db;
    this.path = opts.path;
    this.watchBufferEvents = opts.watchBufferEvents ?? 10_000;
    this.stmts = prepareStatements(db);
    const meta = (name: string): number | undefined =>
      (this.stmts.getMeta.get(name) as { value: number } | undefined)?.value;
    const maxId = (this.stmts.maxId.get() as { id: number | null }).id ?? 0;
    this.rev = Math.max(meta('revision') ?? 1, revisionOf(maxId), 1);
    this.compactRev = meta('compact_revision') ?? 0;
    this.physicallyCompacted = meta('compacted_through') ?? this.compactRev;
    const now = Date.now();
    for (const row of this.stmts.allLeases.all() as Array<{ id: number; ttl: number }>) {
      // As etcd does on recovery, every lease gets its full TTL again.
      this.leases.set(row.id, { id: row.id, ttl: row.ttl, expiresAt: now + row.ttl * 1000 });
    }
    this.runOne = db.transaction((apply: (events: WatchEvent[]) => unknown, events: WatchEvent[]) => apply(events));
    this.runBatch = db.transaction((batch: PendingWrite[], events: WatchEvent[], results: unknown[]) => {
      const revBefore = this.rev;
      for (const w of batch) {
        const mark = events.length;
        try {
          results.push({ ok: this.runOne(w.apply, events) });
        } catch (err) {
          // The savepoint rolled back; so do the revision and the events of this write.
          if (this.writing) this.rev = this.writing.rev - 1;
          events.length = mark;
          if (!isRequestError(err)) throw err;
          results.push({ err });
        } finally {
          this.writing = null;
        }
      }
      if (this.rev !== revBefore) this.stmts.setMeta.run('revision', this.rev);
    });
    this.leaseTimer = setInterval(() => this.expireLeases(), LEASE_CHECK_MS);
    this.leaseTimer.unref();
    if (this.physicallyCompacted < this.compactRev) this.schedulePhysicalCompaction();
  }

  /** Opens (creating if needed) the database; throws StorageError Locked/Corrupt/Unavailable. */
  static open(opts: SqliteKVOptions): SqliteKV {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(opts.path), { recursive: true });
      db = new Database(opts.path, { timeout: opts.busyTimeoutMs ?? 1000 });
      // One process owns the file: a second opener gets SQLITE_BUSY, and the WAL index lives
      // in our heap instead of a shared-memory file. This must come before anything reads the
      // file, or a database already in WAL mode maps the -shm file first.
      db.pragma('locking_mode = EXCLUSIVE');
      // Before any table exists, so freed pages can be given back to the file system.
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.durable === false ? 'OFF' : 'FULL'}`);
      db.pragma(`wal_autocheckpoint = ${opts.walAutocheckpointPages ?? 1000}`);
      // After a checkpoint, a WAL that grew past 4 MiB is cut back, so it stays bounded.
      db.pragma('journal_size_limit = 4194304');
      // Take the exclusive lock now rather than at the first write.
      db.exec('BEGIN IMMEDIATE');
      db.exec(SCHEMA_SQL);
      db.prepare(`INSERT INTO meta (name, value) VALUES ('schema_version', ?) ON CONFLICT(name) DO NOTHING`).run(
        SCHEMA_VERSION,
      );
      db.exec('COMMIT');
      const version = (db.prepare(`SELECT value FROM meta WHERE name = 'schema_version'`).get() as { value: number })
        .value;
      if (version !== SCHEMA_VERSION) {
        throw new StorageError('Corrupt', `${opts.path}: schema version ${version}, this k8ts reads ${SCHEMA_VERSION}`);
      }
      return new SqliteKV(db, opts);
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already failing; the first error is the one to report
      }
      throw toStorageError(err, opts.path);
    }
  }

  // ---- reads ----

  async range(req: RangeRequest): Promise<RangeResponse> {
    this.checkOpen();
    return this.rangeNow(req);
  }

  private rangeNow(req: RangeRequest): RangeResponse {
    const atRev = this.readRevision(req.revision);
    const limit = req.limit && req.limit > 0 ? req.limit : 0;
    const sortTarget = req.sortTarget ?? 'key';
    const sortOrder = req.sortOrder ?? 'none';
    const sortsByKey = sortTarget === 'key';
    const header = { revision: this.rev };
    try {
      if (req.rangeEnd === undefined || req.rangeEnd.length === 0) {
        const row = this.stmts.keyAt.get(req.key, firstRowOf(atRev + 1)) as LogRow | undefined;
        const kvs = row && !row.deleted ? [rowToKV(row, req.keysOnly)] : [];
        return { header, kvs: req.countOnly ? [] : kvs, more: false, count: kvs.length };
      }
      const openEnd = req.rangeEnd.length === 1 && req.rangeEnd[0] === 0;
      const descendingKeys = sortsByKey && sortOrder === 'descend';
      // Only key order can be limited in SQL; other sorts need every key first, as in etcd.
      const sqlLimit = req.countOnly ? 0 : sortsByKey && limit > 0 ? limit + 1 : -1;
      let rows: LogRow[] = [];
      if (sqlLimit !== 0) {
        const stmt = this.stmts.rangeStmt(openEnd, !!req.keysOnly, descendingKeys);
        rows = (openEnd
          ? stmt.all(req.key, firstRowOf(atRev + 1), sqlLimit)
          : stmt.all(req.key, req.rangeEnd, firstRowOf(atRev + 1), sqlLimit)) as LogRow[];
      }
      let kvs = rows.map((r) => rowToKV(r, req.keysOnly));
      if (!sortsByKey && sortOrder !== 'none') kvs = sortKVs(kvs, sortTarget, sortOrder);
      let more = false;
      if (limit > 0 && kvs.length > limit) {
        more = true;
        kvs = kvs.slice(0, limit);
      }
      const count =
        req.countOnly || more
          ? (openEnd
              ? (this.stmts.countOpen.get(req.key, firstRowOf(atRev + 1)) as { n: number })
              : (this.stmts.countRange.get(req.key, req.rangeEnd, firstRowOf(atRev + 1)) as { n: number })
            ).n
          : kvs.length;
      return { header, kvs: req.countOnly ? [] : kvs, more, count };
    } catch (err) {
      throw toStorageError(err, this.path);
    }
  }

  /** The revision a read is served at, checked against history. */
  private readRevision(requested: number | undefined): number {
    if (!requested || requested <= 0) return this.rev;
    if (requested > this.rev) throw futureRevision(requested, this.rev);
    if (requested < this.compactRev) throw tooOldRevision(requested, this.compactRev);
    return requested;
  }

  // ---- writes ----

  put(req: PutRequest): Promise<PutResponse> {
    return this.txn({ compare: [], success: [{ put: req }], failure: [] }).then(
      (r) => (r.responses[0] as { put: PutResponse }).put,
    );
  }

  deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.txn({ compare: [], success: [{ deleteRange: req }], failure: [] }).then(
      (r) => (r.responses[0] as { deleteRange: DeleteRangeResponse }).deleteRange,
    );
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    this.checkOpen();
    validateTxn(req);
    if (!txnWrites(req)) {
      // A read-only transaction needs no revision and no fsync: serve it now, consistently.
      try {
        return this.runOne((events) => this.applyTxn(req, events), []) as TxnResponse;
      } catch (err) {
        throw isRequestError(err) ? err : toStorageError(err, this.path);
      }
    }
    return this.enqueue((events) => this.applyTxn(req, events)) as Promise<TxnResponse>;
  }

  private enqueue(apply: (events: WatchEvent[]) => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.push({ apply, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every queued write in one transaction, then answers them and feeds watchers. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const events: WatchEvent[] = [];
    const results: Array<{ ok?: unknown; err?: unknown }> = [];
    const revBefore = this.rev;
    try {
      this.runBatch(batch, events, results);
    } catch (err) {
      this.rev = revBefore;
      const failure = toStorageError(err, this.path);
      for (const w of batch) w.reject(failure);
      return;
    }
    batch.forEach((w, i) => {
      const r = results[i]!;
      if ('err' in r) w.reject(r.err);
      else w.resolve(r.ok);
    });
    if (events.length > 0) this.publish(events);
  }

  private nextWrite(): { rev: number; sub: number } {
    if (!this.writing) {
      this.rev += 1;
      this.writing = { rev: this.rev, sub: 0 };
    }
    if (this.writing.sub >= SUB_REVISIONS) {
      throw new StorageError('InvalidRequest', `etcdserver: too many operations in txn request (max ${SUB_REVISIONS})`);
    }
    const at = { rev: this.writing.rev, sub: this.writing.sub };
    this.writing.sub += 1;
    return at;
  }

  private applyTxn(req: TxnRequest, events: WatchEvent[]): TxnResponse {
    const succeeded = req.compare.every((c) => this.compareHolds(c));
    const responses = (succeeded ? req.success : req.failure).map((op) => this.applyOp(op, events));
    return { header: { revision: this.rev }, succeeded, responses };
  }

  private applyOp(op: RequestOp, events: WatchEvent[]): ResponseOp {
    if ('range' in op) return { range: this.rangeNow(op.range) };
    if ('put' in op) return { put: this.applyPut(op.put, events) };
    if ('deleteRange' in op) return { deleteRange: this.applyDelete(op.deleteRange, events) };
    return { txn: this.applyTxn(op.txn, events) };
  }

  private applyPut(req: PutRequest, events: WatchEvent[]): PutResponse {
    const last = this.stmts.latest.get(req.key) as LogRow | undefined;
    const live = last && !last.deleted ? last : undefined;
    if ((req.ignoreValue || req.ignoreLease) && !live) throw new StorageError('KeyNotFound', 'etcdserver: key not found');
    const lease = req.ignoreLease ? live!.lease : (req.lease ?? 0);
    if (lease !== 0 && !this.leases.has(lease)) {
      throw new StorageError('LeaseNotFound', 'etcdserver: requested lease not found');
    }
    const value = req.ignoreValue ? (live!.value ?? EMPTY) : req.value;
    const { rev, sub } = this.nextWrite();
    const row: LogRow = {
      id: rowId(rev, sub),
      key: req.key,
      create_rev: live ? live.create_rev : rev,
      version: live ? live.version + 1 : 1,
      lease,
      deleted: 0,
      prev_id: last?.id ?? 0,
      value,
    };
    this.stmts.insert.run(row);
    const prevKv = live ? rowToKV(live) : undefined;
    events.push({ type: 'put', kv: rowToKV(row), prevKv });
    return { header: { revision: rev }, prevKv: req.prevKv ? prevKv : undefined };
  }

  private applyDelete(req: DeleteRangeRequest, events: WatchEvent[]): DeleteRangeResponse {
    const victims = this.liveRowsIn(req);
    const prevKvs: KeyValue[] = [];
    for (const v of victims) {
      const { rev, sub } = this.nextWrite();
      this.stmts.insert.run({
        id: rowId(rev, sub),
        key: v.key,
        create_rev: 0,
        version: 0,
        lease: 0,
        deleted: 1,
        prev_id: v.id,
        value: null,
      });
      const prevKv = rowToKV(v);
      prevKvs.push(prevKv);
      events.push({ type: 'delete', kv: tombstoneKV(v.key, rev), prevKv });
    }
    return { header: { revision: this.rev }, deleted: victims.length, prevKvs: req.prevKv ? prevKvs : [] };
  }

  private liveRowsIn(r: KeyRange): LogRow[] {
    if (r.rangeEnd === undefined || r.rangeEnd.length === 0) {
      const row = this.stmts.latest.get(r.key) as LogRow | undefined;
      return row && !row.deleted ? [row] : [];
    }
    const openEnd = r.rangeEnd.length === 1 && r.rangeEnd[0] === 0;
    const stmt = this.stmts.rangeStmt(openEnd, false, false);
    const upTo = firstRowOf(this.rev + 1); // includes rows this transaction already wrote
    return (openEnd ? stmt.all(r.key, upTo, -1) : stmt.all(r.key, r.rangeEnd, upTo, -1)) as LogRow[];
  }

  private compareHolds(c: Compare): boolean {
    const rows = this.liveRowsIn(c);
    if (rows.length === 0) {
      // A missing key has zero version/revisions/lease; a value compare on it fails, as in etcd.
      return c.target === 'value' ? false : compareValues(0, c.operand, c.result);
    }
    return rows.every((row) => {
      switch (c.target) {
        case 'version':
          return compareValues(row.version, c.operand, c.result);
        case 'create':
          return compareValues(row.create_rev, c.operand, c.result);
        case 'mod':
          return compareValues(revisionOf(row.id), c.operand, c.result);
        case 'lease':
          return compareValues(row.lease, c.operand, c.result);
        case 'value':
          return compareValues(row.value ?? EMPTY, c.operand, c.result);
      }
    });
  }

  // ---- compaction ----

  async compact(revision: number): Promise<{ header: { revision: number } }> {
    this.checkOpen();
    if (revision <= this.compactRev) throw tooOldRevision(revision, this.compactRev);
    if (revision > this.rev) throw futureRevision(revision, this.rev);
    try {
      this.stmts.setMeta.run('compact_revision', revision);
    } catch (err) {
      throw toStorageError(err, this.path);
    }
    // From here on reads below `revision` fail; the rows go away in the background.
    this.compactRev = revision;
    this.schedulePhysicalCompaction();
    return { header: { revision: this.rev } };
  }

  private schedulePhysicalCompaction(): void {
    if (this.compacting) return;
    this.compacting = true;
    setImmediate(() => this.compactStep());
  }

  /**
   * Deletes, a chunk of revisions at a time, every row superseded at or below compactRev and
   * every tombstone below it. A row's predecessor is superseded by it, so deleting the
   * predecessors of the rows in a revision window does the work with primary-key lookups.
   */
  private compactStep(): void {
    if (this.closed) return;
    const from = this.physicallyCompacted;
    const target = this.compactRev;
    if (from >= target) {
      this.compacting = false;
      this.releaseFreePages();
      return;
    }
    const to = Math.min(target, from + COMPACT_CHUNK_REVISIONS);
    try {
      this.db.transaction(() => {
        this.stmts.deleteSuperseded.run(firstRowOf(from + 1), firstRowOf(to + 1));
        // A tombstone at the compaction revision itself stays until the next compaction.
        this.stmts.deleteTombstones.run(firstRowOf(from), firstRowOf(to === target ? to : to + 1));
        this.stmts.setMeta.run('compacted_through', to);
      })();
      this.physicallyCompacted = to;
    } catch (err) {
      this.compacting = false;
      process.emitWarning(`k8ts sqlite compaction failed: ${(err as Error).message}`);
      return;
    }
    setImmediate(() => this.compactStep());
  }

  /** Gives pages freed by compaction back to the file system once they are most of the file. */
  private releaseFreePages(): void {
    try {
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const free = this.db.pragma('freelist_count', { simple: true }) as number;
      if (free > 64 && free * 2 > pages) this.db.pragma(`incremental_vacuum(${free - Math.floor(pages / 4)})`);
    } catch {
      // best effort: free pages are reused anyway
    }
  }

  // ---- watch ----

  async *watch(req: WatchRequest, signal: AbortSignal): AsyncIterable<WatchResponse> {
    this.checkOpen();
    const startRev = req.startRevision && req.startRevision > 0 ? req.startRevision : this.rev + 1;
    if (startRev < this.compactRev) {
      yield { header: { revision: this.rev }, events: [], compactRevision: this.compactRev };
      return;
    }
    const w = new Watcher(req, startRev, startRev <= this.rev);
    this.watchers.add(w);
    const onAbort = () => w.wakeUp();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (this.closed) throw new StorageError('Closed', 'the store is closed');
        const queued = w.queue.shift();
        if (queued) {
          w.queuedEvents -= queued.events.length;
          w.lastSent = Date.now();
          yield queued;
          continue;
        }
        if (w.unsynced) {
          if (w.nextRev < this.compactRev) {
            yield { header: { revision: this.rev }, events: [], compactRevision: this.compactRev };
            return;
          }
          const caughtUp = this.catchUp(w);
          if (caughtUp) {
            w.lastSent = Date.now();
            yield caughtUp;
          }
          continue;
        }
        const progressDue = req.progressNotifyMs ? w.lastSent + req.progressNotifyMs - Date.now() : undefined;
        if (progressDue !== undefined && progressDue <= 0) {
          w.lastSent = Date.now();
          yield { header: { revision: this.rev }, events: [] };
          continue;
        }
        await w.sleep(progressDue);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.watchers.delete(w);
    }
  }

  /** Reads the next window of history for an unsynced watcher; marks it synced at the head. */
  private catchUp(w: Watcher): WatchResponse | undefined {
    const until = Math.min(w.nextRev + CATCH_UP_WINDOW, this.rev + 1);
    const rows = this.stmts.history.all(firstRowOf(w.nextRev), firstRowOf(until)) as HistoryRow[];
    const events: WatchEvent[] = [];
    for (const row of rows) {
      if (!inRange(row.key, w.range)) continue;
      const event = historyEvent(row);
      if (w.accepts(event)) events.push(w.shape(event));
    }
    w.nextRev = until;
    if (until > this.rev) w.unsynced = false; // live events from here on arrive through publish()
    return events.length > 0 ? { header: { revision: this.rev }, events } : undefined;
  }

  private publish(events: WatchEvent[]): void {
    const header = { revision: this.rev };
    for (const w of this.watchers) {
      if (w.unsynced) continue;
      const mine: WatchEvent[] = [];
      for (const e of events) {
        if (e.kv.modRevision < w.nextRev || !inRange(e.kv.key, w.range) || !w.accepts(e)) continue;
        mine.push(w.shape(e));
      }
      if (mine.length === 0) continue;
      if (w.queuedEvents + mine.length > this.watchBufferEvents) {
        // Too slow to keep in memory: drop the buffer and let it read the log from where it is.
        const firstUnsent = w.queue[0]?.events[0]?.kv.modRevision ?? mine[0]!.kv.modRevision;
        w.queue = [];
        w.queuedEvents = 0;
        w.nextRev = firstUnsent;
        w.unsynced = true;
      } else {
        w.queue.push({ header, events: mine });
        w.queuedEvents += mine.length;
      }
      w.wakeUp();
    }
  }

  // ---- leases ----

  async leaseGrant(ttlSeconds: number, id?: number): Promise<LeaseGrantResponse> {
    this.checkOpen();
    if (!(ttlSeconds > 0)) throw new StorageError('InvalidRequest', 'etcdserver: lease TTL must be positive');
    let leaseId = id && id > 0 ? id : 0;
    if (leaseId === 0) {
      do leaseId = 1 + Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1));
      while (this.leases.has(leaseId));
    } else if (this.leases.has(leaseId)) {
      throw new StorageError('InvalidRequest', 'etcdserver: lease already exists');
    }
    const ttl = Math.ceil(ttlSeconds);
    await this.enqueue(() => this.stmts.insertLease.run(leaseId, ttl));
    this.leases.set(leaseId, { id: leaseId, ttl, expiresAt: Date.now() + ttl * 1000 });
    return { header: { revision: this.rev }, id: leaseId, ttl };
  }

  async leaseRevoke(id: number): Promise<{ header: { revision: number } }> {
    this.checkOpen();
    if (!this.leases.has(id)) throw new StorageError('LeaseNotFound', 'etcdserver: requested lease not found');
    await this.enqueue((events) => this.applyRevoke(id, events));
    return { header: { revision: this.rev } };
  }

  private applyRevoke(id: number, events: WatchEvent[]): void {
    const keys = this.stmts.keysOfLease.all(id) as Array<{ key: Buffer }>;
    for (const { key } of keys) this.applyDelete({ key }, events);
    this.stmts.deleteLease.run(id);
    this.leases.delete(id);
  }

  async leaseKeepAlive(id: number): Promise<{ header: { revision: number }; id: number; ttl: number }> {
    this.checkOpen();
    const lease = this.leases.get(id);
    if (!lease) throw new StorageError('LeaseNotFound', 'etcdserver: requested lease not found');
    lease.expiresAt = Date.now() + lease.ttl * 1000;
    return { header: { revision: this.rev }, id, ttl: lease.ttl };
  }

  async leaseTimeToLive(id: number, keys?: boolean): Promise<LeaseTimeToLiveResponse> {
    this.checkOpen();
    const lease = this.leases.get(id);
    if (!lease) return { header: { revision: this.rev }, id, ttl: -1, grantedTtl: 0, keys: [] };
    const left = Math.max(0, Math.ceil((lease.expiresAt - Date.now()) / 1000));
    const attached = keys ? (this.stmts.keysOfLease.all(id) as Array<{ key: Buffer }>).map((r) => r.key) : [];
    return { header: { revision: this.rev }, id, ttl: left, grantedTtl: lease.ttl, keys: attached };
  }

  async leaseLeases(): Promise<{ header: { revision: number }; leases: number[] }> {
    this.checkOpen();
    return { header: { revision: this.rev }, leases: [...this.leases.keys()] };
  }

  private expireLeases(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const lease of this.leases.values()) {
      if (lease.expiresAt > now) continue;
      lease.expiresAt = Number.POSITIVE_INFINITY; // revoked once, below
      this.enqueue((events) => this.applyRevoke(lease.id, events)).catch((err: unknown) => {
        lease.expiresAt = now; // try again next tick
        process.emitWarning(`k8ts sqlite lease ${lease.id} expiry failed: ${(err as Error).message}`);
      });
    }
  }

  // ---- status and life cycle ----

  async status(): Promise<KVStatus> {
    this.checkOpen();
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return {
      header: { revision: this.rev },
      version: SQLITE_ENGINE_VERSION,
      dbSize: this.fileBytes(),
      dbSizeInUse: (pages - free) * pageSize,
      compactRevision: this.compactRev,
    };
  }

  /** Bytes on disk: the database file and its write-ahead log. */
  fileBytes(): number {
    let total = 0;
    for (const f of [this.path, `${this.path}-wal`]) {
      try {
        total += statSync(f).size;
      } catch {
        // no WAL right now
      }
    }
    return total;
  }

  /** The current revision, without a round trip (in-process users and tests). */
  get revision(): number {
    return this.rev;
  }

  get compactedRevision(): number {
    return this.compactRev;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Writes already accepted are committed before the file is let go.
    this.flush();
    this.closed = true;
    clearInterval(this.leaseTimer);
    for (const w of this.watchers) w.wakeUp();
    this.watchers.clear();
    this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('Closed', 'the store is closed');
  }
}

/** One watch: its range, filters, in-memory queue and where it stands in revision order. */
class Watcher {
  readonly range: KeyRange;
  private readonly prevKv: boolean;
  queue: WatchResponse[] = [];
  queuedEvents = 0;
  /** The next revision this watcher must receive. */
  nextRev: number;
  /** True while it must read history from the log instead of being fed live. */
  unsynced: boolean;
  lastSent = Date.now();
  private waiter: (() => void) | null = null;

  constructor(req: WatchRequest, startRev: number, unsynced: boolean) {
    this.range = { key: req.key, rangeEnd: req.rangeEnd };
    this.prevKv = !!req.prevKv;
    this.nextRev = startRev;
    this.unsynced = unsynced;
  }

  accepts(_e: WatchEvent): boolean {
    return true;
  }

  shape(e: WatchEvent): WatchEvent {
    return this.prevKv || e.prevKv === undefined ? e : { type: e.type, kv: e.kv };
  }

  sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wakeUp(), ms);
      this.waiter = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  wakeUp(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

function prepareStatements(db: Database.Database) {
  const cols = 'id, key, create_rev, version, lease, deleted, prev_id';
  const rangeCache = new Map<string, Database.Statement>();
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE name = ?'),
    setMeta: db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
    maxId: db.prepare('SELECT MAX(id) AS id FROM log'),
    latest: db.prepare(`SELECT ${cols}, value FROM log WHERE key = ? ORDER BY id DESC LIMIT 1`),
    keyAt: db.prepare(`SELECT ${cols}, value FROM log WHERE key = ? AND id < ? ORDER BY id DESC LIMIT 1`),
    insert: db.prepare(
      'INSERT INTO log (id, key, create_rev, version, lease, deleted, prev_id, value) VALUES (@id, @key, @create_rev, @version, @lease, @deleted, @prev_id, @value)',
    ),
    /**
     * The live keys of a range at a revision: per key the row with the largest id below the bound
     * (SQLite takes bare columns from the MAX() row), tombstones dropped.
     */
    rangeStmt(openEnd: boolean, keysOnly: boolean, descending: boolean): Database.Statement {
      const name = `${openEnd}/${keysOnly}/${descending}`;
      let stmt = rangeCache.get(name);
      if (!stmt) {
        stmt = db.prepare(
          `SELECT ${cols}${keysOnly ? '' : ', value'}, MAX(id) AS max_id FROM log
           WHERE key >= ?${openEnd ? '' : ' AND key < ?'} AND id < ?
           GROUP BY key HAVING deleted = 0 ORDER BY key ${descending ? 'DESC' : 'ASC'} LIMIT ?`,
        );
        rangeCache.set(name, stmt);
      }
      return stmt;
    },
    countRange: db.prepare(
      `SELECT COUNT(*) AS n FROM (SELECT MAX(id), deleted FROM log WHERE key >= ? AND key < ? AND id < ? GROUP BY key HAVING deleted = 0)`,
    ),
    countOpen: db.prepare(
      `SELECT COUNT(*) AS n FROM (SELECT MAX(id), deleted FROM log WHERE key >= ? AND id < ? GROUP BY key HAVING deleted = 0)`,
    ),
    history: db.prepare(
      `SELECT l.id, l.key, l.create_rev, l.version, l.lease, l.deleted, l.prev_id, l.value,
              p.id AS p_id, p.create_rev AS p_create_rev, p.version AS p_version, p.lease AS p_lease,
              p.deleted AS p_deleted, p.value AS p_value
       FROM log l LEFT JOIN log p ON p.id = l.prev_id
       WHERE l.id >= ? AND l.id < ? ORDER BY l.id`,
    ),
    deleteSuperseded: db.prepare(
      'DELETE FROM log WHERE id IN (SELECT prev_id FROM log WHERE id >= ? AND id < ? AND prev_id > 0)',
    ),
    deleteTombstones: db.prepare('DELETE FROM log WHERE id >= ? AND id < ? AND deleted = 1'),
    allLeases: db.prepare('SELECT id, ttl FROM lease'),
    insertLease: db.prepare('INSERT INTO lease (id, ttl) VALUES (?, ?)'),
    deleteLease: db.prepare('DELETE FROM lease WHERE id = ?'),
    keysOfLease: db.prepare(
      'SELECT key, MAX(id) AS id, deleted, lease FROM log GROUP BY key HAVING deleted = 0 AND lease = ?',
    ),
  };
}

function rowToKV(row: LogRow, keysOnly?: boolean): KeyValue {
  return {
    key: row.key,
    value: keysOnly ? EMPTY : (row.value ?? EMPTY),
    createRevision: row.create_rev,
    modRevision: revisionOf(row.id),
    version: row.version,
    lease: row.lease,
  };
}

function tombstoneKV(key: Buffer, rev: number): KeyValue {
  return { key, value: EMPTY, createRevision: 0, modRevision: rev, version: 0, lease: 0 };
}

function historyEvent(row: HistoryRow): WatchEvent {
  const prevKv =
    row.p_id !== null && !row.p_deleted
      ? rowToKV({
          id: row.p_id,
          key: row.key,
          create_rev: row.p_create_rev!,
          version: row.p_version!,
          lease: row.p_lease!,
          deleted: 0,
          prev_id: 0,
          value: row.p_value,
        })
      : undefined;
  if (row.deleted) return { type: 'delete', kv: tombstoneKV(row.key, revisionOf(row.id)), prevKv };
  return { type: 'put', kv: rowToKV(row), prevKv };
}

function compareValues(actual: number | Buffer, operand: number | Buffer, result: Compare['result']): boolean {
  let c: number;
  if (Buffer.isBuffer(actual)) {
    c = Buffer.compare(actual, Buffer.isBuffer(operand) ? operand : Buffer.from(String(operand)));
  } else {
    const want = typeof operand === 'number' ? operand : Number(operand.toString());
    c = actual === want ? 0 : actual < want ? -1 : 1;
  }
  switch (result) {
    case 'equal':
      return c === 0;
    case 'not_equal':
      return c !== 0;
    case 'greater':
      return c > 0;
    case 'less':
      return c < 0;
  }
}

function sortKVs(kvs: KeyValue[], target: string, order: string): KeyValue[] {
  const pick = (kv: KeyValue): number | Buffer =>
    target === 'version' ? kv.version : target === 'create' ? kv.createRevision : target === 'mod' ? kv.modRevision : kv.value;
  const sorted = [...kvs].sort((a, b) => {
    const x = pick(a);
    const y = pick(b);
    const c = Buffer.isBuffer(x) ? Buffer.compare(x, y as Buffer) : (x as number) - (y as number);
    return c !== 0 ? c : Buffer.compare(a.key, b.key);
  });
  return order === 'descend' ? sorted.reverse() : sorted;
}

function txnWrites(req: TxnRequest): boolean {
  const writes = (ops: RequestOp[]): boolean =>
    ops.some((op) => 'put' in op || 'deleteRange' in op || ('txn' in op && txnWrites(op.txn)));
  return writes(req.success) || writes(req.failure);
}

/** etcd's request checks: sizes, keys present, no key written twice in one branch. */
export function validateTxn(req: TxnRequest): void {
  let bytes = 0;
  const checkBranch = (ops: RequestOp[]): void => {
    const putKeys = new Set<string>();
    const deletes: KeyRange[] = [];
    for (const op of ops) {
      if ('put' in op) {
        const { key, value } = op.put;
        if (key.length === 0) throw new StorageError('InvalidRequest', 'etcdserver: key is not provided');
        if (value.length > MAX_VALUE_BYTES) {
          throw new StorageError('ValueTooLarge', `etcdserver: request is too large (value of ${value.length} bytes)`);
        }
        bytes += key.length + value.length;
        const k = key.toString('latin1');
        if (putKeys.has(k)) throw new StorageError('InvalidRequest', 'etcdserver: duplicate key given in txn request');
        putKeys.add(k);
      } else if ('deleteRange' in op) {
        if (op.deleteRange.key.length === 0) throw new StorageError('InvalidRequest', 'etcdserver: key is not provided');
        deletes.push(op.deleteRange);
      } else if ('range' in op) {
        if (op.range.key.length === 0) throw new StorageError('InvalidRequest', 'etcdserver: key is not provided');
      } else {
        validateTxn(op.txn);
      }
    }
    for (const k of putKeys) {
      const key = Buffer.from(k, 'latin1');
      if (deletes.some((d) => inRange(key, d))) {
        throw new StorageError('InvalidRequest', 'etcdserver: duplicate key given in txn request');
      }
    }
  };
  checkBranch(req.success);
  checkBranch(req.failure);
  // etcd limits a whole request; allow a full-size value with its key and a little framing.
  if (bytes > MAX_VALUE_BYTES + 64 * 1024) {
    throw new StorageError('ValueTooLarge', `etcdserver: request is too large (${bytes} bytes)`);
  }
}

/** Errors that fail one request of a batch, not the batch. */
function isRequestError(err: unknown): boolean {
  return (
    isStorageError(err) &&
    (err.code === 'InvalidRequest' || err.code === 'LeaseNotFound' || err.code === 'KeyNotFound' ||
      err.code === 'ValueTooLarge' || err.code === 'TooOldRevision' || err.code === 'FutureRevision')
  );
}

/** Maps an SQLite failure to a StorageError that says what is wrong with which file. */
export function toStorageError(err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message ?? String(err);
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_BUSY')) {
    return new StorageError('Locked', `${path} is in use by another process (${message}); stop it or use another --data-dir`, {
      cause: err,
    });
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StorageError('Corrupt', `${path} is not a usable k8ts database (${message}); restore it from a backup`, {
      cause: err,
    });
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    return new StorageError('Unavailable', `${path}: ${message}`, { cause: err });
  }
  if (code === 'EACCES' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'EROFS') {
    return new StorageError('Unavailable', `${path}: ${message}`, { cause: err });
  }
  return new StorageError('Internal', `${path}: ${message}`, { cause: err });
}
