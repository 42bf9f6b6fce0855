/**
 * The parameter objects of the SSD front end's row functions (`countRows`, `rewriteRows`,
 * `prepareImageRows`, `prepareBatch`, `prepareSsdChunk`): a block of whole rows and a row range, so
 * that `rows` and `cols` are named at every call and cannot be swapped silently.
 */

/** Whole rows in memory: the loss as float32 bits and the 0/1 positives, `rows * cols` each. */
export interface RowBlock {
  /** An `Int32Array` view of the float32 loss (`bitsOf(loss)`). */
  readonly bits: Int32Array;
  readonly positives: Uint8Array;
  readonly rows: number;
  readonly cols: number;
}

/** Rows `start .. end - 1` of a block. */
export interface RowRange {
  readonly start: number;
  readonly end: number;
}

/** Every row of `block`. */
export function allRows(block: { readonly rows: number }): RowRange {
  return { start: 0, end: block.rows };
}
