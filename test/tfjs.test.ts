import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HardNegativeMiner, hardNegativeMask, ssdNegatives } from '../src/index.ts';
import type { MultiboxPreset } from '../src/tfjs/index.ts';
import {
  hardNegativeMaskTensor,
  hardNegativeMaskTensorPooled,
  multiboxLoss,
  ssdNegativesTensor,
  ssdNegativesTensorPooled,
} from '../src/tfjs/index.ts';
import { firstOff, load, loadMultibox, type MultiboxFixture } from './support/tfjs-fixtures.ts';

let fx: MultiboxFixture;
let shape: [number, number, number];

beforeAll(async () => {
  ({ fx, shape } = await loadMultibox('mb'));
});

afterAll(() => {
  if (fx) for (const t of Object.values(fx)) t.dispose();
});

const CASES: [string, MultiboxPreset, { beta?: number; alpha?: number; minNegatives?: number }][] = [
  ['ssd.pytorch', 'ssd.pytorch', {}],
  ['pytorch_advanced', 'pytorch_advanced', {}],
  ['torchvision', 'torchvision', {}],
  ['mmdet', 'mmdet', {}],
  ['mmdet_beta0.5', 'mmdet', { beta: 0.5 }],
  ['ssd_keras', 'ssd_keras', {}],
  ['ssd_keras_alpha0.5_min200', 'ssd_keras', { alpha: 0.5, minNegatives: 200 }],
];

describe('multiboxLoss against the frameworks (torch fixtures)', () => {
  for (const [name, preset, extra] of CASES) {
    it(`${name}: values within 1e-5 and gradients within 1e-5 (floor 1e-7)`, async () => {
      const values = (await load(`mb_${name}_values.npy`)) as Float64Array;
      const before = tf.memory().numTensors;
      const r = multiboxLoss({ ...fx, preset, ...extra });
      expect(tf.memory().numTensors).toBe(before + 3);
      const got = [r.loss.dataSync()[0]!, r.locLoss.dataSync()[0]!, r.confLoss.dataSync()[0]!];
      expect(firstOff(got, Array.from(values.subarray(0, 3)), 1e-5, 0)).toBe(-1);
      expect(r.numNegatives).toBe(values[3]);
      expect(r.numPositives).toBe(51);
      tf.dispose([r.loss, r.locLoss, r.confLoss]);

      const grads = tf.grads(
        (locPred: tf.Tensor, logits: tf.Tensor) =>
          multiboxLoss({
            ...fx,
            locPred: locPred as tf.Tensor3D,
            logits: logits as tf.Tensor3D,
            preset,
            ...extra,
          }).loss,
      );
      const [gLoc, gLogits] = grads([fx.locPred, fx.logits]);
      const eLoc = (await load(`mb_${name}_grad_loc.npy`)) as Float32Array;
      const eLogits = (await load(`mb_${name}_grad_logits.npy`)) as Float32Array;
      expect(firstOff(gLoc!.dataSync(), eLoc, 1e-5, 1e-7)).toBe(-1);
      expect(firstOff(gLogits!.dataSync(), eLogits, 1e-5, 1e-7)).toBe(-1);
      tf.dispose([gLoc!, gLogits!]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('takes a precomputed negatives mask (from the pooled call) and gives the same loss', async () => {
    const miner = new HardNegativeMiner({ threads: 1 });
    try {
      for (const preset of ['ssd.pytorch', 'torchvision', 'ssd_keras'] as const) {
        const ce = tf.tidy(() =>
          tf.sub(tf.logSumExp(fx.logits, 2), tf.sum(tf.mul(fx.logits, tf.oneHot(fx.labels, shape[2])), 2)),
        );
        const positives = tf.greater(fx.labels, 0);
        const mined = await ssdNegativesTensorPooled(miner, {
          loss: ce as tf.Tensor2D,
          positives: positives as tf.Tensor2D,
          preset,
        });
        const a = multiboxLoss({ ...fx, preset, negatives: mined.negatives });
        const b = multiboxLoss({ ...fx, preset });
        expect(a.loss.dataSync()[0]).toBe(b.loss.dataSync()[0]);
        expect(a.numNegatives).toBe(mined.numNegatives);
        tf.dispose([
          ce,
          positives,
          mined.negatives,
          mined.positives,
          mined.counts,
          a.loss,
          a.locLoss,
          a.confLoss,
          b.loss,
          b.locLoss,
          b.confLoss,
        ]);
      }
    } finally {
      await miner.close();
    }
  });

  it('trains inside optimizer.minimize and leaks nothing inside or outside tf.tidy', () => {
    const w = tf.variable(tf.zeros([shape[2]]));
    const v = tf.variable(tf.zeros([4]));
    const opt = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const cost = opt.minimize(
        () =>
          multiboxLoss({
            ...fx,
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
    const inside = tf.tidy(() => multiboxLoss({ ...fx }).loss);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([inside, w, v]);
    opt.dispose();
  });

  it('divides by 1 where ssd.pytorch would divide by zero positives, and says so in numPositives', () => {
    const [b, n, c] = shape;
    const labels = tf.zeros([b, n], 'int32') as tf.Tensor2D;
    for (const preset of ['ssd.pytorch', 'pytorch_advanced', 'torchvision', 'mmdet', 'ssd_keras'] as const) {
      const r = multiboxLoss({ ...fx, labels, preset, minNegatives: 5 });
      expect(r.numPositives).toBe(0);
      expect(r.locLoss.dataSync()[0]).toBe(0);
      const conf = r.confLoss.dataSync()[0]!;
      expect(Number.isFinite(conf)).toBe(true);
      expect(conf).toBeGreaterThan(0);
      tf.dispose([r.loss, r.locLoss, r.confLoss]);
    }
    labels.dispose();
    expect(c).toBeGreaterThan(1);
  });

  it('rejects wrong dtypes, ranks and shapes, naming the argument and the shape', () => {
    const [b, n, c] = shape;
    const before = tf.memory().numTensors;
    const f32labels = tf.zeros([b, n]) as tf.Tensor2D;
    const short = tf.zeros([b, n - 1, 4]) as tf.Tensor3D;
    const flat = tf.zeros([b, n]) as unknown as tf.Tensor3D;
    const bad = tf.fill([b, n], c, 'int32') as tf.Tensor2D;
    expect(() => multiboxLoss({ ...fx, labels: f32labels })).toThrow(/options\.labels.*dtype 'int32'/);
    expect(() => multiboxLoss({ ...fx, locPred: short })).toThrow(
      /options\.locPred.*\[B, N, 4\] = \[3, 300, 4\]/,
    );
    expect(() => multiboxLoss({ ...fx, logits: flat })).toThrow(/options\.logits.*rank 3.*\[B, N, C\]/);
    expect(() => multiboxLoss({ ...fx, locTarget: undefined as never })).toThrow(
      /options\.locTarget.*tf\.Tensor/,
    );
    expect(() => multiboxLoss({ ...fx, labels: bad })).toThrow(/options\.labels.*row 0, column 0.*0 \.\. 5/);
    expect(() => multiboxLoss({ ...fx, preset: 'nope' as never })).toThrow(/options\.preset/);
    expect(() => multiboxLoss({ ...fx, preset: 'mmdet', ratio: 2.5 })).toThrow(/options\.ratio/);
    expect(() => multiboxLoss({ ...fx, beta: 0 })).toThrow(/options\.beta/);
    expect(() => hardNegativeMaskTensor(fx.logits as never, 1)).toThrow(/`loss`.*rank 2/);
    expect(() => hardNegativeMaskTensor(fx.labels, 1)).toThrow(/`loss`.*'float32'/);
    tf.dispose([f32labels, short, flat, bad]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('tensor masks equal hardNegativeMask / ssdNegatives', () => {
  const edge = fc.oneof(
    fc.constantFrom(0, -0, 1, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, -1e-45),
    fc.float({ noNaN: true }),
    fc.integer({ min: -3, max: 3 }),
  );
  const batch = fc
    .record({ rows: fc.integer({ min: 1, max: 4 }), cols: fc.integer({ min: 1, max: 40 }) })
    .chain(({ rows, cols }) =>
      fc.record({
        rows: fc.constant(rows),
        cols: fc.constant(cols),
        loss: fc.array(edge, { minLength: rows * cols, maxLength: rows * cols }),
        counts: fc.array(fc.integer({ min: 0, max: cols + 5 }), { minLength: rows, maxLength: rows }),
        pos: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: rows * cols, maxLength: rows * cols }),
      }),
    );

  it('hardNegativeMaskTensor (sync, counts as numbers, arrays and tensors) = hardNegativeMask', () => {
    fc.assert(
      fc.property(batch, ({ rows, cols, loss, counts }) => {
        const data = Float32Array.from(loss);
        const expected = hardNegativeMask(data, cols, counts);
        const t = tf.tensor2d(data, [rows, cols]);
        const k = tf.tensor1d(counts, 'int32');
        const before = tf.memory().numTensors;
        const a = hardNegativeMaskTensor(t, counts);
        const b = hardNegativeMaskTensor(t, k);
        const c = hardNegativeMaskTensor(t, counts[0]!);
        expect(tf.memory().numTensors).toBe(before + 3);
        expect(a.dtype).toBe('bool');
        expect(a.shape).toEqual([rows, cols]);
        expect(Array.from(a.dataSync())).toEqual(Array.from(expected));
        expect(Array.from(b.dataSync())).toEqual(Array.from(expected));
        expect(Array.from(c.dataSync())).toEqual(Array.from(hardNegativeMask(data, cols, counts[0]!)));
        tf.dispose([t, k, a, b, c]);
      }),
      { numRuns: 150 },
    );
  });

  it('ssdNegativesTensor from loss and from logits = ssdNegatives, every preset', () => {
    const presets = ['ssd.pytorch', 'pytorch_advanced', 'torchvision', 'mmdet', 'ssd_keras'] as const;
    fc.assert(
      fc.property(batch, fc.constantFrom(...presets), ({ rows, cols, loss, pos }, preset) => {
        const data = Float32Array.from(loss);
        const positives = Uint8Array.from(pos, (p) => (p === 0 ? 1 : 0));
        const expected = ssdNegatives({ loss: data, positives, cols, preset });
        const t = tf.tensor2d(data, [rows, cols]);
        const p = tf.tensor2d(positives, [rows, cols], 'bool');
        const before = tf.memory().numTensors;
        const r = ssdNegativesTensor({ loss: t, positives: p, preset });
        expect(tf.memory().numTensors).toBe(before + 3);
        expect(Array.from(r.negatives.dataSync())).toEqual(Array.from(expected.negatives));
        expect(Array.from(r.positives.dataSync())).toEqual(Array.from(positives));
        expect(Array.from(r.counts.dataSync())).toEqual(Array.from(expected.counts));
        expect(r.counts.dtype).toBe('int32');
        expect(r.numPositives).toBe(expected.numPositives);
        expect(r.numNegatives).toBe(expected.numNegatives);
        // From logits: C = 3, labels from `pos` (0 .. 2 where pos < 3, else background).
        const classes = 3;
        const logits = Float32Array.from(
          { length: rows * cols * classes },
          (_, i) => (Number.isFinite(data[i % data.length]!) ? data[i % data.length]! : 0) / (1 + (i % 7)),
        );
        const labels = Int32Array.from(pos, (v) => (v < classes ? v : 0));
        const e2 = ssdNegatives({ logits, labels, classes, cols, preset });
        const lt = tf.tensor3d(logits, [rows, cols, classes]);
        const lb = tf.tensor2d(labels, [rows, cols], 'int32');
        const r2 = ssdNegativesTensor({ logits: lt, labels: lb, preset });
        expect(Array.from(r2.negatives.dataSync())).toEqual(Array.from(e2.negatives));
        tf.dispose([t, p, r.negatives, r.positives, r.counts, lt, lb, r2.negatives, r2.positives, r2.counts]);
      }),
      { numRuns: 100 },
    );
  });

  it('treats NaN as the rest of the library: an error naming row and column, or largest', () => {
    const t = tf.tensor2d(new Float32Array([1, 2, 3, 4, Number.NaN, 0]), [2, 3]);
    const p = tf.tensor2d(new Uint8Array(6), [2, 3], 'bool');
    const before = tf.memory().numTensors;
    expect(() => hardNegativeMaskTensor(t, 1)).toThrow(/row 1, column 1/);
    expect(() => ssdNegativesTensor({ loss: t, positives: p, minNegatives: 1 })).toThrow(/row 1, column 1/);
    expect(tf.memory().numTensors).toBe(before);
    const m = hardNegativeMaskTensor(t, 1, { nan: 'largest' });
    expect(Array.from(m.dataSync())).toEqual([0, 0, 1, 0, 1, 0]);
    tf.dispose([t, p, m]);
  });

  it('the pooled forms give the same masks, and reject (never throw) bad input', async () => {
    const miner = new HardNegativeMiner({ threads: 1 });
    try {
      // 32 × 8732 elements: above the miner's inline threshold (2^18), so the pool does the work.
      const rows = 32;
      const cols = 8732;
      const data = Float32Array.from({ length: rows * cols }, (_, i) => ((i * 2654435761) % 1000) / 7);
      const counts = Array.from({ length: rows }, (_, r) => (r * 37) % cols);
      const t = tf.tensor2d(data, [rows, cols]);
      const before = tf.memory().numTensors;
      const m = await hardNegativeMaskTensorPooled(miner, t, counts);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(Array.from(m.dataSync())).toEqual(Array.from(hardNegativeMask(data, cols, counts)));
      const positives = tf.tensor2d(
        Uint8Array.from(data, (v) => (v > 140 ? 1 : 0)),
        [rows, cols],
        'bool',
      );
      const r = await ssdNegativesTensorPooled(miner, { loss: t, positives, preset: 'ssd_keras' });
      const e = ssdNegatives({
        loss: data,
        positives: positives.dataSync() as Uint8Array,
        cols,
        preset: 'ssd_keras',
      });
      expect(Array.from(r.negatives.dataSync())).toEqual(Array.from(e.negatives));
      const p = hardNegativeMaskTensorPooled(miner, fx.labels as never, 1);
      await expect(p).rejects.toThrow(/float32/);
      await expect(ssdNegativesTensorPooled(miner, { loss: t } as never)).rejects.toThrow(
        /options\.positives/,
      );
      tf.dispose([t, m, positives, r.negatives, r.positives, r.counts]);
    } finally {
      await miner.close();
    }
  });
});

describe('on the wasm backend (@tensorflow/tfjs-backend-wasm, loaded offline from node_modules)', () => {
  it('gives the torch values and gradients, and leaks nothing', async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    expect(await tf.setBackend('wasm')).toBe(true);
    try {
      const [b, n, c] = shape;
      const data = {
        locPred: tf.tensor3d((await load('mb_loc_pred.npy')) as Float32Array, [b, n, 4]),
        locTarget: tf.tensor3d((await load('mb_loc_target.npy')) as Float32Array, [b, n, 4]),
        logits: tf.tensor3d((await load('mb_logits.npy')) as Float32Array, [b, n, c]),
        labels: tf.tensor2d((await load('mb_labels.npy')) as Int32Array, [b, n], 'int32'),
      };
      for (const [name, preset, extra] of CASES) {
        const values = (await load(`mb_${name}_values.npy`)) as Float64Array;
        const before = tf.memory().numTensors;
        const [gLoc, gLogits] = tf.grads(
          (l: tf.Tensor, g: tf.Tensor) =>
            multiboxLoss({ ...data, locPred: l as tf.Tensor3D, logits: g as tf.Tensor3D, preset, ...extra })
              .loss,
        )([data.locPred, data.logits]);
        expect(
          firstOff(gLoc!.dataSync(), (await load(`mb_${name}_grad_loc.npy`)) as Float32Array, 1e-5, 1e-7),
        ).toBe(-1);
        expect(
          firstOff(
            gLogits!.dataSync(),
            (await load(`mb_${name}_grad_logits.npy`)) as Float32Array,
            1e-5,
            1e-7,
          ),
        ).toBe(-1);
        const r = multiboxLoss({ ...data, preset, ...extra });
        expect(firstOff([r.loss.dataSync()[0]!], [values[0]!], 1e-5, 0)).toBe(-1);
        tf.dispose([gLoc!, gLogits!, r.loss, r.locLoss, r.confLoss]);
        expect(tf.memory().numTensors).toBe(before);
      }
      const t = tf.tensor2d(new Float32Array([3, 1, 2, -0, 0, 5]), [2, 3]);
      const m = hardNegativeMaskTensor(t, [2, 1]);
      expect(Array.from(m.dataSync())).toEqual([1, 0, 1, 0, 0, 1]);
      tf.dispose([t, m, ...Object.values(data)]);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
