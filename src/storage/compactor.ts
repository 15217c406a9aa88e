// Automatic compaction, as upstream's apiserver does it for etcd: each round notes the current
// revision, and compacts to the newest noted revision that is older than the retention.
import { isStorageError } from './errors.js';
import type { KV } from './kv.js';

export interface CompactionOptions {
  /** How often a round runs (default 60 s). */
  intervalMs?: number;
  /** History kept (default 5 minutes). */
  retentionMs?: number;
}

export class Compactor {
  private readonly samples: Array<{ at: number; revision: number }> = [];
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private readonly retentionMs: number;

  constructor(
    private readonly kv: KV,
    opts: CompactionOptions = {},
    private readonly onError?: (err: unknown) => void,
    private readonly onCompacted?: (revision: number) => void,
  ) {
    this.retentionMs = opts.retentionMs ?? 5 * 60_000;
    this.timer = setInterval(() => void this.round(), opts.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** One round; exported for tests and benchmarks that drive compaction themselves. */
  async round(now = Date.now()): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const revision = (await this.kv.range({ key: Buffer.from('/'), countOnly: true })).header.revision;
      this.samples.push({ at: now, revision });
      let target = 0;
      while (this.samples.length > 0 && this.samples[0]!.at <= now - this.retentionMs) target = this.samples.shift()!.revision;
      if (target > 0) {
        await this.kv.compact(target);
        this.onCompacted?.(target);
      }
    } catch (err) {
      // Already compacted that far (by another apiserver, say) is fine; a closed store ends us.
      if (!isStorageError(err, 'TooOldRevision') && !isStorageError(err, 'Closed')) this.onError?.(err);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
