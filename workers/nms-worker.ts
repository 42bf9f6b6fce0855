/**
 * Piscina worker entry of the `'tf_object_detection'` preset: claims the call's images one at a time
 * (an atomic counter in the arena, shared by the call's tasks, one per thread) and mines each with
 * the same row kernel as the synchronous call (`mineTfodRows`), reading and writing the pool's own
 * shared staging arena (`src/ssd/tfod-pooled.ts`), so this thread only ever holds handles to a few
 * arenas that are reused call after call, never to callers' buffers. No validation: the coordinator
 * validated the call.
 */

import { mineTfodRows } from '../src/ssd/tfod.ts';
import type { TfodTask } from '../src/ssd/tfod-pooled.ts';

/** Runs a task; answers the number of images this thread mined. */
export default function run(task: TfodTask): number {
  let mined = 0;
  for (;;) {
    const row = Atomics.add(task.claims, 0, 1);
    if (row >= task.rows) return mined;
    mineTfodRows(task.input, row, row + 1, task.output);
    mined++;
  }
}
