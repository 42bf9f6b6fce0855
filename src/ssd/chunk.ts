import { bitsOf } from '../validate.ts';
import type { ResolvedPreset } from './prepare.ts';
import { prepareBatch, prepareImageRows } from './prepare.ts';
import { checkMinNegatives, checkPreset, checkRatio } from './presets.ts';

/**
 * Validates a preset name, ratio and floor once, for a streaming caller that then prepares chunk
 * after chunk with {@link prepareSsdChunk}.
 *
 * @throws {TypeError} / {RangeError} a bad preset name, ratio or floor (the CLI checks them first).
 */
export function resolvePreset(options: {
  readonly preset: string | undefined;
  readonly ratio: number | undefined;
  readonly minNegatives: number | undefined;
}): ResolvedPreset {
  const spec = checkPreset(options.preset);
  return {
    spec,
    ratio: checkRatio(options.ratio, spec),
    minNegatives: checkMinNegatives(options.minNegatives),
  };
}

/** A chunk of whole rows in memory, as the streaming caller read it. */
export interface SsdChunk {
  /** `rows * cols` float32 losses, rewritten in place into the loss the preset ranks. */
  readonly loss: Float32Array;
  /** `rows * cols` 0/1 positives (see `firstNonBinary`). */
  readonly positives: Uint8Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * A preset's preparation of a chunk of whole rows, in place, for a streaming caller (the `hnm mine`
 * CLI): rewrites `chunk.loss` into the loss the preset ranks and writes the counts, then returns how
 * many entries of `counts` it wrote:
 *
 * - per-image presets: `rows` entries, one count per row; mine the loss per row with them;
 * - ssd_keras (batch-wide): 1 entry, the batch count; mine the loss as one flat row of `rows * cols`
 *   with it. The chunk must then be the whole batch (ssd_keras ranks the whole batch at once).
 *
 * A NaN in the loss must already have been reported under `--nan error` (the rewrite hides a
 * positive's NaN). Cost: O(rows * cols), no allocation but three `rows`-sized arrays.
 */
export function prepareSsdChunk(preset: ResolvedPreset, chunk: SsdChunk, counts: Int32Array): number {
  const bits = bitsOf(chunk.loss);
  const block = { bits, positives: chunk.positives, rows: chunk.rows, cols: chunk.cols };
  const positivesPerRow = new Int32Array(chunk.rows);
  if (preset.spec.batchWide) {
    counts[0] = prepareBatch(preset, block, { bits, positivesPerRow });
    return 1;
  }
  prepareImageRows(preset, block, { bits, counts, positivesPerRow });
  return chunk.rows;
}
