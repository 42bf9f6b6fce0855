/** A call's task messages: one per planned row range (see plan.ts and protocol.ts). */
import type { CallArgs } from './args.ts';
import type { PoolCall } from './call.ts';
import { planRanges } from './plan.ts';
import type { MineTask } from './protocol.ts';
import type { CallLayout } from './shared-buffers.ts';

/** One task per planned row range; a non-shared `loss` is read from the staging buffer (see `stager`). */
export function rowTasks(
  kind: number,
  call: PoolCall,
  args: CallArgs<Uint8Array | Int32Array>,
  layout: CallLayout,
  target: Uint8Array | Int32Array,
  threads: number,
): MineTask[] {
  const { loss, n, cols } = args;
  const ctx = call.ctx;
  // A non-shared loss is staged task by task as the tasks are posted (see `stager`).
  const lossBuffer = args.lossShared ? (loss.buffer as SharedArrayBuffer) : ctx;
  const lossByte = args.lossShared ? loss.byteOffset : layout.lossAt * 4;
  const outBuffer = target.buffer as SharedArrayBuffer;
  const bounds = planRanges(args.rows, cols, threads);
  const tasks: MineTask[] = [];
  for (let t = 0; t + 1 < bounds.length; t++) {
    tasks.push({
      kind,
      loss: lossBuffer,
      lossAt: lossByte,
      length: n,
      ctx,
      out: outBuffer,
      outAt: target.byteOffset,
      cols,
      rowStart: bounds[t]!,
      rowEnd: bounds[t + 1]!,
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
    });
  }
  return tasks;
}

/**
 * For a non-shared `loss`: copies a task's rows into the call's staging buffer, once per task, just
 * before the task is posted, so the first threads start while later rows are still being copied
 * (rather than after one serial copy of the whole batch). `undefined` for a shared `loss`.
 */
export function stager(
  args: CallArgs<Uint8Array | Int32Array>,
  ctx: SharedArrayBuffer,
  layout: CallLayout,
  tasks: readonly MineTask[],
): ((task: MineTask) => void) | undefined {
  if (args.lossShared) return undefined;
  const { loss, cols } = args;
  const staged = new Float32Array(ctx, layout.lossAt * 4, args.n);
  const pending = new Set(tasks);
  return (task) => {
    if (!pending.delete(task)) return;
    staged.set(loss.subarray(task.rowStart * cols, task.rowEnd * cols), task.rowStart * cols);
  };
}
