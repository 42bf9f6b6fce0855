/**
 * The pooled batch-wide mask (one count `k` over the whole batch, ties by flat index), as rounds of
 * tasks over the call's row ranges:
 *
 * 1. histogram rounds: each task counts its range's keys into its own slot of the staging buffer,
 *    first by the top 11 bits of the key, then (only as far as the threshold needs) by the next 11
 *    and the last 10 under the chosen prefix; the coordinator merges the slots and steps down a
 *    level (`stepLevel`) until the threshold's bucket holds exactly the ties still needed;
 * 2. one write round: each range marks its keys above the threshold and takes its share of the
 *    ties, shares given out in flat-index order (range by range).
 *
 * `k = 0` and `k >= n` skip the histograms (the threshold is fixed); the write round then checks
 * for NaN itself.
 */
import { edgeThreshold } from '../batch-wide.ts';
import { levelShift, stepLevel } from '../kernel/batch-wide.ts';
import type { MineTask } from './protocol.ts';
import { TASK_WRITE } from './protocol.ts';
import { HIST_WORDS } from './shared-buffers.ts';

/** Posts every task of a round and resolves to their answers (a NaN's flat index, or negative). */
export type Round = (tasks: MineTask[]) => Promise<number[]>;

/** The smallest NaN index among task answers (each task reports its range's first), or -1. */
export function firstNanAnswer(answers: number[]): number {
  let nanAt = -1;
  for (const answer of answers) if (answer >= 0 && (nanAt < 0 || answer < nanAt)) nanAt = answer;
  return nanAt;
}

/** Sums the tasks' histogram slots into `merged`. O(tasks * 2048). */
function mergeHistograms(ctxWords: Int32Array, tasks: MineTask[], merged: Int32Array): void {
  merged.fill(0);
  for (const task of tasks) {
    const at = task.slot;
    for (let d = 0; d < HIST_WORDS; d++) merged[d]! += ctxWords[at + d]!;
  }
}

/**
 * The bucket of the final threshold in each task's histogram slot, at the level the search stopped
 * at: level 0 counts by the top 11 bits (offset by 1024, the sign), level 1 by the next 11 bits,
 * level 2 by the last 10.
 */
function tieBucket(level: number, prefix: number): number {
  return level === 0 ? prefix + 1024 : level === 1 ? prefix & 2047 : prefix & 1023;
}

/**
 * Runs the protocol on `tasks` (histogram tasks with their slots set) of a batch of `n` elements;
 * `ctxWords` views the staging buffer holding the slots. Resolves to the first NaN's flat index
 * (under `nan: 'error'`), or -1 once the mask is written.
 */
export async function runBatchWide(
  round: Round,
  tasks: MineTask[],
  ctxWords: Int32Array,
  count: number,
  n: number,
): Promise<number> {
  const nanLargest = tasks[0]!.nanLargest;
  let shift: number;
  let prefix: number;
  const quotas = new Float64Array(tasks.length);
  const hasNan = new Uint8Array(tasks.length);
  if (count === 0 || count >= n) {
    ({ shift, prefix } = edgeThreshold(count));
    for (const task of tasks) task.checkNan = true;
  } else {
    const answers = await round(tasks);
    const nanAt = firstNanAnswer(answers);
    if (nanAt >= 0 && !nanLargest) return nanAt;
    for (let t = 0; t < tasks.length; t++) hasNan[t] = answers[t]! >= 0 ? 1 : 0;
    const merged = new Int32Array(HIST_WORDS);
    mergeHistograms(ctxWords, tasks, merged);
    let level = 0;
    let step = stepLevel(merged, 0, 0, 0, count);
    while (step.count !== step.need && level < 2) {
      level++;
      for (let t = 0; t < tasks.length; t++) {
        const task = tasks[t]!;
        task.level = level;
        task.prefix = step.prefix;
        task.hasNan = hasNan[t] === 1;
      }
      await round(tasks);
      mergeHistograms(ctxWords, tasks, merged);
      step = stepLevel(merged, 0, level, step.prefix, step.need);
    }
    shift = levelShift(level);
    prefix = step.prefix;
    // Ties (keys equal to the threshold at this precision) go in flat-index order: each range's
    // count of them is its histogram's count in the chosen bucket.
    const bucket = tieBucket(level, prefix);
    let left = step.need;
    for (let t = 0; t < tasks.length; t++) {
      const ties = ctxWords[tasks[t]!.slot + bucket]!;
      quotas[t] = ties < left ? ties : left;
      left -= quotas[t]!;
    }
  }
  for (let t = 0; t < tasks.length; t++) {
    const task = tasks[t]!;
    task.kind = TASK_WRITE;
    task.shift = shift;
    task.prefix = prefix;
    task.quota = quotas[t]!;
    task.hasNan = hasNan[t] === 1;
  }
  return firstNanAnswer(await round(tasks));
}
