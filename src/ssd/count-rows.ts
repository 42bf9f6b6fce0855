/**
 * The counts every preset needs before it can size its top-k, for rows `rowStart .. rowEnd - 1` of
 * a `(rows, cols)` batch, reading only (so it may run on a loss that is later rewritten in place):
 *
 * - `posCount[r]`: positives in row `r` (`positives` holds 0/1 per element);
 * - with `excluded` (mmdet, ssd_keras), `candCount[r]`: the candidates, i.e. the negatives, and with
 *   `skipZero` (ssd_keras) only those whose loss is not `±0` (NaN counts as nonzero, as in
 *   `tf.count_nonzero`); and `liveCount[r]`: the candidates whose loss is not `-Inf` (NaN is live).
 *
 * `bits` is an `Int32Array` view of the float32 loss; it is not read unless `excluded`.
 * Cost: one read of `positives` (and of `bits` when `excluded`); no allocation.
 */
export function countRows(
  bits: Int32Array,
  positives: Uint8Array,
  cols: number,
  rowStart: number,
  rowEnd: number,
  excluded: boolean,
  skipZero: boolean,
  posCount: Int32Array,
  candCount: Int32Array,
  liveCount: Int32Array,
): void {
  for (let r = rowStart; r < rowEnd; r++) {
    const base = r * cols;
    const end = base + cols;
    let p = 0;
    if (!excluded) {
      for (let i = base; i < end; i++) p += positives[i]!;
      posCount[r] = p;
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
    posCount[r] = p;
    candCount[r] = cand;
    liveCount[r] = live;
  }
}
