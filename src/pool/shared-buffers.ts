/**
 * Shared memory of the pool: the caller-facing `allocLoss`, the layout of a call's staging buffer,
 * and the free list that recycles staging buffers between calls.
 */

/** Int32 control words at the start of every staging buffer (64 bytes, one cache line). */
export const CTRL_WORDS = 16;
/** Control word index: nonzero once the call is cancelled (aborted, failed, closed); tasks then stop. */
export const CTRL_CANCEL = 0;
/**
 * Control word index, claiming tasks (see protocol.ts): the number of row claims handed out so far.
 * A task takes claim `c = Atomics.add(ctrl, CTRL_NEXT_CLAIM, 1)`, rows `c * claim ..`; counting
 * claims rather than rows keeps the word far from int32 overflow.
 */
export const CTRL_NEXT_CLAIM = 1;
/**
 * Control word index, claiming tasks: nonzero once a task met a NaN (with `nan: 'throw'`). Rows
 * claimed later lie after it and cannot change the answer, so no more are claimed.
 */
export const CTRL_NAN_MET = 2;
/**
 * Control word index, claiming tasks over a staged (copied) loss: rows copied into the staging
 * buffer so far. The coordinator copies block by block after posting the tasks and notifies this
 * word; a task waits on it before reading rows not yet copied.
 */
export const CTRL_STAGED_ROWS = 3;
/**
 * Control word index, mask calls over a staged loss, which the calling thread mines from the back
 * while the threads claim from the front (see caller-rows.ts): the claims not yet taken from the
 * back. The calling thread takes claim `c = Atomics.sub(ctrl, CTRL_BACK_CLAIM, 1) - 1`; whether
 * that claim is its own is settled by the claim's owner word (see {@link OWNER_THREAD}).
 */
export const CTRL_BACK_CLAIM = 4;
/**
 * Owner word values of a claim that both ends may take: nobody yet, a pool thread, the calling
 * thread. Each claim is offered to at most one pool thread (the front counter) and to the calling
 * thread at most once (the back counter), and each side takes it with `Atomics.compareExchange(owners,
 * c, OWNER_NONE, mine)`: exactly one side wins, and a side that loses stops claiming, since every
 * claim past it is the other side's.
 */
export const OWNER_NONE = 0;
export const OWNER_THREAD = 1;
export const OWNER_CALLER = 2;
/** Int32 words of one batch-wide histogram slot: 2^11 buckets of 11-bit digits. */
export const HIST_WORDS = 2048;

/** Largest element count the kernels index with int32 flat indices. */
export const MAX_ELEMENTS = 0x7fffffff;

/**
 * Where things sit in a call's staging buffer, in int32 words from its start: control words, then
 * the per-row counts, then the claims' owner words (mask calls over a staged loss), then the
 * histogram slots (one per task), then the copied losses, then the staged result (when the caller's
 * `out` is not shared). Regions start on 16-word (64-byte) boundaries.
 */
export interface CallLayout {
  countsAt: number;
  /** The claims' owner words; 0 when the call has none. */
  ownersAt: number;
  histAt: number;
  lossAt: number;
  outAt: number;
  /** Total size in bytes. */
  bytes: number;
}

const align16 = (words: number): number => Math.ceil(words / 16) * 16;

/**
 * Layout for `counts` per-row counts, `histSlots` histogram slots, `lossCopy` copied float32 losses,
 * `outWords` int32 words of staged result and `owners` claim owner words (each may be 0).
 * Cost: O(1).
 */
export function callLayout(
  counts: number,
  histSlots: number,
  lossCopy: number,
  outWords = 0,
  owners = 0,
): CallLayout {
  const countsAt = CTRL_WORDS;
  const ownersAt = countsAt + align16(counts);
  const histAt = ownersAt + align16(owners);
  const lossAt = histAt + histSlots * HIST_WORDS;
  const outAt = lossAt + align16(lossCopy);
  return {
    countsAt,
    ownersAt: owners > 0 ? ownersAt : 0,
    histAt,
    lossAt,
    outAt,
    bytes: (outAt + outWords) * 4,
  };
}

/**
 * Touches one byte per 4 KiB page of bytes `from .. to - 1` of a fresh result (writing the zero it
 * holds), so that its page faults are taken now, on the calling thread while the pool threads work,
 * rather than by the copy of the result at the end of the call. Cost: one store per page, plus the
 * faults.
 */
export function faultIn(fresh: Uint8Array | Int32Array, from = 0, to = fresh.byteLength): void {
  const bytes = new Uint8Array(fresh.buffer, fresh.byteOffset, fresh.byteLength);
  for (let i = from; i < to; i += 4096) bytes[i] = 0;
}

/** Whether a typed array lives in a `SharedArrayBuffer` (so workers can read it without a copy). */
export function isShared(view: ArrayBufferView): boolean {
  return view.buffer instanceof SharedArrayBuffer;
}

/**
 * A zeroed `(rows, cols)` float32 batch in a fresh `SharedArrayBuffer`. Fill it and pass it to
 * `HardNegativeMiner` methods: the workers read it in place, with no copy, and the calling thread
 * stays free (any other `Float32Array` is copied into a shared staging buffer on the calling thread,
 * which for a mask also mines part of its rows). Do not write to it
 * while a call that reads it is pending.
 *
 * @throws {TypeError} `rows` or `cols` not a number.
 * @throws {RangeError} `rows` not an integer >= 0, `cols` not an integer >= 1, or more than
 *   2^31 - 1 elements (the kernels index with int32).
 */
export function allocLoss(rows: number, cols: number): Float32Array {
  if (typeof rows !== 'number') throw new TypeError(`\`rows\` must be a number, got ${typeof rows}`);
  if (!Number.isInteger(rows) || rows < 0) {
    throw new RangeError(`\`rows\` must be an integer >= 0, got ${rows}`);
  }
  if (typeof cols !== 'number') throw new TypeError(`\`cols\` must be a number, got ${typeof cols}`);
  if (!Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`\`cols\` must be a positive integer, got ${cols}`);
  }
  if (rows * cols > MAX_ELEMENTS) {
    throw new RangeError(`\`rows * cols\` must be at most ${MAX_ELEMENTS}, got ${rows * cols}`);
  }
  return new Float32Array(new SharedArrayBuffer(rows * cols * 4));
}

/** Capacity actually allocated for a request: 1 KiB at least, else rounded up by at most 1/8. */
function sizeClass(bytes: number): number {
  if (bytes <= 1024) return 1024;
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

/**
 * Recycles staging `SharedArrayBuffer`s between calls, so a steady stream of calls allocates no
 * shared memory besides each call's result.
 *
 * Invariant the coordinator keeps: a buffer is released only once every task that was given it has
 * answered normally. A buffer whose task failed (a worker that died or is being terminated may still
 * touch it) is simply dropped, never released. Acquire does not clear the buffer; callers overwrite
 * what they use and reset the control words.
 *
 * The free list is bounded (by count and bytes), so memory does not grow with the number of calls,
 * only with how many run at once. A release beyond the bounds drops the buffers released longest
 * ago, not the one just released: a loop of calls of one large size then keeps reusing its buffer
 * even when smaller buffers of earlier sizes fill the list (dropping the newest would allocate, and
 * fault in, a fresh buffer for every call: 600 ms for a 150 MB one here).
 */
export class SharedStaging {
  readonly #free: SharedArrayBuffer[] = [];
  #freeBytes = 0;
  readonly #maxBuffers: number;
  readonly #maxBytes: number;

  constructor(maxBuffers = 64, maxBytes = 256 * 1024 * 1024) {
    this.#maxBuffers = maxBuffers;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `bytes` bytes: the best fit from the free list (at most 4x too big), else new. */
  acquire(bytes: number): SharedArrayBuffer {
    const want = sizeClass(bytes);
    let best = -1;
    let bestSize = 4 * want + 1;
    for (let i = 0; i < this.#free.length; i++) {
      const size = this.#free[i]!.byteLength;
      if (size >= bytes && size < bestSize) {
        best = i;
        bestSize = size;
      }
    }
    if (best < 0) return new SharedArrayBuffer(want);
    const buffer = this.#free[best]!;
    this.#free.splice(best, 1); // keeps the rest in release order (see release)
    this.#freeBytes -= buffer.byteLength;
    return buffer;
  }

  /**
   * Returns `buffer` to the free list, dropping the buffers released longest ago while the list is
   * over its bounds (or `buffer` itself when it alone exceeds the byte bound); see the class
   * invariant. Answers the bytes dropped (0 when nothing was), which threads may still pin.
   */
  release(buffer: SharedArrayBuffer): number {
    if (buffer.byteLength > this.#maxBytes) return buffer.byteLength;
    this.#free.push(buffer);
    this.#freeBytes += buffer.byteLength;
    let dropped = 0;
    while (this.#free.length > this.#maxBuffers || this.#freeBytes > this.#maxBytes) {
      const oldest = this.#free.shift()!;
      this.#freeBytes -= oldest.byteLength;
      dropped += oldest.byteLength;
    }
    return dropped;
  }

  /** Drops every free buffer. */
  clear(): void {
    this.#free.length = 0;
    this.#freeBytes = 0;
  }

  /** Number and total bytes of the buffers on the free list (for tests and diagnostics). */
  get stats(): { buffers: number; bytes: number } {
    return { buffers: this.#free.length, bytes: this.#freeBytes };
  }
}
