import { firstNan } from '../kernel/select-rows.ts';
import { bitsOf, checkCols, checkLoss, checkOut } from '../validate.ts';
import type { PositivesInput } from './positives.ts';
import { toPositives } from './positives.ts';

/**
 * Options and validation of the `'tf_object_detection'` preset (TensorFlow Object Detection API's
 * `HardExampleMiner`, `research/object_detection/core/losses.py`). Defaults are the constructor's:
 * `num_hard_examples=64, iou_threshold=0.7, loss_type='both', cls_loss_weight=0.05,
 * loc_loss_weight=0.06, max_negatives_per_positive=None, min_negatives_per_image=0` (the pipeline
 * config's `hard_example_miner` block has the same defaults).
 */

/** `HardExampleMiner`'s `loss_type`: what NMS ranks the boxes by. */
export type TfodLossType = 'cls' | 'loc' | 'both';

/** The options that are `HardExampleMiner`'s own, by the same names in every front end (library, tfjs). */
export const TFOD_MINER_OPTIONS = [
  'numHardExamples',
  'iouThreshold',
  'lossType',
  'clsLossWeight',
  'locLossWeight',
  'maxNegativesPerPositive',
  'minNegativesPerImage',
] as const;

/** `HardExampleMiner`'s own options (documented on {@link TfodOptions}). */
export type TfodMinerOptions = Pick<TfodOptions, (typeof TFOD_MINER_OPTIONS)[number]>;

/** Options of `ssdNegatives({ preset: 'tf_object_detection', ... })`. */
export interface TfodOptions {
  preset: 'tf_object_detection';
  /** Anchors per image. */
  cols: number;
  /** float32 classification loss per anchor `(rows, cols)` (`cls_losses`). */
  loss: Float32Array;
  /** Matched anchors `(rows, cols)` (`match.matched_column_indicator()`): 0/1 or booleans. */
  positives: PositivesInput;
  /** float32 decoded predicted boxes `(rows, cols, 4)`, `[ymin, xmin, ymax, xmax]`, corners in either order. */
  boxes: Float32Array;
  /** Ignored anchors `(rows, cols)`: neither positive nor negative (never also a positive). */
  ignored?: PositivesInput;
  /** float32 localization loss per anchor `(rows, cols)`; required for `lossType` `'loc'` and `'both'`. */
  locLoss?: Float32Array;
  /** At most this many boxes per image from NMS (integer >= 0), or `null` for all; 64 when omitted. */
  numHardExamples?: number | null;
  /** A box is suppressed when its IoU with a selected one is `>` this; in [0, 1]; 0.7 when omitted. */
  iouThreshold?: number;
  /** `'cls'`, `'loc'` or `'both'` (`cls * clsLossWeight + loc * locLossWeight`); `'both'` when omitted. */
  lossType?: TfodLossType;
  /** Weight of the classification loss for `'both'`; 0.05 when omitted. */
  clsLossWeight?: number;
  /** Weight of the localization loss for `'both'`; 0.06 when omitted. */
  locLossWeight?: number;
  /**
   * Negatives kept per selected positive (any number >= 0), or `null` (the default) to keep the whole
   * NMS selection.
   */
  maxNegativesPerPositive?: number | null;
  /** `min_negatives_per_image`: the negative budget's floor (integer >= 0; only with a ratio); 0. */
  minNegativesPerImage?: number;
  /**
   * Only `'error'` (the default): a NaN loss or box coordinate is an error naming its row and column.
   * TensorFlow's NMS never selects a NaN score, so PyTorch's `'largest'` has no meaning here.
   */
  nan?: 'error';
  /** Where to write the kept selection (`rows * cols` bytes); a new array when omitted. */
  out?: Uint8Array;
}

/** What the preset returns. Invariant: `selected = positives-kept ∪ negatives`, disjoint. */
export interface TfodResult {
  /** The kept selection (`rows * cols` bytes, 0/1): positives and negatives whose losses are summed. */
  selected: Uint8Array;
  /**
   * The kept anchors that are not positives (`rows * cols` bytes). As in TensorFlow's count, an
   * ignored anchor the miner kept is here too (its loss is normally weighted to 0 upstream).
   */
  negatives: Uint8Array;
  /** Kept positives per image (`num_positives`): NMS may drop positives, never the ratio step. */
  positivesPerRow: Int32Array;
  /** Kept non-positives per image (`num_negatives = size(selection) - num_positives`). */
  negativesPerRow: Int32Array;
  numPositives: number;
  numNegatives: number;
  /** `mined_cls_loss`: the classification loss summed over the kept anchors (float64, index order). */
  clsLossSum: number;
  /** `mined_location_loss` likewise, or `null` when no `locLoss` was given. */
  locLossSum: number | null;
}

/**
 * The inputs of the row kernel (`tfod.ts`): the validated options but the batch shape and `out`.
 * A pooled task carries the same fields, over its shared views.
 */
export interface TfodRowsInput {
  readonly cols: number;
  readonly loss: Float32Array;
  readonly locLoss: Float32Array | undefined;
  readonly boxes: Float32Array;
  readonly positives: Uint8Array;
  /** 0/1 per anchor, or undefined for none. */
  readonly ignored: Uint8Array | undefined;
  /** At most this many per image; `cols` for `null`. */
  readonly maxOutput: number;
  /** The float32 threshold (TensorFlow converts the Python float to a float32 tensor). */
  readonly threshold: number;
  readonly lossType: TfodLossType;
  /** float32 weights (constants of the float32 graph). */
  readonly clsWeight: number;
  readonly locWeight: number;
  /** The float32 ratio, or -1 for `null` (no subsampling). */
  readonly ratio: number;
  readonly minNegatives: number;
}

/** Validated options, as the row kernel and the reference take them. */
export interface TfodPlan extends TfodRowsInput {
  readonly rows: number;
  readonly out: Uint8Array | undefined;
}

export const TFOD_PRESET = 'tf_object_detection';

/** Whether options ask for the `'tf_object_detection'` preset. */
export function isTfodOptions(options: unknown): options is TfodOptions {
  return (
    options !== null &&
    typeof options === 'object' &&
    (options as { preset?: unknown }).preset === TFOD_PRESET
  );
}

function checkNumber(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`\`${name}\` must be a number, got ${typeof value}`);
  if (!Number.isFinite(value)) throw new RangeError(`\`${name}\` must be finite, got ${value}`);
  return value;
}

function checkWhole(value: unknown, name: string): number {
  checkNumber(value, name);
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new RangeError(`\`${name}\` must be an integer >= 0, got ${value}`);
  }
  return value as number;
}

/** The first input value the preset refuses (see {@link findBadInput}). */
export interface BadInput {
  readonly input: 'loss' | 'locLoss' | 'boxes';
  /** The anchor: its flat index `row * cols + column`. */
  readonly anchor: number;
  /** For boxes: the NaN coordinate (0..3), or -1 for a box that is not finite (see below). */
  readonly coordinate: number;
  /** For boxes: its four numbers. */
  readonly box?: readonly number[];
}

/**
 * The first NaN in `loss`, `locLoss`, then `boxes`, else the first box with an infinite corner or
 * corners so far apart that the kernel's float32 side or area overflows. Such a box makes
 * TensorFlow's IoU NaN, and its NMS then re-queues the candidate with its score times 0 (a soft-NMS
 * side effect of `suppress_weight`): a decoded box like that means training diverged, so the preset
 * refuses it, like a NaN. O(rows * cols).
 */
export function findBadInput(
  loss: Float32Array,
  locLoss: Float32Array | undefined,
  boxes: Float32Array,
): BadInput | undefined {
  let at = firstNanAt(loss);
  if (at >= 0) return { input: 'loss', anchor: at, coordinate: 0 };
  at = locLoss === undefined ? -1 : firstNanAt(locLoss);
  if (at >= 0) return { input: 'locLoss', anchor: at, coordinate: 0 };
  at = firstNanAt(boxes);
  if (at >= 0) return { input: 'boxes', anchor: at >> 2, coordinate: at & 3 };
  for (let o = 0; o < boxes.length; o += 4) {
    const h = Math.fround(boxes[o + 2]! - boxes[o]!);
    const w = Math.fround(boxes[o + 3]! - boxes[o + 1]!);
    // No NaN is left, so an infinite side makes the area infinite or NaN (times 0): one test.
    if (Number.isFinite(Math.fround(h * w))) continue;
    return { input: 'boxes', anchor: o >> 2, coordinate: -1, box: Array.from(boxes.subarray(o, o + 4)) };
  }
  return undefined;
}

/**
 * Index of the first NaN in `array`, or -1: the kernel's `firstNan` over its bits (a branch-free
 * probe, then a scan only when it saw one). `findIndex` with a callback cost ~8 ns per element here,
 * most of the preset's validation (11 ms of a B = 32 call).
 */
function firstNanAt(array: Float32Array): number {
  return firstNan(bitsOf(array), 0, array.length);
}

/** The words for a {@link BadInput}, naming its row (plus `rowOffset`) and column. */
export function describeBadInput(bad: BadInput, cols: number, rowOffset = 0): string {
  const where = `row ${rowOffset + Math.floor(bad.anchor / cols)}, column ${bad.anchor % cols}`;
  if (bad.coordinate < 0) {
    return `boxes at ${where} ([${bad.box!.join(', ')}]) have an infinite corner, side or float32 area; decoded boxes must be finite`;
  }
  const coordinate = bad.input === 'boxes' ? `, coordinate ${bad.coordinate}` : '';
  return (
    `${bad.input} is NaN at ${where}${coordinate}; ` +
    "preset 'tf_object_detection' takes no NaN (TensorFlow's NMS would silently skip or misplace it)"
  );
}

/**
 * Validates the options of the preset and resolves the defaults. O(rows * cols).
 *
 * @throws {TypeError} a missing or mistyped input or option.
 * @throws {RangeError} a bad shape, value or option (naming it), a positive also marked ignored, a
 *   NaN in `loss`, `locLoss` or `boxes` (naming the row and column, and for boxes the coordinate), or
 *   a box with an infinite corner, side or area.
 */
export function planTfod(options: TfodOptions): TfodPlan {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`\`options\` must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  if (options.nan !== undefined && options.nan !== 'error') {
    throw new RangeError(
      `\`options.nan\` must be 'error' for preset 'tf_object_detection' (TensorFlow's NMS never selects a NaN score), got ${JSON.stringify(options.nan)}`,
    );
  }
  const loss = checkLoss(options.loss, 'options.loss');
  const cols = options.cols;
  const rows = checkCols(cols, loss.length, 'options.loss');
  const n = loss.length;
  const positives = toPositives(options.positives, n, cols, 'options.positives');
  const ignored =
    options.ignored === undefined ? undefined : toPositives(options.ignored, n, cols, 'options.ignored');
  if (ignored !== undefined) {
    for (let i = 0; i < n; i++) {
      if ((ignored[i]! & positives[i]!) !== 0) {
        throw new RangeError(
          `\`options.ignored\` marks a positive at row ${Math.floor(i / cols)}, column ${i % cols}; an anchor is positive, negative or ignored`,
        );
      }
    }
  }
  const boxes = checkLoss(options.boxes, 'options.boxes');
  if (boxes.length !== 4 * n) {
    throw new RangeError(`\`options.boxes\` must hold 4 numbers per anchor (${4 * n}), got ${boxes.length}`);
  }
  const lossType = options.lossType ?? 'both';
  if (lossType !== 'cls' && lossType !== 'loc' && lossType !== 'both') {
    throw new RangeError(
      `\`options.lossType\` must be 'cls', 'loc' or 'both', got ${JSON.stringify(lossType)}`,
    );
  }
  let locLoss: Float32Array | undefined;
  if (options.locLoss !== undefined) {
    locLoss = checkLoss(options.locLoss, 'options.locLoss');
    if (locLoss.length !== n) {
      throw new RangeError(
        `\`options.locLoss\` must have ${n} elements like \`options.loss\`, got ${locLoss.length}`,
      );
    }
  } else if (lossType !== 'cls') {
    throw new TypeError(
      `\`options.locLoss\` is required for lossType '${lossType}'${options.lossType === undefined ? " (the default; pass lossType: 'cls' to rank by the classification loss alone)" : ''}`,
    );
  }
  const hard = options.numHardExamples === undefined ? 64 : options.numHardExamples;
  const maxOutput = hard === null ? cols : Math.min(checkWhole(hard, 'options.numHardExamples'), cols);
  const threshold = Math.fround(checkNumber(options.iouThreshold ?? 0.7, 'options.iouThreshold'));
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new RangeError(
      `\`options.iouThreshold\` must be in [0, 1] (as TensorFlow requires), got ${options.iouThreshold}`,
    );
  }
  const clsWeight = Math.fround(checkNumber(options.clsLossWeight ?? 0.05, 'options.clsLossWeight'));
  const locWeight = Math.fround(checkNumber(options.locLossWeight ?? 0.06, 'options.locLossWeight'));
  const perPos = options.maxNegativesPerPositive ?? null;
  let ratio = -1;
  if (perPos !== null) {
    ratio = Math.fround(checkNumber(perPos, 'options.maxNegativesPerPositive'));
    if (ratio < 0) throw new RangeError(`\`options.maxNegativesPerPositive\` must be >= 0, got ${perPos}`);
  }
  const minNegatives = checkWhole(options.minNegativesPerImage ?? 0, 'options.minNegativesPerImage');
  const out = checkOut(options.out, n, Uint8Array, {
    'options.loss': loss,
    'options.locLoss': locLoss,
    'options.boxes': boxes,
    'options.positives': positives,
    'options.ignored': ignored,
  });
  const bad = findBadInput(loss, locLoss, boxes);
  if (bad !== undefined) throw new RangeError(describeBadInput(bad, cols));
  return {
    rows,
    cols,
    loss,
    locLoss,
    boxes,
    positives,
    ignored,
    maxOutput,
    threshold,
    lossType,
    clsWeight,
    locWeight,
    ratio,
    minNegatives,
    out,
  };
}

/**
 * The negative budget of `_subsample_selection_to_desired_neg_pos_ratio`:
 * `max(min_negatives_per_image, int32(float32(ratio) * float32(num_positives)))`. The cast truncates;
 * a product of 2^31 or more (where TensorFlow's int32 cast overflows) keeps every negative here.
 */
export function negativeBudget(ratio: number, minNegatives: number, positives: number): number {
  const product = Math.fround(ratio * Math.fround(positives));
  const k = product >= 2 ** 31 ? Number.MAX_SAFE_INTEGER : Math.trunc(product);
  return k > minNegatives ? k : minNegatives;
}
