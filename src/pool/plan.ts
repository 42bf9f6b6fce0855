/**
 * How a call is cut into pool tasks: row claims for mask and rank (one claiming task per thread),
 * contiguous row ranges for the batch-wide phases (a few per thread, none too small to pay for its
 * round trip); and below which size a call is not dispatched at all.
 *
 * The constants come from `npm run bench:pool` (its threshold rows compare a dispatched call with
 * the same call on the calling thread); the README's performance section has the figures. A faster
 * kernel moves the crossover up: re-measure when it changes.
 */

/**
 * Calls with fewer elements (`rows * cols`) run inline on the calling thread: the default
 * `inlineBelow`, and where the measured decision starts before a call shape has figures (see
 * inline-decision.ts; `node dist/bench/crossover.bench.js` compares the default miner with the
 * synchronous call at every batch size).
 */
export const INLINE_BELOW = 1 << 18;

/**
 * Elements per task when a thread runs several tasks one after the other: each must dwarf the
 * round trip that separates it from the next (smaller tasks measured slower, `npm run bench:pool`).
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

/**
 * Elements per row claim of the mask and rank tasks (see protocol.ts): small enough that a thread
 * held up for a while costs the call little (the other threads take the rows it would have), large
 * enough that the claim (one atomic add) and the cancel check between claims are negligible: about
 * 60 us of kernel work here. Row claims measured 10-20% faster than four fixed ranges per thread at
 * B = 256..1024 (`npm run bench:pool`).
 */
export const CLAIM_ELEMENTS = 1 << 16;

/**
 * Rows per claim and the number of claiming tasks for a `(rows, cols)` mask or rank call on
 * `threads` threads: whole rows of about {@link CLAIM_ELEMENTS} elements (at least one row, and at
 * most an even share, so every thread gets some), one task per thread that can get a claim (a mask
 * over a non-shared loss posts one fewer, at least one: the calling thread mines in its place,
 * tasks.ts), and `claims`, the number of claims. Cost: O(1).
 */
export function planClaims(
  rows: number,
  cols: number,
  threads: number,
): { claim: number; claims: number; tasks: number } {
  const claim = Math.max(1, Math.min(Math.floor(CLAIM_ELEMENTS / cols), Math.ceil(rows / threads)));
  const claims = Math.ceil(rows / claim);
  return { claim, claims, tasks: Math.max(1, Math.min(threads, claims)) };
}

/**
 * Bytes of shared memory the current threads may pin after the miner is done with it (staging
 * buffers dropped from the full free list, distinct caller buffers seen) before the miner replaces
 * its threads. A thread's handle keeps a `SharedArrayBuffer` alive until that thread's GC, which
 * threads that allocate this little rarely run; ending the threads frees every handle at once, with
 * no V8 flag and no forced GC. New calls go to fresh threads at once; the old ones finish their
 * tasks first.
 */
export const RECYCLE_BYTES = 256 * 1024 * 1024;
