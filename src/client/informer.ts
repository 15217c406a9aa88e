// SharedInformer: one list+watch of a resource (the reflector), a local cache (the indexer) and
// event handlers fed from it, as client-go's tools/cache. Components read through the informer's
// Lister and react to handler calls by enqueueing keys (architecture rule 2).
import { isGone } from './apiError.js';
import { realClock, sleep, type Clock, type TimerHandle } from './clock.js';
import { Indexer, metaNamespaceKey, type Indexers } from './indexer.js';
import type { Lister } from './lister.js';
import type { KubeObject, ObjectList, ResourceClient, SelectorOptions } from './resourceClient.js';
import { logger, type Logger } from '../util/log.js';

/** Drops metadata.managedFields, which no controller reads (upstream's informers do the same). */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _drop, ...metadata } = obj.metadata as Record<string, unknown>;
  return { ...obj, metadata } as T;
}

export interface ResourceEventHandler<T> {
  /** A new object; `isInInitialList` for objects of the first list (and the catch-up adds of a late handler). */
  onAdd?(obj: Readonly<T>, isInInitialList: boolean): void;
  /** A change, a relist of an existing object, or a resync (then `oldObj === newObj`). */
  onUpdate?(oldObj: Readonly<T>, newObj: Readonly<T>): void;
  /**
   * The object is gone. When the delete was missed (seen only as absence on relist) this is the last
   * state the cache knew, which may be stale: compare UIDs, do not trust its spec.
   */
  onDelete?(obj: Readonly<T>): void;
}

export interface HandlerRegistration {
  /** The informer has synced and this handler has been told about every object of the initial list. */
  hasSynced(): boolean;
  remove(): void;
}

export interface InformerOptions<T> extends SelectorOptions {
  /** Only this namespace (default all). */
  namespace?: string;
  /** Every this often, handlers get onUpdate(obj, obj) for every cached object. 0 = never (default). */
  resyncPeriodMs?: number;
  /** List page size (default 500). */
  pageSize?: number;
  indexers?: Indexers<T>;
  /** Server-side watch timeout; default a random 5–10 minutes as upstream. */
  watchTimeoutSeconds?: number;
  /** Back-off between failed list/watch attempts: from initial (800 ms) doubling to max (30 s), jittered. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  /**
   * Applied to every object before it is cached and handed to handlers (client-go's
   * TransformFunc); components use it to drop what they never read, e.g. managedFields.
   */
  transform?: (obj: T) => T;
  /** Names the informer in logs (default the resource). */
  name?: string;
}

type Notification<T> =
  | { kind: 'add'; obj: Readonly<T>; initial: boolean }
  | { kind: 'update'; old: Readonly<T>; obj: Readonly<T> }
  | { kind: 'delete'; obj: Readonly<T> };

/** One handler's buffer (client-go's processorListener): a slow or throwing handler never blocks the others. */
class Listener<T> {
  private buffer: Notification<T>[] = [];
  private scheduled = false;
  removed = false;
  initialPending = 0;

  constructor(
    readonly handler: ResourceEventHandler<T>,
    private readonly log: Logger,
  ) {}

  push(n: Notification<T>): void {
    if (this.removed) return;
    if (n.kind === 'add' && n.initial) this.initialPending++;
    this.buffer.push(n);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.buffer;
    this.buffer = [];
    for (const n of batch) {
      if (n.kind === 'add' && n.initial) this.initialPending--;
      if (this.removed) continue;
      try {
        if (n.kind === 'add') this.handler.onAdd?.(n.obj, n.initial);
        else if (n.kind === 'update') this.handler.onUpdate?.(n.old, n.obj);
        else this.handler.onDelete?.(n.obj);
      } catch (err) {
        this.log.error({ err }, 'event handler threw');
      }
    }
  }
}

export class SharedInformer<T extends KubeObject> implements Lister<T> {
  readonly indexer: Indexer<T>;
  readonly name: string;
  private readonly listeners = new Set<Listener<T>>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private synced = false;
  private syncWaiters: Array<(ok: boolean) => void> = [];
  private started = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private lastRV = '';
  private runPromise: Promise<void> | undefined;
  private resyncTimer: TimerHandle | undefined;
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, relistsAfterGone: 0 };

  constructor(
    readonly resource: ResourceClient<T>,
    readonly options: InformerOptions<T> = {},
  ) {
    this.indexer = new Indexer<T>(options.indexers ?? {});
    this.clock = options.clock ?? realClock;
    const r = resource.info;
    this.name = options.name ?? (r.group ? `${r.plural}.${r.group}` : r.plural);
    this.log = logger('informer').child({ resource: this.name });
  }

  // ---- Lister ----

  get(namespace: string | undefined, name: string): Readonly<T> | undefined {
    return this.indexer.get(namespace, name);
  }

  list(namespace?: string): readonly Readonly<T>[] {
    return this.indexer.list(namespace);
  }

  byIndex(indexName: string, value: string): Readonly<T>[] {
    return this.indexer.byIndex(indexName, value);
  }

  addIndexers(indexers: Indexers<T>): void {
    this.indexer.addIndexers(indexers);
  }

  /** The resourceVersion the cache is current to ('' before the first list). */
  lastSyncResourceVersion(): string {
    return this.lastRV;
  }

  // ---- handlers ----

  /** Adds a handler; when added to a running informer it first gets an add for every cached object. */
  addEventHandler(handler: ResourceEventHandler<T>): HandlerRegistration {
    const listener = new Listener<T>(handler, this.log);
    this.listeners.add(listener);
    if (this.started) for (const obj of this.indexer.list()) listener.push({ kind: 'add', obj, initial: true });
    return {
      hasSynced: () => this.synced && listener.initialPending === 0,
      remove: () => {
        listener.removed = true;
        this.listeners.delete(listener);
      },
    };
  }

  // ---- lifecycle ----

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once the first list is in the cache; false if `signal` aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopped || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(done);
    });
  }

  /** Starts list+watch in the background (idempotent); `signal` or stop() ends it. */
  start(signal?: AbortSignal): void {
    if (this.started || this.stopped) return;
    this.started = true;
    signal?.addEventListener('abort', () => this.stop(), { once: true });
    if (signal?.aborted) {
      this.stop();
      return;
    }
    this.runPromise = this.runReflector().catch((err: unknown) => this.log.error({ err }, 'reflector failed'));
    this.scheduleResync();
  }

  /** Starts (if needed) and resolves when the informer has stopped. */
  async run(signal?: AbortSignal): Promise<void> {
    this.start(signal);
    await this.runPromise;
  }

  /** Stops list+watch; the cache keeps its last contents. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort(new Error(`informer ${this.name} stopped`));
    this.resyncTimer?.cancel();
    for (const w of this.syncWaiters.splice(0)) w(false);
  }

  // ---- reflector ----

  private async runReflector(): Promise<void> {
    const signal = this.abort.signal;
    let needList = true;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.listAndReplace(signal);
          needList = false;
        }
        const progressed = await this.watchOnce(signal);
        if (progressed) failures = 0;
        else if (!signal.aborted) {
          // A watch that ended at once without news is a failure in disguise (a dying server).
          await sleep(this.backoff(failures++), signal, this.clock);
        }
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          // Our resourceVersion was compacted away: only a fresh list can bring the cache up to date.
          this.log.info({ rv: this.lastRV }, 'watch expired (410); relisting');
          this.stats.relistsAfterGone++;
          needList = true;
          this.lastRV = '';
        } else {
          this.log.warn({ err: errText(err), needList }, 'list/watch failed; retrying');
        }
        try {
          await sleep(this.backoff(failures++), signal, this.clock);
        } catch {
          break;
        }
      }
    }
  }

  private backoff(failures: number): number {
    const initial = this.options.initialBackoffMs ?? 800;
    const max = this.options.maxBackoffMs ?? 30_000;
    const d = Math.min(max, initial * 2 ** Math.min(failures, 30));
    return d / 2 + (Math.random() * d) / 2;
  }

  private selectorOptions(): SelectorOptions & { namespace?: string } {
    const o: SelectorOptions & { namespace?: string } = {};
    if (this.options.namespace) o.namespace = this.options.namespace;
    if (this.options.labelSelector !== undefined) o.labelSelector = this.options.labelSelector;
    if (this.options.fieldSelector !== undefined) o.fieldSelector = this.options.fieldSelector;
    return o;
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    this.stats.lists++;
    let list: ObjectList<T>;
    try {
      list = await this.resource.listAll({ ...this.selectorOptions(), limit: this.options.pageSize ?? 500, signal });
    } catch (err) {
      // A continue token that expired mid-list: fall back to one unpaged list, as client-go's pager does.
      if (!isGone(err)) throw err;
      list = await this.resource.list({ ...this.selectorOptions(), signal });
    }
    if (signal.aborted) return;
    const apiVersion = this.resource.apiVersion;
    const kind = this.resource.info.kind;
    const t = this.options.transform;
    const items = list.items.map((o) => {
      const typed = o.apiVersion && o.kind ? o : ({ ...o, apiVersion, ...(kind ? { kind } : {}) } as T);
      return t ? t(typed) : typed;
    });
    this.replace(items, list.metadata?.resourceVersion ?? '');
  }

  /** Makes the cache equal to a fresh list; objects that vanished are delivered as deletes of their last known state. */
  private replace(items: T[], resourceVersion: string): void {
    const initial = !this.synced;
    const fresh = new Set<string>();
    for (const obj of items) fresh.add(metaNamespaceKey(obj));
    for (const key of this.indexer.listKeys()) {
      if (fresh.has(key)) continue;
      const gone = this.indexer.deleteKey(key)!;
      this.notify({ kind: 'delete', obj: gone });
    }
    for (const obj of items) {
      const old = this.indexer.upsert(obj);
      this.notify(old ? { kind: 'update', old, obj } : { kind: 'add', obj, initial });
    }
    this.lastRV = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w(true);
    }
  }

  /** One watch from lastRV. Returns whether it delivered anything (or lasted); throws ApiError/ConnectionError. */
  private async watchOnce(signal: AbortSignal): Promise<boolean> {
    this.stats.watches++;
    const started = this.clock.now();
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? Math.floor(300 * (1 + Math.random()));
    const events = await this.resource.watch({
      ...this.selectorOptions(),
      resourceVersion: this.lastRV,
      allowWatchBookmarks: true,
      timeoutSeconds,
      signal,
    });
    let progressed = false;
    for await (const ev of events) {
      progressed = true;
      const rv = ev.object.metadata?.resourceVersion;
      if (ev.type === 'BOOKMARK') {
        if (rv) this.lastRV = rv;
        continue;
      }
      const key = metaNamespaceKey(ev.object);
      const obj = this.options.transform ? this.options.transform(ev.object) : ev.object;
      if (ev.type === 'DELETED') {
        this.indexer.deleteKey(key);
        this.notify({ kind: 'delete', obj });
      } else {
        const old = this.indexer.upsert(obj);
        this.notify(old ? { kind: 'update', old, obj } : { kind: 'add', obj, initial: false });
      }
      if (rv) this.lastRV = rv;
    }
    return progressed || this.clock.now() - started >= 1000;
  }

  private notify(n: Notification<T>): void {
    for (const l of this.listeners) l.push(n);
  }

  private scheduleResync(): void {
    const period = this.options.resyncPeriodMs ?? 0;
    if (period <= 0 || this.stopped) return;
    this.resyncTimer = this.clock.setTimer(() => {
      if (this.stopped) return;
      if (this.synced) for (const obj of this.indexer.list()) this.notify({ kind: 'update', old: obj, obj });
      this.scheduleResync();
    }, period);
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
