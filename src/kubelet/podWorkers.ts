// One worker per pod (pkg/kubelet/pod_workers.go in the small): syncs of a pod never overlap, an
// update that arrives during a sync makes exactly one more sync, and a pod can ask to be synced
// again later (back-off ends, retries). Different pods sync concurrently.
import { logger } from '../util/log.js';

const log = logger('pod-workers');

interface Worker {
  running: boolean;
  queued: boolean;
  timer?: NodeJS.Timeout | undefined;
  timerAt?: number | undefined;
  closed: boolean;
}

/** The sync of one pod; resolves to a delay after which to sync again, if any. */
export type SyncFn = (uid: string) => Promise<number | undefined>;

export class PodWorkers {
  private readonly workers = new Map<string, Worker>();
  private stopped = false;

  constructor(private readonly sync: SyncFn) {}

  /** Syncs `uid` now (or right after its running sync). */
  enqueue(uid: string): void {
    if (this.stopped) return;
    let w = this.workers.get(uid);
    if (!w) this.workers.set(uid, (w = { running: false, queued: false, closed: false }));
    w.queued = true;
    if (!w.running) void this.run(uid, w);
  }

  /** Syncs `uid` after `ms` unless something syncs it sooner. */
  enqueueAfter(uid: string, ms: number): void {
    const w = this.workers.get(uid);
    if (!w || this.stopped || w.closed) return;
    const at = Date.now() + ms;
    if (w.timer && w.timerAt !== undefined && w.timerAt <= at) return;
    if (w.timer) clearTimeout(w.timer);
    w.timerAt = at;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      w.timerAt = undefined;
      this.enqueue(uid);
    }, ms);
    w.timer.unref();
  }

  private async run(uid: string, w: Worker): Promise<void> {
    w.running = true;
    try {
      while (w.queued && !this.stopped && !w.closed) {
        w.queued = false;
        let again: number | undefined;
        try {
          again = await this.sync(uid);
        } catch (err) {
          log.error({ uid, err }, 'pod sync failed; retrying');
          again = 2000;
        }
        if (again !== undefined) this.enqueueAfter(uid, again);
      }
    } finally {
      w.running = false;
    }
  }

  /** Forgets a pod's worker (after its final sync). */
  forget(uid: string): void {
    const w = this.workers.get(uid);
    if (!w) return;
    w.closed = true;
    if (w.timer) clearTimeout(w.timer);
    this.workers.delete(uid);
  }

  has(uid: string): boolean {
    return this.workers.has(uid);
  }

  uids(): string[] {
    return [...this.workers.keys()];
  }

  /** Waits until no sync runs (tests, shutdown). */
  async idle(): Promise<void> {
    while ([...this.workers.values()].some((w) => w.running)) await new Promise((r) => setTimeout(r, 20));
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.workers.values()) if (w.timer) clearTimeout(w.timer);
  }
}
