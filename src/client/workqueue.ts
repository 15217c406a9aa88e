// client-go's workqueue, layered as upstream: a queue of keys that is never processing the same key
// twice at once, a delaying queue on top (addAfter), and a rate-limited one on top of that.
//
// The contract (and its traps):
// - `add` of an item already waiting is a no-op (dirty set); of an item being processed, it is
//   remembered and the item is queued again when `done` is called, so the sync sees the latest state.
// - Every item returned by `get` MUST be passed to `done`, or it is never processed again.
// - `forget` only clears rate-limit history; it does not remove the item from the queue.
// - After `shutDown`, `add` is ignored but `get` still hands out what is queued, then `undefined`.
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rateLimiter.js';

export interface QueueOptions<T> {
  clock?: Clock;
  /** For rate-limited queues; default client-go's controller rate limiter. */
  rateLimiter?: RateLimiter<T>;
  /** Names the queue in logs and metrics. */
  name?: string;
}

export class WorkQueue<T> {
  readonly name: string;
  private readonly queue: T[] = [];
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  private readonly getters: Array<(item: T | undefined) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shuttingDownFlag = false;
  private draining = false;

  constructor(opts: QueueOptions<T> = {}) {
    this.name = opts.name ?? '';
  }

  /** Marks `item` as needing processing. */
  add(item: T): void {
    if (this.shuttingDownFlag) return;
    if (this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.queue.push(item);
    this.handOut();
  }

  /** Items waiting (not counting those being processed). */
  len(): number {
    return this.queue.length;
  }

  /**
   * The next item to process, waiting until there is one. Resolves `undefined` once the queue is shut
   * down and empty, or when `signal` aborts. The caller owns the item until it calls `done(item)`.
   */
  get(signal?: AbortSignal): Promise<T | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDownFlag || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const getter = (item: T | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(item);
      };
      const onAbort = () => {
        const i = this.getters.indexOf(getter);
        if (i >= 0) this.getters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.getters.push(getter);
    });
  }

  /** Ends processing of `item`; if it was added meanwhile, it is queued again. */
  done(item: T): void {
    this.processing.delete(item);
    if (this.dirty.has(item)) {
      this.queue.push(item);
      this.handOut();
    } else if (this.processing.size === 0 && this.draining) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Stops accepting items; waiting `get` calls resolve `undefined`. Does not wait for workers. */
  shutDown(): void {
    this.shuttingDownFlag = true;
    this.onShutDown();
    // Getters only wait when the queue is empty, so all of them are told to stop.
    for (const g of this.getters.splice(0)) g(undefined);
  }

  /** shutDown, then waits until every item handed out has been passed to `done`. */
  async shutDownWithDrain(): Promise<void> {
    this.draining = true;
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  shuttingDown(): boolean {
    return this.shuttingDownFlag;
  }

  /** Hook for layers that hold items elsewhere (timers). */
  protected onShutDown(): void {}

  private take(): T {
    const item = this.queue.shift()!;
    this.processing.add(item);
    this.dirty.delete(item);
    return item;
  }

  private handOut(): void {
    while (this.getters.length > 0 && this.queue.length > 0) this.getters.shift()!(this.take());
  }
}

/** A WorkQueue whose items can be added after a delay (client-go's DelayingInterface). */
export class DelayingQueue<T> extends WorkQueue<T> {
  protected readonly clock: Clock;
  private readonly waiting = new Map<T, { readyAt: number; timer: TimerHandle }>();

  constructor(opts: QueueOptions<T> = {}) {
    super(opts);
    this.clock = opts.clock ?? realClock;
  }

  /** Adds `item` after `ms`; if it is already waiting, the earlier time wins. */
  addAfter(item: T, ms: number): void {
    if (this.shuttingDown()) return;
    if (ms <= 0) {
      this.add(item);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const existing = this.waiting.get(item);
    if (existing && existing.readyAt <= readyAt) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.waiting.delete(item);
      this.add(item);
    }, ms);
    this.waiting.set(item, { readyAt, timer });
  }

  /** Items waiting for their delay to pass. */
  waitingLen(): number {
    return this.waiting.size;
  }

  protected override onShutDown(): void {
    for (const w of this.waiting.values()) w.timer.cancel();
    this.waiting.clear();
  }
}

/** The queue controllers use: `addRateLimited` on failure, `forget` on success. */
export class RateLimitingQueue<T> extends DelayingQueue<T> {
  readonly rateLimiter: RateLimiter<T>;

  constructor(opts: QueueOptions<T> = {}) {
    super(opts);
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>(this.clock);
  }

  /** Adds `item` once its rate limiter allows (after a back-off that grows with each failure). */
  addRateLimited(item: T): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** The item succeeded: clear its back-off history. */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }
}
