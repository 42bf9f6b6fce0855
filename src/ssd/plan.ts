import { firstNan } from '../kernel/select-rows.ts';
import type { NanOptions } from '../validate.ts';
import { bitsOf, checkCols, checkLoss, checkNan, checkOut, nanError } from '../validate.ts';
import type { LabelArray } from './confidence-loss.ts';
import { checkLogitsShape, confidenceLoss } from './confidence-loss.ts';
import type { PositivesInput } from './positives.ts';
import { positivesFromLabels, toPositives } from './positives.ts';
import { prepareBatch, prepareImageRows } from './prepare.ts';
import type { PresetSpec, SsdPreset } from './presets.ts';
import { checkMinNegatives, checkPreset, checkRatio } from './presets.ts';

/** Options shared by both input forms of {@link ssdNegatives}. */
export interface SsdCommonOptions extends NanOptions {
  /** Elements per row (anchors per image, 8732 for SSD300). */
  cols: number;
  /** The framework to reproduce; `'ssd.pytorch'` when omitted. */
  preset?: SsdPreset;
  /**
   * Negatives per positive; 3 when omitted. Any positive number for the PyTorch-based presets (a
   * fractional `ratio * P` rounds up, as `rank < k` does); whole numbers for mmdet and ssd_keras.
   */
  ratio?: number;
  /**
   * A floor on the count, 0 when omitted: per image `k = max(ratio * P, minNegatives)` before the
   * preset's cap; for ssd_keras the batch's `n_neg_min`.
   */
  minNegatives?: number;
  /** Where to write the negative mask (`rows * cols` bytes); a new array when omitted. */
  out?: Uint8Array;
}

/** {@link ssdNegatives} input as a loss and a positive mask. */
export interface SsdLossInput extends SsdCommonOptions {
  /** float32 confidence loss `(rows, cols)`, row-major. */
  loss: Float32Array;
  /** `(rows, cols)` positives: 0/1 bytes, or booleans / 0/1 numbers. */
  positives: PositivesInput;
  logits?: never;
  labels?: never;
  classes?: never;
}

/** {@link ssdNegatives} input as raw logits and labels; the loss is {@link confidenceLoss}. */
export interface SsdLogitsInput extends SsdCommonOptions {
  /** float32 logits `(rows, cols, classes)`, row-major. */
  logits: Float32Array;
  /** `(rows, cols)` integer class labels, 0 = background; positives are `label > 0`. */
  labels: LabelArray;
  /** Classes per box, background included. */
  classes: number;
  loss?: never;
  positives?: never;
}

/** Options of {@link ssdNegatives}: one of the two input forms plus the common options. */
export type SsdNegativesOptions = SsdLossInput | SsdLogitsInput;

/**
 * What {@link ssdNegatives} returns. Invariants: `counts[r]` is the number of ones in row `r` of
 * `negatives`; `numNegatives` is their sum; `negatives` contains a positive only for the presets whose
 * `canMarkPositives` is true (see `PRESETS`).
 */
export interface SsdNegativesResult {
  /** The preset's negative mask, `rows * cols` bytes (0/1), exactly the framework's `neg` mask. */
  negatives: Uint8Array;
  /**
   * Elements marked per row: the framework's `num_neg` after its cap (`ceil` of a fractional count,
   * at most `cols`). For ssd_keras, whose count is batch-wide, how the batch count fell on each row.
   */
  counts: Int32Array;
  /** Elements marked in the whole batch: for ssd_keras the batch count `n_negative_keep`. */
  numNegatives: number;
  /** Positives per row (P). */
  positivesPerRow: Int32Array;
  /** Positives in the batch (the usual loss normaliser `N`; the frameworks divide by `max(1, N)`). */
  numPositives: number;
  /**
   * Sum of the original (unmodified) loss over `positives ∪ negatives`, in float64 and index order:
   * the numerator of the classification loss. An element that is both is counted once (ssd.pytorch and
   * pytorch_advanced select `pos | neg`); torchvision sums the two sets separately, so where a
   * positive was marked as a negative it counts that loss twice.
   */
  lossSum: number;
  /** The loss that was ranked: the input `loss`, or the one computed from `logits`. */
  loss: Float32Array;
  /** The positives as 0/1 bytes (the input when it was a Uint8Array). */
  positives: Uint8Array;
}

/**
 * Everything {@link ssdNegatives} prepares on the calling thread before the mining: the validated
 * inputs, the loss that is ranked, and the count(s) the mining kernel takes. Mining `modified` per row
 * with `counts` (per-image presets), or over the flattened batch with `batchCount` (ssd_keras), gives
 * the preset's mask exactly; nothing is fixed up afterwards.
 */
export interface SsdPlan {
  readonly spec: PresetSpec;
  readonly rows: number;
  readonly cols: number;
  readonly nanLargest: boolean;
  readonly loss: Float32Array;
  readonly positives: Uint8Array;
  /** The loss with the preset's replacement (see `rewriteRows`); ranked instead of `loss`. */
  readonly modified: Float32Array;
  readonly positivesPerRow: Int32Array;
  readonly numPositives: number;
  /** Per-image presets: the per-row counts (clamped to `0 .. cols`). ssd_keras: `null`. */
  readonly counts: Int32Array | null;
  /** ssd_keras: the count of the one top-k over the flattened batch. Per-image presets: -1. */
  readonly batchCount: number;
  readonly out: Uint8Array | undefined;
}

/** Allocates the modified loss; the pooled path passes one that allocates shared memory. */
export type FloatAllocator = (length: number) => Float32Array;

/**
 * Validates the options of {@link ssdNegatives}, computes the loss from logits if needed, and
 * prepares the mining (`prepareImageRows` / `prepareBatch`). Throws what {@link ssdNegatives}
 * documents. O(rows * cols) (times `classes` from logits).
 */
export function planSsdNegatives(options: SsdNegativesOptions, allocate?: FloatAllocator): SsdPlan {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`\`options\` must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const spec = checkPreset(options.preset, 'options.preset');
  const ratio = checkRatio(options.ratio, spec, 'options.ratio');
  const minNegatives = checkMinNegatives(options.minNegatives, 'options.minNegatives');
  const nanLargest = checkNan(options);
  const hasLoss = options.loss !== undefined || options.positives !== undefined;
  const hasLogits =
    options.logits !== undefined || options.labels !== undefined || options.classes !== undefined;
  if (hasLoss === hasLogits) {
    throw new TypeError(
      hasLoss
        ? '`options` must give either `loss` and `positives` or `logits`, `labels` and `classes`, not both'
        : '`options` must give `loss` and `positives`, or `logits`, `labels` and `classes`',
    );
  }
  let loss: Float32Array;
  let positives: Uint8Array;
  let rows: number;
  const cols = options.cols;
  let inputs: Record<string, unknown>;
  if (hasLoss) {
    loss = checkLoss(options.loss, 'options.loss');
    rows = checkCols(cols, loss.length);
    positives = toPositives(options.positives, loss.length, cols, 'options.positives');
    inputs = { 'options.loss': loss, 'options.positives': positives };
  } else {
    const { logits, labels, classes } = options as SsdLogitsInput;
    if (!(logits instanceof Float32Array)) checkLoss(logits, 'options.logits');
    if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 1) {
      throw new (typeof classes === 'number' ? RangeError : TypeError)(
        `\`options.classes\` must be a positive integer, got ${String(classes)}`,
      );
    }
    checkCols(cols, 0);
    if (logits.length % (cols * classes) !== 0) {
      throw new RangeError(
        `\`options.logits.length\` (${logits.length}) must be a multiple of cols * classes (${cols} * ${classes})`,
      );
    }
    rows = logits.length / (cols * classes);
    checkLogitsShape(logits, labels, rows, cols, classes);
    loss = confidenceLoss(logits, labels, rows, cols, classes);
    positives = positivesFromLabels(labels, loss.length);
    inputs = { 'options.logits': logits, 'options.labels': labels };
  }
  const n = loss.length;
  const out = checkOut(options.out, n, Uint8Array, inputs);
  const bits = bitsOf(loss);
  if (!nanLargest) {
    // A NaN anywhere, a positive's included, means training diverged: report it even where the
    // preset would overwrite it before ranking.
    const at = firstNan(bits, 0, n);
    if (at >= 0) throw nanError(at, cols);
  }
  const modified = allocate ? allocate(n) : new Float32Array(n);
  const positivesPerRow = new Int32Array(rows);
  let counts: Int32Array | null = null;
  let batchCount = -1;
  const block = { bits, positives, rows, cols };
  const preset = { spec, ratio, minNegatives };
  if (spec.batchWide) {
    batchCount = prepareBatch(preset, block, { bits: bitsOf(modified), positivesPerRow });
  } else {
    counts = new Int32Array(rows);
    prepareImageRows(preset, block, { bits: bitsOf(modified), counts, positivesPerRow });
  }
  let numPositives = 0;
  for (let r = 0; r < rows; r++) numPositives += positivesPerRow[r]!;
  return {
    spec,
    rows,
    cols,
    nanLargest,
    loss,
    positives,
    modified,
    positivesPerRow,
    numPositives,
    counts,
    batchCount,
    out,
  };
}

/**
 * After the mining wrote `negatives` from the plan: counts ssd_keras's negatives per row and sums the
 * original loss over `positives ∪ negatives`. O(rows * cols).
 */
export function finishSsdNegatives(plan: SsdPlan, negatives: Uint8Array): SsdNegativesResult {
  const { rows, cols, loss, positives } = plan;
  const counts = plan.counts ?? new Int32Array(rows);
  const countRows = plan.counts === null;
  let lossSum = 0;
  let numNegatives = 0;
  for (let r = 0; r < rows; r++) {
    let c = 0;
    for (let i = r * cols, end = i + cols; i < end; i++) {
      const neg = negatives[i]!;
      c += neg;
      if ((neg | positives[i]!) !== 0) lossSum += loss[i]!;
    }
    if (countRows) counts[r] = c;
    numNegatives += c;
  }
  return {
    negatives,
    counts,
    numNegatives,
    positivesPerRow: plan.positivesPerRow,
    numPositives: plan.numPositives,
    lossSum,
    loss,
    positives,
  };
}
