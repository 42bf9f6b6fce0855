import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nmsRow, nmsScratch } from '../src/ssd/nms.ts';
import { candidateOrder, orderScratch } from '../src/ssd/nms-order.ts';
import { literalIou, literalNms } from '../src/ssd/tfod-reference.ts';
import { bitsOf } from '../src/validate.ts';
import { boxRecipe, makeBoxes, makeScores, thresholdOf } from './support/boxes.ts';
import { fuzzParameters } from './support/fuzz-cases.ts';

function runRow(
  scores: Float32Array,
  boxes: Float32Array,
  row: number,
  cols: number,
  threshold: number,
  maxOutput: number,
  plain: boolean,
): number[] {
  const selected = new Int32Array(cols);
  const m = nmsRow(
    bitsOf(scores),
    row * cols,
    boxes,
    4 * row * cols,
    cols,
    threshold,
    maxOutput,
    selected,
    nmsScratch(cols),
    plain,
  );
  return Array.from(selected.subarray(0, m));
}

describe('candidate order', () => {
  it('is score descending, lower index first on ties (-0 == +0), -Inf never a candidate', () => {
    const scores = new Float32Array([
      1,
      -0,
      2,
      0,
      Number.NEGATIVE_INFINITY,
      2,
      Number.POSITIVE_INFINITY,
      -1e-45,
    ]);
    const order = new Int32Array(scores.length);
    const n = candidateOrder(bitsOf(scores), 0, scores.length, order, orderScratch(scores.length));
    expect(Array.from(order.subarray(0, n))).toEqual([6, 2, 5, 0, 1, 3, 7]);
  });

  it('equals a stable comparator sort on random rows', () => {
    fc.assert(
      fc.property(boxRecipe(300), (r) => {
        const scores = makeScores(r);
        const order = new Int32Array(r.cols);
        const n = candidateOrder(bitsOf(scores), 0, r.cols, order, orderScratch(r.cols));
        const expected = Array.from({ length: r.cols }, (_, i) => i)
          .filter((i) => scores[i]! > Number.NEGATIVE_INFINITY)
          .sort((a, b) => (scores[a]! === scores[b]! ? a - b : scores[b]! - scores[a]!));
        expect(Array.from(order.subarray(0, n))).toEqual(expected);
      }),
      fuzzParameters(0.05, 30),
    );
  });
});

describe('float32 IoU', () => {
  it('follows the kernel: flipped corners, zero area, exact values', () => {
    const b = new Float32Array([0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0.5, 0.5, 0.5, 0.5, 0.9, 2, 2, 3, 3]);
    expect(literalIou(b, 0, 0, 1)).toBe(1); // the same box with its corners swapped
    expect(literalIou(b, 0, 0, 2)).toBe(0.5);
    expect(literalIou(b, 0, 0, 3)).toBe(0); // zero area overlaps nothing
    expect(literalIou(b, 0, 3, 3)).toBe(0);
    expect(literalIou(b, 0, 0, 4)).toBe(0); // disjoint
    // 1/3 in float32, as (1 * 1) / ((1 + 1) - 1) ... of [0,0,1,1] and [0,0.5,1,1.5]: inter 0.5, union 1.5
    const c = new Float32Array([0, 0, 1, 1, 0, 0.5, 1, 1.5]);
    expect(literalIou(c, 0, 0, 1)).toBe(Math.fround(0.5 / 1.5));
  });
});

describe('greedy NMS: grid = plain = the literal kernel loop', () => {
  it('on adversarial boxes, scores and thresholds (IoU exactly at the threshold included)', () => {
    fc.assert(
      fc.property(boxRecipe(80), fc.integer({ min: 0, max: 90 }), fc.boolean(), (r, maxOut, unlimited) => {
        const boxes = makeBoxes(r);
        const scores = makeScores(r);
        const threshold = thresholdOf(r, boxes);
        const limit = unlimited ? r.cols : maxOut;
        for (let row = 0; row < r.rows; row++) {
          const literal = literalNms(boxes, 4 * row * r.cols, scores, row * r.cols, r.cols, limit, threshold);
          expect(runRow(scores, boxes, row, r.cols, threshold, limit, false)).toEqual(literal);
          expect(runRow(scores, boxes, row, r.cols, threshold, limit, true)).toEqual(literal);
        }
      }),
      fuzzParameters(0.15, 60),
    );
  });

  it('thresholds outside [0, 1] still agree with the literal loop', () => {
    fc.assert(
      fc.property(boxRecipe(40), fc.constantFrom(-0.5, -1e-7, 1.000001, 1.5), (r, t) => {
        const boxes = makeBoxes(r);
        const scores = makeScores(r);
        const threshold = Math.fround(t);
        const literal = literalNms(boxes, 0, scores, 0, r.cols, r.cols, threshold);
        expect(runRow(scores, boxes, 0, r.cols, threshold, r.cols, false)).toEqual(literal);
      }),
      fuzzParameters(0.03, 20),
    );
  });

  it('IoU exactly at the threshold does not suppress; just above it does', () => {
    const boxes = new Float32Array([0, 0, 1, 1, 0, 0, 1, 0.7]);
    const scores = new Float32Array([2, 1]);
    const t = Math.fround(0.7);
    expect(literalIou(boxes, 0, 1, 0)).toBe(t);
    expect(runRow(scores, boxes, 0, 2, t, 2, false)).toEqual([0, 1]);
    expect(runRow(scores, boxes, 0, 2, Math.fround(0.69), 2, false)).toEqual([0]);
  });

  it('a large SSD-like row (8732 boxes, 0.99 and 0.5) matches the plain path', () => {
    const r = {
      rows: 1,
      cols: 8732,
      boxStyle: 'ssd' as const,
      scoreStyle: 'mixed' as const,
      threshold: 7,
      seed: 11,
    };
    const boxes = makeBoxes(r);
    const scores = makeScores(r);
    for (const t of [0.99, 0.5, 0.05]) {
      const threshold = Math.fround(t);
      expect(runRow(scores, boxes, 0, r.cols, threshold, 3000, false)).toEqual(
        runRow(scores, boxes, 0, r.cols, threshold, 3000, true),
      );
    }
  });
});
