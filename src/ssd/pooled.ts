import type { MineOptions, PooledMiner } from '../pool/miner.ts';
import type { SsdNegativesOptions, SsdNegativesResult } from './plan.ts';
import { finishSsdNegatives, planSsdNegatives } from './plan.ts';
import type { TfodResult } from './tfod-options.ts';
import { isTfodOptions } from './tfod-options.ts';
import type { TfodPooledOptions } from './tfod-pooled.ts';
import { tfodNegativesPooled } from './tfod-pooled.ts';

/** What {@link ssdNegativesPooled} needs of a miner: any `HardNegativeMiner` will do. */
type SsdMiner = Pick<PooledMiner, 'mask' | 'maskBatchWide' | 'threads' | 'closed'>;

/** Options of {@link ssdNegativesPooled}: those of `ssdNegatives`, plus an abort signal. */
export type SsdNegativesPooledOptions = SsdNegativesOptions & Pick<MineOptions, 'signal'>;

function sharedFloats(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

/**
 * `ssdNegatives` with the mining on a `HardNegativeMiner`'s worker pool; the same result, bit
 * for bit. The calling thread validates, computes the loss from logits if given, counts the positives
 * and writes the modified loss (straight into shared memory, so the pool copies nothing), then the
 * pool runs the select kernel: per row (`miner.mask`) for the per-image presets, one batch-wide top-k
 * (`miner.maskBatchWide`) for ssd_keras. The loss sum is taken on the calling thread afterwards.
 *
 * Cost: two O(rows * cols) passes on the calling thread (plus `confidenceLoss` from logits) around
 * the pooled select. `negatives` is a fresh shared array unless `options.out` is given (then the
 * mask is copied into it).
 *
 * Rejects (never throws) with `ssdNegatives`' errors, or the miner's (`AbortError`, closed miner,
 * worker failure).
 *
 * `preset: 'tf_object_detection'` runs `tfodNegativesPooled` (images in parallel, see there).
 */
export async function ssdNegativesPooled(miner: SsdMiner, options: TfodPooledOptions): Promise<TfodResult>;
export async function ssdNegativesPooled(
  miner: SsdMiner,
  options: SsdNegativesPooledOptions,
): Promise<SsdNegativesResult>;
/** Either kind of options (a caller that forwards both, as `HardNegativeMiner.ssdNegatives` does). */
export async function ssdNegativesPooled(
  miner: SsdMiner,
  options: SsdNegativesPooledOptions | TfodPooledOptions,
): Promise<SsdNegativesResult | TfodResult>;
export async function ssdNegativesPooled(
  miner: SsdMiner,
  options: SsdNegativesPooledOptions | TfodPooledOptions,
): Promise<SsdNegativesResult | TfodResult> {
  if (isTfodOptions(options)) return tfodNegativesPooled(miner, options);
  const plan = planSsdNegatives(options, sharedFloats);
  const mineOptions: MineOptions = { nan: plan.nanLargest ? 'largest' : 'error' };
  if (options.signal !== undefined) mineOptions.signal = options.signal;
  let negatives =
    plan.counts === null
      ? await miner.maskBatchWide(plan.modified, plan.cols, plan.batchCount, mineOptions)
      : await miner.mask(plan.modified, plan.cols, plan.counts, mineOptions);
  if (plan.out !== undefined) {
    plan.out.set(negatives);
    negatives = plan.out;
  }
  return finishSsdNegatives(plan, negatives);
}
