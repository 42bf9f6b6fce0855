import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TfodOptions, TfodResult } from '../src/index.ts';
import {
  HardNegativeMiner,
  referenceTfod,
  ssdNegatives,
  ssdNegativesPooled,
  tfodNegatives,
} from '../src/index.ts';
import { readNpy } from '../src/npy/small.ts';
import { prng } from './support/adversarial.ts';
import type { BoxRecipe } from './support/boxes.ts';
import { boxRecipe, makeBoxes, makeScores, thresholdOf } from './support/boxes.ts';
import { fuzzParameters } from './support/fuzz-cases.ts';

const NEG_INF = Number.NEGATIVE_INFINITY;

/** 12 disjoint unit boxes along a line. */
function disjointBoxes(n: number): Float32Array {
  const b = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) b.set([0, 2 * i, 1, 2 * i + 1], 4 * i);
  return b;
}

interface OptionDraw {
  lossType: 'cls' | 'loc' | 'both';
  hard: number | null;
  ratio: number | null;
  minNeg: number;
  withIgnored: boolean;
  withLoc: boolean;
}

const optionDraw: fc.Arbitrary<OptionDraw> = fc.record({
  lossType: fc.constantFrom<'cls' | 'loc' | 'both'>('cls', 'loc', 'both'),
  hard: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 70 })),
  ratio: fc.oneof(fc.constant(null), fc.constantFrom(0, 0.5, 1, 3, 2.7, 1e10)),
  minNeg: fc.integer({ min: 0, max: 5 }),
  withIgnored: fc.boolean(),
  withLoc: fc.boolean(),
});

function buildOptions(r: BoxRecipe, o: OptionDraw): TfodOptions {
  const boxes = makeBoxes(r);
  const n = r.rows * r.cols;
  const rand = prng(r.seed ^ 0x68e31da4);
  const positives = new Uint8Array(n);
  const ignored = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    if (u < 0.15) positives[i] = 1;
    else if (u < 0.25) ignored[i] = 1;
  }
  const options: TfodOptions = {
    preset: 'tf_object_detection',
    cols: r.cols,
    loss: makeScores(r),
    positives,
    boxes,
    iouThreshold: thresholdOf(r, boxes),
    lossType: o.lossType,
    numHardExamples: o.hard,
    maxNegativesPerPositive: o.ratio,
    minNegativesPerImage: o.minNeg,
  };
  if (o.withIgnored) options.ignored = ignored;
  if (o.withLoc || o.lossType !== 'cls') options.locLoss = makeScores({ ...r, scoreStyle: 'mixed' }, 7);
  return options;
}

function plain(result: TfodResult): unknown {
  return {
    ...result,
    selected: Array.from(result.selected),
    negatives: Array.from(result.negatives),
    positivesPerRow: Array.from(result.positivesPerRow),
    negativesPerRow: Array.from(result.negativesPerRow),
  };
}

function errorOf(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe("preset 'tf_object_detection' = the literal HardExampleMiner", () => {
  it('on adversarial boxes, losses and options', () => {
    fc.assert(
      fc.property(boxRecipe(50), optionDraw, (r, o) => {
        const options = buildOptions(r, o);
        expect(plain(ssdNegatives(options))).toEqual(plain(referenceTfod(options)));
      }),
      fuzzParameters(0.15, 80),
    );
  });

  it('a NaN in the loss, the location loss or a box gives the same error on both paths', () => {
    fc.assert(
      fc.property(
        boxRecipe(20),
        optionDraw,
        fc.constantFrom('loss', 'locLoss', 'boxes'),
        fc.nat(),
        (r, o, where, at) => {
          const options = buildOptions(r, { ...o, withLoc: true });
          const target = options[where as 'loss' | 'locLoss' | 'boxes']!;
          target[at % target.length] = Number.NaN;
          const message = errorOf(() => tfodNegatives(options));
          expect(message).toMatch(/^RangeError: (loss|locLoss|boxes) is NaN at row \d+, column \d+/);
          expect(errorOf(() => referenceTfod(options))).toBe(message);
        },
      ),
      fuzzParameters(0.03, 20),
    );
  });
});

describe("preset 'tf_object_detection' semantics", () => {
  it('reproduces the docstring example of _subsample_selection_to_desired_neg_pos_ratio', () => {
    // NMS picks [2, 4, 5, 7, 9, 10] in that order; positives 2 and 5; ratio 1: keeps [2, 4, 5, 7].
    const loss = new Float32Array(12).fill(NEG_INF);
    [2, 4, 5, 7, 9, 10].forEach((i, k) => {
      loss[i] = 10 - k;
    });
    const positives = new Uint8Array(12);
    positives[2] = 1;
    positives[5] = 1;
    const result = ssdNegatives({
      preset: 'tf_object_detection',
      cols: 12,
      loss,
      positives,
      boxes: disjointBoxes(12),
      lossType: 'cls',
      numHardExamples: null,
      maxNegativesPerPositive: 1,
    });
    expect([...result.selected.keys()].filter((i) => result.selected[i])).toEqual([2, 4, 5, 7]);
    expect([...result.negatives.keys()].filter((i) => result.negatives[i])).toEqual([4, 7]);
    expect(result.numPositives).toBe(2);
    expect(result.numNegatives).toBe(2);
    expect(result.clsLossSum).toBe(10 + 9 + 8 + 7);
    expect(result.locLossSum).toBeNull();
  });

  it('drops a positive that NMS suppresses, and min_negatives_per_image lets a positive-free image train', () => {
    // Boxes 0 and 1 are the same box: 1 (a positive, lower loss) is suppressed by 0.
    const boxes = disjointBoxes(4);
    boxes.set([0, 0, 1, 1], 4);
    const loss = new Float32Array([5, 4, 3, 2]);
    const positives = new Uint8Array([0, 1, 0, 0]);
    const base = { preset: 'tf_object_detection' as const, cols: 4, loss, boxes, lossType: 'cls' as const };
    const r1 = ssdNegatives({ ...base, positives, numHardExamples: null });
    expect(Array.from(r1.selected)).toEqual([1, 0, 1, 1]);
    expect(r1.numPositives).toBe(0);
    // No positive selected: the budget is max(min_neg, int(3 * 0)) = min_neg.
    const r2 = ssdNegatives({ ...base, positives, maxNegativesPerPositive: 3, minNegativesPerImage: 2 });
    expect(Array.from(r2.selected)).toEqual([1, 0, 1, 0]);
    const r3 = ssdNegatives({ ...base, positives, maxNegativesPerPositive: 3, minNegativesPerImage: 0 });
    expect(Array.from(r3.selected)).toEqual([0, 0, 0, 0]);
  });

  it("keeps an ignored anchor while the running negative count is within the budget, as TensorFlow's cumsum does", () => {
    const loss = new Float32Array([4, 3, 2, 1]);
    const result = ssdNegatives({
      preset: 'tf_object_detection',
      cols: 4,
      loss,
      positives: new Uint8Array(4),
      ignored: new Uint8Array([0, 1, 0, 1]),
      boxes: disjointBoxes(4),
      lossType: 'cls',
      maxNegativesPerPositive: 3,
      minNegativesPerImage: 1,
    });
    // cumsum of the negative indicator [1, 0, 1, 0] is [1, 1, 2, 2]: <= 1 keeps anchors 0 and 1.
    expect(Array.from(result.selected)).toEqual([1, 1, 0, 0]);
    expect(Array.from(result.negativesPerRow)).toEqual([2]);
  });

  it("'both' ranks by cls * 0.05 + loc * 0.06 in float32 (the defaults)", () => {
    const loss = new Float32Array([1, 2]);
    const locLoss = new Float32Array([3, 1]);
    const result = ssdNegatives({
      preset: 'tf_object_detection',
      cols: 2,
      loss,
      locLoss,
      positives: new Uint8Array(2),
      boxes: new Float32Array([0, 0, 1, 1, 0, 0, 1, 1]),
      numHardExamples: 1,
    });
    // 0.05 + 0.18 = 0.23 beats 0.1 + 0.06 = 0.16: box 0 is selected, box 1 (the same box) not.
    expect(Array.from(result.selected)).toEqual([1, 0]);
    expect(result.locLossSum).toBe(3);
  });

  it('reports mistakes naming the option', () => {
    const base: TfodOptions = {
      preset: 'tf_object_detection',
      cols: 2,
      loss: new Float32Array(2),
      positives: new Uint8Array(2),
      boxes: new Float32Array(8),
      lossType: 'cls',
    };
    expect(errorOf(() => ssdNegatives({ ...base, lossType: 'both' }))).toMatch(
      /`options.locLoss` is required for lossType 'both'/,
    );
    expect(errorOf(() => ssdNegatives({ ...base, iouThreshold: 1.5 }))).toMatch(
      /`options.iouThreshold` must be in \[0, 1\]/,
    );
    expect(errorOf(() => ssdNegatives({ ...base, numHardExamples: -1 }))).toMatch(
      /`options.numHardExamples`/,
    );
    expect(errorOf(() => ssdNegatives({ ...base, maxNegativesPerPositive: -1 }))).toMatch(
      /`options.maxNegativesPerPositive`/,
    );
    expect(errorOf(() => ssdNegatives({ ...base, boxes: new Float32Array(7) }))).toMatch(
      /`options.boxes` must hold 4 numbers/,
    );
    expect(errorOf(() => ssdNegatives({ ...base, ignored: [1, 0], positives: [1, 0] }))).toMatch(
      /`options.ignored` marks a positive at row 0, column 0/,
    );
    expect(errorOf(() => ssdNegatives({ ...base, nan: 'largest' as 'error' }))).toMatch(
      /`options.nan` must be 'error'/,
    );
    const inf = new Float32Array(8);
    inf[6] = Number.POSITIVE_INFINITY;
    expect(errorOf(() => ssdNegatives({ ...base, boxes: inf }))).toMatch(
      /boxes at row 0, column 1 .* infinite/,
    );
    const huge = new Float32Array([-3e38, 0, 3e38, 1, 0, 0, 1, 1]);
    expect(errorOf(() => ssdNegatives({ ...base, boxes: huge }))).toMatch(/boxes at row 0, column 0/);
  });
});

describe('fixtures made by NumPy (and checked against TensorFlow 2.21) running HardExampleMiner', () => {
  const dir = fileURLToPath(new URL('./fixtures/tfod/', import.meta.url));
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as {
    tf: string | null;
    cases: Record<
      string,
      {
        options: Record<string, unknown>;
        positives_per_row: number[];
        negatives_per_row: number[];
        cls_loss_sum: number;
        loc_loss_sum: number;
        tf_cls_loss_sum?: number;
        tf_loc_loss_sum?: number;
      }
    >;
  };
  const load = async (name: string) => (await readNpy(join(dir, name))).data;
  for (const [name, c] of Object.entries(meta.cases)) {
    it(name, async () => {
      const loss = (await load(`${name}.loss.npy`)) as Float32Array;
      const cols = loss.length / c.positives_per_row.length;
      const o = c.options;
      const result = ssdNegatives({
        preset: 'tf_object_detection',
        cols,
        loss,
        locLoss: (await load(`${name}.loc.npy`)) as Float32Array,
        boxes: (await load(`${name}.boxes.npy`)) as Float32Array,
        positives: (await load(`${name}.pos.npy`)) as Uint8Array,
        ignored: (await load(`${name}.ign.npy`)) as Uint8Array,
        numHardExamples: o.num_hard_examples as number | null,
        iouThreshold: o.iou_threshold as number,
        lossType: o.loss_type as 'cls' | 'loc' | 'both',
        clsLossWeight: o.cls_loss_weight as number,
        locLossWeight: o.loc_loss_weight as number,
        maxNegativesPerPositive: o.max_negatives_per_positive as number | null,
        minNegativesPerImage: o.min_negatives_per_image as number,
      });
      const kept = (await load(`${name}.kept.npy`)) as Uint8Array;
      expect(Array.from(result.selected)).toEqual(Array.from(kept));
      expect(Array.from(result.positivesPerRow)).toEqual(c.positives_per_row);
      expect(Array.from(result.negativesPerRow)).toEqual(c.negatives_per_row);
      expect(result.clsLossSum).toBe(c.cls_loss_sum);
      expect(result.locLossSum).toBe(c.loc_loss_sum);
      if (c.tf_cls_loss_sum !== undefined) {
        // TensorFlow sums in float32, in its own order.
        expect(result.clsLossSum).toBeCloseTo(c.tf_cls_loss_sum, 3);
        expect(result.locLossSum).toBeCloseTo(c.tf_loc_loss_sum!, 3);
      }
    });
  }
});

describe("preset 'tf_object_detection' on the pool", () => {
  it('ssdNegativesPooled = ssdNegatives (images claimed by two threads)', async () => {
    await using miner = new HardNegativeMiner({ threads: 2 });
    await fc.assert(
      fc.asyncProperty(boxRecipe(40), optionDraw, fc.integer({ min: 2, max: 12 }), async (r, o, rows) => {
        const options = buildOptions({ ...r, rows }, o);
        const pooled = await ssdNegativesPooled(miner, options);
        expect(plain(pooled)).toEqual(plain(ssdNegatives(options)));
      }),
      fuzzParameters(0.03, 15),
    );
  });

  it('rejects (never throws) bad options, an aborted signal and a closed miner; writes into `out`', async () => {
    const miner = new HardNegativeMiner({ threads: 2 });
    const r: BoxRecipe = { rows: 6, cols: 30, boxStyle: 'ssd', scoreStyle: 'mixed', threshold: 5, seed: 3 };
    const options = buildOptions(r, {
      lossType: 'cls',
      hard: null,
      ratio: 3,
      minNeg: 1,
      withIgnored: true,
      withLoc: true,
    });
    const out = new Uint8Array(6 * 30);
    const result = await ssdNegativesPooled(miner, { ...options, out });
    expect(result.selected).toBe(out);
    expect(plain(result)).toEqual(plain(referenceTfod(options)));
    const bad = ssdNegativesPooled(miner, { ...options, iouThreshold: 2 });
    await expect(bad).rejects.toThrow(/`options.iouThreshold` must be in \[0, 1\]/);
    const controller = new AbortController();
    controller.abort();
    await expect(ssdNegativesPooled(miner, { ...options, signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    await miner.close();
    await expect(ssdNegativesPooled(miner, options)).rejects.toThrow(/closed/);
  });
});
