/**
 * The kernel's WebAssembly: the text sources against the committed bytes, the module in use, and a
 * direct fast-check contract test of each wasm function against an element-by-element oracle (the
 * kernels that call them are tested against the reference in mask.test.ts, with and without wasm).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble, GENERATED, generatedSource, watFiles } from '../scripts/assemble-wasm.ts';
import { hardNegativeMask, referenceMask, referenceRank } from '../src/index.ts';
import { createFloorPass, floorRunner } from '../src/kernel/floor.ts';
import { isNanBits, orderKey } from '../src/kernel/keys.ts';
import { sampleBucket, sampleNeed, samplePivot } from '../src/kernel/sample.ts';
import { createScratch } from '../src/kernel/scratch.ts';
import * as modules from '../src/kernel/wasm/modules.ts';
import {
  copyMaskOut,
  decodeBase64,
  gatherStaged,
  histogramStaged,
  MINE_MAX_COLS,
  markBucketStaged,
  markedAbove,
  markSelected,
  markStaged,
  maskRowAt,
  mineStaged,
  rankStaged,
  sampleStaged,
  setWasmKernel,
  stageRow,
  TABLE16_AT,
  WASM_MAX_COLS,
  wasmKernelAvailable,
  wasmKernelFor,
  wasmKernelStatus,
} from '../src/kernel/wasm-kernel.ts';
import { firstDifference, generate, prng, SPECIAL_VALUES } from './support/adversarial.ts';

const committed = modules as Record<string, string>;

/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM types). */
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      validate(bytes: Uint8Array): boolean;
      Module: {
        new (bytes: Uint8Array): object;
        customSections(module: object, name: string): ArrayBuffer[];
        exports(module: object): { name: string }[];
      };
    };
  }
).WebAssembly;

describe('the WebAssembly sources (src/kernel/wasm/*.wat)', () => {
  it('modules.ts holds exactly what the .wat files assemble to (run `npm run wasm` after an edit)', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(await generatedSource());
  });

  for (const { file, constant } of watFiles()) {
    it(`${file} validates, compiles and keeps its function names (name section)`, async () => {
      const bytes = decodeBase64(committed[constant]!);
      expect(bytes).toEqual(await assemble(file));
      expect(WebAssembly.validate(bytes)).toBe(true);
      const module = new WebAssembly.Module(bytes); // throws with the engine's reason if not
      const names = WebAssembly.Module.customSections(module, 'name');
      expect(names).toHaveLength(1);
      const text = new TextDecoder().decode(names[0]!);
      for (const { name } of WebAssembly.Module.exports(module)) expect(text).toContain(name);
    });
  }

  it("decodeBase64 (plain JavaScript, no atob) equals Buffer's decoding for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(decodeBase64(text)).toEqual(new Uint8Array(bytes));
      }),
    );
    expect(() => decodeBase64('AB*C')).toThrow(RangeError);
  });

  it('the wasm kernel is the one in use on this engine (Node 20 and 24 have WebAssembly SIMD)', () => {
    expect(wasmKernelStatus()).toEqual({ kernel: 'wasm' });
    expect(wasmKernelAvailable()).toBe(true);
    const was = setWasmKernel(false);
    expect(wasmKernelStatus()).toEqual({ kernel: 'js', reason: 'turned off' });
    setWasmKernel(was);
    expect(wasmKernelStatus()).toEqual({ kernel: 'wasm' });
  });
});

describe('the floor pass (floor.ts, wasm/floor.wat)', () => {
  /** The pass's contract: a byte per element, `loss > 1`; NaN compares false. */
  const expected = (loss: Float32Array, length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < loss.length; i++) out[i] = loss[i]! > 1 ? 1 : 0;
    return out;
  };

  it('writes one byte per element, for any length (padding reads as 0)', () => {
    const random = prng(5);
    for (const n of [0, 1, 15, 16, 17, 1000, 70001]) {
      const loss = Float32Array.from({ length: n }, (_, i) =>
        i % 97 === 0 ? Number.NaN : i % 89 === 0 ? Number.POSITIVE_INFINITY : -Math.log(random() + 1e-12),
      );
      const pass = createFloorPass(loss)!;
      expect(pass.length).toBe((n + 15) & ~15);
      pass.out.fill(7);
      pass.run();
      expect(pass.out).toEqual(expected(loss, pass.length));
    }
  });

  it('runs over a part of the batch from a second instance on the same shared memory (as a worker does)', () => {
    const random = prng(6);
    const loss = Float32Array.from({ length: 4096 }, () => random() * 2);
    const pass = createFloorPass(loss)!;
    pass.out.fill(7);
    const run = floorRunner(pass.module, pass.memory, pass.length);
    run(0, 2048);
    expect(pass.out.subarray(2048).every((v) => v === 7)).toBe(true);
    run(2048, 4096);
    expect(pass.out).toEqual(expected(loss, 4096));
  });
});

describe('the wasm gathers, gather and gatherPositive for positive pivots (wasm-kernel.ts, wasm/kernel.wat)', () => {
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

  /** The gather's contract, element by element (candidates by column). */
  function expectedGather(bits: Int32Array, base: number, n: number, pivot: number) {
    const cand: number[] = [];
    const keys: number[] = [];
    for (let i = base; i < base + n; i++) {
      const b = bits[i]!;
      if (isNanBits(b)) return { count: -1, cand: [], keys: [] };
      if ((b ^ ((b >> 31) & 0x7fffffff)) >> 13 >= pivot) {
        cand.push(i - base);
        keys.push(orderKey(b));
      }
    }
    return { count: cand.length, cand, keys };
  }

  function actualGather(bits: Int32Array, base: number, n: number, pivot: number) {
    const g = wasmKernelFor(n);
    expect(g).not.toBeNull();
    stageRow(bits, base, n, g!);
    const count = gatherStaged(g!, n, pivot);
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
          w.cand[j] = 2 * j + 1; // columns, increasing, with gaps
          w.candKeys[j] = keys[j]!;
        }
        const mask = w.at.mask;
        w.bytes.fill(0, mask, mask + 2 * c + 2);
        markSelected(w, c, k, mask);
        const out = w.bytes.subarray(mask, mask + 2 * c + 2);
        // Oracle: stable descending order of (key, index), first k.
        const order = keys.map((_, j) => j).sort((a, b) => keys[b]! - keys[a]! || a - b);
        const expected = new Uint8Array(2 * c + 2);
        for (const j of order.slice(0, k)) expected[2 * j + 1] = 1;
        expect(firstDifference(out, expected)).toBe(-1);
        expect(w.selectHist.every((v) => v === 0)).toBe(true);
      }),
      { numRuns: 600 },
    );
  });
});

/** Float bits every bit-level property draws from: +0, -0, +Inf, -Inf, a NaN of each sign, a denormal. */
const SPECIAL_BITS = [0, 0x80000000 | 0, 0x7f800000, 0xff800000 | 0, 0x7fc00000, 0xffc00001 | 0, 1];

describe('the usual row whole in wasm, mine (wasm-kernel.ts, wasm/kernel.wat)', () => {
  it('marks the k elements ranked first when at least k are candidates, else reports which (fast-check)', () => {
    const bitPattern = fc.oneof(
      fc.constantFrom(...SPECIAL_BITS, 0x7f7fffff), // and the largest finite
      fc.integer({ min: 0, max: 2 ** 31 - 1 }), // any positive bits, NaN included
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 5 }).map((v) => new Int32Array(Float32Array.of(v).buffer)[0]!), // ties
      fc.integer({ min: 0x3f800000 >> 11, max: 0x40000000 >> 11 }).map((v) => v << 11), // deep levels
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.array(bitPattern, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: (1 << 18) - 1 }),
        fc.boolean(),
        fc.nat(),
        (base, row, pivotSeed, pivotFromRow, kSeed) => {
          const n = row.length;
          const bits = new Int32Array(base + n + 3).fill(0x7fc00000); // NaN around the row
          bits.set(row, base);
          const b = row[pivotSeed % n]!;
          const p = pivotFromRow && b > 0 && b >> 13 > 0 ? b >> 13 : pivotSeed;
          const k = 1 + (kSeed % (n + 1));
          const w = wasmKernelFor(n)!;
          stageRow(bits, base, n, w);
          const mask = w.at.mask + (kSeed & 7);
          w.bytes.fill(7, mask - 8, mask + n + 24); // the mask row, its padding and a little more
          const done = mineStaged(w, n, p, k, mask);
          expect(w.selectHist.every((v) => v === 0)).toBe(true);
          const nan = row.some(isNanBits);
          const count = row.filter((v) => (v ^ ((v >> 31) & 0x7fffffff)) >> 13 >= p).length;
          expect(done).toBe(nan ? -1 : count >= k ? 0 : 1);
          const expected = new Uint8Array(n);
          if (done === 0) {
            const keys = row.map(orderKey);
            const order = keys.map((_, j) => j).sort((x, y) => keys[y]! - keys[x]! || x - y);
            for (const j of order.slice(0, k)) expected[j] = 1;
          }
          expect(firstDifference(w.bytes.subarray(mask, mask + n), expected)).toBe(-1);
          // It writes the row and its padding to 16 (zeros), nothing before or past them.
          const n16 = (n + 15) & ~15;
          expect(w.bytes.subarray(mask + n, mask + n16).every((v) => v === 0)).toBe(true);
          expect(w.bytes.subarray(mask - 8, mask).every((v) => v === 7)).toBe(true);
          expect(w.bytes.subarray(mask + n16, mask + n + 24).every((v) => v === 7)).toBe(true);
        },
      ),
      { numRuns: 800 },
    );
  });

  it("reads its lane table where wasm-kernel.ts writes it (kernel.wat's literal offset = TABLE16_AT)", () => {
    const text = readFileSync(new URL('../src/kernel/wasm/kernel.wat', import.meta.url), 'utf8');
    const offsets = [...text.matchAll(/v128\.load offset=(\d+) \(i32\.shl \(local\.get \$half\)/g)].map((m) =>
      Number(m[1]),
    );
    expect(offsets).toEqual([TABLE16_AT, TABLE16_AT]);
  });

  it('takes rows up to MINE_MAX_COLS (16-bit columns), the last column included', () => {
    const n = MINE_MAX_COLS;
    const bits = new Int32Array(n).fill(0x3f800000); // 1.0
    bits[n - 1] = 0x40000000; // 2.0, the largest, in the last column
    bits[0] = 0x40000000;
    const w = wasmKernelFor(n)!;
    stageRow(bits, 0, n, w);
    const mask = w.at.mask;
    expect(mineStaged(w, n, 0x3f800000 >> 13, 3, mask)).toBe(0);
    const marked = [...w.bytes.subarray(mask, mask + n).keys()].filter((i) => w.bytes[mask + i] === 1);
    expect(marked).toEqual([0, 1, n - 1]);
  });
});

describe('the mask row copied out (wasm-kernel.ts copyMaskOut)', () => {
  it('copies any row to any offset of a plain or shared out, and nothing else (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 80 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 9 }),
        fc.boolean(),
        (n, byteOffset, base, shared) => {
          const length = base + n + 5;
          const buffer = shared
            ? new SharedArrayBuffer(byteOffset + length)
            : new ArrayBuffer(byteOffset + length);
          const out = new Uint8Array(buffer, byteOffset, length).fill(7);
          const w = wasmKernelFor(Math.max(n, 1))!;
          const at = maskRowAt(w, out, base);
          expect((at - (out.byteOffset + base)) & 7).toBe(0);
          for (let i = 0; i < n; i++) w.bytes[at + i] = (i * 7) % 3 === 0 ? 1 : 0;
          const words = shared ? new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8)) : null;
          copyMaskOut(w, at, n, out, words, base);
          const expected = new Uint8Array(length).fill(7);
          for (let i = 0; i < n; i++) expected[base + i] = (i * 7) % 3 === 0 ? 1 : 0;
          expect(firstDifference(out, expected)).toBe(-1);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a row whose sample misleads (too few candidates) takes the whole-row path: the same bytes', () => {
    // The sample reads 32 runs of 8 at multiples of n / 32: there distinct values from 2.0 up,
    // elsewhere 1.0, so the pivot sits among the sampled values and fewer than k = 300 elements
    // (some of the 256 sampled) are candidates.
    const n = 8192;
    const loss = new Float32Array(n).fill(1);
    for (let j = 0; j < 256; j++) loss[(j >> 3) * (n / 32) + (j & 7)] = 2 + j / 256;
    const numNeg = Int32Array.of(300);
    const w = wasmKernelFor(n)!;
    stageRow(new Int32Array(loss.buffer), 0, n, w);
    const pivot = sampleStaged(w, n, sampleNeed(n, 300));
    expect(pivot).toBeGreaterThan(0x40000000 >> 13);
    expect(pivot).toBeLessThan(1 << 20);
    expect(mineStaged(w, n, pivot, 300, w.at.mask)).toBe(1);
    const expected = referenceMask(loss, n, numNeg);
    for (const shared of [false, true]) {
      const out = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
      hardNegativeMask(loss, n, numNeg, { out });
      expect(firstDifference(out, expected)).toBe(-1);
    }
  });
});

describe('the wasm rank (wasm-kernel.ts, wasm/kernel.wat)', () => {
  it('ranks any float bits exactly as the stable double sort, NaN included (fast-check)', () => {
    const bitPattern = fc.oneof(
      fc.constantFrom(...SPECIAL_BITS, 0x80000001 | 0), // and the smallest negative denormal
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

describe("the whole-row path's bucket guess (sample.ts sampleBucket)", () => {
  it('names the bucket of the sample element of rank k * 256 / n and the sample buckets next to it', () => {
    // Four tie groups (0, 1, 2, 3), a quarter of the row each, in a repeating pattern: the sample
    // holds 64 of each; k = n / 2 ends the top two groups.
    const n = 4096;
    const loss = Float32Array.from({ length: n }, (_, i) => i % 4);
    const bits = new Int32Array(loss.buffer);
    const neighbours = new Int32Array(2);
    const hist = new Int32Array(2048);
    const bucket = (v: number) => orderKey(new Int32Array(Float32Array.of(v).buffer)[0]!) >> 21;
    expect(sampleBucket(bits, n, n / 2, hist, neighbours)).toBe(bucket(2));
    expect(Array.from(neighbours)).toEqual([bucket(3), bucket(1)]);
    expect(sampleBucket(bits, n, 1, hist, neighbours)).toBe(bucket(3));
    expect(Array.from(neighbours)).toEqual([bucket(3), bucket(2)]); // nothing above: itself
    expect(sampleBucket(bits, n, n, hist, neighbours)).toBe(bucket(0));
    expect(Array.from(neighbours)).toEqual([bucket(1), bucket(0)]); // nothing below: itself
    expect(hist.every((h) => h === 0)).toBe(true);
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
          const maskAt = w.at.mask;
          const m = markStaged(w, n, dHi, maskAt);
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
          expect(firstDifference(w.bytes.subarray(maskAt, maskAt + n), mask)).toBe(-1);
          // The bucket's select: the need ranked first among its entries, by key then column.
          const need = 1 + (kSeed % m);
          markBucketStaged(w, m, need, maskAt);
          const order = [...inBucket].sort((a, b) => orderKey(bits[b]!) - orderKey(bits[a]!) || a - b);
          for (const i of order.slice(0, need)) mask[i] = 1;
          expect(firstDifference(w.bytes.subarray(maskAt, maskAt + n), mask)).toBe(-1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
