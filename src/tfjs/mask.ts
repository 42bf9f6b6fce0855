/**
 * `hardNegativeMask` with tensors in and out: a float32 `[B, N]` loss in, a bool `[B, N]` mask out.
 */
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tensor2d } from '@tensorflow/tfjs-core';
import { hardNegativeMask } from '../mask.ts';
import type { HardNegativeMiner } from '../miner.ts';
import type { MineOptions } from '../pool/miner.ts';
import type { NanOptions } from '../validate.ts';
import { checkOptions, checkTensor, floatData } from './checks.ts';

/** Options of {@link hardNegativeMaskTensor}: the `nan` policy of `hardNegativeMask`. */
export type MaskTensorOptions = NanOptions;

/** Options of {@link hardNegativeMaskTensorPooled}: `nan` and an abort signal. */
export type MaskTensorPooledOptions = NanOptions & Pick<MineOptions, 'signal'>;

const LOSS_SHAPE = '[B, N]';

function checkLossTensor(loss: unknown): Tensor2D {
  const t = checkTensor(loss, 'loss', 2, ['float32'], LOSS_SHAPE) as Tensor2D;
  if (t.shape[1] < 1)
    throw new RangeError(`\`loss\` must have N >= 1 columns (shape [B, N]), got [${t.shape.join(', ')}]`);
  return t;
}

/** `numNeg` as `hardNegativeMask` takes it: a number, an array-like, or a `[B]` tensor's values. */
async function countsOf(numNeg: unknown, rows: number): Promise<number | ArrayLike<number>> {
  if (typeof numNeg === 'object' && numNeg !== null && 'rank' in numNeg && 'dataSync' in numNeg) {
    const t = checkTensor(numNeg, 'numNeg', 1, ['int32', 'float32'], '[B]');
    if (t.shape[0] !== rows) {
      throw new RangeError(`\`numNeg\` must have shape [B] = [${rows}], got [${t.shape.join(', ')}]`);
    }
    return (await t.data()) as Int32Array | Float32Array;
  }
  return numNeg as number | ArrayLike<number>;
}

function countsSync(numNeg: unknown, rows: number): number | ArrayLike<number> {
  if (typeof numNeg === 'object' && numNeg !== null && 'rank' in numNeg && 'dataSync' in numNeg) {
    const t = checkTensor(numNeg, 'numNeg', 1, ['int32', 'float32'], '[B]');
    if (t.shape[0] !== rows) {
      throw new RangeError(`\`numNeg\` must have shape [B] = [${rows}], got [${t.shape.join(', ')}]`);
    }
    return t.dataSync() as Int32Array | Float32Array;
  }
  return numNeg as number | ArrayLike<number>;
}

/**
 * SSD hard negative mask of a `[B, N]` float32 loss tensor: a bool `[B, N]` tensor, exactly
 * `hardNegativeMask`'s mask (for each row the `numNeg[row]` largest losses in stable descending order,
 * ties by index, `-0 == +0`). The loss is read back with `dataSync()` (a blocking readback on GPU
 * backends; see {@link hardNegativeMaskTensorPooled} for the async form) and mined on the calling
 * thread. Creates one tensor (the result); nothing is recorded for gradients (a mask is a constant).
 *
 * Cost: the readback plus `hardNegativeMask`'s O(B × N).
 *
 * @param numNeg one count for every row, one per row, or an int32/float32 `[B]` tensor of counts.
 * @throws {TypeError} `loss` not a float32 tensor, a bad `numNeg` or option type.
 * @throws {RangeError} a wrong rank or shape (naming the expected shape), a bad count, or a NaN loss
 *   (naming its row and column) unless `options.nan` is `'largest'`.
 */
export function hardNegativeMaskTensor(
  loss: Tensor2D,
  numNeg: number | ArrayLike<number> | Tensor1D,
  options?: MaskTensorOptions,
): Tensor2D {
  if (options !== undefined) checkOptions(options);
  const t = checkLossTensor(loss);
  const [rows, cols] = t.shape;
  const counts = countsSync(numNeg, rows);
  const mask = hardNegativeMask(floatData(t), cols, counts, options);
  return tensor2d(mask, [rows, cols], 'bool');
}

/**
 * {@link hardNegativeMaskTensor} with the mining on a `HardNegativeMiner`'s worker pool: the loss is
 * read with `await loss.data()` (no blocking readback), mined by `miner.mask`, and the same mask comes
 * back as a bool `[B, N]` tensor. Rejects (never throws) with hardNegativeMaskTensor's errors, or the
 * miner's (`AbortError`, closed miner, worker failure).
 */
export async function hardNegativeMaskTensorPooled(
  miner: HardNegativeMiner,
  loss: Tensor2D,
  numNeg: number | ArrayLike<number> | Tensor1D,
  options?: MaskTensorPooledOptions,
): Promise<Tensor2D> {
  if (options !== undefined) checkOptions(options);
  const t = checkLossTensor(loss);
  const [rows, cols] = t.shape;
  const counts = await countsOf(numNeg, rows);
  const data = (await t.data()) as Float32Array;
  const mineOptions: MineOptions = {};
  if (options?.nan !== undefined) mineOptions.nan = options.nan;
  if (options?.signal !== undefined) mineOptions.signal = options.signal;
  const mask = await miner.mask(data, cols, counts, mineOptions);
  return tensor2d(mask, [rows, cols], 'bool');
}
