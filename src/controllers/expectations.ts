// Controller expectations (upstream's ControllerExpectations): after a controller asks for N pod
// creations or deletions it does not act on that owner again until its informer has seen them
// (or five minutes pass), so a stale cache never makes it create twice.

const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

interface Record {
  add: number;
  del: number;
  /** Keys of pods whose deletion is awaited (UID-tracking expectations, as upstream's for deletes). */
  deleting: Set<string>;
  at: number;
}

export class Expectations {
  private readonly records = new Map<string, Record>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether the owner `key` may be synced: nothing outstanding, expired, or never recorded. */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (!r) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.now() - r.at > EXPECTATIONS_TIMEOUT_MS;
  }

  expectCreations(key: string, n: number): void {
    this.set(key, n, 0, []);
  }

  expectDeletions(key: string, podKeys: readonly string[]): void {
    this.set(key, 0, podKeys.length, podKeys);
  }

  /** Creations and deletions expected from one sync (upstream's SetExpectations). */
  expect(key: string, creations: number, deletions: readonly string[]): void {
    this.set(key, creations, deletions.length, deletions);
  }

  private set(key: string, add: number, del: number, deleting: readonly string[]): void {
    this.records.set(key, { add, del, deleting: new Set(deleting), at: this.now() });
  }

  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.add--;
  }

  /** A pod of this owner was deleted (counted once per pod). */
  deletionObserved(key: string, podKey: string): void {
    const r = this.records.get(key);
    if (r && r.deleting.delete(podKey)) r.del--;
  }

  /** Creations that will never be observed (their requests failed). */
  lowerCreations(key: string, n: number): void {
    const r = this.records.get(key);
    if (r) r.add -= n;
  }

  delete(key: string): void {
    this.records.delete(key);
  }
}
