/**
 * SSD's MultiBox loss on TensorFlow.js tensors, differentiable in `locPred` and `logits`, with the hard
 * negative mask computed by this library (a constant for the gradients) and each preset reducing the
 * way its framework does (reductions.ts).
 */
import type { Scalar, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { ssdNegatives } from '../ssd/negatives.ts';
import { checkMinNegatives, checkPreset, checkRatio } from '../ssd/presets.ts';
import { TFOD_PRESET } from '../ssd/tfod-options.ts';
import { checkNan } from '../validate.ts';
import { checkDim, checkLabels, checkOptions, checkTensor, intData, maskBytes } from './checks.ts';
import type { MultiboxLossOptions, MultiboxLossResult } from './multibox-types.ts';
import { crossEntropy, smoothL1Sum } from './ops.ts';
import type { LossReduction, MultiboxPreset } from './reductions.ts';
import { LOSS_REDUCTIONS, MULTIBOX_PRESETS } from './reductions.ts';
import { TFOD_ONLY_OPTIONS, tfodMultiboxLoss } from './tfod-loss.ts';

export type { MultiboxLossOptions, MultiboxLossResult } from './multibox-types.ts';

function checkPositive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`\`${name}\` must be a number, got ${typeof value}`);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`\`${name}\` must be a finite number > 0, got ${value}`);
  }
  return value;
}

function checkMultiboxPreset(preset: unknown): { name: MultiboxPreset; reduction: LossReduction } {
  // The SSD front end's preset table has the sort-based presets; tf_object_detection mines by NMS.
  if (preset === TFOD_PRESET) return { name: TFOD_PRESET, reduction: LOSS_REDUCTIONS[TFOD_PRESET] };
  const spec = checkPreset(preset, 'options.preset');
  if (!Object.hasOwn(LOSS_REDUCTIONS, spec.name)) {
    throw new RangeError(
      `\`options.preset\` '${spec.name}' has no MultiBox loss reduction; use one of ${MULTIBOX_PRESETS.map((p) => `'${p}'`).join(', ')}`,
    );
  }
  const name = spec.name as MultiboxPreset;
  return { name, reduction: LOSS_REDUCTIONS[name] };
}

/**
 * SSD's MultiBox loss: smooth-L1 over the positives' box offsets plus cross-entropy over the positives
 * and the hard negatives, each preset mining and reducing as its framework does:
 * - `'ssd.pytorch'`, `'pytorch_advanced'` (the seed's book): `loss_l = Σ_pos smoothL1 / N`,
 *   `loss_c = Σ_{pos ∪ neg} CE / N`, N = the batch's positives; a batch without positives divides by 1
 *   where the Python divides by zero (NaN/Inf);
 * - `'torchvision'`: the same sums with `N = max(1, #foreground)`, and the classification sums
 *   positives and negatives separately (a positive mined as a negative counts twice);
 * - `'mmdet'`: per image `(Σ_pos CE + Σ_topk neg CE) / avg_factor` and `Σ_pos smoothL1_beta /
 *   (avg_factor + eps)`, summed over images, `avg_factor = Σ_images max(#pos, 1)`;
 * - `'ssd_keras'`: `(class + alpha · loc) / max(1, n_positive) · batch_size` per item, averaged over
 *   the batch as Keras does, so `loss = (Σ class + alpha Σ loc) / max(1, n_positive)`; the per-box
 *   classification loss is `-log(max(softmax, 1e-15))`.
 * - `'tf_object_detection'` (TensorFlow Object Detection API, `SSDMetaArch.loss` with a
 *   `hard_example_miner`): `HardExampleMiner` keeps a selection by NMS over `options.boxes` (which may
 *   drop positives); `confLoss = Σ_kept CE · w / n` (w = 0 at `options.ignored` anchors),
 *   `locLoss = Σ_{kept ∩ pos} huber_beta / (n [· 4 with normalizeLocLossByCodesize])`, n = max(1, the
 *   batch's positives) (1 without normalizeLossByNumMatches); see `tfod-loss.ts`. `result.mined` holds
 *   the miner's result. `ratio`, `minNegatives` and `negatives` are refused with it.
 * `loss = confLoss + alpha · locLoss` for every preset (alpha = 1 reproduces the frameworks' sums).
 *
 * Gradients flow to `locPred` and `logits`; the negative mask is a constant (the frameworks compute it
 * under no-grad too). Works inside `tf.grad`, `tf.variableGrads` and `optimizer.minimize`. Needs the
 * ops' gradients registered, which importing `@tensorflow/tfjs` (or tfjs-node) does.
 *
 * Mining: unless `options.negatives` is given, the per-box cross-entropy is read back with `dataSync()`
 * and mined by `ssdNegatives` on the calling thread (with `positives = labels > 0`); pass a mask from
 * `ssdNegativesTensorPooled` to mine on the pool instead and keep this call synchronous.
 *
 * Memory: every intermediate tensor is disposed; only the three returned scalars remain.
 * Cost: O(B × N × C): the cross-entropy and its gradient run as one custom op over the logits' values
 * (read back once), the rest are O(B × N) tensor ops, the readback of the labels, and the mining.
 *
 * @throws {TypeError} a missing or non-tensor input, a wrong dtype, a bad option type.
 * @throws {RangeError} a wrong rank or shape (naming the expected shape), a label outside 0 .. C - 1
 *   (naming row and column), a preset without a reduction, a bad ratio / minNegatives / beta / alpha,
 *   a NaN cross-entropy unless `options.nan` is `'largest'`; for `'tf_object_detection'`, the
 *   HardExampleMiner options' and `boxes` / `ignored` errors of `ssdNegatives` (a NaN loss or box
 *   coordinate names its row and column), an option of that preset given to another, or the reverse.
 */
export function multiboxLoss(options: MultiboxLossOptions): MultiboxLossResult {
  checkOptions(options);
  const { name, reduction } = checkMultiboxPreset(options.preset);
  const tfod = name === 'tf_object_detection';
  if (!tfod) {
    for (const key of TFOD_ONLY_OPTIONS) {
      if (options[key] !== undefined) {
        throw new RangeError(
          `\`options.${key}\` applies to preset 'tf_object_detection' only, not '${name}'`,
        );
      }
    }
  }
  const ratio = tfod ? 0 : checkRatio(options.ratio, checkPreset(name, 'options.preset'), 'options.ratio');
  const minNegatives = tfod ? 0 : checkMinNegatives(options.minNegatives, 'options.minNegatives');
  checkNan(options);
  const beta = checkPositive(options.beta, 'options.beta', 1);
  const alpha = checkPositive(options.alpha, 'options.alpha', 1);

  const logits = checkTensor(options.logits, 'options.logits', 3, ['float32'], '[B, N, C]') as Tensor3D;
  const [rows, cols, classes] = logits.shape;
  if (cols < 1 || classes < 1) {
    throw new RangeError(
      `\`options.logits\` must have N >= 1 and C >= 1 (shape [B, N, C]), got [${logits.shape.join(', ')}]`,
    );
  }
  const box = `[B, N, 4] = [${rows}, ${cols}, 4]`;
  const flat = `[B, N] = [${rows}, ${cols}]`;
  const locPred = checkTensor(options.locPred, 'options.locPred', 3, ['float32'], box);
  const locTarget = checkTensor(options.locTarget, 'options.locTarget', 3, ['float32'], box);
  for (const [t, n] of [
    [locPred, 'options.locPred'],
    [locTarget, 'options.locTarget'],
  ] as const) {
    checkDim(t, n, 0, rows, box);
    checkDim(t, n, 1, cols, box);
    checkDim(t, n, 2, 4, box);
  }
  const labels = checkTensor(options.labels, 'options.labels', 2, ['int32'], flat) as Tensor2D;
  checkDim(labels, 'options.labels', 0, rows, flat);
  checkDim(labels, 'options.labels', 1, cols, flat);
  let given: Tensor | undefined;
  if (options.negatives !== undefined && !tfod) {
    given = checkTensor(options.negatives, 'options.negatives', 2, ['bool', 'int32'], flat);
    checkDim(given, 'options.negatives', 0, rows, flat);
    checkDim(given, 'options.negatives', 1, cols, flat);
  }

  const labelData = intData(labels);
  const { positives, perRow } = checkLabels(labelData, rows, cols, classes, 'options.labels');
  let numPositives = 0;
  for (let r = 0; r < rows; r++) numPositives += perRow[r]!;
  if (tfod) {
    const common = { rows, cols, logits, locPred, locTarget, labels: labelData, positives, numPositives };
    return tfodMultiboxLoss(options, { ...common, alpha, beta });
  }
  let numNegatives = 0;
  const norms = reduction.normalisers(perRow);

  const result = tf.tidy(() => {
    const sink: { ce?: Float32Array } = {};
    const ce = crossEntropy(logits, labelData, reduction.clampProbability, sink);
    let negatives: Uint8Array;
    if (given !== undefined) {
      negatives = maskBytes(given, 'options.negatives');
    } else {
      const mined = ssdNegatives({
        loss: sink.ce as Float32Array,
        positives,
        cols,
        preset: name,
        ratio,
        minNegatives,
        nan: options.nan ?? 'error',
      });
      negatives = mined.negatives;
    }
    // The classification weights: 1 per selected box, 2 for a box in both sets where the framework
    // sums the two sets separately.
    const weights = new Float32Array(rows * cols);
    const both = reduction.overlap === 'sum' ? 2 : 1;
    for (let i = 0; i < weights.length; i++) {
      const p = positives[i]!;
      const n = negatives[i]!;
      numNegatives += n;
      weights[i] = p & n ? both : p | n;
    }
    const confSum = tf.sum(tf.mul(ce, tf.tensor2d(weights, [rows, cols], 'float32')));
    // Non-positive boxes are cut before the subtraction's gradient, so a NaN or Inf target there
    // (an unmatched prior's encoding) reaches neither the loss nor the gradient.
    const mask4 = new Uint8Array(rows * cols * 4);
    for (let i = 0; i < positives.length; i++) {
      if (positives[i]) mask4.fill(1, i * 4, i * 4 + 4);
    }
    const pos4 = tf.tensor3d(mask4, [rows, cols, 4], 'bool');
    const diff = tf.where(pos4, tf.sub(locPred, locTarget), tf.zerosLike(locPred));
    const locSum = smoothL1Sum(diff, beta);
    const locLoss = tf.div(locSum, norms.loc) as Scalar;
    const confLoss = tf.div(confSum, norms.conf) as Scalar;
    const loss = (
      alpha === 1 ? tf.add(confLoss, locLoss) : tf.add(confLoss, tf.mul(locLoss, alpha))
    ) as Scalar;
    return { loss, locLoss, confLoss };
  });
  return { ...result, numPositives, numNegatives };
}
