/**
 * The memory floor of a batch for the harness: the floor pass (src/kernel/floor.ts, one wasm SIMD
 * pass reading the batch and writing a byte per element) timed with tinybench on a copy of the same
 * batch, back to back, as every implementation is timed; every result's `x_floor` divides by it, so
 * each table row and chart shows the distance to what memory allows on this machine.
 */
import { Bench } from 'tinybench';
import { createFloorPass } from '../kernel/floor.ts';

/** Median ns per element of the 1-thread floor pass over `loss`, or null without wasm SIMD/shared memory. */
export async function floorNsPerElement(loss: Float32Array, timeMs: number): Promise<number | null> {
  const pass = createFloorPass(loss);
  if (pass === null || loss.length === 0) return null;
  const bench = new Bench({
    time: timeMs,
    iterations: 5,
    warmupTime: Math.min(250, timeMs),
    warmupIterations: 2,
  });
  bench.add('floor', () => pass.run(), { async: false });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') return null;
  return (result.latency.p50 * 1e6) / loss.length;
}
