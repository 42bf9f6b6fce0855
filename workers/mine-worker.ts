/**
 * Piscina worker entry: runs the same kernels as the synchronous API on rows of one call,
 * reading and writing the call's `SharedArrayBuffer`s in place. A thin wrapper: no validation (the
 * coordinator validated and snapshotted the call), one `KernelScratch` per kernel and thread,
 * allocated once per column count; per task only a few typed-array views are created.
 *
 * Every task answers a number: -1 (done), the flat index of the first NaN it met, or -2 when it saw
 * its call's cancel flag (checked before starting, between chunks of about 2^18 elements and between
 * row claims, so an aborted or closed call frees its threads within a fraction of a millisecond).
 * Mask and rank tasks claim their rows from a shared counter (see protocol.ts and `eachRows`).
 *
 * Shared memory: a handle this thread receives pins its backing store until this thread's own GC
 * collects it, and this thread allocates too little for that to happen soon. So the coordinator
 * never sends it a buffer the caller gets as a fresh result: results are written into the pool's
 * recycled staging buffers and copied out on the calling thread. The buffers this thread sees are
 * the pool's (a bounded, reused set) and those the caller passes in and keeps (`allocLoss` inputs, a
 * shared `out`). Nothing here needs a forced collection, and no V8 flag is touched.
 */
import { histogramRefine, histogramTop, writeRange } from '../src/kernel/batch-wide.ts';
import { rankRows } from '../src/kernel/rank-rows.ts';
import type { KernelScratch } from '../src/kernel/scratch.ts';
import { scratchFor } from '../src/kernel/scratch.ts';
import { firstNan, selectRows } from '../src/kernel/select-rows.ts';
import { threadClaim } from '../src/pool/caller-rows.ts';
import type { MineTask } from '../src/pool/protocol.ts';
import {
  RESULT_CANCELLED,
  RESULT_OK,
  TASK_HISTOGRAM,
  TASK_MASK,
  TASK_MASK_SHARED_CLAIMS,
  TASK_RANK,
  TASK_WRITE,
} from '../src/pool/protocol.ts';
import {
  CTRL_CANCEL,
  CTRL_NAN_MET,
  CTRL_STAGED_ROWS,
  CTRL_WORDS,
  HIST_WORDS,
} from '../src/pool/shared-buffers.ts';

/**
 * One scratch per kernel: `rankRows` leaves `hist` dirty while `selectRows` expects it zeroed on
 * entry (it loops forever on a dirty one), so the two never share a `KernelScratch`.
 */
let maskScratch: KernelScratch | undefined;
let rankScratch: KernelScratch | undefined;

/** Elements between two looks at the cancel flag. */
const CHUNK_ELEMENTS = 1 << 18;

/** Runs one task (see protocol.ts); answers -1, a NaN's flat index, or -2 (cancelled). */
export default function mineTask(task: MineTask): number {
  const ctrl = new Int32Array(task.ctx, 0, CTRL_WORDS);
  if (Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
  const bits = new Int32Array(task.loss, task.lossAt, task.length);
  const cols = task.cols;
  const rowEnd = task.rowEnd;
  const chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / cols));
  const nanLargest = task.nanLargest;
  switch (task.kind) {
    case TASK_MASK:
    case TASK_MASK_SHARED_CLAIMS: {
      const scratch = (maskScratch = scratchFor(maskScratch, cols));
      const counts = new Int32Array(task.ctx, CTRL_WORDS * 4, task.length / cols);
      const out = new Uint8Array(task.out, task.outAt, task.length);
      return eachRows(task, ctrl, chunkRows, (r, e) =>
        selectRows(bits, cols, r, e, counts, out, scratch, nanLargest),
      );
    }
    case TASK_RANK: {
      const scratch = (rankScratch = scratchFor(rankScratch, cols));
      const out = new Int32Array(task.out, task.outAt, task.length);
      return eachRows(task, ctrl, chunkRows, (r, e) => rankRows(bits, cols, r, e, out, scratch, nanLargest));
    }
    case TASK_HISTOGRAM: {
      const hist = new Int32Array(task.ctx);
      const slot = task.slot;
      hist.fill(0, slot, slot + HIST_WORDS);
      let firstNanAt = -1;
      for (let r = task.rowStart; r < rowEnd; ) {
        const e = Math.min(rowEnd, r + chunkRows);
        if (task.level === 0) {
          const nanAt = histogramTop(bits, r * cols, e * cols, hist, slot, nanLargest);
          if (nanAt >= 0 && firstNanAt < 0) {
            firstNanAt = nanAt;
            if (!nanLargest) return nanAt;
          }
        } else {
          histogramRefine(bits, r * cols, e * cols, task.level, task.prefix, hist, slot, task.hasNan);
        }
        r = e;
        if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      }
      return firstNanAt;
    }
    case TASK_WRITE: {
      if (task.checkNan && !nanLargest) {
        const nanAt = firstNan(bits, task.rowStart * cols, rowEnd * cols);
        if (nanAt >= 0) return nanAt;
      }
      const out = new Uint8Array(task.out, task.outAt, task.length);
      let quota = task.quota;
      for (let r = task.rowStart; r < rowEnd; ) {
        const e = Math.min(rowEnd, r + chunkRows);
        quota = writeRange(bits, r * cols, e * cols, task.shift, task.prefix, quota, out, task.hasNan);
        r = e;
        if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      }
      return RESULT_OK;
    }
    default:
      throw new Error(`unknown task kind ${task.kind}`);
  }
}

/**
 * Runs `rows(r, e)` (a row kernel answering -1 or a NaN's flat index) over the task's rows: its own
 * range in chunks of `chunkRows`, or claim after claim for a claiming task (protocol.ts). Checks the
 * cancel flag between chunks and claims.
 *
 * Claims: the counter hands out claims in row order, so when a task meets a NaN, every row before
 * it has already been claimed, by this task or another, and is finished by its claimant; raising
 * `CTRL_NAN_MET` only stops claims of later rows, and the smallest answer is still the first NaN.
 * Claims the calling thread takes from the back (`ownersAt`) are all after every claim a task
 * wins, and the calling thread answers its own first NaN (src/pool/caller-rows.ts).
 */
function eachRows(
  task: MineTask,
  ctrl: Int32Array,
  chunkRows: number,
  rows: (rowStart: number, rowEnd: number) => number,
): number {
  const rowEnd = task.rowEnd;
  const claim = task.claim;
  if (claim > 0) {
    const claims = Math.ceil(rowEnd / claim);
    const owners = task.ownersAt > 0 ? new Int32Array(task.ctx, task.ownersAt * 4, claims) : undefined;
    for (;;) {
      if (Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      if (Atomics.load(ctrl, CTRL_NAN_MET) !== 0) return RESULT_OK;
      const c = threadClaim(ctrl, owners, claims);
      if (c < 0) return RESULT_OK;
      const r = c * claim;
      const e = Math.min(rowEnd, r + claim);
      if (task.staged && !awaitStaged(ctrl, e)) return RESULT_CANCELLED;
      const nanAt = rows(r, e);
      if (nanAt >= 0) {
        Atomics.store(ctrl, CTRL_NAN_MET, 1);
        return nanAt;
      }
    }
  }
  for (let r = task.rowStart; r < rowEnd; ) {
    const e = Math.min(rowEnd, r + chunkRows);
    const nanAt = rows(r, e);
    if (nanAt >= 0) return nanAt;
    r = e;
    if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
  }
  return RESULT_OK;
}

/** Longest single wait for staged rows; the loop then looks at the cancel flag again. */
const STAGE_WAIT_MS = 50;

/**
 * Waits until the coordinator has copied rows up to `rowEnd` (see tasks.ts's `stager`); false when
 * the call is cancelled first (the coordinator notifies the word on cancel, call.ts).
 */
function awaitStaged(ctrl: Int32Array, rowEnd: number): boolean {
  for (;;) {
    const staged = Atomics.load(ctrl, CTRL_STAGED_ROWS);
    if (staged >= rowEnd) return true;
    if (Atomics.load(ctrl, CTRL_CANCEL) !== 0) return false;
    Atomics.wait(ctrl, CTRL_STAGED_ROWS, staged, STAGE_WAIT_MS);
  }
}
