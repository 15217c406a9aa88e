// A range's allocation bitmap kept in storage as upstream keeps it: one RangeAllocation object
// (`/registry/ranges/serviceips`, `/registry/ranges/servicenodeports`) changed only by
// compare-and-swap, so no two API servers (or two requests of one) can take the same value.
import type { Store } from '../../storage/store.js';
import type { AllocationRange } from './ranges.js';

/** The stored form, as upstream's v1 RangeAllocation (`data` is base64 in JSON). */
interface RangeAllocationObject {
  kind: 'RangeAllocation';
  apiVersion: 'v1';
  metadata: { creationTimestamp?: string | null };
  range: string;
  data: string;
}

export interface RangeSnapshot<R> {
  range: R;
  /** modRevision of the stored object; 0 when nothing is stored yet. */
  revision: number;
  /** The range string stored; differs from the configured one after a flag change. */
  storedSpec: string | undefined;
}

const MAX_CONFLICT_RETRIES = 20;

export class RangeRegistry<T, R extends AllocationRange<T>> {
  private cached: RangeSnapshot<R> | undefined;
  /** Serializes this process's changes so they do not race each other's CAS. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    readonly key: string,
    private readonly empty: () => R,
  ) {}

  /** Reads the stored bitmap (a range with another spec reads as empty). */
  async read(): Promise<RangeSnapshot<R>> {
    const o = await this.store.get(this.key);
    const range = this.empty();
    if (!o) return { range, revision: 0, storedSpec: undefined };
    const obj = JSON.parse(o.value.toString('utf8')) as RangeAllocationObject;
    if (obj.range === range.spec) range.bitmap.restore(Buffer.from(obj.data ?? '', 'base64'));
    return { range, revision: o.modRevision, storedSpec: obj.range };
  }

  /**
   * Runs `change` on a copy of the current bitmap and stores the result with compare-and-swap;
   * on a conflict (another API server wrote) it reads again and runs `change` again, so `change`
   * must depend only on the range it is given. Throws what `change` throws, storing nothing.
   */
  apply<V>(change: (range: R) => V): Promise<V> {
    const run = this.tail.then(() => this.applyNow(change));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Like apply, for a caller that already read `snap` and wants its write to fail if anything changed since. */
  async writeIfUnchanged(snap: RangeSnapshot<R>, next: R): Promise<boolean> {
    const run = this.tail.then(() => this.write(next, snap.revision));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async applyNow<V>(change: (range: R) => V): Promise<V> {
    for (let attempt = 0; ; attempt++) {
      const snap = this.cached ?? (await this.read());
      const next = snap.range.clone() as R;
      const result = change(next);
      if (await this.write(next, snap.revision)) return result;
      this.cached = undefined;
      if (attempt >= MAX_CONFLICT_RETRIES) throw new Error(`the allocation range ${this.key} kept changing under ${MAX_CONFLICT_RETRIES} retries`);
    }
  }

  /** Stores `next` if the stored object is still at `revision`; false on a conflict. */
  private async write(next: R, revision: number): Promise<boolean> {
    const obj: RangeAllocationObject = {
      kind: 'RangeAllocation',
      apiVersion: 'v1',
      metadata: { creationTimestamp: null },
      range: next.spec,
      data: next.bitmap.snapshot().toString('base64'),
    };
    const value = Buffer.from(JSON.stringify(obj), 'utf8');
    const r = revision === 0 ? await this.store.create(this.key, value) : await this.store.update(this.key, value, revision);
    if (!r.ok) {
      this.cached = undefined;
      return false;
    }
    this.cached = { range: next, revision: r.object.modRevision, storedSpec: next.spec };
    return true;
  }

  /** Forgets the cached copy (tests; after another writer is known to have written). */
  invalidate(): void {
    this.cached = undefined;
  }
}
