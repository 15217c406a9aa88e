// A token bucket with golang.org/x/time/rate's arithmetic, which client-go's flowcontrol and
// workqueue rate limiters are built on: `burst` tokens at most, refilled at `qps` per second;
// a reservation always takes a token and may leave the bucket in debt, which is its delay.
import { realClock, sleep, type Clock } from './clock.js';

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** `qps` may be fractional (1/300 refills one token per five minutes). */
  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly clock: Clock = realClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  private advance(now: number): void {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.qps);
    this.last = now;
  }

  /** Takes a token now and returns how long (ms) the caller must wait before acting on it. */
  reserve(): number {
    this.advance(this.clock.now());
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Takes a token only if one is available now (client-go's TryAccept). */
  tryAccept(): boolean {
    this.advance(this.clock.now());
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Waits for a token; if aborted, the reserved token is given back. */
  async wait(signal?: AbortSignal): Promise<void> {
    const delay = this.reserve();
    if (delay <= 0) return;
    try {
      await sleep(delay, signal, this.clock);
    } catch (err) {
      this.tokens += 1;
      throw err;
    }
  }
}
