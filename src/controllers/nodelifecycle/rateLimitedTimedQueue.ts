// Upstream's RateLimitedTimedQueue (node lifecycle scheduler): a unique queue of node names whose
// processing is rate-limited per zone by a token bucket (burst 1) whose rate can be swapped as the
// zone's health changes; 0 stops processing.

import { realClock, type Clock } from '../../client/clock.js';
import { TokenBucket } from '../../client/tokenBucket.js';

export interface TimedValue {
  value: string;
  uid: string;
  addedAt: number;
  processAt: number;
}

/** Upstream's EvictionRateLimiterBurst. */
export const EVICTION_RATE_LIMITER_BURST = 1;

interface Limiter {
  readonly qps: number;
  tryAccept(): boolean;
}

const NEVER: Limiter = { qps: 0, tryAccept: () => false };

export class RateLimitedTimedQueue {
  private queue: TimedValue[] = [];
  /** Values added and not removed, including those already processed (so they are not re-added). */
  private readonly set = new Set<string>();
  private limiter: Limiter;

  constructor(
    qps: number,
    private readonly clock: Clock = realClock,
  ) {
    this.limiter = qps > 0 ? new TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, clock) : NEVER;
  }

  get qps(): number {
    return this.limiter.qps;
  }

  /** Adds a value; false if it is already there (waiting or processed and not yet removed). */
  add(value: string, uid: string): boolean {
    if (this.set.has(value)) return false;
    const now = this.clock.now();
    this.set.add(value);
    this.queue.push({ value, uid, addedAt: now, processAt: now });
    this.sort();
    return true;
  }

  /** Forgets a value entirely; true if it was known. */
  remove(value: string): boolean {
    this.queue = this.queue.filter((v) => v.value !== value);
    return this.set.delete(value);
  }

  has(value: string): boolean {
    return this.set.has(value);
  }

  /** Values waiting to be processed. */
  waiting(): readonly TimedValue[] {
    return this.queue;
  }

  /**
   * Processes due values in order while the limiter allows: `fn` returns [true] when done (the
   * value stays known until removed) or [false, waitMs] to be retried after waitMs.
   */
  async try(fn: (v: TimedValue) => Promise<[ok: boolean, waitMs: number]>): Promise<void> {
    for (let head = this.queue[0]; head; head = this.queue[0]) {
      if (!this.limiter.tryAccept()) return;
      const now = this.clock.now();
      if (now < head.processAt) return;
      const [ok, wait] = await fn(head);
      if (!this.queue.includes(head)) continue;
      if (ok) this.queue = this.queue.filter((v) => v !== head);
      else {
        head.processAt = now + wait + 1;
        this.sort();
      }
    }
  }

  /** Changes the rate; 0 (or less) stops processing. A limiter currently empty leaves the new one empty too. */
  swapLimiter(qps: number): void {
    if (this.limiter.qps === qps) return;
    const next: Limiter = qps > 0 ? new TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, this.clock) : NEVER;
    if (!this.limiter.tryAccept()) next.tryAccept();
    this.limiter = next;
  }

  private sort(): void {
    this.queue.sort((a, b) => a.processAt - b.processAt);
  }
}
