/**
 * A tiny SSD-style head trained with `multiboxLoss` on the TensorFlow.js CPU backend.
 *
 * Synthetic data: each image has 1-3 boxes of 3 classes; its feature maps (38, 19, 10, 5, 3, 1 cells,
 * as SSD300's) hold a Gaussian bump per object in its class channel, plus two coordinate channels.
 * The head is a hidden 1×1 convolution per map and two output ones (SSD's layout: per cell, per default
 * box, 4 offsets and C class logits), the targets come from `matchTargetsBatch` against the 8732 default boxes, and each
 * step mines the hard negatives (timed) and minimises the MultiBox loss with Adam.
 *
 * Run: `npm run example:tfjs` (30 steps), or `node dist/examples/tfjs-train-ssd.js [steps]`.
 */
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { defaultBoxes, matchTargetsBatch, SSD300_CONFIG } from '../src/index.ts';
import { multiboxLoss, ssdNegativesTensor } from '../src/tfjs/index.ts';

const CLASSES = 4; // background + 3
const FEATURES = 5; // 3 class channels + x and y
const HIDDEN = 16;

/** Options of {@link train}. */
export interface TrainOptions {
  steps?: number;
  batch?: number;
  seed?: number;
  learningRate?: number;
  /** Called with one line per step; nothing is printed when omitted. */
  log?: (line: string) => void;
}

/** What {@link train} measured. */
export interface TrainReport {
  losses: number[];
  /** Per step: milliseconds of the whole step, and of the mining in it. */
  stepMs: number[];
  miningMs: number[];
  /** Σ mining / Σ step. */
  miningShare: number;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Batch {
  features: tf.Tensor4D[];
  locTarget: tf.Tensor3D;
  labels: tf.Tensor2D;
}

function syntheticBatch(batch: number, priors: Float32Array, rand: () => number): Batch {
  const images: { truths: Float32Array; labels: Int32Array }[] = [];
  for (let b = 0; b < batch; b++) {
    const m = 1 + Math.floor(rand() * 3);
    const truths = new Float32Array(m * 4);
    const labels = new Int32Array(m);
    for (let j = 0; j < m; j++) {
      const w = 0.1 + rand() * 0.4;
      const h = 0.1 + rand() * 0.4;
      const x = rand() * (1 - w);
      const y = rand() * (1 - h);
      truths.set([x, y, x + w, y + h], j * 4);
      labels[j] = Math.floor(rand() * (CLASSES - 1));
    }
    images.push({ truths, labels });
  }
  const { loc, conf } = matchTargetsBatch({ images, priors });
  const n = priors.length / 4;
  const features = SSD300_CONFIG.featureMaps.map((f) => {
    const data = new Float32Array(batch * f * f * FEATURES);
    for (let b = 0; b < batch; b++) {
      const { truths, labels } = images[b]!;
      for (let i = 0; i < f; i++) {
        for (let j = 0; j < f; j++) {
          const o = ((b * f + i) * f + j) * FEATURES;
          const cx = (j + 0.5) / f;
          const cy = (i + 0.5) / f;
          data[o + 3] = cx;
          data[o + 4] = cy;
          for (let t = 0; t < labels.length; t++) {
            const tx = (truths[t * 4]! + truths[t * 4 + 2]!) / 2;
            const ty = (truths[t * 4 + 1]! + truths[t * 4 + 3]!) / 2;
            const s = (truths[t * 4 + 2]! - truths[t * 4]!) / 2;
            const g = Math.exp(-((cx - tx) ** 2 + (cy - ty) ** 2) / (2 * s * s));
            data[o + labels[t]!]! += g;
          }
        }
      }
    }
    return tf.tensor4d(data, [batch, f, f, FEATURES]);
  });
  return {
    features,
    locTarget: tf.tensor3d(loc, [batch, n, 4]),
    labels: tf.tensor2d(conf, [batch, n], 'int32'),
  };
}

/** Boxes per cell of each map: 2 square + 2 per extra aspect ratio. */
const ANCHORS = SSD300_CONFIG.aspectRatios.map((a) => 2 + 2 * a.length);

function makeHead(rand: () => number): tf.Variable[] {
  const normal = (shape: number[], scale: number) =>
    tf.variable(
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() - 0.5) * scale),
        shape,
      ),
    );
  const vars: tf.Variable[] = [];
  for (const a of ANCHORS) {
    vars.push(normal([FEATURES, HIDDEN], 1), tf.variable(tf.zeros([HIDDEN])));
    vars.push(normal([HIDDEN, a * 4], 0.4), tf.variable(tf.zeros([a * 4])));
    vars.push(normal([HIDDEN, a * CLASSES], 0.4), tf.variable(tf.zeros([a * CLASSES])));
  }
  return vars;
}

/** The head's `[B, 8732, 4]` offsets and `[B, 8732, C]` logits, in the default boxes' order. */
function forward(
  vars: tf.Variable[],
  features: tf.Tensor4D[],
): { locPred: tf.Tensor3D; logits: tf.Tensor3D } {
  const batch = features[0]!.shape[0];
  const locs: tf.Tensor[] = [];
  const confs: tf.Tensor[] = [];
  features.forEach((x, k) => {
    const [w1, b1, wl, bl, wc, bc] = vars.slice(k * 6, k * 6 + 6) as tf.Tensor2D[];
    // 1×1 convolutions, as matrix products over the cells (the CPU backend's conv2d gradient is
    // slow); separate offset and class outputs (its split gradient is slow too).
    const cells = tf.reshape(x, [-1, FEATURES]);
    const h = tf.relu(tf.add(tf.matMul(cells, w1!), b1!));
    locs.push(tf.reshape(tf.add(tf.matMul(h, wl!), bl!), [batch, -1, 4]));
    confs.push(tf.reshape(tf.add(tf.matMul(h, wc!), bc!), [batch, -1, CLASSES]));
  });
  return { locPred: tf.concat(locs, 1) as tf.Tensor3D, logits: tf.concat(confs, 1) as tf.Tensor3D };
}

/**
 * Trains the head for `steps` steps on one synthetic batch (overfitting it, which is what shows the
 * loss and its gradients work) and reports the loss and the mining's share of each step.
 */
export async function train(options: TrainOptions = {}): Promise<TrainReport> {
  await tf.setBackend('cpu');
  await tf.ready();
  const steps = options.steps ?? 30;
  const rand = lcg(options.seed ?? 1);
  const priors = defaultBoxes();
  const data = syntheticBatch(options.batch ?? 4, priors, rand);
  const positives = tf.greater(data.labels, 0) as tf.Tensor2D;
  const vars = makeHead(rand);
  const optimizer = tf.train.adam(options.learningRate ?? 0.01);
  const report: TrainReport = { losses: [], stepMs: [], miningMs: [], miningShare: 0 };
  for (let step = 0; step < steps; step++) {
    let mining = 0;
    const t0 = performance.now();
    const cost = optimizer.minimize(() => {
      const { locPred, logits } = forward(vars, data.features);
      // Mining, timed on its own: the per-box cross-entropy read back and mined (ssd.pytorch rules).
      const ce = tf.sub(tf.logSumExp(logits, 2), tf.sum(tf.mul(logits, tf.oneHot(data.labels, CLASSES)), 2));
      const m0 = performance.now();
      const mined = ssdNegativesTensor({ loss: ce as tf.Tensor2D, positives });
      mining = performance.now() - m0;
      const { loss } = multiboxLoss({
        locPred,
        locTarget: data.locTarget,
        logits,
        labels: data.labels,
        negatives: mined.negatives,
      });
      return loss;
    }, true);
    const value = cost!.dataSync()[0]!;
    cost!.dispose();
    const ms = performance.now() - t0;
    report.losses.push(value);
    report.stepMs.push(ms);
    report.miningMs.push(mining);
    options.log?.(
      `step ${String(step + 1).padStart(2)}  loss ${value.toFixed(4)}  step ${ms.toFixed(1)} ms  mining ${mining.toFixed(2)} ms (${((100 * mining) / ms).toFixed(2)}%)`,
    );
  }
  const total = report.stepMs.reduce((a, b) => a + b, 0);
  report.miningShare = report.miningMs.reduce((a, b) => a + b, 0) / total;
  tf.dispose([...vars, ...data.features, data.locTarget, data.labels, positives]);
  optimizer.dispose();
  return report;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const steps = Number(process.argv[2] ?? 30);
  const report = await train({ steps, log: (line) => console.log(line) });
  console.log(
    `loss ${report.losses[0]!.toFixed(4)} -> ${report.losses.at(-1)!.toFixed(4)}; mining ${(100 * report.miningShare).toFixed(2)}% of the step time`,
  );
}
