// A binary heap with removal and re-ordering of arbitrary items (the queues re-sort pods on update).

export class Heap<T extends object> {
  private readonly items: T[] = [];
  private readonly index = new Map<T, number>();

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (this.index.has(item)) {
      this.update(item);
      return;
    }
    this.items.push(item);
    this.index.set(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    if (this.items.length === 0) return undefined;
    const top = this.items[0]!;
    this.removeAt(0);
    return top;
  }

  remove(item: T): boolean {
    const i = this.index.get(item);
    if (i === undefined) return false;
    this.removeAt(i);
    return true;
  }

  /** Restores order after `item`'s sort key changed. */
  update(item: T): void {
    const i = this.index.get(item);
    if (i === undefined) return;
    if (!this.up(i)) this.down(i);
  }

  has(item: T): boolean {
    return this.index.has(item);
  }

  private removeAt(i: number): void {
    const last = this.items.length - 1;
    const item = this.items[i]!;
    this.index.delete(item);
    if (i !== last) {
      const moved = this.items[last]!;
      this.items[i] = moved;
      this.index.set(moved, i);
      this.items.pop();
      if (!this.up(i)) this.down(i);
    } else {
      this.items.pop();
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    const b = this.items[j]!;
    this.items[i] = b;
    this.items[j] = a;
    this.index.set(b, i);
    this.index.set(a, j);
  }

  private up(i: number): boolean {
    const start = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.items[i]!, this.items[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
    return i !== start;
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.items[l]!, this.items[m]!)) m = l;
      if (r < n && this.less(this.items[r]!, this.items[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
