/**
 * Deterministic loss batches for the benchmark: the same `(dist, rows, cols, seed)` always gives the
 * same bytes, on every machine and Node version, so runs and plug-ins compare on identical data.
 */

/** The batch shapes the harness knows; see {@link makeBatch}. */
export const DISTS = ['exp', 'ties', 'worst'] as const;

/** One of {@link DISTS}. */
export type Dist = (typeof DISTS)[number];

/** A `(rows, cols)` loss batch with one negative count per row. */
export interface Batch {
  readonly dist: Dist;
  readonly rows: number;
  readonly cols: number;
  /** float32 losses, row-major, `rows * cols` elements; never contains NaN. */
  readonly loss: Float32Array;
  /** Negatives to keep per row, each in `0 .. cols`. */
  readonly numNeg: Int32Array;
}

/**
 * mulberry32: a 32-bit state PRNG, plenty for test data and small enough to keep the sequence
 * independent of `Math.random` and of the engine. Returns uniform floats in `[0, 1)`.
 */
export function mulberry32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes the batch parameters into the seed, so two shapes never share a stream by accident. */
function mixSeed(seed: number, dist: Dist, rows: number, cols: number): number {
  let h = (seed ^ 0x9e3779b9) | 0;
  for (const v of [DISTS.indexOf(dist) + 1, rows, cols]) {
    h = Math.imul(h ^ v, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h;
}

/** Fraction of boxes that are positives in an SSD300 batch (their loss is zeroed, as ssd.pytorch does). */
const POSITIVE_RATE = 0.004;
/**
 * Largest count of the `exp` and `ties` batches: 3 x ~200 positives, a typical SSD count. Capped at
 * `cols - 1` for short rows, so that small test batches still cut inside the row.
 */
const MAX_NEG = 600;

/**
 * A deterministic batch `loss` plus counts `numNeg`.
 *
 * - `exp`: SSD-like confidence losses, exponentially distributed (few ties), about 0.4% positives
 *   set to 0; `numNeg` uniform in `0 .. 600` (`0 .. cols - 1` for rows shorter than 601).
 * - `ties`: heavy exact ties: 16 levels (steps of 0.5), zeros written half as `-0` and half as `+0`
 *   (they must tie); `numNeg` uniform in `0 .. 600`.
 * - `worst`: four equally likely levels with `-0`/`+0` mixed and `numNeg = cols / 2`, so the
 *   threshold falls inside a tie group of about a quarter of the row: the hardest case for a
 *   select that must break ties by index.
 *
 * Cost: O(rows * cols), one PRNG draw per element. `alloc` lets the caller supply the loss storage
 * (for example shared memory for the pool); it must return `rows * cols` elements.
 */
export function makeBatch(
  dist: Dist,
  rows: number,
  cols: number,
  seed = 1,
  alloc: (rows: number, cols: number) => Float32Array = (r, c) => new Float32Array(r * c),
): Batch {
  const random = mulberry32(mixSeed(seed, dist, rows, cols));
  const loss = alloc(rows, cols);
  const numNeg = new Int32Array(rows);
  const n = rows * cols;
  if (dist === 'exp') {
    for (let i = 0; i < n; i++) loss[i] = random() < POSITIVE_RATE ? 0 : -Math.log(1 - random());
  } else if (dist === 'ties') {
    for (let i = 0; i < n; i++) {
      const level = Math.min(15, Math.floor(-2 * Math.log(1 - random())));
      loss[i] = level === 0 && random() < 0.5 ? -0 : level / 2;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const level = Math.floor(random() * 4);
      loss[i] = level === 0 && random() < 0.5 ? -0 : level;
    }
  }
  for (let r = 0; r < rows; r++) {
    numNeg[r] = dist === 'worst' ? cols >> 1 : Math.floor(random() * (Math.min(MAX_NEG, cols - 1) + 1));
  }
  return { dist, rows, cols, loss, numNeg };
}
