// client-go's EventCorrelator (tools/record/events_cache.go), pure: decides for each core/v1 Event
// whether to create it, patch the count of an identical earlier one, fold it into a
// "(combined from similar events)" event, or drop it as spam.
import type { Event } from 'kubernetes-types/core/v1.js';
import { realClock, type Clock } from './clock.js';
import { LruCache } from './lru.js';
import { rfc3339 } from './microTime.js';
import { TokenBucket } from './tokenBucket.js';

export interface CorrelatorOptions {
  /** Entries per cache (default 4096). */
  lruCacheSize?: number;
  /** Spam filter: events per source+object allowed at once (default 25)… */
  burst?: number;
  /** …and refilled at this rate (default 1 per 5 minutes). */
  qps?: number;
  /** Similar events (same source, object, type, reason) before they are combined (default 10)… */
  maxEvents?: number;
  /** …within this window since the last similar one (default 600 s). */
  maxIntervalSeconds?: number;
  clock?: Clock;
}

export interface CorrelateResult {
  /** The event to write (with name/count/firstTimestamp of the earlier occurrence when it repeats). */
  event: Event;
  /** A strategic-merge patch of count/lastTimestamp/message when the event repeats an earlier one. */
  patch?: { count: number; lastTimestamp: string; message?: string };
  skip: boolean;
}

export const COMBINED_PREFIX = '(combined from similar events): ';

const join = (parts: Array<string | undefined>): string => parts.map((p) => p ?? '').join('');

/** Identical events: everything but time and count. */
export function eventKey(e: Event): string {
  const o = e.involvedObject;
  return join([e.source?.component, e.source?.host, o.kind, o.namespace, o.name, o.fieldPath, o.uid, o.apiVersion, e.type, e.reason, e.message]);
}

/** The spam filter's key: source and object (and type). */
export function spamKey(e: Event): string {
  const o = e.involvedObject;
  return join([e.source?.component, e.source?.host, o.kind, o.namespace, o.name, o.uid, o.apiVersion, e.type]);
}

/** Similar events: identical but for the message. */
export function aggregateKey(e: Event): string {
  const o = e.involvedObject;
  return join([e.source?.component, e.source?.host, o.kind, o.namespace, o.name, o.uid, o.apiVersion, e.type, e.reason, e.reportingComponent, e.reportingInstance]);
}

interface AggregateRecord {
  localKeys: Set<string>;
  lastTimestamp: number;
}

interface EventLog {
  count: number;
  firstTimestamp: string | undefined;
  name: string | undefined;
  resourceVersion: string | undefined;
}

export class EventCorrelator {
  private readonly clock: Clock;
  private readonly aggregates: LruCache<string, AggregateRecord>;
  private readonly logs: LruCache<string, EventLog>;
  private readonly spam: LruCache<string, TokenBucket>;
  private readonly burst: number;
  private readonly qps: number;
  private readonly maxEvents: number;
  private readonly maxIntervalMs: number;

  constructor(opts: CorrelatorOptions = {}) {
    const size = opts.lruCacheSize ?? 4096;
    this.clock = opts.clock ?? realClock;
    this.aggregates = new LruCache(size);
    this.logs = new LruCache(size);
    this.spam = new LruCache(size);
    this.burst = opts.burst ?? 25;
    this.qps = opts.qps ?? 1 / 300;
    this.maxEvents = opts.maxEvents ?? 10;
    this.maxIntervalMs = (opts.maxIntervalSeconds ?? 600) * 1000;
  }

  /** Aggregate, then observe (count repeats), then filter spam, in upstream's order. */
  correlate(newEvent: Event): CorrelateResult {
    const { event: aggregated, key } = this.aggregate(newEvent);
    const { event, patch } = this.observe(aggregated, key);
    return { event, ...(patch ? { patch } : {}), skip: this.isSpam(event) };
  }

  /** Records what the server returned (name, resourceVersion, count) so the next repeat patches it. */
  updateState(event: Event): void {
    this.logs.set(eventKey(event), {
      count: event.count ?? 1,
      firstTimestamp: event.firstTimestamp,
      name: event.metadata?.name,
      resourceVersion: event.metadata?.resourceVersion,
    });
  }

  private aggregate(newEvent: Event): { event: Event; key: string } {
    const now = this.clock.now();
    const fullKey = eventKey(newEvent);
    const aggKey = aggregateKey(newEvent);
    let record = this.aggregates.get(aggKey);
    if (!record || now - record.lastTimestamp > this.maxIntervalMs) record = { localKeys: new Set(), lastTimestamp: 0 };
    record.localKeys.add(newEvent.message ?? '');
    record.lastTimestamp = now;
    this.aggregates.set(aggKey, record);
    if (record.localKeys.size < this.maxEvents) return { event: newEvent, key: fullKey };
    // Keep the set at most max-1 large so every further similar event is combined too.
    const any = record.localKeys.values().next().value;
    if (any !== undefined) record.localKeys.delete(any);
    const ts = rfc3339(now);
    const combined: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: eventName(newEvent.involvedObject.name ?? '', now), namespace: newEvent.metadata?.namespace ?? 'default' },
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      involvedObject: newEvent.involvedObject,
      message: COMBINED_PREFIX + (newEvent.message ?? ''),
      type: newEvent.type,
      reason: newEvent.reason,
      source: newEvent.source,
    };
    if (newEvent.reportingComponent !== undefined) combined.reportingComponent = newEvent.reportingComponent;
    if (newEvent.reportingInstance !== undefined) combined.reportingInstance = newEvent.reportingInstance;
    return { event: combined, key: aggKey };
  }

  private observe(newEvent: Event, key: string): { event: Event; patch?: CorrelateResult['patch'] } {
    const last = this.logs.get(key);
    const event: Event = { ...newEvent };
    let patch: CorrelateResult['patch'];
    if (last && last.count > 0) {
      const { resourceVersion: _rv, ...meta } = newEvent.metadata ?? {};
      event.metadata = { ...meta, ...(last.name ? { name: last.name } : {}), ...(last.resourceVersion ? { resourceVersion: last.resourceVersion } : {}) };
      if (last.firstTimestamp) event.firstTimestamp = last.firstTimestamp;
      event.count = last.count + 1;
      patch = { count: event.count, lastTimestamp: event.lastTimestamp ?? rfc3339(this.clock.now()) };
      if (event.message) patch.message = event.message;
    }
    this.logs.set(key, { count: event.count ?? 1, firstTimestamp: event.firstTimestamp, name: event.metadata?.name, resourceVersion: event.metadata?.resourceVersion });
    return patch ? { event, patch } : { event };
  }

  private isSpam(event: Event): boolean {
    const key = spamKey(event);
    let bucket = this.spam.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.qps, this.burst, this.clock);
      this.spam.set(key, bucket);
    }
    return !bucket.tryAccept();
  }
}

/** `<name>.<unix nanoseconds in hex>`, as util.GenerateEventName (16 hex digits today). */
export function eventName(objectName: string, ms: number, subMsNanos = 0): string {
  const nanos = BigInt(Math.trunc(ms)) * 1_000_000n + BigInt(subMsNanos);
  return `${objectName}.${nanos.toString(16)}`;
}
