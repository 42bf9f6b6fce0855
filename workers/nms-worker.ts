/**
 * Piscina worker entry of the `'tf_object_detection'` preset: mines one contiguous row range with
 * the same row kernel as the synchronous call (`mineTfodRows`), reading and writing the pool's own
 * shared staging arena (`src/ssd/tfod-pooled.ts`), so this thread only ever holds handles to a few
 * arenas that are reused call after call, never to callers' buffers. No validation: the coordinator
 * validated the call.
 */

import { mineTfodRows } from '../src/ssd/tfod.ts';
import type { TfodTask } from '../src/ssd/tfod-pooled.ts';

/** Runs a task; answers the number of rows mined. */
export default function run(task: TfodTask): number {
  mineTfodRows(task.input, task.rowStart, task.rowEnd, task.output);
  return task.rowEnd - task.rowStart;
}
