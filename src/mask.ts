import type { KernelScratch } from './kernel/scratch.ts';
import { scratchFor } from './kernel/scratch.ts';
import { selectRows } from './kernel/select-rows.ts';
import type { NanOptions } from './validate.ts';
import {
  bitsOf,
  checkCols,
  checkIntact,
  checkLoss,
  checkNan,
  checkOut,
  nanError,
  toCounts,
} from './validate.ts';

/** Options of {@link hardNegativeMask}. */
export interface MaskOptions extends NanOptions {
  /** Where to write the mask (`rows * cols` bytes); a new array when omitted. */
  out?: Uint8Array;
}

let scratch: KernelScratch | undefined;

/**
 * The calling thread's kernel scratch for rows of `cols` (one per thread, reallocated only when the
 * column count grows): the sync API's, and the pool's calling thread's for its share of a dispatched
 * call (pool/caller-rows.ts). Not exported from the package.
 */
export function callerScratch(cols: number): KernelScratch {
  scratch = scratchFor(scratch, cols);
  return scratch;
}

/**
 * SSD hard negative mask, synchronously on the calling thread: for each row of the `(rows, cols)`
 * batch `loss`, 1 for the `numNeg[row]` elements ranked first in stable descending order (larger loss
 * first, equal losses by index, `-0 == +0`), else 0. Bit-identical to the seed's
 * `loss.sort(desc).indices.sort().indices < num_neg` ({@link referenceMask}).
 *
 * Cost: O(cols) per row, no sort (sampled pivot, one gather pass, radix select over the few
 * candidates, both in WebAssembly where available); about 1.1-1.3 ns per element for SSD-sized rows
 * on one core (2.9 with the JavaScript fallback). Allocates only the result (and scratch once per
 * column count); a fresh result's first-touch page faults can cost more than the mining, so pass a
 * reused `options.out` in loops.
 *
 * @param loss float32 losses, row-major, `rows * cols` elements.
 * @param cols elements per row (8732 for SSD300); must divide `loss.length`.
 * @param numNeg one count for every row, or one per row; finite integers >= 0. A count above
 *   `cols` selects the whole row, 0 selects nothing.
 * @throws {TypeError} an argument of the wrong type.
 * @throws {RangeError} a bad `cols` or count, or a NaN loss (naming its row and column) unless
 *   `options.nan` is `'largest'`.
 */
export function hardNegativeMask(
  loss: Float32Array,
  cols: number,
  numNeg: number | ArrayLike<number>,
  options?: MaskOptions,
): Uint8Array {
  checkLoss(loss);
  const rows = checkCols(cols, loss.length);
  const nanLargest = checkNan(options);
  const counts = toCounts(numNeg, rows, cols);
  const given = checkOut(options?.out, loss.length, Uint8Array, { loss, numNeg });
  // The getters of `options` and `numNeg` ran after `loss` was checked, and may have detached it.
  checkIntact(loss, 'loss', rows * cols);
  if (given !== undefined) checkIntact(given, 'options.out', rows * cols);
  return maskChecked(loss, cols, counts, given ?? new Uint8Array(loss.length), nanLargest);
}

/**
 * {@link hardNegativeMask} after its checks, for a caller that has already checked and read its
 * arguments once (the pool's inline path, whose snapshot in pool/args.ts runs the same checks):
 * `counts` holds one count per row, each in `0 .. cols`, and `out` has `loss.length` bytes. Throws
 * the NaN `RangeError`. Not exported from the package.
 */
export function maskChecked(
  loss: Float32Array,
  cols: number,
  counts: Int32Array,
  out: Uint8Array,
  nanLargest: boolean,
): Uint8Array {
  const nanAt = selectRows(
    bitsOf(loss),
    cols,
    0,
    counts.length,
    counts,
    out,
    callerScratch(cols),
    nanLargest,
  );
  if (nanAt >= 0) throw nanError(nanAt, cols);
  return out;
}
