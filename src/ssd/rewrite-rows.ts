import type { RowBlock, RowRange } from './rows.ts';

/**
 * Writes the loss a preset ranks, for the rows `range` of `block`: `outBits` gets the float32 bits of
 * `block.bits` with the preset's replacement. `outBits` may be `bits`
 * itself (each element is read before it is written).
 *
 * `mode`:
 * - 0: a positive's loss becomes `+0` (ssd.pytorch, pytorch_advanced);
 * - 1: a positive's loss becomes `-Inf` (torchvision);
 * - 2: excluded positives (mmdet): a positive becomes `-Inf`;
 * - 3: excluded positives and zero-loss negatives (ssd_keras): both become `-Inf`.
 *
 * In modes 2 and 3 the other elements are the candidates. A stable top-k with `k <= liveCount` (see
 * `countRows`) then picks candidates only, since every live candidate ranks above `-Inf`. But a
 * candidate whose loss is itself `-Inf` ties with the excluded elements, and the index tie-break
 * could pick an excluded one first. So in a row with `promote[r] = 1` (its `k` exceeds `liveCount`,
 * so every live candidate is taken anyway) the candidates are rewritten to keep the top-k exact:
 * live ones become `+Inf`, `-Inf` ones `+0`, excluded ones stay `-Inf`. Then the top-k is every live
 * candidate and the first `k - liveCount` `-Inf` candidates in index order, as the framework's top-k
 * over its candidates gives. `promote` is read in modes 2 and 3 only.
 *
 * Cost: one read of `positives` and `bits`, one write of `outBits`; no allocation.
 */
export function rewriteRows(
  block: RowBlock,
  range: RowRange,
  mode: number,
  promote: Uint8Array,
  outBits: Int32Array,
): void {
  const { bits, positives, cols } = block;
  for (let r = range.start; r < range.end; r++) {
    const base = r * cols;
    const end = base + cols;
    if (mode < 2) {
      const replacement = mode === 0 ? 0 : -8388608; // +0, or the bits of -Inf (0xff800000)
      for (let i = base; i < end; i++) outBits[i] = positives[i] !== 0 ? replacement : bits[i]!;
      continue;
    }
    const skipZero = mode === 3;
    if (promote[r] === 0) {
      for (let i = base; i < end; i++) {
        const b = bits[i]!;
        outBits[i] = positives[i] !== 0 || (skipZero && (b & 0x7fffffff) === 0) ? -8388608 : b;
      }
    } else {
      for (let i = base; i < end; i++) {
        const b = bits[i]!;
        // Excluded: -Inf; a -Inf candidate: +0; any other candidate (NaN included): +Inf (0x7f800000).
        outBits[i] =
          positives[i] !== 0 || (skipZero && (b & 0x7fffffff) === 0)
            ? -8388608
            : b === -8388608
              ? 0
              : 0x7f800000;
      }
    }
  }
}
