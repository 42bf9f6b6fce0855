import { bitsOf } from '../validate.ts';
import type { NmsScratch } from './nms.ts';
import { nmsRow, nmsScratchFor } from './nms.ts';
import type { TfodOptions, TfodPlan, TfodResult, TfodRowsInput } from './tfod-options.ts';
import { negativeBudget, planTfod } from './tfod-options.ts';

/**
 * The `'tf_object_detection'` preset: TensorFlow Object Detection API's `HardExampleMiner.__call__`
 * per image, on the validated plan (`tfod-options.ts`). The literal transcription it is tested
 * against is `tfod-reference.ts`.
 */

/** Where the row kernel writes, indexed by batch row (so row ranges can share one set of arrays). */
export interface TfodRowsOutput {
  readonly selected: Uint8Array;
  readonly positivesPerRow: Int32Array;
  readonly negativesPerRow: Int32Array;
  /** Per-row sums of the classification (and localization) loss over the kept anchors. */
  readonly clsSums: Float64Array;
  readonly locSums: Float64Array;
}

/** Per-thread scratch of the row kernel. */
export interface TfodScratch {
  readonly cols: number;
  readonly nms: NmsScratch;
  readonly scores: Float32Array;
  readonly selectedIdx: Int32Array;
}

let threadScratch: TfodScratch | undefined;

function scratchFor(cols: number): TfodScratch {
  if (threadScratch === undefined || threadScratch.cols < cols) {
    threadScratch = {
      cols,
      nms: nmsScratchFor(undefined, cols),
      scores: new Float32Array(cols),
      selectedIdx: new Int32Array(cols),
    };
  }
  return threadScratch;
}

/**
 * Mines rows `rowStart .. rowEnd - 1`, as `HardExampleMiner` does per image:
 *
 * 1. `image_losses`: the classification loss, the localization loss (`'loc'`), or
 *    `cls * clsWeight + loc * locWeight` in float32 (`'both'`);
 * 2. greedy NMS of the image's boxes by those losses (`nmsRow`), at most `maxOutput`;
 * 3. with a ratio (`ratio >= 0`), `_subsample_selection_to_desired_neg_pos_ratio` in NMS order: every
 *    selected positive stays; any other selected anchor stays while the running count of selected
 *    negatives up to and including it is `<= max(minNegatives, int(ratio * P_selected))` (so an ignored
 *    anchor, never counted, stays when the count before it is within the budget, as in TensorFlow);
 * 4. the kept selection, its counts and its loss sums (float64, index order).
 *
 * `plain` runs the O(N * S) NMS (for the benchmark). Cost per row: O(N) plus the NMS's IoU tests;
 * uses the thread's scratch, allocates nothing after the first call.
 */
export function mineTfodRows(
  input: TfodRowsInput,
  rowStart: number,
  rowEnd: number,
  output: TfodRowsOutput,
  plain = false,
): void {
  const { cols, loss, locLoss, boxes, positives, ignored, lossType } = input;
  const s = scratchFor(cols);
  const sel = s.selectedIdx;
  const lossBits = bitsOf(loss);
  const locBits = locLoss === undefined ? lossBits : bitsOf(locLoss);
  const scoreBitsBoth = bitsOf(s.scores);
  for (let r = rowStart; r < rowEnd; r++) {
    const base = r * cols;
    let scoreBits = lossBits;
    let scoreBase = base;
    if (lossType === 'loc') scoreBits = locBits;
    else if (lossType === 'both') {
      const scores = s.scores;
      const cw = input.clsWeight;
      const lw = input.locWeight;
      const loc = locLoss!;
      for (let i = 0; i < cols; i++) {
        // image_losses *= cls_loss_weight; image_losses += location_losses * loc_loss_weight (float32)
        scores[i] = Math.fround(Math.fround(loss[base + i]! * cw) + Math.fround(loc[base + i]! * lw));
      }
      scoreBits = scoreBitsBoth;
      scoreBase = 0;
    }
    const m = nmsRow(
      scoreBits,
      scoreBase,
      boxes,
      4 * base,
      cols,
      input.threshold,
      input.maxOutput,
      sel,
      s.nms,
      plain,
    );
    const out = output.selected;
    out.fill(0, base, base + cols);
    let pos = 0;
    for (let k = 0; k < m; k++) pos += positives[base + sel[k]!]!;
    if (input.ratio < 0) {
      for (let k = 0; k < m; k++) out[base + sel[k]!] = 1;
      output.negativesPerRow[r] = m - pos;
    } else {
      const budget = negativeBudget(input.ratio, input.minNegatives, pos);
      let negatives = 0;
      let kept = 0;
      for (let k = 0; k < m; k++) {
        const i = base + sel[k]!;
        if (positives[i] !== 0) {
          out[i] = 1;
          kept++;
          continue;
        }
        if (ignored === undefined || ignored[i] === 0) negatives++;
        if (negatives <= budget) {
          out[i] = 1;
          kept++;
        }
      }
      output.negativesPerRow[r] = kept - pos;
    }
    output.positivesPerRow[r] = pos;
    let cls = 0;
    let loc = 0;
    for (let i = base, end = base + cols; i < end; i++) {
      if (out[i] === 0) continue;
      cls += loss[i]!;
      if (locLoss !== undefined) loc += locLoss[i]!;
    }
    output.clsSums[r] = cls;
    output.locSums[r] = loc;
  }
}

/** Allocates the per-row outputs of a plan (the selection in `plan.out` or `selected` when given). */
export function tfodOutput(plan: TfodPlan, selected?: Uint8Array): TfodRowsOutput {
  const rows = plan.rows;
  return {
    selected: selected ?? plan.out ?? new Uint8Array(rows * plan.cols),
    positivesPerRow: new Int32Array(rows),
    negativesPerRow: new Int32Array(rows),
    clsSums: new Float64Array(rows),
    locSums: new Float64Array(rows),
  };
}

/**
 * The result from the row outputs: the negatives mask (kept and not positive), totals, and the loss
 * sums added over rows in row order (so any split into row ranges gives the same sums). O(rows * cols).
 */
export function finishTfod(plan: TfodPlan, output: TfodRowsOutput): TfodResult {
  const { selected } = output;
  const negatives = new Uint8Array(selected.length);
  const positives = plan.positives;
  for (let i = 0; i < selected.length; i++) negatives[i] = selected[i]! & (positives[i]! ^ 1);
  let numPositives = 0;
  let numNegatives = 0;
  let clsLossSum = 0;
  let locLossSum = 0;
  for (let r = 0; r < plan.rows; r++) {
    numPositives += output.positivesPerRow[r]!;
    numNegatives += output.negativesPerRow[r]!;
    clsLossSum += output.clsSums[r]!;
    locLossSum += output.locSums[r]!;
  }
  return {
    selected,
    negatives,
    positivesPerRow: output.positivesPerRow,
    negativesPerRow: output.negativesPerRow,
    numPositives,
    numNegatives,
    clsLossSum,
    locLossSum: plan.locLoss === undefined ? null : locLossSum,
  };
}

/**
 * `HardExampleMiner` (TensorFlow Object Detection API) on the calling thread: per image, greedy NMS of
 * the decoded boxes by loss, then the negative:positive subsampling (options: {@link TfodOptions}).
 * Bit-identical to `referenceTfod`. Cost: O(N) per image plus the NMS's IoU tests (few per box
 * with a grid when the threshold is high).
 *
 * @throws {TypeError} a missing or mistyped input or option.
 * @throws {RangeError} a bad shape, value or option (naming it), a positive also marked ignored, a
 *   NaN in `loss`, `locLoss` or `boxes` (naming the row and column, and for boxes the coordinate), or
 *   a box with an infinite corner, side or area.
 */
export function tfodNegatives(options: TfodOptions): TfodResult {
  const plan = planTfod(options);
  const output = tfodOutput(plan);
  mineTfodRows(plan, 0, plan.rows, output);
  return finishTfod(plan, output);
}
