import { checkTypedArray, describe, typedArrayKind } from '../validate.ts';
import type { LabelArray } from './confidence-loss.ts';

/** Positives as accepted by the SSD front end: 0/1 bytes, or any array-like of booleans or 0/1. */
export type PositivesInput = Uint8Array | ArrayLike<boolean> | ArrayLike<number>;

/**
 * Validates `positives` (one entry per element of the `(rows, cols)` batch, each `0`, `1`, `false` or
 * `true`) and returns it as 0/1 bytes: a `Uint8Array` is returned as it is after the check, anything
 * else is copied. O(rows * cols).
 *
 * @throws {TypeError} not an array-like.
 * @throws {RangeError} the wrong length, or an entry that is not 0/1/boolean (naming row and column).
 */
export function toPositives(
  positives: unknown,
  length: number,
  cols: number,
  name = 'positives',
): Uint8Array {
  if (
    positives === null ||
    typeof positives !== 'object' ||
    typeof (positives as ArrayLike<unknown>).length !== 'number'
  ) {
    throw new TypeError(
      `\`${name}\` must be a Uint8Array or an array-like of booleans or 0/1, got ${describe(positives)}`,
    );
  }
  const kind = typedArrayKind(positives);
  if (kind !== undefined) checkTypedArray(positives, name, kind);
  const list = positives as ArrayLike<unknown>;
  if (list.length !== length) {
    throw new RangeError(`\`${name}\` must have one entry per element (${length}), got ${list.length}`);
  }
  if (kind === 'Uint8Array') {
    const bytes = positives as Uint8Array;
    const bad = firstNonBinary(bytes, 0, length);
    if (bad >= 0) throw entryError(name, bad, cols, bytes[bad]);
    return bytes;
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const v = list[i];
    if (v === 1 || v === true) out[i] = 1;
    else if (!(v === 0 || v === false)) throw entryError(name, i, cols, v);
  }
  return out;
}

function entryError(name: string, flat: number, cols: number, value: unknown): RangeError {
  return new RangeError(
    `\`${name}\` at row ${Math.floor(flat / cols)}, column ${flat % cols} must be 0, 1 or a boolean, got ${describe(value)}`,
  );
}

/** Positives from already validated class labels: `label > 0` (0 is background). O(length). */
export function positivesFromLabels(labels: LabelArray, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (labels[i] as number) > 0 ? 1 : 0;
  return out;
}

/** Index of the first byte of `positives[start .. end)` that is neither 0 nor 1, or -1. O(end - start). */
export function firstNonBinary(positives: Uint8Array, start: number, end: number): number {
  let any = 0;
  for (let i = start; i < end; i++) any |= positives[i]!;
  if (any <= 1) return -1;
  for (let i = start; i < end; i++) if (positives[i]! > 1) return i;
  return -1;
}
