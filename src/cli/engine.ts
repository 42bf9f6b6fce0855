import { hardNegativeMask } from '../mask.ts';
import { rankDescending } from '../rank.ts';

/**
 * What the CLI mines with: one object per run, created once, reused for every chunk, closed at the
 * end. The result of `mask`/`rank` may be a reused buffer: the caller must be done with it before
 * the next call.
 */
export interface Engine {
  /** Threads actually used (reported in the summary). */
  readonly threads: number;
  /** A loss buffer the engine reads without copying (shared memory for a pool). */
  allocLoss(rows: number, cols: number): Float32Array;
  /**
   * The mask of `loss` (`rows * cols`, row-major) with per-row `counts` (already clamped to
   * `0 .. cols`). Rejects with the library's `RangeError` for a NaN under `nanLargest = false`.
   */
  mask(loss: Float32Array, cols: number, counts: Int32Array, nanLargest: boolean): Promise<Uint8Array>;
  /** `idx_rank` of `loss` as int32; same NaN contract. */
  rank(loss: Float32Array, cols: number, nanLargest: boolean): Promise<Int32Array>;
  close(): Promise<void>;
}

/**
 * The engine on the calling thread (the sync `hardNegativeMask` / `rankDescending`), writing into
 * one output buffer grown to the largest chunk. Used until the worker pool is wired in, and for
 * `--threads 1`.
 */
export function createSyncEngine(): Engine {
  let maskOut = new Uint8Array(0);
  let rankOut = new Int32Array(0);
  return {
    threads: 1,
    allocLoss: (rows, cols) => new Float32Array(rows * cols),
    async mask(loss, cols, counts, nanLargest) {
      if (maskOut.length < loss.length) maskOut = new Uint8Array(loss.length);
      const out = maskOut.subarray(0, loss.length);
      return hardNegativeMask(loss, cols, counts, { nan: nanLargest ? 'largest' : 'error', out });
    },
    async rank(loss, cols, nanLargest) {
      if (rankOut.length < loss.length) rankOut = new Int32Array(loss.length);
      const out = rankOut.subarray(0, loss.length);
      return rankDescending(loss, cols, { nan: nanLargest ? 'largest' : 'error', out });
    },
    async close() {},
  };
}

/** The engine for `--threads` (undefined: the machine's default). */
export async function createEngine(_threads: number | undefined): Promise<Engine> {
  return createSyncEngine();
}
