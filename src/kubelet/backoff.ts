// Per-key exponential back-off as client-go's flowcontrol.Backoff, which the kubelet uses for
// container restarts (CrashLoopBackOff: 10 s doubling to 5 min) and image pulls (ImagePullBackOff).
// An entry resets once nothing happened for twice the maximum (10 minutes for restarts).
import { realClock, type Clock } from '../client/clock.js';

interface Entry {
  backoffMs: number;
  lastUpdateMs: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  private expired(entry: Entry, eventMs: number): boolean {
    return eventMs - entry.lastUpdateMs > 2 * this.maxMs;
  }

  /** Records a failure at `eventMs` (default now): the next delay doubles, or starts over after a long quiet spell. */
  next(key: string, eventMs = this.clock.now()): void {
    const e = this.entries.get(key);
    if (!e || this.expired(e, eventMs)) {
      this.entries.set(key, { backoffMs: this.initialMs, lastUpdateMs: eventMs });
      return;
    }
    e.backoffMs = Math.min(e.backoffMs * 2, this.maxMs);
    e.lastUpdateMs = eventMs;
  }

  /** The current delay for `key` (0 when none). */
  get(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** Whether `now` is still within the back-off that started at `eventMs` (e.g. the container's finish time). */
  isInBackOffSince(key: string, eventMs: number): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    const now = this.clock.now();
    if (this.expired(e, now)) return false;
    return now - eventMs < e.backoffMs;
  }

  /** Milliseconds until the back-off started at `eventMs` ends (0 when over). */
  remaining(key: string, eventMs: number): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    return Math.max(0, eventMs + e.backoffMs - this.clock.now());
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drops entries idle for twice the maximum. */
  gc(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) if (this.expired(e, now)) this.entries.delete(k);
  }
}
