import { hardNegativeMaskBatchWide } from '../batch-wide.ts';
import type { KernelScratch } from '../kernel/scratch.ts';
import { scratchFor } from '../kernel/scratch.ts';
import { selectRows } from '../kernel/select-rows.ts';
import { bitsOf } from '../validate.ts';
import type { SsdNegativesOptions, SsdNegativesResult, SsdPlan } from './plan.ts';
import { finishSsdNegatives, planSsdNegatives } from './plan.ts';
import { tfodNegatives } from './tfod.ts';
import type { TfodOptions, TfodResult } from './tfod-options.ts';
import { isTfodOptions } from './tfod-options.ts';

let rowScratch: KernelScratch | undefined;

/**
 * Runs the mining kernel of a plan on the calling thread: per row for the per-image presets, one
 * top-k over the flattened batch for ssd_keras (`hardNegativeMaskBatchWide`, ties by flat index).
 * Writes and returns the mask. O(rows * cols).
 */
export function mineSsdPlan(plan: SsdPlan): Uint8Array {
  const { rows, cols, modified, nanLargest } = plan;
  const n = modified.length;
  const negatives = plan.out ?? new Uint8Array(n);
  if (n === 0) return negatives;
  // The plan already rejected NaN under `nan: 'error'`, so the kernels never report one.
  if (plan.counts === null) {
    return hardNegativeMaskBatchWide(modified, cols, plan.batchCount, {
      nan: nanLargest ? 'largest' : 'error',
      out: negatives,
    });
  }
  rowScratch = scratchFor(rowScratch, cols);
  selectRows(bitsOf(modified), cols, 0, rows, plan.counts, negatives, rowScratch, nanLargest);
  return negatives;
}

/**
 * SSD hard negative mining as a training framework does it, synchronously on the calling thread.
 * `preset` picks the framework (README, "Coming from PyTorch / torchvision / mmdetection / Keras"):
 *
 * | preset | positives before ranking | k per row | positives in the mask? |
 * |---|---|---|---|
 * | `'ssd.pytorch'` (default) | loss set to 0 | `min(ratio * P, N - 1)` | yes, when k reaches them |
 * | `'pytorch_advanced'` | loss set to 0 | `min(ratio * P, N)` | yes, when k reaches them |
 * | `'torchvision'` | loss set to `-Inf` | `ratio * P`, no cap | yes, when k exceeds the negatives above `-Inf` |
 * | `'mmdet'` | excluded | `min(ratio * P, #negatives)` | never |
 * | `'ssd_keras'` | excluded; zero-loss negatives never picked | batch-wide `min(max(ratio * P_batch, n_neg_min), #nonzero negatives)` | never |
 *
 * The PyTorch-based presets mark `rank < k`, with `rank` the stable descending rank of the modified
 * loss, exactly as the framework's `idx_rank < num_neg` (so a fractional `k` rounds up, and `ratio *
 * P` is computed in float32 as PyTorch does). mmdet's top-k over the negatives and ssd_keras's top-k
 * over the flattened batch break ties by index too. `minNegatives` raises k before the cap (per image;
 * for ssd_keras it is `n_neg_min`). ssd_keras follows the preset table: its TensorFlow code ranks
 * `loss * negatives`, which equals this for every loss >= 0 (any cross-entropy) but would rank the
 * zeroed positives above a negative loss value; here positives are never picked.
 *
 * Input: `{ loss, positives, cols }` or `{ logits, labels, classes, cols }` (the loss is then
 * {@link confidenceLoss} and positives are `label > 0`).
 *
 * Cost: O(rows * cols): one pass that builds the modified loss (a copy), the O(N) select kernel, one
 * pass for the counts and the loss sum; plus O(rows * cols * classes) from logits. Allocates the
 * modified loss and the result.
 *
 * `preset: 'tf_object_detection'` (TensorFlow Object Detection API's `HardExampleMiner`: NMS by loss,
 * then a negative:positive ratio) takes other inputs and returns the kept selection: see
 * {@link TfodOptions} and `tfodNegatives`.
 *
 * @throws {TypeError} a missing or mistyped option, or both input forms at once.
 * @throws {RangeError} a bad `cols`, `ratio` (a fraction for mmdet/ssd_keras), `minNegatives`, preset
 *   name, shape, a positive that is not 0/1, a label out of range, or a NaN loss anywhere (positives
 *   included) unless `nan: 'largest'` — each naming the argument, or the row and column.
 */
export function ssdNegatives(options: TfodOptions): TfodResult;
export function ssdNegatives(options: SsdNegativesOptions): SsdNegativesResult;
export function ssdNegatives(options: SsdNegativesOptions | TfodOptions): SsdNegativesResult | TfodResult {
  if (isTfodOptions(options)) return tfodNegatives(options);
  const plan = planSsdNegatives(options);
  return finishSsdNegatives(plan, mineSsdPlan(plan));
}
