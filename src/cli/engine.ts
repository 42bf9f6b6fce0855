import { hardNegativeMaskBatchWide } from '../batch-wide.ts';
import { hardNegativeMask } from '../mask.ts';
import { HardNegativeMiner } from '../miner.ts';
import { allocLoss } from '../pool/shared-buffers.ts';
import { rankDescending } from '../rank.ts';
import type { NanPolicy } from '../validate.ts';

/**
 * What the CLI mines with: one object per run, created once, reused for every chunk, closed at the
 * end. Results land in two buffers the engine owns, used in turn and grown to the largest chunk, so
 * memory does not grow with the number of chunks: a result stays valid until the next-but-one call
 * of the same kind (the caller writes chunk i while chunk i + 1 is mined). A NaN under `nan: 'error'` rejects with the library's `RangeError`, whose `row` and `column`
 * locate it within the chunk.
 */
export interface Engine {
  /** Threads actually used (reported in the summary). */
  readonly threads: number;
  /** A loss buffer the engine reads without copying (shared memory for a pool). */
  allocLoss(rows: number, cols: number): Float32Array;
  /** The mask of `loss` (`rows * cols`, row-major) with per-row `counts` (clamped to `0 .. cols`). */
  mask(loss: Float32Array, cols: number, counts: Int32Array, nan: NanPolicy): Promise<Uint8Array>;
  /**
   * The batch-wide mask: the `k` largest losses of the whole chunk read as one flat row, ties by
   * flat index (ssd_keras's one top-k per batch); `cols` only locates a NaN.
   */
  maskBatchWide(loss: Float32Array, cols: number, k: number, nan: NanPolicy): Promise<Uint8Array>;
  /** `idx_rank` of `loss` as int32. */
  rank(loss: Float32Array, cols: number, nan: NanPolicy): Promise<Int32Array>;
  close(): Promise<void>;
}

/**
 * Two result buffers per element type, used in turn, each grown to the largest request and handed
 * out as a prefix view.
 */
function resultBuffers(alloc: (bytes: number) => ArrayBufferLike) {
  const bytes = [new Uint8Array(alloc(0)), new Uint8Array(alloc(0))];
  const ints = [new Int32Array(alloc(0)), new Int32Array(alloc(0))];
  let nextBytes = 0;
  let nextInts = 0;
  return {
    bytes(n: number): Uint8Array {
      const i = (nextBytes ^= 1);
      if (bytes[i]!.length < n) bytes[i] = new Uint8Array(alloc(n));
      return bytes[i]!.subarray(0, n);
    },
    ints(n: number): Int32Array {
      const i = (nextInts ^= 1);
      if (ints[i]!.length < n) ints[i] = new Int32Array(alloc(n * 4));
      return ints[i]!.subarray(0, n);
    },
  };
}

/**
 * An engine on the calling thread (the sync `hardNegativeMask` / `rankDescending`): no worker
 * threads at all. For embedding and tests; the CLI uses {@link createEngine}.
 */
export function createSyncEngine(): Engine {
  const out = resultBuffers((n) => new ArrayBuffer(n));
  return {
    threads: 1,
    allocLoss: (rows, cols) => new Float32Array(rows * cols),
    mask: async (loss, cols, counts, nan) =>
      hardNegativeMask(loss, cols, counts, { nan, out: out.bytes(loss.length) }),
    maskBatchWide: async (loss, cols, k, nan) =>
      hardNegativeMaskBatchWide(loss, cols, k, { nan, out: out.bytes(loss.length) }),
    rank: async (loss, cols, nan) => rankDescending(loss, cols, { nan, out: out.ints(loss.length) }),
    async close() {},
  };
}

/**
 * The engine of every command: a {@link HardNegativeMiner} over worker threads (`threads`, default
 * the machine's CPU count), mining each chunk in shared memory. Loss chunks come from `allocLoss`,
 * so they reach the workers without a copy; results go to two reused shared buffers in turn (a fresh
 * shared result per chunk would stay alive in the worker isolates until their next GC).
 */
export async function createEngine(threads: number | undefined): Promise<Engine> {
  const miner = new HardNegativeMiner(threads === undefined ? {} : { threads });
  const out = resultBuffers((n) => new SharedArrayBuffer(n));
  return {
    get threads() {
      return miner.threads;
    },
    allocLoss: (rows, cols) => allocLoss(rows, cols),
    mask: (loss, cols, counts, nan) => miner.mask(loss, cols, counts, { nan, out: out.bytes(loss.length) }),
    maskBatchWide: (loss, cols, k, nan) =>
      miner.maskBatchWide(loss, cols, k, { nan, out: out.bytes(loss.length) }),
    rank: (loss, cols, nan) => miner.rank(loss, cols, { nan, out: out.ints(loss.length) }),
    close: () => miner.close(),
  };
}
