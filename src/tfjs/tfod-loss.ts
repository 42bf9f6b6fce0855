/**
 * `multiboxLoss` for `preset: 'tf_object_detection'`: TensorFlow Object Detection API's SSD loss with a
 * `hard_example_miner` (`SSDMetaArch.loss` → `_apply_hard_mining` → `HardExampleMiner.__call__`), with
 * `WeightedSoftmaxClassificationLoss` (logit_scale 1) and `WeightedSmoothL1LocalizationLoss` (delta).
 */
import type { Scalar, Tensor, Tensor3D } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { firstNonBinary } from '../ssd/positives.ts';
import { tfodNegatives } from '../ssd/tfod.ts';
import type { TfodOptions } from '../ssd/tfod-options.ts';
import { TFOD_MINER_OPTIONS } from '../ssd/tfod-options.ts';
import { checkDim, checkTensor, floatData, maskBytes } from './checks.ts';
import type { MultiboxLossOptions, MultiboxLossResult } from './multibox-types.ts';
import { crossEntropy } from './ops.ts';

/** `FasterRcnnBoxCoder`'s `code_size`: the four offsets of `locPred`. */
const CODE_SIZE = 4;

/** The validated common inputs `multiboxLoss` hands over. */
export interface TfodLossInput {
  readonly rows: number;
  readonly cols: number;
  readonly logits: Tensor3D;
  readonly locPred: Tensor;
  readonly locTarget: Tensor;
  readonly labels: Int32Array;
  readonly positives: Uint8Array;
  readonly numPositives: number;
  /** `localization_weight`. */
  readonly alpha: number;
  /** Huber's `delta`. */
  readonly beta: number;
}

/** Options that only `'tf_object_detection'` reads (rejected with the other presets). */
export const TFOD_ONLY_OPTIONS = [
  'boxes',
  'ignored',
  ...TFOD_MINER_OPTIONS,
  'normalizeLossByNumMatches',
  'normalizeLocLossByCodesize',
  'selected',
] as const;

/** Options of the other presets that mean something else here. */
const OTHER_PRESET_OPTIONS = [
  ['ratio', 'maxNegativesPerPositive'],
  ['minNegatives', 'minNegativesPerImage'],
  ['negatives', 'a kept selection (NMS may drop positives, so a negative mask cannot describe it)'],
] as const;

function checkFlag(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`\`${name}\` must be a boolean, got ${typeof value}`);
  return value;
}

function boxData(options: MultiboxLossOptions, rows: number, cols: number): Float32Array {
  const boxes: unknown = options.boxes;
  if (boxes instanceof Float32Array) return boxes;
  if (boxes === undefined) {
    throw new TypeError(
      "`options.boxes` (the decoded boxes [B, N, 4]) is required for preset 'tf_object_detection'",
    );
  }
  const shape = `[B, N, 4] = [${rows}, ${cols}, 4]`;
  const t = checkTensor(boxes, 'options.boxes', 3, ['float32'], shape);
  checkDim(t, 'options.boxes', 0, rows, shape);
  checkDim(t, 'options.boxes', 1, cols, shape);
  checkDim(t, 'options.boxes', 2, 4, shape);
  return floatData(t);
}

function selectedData(options: MultiboxLossOptions, rows: number, cols: number): Uint8Array {
  const selected: unknown = options.selected;
  const n = rows * cols;
  if (selected instanceof Uint8Array) {
    if (selected.length !== n) {
      throw new RangeError(`\`options.selected\` must have B * N = ${n} bytes, got ${selected.length}`);
    }
    const bad = firstNonBinary(selected, 0, n);
    if (bad >= 0) {
      throw new RangeError(
        `\`options.selected\` at row ${Math.floor(bad / cols)}, column ${bad % cols} must be 0 or 1, got ${selected[bad]}`,
      );
    }
    return selected;
  }
  const shape = `[B, N] = [${rows}, ${cols}]`;
  const t = checkTensor(selected, 'options.selected', 2, ['bool', 'int32'], shape);
  checkDim(t, 'options.selected', 0, rows, shape);
  checkDim(t, 'options.selected', 1, cols, shape);
  return maskBytes(t, 'options.selected');
}

function ignoredData(options: MultiboxLossOptions, rows: number, cols: number): Uint8Array | undefined {
  const ignored: unknown = options.ignored;
  if (ignored === undefined || ignored instanceof Uint8Array) return ignored;
  const shape = `[B, N] = [${rows}, ${cols}]`;
  const t = checkTensor(ignored, 'options.ignored', 2, ['bool', 'int32'], shape);
  checkDim(t, 'options.ignored', 0, rows, shape);
  checkDim(t, 'options.ignored', 1, cols, shape);
  return maskBytes(t, 'options.ignored');
}

/**
 * Per-anchor localization loss as `WeightedSmoothL1LocalizationLoss` computes it, in float32 step by
 * step: `tf.losses.huber_loss` per offset (`q = min(|p - t|, delta)`, `0.5 * (q * q) + delta * (|p - t| - q)`)
 * times the anchor's weight (1 at matched anchors, 0 elsewhere), summed over the 4 offsets in order. A
 * NaN target counts as the prediction (`ignore_nan_targets=True`), so it adds 0. Also returns the
 * offsets that carry a loss (matched, target not NaN), which the differentiable sum reads.
 */
function huberPerAnchor(
  pred: Float32Array,
  target: Float32Array,
  positives: Uint8Array,
  delta: number,
): { loc: Float32Array; live: Uint8Array } {
  const n = positives.length;
  const loc = new Float32Array(n);
  const live = new Uint8Array(4 * n);
  const d = Math.fround(delta);
  for (let i = 0; i < n; i++) {
    if (positives[i] === 0) continue;
    let sum = 0;
    for (let k = 4 * i, end = k + 4; k < end; k++) {
      const t = target[k]!;
      if (Number.isNaN(t)) continue;
      live[k] = 1;
      const abs = Math.abs(Math.fround(pred[k]! - t));
      const q = abs < d ? abs : d;
      const term = Math.fround(Math.fround(0.5 * Math.fround(q * q)) + Math.fround(d * Math.fround(abs - q)));
      sum = Math.fround(sum + term);
    }
    loc[i] = sum;
  }
  return { loc, live };
}

/**
 * The `'tf_object_detection'` reduction (see `multiboxLoss`): per-anchor softmax cross-entropy (weight 0
 * at ignored anchors) and Huber localization loss (weight 1 at matched anchors) are mined by
 * `tfodNegatives` (NMS over `options.boxes`), and the loss sums them over the kept selection only:
 * `confLoss = Σ_kept CE / normalizer`, `locLoss = Σ_kept∩matched huber / (normalizer [· 4])`,
 * `normalizer = max(1, matched anchors in the batch)` (1 when `normalizeLossByNumMatches` is false).
 * Throws what `multiboxLoss` documents plus `planTfod`'s errors (naming the option).
 */
export function tfodMultiboxLoss(options: MultiboxLossOptions, input: TfodLossInput): MultiboxLossResult {
  for (const [name, instead] of OTHER_PRESET_OPTIONS) {
    if (options[name] !== undefined) {
      throw new RangeError(
        `\`options.${name}\` does not apply to preset 'tf_object_detection'; it takes ${name === 'negatives' ? instead : `\`${instead}\``}`,
      );
    }
  }
  const byMatches = checkFlag(options.normalizeLossByNumMatches, 'options.normalizeLossByNumMatches', true);
  const byCode = checkFlag(options.normalizeLocLossByCodesize, 'options.normalizeLocLossByCodesize', false);
  const { rows, cols, logits, locPred, locTarget, labels, positives, alpha, beta } = input;
  const given = options.selected === undefined ? undefined : selectedData(options, rows, cols);
  const boxes = given === undefined ? boxData(options, rows, cols) : new Float32Array(0);
  const ignored = ignoredData(options, rows, cols);
  const { loc, live } = huberPerAnchor(floatData(locPred), floatData(locTarget), positives, beta);
  const normalizer = byMatches ? Math.max(1, input.numPositives) : 1;
  let mined: ReturnType<typeof tfodNegatives> | undefined;
  let numNegatives = 0;

  const result = tf.tidy(() => {
    const sink: { ce?: Float32Array } = {};
    const ce = crossEntropy(logits, labels, false, sink);
    // WeightedSoftmaxClassificationLoss: cross-entropy times the anchor's class weight (0 if ignored).
    const cls = Float32Array.from(sink.ce as Float32Array);
    if (ignored !== undefined) for (let i = 0; i < cls.length; i++) if (ignored[i]) cls[i] = 0;
    const mining: TfodOptions = {
      preset: 'tf_object_detection',
      cols,
      loss: cls,
      locLoss: loc,
      positives,
      boxes,
    };
    if (ignored !== undefined) mining.ignored = ignored;
    if (options.numHardExamples !== undefined) mining.numHardExamples = options.numHardExamples;
    if (options.iouThreshold !== undefined) mining.iouThreshold = options.iouThreshold;
    if (options.lossType !== undefined) mining.lossType = options.lossType;
    if (options.clsLossWeight !== undefined) mining.clsLossWeight = options.clsLossWeight;
    if (options.locLossWeight !== undefined) mining.locLossWeight = options.locLossWeight;
    if (options.maxNegativesPerPositive !== undefined) {
      mining.maxNegativesPerPositive = options.maxNegativesPerPositive;
    }
    if (options.minNegativesPerImage !== undefined)
      mining.minNegativesPerImage = options.minNegativesPerImage;
    if (options.nan !== undefined) mining.nan = options.nan as 'error';
    let kept: Uint8Array;
    if (given === undefined) {
      mined = tfodNegatives(mining);
      kept = mined.selected;
      numNegatives = mined.numNegatives;
    } else {
      kept = given;
      for (let i = 0; i < kept.length; i++) numNegatives += kept[i]! & (positives[i]! ^ 1);
    }
    // The gathers of HardExampleMiner as 0/1 weights: a constant selection, gradients only through
    // the kept anchors' losses.
    const clsWeights = new Float32Array(rows * cols);
    for (let i = 0; i < kept.length; i++)
      clsWeights[i] = kept[i]! & (ignored === undefined ? 1 : ignored[i]! ^ 1);
    const locMask = new Uint8Array(4 * rows * cols);
    for (let k = 0; k < locMask.length; k++) locMask[k] = live[k]! & kept[k >> 2]!;
    const confSum = tf.sum(tf.mul(ce, tf.tensor2d(clsWeights, [rows, cols], 'float32')));
    const mask4 = tf.tensor3d(locMask, [rows, cols, 4], 'bool');
    const diff = tf.where(mask4, tf.sub(locPred, locTarget), tf.zerosLike(locPred));
    // Σ huber_delta = 0.5 Σ min(|d|, delta)² + delta Σ (|d| - min(|d|, delta)), no comparison op.
    const abs = tf.abs(diff);
    const q = tf.clipByValue(abs, 0, beta);
    const linear = tf.sum(tf.sub(abs, q));
    const locSum = tf.add(tf.mul(tf.sum(tf.square(q)), 0.5), beta === 1 ? linear : tf.mul(linear, beta));
    const locLoss = tf.div(locSum, byCode ? normalizer * CODE_SIZE : normalizer) as Scalar;
    const confLoss = tf.div(confSum, normalizer) as Scalar;
    const loss = (
      alpha === 1 ? tf.add(confLoss, locLoss) : tf.add(confLoss, tf.mul(locLoss, alpha))
    ) as Scalar;
    return { loss, locLoss, confLoss };
  });
  const out: MultiboxLossResult = { ...result, numPositives: input.numPositives, numNegatives };
  if (mined !== undefined) out.mined = mined;
  return out;
}
