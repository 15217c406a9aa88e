// Runs the proxy's sync function as upstream's BoundedFrequencyRunner does: on request, but never
// more often than minInterval; at least every maxInterval (the periodic resync); after a failure
// again with exponential back-off. One run at a time; requests during a run fold into the next.
import { realClock, type Clock, type TimerHandle } from '../../client/clock.js';

export interface SyncRunnerOptions {
  /** Shortest gap between two runs' starts (minSyncPeriod). 0 = run every request at once. */
  minIntervalMs: number;
  /** Longest gap between two runs (syncPeriod). */
  maxIntervalMs: number;
  /** First retry delay after a failure; doubles per consecutive failure up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  clock?: Clock;
  /** Told about every failure of `fn` (it is retried regardless). */
  onError?: (err: unknown, consecutiveFailures: number, retryInMs: number) => void;
}

export class SyncRunner {
  private readonly clock: Clock;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private pending = false;
  private retryAt: number | undefined;
  private failures = 0;
  private running: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private stopped = true;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly opts: SyncRunnerOptions,
  ) {
    this.clock = opts.clock ?? realClock;
  }

  /** Starts the periodic schedule and runs once at once. */
  start(): void {
    this.stopped = false;
    this.pending = true;
    this.schedule();
  }

  /** Asks for a run as soon as minInterval allows. */
  run(): void {
    this.pending = true;
    if (!this.stopped && !this.running) this.schedule();
  }

  /** Stops scheduling; resolves when a run in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }

  /** Consecutive failed runs so far (0 after a success). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer?.cancel();
    const now = this.clock.now();
    let at = this.lastRunAt + this.opts.maxIntervalMs;
    if (this.pending) at = Math.min(at, this.lastRunAt + this.opts.minIntervalMs);
    if (this.retryAt !== undefined) at = Math.min(at, Math.max(this.retryAt, this.lastRunAt + this.opts.minIntervalMs));
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.running = this.fire();
    }, Math.max(0, at - now));
  }

  private async fire(): Promise<void> {
    this.pending = false;
    this.retryAt = undefined;
    this.lastRunAt = this.clock.now();
    try {
      await this.fn();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      const base = this.opts.retryBaseMs ?? 1000;
      const delay = Math.min(base * 2 ** (this.failures - 1), this.opts.retryMaxMs ?? Math.max(base, this.opts.maxIntervalMs));
      this.retryAt = this.clock.now() + delay;
      this.opts.onError?.(err, this.failures, delay);
    } finally {
      this.running = undefined;
      this.schedule();
    }
  }
}
