/**
 * A call's task messages (see protocol.ts) and the copy of a non-shared loss into its staging buffer.
 *
 * Mask and rank calls get one claiming task per thread: each takes rows from the call's claim
 * counter until none are left (plan.ts's `planClaims`). Batch-wide calls get fixed row ranges
 * (`planRanges`), since their phases give each range its own histogram slot and tie quota.
 */
import type { CallArgs } from './args.ts';
import type { PoolCall } from './call.ts';
import { type CallerKernel, type CallerShare, copyAndMine } from './caller-rows.ts';
import { planClaims, planRanges } from './plan.ts';
import { type MineTask, TASK_MASK, TASK_MASK_SHARED_CLAIMS, TASK_RANK } from './protocol.ts';
import {
  type CallLayout,
  CTRL_BACK_CLAIM,
  CTRL_NAN_MET,
  CTRL_NEXT_CLAIM,
  CTRL_STAGED_ROWS,
  CTRL_WORDS,
  OWNER_NONE,
} from './shared-buffers.ts';

/** Elements copied between two notifications of the staged-rows word (see {@link stager}). */
const STAGE_BLOCK_ELEMENTS = 1 << 16;

/**
 * Claims per thread the copy keeps ahead of the threads' front while the calling thread mines from
 * the back (caller-rows.ts): while it mines one claim, each thread mines about one, so two each
 * leave no thread waiting for rows.
 */
const LEAD_PER_THREAD = 2;

/**
 * The call's tasks: claiming tasks for mask and rank, one per planned row range otherwise. Resets
 * the call's claim words (and owner words). A non-shared `loss` is read from the staging buffer (see
 * {@link stager}); with owner words in `layout` (a mask over a non-shared loss) the calling thread
 * mines too, in the last thread's place, so there is one claiming task fewer (at least one).
 */
export function rowTasks(
  kind: number,
  call: PoolCall,
  args: CallArgs<Uint8Array | Int32Array>,
  layout: CallLayout,
  target: Uint8Array | Int32Array,
  threads: number,
): MineTask[] {
  const { loss, n, cols, rows } = args;
  const ctx = call.ctx;
  const lossBuffer = args.lossShared ? (loss.buffer as SharedArrayBuffer) : ctx;
  const lossByte = args.lossShared ? loss.byteOffset : layout.lossAt * 4;
  const outBuffer = target.buffer as SharedArrayBuffer;
  const claiming = kind === TASK_MASK || kind === TASK_RANK;
  // Claiming tasks all cover rows 0 .. rows - 1; range tasks cover their planned range.
  const plan = claiming ? planClaims(rows, cols, threads) : undefined;
  const bounds = plan === undefined ? planRanges(rows, cols, threads) : undefined;
  const claim = plan?.claim ?? 0;
  // Owner words: the calling thread mines claims too (caller-rows.ts), in one thread's place.
  const shared = plan !== undefined && layout.ownersAt > 0;
  if (plan !== undefined) {
    const ctrl = new Int32Array(ctx, 0, CTRL_WORDS);
    Atomics.store(ctrl, CTRL_NEXT_CLAIM, 0);
    Atomics.store(ctrl, CTRL_NAN_MET, 0);
    Atomics.store(ctrl, CTRL_STAGED_ROWS, args.lossShared ? rows : 0);
    if (shared) {
      new Int32Array(ctx, layout.ownersAt * 4, plan.claims).fill(OWNER_NONE);
      Atomics.store(ctrl, CTRL_BACK_CLAIM, plan.claims);
    }
  }
  let count = plan?.tasks ?? bounds!.length - 1;
  if (shared) count = Math.max(1, Math.min(count, threads - 1));
  const tasks: MineTask[] = [];
  const taskKind = shared && kind === TASK_MASK ? TASK_MASK_SHARED_CLAIMS : kind;
  for (let t = 0; t < count; t++) {
    tasks.push({
      kind: taskKind,
      loss: lossBuffer,
      lossAt: lossByte,
      length: n,
      ctx,
      out: outBuffer,
      outAt: target.byteOffset,
      cols,
      rowStart: bounds === undefined ? 0 : bounds[t]!,
      rowEnd: bounds === undefined ? rows : bounds[t + 1]!,
      nanLargest: args.nanLargest,
      slot: 0,
      level: 0,
      prefix: 0,
      shift: 0,
      quota: 0,
      hasNan: false,
      checkNan: false,
      call: call.id,
      index: t,
      claim,
      staged: claiming && !args.lossShared,
      ownersAt: shared ? layout.ownersAt : 0,
    });
  }
  return tasks;
}

/** How a round copies a non-shared loss: per range task before it is posted, or after posting. */
export interface Stager {
  /** Copies the rows of a range task, once, just before it is posted. */
  readonly beforePost: (task: MineTask) => void;
  /**
   * Copies what the claiming tasks read, block by block, once they are all posted, and mines the
   * calling thread's share when the call has owner words (caller-rows.ts): answers the first NaN the
   * calling thread met and the rows it mined.
   */
  readonly afterPost: () => CallerShare;
}

/** Nothing done on the calling thread besides copying. */
const NO_SHARE: CallerShare = { nanAt: -1, rows: 0 };

/**
 * For a non-shared `loss` (`undefined` for a shared one): copies it into the call's staging buffer
 * while the threads already work. Range tasks: a task's rows just before it is posted, so the first
 * threads start while later rows are still being copied (rather than after one serial copy of the
 * whole batch). Claiming tasks: once they are posted, about 2^16 elements at a time, each block
 * published through `CTRL_STAGED_ROWS` (store, then notify), which a task waits on before reading a
 * claimed row not yet copied; with owner words in the layout (mask calls) the calling thread also
 * faults in the fresh result `fault` and mines rows from the back with `mine` (caller-rows.ts), else
 * the copy outruns the kernel, so the tasks rarely wait. This runs synchronously on the calling thread, so it finishes unless it throws;
 * a throw stops the call, whose cancel flag (and notify, call.ts) ends the waits.
 */
export function stager(
  args: CallArgs<Uint8Array | Int32Array>,
  ctx: SharedArrayBuffer,
  layout: CallLayout,
  tasks: readonly MineTask[],
  mine?: CallerKernel,
  fault?: Uint8Array,
): Stager | undefined {
  if (args.lossShared) return undefined;
  const { loss, cols, rows } = args;
  const staged = new Float32Array(ctx, layout.lossAt * 4, args.n);
  const claim = tasks[0]?.claim ?? 0;
  if (claim !== 0) {
    let done = false;
    const twoEnded = layout.ownersAt > 0 && mine !== undefined;
    return {
      beforePost: () => {},
      afterPost: () => {
        if (done) return NO_SHARE;
        done = true;
        return copyAndMine({
          loss,
          staged,
          cols,
          rows,
          claim,
          owners: new Int32Array(ctx, layout.ownersAt * 4, twoEnded ? Math.ceil(rows / claim) : 0),
          ctrl: new Int32Array(ctx, 0, CTRL_WORDS),
          lead: LEAD_PER_THREAD * tasks.length,
          blockRows: Math.max(1, Math.floor(STAGE_BLOCK_ELEMENTS / cols)),
          mine: twoEnded ? mine : undefined,
          fault: twoEnded ? fault : undefined,
        });
      },
    };
  }
  const pending = new Set(tasks);
  return {
    beforePost: (task) => {
      if (!pending.delete(task)) return;
      staged.set(loss.subarray(task.rowStart * cols, task.rowEnd * cols), task.rowStart * cols);
    },
    afterPost: () => NO_SHARE,
  };
}
