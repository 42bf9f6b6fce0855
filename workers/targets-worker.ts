/**
 * Piscina worker entry of `TargetEncoder`: encodes a range of images of a packed batch, reading the
 * truths and writing `loc` / `conf` in the call's `SharedArrayBuffer`s in place. No validation (the
 * coordinator validated the batch); the matcher's per-N scratch is kept across tasks.
 */
import type { MatchScratch } from '../src/ssd/match.ts';
import type { TargetsTask } from '../src/ssd/target-encoder.ts';
import { encodeRange } from '../src/ssd/targets.ts';

let scratch: MatchScratch | undefined;

export default function targetsTask(task: TargetsTask): number {
  const { batch, loc, conf, start, end } = task;
  const packed = {
    params: batch.params,
    priorCount: batch.priorCount,
    images: batch.images,
    priors: new Float32Array(batch.priors),
    offsets: new Int32Array(batch.offsets),
    truths: new Float32Array(batch.truths),
    labels: new Int32Array(batch.labels),
  };
  scratch = encodeRange(packed, start, end, new Float32Array(loc), new Int32Array(conf), scratch);
  return end - start;
}
