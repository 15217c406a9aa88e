// At most `limit` API calls in flight for one simulator duty, so 1,000 nodes renewing leases or
// 30,000 pods changing stage queue up in the process instead of flooding the API server.

export class TaskPool {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`task pool limit must be at least 1, got ${limit}`);
  }

  /** Runs `fn` once a slot is free; its result or error is passed through. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so `active` never exceeds the limit.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }
}
