import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confidenceLoss, HardNegativeMiner, ssdNegatives } from '../src/index.ts';
import type { MultiboxLossOptions } from '../src/tfjs/index.ts';
import { multiboxLoss, ssdNegativesTensor, ssdNegativesTensorPooled } from '../src/tfjs/index.ts';
import { crossEntropy } from '../src/tfjs/ops.ts';
import { firstOff, load, loadMultibox, type MultiboxFixture } from './support/tfjs-fixtures.ts';

interface Fixture extends MultiboxFixture {
  boxes: tf.Tensor3D;
  ignored: tf.Tensor2D;
}

let fx: Fixture;
let shape: [number, number, number];

beforeAll(async () => {
  const base = await loadMultibox('tfod');
  shape = base.shape;
  const [b, n] = shape;
  fx = {
    ...base.fx,
    boxes: tf.tensor3d((await load('tfod_boxes.npy')) as Float32Array, [b, n, 4]),
    ignored: tf.tensor2d((await load('tfod_ignored.npy')) as Uint8Array, [b, n], 'bool'),
  };
});

afterAll(() => {
  if (fx) for (const t of Object.values(fx)) t.dispose();
});

type Extra = Partial<MultiboxLossOptions>;

/** The generator's CONFIGS (make_tfod_loss_fixtures.py), in the library's option names. */
const CASES: [string, Extra][] = [
  [
    'ssd_config',
    {
      numHardExamples: 3000,
      iouThreshold: 0.99,
      lossType: 'cls',
      maxNegativesPerPositive: 3,
      minNegativesPerImage: 3,
    },
  ],
  ['defaults', {}],
  [
    'drop',
    {
      numHardExamples: 10,
      iouThreshold: 0.3,
      maxNegativesPerPositive: 2,
      minNegativesPerImage: 1,
      beta: 0.5,
      alpha: 2,
      normalizeLocLossByCodesize: true,
    },
  ],
  [
    'loc_unnormalised',
    {
      numHardExamples: null,
      iouThreshold: 0.5,
      lossType: 'loc',
      maxNegativesPerPositive: 1.5,
      minNegativesPerImage: 2,
      normalizeLossByNumMatches: false,
    },
  ],
];

describe("multiboxLoss, preset 'tf_object_detection' (torch fixtures from the TF lines)", () => {
  for (const [name, extra] of CASES) {
    it(`${name}: the selection, values within 1e-5 and gradients within 1e-5 (floor 1e-7)`, async () => {
      const values = (await load(`tfod_${name}_values.npy`)) as Float64Array;
      const kept = (await load(`tfod_${name}_kept.npy`)) as Uint8Array;
      const labels = fx.labels.dataSync();
      const before = tf.memory().numTensors;
      const r = multiboxLoss({ ...fx, preset: 'tf_object_detection', ...extra });
      expect(tf.memory().numTensors).toBe(before + 3);
      expect(Array.from(r.mined!.selected)).toEqual(Array.from(kept));
      let keptPositives = 0;
      for (let i = 0; i < kept.length; i++) keptPositives += kept[i]! & (labels[i]! > 0 ? 1 : 0);
      expect(r.mined!.numPositives).toBe(keptPositives);
      expect(r.numPositives).toBe(14);
      expect(r.numNegatives).toBe(kept.reduce((a, v) => a + v, 0) - keptPositives);
      const got = [r.loss.dataSync()[0]!, r.locLoss.dataSync()[0]!, r.confLoss.dataSync()[0]!];
      expect(firstOff(got, Array.from(values), 1e-5, 0)).toBe(-1);
      tf.dispose([r.loss, r.locLoss, r.confLoss]);

      const grads = tf.grads(
        (locPred: tf.Tensor, logits: tf.Tensor) =>
          multiboxLoss({
            ...fx,
            locPred: locPred as tf.Tensor3D,
            logits: logits as tf.Tensor3D,
            preset: 'tf_object_detection',
            ...extra,
          }).loss,
      );
      const [gLoc, gLogits] = grads([fx.locPred, fx.logits]);
      const eLoc = (await load(`tfod_${name}_grad_loc.npy`)) as Float32Array;
      const eLogits = (await load(`tfod_${name}_grad_logits.npy`)) as Float32Array;
      expect(firstOff(gLoc!.dataSync(), eLoc, 1e-5, 1e-7)).toBe(-1);
      expect(firstOff(gLogits!.dataSync(), eLogits, 1e-5, 1e-7)).toBe(-1);
      tf.dispose([gLoc!, gLogits!]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('the fixtures exercise dropped positives, ignored anchors and a NaN target', async () => {
    const kept = (await load('tfod_drop_kept.npy')) as Uint8Array;
    const labels = fx.labels.dataSync();
    let dropped = 0;
    for (let i = 0; i < kept.length; i++) dropped += labels[i]! > 0 && kept[i] === 0 ? 1 : 0;
    expect(dropped).toBeGreaterThan(0);
    expect(Array.from(fx.locTarget.dataSync()).some(Number.isNaN)).toBe(true);
    // The last image has no match: its loss is finite (the normaliser is max(1, matches)).
    expect(Array.from(labels.slice(2 * shape[1])).every((v) => v === 0)).toBe(true);
  });

  it('takes plain boxes and ignored bytes, and gives the same result', () => {
    const a = multiboxLoss({ ...fx, preset: 'tf_object_detection' });
    const b = multiboxLoss({
      ...fx,
      preset: 'tf_object_detection',
      boxes: fx.boxes.dataSync() as Float32Array,
      ignored: Uint8Array.from(fx.ignored.dataSync()),
    });
    expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
    expect(Array.from(b.mined!.selected)).toEqual(Array.from(a.mined!.selected));
    tf.dispose([a.loss, a.locLoss, a.confLoss, b.loss, b.locLoss, b.confLoss]);
  });

  it('takes a selection mined on the pool (ssdNegativesTensorPooled) and gives the same loss', async () => {
    const mining = {
      preset: 'tf_object_detection' as const,
      ignored: fx.ignored,
      lossType: 'cls' as const,
      numHardExamples: 3000,
      iouThreshold: 0.99,
      maxNegativesPerPositive: 3,
      minNegativesPerImage: 3,
    };
    const miner = new HardNegativeMiner({ threads: 1 });
    try {
      const before = tf.memory().numTensors;
      const pooled = await ssdNegativesTensorPooled(miner, {
        logits: fx.logits,
        labels: fx.labels,
        boxes: fx.boxes,
        ...mining,
      });
      const a = multiboxLoss({ ...fx, ...mining });
      const b = multiboxLoss({ ...fx, ...mining, boxes: undefined as never, selected: pooled.selected! });
      const c = multiboxLoss({ ...fx, ...mining, selected: Uint8Array.from(pooled.selected!.dataSync()) });
      expect(Array.from(pooled.selected!.dataSync())).toEqual(Array.from(a.mined!.selected));
      expect(b.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
      expect(c.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
      expect(b.numNegatives).toBe(a.numNegatives);
      expect(b.mined).toBeUndefined();
      const bad = new Uint8Array(pooled.selected!.size);
      bad[5] = 2;
      expect(() => multiboxLoss({ ...fx, ...mining, selected: bad })).toThrow(
        /options\.selected` at row 0, column 5 must be 0 or 1/,
      );
      tf.dispose([
        a.loss,
        a.locLoss,
        a.confLoss,
        b.loss,
        b.locLoss,
        b.confLoss,
        c.loss,
        c.locLoss,
        c.confLoss,
      ]);
      tf.dispose([pooled.selected!, pooled.negatives, pooled.positives, pooled.counts]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await miner.close();
    }
  });

  it('a batch without matches: finite, locLoss 0, confLoss = mined negatives / 1', () => {
    const [b, n] = [2, shape[1]];
    const logits = tf.slice(fx.logits, [0, 0, 0], [b, n, shape[2]]) as tf.Tensor3D;
    const locPred = tf.slice(fx.locPred, [0, 0, 0], [b, n, 4]) as tf.Tensor3D;
    const locTarget = tf.slice(fx.locTarget, [0, 0, 0], [b, n, 4]) as tf.Tensor3D;
    const boxes = tf.slice(fx.boxes, [0, 0, 0], [b, n, 4]) as tf.Tensor3D;
    const labels = tf.zeros([b, n], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const r = multiboxLoss({
      logits,
      locPred,
      locTarget,
      labels,
      boxes,
      preset: 'tf_object_detection',
      lossType: 'cls',
      maxNegativesPerPositive: 3,
      minNegativesPerImage: 3,
    });
    expect(r.numPositives).toBe(0);
    expect(r.numNegatives).toBe(6);
    expect(r.locLoss.dataSync()[0]).toBe(0);
    const conf = r.confLoss.dataSync()[0]!;
    expect(Number.isFinite(conf)).toBe(true);
    expect(conf).toBeCloseTo(r.mined!.clsLossSum, 4);
    const g = tf.grad(
      (x: tf.Tensor) =>
        multiboxLoss({
          logits: x as tf.Tensor3D,
          locPred,
          locTarget,
          labels,
          boxes,
          preset: 'tf_object_detection',
          lossType: 'cls',
        }).loss,
    )(logits);
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([r.loss, r.locLoss, r.confLoss, g]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, locPred, locTarget, boxes, labels]);
  });

  it('trains inside optimizer.minimize and leaks nothing', () => {
    const w = tf.variable(tf.zeros([shape[2]]));
    const v = tf.variable(tf.zeros([4]));
    const opt = tf.train.sgd(0.05);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const cost = opt.minimize(
        () =>
          multiboxLoss({
            ...fx,
            preset: 'tf_object_detection',
            lossType: 'cls',
            numHardExamples: null,
            iouThreshold: 1,
            logits: tf.add(fx.logits, w) as tf.Tensor3D,
            locPred: tf.add(fx.locPred, v) as tf.Tensor3D,
          }).loss,
        true,
      );
      losses.push(cost!.dataSync()[0]!);
      cost!.dispose();
    }
    expect(losses[2]!).toBeLessThan(losses[0]!);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w, v]);
    opt.dispose();
  });

  it('rejects bad and misplaced options, naming them, and leaks nothing', () => {
    const flat = fx.locTarget.reshape([-1]);
    const before = tf.memory().numTensors;
    const p = { ...fx, preset: 'tf_object_detection' as const };
    expect(() => multiboxLoss({ ...p, boxes: undefined as never })).toThrow(TypeError);
    expect(() => multiboxLoss({ ...p, boxes: undefined as never })).toThrow(/options\.boxes.*required/);
    expect(() => multiboxLoss({ ...p, boxes: flat as never })).toThrow(/options\.boxes.*rank 3/);
    expect(() => multiboxLoss({ ...p, boxes: new Float32Array(3) })).toThrow(/options\.boxes/);
    expect(() => multiboxLoss({ ...p, ratio: 3 })).toThrow(/options\.ratio.*maxNegativesPerPositive/);
    expect(() => multiboxLoss({ ...p, minNegatives: 3 })).toThrow(/options\.minNegatives/);
    expect(() => multiboxLoss({ ...p, negatives: fx.ignored })).toThrow(/options\.negatives/);
    expect(() => multiboxLoss({ ...p, iouThreshold: 2 })).toThrow(/options\.iouThreshold/);
    expect(() => multiboxLoss({ ...p, lossType: 'x' as never })).toThrow(/options\.lossType/);
    expect(() => multiboxLoss({ ...p, nan: 'largest' })).toThrow(/options\.nan/);
    expect(() => multiboxLoss({ ...p, normalizeLossByNumMatches: 1 as never })).toThrow(
      /options\.normalizeLossByNumMatches.*boolean/,
    );
    // An ignored anchor that is also a positive.
    const ign = Uint8Array.from(fx.labels.dataSync(), (v) => (v > 0 ? 1 : 0));
    expect(() => multiboxLoss({ ...p, ignored: ign })).toThrow(/options\.ignored.*positive/);
    expect(() => multiboxLoss({ ...fx, preset: 'ssd.pytorch', boxes: fx.boxes })).toThrow(
      /options\.boxes.*tf_object_detection/,
    );
    const nanBoxes = Float32Array.from(fx.boxes.dataSync());
    nanBoxes[4 * 3 + 1] = Number.NaN;
    expect(() => multiboxLoss({ ...p, boxes: nanBoxes })).toThrow(/row 0, column 3, coordinate 1/);
    expect(tf.memory().numTensors).toBe(before);
    flat.dispose();
  });
});

describe("multiboxLoss 'tf_object_detection': the selection is ssdNegatives'", () => {
  it('on adversarial boxes and tied losses (property)', () => {
    const before = tf.memory().numTensors;
    fc.assert(
      fc.property(
        fc.record({
          b: fc.integer({ min: 1, max: 3 }),
          n: fc.integer({ min: 1, max: 24 }),
          c: fc.integer({ min: 1, max: 4 }),
          seed: fc.integer(),
          tie: fc.boolean(),
          lossType: fc.constantFrom('cls' as const, 'loc' as const, 'both' as const),
          hard: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
          thr: fc.constantFrom(0, 0.3, 0.5, 0.99, 1),
          ratio: fc.option(fc.constantFrom(0, 0.5, 1, 3), { nil: null }),
          minNeg: fc.integer({ min: 0, max: 4 }),
          beta: fc.constantFrom(0.5, 1),
        }),
        (o) => {
          let s = o.seed >>> 0 || 1;
          const rand = (): number => {
            s ^= s << 13;
            s ^= s >>> 17;
            s ^= s << 5;
            return (s >>> 0) / 2 ** 32;
          };
          const { b, n, c } = o;
          const logits = Float32Array.from({ length: b * n * c }, () =>
            o.tie ? Math.round(rand() * 2) : rand() * 6 - 3,
          );
          const labels = Int32Array.from({ length: b * n }, () =>
            rand() < 0.3 ? Math.floor(rand() * c) : 0,
          );
          const ignored = Uint8Array.from(labels, (v) => (v === 0 && rand() < 0.2 ? 1 : 0));
          const locPred = Float32Array.from({ length: b * n * 4 }, () =>
            o.tie ? Math.round(rand()) : rand() * 2 - 1,
          );
          const locTarget = Float32Array.from({ length: b * n * 4 }, () => rand() * 2 - 1);
          // Boxes from a few templates: duplicates, flipped corners, zero area.
          const templates = [
            [0, 0, 1, 1],
            [1, 1, 0, 0],
            [0.1, 0.1, 0.5, 0.5],
            [0.1, 0.1, 0.1, 0.6],
            [0.2, 0.2, 0.6, 0.6],
            [0.1, 0.1, 0.5, 0.51],
          ];
          const boxes = new Float32Array(b * n * 4);
          for (let i = 0; i < b * n; i++) {
            const t = templates[Math.floor(rand() * templates.length)]!;
            for (let k = 0; k < 4; k++) boxes[4 * i + k] = rand() < 0.5 ? t[k]! : t[k]! + rand() * 0.05;
          }
          const mining = {
            numHardExamples: o.hard,
            iouThreshold: o.thr,
            lossType: o.lossType,
            maxNegativesPerPositive: o.ratio,
            minNegativesPerImage: o.minNeg,
          };
          const T = {
            logits: tf.tensor3d(logits, [b, n, c]),
            labels: tf.tensor2d(labels, [b, n], 'int32'),
            locPred: tf.tensor3d(locPred, [b, n, 4]),
            locTarget: tf.tensor3d(locTarget, [b, n, 4]),
          };
          const r = multiboxLoss({
            ...T,
            boxes,
            ignored,
            beta: o.beta,
            preset: 'tf_object_detection',
            ...mining,
          });
          // The same per-anchor losses, computed here: the cross-entropy op's values (weight 0 where
          // ignored) and TF's Huber per offset in float32, summed over the 4 offsets in order.
          const sink: { ce?: Float32Array } = {};
          tf.dispose(crossEntropy(T.logits, labels, false, sink));
          const cls = Float32Array.from(sink.ce!, (v, i) => (ignored[i] ? 0 : v));
          const d = Math.fround(o.beta);
          const loc = new Float32Array(b * n);
          for (let i = 0; i < b * n; i++) {
            if (labels[i] === 0) continue;
            let sum = 0;
            for (let k = 0; k < 4; k++) {
              const e = Math.abs(Math.fround(locPred[4 * i + k]! - locTarget[4 * i + k]!));
              const q = Math.min(e, d);
              sum = Math.fround(
                sum +
                  Math.fround(Math.fround(0.5 * Math.fround(q * q)) + Math.fround(d * Math.fround(e - q))),
              );
            }
            loc[i] = sum;
          }
          const plain = ssdNegatives({
            preset: 'tf_object_detection',
            cols: n,
            loss: cls,
            locLoss: loc,
            positives: Uint8Array.from(labels, (v) => (v > 0 ? 1 : 0)),
            ignored,
            boxes,
            ...mining,
          });
          expect(Array.from(r.mined!.selected)).toEqual(Array.from(plain.selected));
          expect(r.numNegatives).toBe(plain.numNegatives);
          expect(Number.isFinite(r.loss.dataSync()[0]!)).toBe(true);
          tf.dispose([r.loss, r.locLoss, r.confLoss, ...Object.values(T)]);
        },
      ),
      { numRuns: 150 },
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("ssdNegativesTensor 'tf_object_detection'", () => {
  const arb = fc.record({
    b: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 20 }),
    seed: fc.integer(),
    tie: fc.boolean(),
    lossType: fc.constantFrom('cls' as const, 'loc' as const, 'both' as const),
    hard: fc.option(fc.integer({ min: 0, max: 25 }), { nil: null }),
    thr: fc.constantFrom(0, 0.5, 0.99, 1),
    ratio: fc.option(fc.constantFrom(0, 1, 3), { nil: null }),
    minNeg: fc.integer({ min: 0, max: 3 }),
  });

  function data(o: { b: number; n: number; seed: number; tie: boolean }) {
    let s = o.seed >>> 0 || 7;
    const rand = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 2 ** 32;
    };
    const m = o.b * o.n;
    const loss = Float32Array.from({ length: m }, () => (o.tie ? Math.round(rand() * 2) : rand()));
    const loc = Float32Array.from({ length: m }, () => (o.tie ? 0 : rand()));
    const positives = Uint8Array.from({ length: m }, () => (rand() < 0.3 ? 1 : 0));
    const ignored = Uint8Array.from(positives, (p) => (p === 0 && rand() < 0.2 ? 1 : 0));
    const boxes = new Float32Array(4 * m);
    for (let i = 0; i < m; i++) {
      const k = Math.floor(rand() * 4);
      const t = [
        [0, 0, 1, 1],
        [1, 1, 0, 0],
        [0.1, 0.1, 0.1, 0.5],
        [0.2, 0.2, 0.6, 0.6],
      ][k]!;
      for (let c = 0; c < 4; c++) boxes[4 * i + c] = rand() < 0.5 ? t[c]! : t[c]! + rand() * 0.02;
    }
    return { loss, loc, positives, ignored, boxes };
  }

  it("gives ssdNegatives' selection, negatives and counts, from tensors (property)", () => {
    const before = tf.memory().numTensors;
    fc.assert(
      fc.property(arb, (o) => {
        const d = data(o);
        const mining = {
          numHardExamples: o.hard,
          iouThreshold: o.thr,
          lossType: o.lossType,
          maxNegativesPerPositive: o.ratio,
          minNegativesPerImage: o.minNeg,
        };
        const plain = ssdNegatives({
          preset: 'tf_object_detection',
          cols: o.n,
          ...d,
          locLoss: d.loc,
          ...mining,
        });
        const T = {
          loss: tf.tensor2d(d.loss, [o.b, o.n]),
          positives: tf.tensor2d(d.positives, [o.b, o.n], 'bool'),
          locLoss: tf.tensor2d(d.loc, [o.b, o.n]),
          boxes: tf.tensor3d(d.boxes, [o.b, o.n, 4]),
          ignored: tf.tensor2d(d.ignored, [o.b, o.n], 'bool'),
        };
        const r = ssdNegativesTensor({ ...T, preset: 'tf_object_detection', ...mining });
        expect(Array.from(r.selected!.dataSync())).toEqual(Array.from(plain.selected));
        expect(Array.from(r.negatives.dataSync())).toEqual(Array.from(plain.negatives));
        expect(Array.from(r.counts.dataSync())).toEqual(Array.from(plain.negativesPerRow));
        expect([r.numPositives, r.numNegatives, r.clsLossSum]).toEqual([
          plain.numPositives,
          plain.numNegatives,
          plain.clsLossSum,
        ]);
        tf.dispose([r.selected!, r.negatives, r.positives, r.counts, ...Object.values(T)]);
      }),
      { numRuns: 150 },
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('from logits and labels (loss = confidenceLoss), and on the pool, the same', async () => {
    const [b, n, c] = shape;
    const common = {
      preset: 'tf_object_detection' as const,
      boxes: fx.boxes,
      ignored: fx.ignored,
      lossType: 'cls' as const,
      iouThreshold: 0.5,
      maxNegativesPerPositive: 3,
      minNegativesPerImage: 3,
    };
    const labels = fx.labels.dataSync() as Int32Array;
    const plain = ssdNegatives({
      preset: 'tf_object_detection',
      cols: n,
      // The cross-entropy times the class weight: 0 at ignored anchors.
      loss: confidenceLoss(fx.logits.dataSync() as Float32Array, labels, b, n, c).map((v, i) =>
        fx.ignored.dataSync()[i] ? 0 : v,
      ),
      positives: Uint8Array.from(labels, (v) => (v > 0 ? 1 : 0)),
      ignored: Uint8Array.from(fx.ignored.dataSync()),
      boxes: fx.boxes.dataSync() as Float32Array,
      lossType: 'cls',
      iouThreshold: 0.5,
      maxNegativesPerPositive: 3,
      minNegativesPerImage: 3,
    });
    const before = tf.memory().numTensors;
    const r = ssdNegativesTensor({ logits: fx.logits, labels: fx.labels, ...common });
    expect(Array.from(r.selected!.dataSync())).toEqual(Array.from(plain.selected));
    const miner = new HardNegativeMiner({ threads: 1 });
    try {
      const p = await ssdNegativesTensorPooled(miner, { logits: fx.logits, labels: fx.labels, ...common });
      expect(Array.from(p.selected!.dataSync())).toEqual(Array.from(plain.selected));
      expect(Array.from(p.counts.dataSync())).toEqual(Array.from(plain.negativesPerRow));
      expect(p.clsLossSum).toBe(plain.clsLossSum);
      tf.dispose([p.selected!, p.negatives, p.positives, p.counts]);
    } finally {
      await miner.close();
    }
    tf.dispose([r.selected!, r.negatives, r.positives, r.counts]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects misplaced and missing options, naming them', async () => {
    const base = { logits: fx.logits, labels: fx.labels };
    expect(() => ssdNegativesTensor({ ...base, boxes: fx.boxes })).toThrow(
      /options\.boxes.*'tf_object_detection' only/,
    );
    expect(() => ssdNegativesTensor({ ...base, preset: 'tf_object_detection' })).toThrow(
      /options\.boxes.*required/,
    );
    expect(() =>
      ssdNegativesTensor({ ...base, preset: 'tf_object_detection', boxes: fx.boxes, ratio: 3 }),
    ).toThrow(/options\.ratio.*maxNegativesPerPositive/);
    expect(() => ssdNegativesTensor({ ...base, preset: 'tf_object_detection', boxes: fx.boxes })).toThrow(
      /options\.locLoss.*required/,
    );
    expect(() =>
      ssdNegativesTensor({ ...base, preset: 'tf_object_detection', boxes: fx.logits, lossType: 'cls' }),
    ).toThrow(/options\.boxes.*dimension 2 = 4/);
    const miner = new HardNegativeMiner({ threads: 1 });
    try {
      await expect(
        ssdNegativesTensorPooled(miner, { ...base, preset: 'tf_object_detection', boxes: fx.boxes }),
      ).rejects.toThrow(/options\.locLoss/);
    } finally {
      await miner.close();
    }
  });
});
