import { Prng } from './prng.ts';

/** A synthetic SSD batch: what the demo mines. */
export interface SsdBatch {
  /** Positives per row. */
  readonly positives: Int32Array;
  /** `num_neg = min(3P, N - 1)` per row, as ssd.pytorch computes it. */
  readonly counts: Int32Array;
  /** Positives in the whole batch. */
  readonly totalPositives: number;
}

/**
 * Fills `loss` (`rows * cols`) with a realistic SSD confidence-loss batch, deterministically from
 * `seed`: each box is a positive with probability `positiveRate` (its loss zeroed, as ssd.pytorch
 * does before ranking), otherwise its `loss_c` is exponential with mean 1 (most background boxes
 * are easy, a few are hard). Returns the positives and `num_neg = min(3P, N - 1)` per row.
 * Cost: two PRNG draws and one `log` per element.
 */
export function synthesizeSsdBatch(
  loss: Float32Array,
  rows: number,
  cols: number,
  seed: number,
  positiveRate = 0.004,
): SsdBatch {
  const rng = new Prng(seed);
  const positives = new Int32Array(rows);
  const counts = new Int32Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let p = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) {
      if (rng.next() < positiveRate) {
        loss[i] = 0;
        p++;
      } else {
        loss[i] = -Math.log(1 - rng.next());
      }
    }
    positives[r] = p;
    counts[r] = Math.min(3 * p, cols - 1);
    total += p;
  }
  return { positives, counts, totalPositives: total };
}
