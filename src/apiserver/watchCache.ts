// The watch cache of one resource: it lists the resource once, follows the store's watch,
// and serves every API watch (and resourceVersion="0" lists) from memory, so thousands of
// watchers cost the store one watch. Each API watcher has its own bounded queue; one that
// cannot keep up is closed (its stream just ends, as upstream's cacher does, and the client
// re-watches from the last resourceVersion it saw), never slowing the others.

import { isStorageError } from '../storage/errors.js';
import type { Store, StoredObject } from '../storage/store.js';
import { logger } from '../util/log.js';

const log = logger('watch-cache');

export type K8sObject = Record<string, any> & { metadata: Record<string, any> };

export interface CachedEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  revision: number;
  object: K8sObject;
  /** The object before this event (MODIFIED, DELETED). */
  prev?: K8sObject | undefined;
  /** `object` as JSON, when the cache already has it. */
  raw?: string;
  /** The watch line of this event as each type a watcher may see it as, encoded once for all watchers. */
  encoded?: Partial<Record<'ADDED' | 'MODIFIED' | 'DELETED', string>>;
}

/** The JSON watch line of `ev` seen as `type`, shared by every watcher that receives it. */
export function encodedWatchLine(ev: CachedEvent, type: 'ADDED' | 'MODIFIED' | 'DELETED'): string {
  ev.encoded ??= {};
  return (ev.encoded[type] ??= `{"type":"${type}","object":${ev.raw ?? JSON.stringify(ev.object)}}\n`);
}

export type WatchItem = CachedEvent | { type: 'BOOKMARK'; revision: number } | { type: 'ERROR'; error: Error };

/** Decodes a stored object, putting its revision in as the resourceVersion. */
export function decodeObject(o: StoredObject): K8sObject {
  const obj = JSON.parse(o.value.toString('utf8')) as K8sObject;
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(o.modRevision);
  return obj;
}

export class TooOldResourceVersion extends Error {
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

/** Events kept for watches that resume; older resumes are served from the store. */
const HISTORY_EVENTS = 1000;
/**
 * Events queued for one watcher before it is closed. Upstream's cacher holds 10–1,000 per watcher
 * and waits at most 100 ms for room; ours is larger because one busy event loop both produces
 * events and writes them out, so a healthy client can briefly trail by thousands.
 */
const WATCHER_QUEUE_EVENTS = 10_000;

export interface WatchCacheOptions {
  /** Events queued for one watcher before it is closed (default 10,000). */
  watcherQueueEvents?: number;
}

interface Watcher {
  push(item: WatchItem): boolean;
}

export class WatchCache {
  /**
   * The current objects as JSON (a third of their size as JS objects): lists and watches mostly
   * serialize them, and parsing on demand is cheaper than holding every object decoded.
   */
  private readonly objects = new Map<string, string>();
  private readonly history: CachedEvent[] = [];
  /** Revision the cache is current at. */
  revision = 0;
  /** Events at or below this revision are no longer in `history`. */
  private oldest = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly waiters: Array<{ revision: number; resolve: () => void }> = [];
  private readonly ac = new AbortController();
  private readonly watcherQueueEvents: number;
  /** Watchers closed because they fell too far behind (upstream's apiserver_terminated_watchers_total). */
  terminatedWatchers = 0;
  readonly ready: Promise<void>;

  /**
   * `prepare` (the registry's apiVersion/kind) is applied once when objects are decoded. Event
   * objects are shared read-only by every watcher; snapshots hand out fresh copies.
   */
  constructor(
    private readonly store: Store,
    readonly prefix: string,
    private readonly prepare: (obj: K8sObject) => K8sObject = (o) => o,
    private readonly onError: (err: unknown) => void = () => {},
    options: WatchCacheOptions = {},
  ) {
    this.watcherQueueEvents = options.watcherQueueEvents ?? WATCHER_QUEUE_EVENTS;
    this.ready = this.run();
    this.ready.catch(() => {});
    // History the store has compacted away is not served from memory either: a watch from
    // there gets 410, like a list at that revision does.
    this.stopCompactListener = store.onCompact((revision) => this.forget(revision));
  }

  private readonly stopCompactListener: () => void;

  private forget(revision: number): void {
    while (this.history.length > 0 && this.history[0]!.revision <= revision) this.history.shift();
    this.oldest = Math.max(this.oldest, revision);
  }

  private async load(): Promise<number> {
    this.objects.clear();
    let token: string | undefined;
    let revision = 0;
    do {
      const page = await this.store.list(this.prefix, { limit: 500, continueFrom: token });
      revision = page.revision;
      for (const item of page.items) this.objects.set(item.key, JSON.stringify(this.prepare(decodeObject(item))));
      token = page.continue;
    } while (token);
    return revision;
  }

  private async run(): Promise<void> {
    const revision = await this.load();
    this.revision = revision;
    this.oldest = revision;
    void this.follow(revision);
  }

  /** Follows the store; on a broken watch it resumes, and after compaction it relists. */
  private async follow(from: number): Promise<void> {
    let since = from;
    while (!this.ac.signal.aborted) {
      try {
        for await (const e of this.store.watch(this.prefix, since, this.ac.signal, { progressNotifyMs: 1000 })) {
          if (e.type === 'progress') {
            if (e.revision > this.revision) this.advance(e.revision);
            continue;
          }
          const decode = (o: StoredObject) => this.prepare(decodeObject(o));
          const key0 = e.type === 'deleted' ? e.prev.key : e.object.key;
          // The previous version is the one in memory; decode only if the cache somehow lacks it.
          const known = this.objects.get(key0);
          const prev = (): K8sObject => (known !== undefined ? (JSON.parse(known) as K8sObject) : decode((e as { prev: StoredObject }).prev));
          const ev: CachedEvent =
            e.type === 'created'
              ? { type: 'ADDED', revision: e.revision, object: decode(e.object) }
              : e.type === 'updated'
                ? { type: 'MODIFIED', revision: e.revision, object: decode(e.object), prev: prev() }
                : { type: 'DELETED', revision: e.revision, object: withRevision(decode(e.prev), e.revision), prev: prev() };
          const key = e.type === 'deleted' ? e.prev.key : e.object.key;
          if (ev.type === 'DELETED') this.objects.delete(key);
          else {
            ev.raw = JSON.stringify(ev.object);
            this.objects.set(key, ev.raw);
          }
          this.history.push(ev);
          if (this.history.length > HISTORY_EVENTS) this.oldest = this.history.shift()!.revision;
          since = e.revision;
          this.advance(e.revision);
          for (const w of this.watchers) if (!w.push(ev)) this.watchers.delete(w);
        }
      } catch (err) {
        if (this.ac.signal.aborted) return;
        if (isStorageError(err, 'TooOldRevision')) {
          // We fell behind compaction: start over from a fresh list; watchers must re-watch.
          for (const w of this.watchers) w.push({ type: 'ERROR', error: new TooOldResourceVersion(since, since) });
          this.watchers.clear();
          this.history.length = 0;
          since = await this.load().catch(() => since);
          this.revision = since;
          this.oldest = since;
          continue;
        }
        this.onError(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private advance(revision: number): void {
    this.revision = revision;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.revision <= revision) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Waits until the cache has seen `revision` (false after `ms`). */
  async waitFor(revision: number, ms: number): Promise<boolean> {
    await this.ready;
    if (this.revision >= revision) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(entry);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, ms);
      const entry = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.waiters.push(entry);
    });
  }

  /** The cached object at a store key, if the cache has it (a fresh copy). */
  cached(key: string): K8sObject | undefined {
    const raw = this.objects.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as K8sObject);
  }

  /** How many objects the cache holds. */
  get size(): number {
    return this.objects.size;
  }

  /** The current objects (fresh copies) and the revision they are current at. */
  async snapshot(): Promise<{ items: K8sObject[]; revision: number }> {
    await this.ready;
    return { items: [...this.objects.values()].map((raw) => JSON.parse(raw) as K8sObject), revision: this.revision };
  }

  /**
   * Streams events after `from` (or, with `initial`, the current state as ADDED first).
   * Throws TooOldResourceVersion if `from` is older than the history kept.
   */
  async *watch(from: number | 'now', opts: { initial: boolean; signal: AbortSignal; bookmarkMs?: number }): AsyncIterable<WatchItem> {
    await this.ready;
    const queue: WatchItem[] = [];
    let wake: (() => void) | undefined;
    let overflowed = false;
    const limit = this.watcherQueueEvents;
    const watcher: Watcher = {
      push(item) {
        if (queue.length >= limit) {
          overflowed = true;
          wake?.();
          return false;
        }
        queue.push(item);
        wake?.();
        return true;
      },
    };
    // Registering and reading history happen in one synchronous step: nothing can slip between.
    if (opts.initial) {
      for (const raw of this.objects.values()) queue.push({ type: 'ADDED', revision: this.revision, object: JSON.parse(raw) as K8sObject, raw });
    } else if (from !== 'now') {
      if (from < this.oldest) throw new TooOldResourceVersion(from, this.oldest + 1);
      for (const ev of this.history) if (ev.revision > from) queue.push(ev);
    }
    this.watchers.add(watcher);
    const onAbort = () => wake?.();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    let lastSent = Date.now();
    try {
      while (!opts.signal.aborted) {
        if (overflowed) {
          // As upstream's cacher ("Forcing watcher close due to unresponsiveness"): the stream ends
          // without an ERROR event and the queued events are dropped; a client re-watches from the
          // last resourceVersion it received (from the store if the history no longer has it).
          this.terminatedWatchers++;
          log.warn({ prefix: this.prefix, queued: queue.length }, 'closing a watcher that fell too far behind');
          return;
        }
        const item = queue.shift();
        if (item) {
          lastSent = Date.now();
          yield item;
          if (item.type === 'ERROR') return;
          continue;
        }
        if (opts.bookmarkMs && Date.now() - lastSent >= opts.bookmarkMs) {
          lastSent = Date.now();
          yield { type: 'BOOKMARK', revision: this.revision };
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (opts.bookmarkMs) setTimeout(resolve, Math.max(10, opts.bookmarkMs - (Date.now() - lastSent))).unref();
        });
        wake = undefined;
      }
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      this.watchers.delete(watcher);
    }
  }

  /** Watches from revisions below this are not in memory (storeWatch serves them). */
  get oldestRevision(): number {
    return this.oldest;
  }

  /**
   * A watch served straight from the store, for revisions older than the cache's history but
   * still within the store's (caches start lazily, so a list may predate its cache).
   */
  async *storeWatch(from: number, signal: AbortSignal): AsyncIterable<WatchItem> {
    try {
      const decode = (o: StoredObject) => this.prepare(decodeObject(o));
      for await (const e of this.store.watch(this.prefix, from, signal)) {
        if (e.type === 'progress') continue;
        if (e.type === 'created') yield { type: 'ADDED', revision: e.revision, object: decode(e.object) };
        else if (e.type === 'updated') yield { type: 'MODIFIED', revision: e.revision, object: decode(e.object), prev: decode(e.prev) };
        else yield { type: 'DELETED', revision: e.revision, object: withRevision(decode(e.prev), e.revision), prev: decode(e.prev) };
      }
    } catch (err) {
      if (isStorageError(err, 'TooOldRevision')) {
        yield { type: 'ERROR', error: new TooOldResourceVersion(from, err.compactRevision ?? 0) };
        return;
      }
      throw err;
    }
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  stop(): void {
    this.ac.abort();
    this.stopCompactListener();
  }
}

function withRevision(obj: K8sObject, revision: number): K8sObject {
  obj.metadata.resourceVersion = String(revision);
  return obj;
}
