/**
 * Dump-slot bookkeeping for one server: how many dumps run in each capacity tick. A segment tree
 * with lazy range add and range max, so "does a dump over ticks [a, b) still fit?" costs O(log n)
 * even with thousands of dumps placed (a plain array scan would make 10,000 partitions quadratic).
 */
export class SlotTimeline {
  private readonly size: number;
  private readonly max: Int32Array;
  private readonly lazy: Int32Array;

  constructor(
    readonly ticks: number,
    readonly capacity: number,
  ) {
    let size = 1;
    while (size < Math.max(1, ticks)) size *= 2;
    this.size = size;
    this.max = new Int32Array(2 * size);
    this.lazy = new Int32Array(2 * size);
  }

  /** True if one more dump over [a, b) keeps every tick at or under the capacity. */
  fits(a: number, b: number): boolean {
    if (a < 0 || b > this.ticks || a >= b) return false;
    return this.query(1, 0, this.size, a, b) < this.capacity;
  }

  add(a: number, b: number, delta: 1 | -1): void {
    this.update(1, 0, this.size, a, b, delta);
  }

  /** Largest occupancy anywhere (tests and invariants). */
  peak(): number {
    return this.max[1] as number;
  }

  private update(node: number, lo: number, hi: number, a: number, b: number, delta: number): void {
    if (b <= lo || hi <= a) return;
    if (a <= lo && hi <= b) {
      this.max[node] = (this.max[node] as number) + delta;
      this.lazy[node] = (this.lazy[node] as number) + delta;
      return;
    }
    const mid = (lo + hi) >> 1;
    this.update(2 * node, lo, mid, a, b, delta);
    this.update(2 * node + 1, mid, hi, a, b, delta);
    this.max[node] = Math.max(this.max[2 * node] as number, this.max[2 * node + 1] as number) + (this.lazy[node] as number);
  }

  private query(node: number, lo: number, hi: number, a: number, b: number): number {
    if (b <= lo || hi <= a) return -Infinity;
    if (a <= lo && hi <= b) return this.max[node] as number;
    const mid = (lo + hi) >> 1;
    return Math.max(this.query(2 * node, lo, mid, a, b), this.query(2 * node + 1, mid, hi, a, b)) + (this.lazy[node] as number);
  }
}
