import { rankRows } from './kernel/rank-rows.ts';
import type { KernelScratch } from './kernel/scratch.ts';
import { scratchFor } from './kernel/scratch.ts';
import type { NanOptions } from './validate.ts';
import { bitsOf, checkCols, checkIntact, checkLoss, checkNan, checkOut, nanError } from './validate.ts';

/** Options of {@link rankDescending}. */
export interface RankOptions extends NanOptions {
  /** Where to write the ranks (`rows * cols` int32); a new array when omitted. */
  out?: Int32Array;
}

let callerScratch: KernelScratch | undefined;

/**
 * The seed's `idx_rank`: `rank[r * cols + i]` is the position of element `i` in the stable
 * descending order of row `r` (0 = largest loss; equal losses by index; `-0 == +0`). So
 * `rank < k` is the hard negative mask, and `rank` itself is what `loss.sort(1, descending=True,
 * stable=True).indices.sort(1).indices` returns.
 *
 * Cost: one stable LSD radix sort per row (in wasm four 8-bit passes over packed (key, column)
 * pairs, the last scattering the ranks; in the JavaScript fallback at most three 11-bit passes and an
 * O(cols) scatter), since the seed's second sort only inverts a permutation; a digit every element
 * of the row shares skips its pass. Same validation as {@link hardNegativeMask}.
 */
export function rankDescending(loss: Float32Array, cols: number, options?: RankOptions): Int32Array {
  checkLoss(loss);
  const rows = checkCols(cols, loss.length);
  const nanLargest = checkNan(options);
  const given = checkOut(options?.out, loss.length, Int32Array, { loss });
  // The getters of `options` ran after `loss` was checked, and may have detached it.
  checkIntact(loss, 'loss', rows * cols);
  if (given !== undefined) checkIntact(given, 'options.out', rows * cols);
  const out = given ?? new Int32Array(loss.length);
  callerScratch = scratchFor(callerScratch, cols);
  const nanAt = rankRows(bitsOf(loss), cols, 0, rows, out, callerScratch, nanLargest);
  if (nanAt >= 0) throw nanError(nanAt, cols);
  return out;
}
