/**
 * `ssdNegatives` with tensors in and out: the SSD front end (a preset's positive handling and count
 * rule) over a loss + positives, or logits + labels, returning bool masks and int32 counts.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import { tensor1d, tensor2d } from '@tensorflow/tfjs-core';
import type { HardNegativeMiner } from '../miner.ts';
import type { MineOptions } from '../pool/miner.ts';
import { ssdNegatives } from '../ssd/negatives.ts';
import type { SsdNegativesOptions, SsdNegativesResult } from '../ssd/plan.ts';
import type { SsdNegativesPooledOptions } from '../ssd/pooled.ts';
import { ssdNegativesPooled } from '../ssd/pooled.ts';
import type { SsdPreset } from '../ssd/presets.ts';
import type { TfodOptions } from '../ssd/tfod-options.ts';
import { isTfodOptions, TFOD_PRESET } from '../ssd/tfod-options.ts';
import type { TfodPooledOptions } from '../ssd/tfod-pooled.ts';
import type { NanOptions } from '../validate.ts';
import { checkCols, checkDim, checkLabels, checkOptions, checkTensor, maskBytes } from './checks.ts';
import type { TfodTensorOptions } from './tfod-negatives.ts';
import { TFOD_TENSOR_ONLY, tfodTensorInputs, tfodToTensors } from './tfod-negatives.ts';

/** Options of {@link ssdNegativesTensor}: a loss and positives, or logits and labels. */
export interface SsdNegativesTensorOptions extends NanOptions, TfodTensorOptions {
  /** float32 `[B, N]` confidence loss (give `positives` with it). */
  loss?: Tensor2D;
  /** `[B, N]` positives, bool (or int32 0/1). */
  positives?: Tensor2D;
  /**
   * float32 `[B, N, C]` logits (give `labels` with them); the loss is their cross-entropy
   * (`'tf_object_detection'`: 0 at `ignored` anchors, their class weight in TF's SSD).
   */
  logits?: Tensor3D;
  /** int32 `[B, N]` labels, 0 = background; positives are `label > 0`. */
  labels?: Tensor2D;
  /**
   * The framework to reproduce; `'ssd.pytorch'` when omitted. `'tf_object_detection'` (HardExampleMiner)
   * also needs `boxes`, and takes the TfodTensorOptions instead of `ratio` / `minNegatives`.
   */
  preset?: SsdPreset | typeof TFOD_PRESET;
  /** Negatives per positive; 3 when omitted (whole numbers for mmdet and ssd_keras). */
  ratio?: number;
  /** A floor on the count (per image; the batch's `n_neg_min` for ssd_keras); 0 when omitted. */
  minNegatives?: number;
}

/** Options of {@link ssdNegativesTensorPooled}: those of ssdNegativesTensor plus an abort signal. */
export type SsdNegativesTensorPooledOptions = SsdNegativesTensorOptions & Pick<MineOptions, 'signal'>;

/** What {@link ssdNegativesTensor} returns; the caller owns (and disposes) the three tensors. */
export interface SsdNegativesTensorResult {
  /** bool `[B, N]`: the preset's negative mask, exactly `ssdNegatives`' `negatives`. */
  negatives: Tensor2D;
  /** bool `[B, N]`: the positives used. */
  positives: Tensor2D;
  /** int32 `[B]`: negatives marked per row. */
  counts: Tensor1D;
  /** Positives in the batch. */
  numPositives: number;
  /** Negatives in the batch. */
  numNegatives: number;
  /**
   * `'tf_object_detection'` only: bool `[B, N]`, the kept selection (kept positives ∪ `negatives`; NMS may
   * drop positives). There `numPositives` counts the kept positives, `positives` is the input's.
   */
  selected?: Tensor2D;
  /** `'tf_object_detection'` only: the classification loss summed over `selected`. */
  clsLossSum?: number;
  /** `'tf_object_detection'` only: the localization loss summed over `selected` (null without `locLoss`). */
  locLossSum?: number | null;
}

/** The validated inputs: the tensors to read, and how to build `ssdNegatives`' options from their data. */
interface Inputs {
  tensors: Tensor[];
  build: (data: ArrayLike<number>[]) => SsdNegativesOptions | TfodOptions;
  rows: number;
  cols: number;
}

function inputs(options: SsdNegativesTensorOptions): Inputs {
  checkOptions(options);
  const tfod = options.preset === TFOD_PRESET;
  if (!tfod) {
    for (const key of TFOD_TENSOR_ONLY) {
      if (options[key] !== undefined) {
        throw new RangeError(
          `\`options.${key}\` applies to preset 'tf_object_detection' only, not '${options.preset ?? 'ssd.pytorch'}'`,
        );
      }
    }
  }
  const common: Omit<SsdNegativesOptions, 'loss' | 'positives' | 'logits' | 'labels' | 'classes' | 'cols'> =
    {};
  if (options.preset !== undefined && !tfod) common.preset = options.preset as SsdPreset;
  if (options.ratio !== undefined) common.ratio = options.ratio;
  if (options.minNegatives !== undefined) common.minNegatives = options.minNegatives;
  if (options.nan !== undefined) common.nan = options.nan;
  const hasLoss = options.loss !== undefined || options.positives !== undefined;
  const hasLogits = options.logits !== undefined || options.labels !== undefined;
  if (hasLoss === hasLogits) {
    throw new TypeError(
      hasLoss
        ? '`options` must give either `loss` and `positives` or `logits` and `labels`, not both'
        : '`options` must give `loss` and `positives`, or `logits` and `labels`',
    );
  }
  if (hasLoss) {
    const loss = checkTensor(options.loss, 'options.loss', 2, ['float32'], '[B, N]');
    checkCols(loss, 'options.loss', '[B, N]');
    const [rows, cols] = loss.shape as [number, number];
    const expected = `[B, N] = [${rows}, ${cols}]`;
    const pos = checkTensor(options.positives, 'options.positives', 2, ['bool', 'int32'], expected);
    checkDim(pos, 'options.positives', 0, rows, expected);
    checkDim(pos, 'options.positives', 1, cols, expected);
    if (tfod) return { rows, cols, ...tfodTensorInputs(options, { rows, cols, tensors: [loss, pos] }) };
    return {
      tensors: [loss, pos],
      rows,
      cols,
      build: ([lossData, posData]) => ({
        ...common,
        cols,
        loss: lossData as Float32Array,
        positives: maskBytes(pos, 'options.positives', posData),
      }),
    };
  }
  const logits = checkTensor(options.logits, 'options.logits', 3, ['float32'], '[B, N, C]');
  checkCols(logits, 'options.logits', '[B, N, C]');
  const [rows, cols, classes] = logits.shape as [number, number, number];
  if (classes < 1) {
    throw new RangeError(`\`options.logits\` must have C >= 1 classes, got [${logits.shape.join(', ')}]`);
  }
  const expected = `[B, N] = [${rows}, ${cols}]`;
  const labels = checkTensor(options.labels, 'options.labels', 2, ['int32'], expected);
  checkDim(labels, 'options.labels', 0, rows, expected);
  checkDim(labels, 'options.labels', 1, cols, expected);
  if (tfod) {
    return { rows, cols, ...tfodTensorInputs(options, { rows, cols, classes, tensors: [logits, labels] }) };
  }
  return {
    tensors: [logits, labels],
    rows,
    cols,
    build: ([logitData, labelData]) => {
      checkLabels(labelData as Int32Array, rows, cols, classes, 'options.labels');
      return { ...common, cols, logits: logitData as Float32Array, labels: labelData as Int32Array, classes };
    },
  };
}

function toTensors(result: SsdNegativesResult, rows: number, cols: number): SsdNegativesTensorResult {
  return {
    negatives: tensor2d(result.negatives, [rows, cols], 'bool'),
    positives: tensor2d(result.positives, [rows, cols], 'bool'),
    counts: tensor1d(result.counts, 'int32'),
    numPositives: result.numPositives,
    numNegatives: result.numNegatives,
  };
}

/**
 * The SSD front end on tensors: the preset's negative mask of a `[B, N]` loss with its positives, or
 * of `[B, N, C]` logits with int32 labels (loss = per-box cross-entropy, `confidenceLoss`), as
 * `ssdNegatives` computes it, bit for bit. Returns bool `negatives` and `positives` `[B, N]`, int32
 * `counts` `[B]` (the caller disposes them) and the batch's `numPositives` / `numNegatives`.
 * Reads the inputs with `dataSync()` and mines on the calling thread; records nothing for gradients.
 *
 * Cost: the readbacks plus `ssdNegatives`' O(B × N) (× C from logits).
 *
 * @throws {TypeError} a missing or extra input, a non-tensor, a wrong dtype, a bad option type.
 * @throws {RangeError} a wrong rank or shape (naming the expected shape), a label outside
 *   `0 .. C - 1` or a positive that is not 0/1 (naming row and column), a bad ratio / minNegatives, a
 *   NaN loss unless `options.nan` is `'largest'`.
 */
export function ssdNegativesTensor(options: SsdNegativesTensorOptions): SsdNegativesTensorResult {
  const input = inputs(options);
  const plain = input.build(input.tensors.map((t) => t.dataSync() as ArrayLike<number>));
  if (isTfodOptions(plain)) {
    return tfodToTensors(ssdNegatives(plain), input.rows, input.cols, plain.positives as Uint8Array);
  }
  return toTensors(ssdNegatives(plain), input.rows, input.cols);
}

/**
 * {@link ssdNegativesTensor} with the mining on a `HardNegativeMiner`'s pool (`ssdNegativesPooled`):
 * the inputs are read with `await tensor.data()`, the same masks come back. Rejects (never throws)
 * with ssdNegativesTensor's errors or the miner's (`AbortError`, closed miner, worker failure).
 */
export async function ssdNegativesTensorPooled(
  miner: HardNegativeMiner,
  options: SsdNegativesTensorPooledOptions,
): Promise<SsdNegativesTensorResult> {
  const input = inputs(options);
  const data = await Promise.all(input.tensors.map((t) => t.data() as Promise<ArrayLike<number>>));
  const built = input.build(data);
  if (isTfodOptions(built)) {
    const task: TfodPooledOptions = built;
    if (options.signal !== undefined) task.signal = options.signal;
    const result = await ssdNegativesPooled(miner, task);
    return tfodToTensors(result, input.rows, input.cols, built.positives as Uint8Array);
  }
  const plain: SsdNegativesPooledOptions = built;
  if (options.signal !== undefined) plain.signal = options.signal;
  const result = await ssdNegativesPooled(miner, plain);
  return toTensors(result, input.rows, input.cols);
}
