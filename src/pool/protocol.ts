/**
 * The message the coordinator posts to a pool worker for one contiguous row range, and what the
 * worker answers. Kept small on purpose: three `SharedArrayBuffer` handles (structured clone shares
 * them, nothing is copied) plus a few numbers. Every field is always present so the worker sees one
 * object shape.
 */

/** Hard negative mask of rows `rowStart .. rowEnd - 1`, or of claimed rows (`selectRows`). */
export const TASK_MASK = 0;
/** Descending ranks of rows `rowStart .. rowEnd - 1`, or of claimed rows (`rankRows`). */
export const TASK_RANK = 1;
/** Batch-wide phase 1: histogram of the range's keys at `level` under `prefix`, into the task's slot. */
export const TASK_HISTOGRAM = 2;
/** Batch-wide phase 2: write the range's mask for threshold `(shift, prefix)` taking `quota` ties. */
export const TASK_WRITE = 3;
/**
 * A `TASK_MASK` whose claims the calling thread shares (`ownersAt`, src/pool/caller-rows.ts). A kind
 * of its own so that a worker file older than the owner words (a stale copy shipped beside a bundle)
 * rejects it as an unknown kind, failing the call, instead of mining claims the calling thread owns
 * and waiting forever for rows that are never copied.
 */
export const TASK_MASK_SHARED_CLAIMS = 4;

/** Answer of a task that ran to the end with no NaN (a NaN answers its flat index, >= 0). */
export const RESULT_OK = -1;
/** Answer of a task that saw its call's cancel flag and stopped (the call has already settled). */
export const RESULT_CANCELLED = -2;

/** One task: a row range of one call. */
export interface MineTask {
  kind: number;
  /** The float32 losses (read as int32 bits): `length` elements from byte `lossAt` of `loss`. */
  loss: SharedArrayBuffer;
  lossAt: number;
  length: number;
  /** The call's staging buffer: control words, counts, histogram slots (see shared-buffers.ts). */
  ctx: SharedArrayBuffer;
  /** The call's output: mask bytes or int32 ranks, `length` elements from byte `outAt`. */
  out: SharedArrayBuffer;
  outAt: number;
  cols: number;
  rowStart: number;
  rowEnd: number;
  nanLargest: boolean;
  /** Batch-wide only: histogram slot (int32 offset into ctx), level, prefix, shift, quota, flags. */
  slot: number;
  level: number;
  prefix: number;
  shift: number;
  quota: number;
  /** The range is known to hold a NaN (nan: 'largest'): use the NaN-aware loops. */
  hasNan: boolean;
  /** Scan for NaN first and answer its index (the histogram phase was skipped). */
  checkNan: boolean;
  /**
   * The call's number (the coordinator numbers its calls from 1): for diagnostics and for test
   * fixture workers that act on one call's tasks; the kernels ignore it.
   */
  call: number;
  /** The task's index in its call (dispatch order): likewise. */
  index: number;
  /**
   * Mask and rank: `0` for a task that covers rows `rowStart .. rowEnd - 1` itself, else a claiming
   * task: it takes `claim` rows at a time from the call's claim counter (`CTRL_NEXT_CLAIM`) until the
   * rows up to `rowEnd` are all taken, so a thread that runs slower (descheduled, say) takes fewer
   * and the call ends when the rows do. One claiming task per thread, posted at once.
   */
  claim: number;
  /** A claiming task over a loss the coordinator is still copying: wait on `CTRL_STAGED_ROWS`. */
  staged: boolean;
  /**
   * A claiming task whose call the calling thread also mines, taking claims from the back (see
   * src/pool/caller-rows.ts): the int32 word offset in `ctx` of one owner word per claim, which the
   * task must win (`OWNER_NONE` to `OWNER_THREAD`, shared-buffers.ts) before it reads a claim's rows;
   * a claim it loses and every later one are the calling thread's. 0: no owner words.
   */
  ownersAt: number;
}
