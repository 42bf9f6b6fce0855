import {
  histogramRefine,
  histogramTop,
  levelShift,
  stepLevel,
  TAKE_ALL_PREFIX,
  TAKE_NONE_PREFIX,
  writeRange,
} from './kernel/batch-wide.ts';
import { firstNan } from './kernel/select-rows.ts';
import type { NanOptions } from './validate.ts';
import { bitsOf, checkCols, checkIntact, checkLoss, checkNan, checkOut, nanError } from './validate.ts';

/**
 * Validates the batch-wide count `k` (a finite integer >= 0) and clamps it to `length`.
 * @throws {TypeError} not a number. @throws {RangeError} not an integer >= 0.
 */
export function checkBatchCount(k: unknown, length: number): number {
  if (typeof k !== 'number') throw new TypeError(`\`k\` must be a number, got ${typeof k}`);
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`\`k\` must be a finite integer >= 0, got ${k}`);
  return k > length ? length : k;
}

/** Options of {@link hardNegativeMaskBatchWide}. */
export interface BatchWideOptions extends NanOptions {
  /** Where to write the mask (`rows * cols` bytes); a new array when omitted. */
  out?: Uint8Array;
}

const callerHist = new Int32Array(2048);

/**
 * Batch-wide hard negative mask, synchronously: the `k` elements of the whole `(rows, cols)` batch
 * ranked first in stable descending order of the batch read as one flat row (larger loss first,
 * equal losses by flat index `row * cols + col`, `-0 == +0`), as ssd_keras mines one top-k over the
 * batch. Equal to `referenceMask(loss, loss.length, k)`, bit for bit.
 *
 * Cost: two to four passes over the batch (an 11-bit radix select on order keys, refined only as far
 * as the threshold needs, then one write pass); no sort, no allocation besides the result.
 *
 * @param loss float32 losses, row-major, `rows * cols` elements.
 * @param cols elements per row; must divide `loss.length` (it only shapes the NaN error message).
 * @param k how many elements of the whole batch to take; a finite integer >= 0, clamped to the size.
 * @throws {TypeError} an argument of the wrong type.
 * @throws {RangeError} a bad `cols` or `k`, or a NaN loss (naming its row and column) unless
 *   `options.nan` is `'largest'`.
 */
export function hardNegativeMaskBatchWide(
  loss: Float32Array,
  cols: number,
  k: number,
  options?: BatchWideOptions,
): Uint8Array {
  checkLoss(loss);
  checkCols(cols, loss.length);
  const nanLargest = checkNan(options);
  const n = loss.length;
  const count = checkBatchCount(k, n);
  const given = checkOut(options?.out, n, Uint8Array, { loss });
  // The getters of `options` ran after `loss` was checked, and may have detached it.
  checkIntact(loss, 'loss', n);
  if (given !== undefined) checkIntact(given, 'options.out', n);
  const out = given ?? new Uint8Array(n);
  const bits = bitsOf(loss);
  if (count === 0 || count >= n) {
    const nanAt = nanLargest ? -1 : firstNan(bits, 0, n);
    if (nanAt >= 0) throw nanError(nanAt, cols);
    out.fill(count === 0 ? 0 : 1);
    return out;
  }
  const hist = callerHist;
  hist.fill(0);
  const nanAt = histogramTop(bits, 0, n, hist, 0, nanLargest);
  if (nanAt >= 0 && !nanLargest) throw nanError(nanAt, cols);
  const hasNan = nanAt >= 0;
  let level = 0;
  let step = stepLevel(hist, 0, 0, 0, count);
  while (step.count !== step.need && level < 2) {
    level++;
    hist.fill(0);
    histogramRefine(bits, 0, n, level, step.prefix, hist, 0, hasNan);
    step = stepLevel(hist, 0, level, step.prefix, step.need);
  }
  writeRange(bits, 0, n, levelShift(level), step.prefix, step.need, out, hasNan);
  return out;
}

/** The threshold of `k = 0` and `k >= n` (see kernel/batch-wide.ts): take none or all. */
export function edgeThreshold(count: number): { shift: number; prefix: number } {
  return { shift: 21, prefix: count === 0 ? TAKE_NONE_PREFIX : TAKE_ALL_PREFIX };
}
