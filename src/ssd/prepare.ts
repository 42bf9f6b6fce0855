import { countRows } from './count-rows.ts';
import type { PresetSpec } from './presets.ts';
import { batchCount, perImageCount } from './presets.ts';
import { rewriteRows } from './rewrite-rows.ts';

/** `rewriteRows`' mode for a preset. */
export function rewriteMode(spec: PresetSpec): number {
  if (spec.positives === 'zero') return 0;
  if (spec.positives === '-inf') return 1;
  return spec.skipZeroLoss ? 3 : 2;
}

/**
 * A per-image preset's preparation of `rows` rows: counts the positives of each row into
 * `positivesPerRow`, writes each row's count (`perImageCount`, clamped to `0 .. cols`) into `counts`,
 * and writes the loss to rank into `outBits` (may be `bits`, for an in-place rewrite). Then the
 * per-row select kernel (`hardNegativeMask` or a pool) on `outBits` with `counts` gives exactly the
 * framework's negative mask. `ratio` and `minNegatives` must be validated (`checkRatio`,
 * `checkMinNegatives`); `positives` holds 0/1 per element.
 *
 * This is the function a streaming caller runs per chunk of whole rows. Cost: O(rows * cols), two
 * reads of the rows and one write; allocates three `rows`-sized arrays.
 */
export function prepareImageRows(
  spec: PresetSpec,
  ratio: number,
  minNegatives: number,
  bits: Int32Array,
  positives: Uint8Array,
  cols: number,
  rows: number,
  outBits: Int32Array,
  counts: Int32Array,
  positivesPerRow: Int32Array,
): void {
  if (spec.batchWide)
    throw new RangeError(`preset '${spec.name}' mines the whole batch at once, not per image`);
  const mode = rewriteMode(spec);
  const excluded = mode >= 2;
  const candCount = new Int32Array(excluded ? rows : 0);
  const liveCount = new Int32Array(excluded ? rows : 0);
  countRows(bits, positives, cols, 0, rows, excluded, false, positivesPerRow, candCount, liveCount);
  const promote = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const k = perImageCount(spec, ratio, minNegatives, cols, positivesPerRow[r]!);
    counts[r] = k;
    if (excluded && k > liveCount[r]!) promote[r] = 1;
  }
  rewriteRows(bits, positives, cols, 0, rows, mode, promote, outBits);
}

/**
 * ssd_keras's preparation of a whole batch: counts the positives of each row into `positivesPerRow`,
 * writes the loss to rank into `outBits` (may be `bits`) and returns the batch count
 * `n_negative_keep`. Then one top-k of that count over the flattened batch (ties by flat index:
 * `hardNegativeMaskBatchWide`) on `outBits` gives exactly ssd_keras's mask. Same preconditions and
 * cost as {@link prepareImageRows}.
 */
export function prepareBatch(
  spec: PresetSpec,
  ratio: number,
  minNegatives: number,
  bits: Int32Array,
  positives: Uint8Array,
  cols: number,
  rows: number,
  outBits: Int32Array,
  positivesPerRow: Int32Array,
): number {
  if (!spec.batchWide) throw new RangeError(`preset '${spec.name}' mines per image, not over the batch`);
  const candCount = new Int32Array(rows);
  const liveCount = new Int32Array(rows);
  countRows(bits, positives, cols, 0, rows, true, spec.skipZeroLoss, positivesPerRow, candCount, liveCount);
  let numPositives = 0;
  let candidates = 0;
  let live = 0;
  for (let r = 0; r < rows; r++) {
    numPositives += positivesPerRow[r]!;
    candidates += candCount[r]!;
    live += liveCount[r]!;
  }
  const k = batchCount(ratio, minNegatives, numPositives, candidates);
  const promote = new Uint8Array(rows).fill(k > live ? 1 : 0);
  rewriteRows(bits, positives, cols, 0, rows, rewriteMode(spec), promote, outBits);
  return k;
}
