/**
 * Argument checks of the TensorFlow.js API: each wrong type, rank, dtype or shape is a TypeError or
 * RangeError naming the argument and the expected shape. Also the typed readbacks (`dataSync()`
 * returns a union type; these narrow it after the dtype check).
 */
import type { DataType, Tensor } from '@tensorflow/tfjs-core';
import { Tensor as TensorClass } from '@tensorflow/tfjs-core';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * `value` must be a live tensor of `rank` dimensions whose dtype is one of `dtypes`; `expected` is
 * the shape in words for the message (`'[B, N, 4]'`).
 */
export function checkTensor(
  value: unknown,
  name: string,
  rank: number,
  dtypes: readonly DataType[],
  expected: string,
): Tensor {
  if (!(value instanceof TensorClass)) {
    throw new TypeError(`\`${name}\` must be a tf.Tensor of shape ${expected}, got ${describe(value)}`);
  }
  if (value.isDisposed) throw new TypeError(`\`${name}\` is a disposed tensor`);
  if (value.rank !== rank) {
    throw new RangeError(
      `\`${name}\` must have rank ${rank} (shape ${expected}), got shape [${value.shape.join(', ')}]`,
    );
  }
  if (!dtypes.includes(value.dtype)) {
    throw new TypeError(
      `\`${name}\` must have dtype ${dtypes.map((d) => `'${d}'`).join(' or ')}, got '${value.dtype}'`,
    );
  }
  return value;
}

/** `tensor.shape[axis]` must equal `size`. */
export function checkDim(tensor: Tensor, name: string, axis: number, size: number, expected: string): void {
  if (tensor.shape[axis] !== size) {
    throw new RangeError(
      `\`${name}\` must have shape ${expected} (dimension ${axis} = ${size}), got [${tensor.shape.join(', ')}]`,
    );
  }
}

/** `cols` (N) of a `[B, N]`-like tensor must be at least 1. */
export function checkCols(tensor: Tensor, name: string, expected: string): void {
  if ((tensor.shape[1] ?? 0) < 1) {
    throw new RangeError(
      `\`${name}\` must have at least one box per row (shape ${expected}), got [${tensor.shape.join(', ')}]`,
    );
  }
}

/** The float32 contents of a float32 tensor (checked before). */
export function floatData(tensor: Tensor): Float32Array {
  return tensor.dataSync() as Float32Array;
}

/** The int32 contents of an int32 tensor (checked before). */
export function intData(tensor: Tensor): Int32Array {
  return tensor.dataSync() as Int32Array;
}

/** A bool tensor's contents as 0/1 bytes, or an int32 tensor's that must hold only 0 and 1. */
export function maskBytes(tensor: Tensor, name: string, data?: ArrayLike<number>): Uint8Array {
  const values = data ?? (tensor.dataSync() as Uint8Array | Int32Array);
  if (tensor.dtype === 'bool') {
    return values instanceof Uint8Array ? values : Uint8Array.from(values);
  }
  const out = new Uint8Array(values.length);
  const cols = tensor.shape[1] ?? 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== 0 && v !== 1) {
      throw new RangeError(
        `\`${name}\` at row ${Math.floor(i / cols)}, column ${i % cols} must be 0 or 1, got ${v}`,
      );
    }
    out[i] = v;
  }
  return out;
}

/**
 * Class labels `[B, N]` in `0 .. classes - 1`: returns the positives (`label > 0`) as bytes and the
 * positives per row.
 */
export function checkLabels(
  labels: Int32Array,
  rows: number,
  cols: number,
  classes: number,
  name: string,
): { positives: Uint8Array; perRow: Int32Array } {
  const positives = new Uint8Array(labels.length);
  const perRow = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let count = 0;
    for (let i = r * cols, end = i + cols; i < end; i++) {
      const v = labels[i]!;
      if (v < 0 || v >= classes) {
        throw new RangeError(
          `\`${name}\` at row ${r}, column ${i - r * cols} must be a class in 0 .. ${classes - 1}, got ${v}`,
        );
      }
      if (v > 0) {
        positives[i] = 1;
        count++;
      }
    }
    perRow[r] = count;
  }
  return { positives, perRow };
}

/** Options must be an object. */
export function checkOptions(options: unknown, name = 'options'): void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`\`${name}\` must be an object, got ${describe(options)}`);
  }
}
