/**
 * The `'tf_object_detection'` inputs of `ssdNegativesTensor` / `ssdNegativesTensorPooled`: which
 * tensors to read back, and how to build `ssdNegatives`' options from their data.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import { tensor1d, tensor2d } from '@tensorflow/tfjs-core';
import { confidenceLoss } from '../ssd/confidence-loss.ts';
import type { TfodMinerOptions, TfodOptions, TfodResult } from '../ssd/tfod-options.ts';
import { TFOD_MINER_OPTIONS } from '../ssd/tfod-options.ts';
import { checkDim, checkLabels, checkTensor, maskBytes } from './checks.ts';

/** The `'tf_object_detection'` options of `ssdNegativesTensor` (HardExampleMiner's, by the same names). */
export interface TfodTensorOptions extends TfodMinerOptions {
  /** float32 `[B, N, 4]` decoded boxes `[ymin, xmin, ymax, xmax]` (tensor or plain data); required. */
  boxes?: Tensor | Float32Array;
  /** float32 `[B, N]` localization loss per anchor; required for `lossType` `'loc'` and `'both'`. */
  locLoss?: Tensor2D;
  /** `[B, N]` ignored anchors, bool / int32 0/1 tensor or 0/1 bytes. */
  ignored?: Tensor2D | Uint8Array;
}

/** Option names that only `'tf_object_detection'` reads. */
export const TFOD_TENSOR_ONLY = ['boxes', 'locLoss', 'ignored', ...TFOD_MINER_OPTIONS] as const;

/** What the tensor front end passes in: the validated loss source and the batch shape. */
export interface TfodTensorSource {
  readonly rows: number;
  readonly cols: number;
  /** `[loss, positives]` or `[logits, labels]` (then `classes` is set). */
  readonly tensors: Tensor[];
  readonly classes?: number;
}

/** The tensors to read and the builder of the plain options (validation of the extra inputs here). */
export function tfodTensorInputs(
  options: TfodTensorOptions & { nan?: unknown; ratio?: unknown; minNegatives?: unknown },
  source: TfodTensorSource,
): { tensors: Tensor[]; build: (data: ArrayLike<number>[]) => TfodOptions } {
  for (const [name, instead] of [
    ['ratio', 'maxNegativesPerPositive'],
    ['minNegatives', 'minNegativesPerImage'],
  ] as const) {
    if (options[name] !== undefined) {
      throw new RangeError(
        `\`options.${name}\` does not apply to preset 'tf_object_detection'; it takes \`${instead}\``,
      );
    }
  }
  const { rows, cols } = source;
  const flat = `[B, N] = [${rows}, ${cols}]`;
  const box = `[B, N, 4] = [${rows}, ${cols}, 4]`;
  const tensors = [...source.tensors];
  const at: { boxes?: number; locLoss?: number; ignored?: number } = {};
  if (options.boxes === undefined) {
    throw new TypeError(
      "`options.boxes` (the decoded boxes [B, N, 4]) is required for preset 'tf_object_detection'",
    );
  }
  if (!(options.boxes instanceof Float32Array)) {
    const t = checkTensor(options.boxes, 'options.boxes', 3, ['float32'], box);
    checkDim(t, 'options.boxes', 0, rows, box);
    checkDim(t, 'options.boxes', 1, cols, box);
    checkDim(t, 'options.boxes', 2, 4, box);
    at.boxes = tensors.push(t) - 1;
  }
  if (options.locLoss !== undefined) {
    const t = checkTensor(options.locLoss, 'options.locLoss', 2, ['float32'], flat);
    checkDim(t, 'options.locLoss', 0, rows, flat);
    checkDim(t, 'options.locLoss', 1, cols, flat);
    at.locLoss = tensors.push(t) - 1;
  }
  let ignoredTensor: Tensor | undefined;
  if (options.ignored !== undefined && !(options.ignored instanceof Uint8Array)) {
    ignoredTensor = checkTensor(options.ignored, 'options.ignored', 2, ['bool', 'int32'], flat);
    checkDim(ignoredTensor, 'options.ignored', 0, rows, flat);
    checkDim(ignoredTensor, 'options.ignored', 1, cols, flat);
    at.ignored = tensors.push(ignoredTensor) - 1;
  }
  const build = (data: ArrayLike<number>[]): TfodOptions => {
    const [first, second] = data;
    let loss: Float32Array;
    let positives: Uint8Array;
    if (source.classes !== undefined) {
      const labels = second as Int32Array;
      positives = checkLabels(labels, rows, cols, source.classes, 'options.labels').positives;
      loss = confidenceLoss(first as Float32Array, labels, rows, cols, source.classes);
    } else {
      loss = first as Float32Array;
      positives = maskBytes(source.tensors[1]!, 'options.positives', second);
    }
    const plain: TfodOptions = {
      preset: 'tf_object_detection',
      cols,
      loss,
      positives,
      boxes: at.boxes === undefined ? (options.boxes as Float32Array) : (data[at.boxes] as Float32Array),
    };
    if (at.locLoss !== undefined) plain.locLoss = data[at.locLoss] as Float32Array;
    if (ignoredTensor !== undefined) {
      plain.ignored = maskBytes(ignoredTensor, 'options.ignored', data[at.ignored!]);
    } else if (options.ignored !== undefined) {
      plain.ignored = options.ignored as Uint8Array;
    }
    for (const key of TFOD_MINER_OPTIONS) {
      if (options[key] !== undefined) (plain as unknown as Record<string, unknown>)[key] = options[key];
    }
    if (options.nan !== undefined) plain.nan = options.nan as 'error';
    if (source.classes !== undefined && plain.ignored !== undefined) {
      // As SSDMetaArch feeds the miner: the classification loss times the class weight, 0 if ignored.
      const ign = plain.ignored as Uint8Array;
      for (let i = 0; i < loss.length; i++) if (ign[i]) loss[i] = 0;
    }
    return plain;
  };
  return { tensors, build };
}

/** The tensor result of the preset: `selected` besides the masks; counts are negatives per image. */
export function tfodToTensors(
  result: TfodResult,
  rows: number,
  cols: number,
  positives: Uint8Array,
): {
  selected: Tensor2D;
  negatives: Tensor2D;
  positives: Tensor2D;
  counts: ReturnType<typeof tensor1d>;
  numPositives: number;
  numNegatives: number;
  clsLossSum: number;
  locLossSum: number | null;
} {
  return {
    selected: tensor2d(result.selected, [rows, cols], 'bool'),
    negatives: tensor2d(result.negatives, [rows, cols], 'bool'),
    positives: tensor2d(positives, [rows, cols], 'bool'),
    counts: tensor1d(result.negativesPerRow, 'int32'),
    numPositives: result.numPositives,
    numNegatives: result.numNegatives,
    clsLossSum: result.clsLossSum,
    locLossSum: result.locLossSum,
  };
}
