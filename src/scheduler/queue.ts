// The scheduling queue, after upstream's PriorityQueue: an active queue ordered by the QueueSort
// plugin, a back-off queue (1 s doubling to 10 s per failed attempt), and parked unschedulable pods
// that move back only when a cluster event one of their rejecting plugins registered for happens
// (or after 5 minutes, as a safety net) — never by polling everything.

import type { Pod } from 'kubernetes-types/core/v1.js';
import { Heap } from './heap.js';
import { podKey } from './framework/nodeInfo.js';
import { ActionType, type ClusterEvent, type ClusterEventWithHint, type QueuedPodInfo, type Status, Code } from './framework/types.js';

export interface QueueOptions {
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
  /** PreEnqueue plugins of the pod's profile; a non-success keeps the pod parked (e.g. scheduling gates). */
  preEnqueue(pod: Readonly<Pod>): Status | undefined;
  /** Per plugin, the events it registered; pods rejected by a plugin move on those events only. */
  eventsByPlugin(pod: Readonly<Pod>): ReadonlyMap<string, readonly ClusterEventWithHint[]>;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Parked pods are retried after this long even without an event (upstream: 5 minutes). */
  maxInUnschedulableMs?: number;
  now?: () => number;
}

interface Entry extends QueuedPodInfo {
  pod: Readonly<Pod>;
  /** Gated by PreEnqueue: waits in unschedulable until a relevant update. */
  gated: boolean;
}

/** Where a pod sits now. */
type Where = 'active' | 'backoff' | 'unschedulable' | 'inflight';

export class SchedulingQueue {
  private readonly active: Heap<Entry>;
  private readonly backoff: Heap<Entry>;
  private readonly unschedulable = new Map<string, Entry>();
  private readonly where = new Map<string, Where>();
  private readonly entries = new Map<string, Entry>();
  /** Keys popped and not yet done; an event during their cycle sends them to back-off, not parking. */
  private readonly inFlight = new Map<string, number>();
  private readonly waiters: Array<() => void> = [];
  private readonly now: () => number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxInUnschedulableMs: number;
  /** Bumped per Pop; events stamp `moveRequestCycle` so pods failing in an older cycle retry. */
  schedulingCycle = 0;
  private moveRequestCycle = -1;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: QueueOptions) {
    this.now = opts.now ?? Date.now;
    this.initialBackoffMs = opts.initialBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.maxInUnschedulableMs = opts.maxInUnschedulableMs ?? 5 * 60_000;
    this.active = new Heap<Entry>((a, b) => opts.less(a, b));
    this.backoff = new Heap<Entry>((a, b) => this.backoffExpiry(a) < this.backoffExpiry(b));
  }

  /** Starts the periodic flushes (back-off completions every second, parked pods every 30 s). */
  run(): void {
    if (this.timer) return;
    let ticks = 0;
    this.timer = setInterval(() => {
      this.flushBackoffCompleted();
      if (++ticks % 30 === 0) this.flushUnschedulableLeftover();
    }, 1000);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }

  /** A new pending pod. */
  add(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    if (this.entries.has(key)) {
      this.update(pod);
      return;
    }
    const t = this.now();
    const e: Entry = { pod, initialAttemptTimestamp: t, timestamp: t, attempts: 0, unschedulablePlugins: new Set(), pendingPlugins: new Set(), gated: false };
    this.entries.set(key, e);
    this.toActiveOrGated(key, e);
  }

  /** A pending pod changed. */
  update(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    const e = this.entries.get(key);
    if (!e) {
      this.add(pod);
      return;
    }
    const old = e.pod;
    e.pod = pod;
    const w = this.where.get(key);
    if (w === 'active') this.active.update(e);
    else if (w === 'backoff') this.backoff.update(e);
    else if (w === 'unschedulable' && podSpecChanged(old, pod)) {
      // The pod itself changed in a way that may make it schedulable: retry it.
      this.unschedulable.delete(key);
      e.gated = false;
      if (this.isBackingOff(e)) this.toBackoff(key, e);
      else this.toActiveOrGated(key, e);
    }
  }

  /** The pod was deleted or bound elsewhere. */
  delete(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    const e = this.entries.get(key);
    if (!e) return;
    const w = this.where.get(key);
    if (w === 'active') this.active.remove(e);
    else if (w === 'backoff') this.backoff.remove(e);
    else if (w === 'unschedulable') this.unschedulable.delete(key);
    this.where.delete(key);
    this.entries.delete(key);
  }

  /** Waits for the next pod to schedule; undefined once closed. */
  async pop(signal?: AbortSignal): Promise<QueuedPodInfo | undefined> {
    for (;;) {
      if (this.closed || signal?.aborted) return undefined;
      const e = this.active.pop();
      if (e) {
        const key = podKey(e.pod);
        e.attempts++;
        this.schedulingCycle++;
        this.where.set(key, 'inflight');
        this.inFlight.set(key, this.schedulingCycle);
        return e;
      }
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        this.waiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** The pod's cycle ended in a bind attempt (success or not): it leaves the queue. */
  done(pod: Readonly<Pod>): void {
    const key = podKey(pod);
    this.inFlight.delete(key);
    if (this.where.get(key) === 'inflight') {
      this.where.delete(key);
      this.entries.delete(key);
    }
  }

  /**
   * The pod's cycle failed. Rejected pods park until a relevant event (unless one already happened
   * during their cycle); errors retry after back-off.
   */
  addUnschedulable(info: QueuedPodInfo, status: Status, rejectors: Iterable<string>, pending: Iterable<string> = []): void {
    const key = podKey(info.pod);
    const cycle = this.inFlight.get(key) ?? this.schedulingCycle;
    this.inFlight.delete(key);
    const e = this.entries.get(key);
    if (!e || this.where.get(key) !== 'inflight') return; // deleted meanwhile
    e.timestamp = this.now();
    e.unschedulablePlugins = new Set(rejectors);
    e.pendingPlugins = new Set(pending);
    if (status.code === Code.Error || this.moveRequestCycle >= cycle) this.toBackoff(key, e);
    else this.toUnschedulable(key, e);
  }

  /**
   * A cluster event happened: parked pods that a plugin registered for it rejected move to the
   * back-off or active queue. `preCheck` filters pods cheaply first (e.g. a new node must fit them).
   */
  moveOnEvent(event: ClusterEvent, oldObj: unknown, newObj: unknown, preCheck?: (pod: Readonly<Pod>) => boolean): void {
    this.moveRequestCycle = this.schedulingCycle;
    for (const [key, e] of [...this.unschedulable]) {
      if (preCheck && !preCheck(e.pod)) continue;
      if (!this.eventMayHelp(e, event, oldObj, newObj)) continue;
      this.unschedulable.delete(key);
      e.gated = false;
      if (this.isBackingOff(e)) this.toBackoff(key, e);
      else this.toActiveOrGated(key, e);
    }
  }

  private eventMayHelp(e: Entry, event: ClusterEvent, oldObj: unknown, newObj: unknown): boolean {
    if (e.gated) return event.resource === 'WildCard';
    const plugins = new Set([...e.unschedulablePlugins, ...e.pendingPlugins]);
    // A pod rejected by no plugin (e.g. an error) retries on any event.
    if (plugins.size === 0 || event.resource === 'WildCard') return true;
    const registered = this.opts.eventsByPlugin(e.pod);
    for (const p of plugins) {
      for (const r of registered.get(p) ?? []) {
        if (!eventMatches(r.event, event)) continue;
        if (!r.hint || r.hint(e.pod, oldObj, newObj) === 'Queue') return true;
      }
    }
    return false;
  }

  /** Pods waiting, per queue (for the scheduler_pending_pods metric). */
  pendingCounts(): { active: number; backoff: number; unschedulable: number; gated: number } {
    let gated = 0;
    for (const e of this.unschedulable.values()) if (e.gated) gated++;
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size - gated, gated };
  }

  /** Whether the pod is known to the queue (tests, debugging). */
  has(pod: Readonly<Pod>): Where | undefined {
    return this.where.get(podKey(pod));
  }

  /** Moves back-off pods whose time is up to the active queue. */
  flushBackoffCompleted(): void {
    const now = this.now();
    for (;;) {
      const e = this.backoff.peek();
      if (!e || this.backoffExpiry(e) > now) break;
      this.backoff.pop();
      this.toActiveOrGated(podKey(e.pod), e);
    }
  }

  /** Pods parked longer than the maximum go back for another try. */
  flushUnschedulableLeftover(): void {
    const now = this.now();
    for (const [key, e] of [...this.unschedulable]) {
      if (e.gated || now - e.timestamp < this.maxInUnschedulableMs) continue;
      this.unschedulable.delete(key);
      if (this.isBackingOff(e)) this.toBackoff(key, e);
      else this.toActiveOrGated(key, e);
    }
  }

  private backoffDuration(e: Entry): number {
    let d = this.initialBackoffMs;
    for (let i = 1; i < e.attempts; i++) {
      d *= 2;
      if (d >= this.maxBackoffMs) return this.maxBackoffMs;
    }
    return d;
  }

  private backoffExpiry(e: Entry): number {
    return e.timestamp + this.backoffDuration(e);
  }

  private isBackingOff(e: Entry): boolean {
    return e.attempts > 0 && this.backoffExpiry(e) > this.now();
  }

  private toActiveOrGated(key: string, e: Entry): void {
    const gate = this.opts.preEnqueue(e.pod);
    if (gate && gate.code !== Code.Success) {
      e.gated = true;
      e.pendingPlugins = new Set(gate.plugin ? [gate.plugin] : []);
      this.toUnschedulable(key, e);
      return;
    }
    e.gated = false;
    this.where.set(key, 'active');
    this.active.push(e);
    const w = this.waiters.shift();
    if (w) w();
  }

  private toBackoff(key: string, e: Entry): void {
    this.where.set(key, 'backoff');
    this.backoff.push(e);
  }

  private toUnschedulable(key: string, e: Entry): void {
    this.where.set(key, 'unschedulable');
    this.unschedulable.set(key, e);
  }
}

function eventMatches(registered: ClusterEvent, happened: ClusterEvent): boolean {
  if ((registered.actionType & happened.actionType) === 0) return false;
  if (registered.resource === happened.resource || registered.resource === 'WildCard') return true;
  // 'Pod' covers both assigned and unscheduled pods.
  return registered.resource === 'Pod' && (happened.resource === 'AssignedPod' || happened.resource === 'UnscheduledPod');
}

// Changes that may change the outcome for an unschedulable pod: anything but status and
// bookkeeping metadata (upstream's isPodUpdated strips the same).
function podSpecChanged(a: Readonly<Pod>, b: Readonly<Pod>): boolean {
  const strip = (p: Readonly<Pod>) => JSON.stringify({ ...p, status: undefined, metadata: { ...p.metadata, resourceVersion: undefined, generation: undefined, managedFields: undefined } });
  return strip(a) !== strip(b);
}

export const ALL_EVENTS: ClusterEvent = { resource: 'WildCard', actionType: ActionType.All };
