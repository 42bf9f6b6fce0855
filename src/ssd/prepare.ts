import { countRows } from './count-rows.ts';
import type { PresetSpec } from './presets.ts';
import { batchCount, perImageCount } from './presets.ts';
import { rewriteRows } from './rewrite-rows.ts';
import type { RowBlock } from './rows.ts';
import { allRows } from './rows.ts';

/**
 * A preset resolved once (by `resolvePreset`) for every chunk it prepares: its table entry and its
 * validated `ratio` and `minNegatives`.
 */
export interface ResolvedPreset {
  readonly spec: PresetSpec;
  readonly ratio: number;
  readonly minNegatives: number;
}

/** Where {@link prepareImageRows} writes. */
export interface ImageRowsOutput {
  /** The loss to rank, as bits (may be `block.bits`, for an in-place rewrite). */
  readonly bits: Int32Array;
  /** One count per row (`perImageCount`, clamped to `0 .. cols`). */
  readonly counts: Int32Array;
  readonly positivesPerRow: Int32Array;
}

/** Where {@link prepareBatch} writes. */
export interface BatchOutput {
  /** The loss to rank, as bits (may be `block.bits`). */
  readonly bits: Int32Array;
  readonly positivesPerRow: Int32Array;
}

/** `rewriteRows`' mode for a preset. */
export function rewriteMode(spec: PresetSpec): number {
  if (spec.positives === 'zero') return 0;
  if (spec.positives === '-inf') return 1;
  return spec.skipZeroLoss ? 3 : 2;
}

/**
 * A per-image preset's preparation of the rows of `block`: counts the positives of each row, writes
 * each row's count and the loss to rank into `out`. Then the per-row select kernel
 * (`hardNegativeMask` or a pool) on `out.bits` with `out.counts` gives exactly the framework's
 * negative mask. `block.positives` holds 0/1 per element.
 *
 * This is the function a streaming caller runs per chunk of whole rows. Cost: O(rows * cols), two
 * reads of the rows and one write; allocates three `rows`-sized arrays.
 *
 * @throws {RangeError} a batch-wide preset (ssd_keras).
 */
export function prepareImageRows(preset: ResolvedPreset, block: RowBlock, out: ImageRowsOutput): void {
  const { spec, ratio, minNegatives } = preset;
  if (spec.batchWide)
    throw new RangeError(`preset '${spec.name}' mines the whole batch at once, not per image`);
  const { rows, cols } = block;
  const mode = rewriteMode(spec);
  const excluded = mode >= 2;
  const candidates = new Int32Array(excluded ? rows : 0);
  const live = new Int32Array(excluded ? rows : 0);
  countRows(
    block,
    allRows(block),
    { excluded, skipZero: false },
    { positives: out.positivesPerRow, candidates, live },
  );
  const promote = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const k = perImageCount(spec, ratio, minNegatives, cols, out.positivesPerRow[r]!);
    out.counts[r] = k;
    if (excluded && k > live[r]!) promote[r] = 1;
  }
  rewriteRows(block, allRows(block), mode, promote, out.bits);
}

/**
 * ssd_keras's preparation of a whole batch: counts the positives of each row, writes the loss to
 * rank into `out` and returns the batch count `n_negative_keep`. Then one top-k of that count over
 * the flattened batch (ties by flat index: `hardNegativeMaskBatchWide`) on `out.bits` gives exactly
 * ssd_keras's mask. Same preconditions and cost as {@link prepareImageRows}.
 *
 * @throws {RangeError} a per-image preset.
 */
export function prepareBatch(preset: ResolvedPreset, block: RowBlock, out: BatchOutput): number {
  const { spec, ratio, minNegatives } = preset;
  if (!spec.batchWide) throw new RangeError(`preset '${spec.name}' mines per image, not over the batch`);
  const rows = block.rows;
  const candidates = new Int32Array(rows);
  const live = new Int32Array(rows);
  const rule = { excluded: true, skipZero: spec.skipZeroLoss };
  countRows(block, allRows(block), rule, { positives: out.positivesPerRow, candidates, live });
  let numPositives = 0;
  let numCandidates = 0;
  let numLive = 0;
  for (let r = 0; r < rows; r++) {
    numPositives += out.positivesPerRow[r]!;
    numCandidates += candidates[r]!;
    numLive += live[r]!;
  }
  const k = batchCount(ratio, minNegatives, numPositives, numCandidates);
  const promote = new Uint8Array(rows).fill(k > numLive ? 1 : 0);
  rewriteRows(block, allRows(block), rewriteMode(spec), promote, out.bits);
  return k;
}
