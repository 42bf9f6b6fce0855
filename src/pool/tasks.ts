/** A call's task messages: one per planned row range (see plan.ts and protocol.ts). */
import type { CallArgs } from './args.ts';
import type { PoolCall } from './call.ts';
import { planRanges } from './plan.ts';
import type { MineTask } from './protocol.ts';
import type { CallLayout } from './shared-buffers.ts';

/** One task per planned row range, copying a non-shared `loss` into the staging buffer first. */
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
  let lossBuffer: SharedArrayBuffer;
  let lossByte: number;
  if (args.lossShared) {
    lossBuffer = loss.buffer as SharedArrayBuffer;
    lossByte = loss.byteOffset;
  } else {
    new Float32Array(ctx, layout.lossAt * 4, n).set(loss);
    lossBuffer = ctx;
    lossByte = layout.lossAt * 4;
  }
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
