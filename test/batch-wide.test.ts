import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allocLoss,
  HardNegativeMiner,
  hardNegativeMask,
  hardNegativeMaskBatchWide,
  referenceMask,
} from '../src/index.ts';
import { stepLevel } from '../src/kernel/batch-wide.ts';
import { planRanges } from '../src/pool/plan.ts';
import { batch, firstDifference, generate, prng } from './support/adversarial.ts';
import { syncError } from './support/sync-error.ts';

/** The literal algorithm on the flattened batch: one row of `rows * cols`, ties by flat index. */
function flatReference(loss: Float32Array, k: number, nan: 'error' | 'largest' = 'error'): Uint8Array {
  return referenceMask(loss, Math.max(loss.length, 1), k, { nan });
}

/** Every call through the pool, two threads (so batches of >= 2^17 elements split into several ranges). */
const pooled = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
afterAll(() => pooled.close());

describe('hardNegativeMaskBatchWide (sync) against the literal algorithm on the flattened batch', () => {
  it('equals referenceMask(loss, loss.length, k) on adversarial batches', () => {
    fc.assert(
      fc.property(batch({ maxRows: 6, maxCols: 30, nan: true }), fc.nat(), (b, seed) => {
        const n = b.loss.length;
        const k = [0, 1, n - 1, n, n + 3, seed % (n + 1)][seed % 6]!;
        const actual = hardNegativeMaskBatchWide(b.loss, b.cols, k, { nan: 'largest' });
        expect(firstDifference(actual, flatReference(b.loss, k, 'largest'))).toBe(-1);
      }),
      { numRuns: 1500 },
    );
  });

  it('agrees without NaN under the default policy, and on single rows with hardNegativeMask', () => {
    fc.assert(
      fc.property(batch({ maxRows: 5, maxCols: 40 }), fc.nat(), (b, seed) => {
        const k = seed % (b.loss.length + 2);
        expect(firstDifference(hardNegativeMaskBatchWide(b.loss, b.cols, k), flatReference(b.loss, k))).toBe(
          -1,
        );
        const row = b.loss.subarray(0, b.cols);
        expect(
          firstDifference(hardNegativeMaskBatchWide(row, b.cols, k), hardNegativeMask(row, b.cols, k)),
        ).toBe(-1);
      }),
      { numRuns: 800 },
    );
  });

  it('resolves thresholds at every precision (a whole top bucket, 22 bits, all 32 bits)', () => {
    const n = 50_000;
    const random = prng(3);
    // Level 0 suffices: exactly k keys in the top bucket.
    const topBucket = generate(10, n / 10, (i) => (i % 500 === 7 ? 1000 : 1));
    expect(
      firstDifference(hardNegativeMaskBatchWide(topBucket, n / 10, 100), flatReference(topBucket, 100)),
    ).toBe(-1);
    // Consecutive floats share their top 11 (and 22) bits: the select refines to the full key.
    const dense = generate(10, n / 10, () => 1 + Math.floor(random() * 3000) * 2 ** -23);
    for (const k of [1, 17, 1024, 25_000, n - 1]) {
      expect(firstDifference(hardNegativeMaskBatchWide(dense, n / 10, k), flatReference(dense, k))).toBe(-1);
    }
  });

  it('checks its arguments like the per-row API', () => {
    const loss = new Float32Array(6);
    expect(() => hardNegativeMaskBatchWide(loss, 4, 1)).toThrow(
      syncError(() => hardNegativeMask(loss, 4, 1)),
    );
    expect(() => hardNegativeMaskBatchWide(new Float64Array(4) as never, 2, 1)).toThrow(TypeError);
    expect(() => hardNegativeMaskBatchWide(loss, 3, -1)).toThrow(
      new RangeError('`k` must be a finite integer >= 0, got -1'),
    );
    expect(() => hardNegativeMaskBatchWide(loss, 3, 1.5)).toThrow(
      '`k` must be a finite integer >= 0, got 1.5',
    );
    expect(() => hardNegativeMaskBatchWide(loss, 3, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => hardNegativeMaskBatchWide(loss, 3, '2' as unknown as number)).toThrow(
      new TypeError('`k` must be a number, got string'),
    );
    expect(() => hardNegativeMaskBatchWide(loss, 3, 1, { nan: 'x' as 'error' })).toThrow(TypeError);
    expect(() => hardNegativeMaskBatchWide(loss, 3, 1, { out: new Uint8Array(5) })).toThrow(RangeError);
    const out = new Uint8Array(6);
    expect(hardNegativeMaskBatchWide(new Float32Array([1, 5, 2, 5, 0, 3]), 3, 3, { out })).toBe(out);
    expect([...out]).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('names the first NaN of the batch by row and column, for any k', () => {
    const loss = generate(4, 5, (i) => i);
    loss[13] = Number.NaN;
    loss[17] = Number.NaN;
    const expected = syncError(() => hardNegativeMask(loss, 5, 1));
    expect(expected.message).toMatch(/row 2, column 3;/);
    for (const k of [0, 1, 7, 20, 25]) expect(() => hardNegativeMaskBatchWide(loss, 5, k)).toThrow(expected);
  });
});

describe('HardNegativeMiner.maskBatchWide (two phases over the pool)', () => {
  it('equals the literal algorithm on small adversarial batches', async () => {
    await fc.assert(
      fc.asyncProperty(batch({ maxRows: 5, maxCols: 30, nan: true }), fc.nat(), async (b, seed) => {
        const n = b.loss.length;
        const k = [0, 1, n, seed % (n + 1)][seed % 4]!;
        const mask = await pooled.maskBatchWide(b.loss, b.cols, k, { nan: 'largest' });
        expect(mask.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(firstDifference(mask, flatReference(b.loss, k, 'largest'))).toBe(-1);
      }),
      { numRuns: 60 },
    );
  });

  it('shares ties out in flat-index order across several row ranges', async () => {
    const rows = 8;
    const cols = 40_000;
    // Four threads, so a batch this small still gets four row ranges (one per thread).
    await using miner = new HardNegativeMiner({ threads: 4 });
    expect(planRanges(rows, cols, 4).length - 1).toBe(4);
    const random = prng(8);
    const ties = allocLoss(rows, cols);
    ties.set(generate(rows, cols, () => Math.floor(random() * 3)));
    for (const k of [150_000, 106_000, 1, 319_999]) {
      const expected = flatReference(ties, k);
      expect(firstDifference(await miner.maskBatchWide(ties, cols, k), expected)).toBe(-1);
      expect(firstDifference(hardNegativeMaskBatchWide(ties, cols, k), expected)).toBe(-1);
    }
    // Signed zeros and denormals as the tied threshold, copied (non-shared) input.
    const zeros = generate(rows, cols, () => [0, -0, 1e-45, -1e-45, 2][Math.floor(random() * 5)]!);
    const k = 130_000;
    expect(firstDifference(await miner.maskBatchWide(zeros, cols, k), flatReference(zeros, k))).toBe(-1);
  });

  it('matches the sync path on SSD-like batches at every refinement depth, with NaN as largest', async () => {
    const rows = 33;
    const cols = 8732;
    const random = prng(21);
    const exp = generate(rows, cols, () => -Math.log(1 - random()));
    const dense = generate(rows, cols, () => 1 + Math.floor(random() * 5000) * 2 ** -23);
    const withNan = Float32Array.from(exp);
    for (let i = 0; i < 40; i++) withNan[Math.floor(random() * withNan.length)] = Number.NaN;
    for (const loss of [exp, dense]) {
      for (const k of [0, 1, 600, 33 * 300, 150_000, rows * cols]) {
        const expected = hardNegativeMaskBatchWide(loss, cols, k);
        expect(firstDifference(await pooled.maskBatchWide(loss, cols, k), expected)).toBe(-1);
      }
    }
    for (const k of [10, 40, 5000]) {
      const expected = hardNegativeMaskBatchWide(withNan, cols, k, { nan: 'largest' });
      expect(
        firstDifference(await pooled.maskBatchWide(withNan, cols, k, { nan: 'largest' }), expected),
      ).toBe(-1);
    }
  });

  it('rejects with the sync errors: arguments, and the batch’s first NaN (row and column)', async () => {
    const rows = 33;
    const cols = 8732;
    const loss = generate(rows, cols, (i) => i % 97);
    loss[30 * cols + 4] = Number.NaN;
    loss[17 * cols + 8000] = Number.NaN;
    const expected = syncError(() => hardNegativeMaskBatchWide(loss, cols, 5));
    expect(expected.message).toMatch(/row 17, column 8000;/);
    for (const k of [5, 0, rows * cols])
      await expect(pooled.maskBatchWide(loss, cols, k)).rejects.toThrow(expected);
    await expect(pooled.maskBatchWide(loss, cols, -3)).rejects.toThrow(
      new RangeError('`k` must be a finite integer >= 0, got -3'),
    );
    await expect(pooled.maskBatchWide(loss, 5, 1)).rejects.toThrow(
      syncError(() => hardNegativeMaskBatchWide(loss, 5, 1)),
    );
  });

  it('runs small batches inline with the same result', async () => {
    await using miner = new HardNegativeMiner({ threads: 1 });
    const loss = new Float32Array([3, 1, 3, -0, 0, 2]);
    const mask = await miner.maskBatchWide(loss, 3, 3);
    expect(mask.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...mask]).toEqual([1, 0, 1, 0, 0, 1]);
  });
});

describe('stepLevel', () => {
  it('finds the bucket of the need-th largest key and the count to take from it', () => {
    const hist = new Int32Array(2048);
    hist[2047] = 3;
    hist[1500] = 4;
    hist[3] = 10;
    expect(stepLevel(hist, 0, 0, 0, 2)).toEqual({ prefix: 1023, need: 2, count: 3 });
    expect(stepLevel(hist, 0, 0, 0, 7)).toEqual({ prefix: 1500 - 1024, need: 4, count: 4 });
    expect(stepLevel(hist, 0, 0, 0, 8)).toEqual({ prefix: 3 - 1024, need: 1, count: 10 });
    expect(stepLevel(hist, 0, 1, -5, 8)).toEqual({ prefix: (-5 << 11) | 3, need: 1, count: 10 });
  });
});
