import type { NanOptions } from './validate.ts';
import { checkCols, checkIntact, checkLoss, checkNan, nanError, toCounts } from './validate.ts';

/**
 * Stable descending comparator of the seed's first sort: larger loss first, `-0 == +0` (a tie),
 * and under `nan: 'largest'` NaN above everything with all NaNs tied, as PyTorch sorts.
 */
function compareDescending(x: number, y: number): number {
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
  if (Number.isNaN(y)) return 1;
  return x > y ? -1 : x < y ? 1 : 0;
}

/**
 * The seed's `idx_rank`, transcribed literally: two comparator sorts per row.
 *
 * ```python
 * _, loss_idx = loss_c.sort(1, descending=True)  # stable
 * _, idx_rank = loss_idx.sort(1)
 * ```
 *
 * `Array.prototype.sort` is stable (ES2019), so equal losses keep index order, as with
 * `torch.sort(stable=True)` and PyTorch's CPU `std::stable_sort`. This is the executable
 * specification every fast path is tested against; it costs O(N log N) with a comparator call per
 * comparison (hundreds of ns per element). Throws like {@link hardNegativeMask}.
 */
export function referenceRank(loss: Float32Array, cols: number, options?: NanOptions): Int32Array {
  checkLoss(loss);
  const rows = checkCols(cols, loss.length);
  const nanLargest = checkNan(options);
  checkIntact(loss, 'loss', rows * cols);
  const rank = new Int32Array(loss.length);
  for (let r = 0; r < rows; r++) {
    const row = loss.subarray(r * cols, (r + 1) * cols);
    if (!nanLargest) {
      const at = row.findIndex((x) => Number.isNaN(x));
      if (at >= 0) throw nanError(r * cols + at, cols);
    }
    const positions = Array.from({ length: cols }, (_, i) => i);
    const lossIdx = positions.slice().sort((a, b) => compareDescending(row[a]!, row[b]!));
    const idxRank = positions.slice().sort((a, b) => lossIdx[a]! - lossIdx[b]!);
    rank.set(idxRank, r * cols);
  }
  return rank;
}

/**
 * The seed's mask, literally: `neg_mask = idx_rank < num_neg.expand_as(idx_rank)`, with `idx_rank`
 * from {@link referenceRank}. Same arguments, validation and result as {@link hardNegativeMask}, at
 * the seed's O(N log N) cost; use it as the oracle and the baseline, not in production.
 */
export function referenceMask(
  loss: Float32Array,
  cols: number,
  numNeg: number | ArrayLike<number>,
  options?: NanOptions,
): Uint8Array {
  checkLoss(loss);
  const rows = checkCols(cols, loss.length);
  const counts = toCounts(numNeg, rows, cols);
  const idxRank = referenceRank(loss, cols, options);
  const mask = new Uint8Array(loss.length);
  for (let r = 0; r < rows; r++) {
    const numNegRow = counts[r]!;
    for (let i = r * cols; i < (r + 1) * cols; i++) mask[i] = idxRank[i]! < numNegRow ? 1 : 0;
  }
  return mask;
}
