import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SsdNegativesResult, SsdPreset } from '../src/index.ts';
import {
  confidenceLoss,
  HardNegativeMiner,
  hardNegativeMask,
  PRESET_NAMES,
  PRESETS,
  referenceSsdNegatives,
  ssdNegatives,
} from '../src/index.ts';
import { readNpy } from '../src/npy/small.ts';
import { ssdNegativesPooled } from '../src/ssd/pooled.ts';
import { prepareBatch, prepareImageRows } from '../src/ssd/prepare.ts';
import { ssdKerasTfReference } from '../src/ssd/reference-presets.ts';
import { firstDifference, lossValue, prng } from './support/adversarial.ts';

const INF = Number.POSITIVE_INFINITY;
const WHOLE_ONLY: ReadonlySet<SsdPreset> = new Set(['mmdet', 'ssd_keras']);

interface Case {
  loss: Float32Array;
  cols: number;
  positives: Uint8Array;
  preset: SsdPreset;
  ratio: number;
  minNegatives: number;
  nan?: 'error' | 'largest';
}

function run(c: Case): SsdNegativesResult {
  const { loss, cols, positives, preset, ratio, minNegatives } = c;
  return ssdNegatives({ loss, cols, positives, preset, ratio, minNegatives, nan: c.nan ?? 'error' });
}

/** Every documented invariant of the result, computed naively. */
function expectInvariants(c: Case, result: SsdNegativesResult): void {
  const { loss, cols, positives } = c;
  const rows = loss.length / cols;
  const { negatives } = result;
  let numNegatives = 0;
  let numPositives = 0;
  let lossSum = 0;
  for (let r = 0; r < rows; r++) {
    let ones = 0;
    let p = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) {
      ones += negatives[i]!;
      p += positives[i]!;
      if (negatives[i] || positives[i]) lossSum += loss[i]!;
      if (!PRESETS[c.preset].canMarkPositives) expect(negatives[i] && positives[i]).toBe(0);
      if (c.preset === 'ssd_keras' && loss[i] === 0) expect(negatives[i]).toBe(0);
    }
    expect(result.counts[r]).toBe(ones);
    expect(result.positivesPerRow[r]).toBe(p);
    numNegatives += ones;
    numPositives += p;
  }
  expect(result.numNegatives).toBe(numNegatives);
  expect(result.numPositives).toBe(numPositives);
  expect(Object.is(result.lossSum, lossSum) || result.lossSum === lossSum).toBe(true);
  expect(result.loss).toBe(loss);
}

/** ssdNegatives against the literal transcription of the preset's framework, plus the invariants. */
function expectMatchesFramework(c: Case): Uint8Array {
  const expected = referenceSsdNegatives(c);
  const result = run(c);
  expect(firstDifference(result.negatives, expected)).toBe(-1);
  expectInvariants(c, result);
  return result.negatives;
}

function mask(
  preset: SsdPreset,
  loss: number[],
  positives: number[],
  cols: number,
  ratio = 3,
  minNegatives = 0,
) {
  const c: Case = {
    loss: Float32Array.from(loss),
    cols,
    positives: Uint8Array.from(positives),
    preset,
    ratio,
    minNegatives,
  };
  return [...expectMatchesFramework(c)];
}

describe('hand-worked examples: where the frameworks disagree', () => {
  // One image, N = 6, P = 2 (columns 0 and 3), ratio 3: ratio * P = 6 > N - P = 4.
  const loss = [9, 4, 0, 7, 0, 1];
  const pos = [1, 0, 0, 1, 0, 0];

  it('ssd.pytorch: positives zeroed, k = min(6, N - 1) = 5, marking positives that tie at 0 before a negative', () => {
    // Ranked: 4 (c1), 1 (c5), then the zeros by index: c0 (pos), c2, c3 (pos), c4.
    expect(mask('ssd.pytorch', loss, pos, 6)).toEqual([1, 1, 1, 1, 0, 1]);
  });

  it('pytorch_advanced: k = min(6, N) = 6 marks the whole row', () => {
    expect(mask('pytorch_advanced', loss, pos, 6)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('torchvision: positives at -Inf, k = 6 with no cap marks them too; ratio 1 does not', () => {
    expect(mask('torchvision', loss, pos, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(mask('torchvision', loss, pos, 6, 1)).toEqual([0, 1, 0, 0, 0, 1]);
  });

  it('mmdet: top-k over the 4 negatives, k = min(6, 4): every negative, no positive', () => {
    expect(mask('mmdet', loss, pos, 6)).toEqual([0, 1, 1, 0, 1, 1]);
  });

  it('ssd_keras: only the 2 nonzero negatives can be picked', () => {
    expect(mask('ssd_keras', loss, pos, 6)).toEqual([0, 1, 0, 0, 0, 1]);
  });
});

describe('edge cases', () => {
  it('an image with no positives gets no negatives, unless minNegatives asks', () => {
    for (const preset of PRESET_NAMES) {
      expect(mask(preset, [1, 2, 3, 0], [0, 0, 0, 0], 4)).toEqual([0, 0, 0, 0]);
      expect(mask(preset, [1, 2, 3, 0], [0, 0, 0, 0], 4, 3, 2)).toEqual([0, 1, 1, 0]);
    }
    // The floor cannot go past the cap: N - 1 for ssd.pytorch, the 3 nonzero losses for ssd_keras.
    expect(mask('ssd.pytorch', [1, 2, 3, 0], [0, 0, 0, 0], 4, 3, 9)).toEqual([1, 1, 1, 0]);
    expect(mask('pytorch_advanced', [1, 2, 3, 0], [0, 0, 0, 0], 4, 3, 9)).toEqual([1, 1, 1, 1]);
    expect(mask('ssd_keras', [1, 2, 3, 0], [0, 0, 0, 0], 4, 3, 9)).toEqual([1, 1, 1, 0]);
  });

  it('an image that is all positives', () => {
    const loss = [1, 2, 3];
    const pos = [1, 1, 1];
    expect(mask('ssd.pytorch', loss, pos, 3)).toEqual([1, 1, 0]); // zeros tie; k = N - 1
    expect(mask('pytorch_advanced', loss, pos, 3)).toEqual([1, 1, 1]);
    expect(mask('torchvision', loss, pos, 3)).toEqual([1, 1, 1]);
    expect(mask('mmdet', loss, pos, 3)).toEqual([0, 0, 0]);
    expect(mask('ssd_keras', loss, pos, 3)).toEqual([0, 0, 0]);
  });

  it('-Inf negatives tie with the -Inf of excluded positives: mmdet and ssd_keras still skip the positive', () => {
    const loss = [-INF, -INF, 5, -INF, -INF];
    const pos = [1, 0, 0, 1, 0];
    // Negatives c1 (-Inf), c2 (5), c4 (-Inf); k = 2: c2, then c1 by index.
    expect(mask('mmdet', loss, pos, 5, 1)).toEqual([0, 1, 1, 0, 0]);
    expect(mask('ssd_keras', loss, pos, 5, 1)).toEqual([0, 1, 1, 0, 0]);
    expect(mask('mmdet', loss, pos, 5, 3)).toEqual([0, 1, 1, 0, 1]);
    // torchvision ranks the -Inf positive c0 before the -Inf negative c1, as its code does.
    expect(mask('torchvision', loss, pos, 5, 1)).toEqual([1, 0, 1, 0, 0]);
  });

  it('-0 and +0 tie; ssd_keras treats both as zero loss', () => {
    const loss = [-0, 7, -0, -1];
    const pos = [0, 1, 0, 0];
    // The positive's loss becomes +0 and ties with the -0 negatives by index.
    expect(mask('ssd.pytorch', loss, pos, 4)).toEqual([1, 1, 1, 0]);
    expect(mask('mmdet', loss, pos, 4)).toEqual([1, 0, 1, 1]);
    expect(mask('ssd_keras', loss, pos, 4)).toEqual([0, 0, 0, 1]);
  });

  it('ssd_keras mines the whole batch at once, ties by flat index', () => {
    const loss = [0, 2, 0, 1, 0, 3];
    const pos = [1, 0, 0, 0, 0, 0];
    // P_batch = 1: with ratio 1 the single negative goes to row 1, none to the image with the positive.
    expect(mask('ssd_keras', loss, pos, 3, 1)).toEqual([0, 0, 0, 0, 0, 1]);
    expect(mask('ssd_keras', loss, pos, 3, 3)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(mask('ssd_keras', [0, 2, 0, 2, 0, 2], pos, 3, 2)).toEqual([0, 1, 0, 1, 0, 0]);
    const result = ssdNegatives({
      loss: Float32Array.from(loss),
      cols: 3,
      positives: pos,
      preset: 'ssd_keras',
    });
    expect([...result.counts]).toEqual([1, 2]);
    expect(result.numNegatives).toBe(3);
  });

  it('a fractional count rounds up (rank < k), and ratio * P is float32 as in PyTorch', () => {
    const loss = [5, 4, 3, 2, 1, 0];
    const pos = [0, 0, 0, 0, 0, 1];
    expect(mask('pytorch_advanced', loss, pos, 6, 2.5)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(mask('torchvision', loss, pos, 6, 0.5)).toEqual([1, 0, 0, 0, 0, 0]);
    // PyTorch multiplies the int64 count by the Python float in float32 (checked with torch 1.13):
    // 0.3 * 50 = 15.000000953674316 there, so rank < k keeps 16 (float64 gives 15 exactly, so 15);
    // 1.1 * 50 = 55 there (float64: 55.00000000000001, so 56).
    const cols = 80;
    const big = Array.from({ length: cols }, (_, i) => cols - i);
    const many = Array.from({ length: cols }, (_, i) => (i >= 30 ? 1 : 0));
    for (const preset of ['ssd.pytorch', 'pytorch_advanced', 'torchvision'] as const) {
      for (const [ratio, k] of [
        [0.3, 16],
        [1.1, 55],
      ] as const) {
        const result = ssdNegatives({ loss: Float32Array.from(big), cols, positives: many, preset, ratio });
        expect(result.counts[0]).toBe(k);
        expect(mask(preset, big, many, cols, ratio).slice(0, k + 1)).toEqual([...Array(k).fill(1), 0]);
      }
    }
  });

  it('torchvision has no cap: a count above N marks the whole row', () => {
    const result = ssdNegatives({
      loss: new Float32Array([1, 2, 3, 4]),
      cols: 2,
      positives: [1, 1, 0, 1],
      preset: 'torchvision',
    });
    expect([...result.negatives]).toEqual([1, 1, 1, 1]);
    expect([...result.counts]).toEqual([2, 2]);
  });

  it('an empty batch', () => {
    for (const preset of PRESET_NAMES) {
      const result = ssdNegatives({
        loss: new Float32Array(0),
        cols: 7,
        positives: new Uint8Array(0),
        preset,
      });
      expect(result.negatives.length).toBe(0);
      expect(result.counts.length).toBe(0);
      expect(result.lossSum).toBe(0);
    }
  });

  it("nan: 'largest' ranks NaN negatives first; a positive's NaN is overwritten where the framework does", () => {
    const loss = [1, Number.NaN, 3, Number.NaN, 0];
    const pos = [0, 0, 0, 1, 0];
    for (const preset of PRESET_NAMES) {
      const c: Case = {
        loss: Float32Array.from(loss),
        cols: 5,
        positives: Uint8Array.from(pos),
        preset,
        ratio: 1,
        minNegatives: 0,
        nan: 'largest',
      };
      const got = expectMatchesFramework(c);
      expect(got[1]).toBe(1);
      expect(Number.isNaN(run(c).lossSum)).toBe(true);
    }
  });

  it('the loss sum counts an element that is both positive and negative once, over the original loss', () => {
    const result = ssdNegatives({ loss: new Float32Array([1, 2, 3]), cols: 3, positives: [1, 1, 1] });
    expect([...result.negatives]).toEqual([1, 1, 0]);
    expect(result.lossSum).toBe(6);
    expect(result.numPositives).toBe(3);
  });
});

describe('agreement with the literal framework code', () => {
  const presetArb = fc.constantFrom(...PRESET_NAMES);
  const caseArb = (nan: boolean) =>
    fc
      .record({
        rows: fc.integer({ min: 0, max: 4 }),
        cols: fc.integer({ min: 1, max: 24 }),
        density: fc.constantFrom(0, 0.05, 0.3, 0.7, 1),
        preset: presetArb,
        ratio: fc.oneof(fc.constantFrom(1, 2, 3, 4), fc.constantFrom(0.1, 0.5, 1.5, 2.5, 7 / 3)),
        minNegatives: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 })),
        style: fc.constantFrom('mixed', 'ties', 'zeros', 'infinities'),
      })
      .chain(({ rows, cols, density, preset, ratio, minNegatives, style }) => {
        const n = rows * cols;
        const value =
          style === 'ties'
            ? fc.constantFrom(0, 1, 2)
            : style === 'zeros'
              ? fc.constantFrom(0, -0, 0, 1e-45, 3)
              : style === 'infinities'
                ? fc.constantFrom(INF, -INF, 0, -1)
                : lossValue(nan);
        return fc.record({
          loss: fc.array(value, { minLength: n, maxLength: n }).map((v) => Float32Array.from(v)),
          positives: fc
            .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n })
            .map((u) => Uint8Array.from(u, (x) => (x < density || (density === 1 && x <= 1) ? 1 : 0))),
          cols: fc.constant(cols),
          preset: fc.constant(preset),
          ratio: fc.constant(WHOLE_ONLY.has(preset) ? Math.ceil(ratio) : ratio),
          minNegatives: fc.constant(minNegatives),
        });
      });

  it('every preset equals its transcription on adversarial batches (ties, ±0, ±Inf, denormals)', () => {
    fc.assert(
      fc.property(caseArb(false), (c) => {
        expectMatchesFramework(c);
      }),
      { numRuns: 1500 },
    );
  });

  it("every preset equals its transcription with NaN under nan: 'largest'", () => {
    fc.assert(
      fc.property(caseArb(true), (c) => {
        expectMatchesFramework({ ...c, nan: 'largest' });
      }),
      { numRuns: 500 },
    );
  });

  it('ssd_keras equals the TensorFlow code word for word on cross-entropy-like losses (finite, >= 0)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.constantFrom(0, 0, 0.5, 1, 1, 2, 9), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer(),
        (cols, values, ratio, minNegatives, seed) => {
          const rows = Math.max(1, Math.floor(values.length / cols));
          const loss = Float32Array.from({ length: rows * cols }, (_, i) => values[i % values.length]!);
          const rand = prng(seed);
          const positives = Uint8Array.from(loss, () => (rand() < 0.2 ? 1 : 0));
          const got = ssdNegatives({ loss, cols, positives, preset: 'ssd_keras', ratio, minNegatives });
          const tf = ssdKerasTfReference(loss, positives, ratio, minNegatives);
          expect(firstDifference(got.negatives, tf)).toBe(-1);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('SSD300-sized rows (N = 8732) with realistic losses, every preset', () => {
    const cols = 8732;
    const rows = 3;
    const rand = prng(20260601);
    const loss = new Float32Array(rows * cols);
    const positives = new Uint8Array(rows * cols);
    for (let i = 0; i < loss.length; i++) {
      const u = rand();
      // Mostly small losses with many exact ties (quantised), some large ones, a few zeros.
      loss[i] = u < 0.05 ? 0 : u < 0.9 ? Math.round(rand() * 64) / 256 : rand() * 8;
      positives[i] = rand() < [0.002, 0.01, 0.3][Math.floor(i / cols)]! ? 1 : 0;
    }
    for (const preset of PRESET_NAMES) {
      expectMatchesFramework({ loss, cols, positives, preset, ratio: 3, minNegatives: 0 });
      expectMatchesFramework({ loss, cols, positives, preset, ratio: 3, minNegatives: 100 });
    }
  });
});

describe('properties', () => {
  const perImage = PRESET_NAMES.filter((p) => !PRESETS[p].batchWide);
  const rowsArb = fc.record({
    cols: fc.integer({ min: 1, max: 16 }),
    rows: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer(),
    preset: fc.constantFrom(...perImage),
  });

  function random(cols: number, rows: number, seed: number) {
    const rand = prng(seed);
    const loss = Float32Array.from(
      { length: rows * cols },
      () => Math.floor(rand() * 4) - (rand() < 0.1 ? 5 : 0),
    );
    const positives = Uint8Array.from(loss, () => (rand() < 0.3 ? 1 : 0));
    return { loss, positives };
  }

  it('per-image presets mine each row on its own', () => {
    fc.assert(
      fc.property(rowsArb, ({ cols, rows, seed, preset }) => {
        const { loss, positives } = random(cols, rows, seed);
        const whole = ssdNegatives({ loss, cols, positives, preset }).negatives;
        for (let r = 0; r < rows; r++) {
          const part = ssdNegatives({
            loss: loss.slice(r * cols, (r + 1) * cols),
            cols,
            positives: positives.slice(r * cols, (r + 1) * cols),
            preset,
          }).negatives;
          expect([...part]).toEqual([...whole.subarray(r * cols, (r + 1) * cols)]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a larger ratio or floor only adds negatives', () => {
    fc.assert(
      fc.property(
        rowsArb,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 5 }),
        (c, ratio, floor) => {
          const { loss, positives } = random(c.cols, c.rows, c.seed);
          for (const preset of PRESET_NAMES) {
            const small = ssdNegatives({ loss, cols: c.cols, positives, preset, ratio, minNegatives: floor });
            const large = ssdNegatives({
              loss,
              cols: c.cols,
              positives,
              preset,
              ratio: ratio + 1,
              minNegatives: floor + 2,
            });
            for (let i = 0; i < loss.length; i++)
              expect(small.negatives[i]! <= large.negatives[i]!).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('ssd_keras depends on the flat batch only, not on how it is split into rows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer(),
        (a, b, seed) => {
          const { loss, positives } = random(a * b, 1, seed);
          const one = ssdNegatives({ loss, cols: a * b, positives, preset: 'ssd_keras' }).negatives;
          const split = ssdNegatives({ loss, cols: b, positives, preset: 'ssd_keras' }).negatives;
          expect([...split]).toEqual([...one]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('input forms', () => {
  it('accepts booleans or 0/1 numbers as positives', () => {
    const loss = new Float32Array([3, 1, 2, 5]);
    const a = ssdNegatives({ loss, cols: 4, positives: [false, true, false, false] });
    const b = ssdNegatives({ loss, cols: 4, positives: [0, 1, 0, 0] });
    const c = ssdNegatives({ loss, cols: 4, positives: new Uint8Array([0, 1, 0, 0]) });
    expect([...a.negatives]).toEqual([1, 0, 1, 1]);
    expect([...b.negatives]).toEqual([...a.negatives]);
    expect([...c.negatives]).toEqual([...a.negatives]);
    expect(a.positives).toBeInstanceOf(Uint8Array);
  });

  it('writes into `out` when given', () => {
    const out = new Uint8Array(4).fill(7);
    const result = ssdNegatives({
      loss: new Float32Array([3, 1, 2, 5]),
      cols: 4,
      positives: [0, 1, 0, 0],
      out,
    });
    expect(result.negatives).toBe(out);
    expect([...out]).toEqual([1, 0, 1, 1]);
  });

  it('{ logits, labels, classes } equals confidenceLoss plus positives = label > 0', () => {
    const rand = prng(7);
    const rows = 3;
    const cols = 50;
    const classes = 4;
    const logits = Float32Array.from({ length: rows * cols * classes }, () => (rand() - 0.5) * 10);
    const labels = Int32Array.from({ length: rows * cols }, () =>
      rand() < 0.15 ? 1 + Math.floor(rand() * 3) : 0,
    );
    const loss = confidenceLoss(logits, labels, rows, cols, classes);
    const positives = Uint8Array.from(labels, (l) => (l > 0 ? 1 : 0));
    for (const preset of PRESET_NAMES) {
      const fromLogits = ssdNegatives({ logits, labels, classes, cols, preset });
      const fromLoss = ssdNegatives({ loss, positives, cols, preset });
      expect([...fromLogits.negatives]).toEqual([...fromLoss.negatives]);
      expect([...fromLogits.loss]).toEqual([...loss]);
      expect([...fromLogits.positives]).toEqual([...positives]);
      expect(fromLogits.lossSum).toBe(fromLoss.lossSum);
    }
    const big = BigInt64Array.from(labels, (l) => BigInt(l));
    expect([...ssdNegatives({ logits, labels: big, classes, cols }).negatives]).toEqual([
      ...ssdNegatives({ loss, positives, cols }).negatives,
    ]);
  });
});

describe('validation', () => {
  const loss = new Float32Array([1, 2, 3, 4, 5, 6]);
  const positives = new Uint8Array([0, 1, 0, 0, 0, 1]);

  it('rejects a fractional ratio for mmdet and ssd_keras, naming `ratio`', () => {
    for (const preset of ['mmdet', 'ssd_keras'] as const) {
      expect(() => ssdNegatives({ loss, cols: 3, positives, preset, ratio: 2.5 })).toThrow(RangeError);
      expect(() => ssdNegatives({ loss, cols: 3, positives, preset, ratio: 2.5 })).toThrow(
        /`options\.ratio`.*whole/,
      );
      expect(() => referenceSsdNegatives({ loss, cols: 3, positives, preset, ratio: 2.5 })).toThrow(
        /`options\.ratio`/,
      );
    }
    expect(ssdNegatives({ loss, cols: 3, positives, preset: 'pytorch_advanced', ratio: 2.5 }).counts[0]).toBe(
      3,
    );
  });

  it('rejects bad ratios, floors and preset names', () => {
    for (const ratio of [0, -1, Number.NaN, INF]) {
      expect(() => ssdNegatives({ loss, cols: 3, positives, ratio })).toThrow(
        /`options\.ratio` must be a positive/,
      );
    }
    expect(() => ssdNegatives({ loss, cols: 3, positives, ratio: '3' as unknown as number })).toThrow(
      TypeError,
    );
    for (const minNegatives of [-1, 1.5, INF]) {
      expect(() => ssdNegatives({ loss, cols: 3, positives, minNegatives })).toThrow(
        /`options\.minNegatives`/,
      );
    }
    expect(() => ssdNegatives({ loss, cols: 3, positives, preset: 'keras' as SsdPreset })).toThrow(
      /`options\.preset` must be one of 'ssd\.pytorch', .*got "keras"/,
    );
  });

  it('names the row and column of a bad positive, and checks its length', () => {
    expect(() => ssdNegatives({ loss, cols: 3, positives: [0, 0, 0, 0, 0, 2] })).toThrow(
      /`options\.positives` at row 1, column 2 must be 0, 1 or a boolean, got 2/,
    );
    expect(() => ssdNegatives({ loss, cols: 3, positives: new Uint8Array([0, 0, 0, 0, 255, 0]) })).toThrow(
      /row 1, column 1/,
    );
    expect(() => ssdNegatives({ loss, cols: 3, positives: [0, 1] })).toThrow(RangeError);
    expect(() => ssdNegatives({ loss, cols: 3, positives: 5 as unknown as number[] })).toThrow(TypeError);
  });

  it('rejects a NaN loss anywhere, a positive included, naming its row and column', () => {
    const nanLoss = new Float32Array([1, 2, 3, 4, Number.NaN, 6]);
    for (const preset of PRESET_NAMES) {
      expect(() => ssdNegatives({ loss: nanLoss, cols: 3, positives: [0, 0, 0, 0, 1, 0], preset })).toThrow(
        /loss is NaN at row 1, column 1/,
      );
      expect(() =>
        referenceSsdNegatives({ loss: nanLoss, cols: 3, positives: [0, 0, 0, 0, 1, 0], preset }),
      ).toThrow(/row 1, column 1/);
    }
  });

  it('wants exactly one input form and a valid shape', () => {
    expect(() => ssdNegatives({ cols: 3 } as never)).toThrow(TypeError);
    expect(() =>
      ssdNegatives({ loss, positives, cols: 3, logits: loss, labels: [0], classes: 2 } as never),
    ).toThrow(/not both/);
    expect(() => ssdNegatives({ loss, positives, cols: 4 })).toThrow(/`cols` \(4\) must divide/);
    expect(() =>
      ssdNegatives({ loss: [1, 2] as unknown as Float32Array, positives: [0, 0], cols: 2 }),
    ).toThrow(TypeError);
    expect(() => ssdNegatives(null as never)).toThrow(TypeError);
    expect(() => ssdNegatives({ loss, positives, cols: 3, out: new Uint8Array(5) })).toThrow(
      /`options\.out`/,
    );
  });

  it('checks logits, labels and classes', () => {
    const logits = new Float32Array(12);
    expect(() => ssdNegatives({ logits, labels: [0, 0, 0, 0, 0, 0], classes: 2, cols: 3 })).not.toThrow();
    expect(() => ssdNegatives({ logits, labels: [0, 0, 0, 0, 2, 0], classes: 2, cols: 3 })).toThrow(
      /`labels` at row 1, column 1 must be an integer class in 0 \.\. 1, got 2/,
    );
    expect(() => ssdNegatives({ logits, labels: [0, 0, 0], classes: 2, cols: 3 })).toThrow(
      /`labels\.length`/,
    );
    expect(() => ssdNegatives({ logits, labels: [0, 0, 0, 0, 0, 0], classes: 5, cols: 3 })).toThrow(
      /`options\.logits\.length`/,
    );
    expect(() => ssdNegatives({ logits, labels: [0, 0, 0, 0, 0, 0], classes: 0, cols: 3 })).toThrow(
      /`options\.classes`/,
    );
  });
});

describe('the streaming building blocks', () => {
  it('prepareImageRows in place + the per-row kernel, and prepareBatch + a flat top-k, give the preset mask', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(...PRESET_NAMES),
        fc.integer(),
        (rows, cols, preset, seed) => {
          const rand = prng(seed);
          const values = [0, -0, 1, 2, -1, INF, -INF];
          const loss = Float32Array.from(
            { length: rows * cols },
            () => values[Math.floor(rand() * values.length)]!,
          );
          const positives = Uint8Array.from(loss, () => (rand() < 0.3 ? 1 : 0));
          const spec = PRESETS[preset];
          const expected = referenceSsdNegatives({ loss, cols, positives, preset, ratio: 2 });
          const work = loss.slice();
          const bits = new Int32Array(work.buffer);
          const perRow = new Int32Array(rows);
          let got: Uint8Array;
          if (spec.batchWide) {
            const k = prepareBatch(
              { spec, ratio: 2, minNegatives: 0 },
              { bits, positives, rows, cols },
              { bits, positivesPerRow: perRow },
            );
            got = hardNegativeMask(work, rows * cols, k);
          } else {
            const counts = new Int32Array(rows);
            prepareImageRows(
              { spec, ratio: 2, minNegatives: 0 },
              { bits, positives, rows, cols },
              { bits, counts, positivesPerRow: perRow },
            );
            got = hardNegativeMask(work, cols, counts);
          }
          expect([...got]).toEqual([...expected]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses to mix per-image and batch-wide preparation', () => {
    const z = new Int32Array(2);
    const p = new Uint8Array(2);
    const block = { bits: z, positives: p, rows: 1, cols: 2 };
    const keras = { spec: PRESETS.ssd_keras, ratio: 3, minNegatives: 0 };
    const mmdet = { spec: PRESETS.mmdet, ratio: 3, minNegatives: 0 };
    expect(() => prepareImageRows(keras, block, { bits: z, counts: z, positivesPerRow: z })).toThrow(
      /whole batch/,
    );
    expect(() => prepareBatch(mmdet, block, { bits: z, positivesPerRow: z })).toThrow(/per image/);
  });
});

describe('fixtures made by PyTorch 1.13 running each framework’s own lines', () => {
  const dir = fileURLToPath(new URL('./fixtures/ssd/', import.meta.url));
  const load = async (name: string) => (await readNpy(join(dir, name))).data;

  it('ssd.pytorch, pytorch_advanced and torchvision, integer and fractional ratios (float32 products)', async () => {
    const loss = (await load('loss.npy')) as Float32Array;
    const positives = (await load('positives.npy')) as Uint8Array;
    const cols = 64;
    for (const preset of ['ssd.pytorch', 'pytorch_advanced', 'torchvision'] as const) {
      for (const ratio of ['3', '1', '2.5', '0.1', '0.3', '1.1']) {
        const expected = (await load(`mask_${preset}_r${ratio}.npy`)) as Uint8Array;
        const got = ssdNegatives({ loss, cols, positives, preset, ratio: Number(ratio) }).negatives;
        expect(firstDifference(got, expected), `${preset} ratio ${ratio}`).toBe(-1);
        expect(
          firstDifference(
            referenceSsdNegatives({ loss, cols, positives, preset, ratio: Number(ratio) }),
            expected,
          ),
        ).toBe(-1);
      }
    }
  });

  it('mmdet (torch.topk over the negatives, tie-free losses)', async () => {
    const loss = (await load('loss_distinct.npy')) as Float32Array;
    const positives = (await load('positives.npy')) as Uint8Array;
    for (const ratio of [3, 1]) {
      const expected = (await load(`mask_mmdet_r${ratio}.npy`)) as Uint8Array;
      const got = ssdNegatives({ loss, cols: 64, positives, preset: 'mmdet', ratio }).negatives;
      expect(firstDifference(got, expected)).toBe(-1);
    }
  });
});

describe('the pooled twin (HardNegativeMiner.ssdNegatives)', () => {
  it('equals the synchronous result for every preset, in the workers and inline', async () => {
    await using miner = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
    await using inline = new HardNegativeMiner({ threads: 1 });
    const rows = 8;
    const cols = 3001;
    const rand = prng(77);
    const loss = Float32Array.from({ length: rows * cols }, () =>
      rand() < 0.1 ? 0 : rand() < 0.02 ? -INF : Math.round(rand() * 40) / 8,
    );
    const positives = Uint8Array.from(loss, (_, i) =>
      rand() < [0, 1, 0.01, 0.3][Math.floor(i / cols) % 4]! ? 1 : 0,
    );
    for (const preset of PRESET_NAMES) {
      const options = { loss, cols, positives, preset, minNegatives: 5 };
      const sync = ssdNegatives(options);
      for (const m of [miner, inline]) {
        const pooled = await m.ssdNegatives(options);
        expect(firstDifference(pooled.negatives, sync.negatives), preset).toBe(-1);
        expect([...pooled.counts]).toEqual([...sync.counts]);
        expect(pooled.numNegatives).toBe(sync.numNegatives);
        expect(pooled.lossSum).toBe(sync.lossSum);
        expect(pooled.numPositives).toBe(sync.numPositives);
      }
    }
    const out = new Uint8Array(rows * cols);
    const viaOut = await ssdNegativesPooled(miner, { loss, cols, positives, preset: 'mmdet', out });
    expect(viaOut.negatives).toBe(out);
    expect([...out]).toEqual([...ssdNegatives({ loss, cols, positives, preset: 'mmdet' }).negatives]);
  });

  it('rejects (never throws) on bad options, an aborted signal or a closed miner', async () => {
    const miner = new HardNegativeMiner({ threads: 1, inlineBelow: 0 });
    const loss = new Float32Array([1, 2, 3, 4]);
    const bad = miner.ssdNegatives({ loss, cols: 2, positives: [0, 1, 0, 0], preset: 'mmdet', ratio: 1.5 });
    await expect(bad).rejects.toThrow(/`options\.ratio`/);
    const controller = new AbortController();
    controller.abort();
    await expect(
      miner.ssdNegatives({ loss, cols: 2, positives: [0, 1, 0, 0], signal: controller.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    await miner.close();
    await expect(miner.ssdNegatives({ loss, cols: 2, positives: [0, 1, 0, 0] })).rejects.toThrow(/closed/);
  });
});
