import { hardNegativeMaskBatchWide } from '../batch-wide.ts';
import { hardNegativeMask } from '../mask.ts';
import { HardNegativeMiner } from '../miner.ts';
import type { MineOptions } from '../pool/miner.ts';
import { allocLoss } from '../pool/shared-buffers.ts';
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
  /**
   * The batch-wide mask of `loss`: the `k` largest losses of the whole chunk read as one flat row,
   * ties by flat index (ssd_keras's one top-k per batch); `cols` only shapes NaN messages. Same NaN
   * contract.
   */
  maskBatchWide(loss: Float32Array, cols: number, k: number, nanLargest: boolean): Promise<Uint8Array>;
  /** `idx_rank` of `loss` as int32; same NaN contract. */
  rank(loss: Float32Array, cols: number, nanLargest: boolean): Promise<Int32Array>;
  close(): Promise<void>;
}

/**
 * An engine on the calling thread (the sync `hardNegativeMask` / `rankDescending`), writing into one
 * output buffer grown to the largest chunk: no worker threads at all. For embedding and tests; the
 * CLI uses {@link createEngine}.
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
    async maskBatchWide(loss, cols, k, nanLargest) {
      if (maskOut.length < loss.length) maskOut = new Uint8Array(loss.length);
      const out = maskOut.subarray(0, loss.length);
      return hardNegativeMaskBatchWide(loss, cols, k, { nan: nanLargest ? 'largest' : 'error', out });
    },
    async rank(loss, cols, nanLargest) {
      if (rankOut.length < loss.length) rankOut = new Int32Array(loss.length);
      const out = rankOut.subarray(0, loss.length);
      return rankDescending(loss, cols, { nan: nanLargest ? 'largest' : 'error', out });
    },
    async close() {},
  };
}

/** Miner options plus the caller-owned shared result buffer the streaming CLI reuses for every chunk. */
type MineOptionsWithOut = MineOptions & { out?: Uint8Array | Int32Array };

/** Options of {@link createEngine}. */
export interface EngineOptions {
  /**
   * The engine serves a stream of chunks (`mine`, `rank`), so memory must not grow with the number
   * of calls: every result goes into one reused shared buffer (`options.out` of the miner). A miner
   * that returns a fresh `SharedArrayBuffer` per call instead lets both the coordinator and the
   * worker isolates keep each one alive until their next GC, which (measured) does not come: RSS
   * grows by the whole output. So if the miner does not honour `out`, the engine finishes the run on
   * the calling thread (bounded memory, one thread) rather than grow without bound.
   */
  streaming?: boolean;
}

/**
 * The engine of every command: a {@link HardNegativeMiner} over worker threads (`threads`, default
 * the machine's CPU count), mining each chunk in shared memory. Loss chunks come from the pool's
 * `allocLoss`, so they reach the workers without a copy; results go to one reused shared buffer
 * when streaming (see {@link EngineOptions.streaming}).
 */
export async function createEngine(
  threads: number | undefined,
  options: EngineOptions = {},
): Promise<Engine> {
  const miner = new HardNegativeMiner(threads === undefined ? {} : { threads });
  const streaming = options.streaming === true;
  let maskOut = new Uint8Array(new SharedArrayBuffer(0));
  let rankOut = new Int32Array(new SharedArrayBuffer(0));
  let fallback: Engine | undefined;
  const nan = (largest: boolean): 'largest' | 'error' => (largest ? 'largest' : 'error');
  /** After a result that did not land in `out`: stop using the pool for the rest of the stream. */
  const checkLanded = async (result: ArrayBufferView, out: ArrayBufferView): Promise<void> => {
    if (streaming && result.buffer !== out.buffer && fallback === undefined) {
      fallback = createSyncEngine();
      await miner.close();
    }
  };
  return {
    get threads() {
      return fallback === undefined ? miner.threads : fallback.threads;
    },
    allocLoss: (rows, cols) => allocLoss(rows, cols),
    async mask(loss, cols, counts, nanLargest) {
      if (fallback !== undefined) return fallback.mask(loss, cols, counts, nanLargest);
      if (maskOut.length < loss.length) maskOut = new Uint8Array(new SharedArrayBuffer(loss.length));
      const out = maskOut.subarray(0, loss.length);
      const mineOptions: MineOptionsWithOut = { nan: nan(nanLargest), ...(streaming ? { out } : {}) };
      const result = await miner.mask(loss, cols, counts, mineOptions);
      await checkLanded(result, out);
      return result;
    },
    async maskBatchWide(loss, cols, k, nanLargest) {
      if (fallback !== undefined) return fallback.maskBatchWide(loss, cols, k, nanLargest);
      if (maskOut.length < loss.length) maskOut = new Uint8Array(new SharedArrayBuffer(loss.length));
      const out = maskOut.subarray(0, loss.length);
      const mineOptions: MineOptionsWithOut = { nan: nan(nanLargest), ...(streaming ? { out } : {}) };
      const result = await miner.maskBatchWide(loss, cols, k, mineOptions);
      await checkLanded(result, out);
      return result;
    },
    async rank(loss, cols, nanLargest) {
      if (fallback !== undefined) return fallback.rank(loss, cols, nanLargest);
      if (rankOut.length < loss.length) rankOut = new Int32Array(new SharedArrayBuffer(loss.length * 4));
      const out = rankOut.subarray(0, loss.length);
      const mineOptions: MineOptionsWithOut = { nan: nan(nanLargest), ...(streaming ? { out } : {}) };
      const result = await miner.rank(loss, cols, mineOptions);
      await checkLanded(result, out);
      return result;
    },
    close: () => miner.close(),
  };
}
