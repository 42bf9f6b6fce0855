/**
 * How a call is cut into pool tasks: contiguous row ranges, a few per thread, none too small to pay
 * for its round trip; and below which size a call is not dispatched at all.
 *
 * Measured on the 2-core development machine (Node 20, `npm run bench:pool`, its threshold rows),
 * with the wasm kernel at ~1.0-1.3 ns per element on one core: a dispatched one-row mask call takes
 * ~60 us against ~11 us inline. With tasks of at least 2^18 elements, dispatching on two threads
 * against the calling thread: B = 24 rows of 8732: 305 vs 215 us; B = 32: 357 vs 420 us; B = 48:
 * 482 vs 470 us; B = 64: 575 vs 886 us (an earlier run: 283 vs 280 us at B = 24, 324 vs 374 us at
 * B = 32). The crossover lies between 24 and 48 rows (the runs are noisy), hence
 * {@link INLINE_BELOW} = 2^18 (up to 30 SSD300 rows run on the calling thread). A faster kernel
 * moves the crossover up:
 * re-measure when it changes.
 */

/** Calls with fewer elements (`rows * cols`) run inline on the calling thread, by default. */
export const INLINE_BELOW = 1 << 18;

/**
 * Elements per task when a thread runs several tasks one after the other: each must dwarf the
 * round trip that separates it from the next (about 350 us of work against ~50 us). With 2^16, as
 * first chosen for the slower JavaScript kernel, a 48-row call took 710 us dispatched in six tasks
 * against 480 us in two.
 */
export const MIN_TASK_ELEMENTS = 1 << 18;

/**
 * Elements per task when the tasks run side by side, one per thread: their round trips overlap, so
 * much smaller tasks still gain (a call just above `INLINE_BELOW`, or one forced through the pool,
 * gets one task per thread instead of one task on one thread, which would only add a round trip).
 */
export const MIN_PARALLEL_ELEMENTS = 1 << 14;

/**
 * Tasks per thread for large calls, and the tasks each thread holds in flight (the miner posts a
 * call's tasks all at once, so a thread runs its share back to back, without a round trip between
 * them). Several smaller tasks rather than one keep the cancel checks and a concurrent call's wait
 * short; more would only add per-task work.
 */
export const TASKS_PER_THREAD = 4;

/**
 * Row boundaries of the tasks of a `(rows, cols)` call on `threads` threads: task `t` covers rows
 * `bounds[t] .. bounds[t + 1] - 1`, contiguous and in order, sizes differing by at most one row.
 * At most `rows` and `threads * TASKS_PER_THREAD` tasks; as many as fit `MIN_TASK_ELEMENTS` each,
 * but one per thread as long as each gets `MIN_PARALLEL_ELEMENTS`; at least one. Cost: O(tasks).
 */
export function planRanges(rows: number, cols: number, threads: number): Int32Array {
  const n = rows * cols;
  const bySize = Math.floor(n / MIN_TASK_ELEMENTS);
  const spread = Math.min(threads, Math.floor(n / MIN_PARALLEL_ELEMENTS));
  const tasks = Math.max(1, Math.min(rows, threads * TASKS_PER_THREAD, Math.max(bySize, spread)));
  const bounds = new Int32Array(tasks + 1);
  for (let t = 0; t <= tasks; t++) bounds[t] = Math.floor((t * rows) / tasks);
  return bounds;
}
