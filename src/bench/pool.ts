import type { Implementation } from './implementations.ts';

/** Loss storage in shared memory, so the pool reads the batch without copying it. */
export function sharedLoss(rows: number, cols: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(rows * cols * 4));
}

/** Placeholder until the worker pool lands: reported as a failed setup. */
export function poolImplementation(threads: number): Implementation {
  return {
    name: `pool@${threads}`,
    threads,
    builtin: true,
    maxElements: Number.POSITIVE_INFINITY,
    setup: () => Promise.reject(new Error('the worker pool is not available yet')),
    run: () => {
      throw new Error('unreachable');
    },
  };
}
