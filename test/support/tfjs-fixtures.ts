/**
 * The torch-made MultiBox fixtures of test/fixtures/tfjs/ (see make_tfjs_fixtures.py), loaded as
 * tensors, and the tolerance check the tfjs tests compare them with.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { readNpy } from '../../src/npy/small.ts';

export const FIXTURES = join(fileURLToPath(new URL('..', import.meta.url)), 'fixtures', 'tfjs');

/** The data of fixture file `name`. */
export const load = async (name: string) => (await readNpy(join(FIXTURES, name))).data;

/** Elementwise within `rel` relative with an absolute floor `abs`; the first index that is off, or -1. */
export function firstOff(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, abs: number): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= Math.max(rel * Math.abs(b[i]!), abs))) return i;
  }
  return -1;
}

/** A MultiBox fixture's inputs, `(B, N, C)` logits. */
export interface MultiboxFixture {
  locPred: tf.Tensor3D;
  locTarget: tf.Tensor3D;
  logits: tf.Tensor3D;
  labels: tf.Tensor2D;
}

/**
 * Loads `${prefix}_loc_pred.npy`, `_loc_target`, `_logits` and `_labels` as tensors on the CPU
 * backend, with the logits' shape `[B, N, C]`.
 */
export async function loadMultibox(
  prefix: string,
): Promise<{ fx: MultiboxFixture; shape: [number, number, number] }> {
  await tf.setBackend('cpu');
  const logits = await readNpy(join(FIXTURES, `${prefix}_logits.npy`));
  const shape = logits.shape as [number, number, number];
  const [b, n, c] = shape;
  const fx = {
    locPred: tf.tensor3d((await load(`${prefix}_loc_pred.npy`)) as Float32Array, [b, n, 4]),
    locTarget: tf.tensor3d((await load(`${prefix}_loc_target.npy`)) as Float32Array, [b, n, 4]),
    logits: tf.tensor3d(logits.data as Float32Array, [b, n, c]),
    labels: tf.tensor2d((await load(`${prefix}_labels.npy`)) as Int32Array, [b, n], 'int32'),
  };
  return { fx, shape };
}
