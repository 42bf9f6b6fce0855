/**
 * TensorFlow.js benchmark: the hard negative mining's share of a `multiboxLoss` forward + backward
 * pass on the CPU backend (issue target: under 5%), at B = 8 and 32, N = 8732 (SSD300), C = 21 (VOC),
 * about 20 positives per image, preset ssd.pytorch.
 *
 * Per batch size, side by side in one run:
 * - `fwd+bwd`: `tf.grads` of `multiboxLoss(...).loss` with respect to `locPred` and `logits`, the
 *   mining included (what a training step pays for the loss);
 * - `fwd+bwd, mask given`: the same with a precomputed `negatives` mask (the tf ops alone);
 * - `mining`: `ssdNegatives` on the same cross-entropy values, exactly the mining `multiboxLoss` runs.
 * The share is median(mining) / median(fwd+bwd).
 *
 * Run: `npm run bench:tfjs` (builds, then `node dist/bench/tfjs.bench.js [--time MS] [--batches 8,32]`).
 * Medians of at least 5 iterations: this 2-core machine is shared and noisy.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { Bench } from 'tinybench';
import { ssdNegatives } from '../src/index.ts';
import { multiboxLoss } from '../src/tfjs/index.ts';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '2000' },
    batches: { type: 'string', default: '8,32' },
  },
});
const time = Number(values.time);
const batches = values.batches.split(',').map(Number);
const N = 8732;
const C = 21;

await tf.setBackend('cpu');
await tf.ready();

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Row {
  batch: number;
  task: string;
  medianMs: number;
}
const rows: Row[] = [];
const shares: { batch: number; share: number; tfOpsMs: number }[] = [];

for (const B of batches) {
  const rand = lcg(B);
  const labelData = new Int32Array(B * N);
  for (let i = 0; i < labelData.length; i++)
    if (rand() < 20 / N) labelData[i] = 1 + Math.floor(rand() * (C - 1));
  const positives = Uint8Array.from(labelData, (v) => (v > 0 ? 1 : 0));
  const normal = (n: number) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 4);
  const locPred = tf.tensor3d(normal(B * N * 4), [B, N, 4]);
  const locTarget = tf.tensor3d(normal(B * N * 4), [B, N, 4]);
  const logits = tf.tensor3d(normal(B * N * C), [B, N, C]);
  const labels = tf.tensor2d(labelData, [B, N], 'int32');
  // The cross-entropy multiboxLoss mines on, for the mining-only task.
  const x = logits.dataSync() as Float32Array;
  const ce = new Float32Array(B * N);
  for (let i = 0; i < B * N; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < C; c++) max = Math.max(max, x[i * C + c]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(x[i * C + c]! - max);
    ce[i] = max + Math.log(sum) - x[i * C + labelData[i]!]!;
  }
  const negatives = tf.tensor2d(ssdNegatives({ loss: ce, positives, cols: N }).negatives, [B, N], 'bool');
  const grads = (given: tf.Tensor2D | undefined) =>
    tf.grads((l: tf.Tensor, g: tf.Tensor) => {
      const r = multiboxLoss({
        locPred: l as tf.Tensor3D,
        locTarget,
        logits: g as tf.Tensor3D,
        labels,
        ...(given === undefined ? {} : { negatives: given }),
      });
      return r.loss;
    });
  const withMining = grads(undefined);
  const withMask = grads(negatives);
  const before = tf.memory().numTensors;

  const bench = new Bench({ time, iterations: 5, warmupTime: 0, warmupIterations: 1 });
  bench.add('fwd+bwd', () => {
    const gs = withMining([locPred, logits]);
    gs[1]!.dataSync();
    tf.dispose(gs);
  });
  bench.add('fwd+bwd, mask given', () => {
    const gs = withMask([locPred, logits]);
    gs[1]!.dataSync();
    tf.dispose(gs);
  });
  bench.add('mining', () => {
    ssdNegatives({ loss: ce, positives, cols: N });
  });
  await bench.run();
  if (tf.memory().numTensors !== before) throw new Error('tensors leaked during the benchmark');
  const median: Record<string, number> = {};
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    median[task.name] = result.latency.p50;
    rows.push({ batch: B, task: task.name, medianMs: result.latency.p50 });
  }
  shares.push({
    batch: B,
    share: median.mining! / median['fwd+bwd']!,
    tfOpsMs: median['fwd+bwd, mask given']!,
  });
  tf.dispose([locPred, locTarget, logits, labels, negatives]);
}

console.log(
  `tfjs benchmark: @tensorflow/tfjs ${tf.version.tfjs} CPU backend, N = ${N}, C = ${C}, preset ssd.pytorch, Node ${process.version}, medians`,
);
console.table(rows.map((r) => ({ B: r.batch, task: r.task, 'median ms': Number(r.medianMs.toFixed(2)) })));
for (const s of shares) {
  console.log(
    `B = ${s.batch}: mining is ${(100 * s.share).toFixed(2)}% of multiboxLoss forward+backward (tf ops alone: ${s.tfOpsMs.toFixed(1)} ms)`,
  );
}
