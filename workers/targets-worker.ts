/**
 * Piscina worker entry of `TargetEncoder`: claims images of a batch packed in the encoder's shared
 * arena, a few at a time from the call's counter (one task per thread, all alike), and writes their
 * `loc` / `conf` there in place. No validation (the coordinator validated the batch); the matcher's
 * per-N scratch is kept across tasks. The arena is the encoder's and reused, so this thread never
 * holds a buffer the caller gets.
 */
import type { MatchScratch } from '../src/ssd/match.ts';
import type { TargetsTask } from '../src/ssd/target-encoder.ts';
import { encodeRange } from '../src/ssd/targets.ts';

let scratch: MatchScratch | undefined;

/** Runs a task; answers the number of images this thread encoded. */
export default function targetsTask(task: TargetsTask): number {
  const { batch, loc, conf, claims, claim } = task;
  let done = 0;
  for (;;) {
    const start = Atomics.add(claims, 0, 1) * claim;
    if (start >= batch.images) return done;
    const end = Math.min(batch.images, start + claim);
    scratch = encodeRange(batch, start, end, loc, conf, scratch);
    done += end - start;
  }
}
