import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { train } from '../examples/tfjs-train-ssd.ts';
import { defaultBoxes, matchTargetsBatch } from '../src/index.ts';
import { multiboxLoss } from '../src/tfjs/index.ts';

describe('examples/tfjs-train-ssd.ts', () => {
  it('trains the tiny SSD head: the loss goes down over a few steps', async () => {
    const lines: string[] = [];
    const report = await train({ steps: 4, log: (line) => lines.push(line) });
    expect(report.losses).toHaveLength(4);
    expect(report.losses.every(Number.isFinite)).toBe(true);
    expect(report.losses[3]!).toBeLessThan(report.losses[0]!);
    expect(report.miningShare).toBeGreaterThan(0);
    expect(report.miningShare).toBeLessThan(1);
    expect(lines[0]).toMatch(
      /^step {2}1 {2}loss \d+\.\d{4} {2}step [\d.]+ ms {2}mining [\d.]+ ms \([\d.]+%\)$/,
    );
  });
});

describe("README's shortest loop", () => {
  it('runs as written and the loss goes down', async () => {
    await tf.setBackend('cpu');
    const images = [
      { truths: new Float32Array([0.1, 0.2, 0.5, 0.6]), labels: new Int32Array([11]) },
      { truths: new Float32Array([0.3, 0.3, 0.9, 0.8, 0, 0, 0.2, 0.4]), labels: new Int32Array([0, 6]) },
    ];
    const priors = defaultBoxes();
    const { loc, conf } = matchTargetsBatch({ images, priors });
    const [B, N, C] = [images.length, priors.length / 4, 21];
    const locTarget = tf.tensor3d(loc, [B, N, 4]);
    const labels = tf.tensor2d(conf, [B, N], 'int32');
    const locPred = tf.variable(tf.zeros<tf.Rank.R3>([B, N, 4]));
    const logits = tf.variable(tf.zeros<tf.Rank.R3>([B, N, C]));
    const optimizer = tf.train.adam(0.05);
    const costs: number[] = [];
    for (let step = 0; step < 3; step++) {
      const cost = optimizer.minimize(() => multiboxLoss({ locPred, locTarget, logits, labels }).loss, true);
      costs.push(cost!.dataSync()[0]!);
      cost?.dispose();
    }
    expect(costs[2]!).toBeLessThan(costs[0]!);
    tf.dispose([locTarget, labels, locPred, logits]);
    optimizer.dispose();
  });
});
