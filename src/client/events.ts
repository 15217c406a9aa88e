// Event recorders. `EventRecorder` writes core/v1 Events as controllers do (client-go tools/record,
// with its correlator: counts, aggregation, spam filter); `EventsRecorder` writes events.k8s.io/v1
// Events as the scheduler does (tools/events: isomorphic repeats become a series). Recording never
// blocks or throws into the caller: events go through a bounded queue and failures are logged.
import { format } from 'node:util';
import type { Event as CoreEvent, ObjectReference } from 'kubernetes-types/core/v1.js';
import type { Event as EventsV1Event } from 'kubernetes-types/events/v1.js';
import { ApiError, isNotFound } from './apiError.js';
import { realClock, sleep, type Clock, type TimerHandle } from './clock.js';
import { EventCorrelator, eventName, type CorrelatorOptions } from './eventCorrelator.js';
import { microTime, rfc3339 } from './microTime.js';
import type { KubeObject, ResourceClient } from './resourceClient.js';
import type { RestClient } from './restClient.js';
import { logger } from '../util/log.js';

export type EventType = 'Normal' | 'Warning';

/** What an event can be about: an object with TypeMeta (apiVersion and kind set), or a reference. */
export type EventSubject = KubeObject | ObjectReference;

const MAX_QUEUED_EVENTS = 1000;
const MAX_TRIES_PER_EVENT = 12;

/** An ObjectReference to `subject` (client-go's reference.GetReference); undefined when kind/apiVersion are unknown. */
export function objectReference(subject: EventSubject): ObjectReference | undefined {
  if (!('metadata' in subject) || subject.metadata === undefined) {
    const ref = subject as ObjectReference;
    return ref.kind && ref.name ? { ...ref } : undefined;
  }
  const obj = subject as KubeObject;
  if (!obj.kind || !obj.apiVersion || !obj.metadata?.name) return undefined;
  const ref: ObjectReference = { kind: obj.kind, apiVersion: obj.apiVersion, name: obj.metadata.name };
  if (obj.metadata.namespace) ref.namespace = obj.metadata.namespace;
  if (obj.metadata.uid) ref.uid = obj.metadata.uid;
  if (obj.metadata.resourceVersion) ref.resourceVersion = obj.metadata.resourceVersion;
  return ref;
}

/** Unix time in nanoseconds for event names: the clock's milliseconds plus the sub-millisecond part of hrtime. */
function nameFor(objectName: string, ms: number): string {
  return eventName(objectName, ms, Number(process.hrtime.bigint() % 1_000_000n));
}

/** A bounded FIFO drained by one async worker; `push` never blocks and drops when full (upstream DropIfChannelFull). */
class EventQueue<E> {
  private readonly items: E[] = [];
  private running: Promise<void> | undefined;
  constructor(
    private readonly handle: (item: E) => Promise<void>,
    private readonly onDrop: (item: E) => void,
  ) {}

  push(item: E): void {
    if (this.items.length >= MAX_QUEUED_EVENTS) {
      this.onDrop(item);
      return;
    }
    this.items.push(item);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) {
        try {
          await this.handle(item);
        } catch {
          // handlers log their own failures
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}

interface RecorderCommon {
  client: RestClient;
  clock?: Clock;
  /** Sleep between write attempts when the server is unreachable (default 10 s; the first is randomized). */
  retrySleepMs?: number;
}

// ---------------------------------------------------------------------------------------------
// core/v1

export interface EventRecorderOptions extends RecorderCommon {
  /** source.component and reportingComponent, e.g. `replicaset-controller`. */
  component: string;
  /** source.host and reportingInstance (kubelets set their node name). */
  host?: string;
  correlator?: Omit<CorrelatorOptions, 'clock'>;
}

/** core/v1 events, as controllers record them (client-go's record.EventRecorder on a broadcaster). */
export class EventRecorder {
  private readonly events: ResourceClient<CoreEvent>;
  private readonly correlator: EventCorrelator;
  private readonly queue: EventQueue<CoreEvent>;
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private readonly log;

  constructor(readonly options: EventRecorderOptions) {
    this.events = options.client.resource<CoreEvent>('', 'v1', 'events');
    this.clock = options.clock ?? realClock;
    this.correlator = new EventCorrelator({ ...options.correlator, clock: this.clock });
    this.log = logger('event-recorder').child({ source: options.component });
    this.queue = new EventQueue((e) => this.recordToSink(e), (e) => this.log.error({ reason: e.reason, object: e.involvedObject.name }, 'too many queued events; dropped event'));
  }

  /** Records an event about `subject`; returns at once. */
  event(subject: EventSubject, type: EventType, reason: string, message: string): void {
    if (this.abort.signal.aborted) return;
    const ref = objectReference(subject);
    if (!ref) {
      this.log.error({ reason }, 'cannot make a reference to the object (kind, apiVersion and name are needed); event dropped');
      return;
    }
    if (type !== 'Normal' && type !== 'Warning') {
      this.log.error({ type }, 'unsupported event type; event dropped');
      return;
    }
    const now = this.clock.now();
    const ts = rfc3339(now);
    const source = { component: this.options.component, ...(this.options.host ? { host: this.options.host } : {}) };
    const event: CoreEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: nameFor(ref.name ?? '', now), namespace: ref.namespace || 'default' },
      involvedObject: ref,
      reason,
      message,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      type,
      source,
      reportingComponent: this.options.component,
      reportingInstance: this.options.host ?? '',
    };
    this.queue.push(event);
  }

  /** `event` with a printf-style message. */
  eventf(subject: EventSubject, type: EventType, reason: string, messageFormat: string, ...args: unknown[]): void {
    this.event(subject, type, reason, format(messageFormat, ...args));
  }

  /** Resolves when every event recorded so far has been written (or given up on). */
  flush(): Promise<void> {
    return this.queue.idle();
  }

  /** Stops writing; queued events are dropped. */
  shutdown(): void {
    this.abort.abort(new Error('event recorder shut down'));
  }

  private async recordToSink(input: CoreEvent): Promise<void> {
    if (this.abort.signal.aborted) return;
    const result = this.correlator.correlate(input);
    if (result.skip) return;
    const event = result.event;
    await withRetries(
      async () => {
        let written: CoreEvent | undefined;
        if ((event.count ?? 1) > 1 && result.patch) {
          try {
            written = await this.events.patch(event.metadata?.namespace, event.metadata?.name ?? '', result.patch, { type: 'strategic', signal: this.abort.signal });
          } catch (err) {
            // The earlier event may have expired (events have a TTL): create it afresh.
            if (!isNotFound(err)) throw err;
          }
        }
        if (!written) {
          const { resourceVersion: _rv, ...meta } = event.metadata ?? {};
          written = await this.events.create({ ...event, metadata: meta }, { signal: this.abort.signal });
        }
        this.correlator.updateState(written);
      },
      { log: this.log, what: `${event.reason} on ${event.involvedObject.kind}/${event.involvedObject.name}`, clock: this.clock, signal: this.abort.signal, sleepMs: this.options.retrySleepMs ?? 10_000, randomizeFirst: true },
    );
  }
}

/** Writes until success, a definitive server answer (ApiError: not retried, as upstream), or 12 tries. */
async function withRetries(
  write: () => Promise<void>,
  o: { log: ReturnType<typeof logger>; what: string; clock: Clock; signal: AbortSignal; sleepMs: number; randomizeFirst: boolean },
): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await write();
      return;
    } catch (err) {
      if (o.signal.aborted) return;
      if (err instanceof ApiError) {
        const level = err.reason === 'AlreadyExists' ? 'debug' : 'error';
        o.log[level]({ err: err.message, code: err.code }, `server rejected event (will not retry): ${o.what}`);
        return;
      }
      if (tries >= MAX_TRIES_PER_EVENT) {
        o.log.error({ err: String(err) }, `unable to write event (retry limit exceeded): ${o.what}`);
        return;
      }
      o.log.warn({ err: String(err) }, `unable to write event (may retry after sleeping): ${o.what}`);
      const delay = o.randomizeFirst && tries === 1 ? o.sleepMs * Math.random() : o.sleepMs * (0.75 + Math.random() * 0.5);
      try {
        await sleep(delay, o.signal, o.clock);
      } catch {
        return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// events.k8s.io/v1

export interface EventsRecorderOptions extends RecorderCommon {
  /** e.g. `default-scheduler`. */
  reportingController: string;
  /** e.g. `default-scheduler-<hostname>`. */
  reportingInstance: string;
  /** A series is written again this often while it lasts (upstream 30 min). */
  refreshIntervalMs?: number;
  /** A series (or single event) not seen for this long is finished and forgotten (upstream 6 min). */
  finishAfterMs?: number;
}

/** events.k8s.io/v1 events, as the scheduler records them (client-go's tools/events). */
export class EventsRecorder {
  private readonly events: ResourceClient<EventsV1Event>;
  /** isomorphic key → the event as first written (plus its series). */
  private readonly cache = new Map<string, EventsV1Event>();
  private readonly queue: EventQueue<{ event: EventsV1Event; key: string }>;
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private readonly timers: TimerHandle[] = [];
  private readonly log;

  constructor(readonly options: EventsRecorderOptions) {
    this.events = options.client.resource<EventsV1Event>('events.k8s.io', 'v1', 'events');
    this.clock = options.clock ?? realClock;
    this.log = logger('events-recorder').child({ reportingController: options.reportingController });
    this.queue = new EventQueue((item) => this.recordToSink(item.event, item.key), (item) => this.log.error({ reason: item.event.reason }, 'too many queued events; dropped event'));
    this.every(options.refreshIntervalMs ?? 30 * 60_000, () => this.refreshSeries());
    this.every(options.finishAfterMs ?? 6 * 60_000, () => this.finishSeries());
  }

  /** Records that `action` happened to `regarding` (and `related`) for `reason`; returns at once. */
  eventf(regarding: EventSubject, related: EventSubject | undefined, type: EventType, reason: string, action: string, note: string, ...args: unknown[]): void {
    if (this.abort.signal.aborted) return;
    const message = args.length ? format(note, ...args) : note;
    const refRegarding = objectReference(regarding);
    if (!refRegarding) {
      this.log.error({ reason }, 'cannot make a reference to the object (kind, apiVersion and name are needed); event dropped');
      return;
    }
    if (type !== 'Normal' && type !== 'Warning') {
      this.log.error({ type }, 'unsupported event type; event dropped');
      return;
    }
    const refRelated = related ? objectReference(related) : undefined;
    const now = this.clock.now();
    const event: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: nameFor(refRegarding.name ?? '', now), namespace: refRegarding.namespace || 'default' },
      eventTime: microTime(now),
      reportingController: this.options.reportingController,
      reportingInstance: this.options.reportingInstance,
      action,
      reason,
      regarding: refRegarding,
      ...(refRelated ? { related: refRelated } : {}),
      note: message,
      type,
    };
    this.enqueue(event);
  }

  flush(): Promise<void> {
    return this.queue.idle();
  }

  shutdown(): void {
    this.abort.abort(new Error('events recorder shut down'));
    for (const t of this.timers) t.cancel();
  }

  /** Upstream's dedup: the first occurrence is created, the second starts a series (patched), later ones only count. */
  private enqueue(event: EventsV1Event): void {
    const key = isomorphicKey(event);
    const cached = this.cache.get(key);
    const now = microTime(this.clock.now());
    if (!cached) {
      this.cache.set(key, event);
      this.queue.push({ event: structuredClone(event), key });
      return;
    }
    if (cached.series) {
      cached.series = { count: cached.series.count + 1, lastObservedTime: now };
      return;
    }
    cached.series = { count: 2, lastObservedTime: now };
    this.queue.push({ event: structuredClone(cached), key });
  }

  private async recordToSink(event: EventsV1Event, key: string): Promise<void> {
    if (this.abort.signal.aborted) return;
    await withRetries(
      async () => {
        const written = await this.write(event);
        const cached = this.cache.get(key);
        if (cached && written.metadata?.resourceVersion) cached.metadata = { ...cached.metadata, resourceVersion: written.metadata.resourceVersion };
      },
      { log: this.log, what: `${event.reason} on ${event.regarding?.kind}/${event.regarding?.name}`, clock: this.clock, signal: this.abort.signal, sleepMs: this.options.retrySleepMs ?? 10_000, randomizeFirst: false },
    );
  }

  private async write(event: EventsV1Event): Promise<EventsV1Event> {
    if (event.series) {
      try {
        return await this.events.patch(event.metadata?.namespace, event.metadata?.name ?? '', { series: event.series }, { type: 'strategic', signal: this.abort.signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const { resourceVersion: _rv, ...meta } = event.metadata ?? {};
    return this.events.create({ ...event, metadata: meta }, { signal: this.abort.signal });
  }

  /** Writes the current count of every running series (a heartbeat, so long series stay visible). */
  private refreshSeries(): void {
    for (const [key, event] of this.cache) if (event.series) this.queue.push({ event: structuredClone(event), key });
  }

  /** Forgets series and events not seen recently; a finished series gets its final count written. */
  private finishSeries(): void {
    const cutoff = this.clock.now() - (this.options.finishAfterMs ?? 6 * 60_000);
    for (const [key, event] of this.cache) {
      const last = Date.parse(event.series?.lastObservedTime ?? event.eventTime ?? '');
      if (Number.isNaN(last) || last >= cutoff) continue;
      if (event.series) this.queue.push({ event: structuredClone(event), key });
      this.cache.delete(key);
    }
  }

  private every(ms: number, fn: () => void): void {
    const slot = this.timers.length;
    const tick = () => {
      if (this.abort.signal.aborted) return;
      fn();
      this.timers[slot] = this.clock.setTimer(tick, ms);
    };
    this.timers[slot] = this.clock.setTimer(tick, ms);
  }
}

/** upstream's eventKey: type, action, reason, reporting controller/instance, regarding and related references. */
function isomorphicKey(e: EventsV1Event): string {
  const ref = (r: ObjectReference | undefined) => (r ? [r.kind, r.namespace, r.name, r.uid, r.apiVersion, r.resourceVersion, r.fieldPath] : []);
  return JSON.stringify([e.type, e.action, e.reason, e.reportingController, e.reportingInstance, ref(e.regarding), ref(e.related)]);
}
