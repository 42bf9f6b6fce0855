import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardNegativeMask, rankDescending, referenceMask, referenceRank } from '../src/index.ts';
import { fillMask, wordsOf } from '../src/kernel/fill-bytes.ts';
import { rankRows } from '../src/kernel/rank-rows.ts';
import { createScratch } from '../src/kernel/scratch.ts';
import { selectRows } from '../src/kernel/select-rows.ts';
import { setWasmKernel } from '../src/kernel/wasm-kernel.ts';
import { batch, firstDifference, generate, prng, SPECIAL_VALUES } from './support/adversarial.ts';

/** Kernel and rank against the literal seed algorithm on one batch; reports the first differing element. */
function expectExact(
  loss: Float32Array,
  cols: number,
  counts: number | number[],
  nan: 'error' | 'largest' = 'error',
) {
  const expected = referenceMask(loss, cols, counts, { nan });
  const actual = hardNegativeMask(loss, cols, counts, { nan });
  expect(firstDifference(actual, expected)).toBe(-1);
  return expected;
}

describe('the seed worked example', () => {
  const loss = new Float32Array([9, 1, 8, 2, 3]);

  it('keeps the top 3 losses: [9, 1, 8, 2, 3], k = 3 -> [1, 0, 1, 0, 1]', () => {
    expect([...hardNegativeMask(loss, 5, 3)]).toEqual([1, 0, 1, 0, 1]);
    expect([...referenceMask(loss, 5, 3)]).toEqual([1, 0, 1, 0, 1]);
  });

  it('idx_rank is [0, 4, 1, 3, 2], the inverse of loss_idx [0, 2, 4, 3, 1]', () => {
    expect([...rankDescending(loss, 5)]).toEqual([0, 4, 1, 3, 2]);
    expect([...referenceRank(loss, 5)]).toEqual([0, 4, 1, 3, 2]);
  });
});

/**
 * The kernel tests run twice: with the WebAssembly gather and select (the default wherever the
 * engine has wasm SIMD) and with the JavaScript kernel they fall back to; both must give the
 * reference's bytes.
 */
describe.each(['wasm', 'js'] as const)('with the %s kernel', (kernel) => {
  let was = true;
  beforeAll(() => {
    was = setWasmKernel(kernel === 'wasm');
  });
  afterAll(() => {
    setWasmKernel(was);
  });

  describe('semantics', () => {
    it('breaks ties by index: equal losses, lower index first', () => {
      expect([...hardNegativeMask(new Float32Array([1, 2, 2, 2, 1]), 5, 2)]).toEqual([0, 1, 1, 0, 0]);
      expect([...rankDescending(new Float32Array([1, 2, 2, 2, 1]), 5)]).toEqual([3, 0, 1, 2, 4]);
    });

    it('treats -0 and +0 as equal (a tie broken by index)', () => {
      expect([...hardNegativeMask(new Float32Array([-0, 0, -0, 0]), 4, 2)]).toEqual([1, 1, 0, 0]);
      expect([...hardNegativeMask(new Float32Array([0, -0, -1, 0]), 4, 1)]).toEqual([1, 0, 0, 0]);
      expect([...rankDescending(new Float32Array([-0, 0, -0, 0]), 4)]).toEqual([0, 1, 2, 3]);
    });

    it('orders infinities and denormals as ordinary values', () => {
      const loss = new Float32Array([1e-45, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, -1e-45, 0]);
      expect([...rankDescending(loss, 5)]).toEqual([1, 4, 0, 3, 2]);
      expect([...hardNegativeMask(loss, 5, 2)]).toEqual([1, 0, 1, 0, 0]);
    });

    it("with nan: 'largest', ranks NaN above +Inf and ties NaNs by index, as PyTorch", () => {
      const loss = new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY, Number.NaN]);
      expect([...rankDescending(loss, 4, { nan: 'largest' })]).toEqual([3, 0, 2, 1]);
      expect([...hardNegativeMask(loss, 4, 1, { nan: 'largest' })]).toEqual([0, 1, 0, 0]);
      expect([...hardNegativeMask(loss, 4, 3, { nan: 'largest' })]).toEqual([0, 1, 1, 1]);
    });

    it('treats negative NaN bit patterns as NaN too', () => {
      const loss = new Float32Array([1, 2, 3]);
      new Uint32Array(loss.buffer)[0] = 0xffc00001;
      expect(() => hardNegativeMask(loss, 3, 1)).toThrow(/row 0, column 0/);
      expect([...hardNegativeMask(loss, 3, 1, { nan: 'largest' })]).toEqual([1, 0, 0]);
    });

    it('selects nothing for k = 0 and everything for k >= N', () => {
      const loss = new Float32Array([3, 1, 2]);
      expect([...hardNegativeMask(loss, 3, 0)]).toEqual([0, 0, 0]);
      expect([...hardNegativeMask(loss, 3, 3)]).toEqual([1, 1, 1]);
      expect([...hardNegativeMask(loss, 3, 1e12)]).toEqual([1, 1, 1]);
    });

    it('applies one count to every row, or one count per row', () => {
      const loss = new Float32Array([1, 2, 3, 3, 2, 1]);
      expect([...hardNegativeMask(loss, 3, 1)]).toEqual([0, 0, 1, 1, 0, 0]);
      expect([...hardNegativeMask(loss, 3, [2, 0])]).toEqual([0, 1, 1, 0, 0, 0]);
      expect([...hardNegativeMask(loss, 3, new Int32Array([0, 3]))]).toEqual([0, 0, 0, 1, 1, 1]);
    });

    it('writes into options.out and returns it', () => {
      const out = new Uint8Array(6).fill(7);
      const result = hardNegativeMask(new Float32Array([1, 2, 3, 3, 2, 1]), 3, 1, { out });
      expect(result).toBe(out);
      expect([...out]).toEqual([0, 0, 1, 1, 0, 0]);
    });

    it('accepts subarray views at any offset', () => {
      const whole = new Float32Array([5, 9, 1, 8, 2, 3, 7]);
      const view = whole.subarray(1, 6);
      expect([...hardNegativeMask(view, 5, 3)]).toEqual([1, 0, 1, 0, 1]);
      expect([...rankDescending(view, 5)]).toEqual([0, 4, 1, 3, 2]);
    });

    it('handles an empty batch', () => {
      expect(hardNegativeMask(new Float32Array(0), 4, 1).length).toBe(0);
      expect(rankDescending(new Float32Array(0), 4).length).toBe(0);
    });
  });

  describe('against the literal double sort (fast-check)', () => {
    it('matches on adversarial batches (ties, -0/+0, ±Inf, denormals)', () => {
      fc.assert(
        fc.property(batch(), ({ loss, cols, counts }) => {
          expectExact(loss, cols, counts);
          expect(firstDifference(rankDescending(loss, cols), referenceRank(loss, cols))).toBe(-1);
        }),
        { numRuns: 400 },
      );
    });

    it("matches with NaN under nan: 'largest'", () => {
      fc.assert(
        fc.property(batch({ nan: true }), ({ loss, cols, counts }) => {
          expectExact(loss, cols, counts, 'largest');
          const rank = rankDescending(loss, cols, { nan: 'largest' });
          expect(firstDifference(rank, referenceRank(loss, cols, { nan: 'largest' }))).toBe(-1);
        }),
        { numRuns: 300 },
      );
    });

    it('writes the same bytes into a shared or plain options.out at any byte offset, nothing around them', () => {
      // The wasm kernel builds each mask row in its own memory and copies it out: 8-byte words into
      // shared memory (the row placed at the same offset modulo 8), one TypedArray#set otherwise.
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 2100 }),
          fc.integer({ min: 0, max: 15 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 2 ** 31 }),
          (rows, cols, offset, shared, seed) => {
            const random = prng(seed);
            const loss = generate(rows, cols, () => -Math.log(random() + 1e-12));
            const counts = Array.from({ length: rows }, () => Math.floor(random() * (cols + 2)));
            const length = rows * cols;
            const buffer = shared
              ? new SharedArrayBuffer(offset + length + 9)
              : new ArrayBuffer(offset + length + 9);
            new Uint8Array(buffer).fill(7);
            const out = new Uint8Array(buffer, offset, length);
            hardNegativeMask(loss, cols, counts, { out });
            expect(firstDifference(out, referenceMask(loss, cols, counts))).toBe(-1);
            const all = new Uint8Array(buffer);
            expect(all.subarray(0, offset).every((v) => v === 7)).toBe(true);
            expect(all.subarray(offset + length).every((v) => v === 7)).toBe(true);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('matches on long rows that take the sampled-pivot path', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 2048, max: 6000 }),
          fc.integer({ min: 0, max: 2 ** 31 }),
          fc.constantFrom('exp', 'ties', 'special', 'sorted', 'reversed', 'signed'),
          fc.integer({ min: 0, max: 6100 }),
          (cols, seed, dist, k) => {
            const random = prng(seed);
            const loss = generate(1, cols, (i) => {
              if (dist === 'exp') return -Math.log(random() + 1e-12);
              if (dist === 'ties') return Math.floor(random() * 5);
              if (dist === 'sorted') return i;
              if (dist === 'reversed') return -i;
              if (dist === 'signed') return random() < 0.05 ? -0 : (random() - 0.7) * 10;
              return SPECIAL_VALUES[Math.floor(random() * SPECIAL_VALUES.length)]!;
            });
            expectExact(loss, cols, k);
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  describe('edge sizes and counts', () => {
    const random = prng(12345);
    for (const cols of [1, 5, 8732, 24564]) {
      const ks = [...new Set([0, 1, Math.max(cols - 1, 0), cols, cols + 5, Math.floor(cols / 2)])];
      it(`N = ${cols}, k in ${ks.join(', ')}, exponential and tied losses`, () => {
        const rows = cols > 100 ? 2 : 6;
        const exp = generate(rows, cols, () => -Math.log(random() + 1e-12));
        const ties = generate(rows, cols, () => Math.floor(random() * 3));
        for (const k of ks) {
          expectExact(exp, cols, k);
          expectExact(ties, cols, k);
        }
        expect(firstDifference(rankDescending(exp, cols), referenceRank(exp, cols))).toBe(-1);
        expect(firstDifference(rankDescending(ties, cols), referenceRank(ties, cols))).toBe(-1);
      });
    }

    it('stays exact when the sample misleads (sampled positions hold the largest losses)', () => {
      // The pivot sample reads 32 runs of 8 neighbours spaced cols / 32 apart: make exactly those
      // the largest values, so the pivot is far too high and the kernel must fall back.
      const cols = 4096;
      const step = cols / 32;
      const loss = generate(1, cols, (i) => (i % step < 8 ? 10 : 1 + (i % 7) * 0.1));
      for (const k of [200, 256, 257, 1000, 3000]) expectExact(loss, cols, k);
    });

    it('is exact on either side of the 16-bit column limit of the fused wasm row (65520)', () => {
      // Rows up to MINE_MAX_COLS run whole in wasm with 16-bit columns; longer ones take the
      // general gather and select (32-bit columns). The largest losses sit in the last columns.
      const random = prng(31);
      for (const cols of [65520, 65521, 70000]) {
        const loss = generate(1, cols, (i) => (i >= cols - 3 ? 50 + i - cols : -Math.log(random() + 1e-12)));
        for (const k of [1, 3, 300, 5000]) expectExact(loss, cols, k);
      }
    });

    it('stays exact when every element is a candidate (all equal, -0 and +0 mixed)', () => {
      const cols = 5000;
      const loss = generate(1, cols, (i) => (i % 3 === 0 ? -0 : 0));
      for (const k of [1, 77, 2500, 4999]) expectExact(loss, cols, k);
    });

    it('handles NaN in long rows on every path (sampled pivot, whole-row histogram)', () => {
      const cols = 4096;
      const random = prng(11);
      const loss = generate(3, cols, () => -Math.log(random() + 1e-12));
      loss[5] = Number.NaN;
      loss[cols + 4000] = Number.NaN;
      loss[2 * cols + 17] = Number.NaN;
      for (const k of [1, 50, 300, 2048, 4000]) {
        expectExact(loss, cols, k, 'largest');
        expect(() => hardNegativeMask(loss, cols, k)).toThrow(/row 0, column 5;/);
      }
      const lastRowOnly = loss.subarray(2 * cols);
      expect(() => hardNegativeMask(Float32Array.from(lastRowOnly), cols, 2048)).toThrow(/row 0, column 17;/);
    });

    it('keeps -0 and +0 together when the pivot lands on the zero bucket', () => {
      const cols = 4096;
      const loss = generate(1, cols, (i) => (i % 10 === 0 ? 1 : i % 3 === 0 ? -0 : 0));
      for (const k of [300, 410, 500, 1000, 4000]) expectExact(loss, cols, k);
    });

    it('reuses its scratch across calls with different column counts', () => {
      const random = prng(7);
      for (const cols of [3000, 17, 3000, 1, 2500]) {
        const loss = generate(3, cols, () => Math.floor(random() * 100) / 7);
        expectExact(loss, cols, [0, Math.floor(cols / 3), cols]);
      }
    });

    it('mines an SSD300-like batch exactly (0.4% positives zeroed, k = min(3P, N - 1))', () => {
      const cols = 8732;
      const rows = 3;
      const random = prng(99);
      const loss = new Float32Array(rows * cols);
      const counts: number[] = [];
      for (let r = 0; r < rows; r++) {
        let positives = 0;
        for (let i = 0; i < cols; i++) {
          const positive = random() < 0.004;
          positives += positive ? 1 : 0;
          loss[r * cols + i] = positive ? 0 : -Math.log(random() + 1e-12);
        }
        counts.push(Math.min(3 * positives, cols - 1));
      }
      expectExact(loss, cols, counts);
    });

    it('shares one scratch between the rank and select kernels (each leaves it zeroed, also after a NaN)', () => {
      const cols = 3000;
      const random = prng(3);
      const loss = generate(2, cols, () => -Math.log(random() + 1e-12));
      const bits = new Int32Array(loss.buffer);
      const withNan = Float32Array.from(loss);
      withNan[cols + 5] = Number.NaN;
      const scratch = createScratch(cols);
      const counts = Int32Array.of(100, 2000);
      const expected = referenceMask(loss, cols, counts);
      const rank = new Int32Array(loss.length);
      const out = new Uint8Array(loss.length);
      expect(rankRows(new Int32Array(withNan.buffer), cols, 0, 2, rank, scratch, false)).toBe(cols + 5);
      expect(selectRows(bits, cols, 0, 2, counts, out, scratch, false)).toBe(-1);
      expect(firstDifference(out, expected)).toBe(-1);
      expect(rankRows(bits, cols, 0, 2, rank, scratch, false)).toBe(-1);
      expect(selectRows(bits, cols, 0, 2, counts, out, scratch, false)).toBe(-1);
      expect(firstDifference(out, expected)).toBe(-1);
      expect(scratch.hist.every((h) => h === 0)).toBe(true);
    });
  });
});

describe('mask fills over shared memory (fill-bytes.ts)', () => {
  it('fill through 8-byte words only where the buffer is shared', () => {
    expect(wordsOf(new Uint8Array(16))).toBeNull();
    expect(wordsOf(new Uint8Array(new SharedArrayBuffer(20)))?.length).toBe(2);
  });

  it('writes exactly out.fill(value, start, end) at every alignment and length', () => {
    const size = 300;
    for (const offset of [0, 1, 3, 7, 8, 13]) {
      const shared = new Uint8Array(new SharedArrayBuffer(size + 16), offset, size);
      const words = wordsOf(shared);
      const plain = new Uint8Array(size);
      for (const [start, end] of [
        [0, size],
        [1, 299],
        [5, 69],
        [7, 8],
        [64, 64],
        [3, 203],
        [100, 300],
      ] as const) {
        for (const value of [1, 0]) {
          shared.fill(7);
          plain.fill(7);
          fillMask(shared, words, value, start, end);
          plain.fill(value, start, end);
          expect(firstDifference(shared, plain)).toBe(-1);
        }
      }
      // Bytes outside the view (the buffer's head and tail) are never written.
      const whole = new Uint8Array(shared.buffer);
      whole.fill(9);
      fillMask(shared, words, 1, 0, size);
      expect(whole.subarray(0, offset).every((v) => v === 9)).toBe(true);
      expect(whole.subarray(offset + size).every((v) => v === 9)).toBe(true);
    }
  });
});
