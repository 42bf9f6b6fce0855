/**
 * The differentiable pieces `multiboxLoss` builds on: the per-box cross-entropy as one custom op, and a
 * smooth-L1 sum without comparison ops. Shared by every preset's reduction.
 */
import type { GradSaveFunc, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { KERAS_MAX_LOSS } from './reductions.ts';

/**
 * Per-box cross-entropy `[B, N]` of `[B, N, C]` logits as one custom op: `logsumexp(x) - x[label]`
 * computed per box in float64 (max subtracted first, so it is stable) and rounded to float32, with
 * the analytic gradient `dy · (softmax(x) - onehot(label))`. The tfjs CPU backend evaluates the
 * composite form (max, broadcast subtract, exp, sum, log, one-hot product) several times slower, and
 * the values are needed on the CPU for the mining anyway. `clamp` caps a box's loss at ssd_keras'
 * `-log(1e-15)`, with no gradient beyond it. `sink.ce` receives the forward values.
 */
export function crossEntropy(
  logits: Tensor3D,
  labels: Int32Array,
  clamp: boolean,
  sink: { ce?: Float32Array },
): Tensor2D {
  const [rows, cols, classes] = logits.shape;
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const x = (args[0] as Tensor).dataSync() as Float32Array;
    const boxes = rows * cols;
    const ce = new Float32Array(boxes);
    const prob = new Float32Array(x.length);
    for (let i = 0; i < boxes; i++) {
      const o = i * classes;
      let max = x[o]!;
      for (let c = 1; c < classes; c++) if (x[o + c]! > max) max = x[o + c]!;
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        const e = Math.exp(x[o + c]! - max);
        prob[o + c] = e;
        sum += e;
      }
      let loss = max + Math.log(sum) - x[o + labels[i]!]!;
      if (clamp && loss > KERAS_MAX_LOSS) {
        loss = KERAS_MAX_LOSS;
        prob.fill(0, o, o + classes);
        ce[i] = loss;
        continue;
      }
      ce[i] = loss;
      const inv = 1 / sum;
      for (let c = 0; c < classes; c++) prob[o + c] = prob[o + c]! * inv;
      prob[o + labels[i]!]! -= 1;
    }
    sink.ce = ce;
    return {
      value: tf.tensor2d(ce, [rows, cols], 'float32'),
      gradFunc: (dy: Tensor) => {
        const d = dy.dataSync() as Float32Array;
        const grad = new Float32Array(prob.length);
        for (let i = 0; i < boxes; i++) {
          const g = d[i]!;
          if (g === 0) continue;
          const o = i * classes;
          for (let c = 0; c < classes; c++) grad[o + c] = g * prob[o + c]!;
        }
        return tf.tensor3d(grad, [rows, cols, classes], 'float32');
      },
    };
  });
  return op(logits) as Tensor2D;
}

/**
 * Σ smooth-L1 of `d` with `beta` (`0.5 d² / beta` where `|d| < beta`, else `|d| - 0.5 beta`), as
 * `0.5 Σ m² / beta + Σ (|d| - m)` with `m = clip(|d|, 0, beta)`: the same values and gradients, with no
 * comparison op (tfjs registers no gradient for `less`) and no broadcast against a scalar at full size
 * (slow on the CPU backend); the scalars multiply the sums.
 */
export function smoothL1Sum(d: Tensor, beta: number): Tensor {
  const abs = tf.abs(d);
  const m = tf.clipByValue(abs, 0, beta);
  return tf.add(tf.mul(tf.sum(tf.square(m)), 0.5 / beta), tf.sum(tf.sub(abs, m)));
}
