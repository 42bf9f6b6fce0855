/**
 * The package's `HardNegativeMiner`: the worker pool (src/pool/) plus the SSD front end's pooled
 * entry as a method. Composed here, above both layers, so that neither imports the other.
 */
import { PooledMiner } from './pool/miner.ts';
import type { SsdNegativesResult } from './ssd/plan.ts';
import type { SsdNegativesPooledOptions } from './ssd/pooled.ts';
import { ssdNegativesPooled } from './ssd/pooled.ts';
import type { TfodResult } from './ssd/tfod-options.ts';
import type { TfodPooledOptions } from './ssd/tfod-pooled.ts';

/**
 * Hard negative mining over a pool of worker threads that share memory with the caller: `mask`,
 * `rank`, `maskBatchWide` (see {@link PooledMiner}), and `ssdNegatives`.
 *
 * @example
 * ```ts
 * await using miner = new HardNegativeMiner();
 * const loss = allocLoss(rows, 8732); // fill it
 * const mask = await miner.mask(loss, 8732, numNeg);
 * const ssd = await miner.ssdNegatives({ loss, positives, cols: 8732, preset: 'mmdet' });
 * ```
 */
export class HardNegativeMiner extends PooledMiner {
  /**
   * `ssdNegatives` (the SSD framework presets) with the mining on this pool; the same result, bit for
   * bit. Same as `ssdNegativesPooled(this, options)`. Rejects (never throws) with `ssdNegatives`'
   * errors or {@link PooledMiner.mask}'s. `preset: 'tf_object_detection'` gives that preset's result
   * (its NMS runs image by image on a worker pool of its own).
   */
  ssdNegatives(options: TfodPooledOptions): Promise<TfodResult>;
  ssdNegatives(options: SsdNegativesPooledOptions): Promise<SsdNegativesResult>;
  ssdNegatives(
    options: SsdNegativesPooledOptions | TfodPooledOptions,
  ): Promise<SsdNegativesResult | TfodResult> {
    return ssdNegativesPooled(this, options);
  }
}
