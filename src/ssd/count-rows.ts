import type { RowBlock, RowRange } from './rows.ts';

/** Which elements {@link countRows} counts as candidates (see there). */
export interface CountRule {
  /** Positives are excluded from the ranking (mmdet, ssd_keras): count the candidates too. */
  readonly excluded: boolean;
  /** Zero-loss negatives are not candidates (ssd_keras). */
  readonly skipZero: boolean;
}

/** Per-row counts written by {@link countRows}, indexed by batch row. */
export interface RowCounts {
  /** Positives in the row. */
  readonly positives: Int32Array;
  /** With `excluded`: the candidates (negatives; with `skipZero` only those whose loss is not `±0`). */
  readonly candidates: Int32Array;
  /** With `excluded`: the candidates whose loss is not `-Inf` (NaN is live). */
  readonly live: Int32Array;
}

/**
 * The counts every preset needs before it can size its top-k, for the rows `range` of `block`,
 * reading only (so it may run on a loss that is later rewritten in place): positives per row and,
 * with `rule.excluded` (mmdet, ssd_keras), candidates and live candidates (see {@link RowCounts};
 * NaN counts as nonzero, as in `tf.count_nonzero`). `block.bits` is not read unless `excluded`.
 * Cost: one read of `positives` (and of `bits` when `excluded`); no allocation.
 */
export function countRows(block: RowBlock, range: RowRange, rule: CountRule, out: RowCounts): void {
  const { bits, positives, cols } = block;
  const { excluded, skipZero } = rule;
  for (let r = range.start; r < range.end; r++) {
    const base = r * cols;
    const end = base + cols;
    let p = 0;
    if (!excluded) {
      for (let i = base; i < end; i++) p += positives[i]!;
      out.positives[r] = p;
      continue;
    }
    let cand = 0;
    let live = 0;
    for (let i = base; i < end; i++) {
      if (positives[i] !== 0) {
        p++;
        continue;
      }
      const b = bits[i]!;
      if (skipZero && (b & 0x7fffffff) === 0) continue;
      cand++;
      if (b !== -8388608) live++; // not the bits of -Inf (0xff800000)
    }
    out.positives[r] = p;
    out.candidates[r] = cand;
    out.live[r] = live;
  }
}
