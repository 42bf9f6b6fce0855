/**
 * Memory checks for the pool tests: `process.memoryUsage().arrayBuffers` once collected memory has
 * really been freed (shared backing stores held by worker threads count too).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * `arrayBuffers` once collected memory has really been freed. V8 releases a shared backing store
 * some time after its last handle is collected (a later turn of the event loop), so a snapshot
 * taken right after `gc()` can still count buffers that are already dead: measured, 117-124 MiB
 * right after `gc()` and 7 MiB a few turns later, on the same run. Collect and yield a few times.
 */
export async function settledArrayBuffers(): Promise<number> {
  gc();
  for (let turn = 0; turn < 3; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().arrayBuffers;
}
