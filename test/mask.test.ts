import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardNegativeMask, rankDescending, referenceMask, referenceRank } from '../src/index.ts';
import { fillMask, wordsOf } from '../src/kernel/fill-bytes.ts';
import { isNanBits, orderKey } from '../src/kernel/keys.ts';
import { rankRows } from '../src/kernel/rank-rows.ts';
import { createScratch } from '../src/kernel/scratch.ts';
import { sampleNeed, samplePivot, selectRows } from '../src/kernel/select-rows.ts';
import {
  gatherStaged,
  histogramStaged,
  markBucketStaged,
  markedAbove,
  markSelected,
  markStaged,
  rankStaged,
  sampleStaged,
  setWasmKernel,
  stageRow,
  WASM_MAX_COLS,
  wasmKernelAvailable,
  wasmKernelFor,
} from '../src/kernel/wasm-kernel.ts';
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

describe('the wasm gather (wasm-kernel.ts, wasm/kernel.wat)', () => {
  /** Bit patterns at the edges of the key order and of the NaN probe. */
  const EDGE_BITS = [
    0, // +0
    0x80000000 | 0, // -0
    0x7f800000, // +Inf
    0xff800000 | 0, // -Inf
    0x7fc00000, // NaN
    0x7f800001, // signalling NaN, smallest payload
    0xff800001 | 0, // negative NaN, smallest payload
    0xffffffff | 0, // negative NaN, largest payload
    1, // smallest denormal
    0x80000001 | 0, // its negative
    0x7f7fffff, // largest finite
    0xff7fffff | 0, // its negative
  ];
  const PIVOT_ALL = -(1 << 18);

  /** The gather's contract, element by element. */
  function expectedGather(bits: Int32Array, base: number, n: number, pivot: number) {
    const cand: number[] = [];
    const keys: number[] = [];
    for (let i = base; i < base + n; i++) {
      const b = bits[i]!;
      if (isNanBits(b)) return { count: -1, cand: [], keys: [] };
      if ((b ^ ((b >> 31) & 0x7fffffff)) >> 13 >= pivot) {
        cand.push(i);
        keys.push(orderKey(b));
      }
    }
    return { count: cand.length, cand, keys };
  }

  function actualGather(bits: Int32Array, base: number, n: number, pivot: number) {
    const g = wasmKernelFor(n);
    expect(g).not.toBeNull();
    stageRow(bits, base, n, g!);
    const count = gatherStaged(g!, base, n, pivot);
    const c = Math.max(count, 0);
    return { count, cand: Array.from(g!.cand.subarray(0, c)), keys: Array.from(g!.candKeys.subarray(0, c)) };
  }

  it('is available on this engine (Node 20 and 24 have WebAssembly SIMD)', () => {
    expect(wasmKernelAvailable()).toBe(true);
  });

  it('gathers exactly the elements at or above the pivot, in index order, with their keys (fast-check)', () => {
    const bitPattern = fc.oneof(
      fc.constantFrom(...EDGE_BITS),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 3 }).map((v) => new Int32Array(Float32Array.of(v).buffer)[0]!),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.array(bitPattern, { minLength: 1, maxLength: 70 }),
        fc.oneof(
          fc.constantFrom(PIVOT_ALL, -1, 0, 1, (1 << 18) - 1),
          fc.integer({ min: PIVOT_ALL, max: (1 << 18) - 1 }),
        ),
        fc.boolean(),
        (base, row, pivot, pivotFromRow) => {
          const bits = new Int32Array(base + row.length + 3).fill(0x7fc00000); // NaN around the row
          bits.set(row, base);
          const b = row[Math.abs(pivot) % row.length] ?? 0;
          const p = pivotFromRow ? (b ^ ((b >> 31) & 0x7fffffff)) >> 13 : pivot;
          expect(actualGather(bits, base, row.length, p)).toEqual(expectedGather(bits, base, row.length, p));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('grows its memory for longer rows and stays right for shorter ones afterwards', () => {
    const random = prng(21);
    for (const n of [5, 70000, 3, 300001, 4096]) {
      const loss = generate(1, n, () => -Math.log(random() + 1e-12));
      const bits = new Int32Array(loss.buffer);
      const pivot = 0x3f800000 >> 13; // losses >= 1.0
      expect(actualGather(bits, 0, n, pivot)).toEqual(expectedGather(bits, 0, n, pivot));
    }
    expect(wasmKernelFor(300001)!.capacity).toBeGreaterThanOrEqual(300001);
    // Longer rows take the JavaScript gather (the wasm memory never shrinks).
    expect(wasmKernelFor(WASM_MAX_COLS)).not.toBeNull();
    expect(wasmKernelFor(WASM_MAX_COLS + 1)).toBeNull();
  });
});

describe('the wasm select (wasm-kernel.ts, wasm/kernel.wat)', () => {
  it('marks the k candidates ranked first, for any int32 keys (fast-check)', () => {
    const key = fc.oneof(
      fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, -1, 0, 1, 0x7f800000, -0x7f800000),
      fc.integer({ min: -3, max: 3 }), // heavy ties
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), // keys on both sides of the sign bit
      fc.integer({ min: 0, max: 2 ** 20 }).map((v) => v << 11), // equal in the low bits: deep levels
    );
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 300 }), fc.nat(), (keys, kSeed) => {
        const c = keys.length;
        const k = kSeed % (c + 2);
        const w = wasmKernelFor(2 * c + 2)!;
        for (let j = 0; j < c; j++) {
          w.cand[j] = 2 * j + 1; // flat indices, increasing, with gaps
          w.candKeys[j] = keys[j]!;
        }
        const out = new Uint8Array(2 * c + 2);
        markSelected(w, c, k, out);
        // Oracle: stable descending order of (key, index), first k.
        const order = keys.map((_, j) => j).sort((a, b) => keys[b]! - keys[a]! || a - b);
        const expected = new Uint8Array(2 * c + 2);
        for (const j of order.slice(0, k)) expected[2 * j + 1] = 1;
        expect(firstDifference(out, expected)).toBe(-1);
      }),
      { numRuns: 600 },
    );
  });
});

describe('the wasm rank (wasm-kernel.ts, wasm/kernel.wat)', () => {
  it('ranks any float bits exactly as the stable double sort, NaN included (fast-check)', () => {
    const bitPattern = fc.oneof(
      fc.constantFrom(
        0,
        0x80000000 | 0,
        0x7f800000,
        0xff800000 | 0,
        0x7fc00000,
        0xffc00001 | 0,
        1,
        0x80000001 | 0,
      ),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: -3, max: 3 }).map((v) => new Int32Array(Float32Array.of(v).buffer)[0]!), // ties
      fc.integer({ min: 0, max: 2 ** 12 }).map((v) => v << 20), // equal in the low digits: skipped passes
    );
    fc.assert(
      fc.property(fc.array(bitPattern, { minLength: 1, maxLength: 400 }), fc.nat(9), (row, base) => {
        const loss = new Float32Array(Int32Array.from(row).buffer);
        const bits = new Int32Array(loss.buffer);
        const hasNan = loss.some((v) => Number.isNaN(v));
        const w = wasmKernelFor(row.length)!;
        stageRow(bits, 0, row.length, w);
        const rank = new Int32Array(base + row.length).fill(-7);
        const nanAt = rankStaged(w, row.length, rank, base, false);
        if (hasNan) {
          expect(nanAt).toBe(loss.findIndex((v) => Number.isNaN(v)));
        } else {
          expect(nanAt).toBe(-1);
          expect(firstDifference(rank.subarray(base), referenceRank(loss, row.length))).toBe(-1);
        }
        stageRow(bits, 0, row.length, w);
        expect(rankStaged(w, row.length, rank, base, true)).toBe(-1);
        expect(
          firstDifference(rank.subarray(base), referenceRank(loss, row.length, { nan: 'largest' })),
        ).toBe(-1);
        expect(rank.subarray(0, base).every((v) => v === -7)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the wasm sample (wasm-kernel.ts, wasm/kernel.wat sample)', () => {
  it('places the same pivot as the JavaScript sample, or the same whole-row answer (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2048, max: 9000 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom('exp', 'ties', 'special', 'signed', 'zeros'),
        fc.integer({ min: 1, max: 9000 }),
        (n, seed, dist, kSeed) => {
          const random = prng(seed);
          const loss = generate(1, n, () => {
            if (dist === 'exp') return -Math.log(random() + 1e-12);
            if (dist === 'ties') return Math.floor(random() * 5);
            if (dist === 'signed') return random() < 0.05 ? -0 : (random() - 0.7) * 10;
            if (dist === 'zeros') return random() < 0.5 ? -0 : 0;
            const finite = SPECIAL_VALUES.filter((v) => !Number.isNaN(v));
            return finite[Math.floor(random() * finite.length)]!;
          });
          const bits = new Int32Array(loss.buffer);
          const k = 1 + (kSeed % (n - 1));
          const scratch = createScratch(n);
          const expected = samplePivot(bits, 0, n, k, scratch.hist, scratch.work);
          const w = wasmKernelFor(n)!;
          stageRow(bits, 0, n, w);
          const need = sampleNeed(n, k);
          const actual = need > 64 ? 1 << 20 : sampleStaged(w, n, need);
          expect(actual).toBe(expected);
          expect(w.hist.every((h) => h === 0)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('the wasm whole-row passes (wasm-kernel.ts, wasm/kernel.wat histRow, markRow)', () => {
  const bitPattern = fc.oneof(
    fc.constantFrom(
      0,
      0x80000000 | 0,
      0x7f800000,
      0xff800000 | 0,
      1,
      0x80000001 | 0,
      0x7f7fffff,
      0xff7fffff | 0,
    ),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    fc.integer({ min: -3, max: 3 }).map((v) => new Int32Array(Float32Array.of(v).buffer)[0]!), // ties
  );
  const bucketOf = (b: number) => orderKey(b) >> 21;

  it('histogram, mark and bucket select match an element-by-element oracle; NaN is reported (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(bitPattern, { minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        (row, pick, kSeed, withNan) => {
          const n = row.length;
          const bits = Int32Array.from(row);
          if (withNan) bits[pick % n] = pick % 2 === 0 ? 0x7fc00000 : 0xffc00001 | 0;
          const w = wasmKernelFor(n)!;
          w.hist.fill(0); // a failed run leaves it dirty; shrinking should show the first failure
          stageRow(bits, 0, n, w);
          const top = histogramStaged(w, n);
          const nan = bits.some(isNanBits); // also from the random patterns
          const dHi = nan ? -1020 : bucketOf(bits[pick % n]!);
          const m = markStaged(w, n, dHi);
          if (nan) {
            expect(top).toBe(-1);
            expect(m).toBe(-1);
            w.hist.fill(0);
            return;
          }
          // The histogram: per bucket (interleaved four ways by column), and the top bucket.
          const counts = new Map<number, number>();
          for (let i = 0; i < n; i++) {
            const at = ((bucketOf(bits[i]!) + 1024) << 2) | (i & 3);
            counts.set(at, (counts.get(at) ?? 0) + 1);
          }
          expect(top).toBe(Math.max(...row.map(bucketOf)) + 1024);
          for (const [at, count] of counts) expect(w.hist[at]).toBe(count);
          for (const at of counts.keys()) w.hist[at] = 0;
          expect(w.hist.every((h) => h === 0)).toBe(true);
          // The mark: bytes above the bucket, the bucket's keys and columns in order, the count above.
          const inBucket = [...bits.keys()].filter((i) => bucketOf(bits[i]!) === dHi);
          const above = [...bits.keys()].filter((i) => bucketOf(bits[i]!) > dHi);
          expect(m).toBe(inBucket.length);
          expect(markedAbove[0]).toBe(above.length);
          expect(Array.from(w.workIdx.subarray(0, m))).toEqual(inBucket);
          expect(Array.from(w.workKeys.subarray(0, m))).toEqual(inBucket.map((i) => orderKey(bits[i]!)));
          const mask = new Uint8Array(n);
          for (const i of above) mask[i] = 1;
          expect(firstDifference(w.mask.subarray(0, n), mask)).toBe(-1);
          // The bucket's select: the need ranked first among its entries, by key then column.
          const need = 1 + (kSeed % m);
          markBucketStaged(w, m, need);
          const order = [...inBucket].sort((a, b) => orderKey(bits[b]!) - orderKey(bits[a]!) || a - b);
          for (const i of order.slice(0, need)) mask[i] = 1;
          expect(firstDifference(w.mask.subarray(0, n), mask)).toBe(-1);
        },
      ),
      { numRuns: 500 },
    );
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
