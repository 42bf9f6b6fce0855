import { bitsOf } from '../validate.ts';
import { prepareBatch, prepareImageRows } from './prepare.ts';
import { checkMinNegatives, checkPreset, checkRatio } from './presets.ts';

/**
 * A preset's preparation of a chunk of whole rows, in place, for a streaming caller (the `hnm mine`
 * CLI): rewrites `loss` into the loss the preset ranks and writes the counts, then returns how many
 * entries of `counts` it wrote:
 *
 * - per-image presets: `rows` entries, one count per row; mine `loss` per row with them;
 * - ssd_keras (batch-wide): 1 entry, the batch count; mine `loss` as one flat row of `rows * cols`
 *   with it. The chunk must then be the whole batch (ssd_keras ranks the whole batch at once).
 *
 * `positives` must hold 0/1 (see `firstNonBinary`); a NaN in `loss` must already have been reported
 * under `--nan error` (the rewrite hides a positive's NaN). Cost: O(rows * cols), no allocation but
 * three `rows`-sized arrays.
 *
 * @throws {RangeError} a bad preset name, ratio or floor (the CLI checks them first).
 */
export function prepareSsdChunk(
  preset: string,
  ratio: number,
  minNegatives: number,
  loss: Float32Array,
  positives: Uint8Array,
  rows: number,
  cols: number,
  counts: Int32Array,
): number {
  const spec = checkPreset(preset);
  checkRatio(ratio, spec);
  checkMinNegatives(minNegatives);
  const bits = bitsOf(loss);
  const perRow = new Int32Array(rows);
  if (spec.batchWide) {
    counts[0] = prepareBatch(spec, ratio, minNegatives, bits, positives, cols, rows, bits, perRow);
    return 1;
  }
  prepareImageRows(spec, ratio, minNegatives, bits, positives, cols, rows, bits, counts, perRow);
  return rows;
}
