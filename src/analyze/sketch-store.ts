/**
 * Counts per bucket index in one dense array starting at `offset`. Dense because merging
 * thousands of sketches in a history query is then a tight loop over a typed array; the
 * encoding on disk is sparse (see sketch.ts).
 */
export class BucketStore {
  counts = new Float64Array(0);
  offset = 0;
  total = 0;

  add(index: number, n: number): void {
    if (index < this.offset || index >= this.offset + this.counts.length) this.cover(index, index);
    this.counts[index - this.offset]! += n;
    this.total += n;
  }

  /** Makes [lo, hi] addressable, with slack so a slowly widening range rarely reallocates. */
  cover(lo: number, hi: number): void {
    const len = this.counts.length;
    if (len > 0 && lo >= this.offset && hi < this.offset + len) return;
    const curLo = len === 0 ? lo : Math.min(lo, this.offset);
    const curHi = len === 0 ? hi : Math.max(hi, this.offset + len - 1);
    const slack = Math.max(8, (curHi - curLo + 1) >> 2);
    const newLo = len > 0 && lo >= this.offset ? curLo : curLo - slack;
    const newHi = len > 0 && hi < this.offset + len ? curHi : curHi + slack;
    const next = new Float64Array(newHi - newLo + 1);
    if (len > 0) next.set(this.counts, this.offset - newLo);
    this.counts = next;
    this.offset = newLo;
  }

  merge(other: BucketStore): void {
    if (other.total === 0) return;
    const src = other.counts;
    let first = 0;
    while (src[first] === 0) first++;
    let last = src.length - 1;
    while (src[last] === 0) last--;
    this.cover(other.offset + first, other.offset + last);
    const shift = other.offset - this.offset;
    const dst = this.counts;
    for (let i = first; i <= last; i++) dst[i + shift]! += src[i]!;
    this.total += other.total;
  }

  /** Non-empty buckets in ascending index order. */
  *entries(): Generator<[index: number, count: number]> {
    const c = this.counts;
    for (let i = 0; i < c.length; i++) if (c[i]! > 0) yield [this.offset + i, c[i]!];
  }

  /** Index of the bucket holding the element of 0-based `rank`, walking from `fromTop`. */
  indexAtRank(rank: number, fromTop: boolean): number {
    const c = this.counts;
    let seen = 0;
    if (fromTop) {
      for (let i = c.length - 1; i >= 0; i--) {
        seen += c[i]!;
        if (seen > rank) return this.offset + i;
      }
    } else {
      for (let i = 0; i < c.length; i++) {
        seen += c[i]!;
        if (seen > rank) return this.offset + i;
      }
    }
    throw new RangeError(`rank ${rank} beyond ${this.total} values`);
  }
}
