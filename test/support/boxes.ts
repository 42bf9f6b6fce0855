import fc from 'fast-check';
import { literalIou } from '../../src/ssd/tfod-reference.ts';
import { prng } from './adversarial.ts';

/**
 * Adversarial boxes and scores for the NMS and `tf_object_detection` tests, drawn as a small recipe
 * by fast-check and expanded with a seeded PRNG (so a failure prints a recipe that rebuilds it).
 */

export type BoxStyle = 'ssd' | 'duplicates' | 'at-threshold' | 'wide' | 'tiny';
export type ScoreStyle = 'mixed' | 'ties' | 'all-equal' | 'specials';

export interface BoxRecipe {
  rows: number;
  cols: number;
  boxStyle: BoxStyle;
  scoreStyle: ScoreStyle;
  /** An index into THRESHOLDS, or -1: the IoU of a drawn pair of boxes (exactly at the threshold). */
  threshold: number;
  seed: number;
}

export const THRESHOLDS = [0, 1e-6, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1] as const;

export const boxRecipe = (maxCols = 60): fc.Arbitrary<BoxRecipe> =>
  fc.record({
    rows: fc.integer({ min: 1, max: 3 }),
    cols: fc.integer({ min: 1, max: maxCols }),
    boxStyle: fc.constantFrom<BoxStyle>('ssd', 'duplicates', 'at-threshold', 'wide', 'tiny'),
    scoreStyle: fc.constantFrom<ScoreStyle>('mixed', 'ties', 'all-equal', 'specials'),
    threshold: fc.integer({ min: -1, max: THRESHOLDS.length - 1 }),
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
  });

/** Boxes `(rows, cols, 4)` as `[ymin, xmin, ymax, xmax]`, corners flipped at random. */
export function makeBoxes(r: BoxRecipe): Float32Array {
  const rand = prng(r.seed ^ 0x5bd1e995);
  const n = r.rows * r.cols;
  const boxes = new Float32Array(4 * n);
  const put = (i: number, y0: number, x0: number, y1: number, x1: number): void => {
    const flipY = rand() < 0.2;
    const flipX = rand() < 0.2;
    boxes[4 * i] = flipY ? y1 : y0;
    boxes[4 * i + 1] = flipX ? x1 : x0;
    boxes[4 * i + 2] = flipY ? y0 : y1;
    boxes[4 * i + 3] = flipX ? x0 : x1;
  };
  for (let i = 0; i < n; i++) {
    const u = rand();
    switch (r.boxStyle) {
      case 'ssd': {
        // Priors on a coarse grid, several sizes, with near-duplicates (IoU around 0.99).
        const g = 4;
        const cy = (Math.floor(rand() * g) + 0.5) / g;
        const cx = (Math.floor(rand() * g) + 0.5) / g;
        const s = [0.1, 0.2, 0.35, 0.6][Math.floor(rand() * 4)]!;
        const jitter = u < 0.5 ? (rand() - 0.5) * s * 0.01 : 0;
        put(i, cy - s / 2 + jitter, cx - s / 2, cy + s / 2 + jitter, cx + s / 2 - jitter);
        break;
      }
      case 'duplicates': {
        const k = Math.floor(rand() * 3);
        if (u < 0.2)
          put(i, 0.5, 0.5, 0.5, 0.9); // zero area
        else if (u < 0.3)
          put(i, 0.3, 0.3, 0.3, 0.3); // a point
        else put(i, 0.1 * k, 0.2 * k, 0.1 * k + 0.4, 0.2 * k + 0.3);
        break;
      }
      case 'at-threshold': {
        // IoU of [0,0,1,1] and [0,0,1,w] is exactly w in float32 (inter w, union 1 + w - w = 1).
        const w = Math.fround([0.5, 0.7, 0.99, 0.3, 1][Math.floor(rand() * 5)]!);
        if (u < 0.5) put(i, 0, 0, 1, 1);
        else put(i, 0, 0, 1, w);
        break;
      }
      case 'wide': {
        const scale = 10 ** Math.floor(rand() * 12 - 4);
        const y = (rand() - 0.5) * scale;
        const x = (rand() - 0.5) * scale;
        put(i, y, x, y + rand() * scale, x + rand() * scale);
        break;
      }
      case 'tiny': {
        // Sides around 1e-20..1e-25: float32 areas in the subnormal range, or 0.
        const s = 10 ** -(20 + Math.floor(rand() * 6));
        const y = Math.floor(rand() * 3) * s;
        put(i, y, 0, y + s * (1 + rand()), s * (1 + rand()));
        break;
      }
    }
  }
  return boxes;
}

/** Scores `(rows, cols)` in a style. */
export function makeScores(r: BoxRecipe, salt = 0): Float32Array {
  const rand = prng(r.seed ^ 0x1b873593 ^ salt);
  const n = r.rows * r.cols;
  const out = new Float32Array(n);
  const specials = [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, -1e-45, 1, 1];
  for (let i = 0; i < n; i++) {
    switch (r.scoreStyle) {
      case 'mixed':
        out[i] = -Math.log(1 - rand()) * (rand() < 0.1 ? -1 : 1);
        break;
      case 'ties':
        out[i] = Math.floor(rand() * 3);
        break;
      case 'all-equal':
        out[i] = 0.5;
        break;
      case 'specials':
        out[i] = specials[Math.floor(rand() * specials.length)]!;
        break;
    }
  }
  return out;
}

/** The recipe's threshold: a listed one, or the exact float32 IoU of two drawn boxes of row 0. */
export function thresholdOf(r: BoxRecipe, boxes: Float32Array): number {
  if (r.threshold >= 0) return Math.fround(THRESHOLDS[r.threshold]!);
  const rand = prng(r.seed ^ 0x2545f491);
  for (let tries = 0; tries < 20; tries++) {
    const i = Math.floor(rand() * r.cols);
    const j = Math.floor(rand() * r.cols);
    const iou = literalIou(boxes, 0, i, j);
    if (iou >= 0 && iou <= 1) return iou;
  }
  return Math.fround(0.5);
}
