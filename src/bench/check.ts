/**
 * How the harness decides that an implementation is exact: its output must equal, byte for byte, a
 * mask that is itself certified against the definition (the first `k` elements of the stable
 * descending order of each row), so no result is trusted because of who produced it.
 */

import { byteView, describe } from '../validate.ts';

/** Outcome of {@link compareMask}: `ok`, or why not, in words a user can act on. */
export type MaskCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Compares an implementation's result with the exact mask. A result must be a `Uint8Array` (a
 * `Buffer` is one) of `expected.length` bytes equal to `expected`; anything else is reported with
 * the first differing row and column (0-based) and the number of wrong elements. O(rows * cols).
 */
export function compareMask(got: unknown, expected: Uint8Array, cols: number): MaskCheck {
  const bytes = byteView(got, 'Uint8Array');
  if (bytes === undefined) {
    return { ok: false, reason: `returned ${describe(got)}, expected a Uint8Array` };
  }
  return compareBytes(bytes, expected, cols);
}

function compareBytes(got: Uint8Array, expected: Uint8Array, cols: number): MaskCheck {
  if (got.length !== expected.length) {
    return {
      ok: false,
      reason: `returned ${got.length} elements, expected ${expected.length} (rows * cols)`,
    };
  }
  let first = -1;
  let wrong = 0;
  for (let i = 0; i < expected.length; i++) {
    if (got[i] !== expected[i]) {
      if (first < 0) first = i;
      wrong++;
    }
  }
  if (first < 0) return { ok: true };
  const row = Math.floor(first / cols);
  const col = first % cols;
  return {
    ok: false,
    reason: `wrong mask: row ${row}, column ${col} is ${got[first]}, expected ${expected[first]} (${wrong} of ${expected.length} elements differ)`,
  };
}

/**
 * Checks a 0/1 mask against the definition without sorting, independently of the kernels: in every
 * row it must select exactly `min(k, cols)` elements, and the last selected element in the stable
 * descending order (smallest loss, then largest index) must come before the first unselected one
 * (largest loss, then smallest index). `-0` and `+0` tie, as JS comparison already treats them.
 * The loss must not contain NaN. Returns the first failing row, or -1. O(rows * cols).
 */
export function certifyMask(loss: Float32Array, cols: number, numNeg: Int32Array, mask: Uint8Array): number {
  const rows = numNeg.length;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const k = Math.max(0, Math.min(cols, numNeg[r]!));
    let selected = 0;
    let lastSel = -1;
    let firstUnsel = -1;
    for (let i = 0; i < cols; i++) {
      const m = mask[base + i]!;
      const x = loss[base + i]!;
      if (m === 1) {
        selected++;
        // `<=`: among equal losses the later index comes later in the order.
        if (lastSel < 0 || x <= loss[base + lastSel]!) lastSel = i;
      } else if (m === 0) {
        // `>` only: among equal losses the earlier index comes first.
        if (firstUnsel < 0 || x > loss[base + firstUnsel]!) firstUnsel = i;
      } else {
        return r;
      }
    }
    if (selected !== k) return r;
    if (lastSel >= 0 && firstUnsel >= 0) {
      const a = loss[base + lastSel]!;
      const b = loss[base + firstUnsel]!;
      if (!(a > b || (a === b && lastSel < firstUnsel))) return r;
    }
  }
  return -1;
}
