/**
 * The one pass the SSD presets make before mining, for rows `rowStart .. rowEnd - 1` of a
 * `(rows, cols)` batch: copies the float32 loss bits `bits` into `outBits` with the preset's
 * replacement, and counts per row. `positives` holds 0/1 per element.
 *
 * `mode`:
 * - 0 (`'zero'`): a positive's loss becomes `+0` (ssd.pytorch, pytorch_advanced);
 * - 1 (`'-inf'`): a positive's loss becomes `-Inf` (torchvision);
 * - 2 (`'excluded'`): a positive's loss becomes `-Inf`; candidates are the negatives (mmdet);
 * - 3 (`'excluded'` and zero-loss skipped): positives and negatives with a loss of `±0` become `-Inf`;
 *   candidates are the negatives with a nonzero loss (ssd_keras; NaN counts as nonzero).
 *
 * Writes `posCount[r]` (positives in row r) and, in modes 2 and 3, `candCount[r]` (candidates) and
 * `liveCount[r]` (candidates whose loss is not `-Inf`; NaN is live). Ranking `outBits` puts every
 * live candidate above every other element, so a top-k with `k <= liveCount` picks candidates only;
 * the candidates at `-Inf` tie with the excluded elements and are added by {@link markNegInfCandidates}.
 *
 * Cost: one read of `bits` and `positives`, one write of `outBits`; no allocation.
 */
export function prepareRows(
  bits: Int32Array,
  positives: Uint8Array,
  cols: number,
  rowStart: number,
  rowEnd: number,
  mode: number,
  outBits: Int32Array,
  posCount: Int32Array,
  candCount: Int32Array,
  liveCount: Int32Array,
): void {
  const replacement = mode === 0 ? 0 : -8388608; // +0, or the bits of -Inf (0xff800000)
  for (let r = rowStart; r < rowEnd; r++) {
    const base = r * cols;
    const end = base + cols;
    let p = 0;
    let cand = 0;
    let live = 0;
    if (mode < 2) {
      for (let i = base; i < end; i++) {
        const isPos = positives[i]!;
        outBits[i] = isPos !== 0 ? replacement : bits[i]!;
        p += isPos;
      }
    } else {
      const skipZero = mode === 3;
      for (let i = base; i < end; i++) {
        const b = bits[i]!;
        if (positives[i] !== 0) {
          outBits[i] = -8388608;
          p++;
        } else if (skipZero && (b & 0x7fffffff) === 0) {
          outBits[i] = -8388608;
        } else {
          outBits[i] = b;
          cand++;
          if (b !== -8388608) live++;
        }
      }
      candCount[r] = cand;
      liveCount[r] = live;
    }
    posCount[r] = p;
  }
}
