import { HardNegativeMiner } from '../miner.ts';
import { INLINE_BELOW } from '../pool/plan.ts';
import { allocLoss } from '../pool/shared-buffers.ts';
import { makeBatch } from './data.ts';
import type { Implementation } from './implementations.ts';

/** Loss storage in shared memory (`allocLoss`), so the pool reads the batches without a copy. */
export function sharedLoss(rows: number, cols: number): Float32Array {
  return allocLoss(rows, cols);
}

/** Warm-up elements per thread (2^18, the pool's task size for long calls), so every thread gets work. */
const WARM_ELEMENTS_PER_THREAD = 1 << 18;

/**
 * `pool@T`: `HardNegativeMiner.mask` with `T` worker threads, as users call it (default options: the
 * measured inline decision, so a small batch runs on the calling thread). `setup` creates the miner and runs a few
 * calls on a batch large enough to start and JIT-warm every worker, so no start-up is ever timed.
 */
export function poolImplementation(threads: number): Implementation {
  let miner: HardNegativeMiner | undefined;
  return {
    name: `pool@${threads}`,
    threads,
    builtin: true,
    maxElements: Number.POSITIVE_INFINITY,
    async: true,
    setup: async (cols) => {
      miner = new HardNegativeMiner({ threads });
      const warm = makeBatch(
        'exp',
        Math.max(1, Math.ceil((threads * WARM_ELEMENTS_PER_THREAD) / cols)),
        cols,
        0,
        allocLoss,
      );
      for (let i = 0; i < 3; i++) await miner.mask(warm.loss, cols, warm.numNeg);
    },
    run: (loss, cols, numNeg) => {
      if (miner === undefined) return Promise.reject(new Error('pool not set up'));
      return miner.mask(loss, cols, numNeg);
    },
    close: async () => {
      await miner?.close();
      miner = undefined;
    },
    note:
      `pool@T: the miner runs calls under ${INLINE_BELOW} elements on the calling thread until it has timed both paths, then the faster per call shape (default options: the decision is measured); ` +
      'each call here returns a fresh shared mask, whose first-touch page faults can cost more than the mining (npm run bench:pool times a reused `out` too)',
  };
}
