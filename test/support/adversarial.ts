import fc from 'fast-check';
import { mulberry32 } from '../../src/bench/data.ts';

/** Float32 values that break naive rankers: signed zeros, infinities, denormals, extremes, ties. */
export const SPECIAL_VALUES: readonly number[] = [
  0,
  -0,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  1e-45, // smallest positive denormal
  -1e-45,
  1.1754942106924411e-38, // largest denormal
  -1.1754942106924411e-38,
  1.1754943508222875e-38, // smallest normal
  3.4028234663852886e38, // largest finite
  -3.4028234663852886e38,
  1,
  -1,
  2,
  0.5,
];

/**
 * One float32 loss value, biased towards ties and edge cases: a special value, a small integer (so
 * rows are full of exact ties), or any float32 (fast-check's `float` covers denormals and -0).
 * With `nan`, NaN (of either sign, from `Float32Array` rounding) is possible too.
 */
export function lossValue(nan = false): fc.Arbitrary<number> {
  const arbs: fc.Arbitrary<number>[] = [
    fc.constantFrom(...SPECIAL_VALUES),
    fc.integer({ min: 0, max: 3 }),
    fc.float({ noNaN: true }),
  ];
  if (nan) arbs.push(fc.constant(Number.NaN));
  return fc.oneof(...arbs);
}

/** A `(rows, cols)` float32 batch of adversarial values, plus per-row counts in `0 .. cols + 5`. */
export function batch(options: { maxRows?: number; maxCols?: number; nan?: boolean } = {}) {
  const maxRows = options.maxRows ?? 4;
  const maxCols = options.maxCols ?? 40;
  return fc
    .record({
      rows: fc.integer({ min: 1, max: maxRows }),
      cols: fc.integer({ min: 1, max: maxCols }),
      style: fc.constantFrom('mixed', 'all-equal', 'two-values', 'signed-zeros'),
    })
    .chain(({ rows, cols, style }) => {
      const value =
        style === 'all-equal'
          ? fc.constant(1.5)
          : style === 'two-values'
            ? fc.constantFrom(0, 1)
            : style === 'signed-zeros'
              ? fc.constantFrom(0, -0, -1e-45, 1e-45)
              : lossValue(options.nan ?? false);
      return fc.record({
        rows: fc.constant(rows),
        cols: fc.constant(cols),
        values: fc.array(value, { minLength: rows * cols, maxLength: rows * cols }),
        counts: fc.array(
          fc.oneof(
            fc.constantFrom(0, 1, Math.max(cols - 1, 0), cols, cols + 5),
            fc.integer({ min: 0, max: cols + 5 }),
          ),
          { minLength: rows, maxLength: rows },
        ),
      });
    })
    .map(({ rows, cols, values, counts }) => ({ rows, cols, loss: Float32Array.from(values), counts }));
}

/** Deterministic PRNG (mulberry32, the benchmark data's) so large generated rows are reproducible. */
export const prng: (seed: number) => () => number = mulberry32;

/** Rows of `cols` losses drawn by `draw`, as one float32 batch. */
export function generate(rows: number, cols: number, draw: (i: number) => number): Float32Array {
  const loss = new Float32Array(rows * cols);
  for (let i = 0; i < loss.length; i++) loss[i] = draw(i);
  return loss;
}

/** Index of the first difference between two arrays, or -1 (a readable failure beats a huge diff). */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
