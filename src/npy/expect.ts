/**
 * Checks of a `.npy` header against what a consumer needs (shape, dtype, order), each failure an
 * {@link NpyFormatError} naming the file and the header field. The CLI's inputs use them; they read
 * only the header, never data.
 */
import { dtypeName } from './dtype.ts';
import { NpyFormatError } from './errors.ts';
import type { NpyHeader } from './header.ts';
import { formatShape } from './header.ts';

/** The error for a dtype a consumer does not accept, naming the file, `descr` and what is expected. */
export function dtypeError(file: string, header: NpyHeader, expected: string): NpyFormatError {
  return new NpyFormatError(
    file,
    'descr',
    `header field 'descr' is ${dtypeName(header.dtype)}; expected ${expected}`,
  );
}

/**
 * Fortran order changes the layout only when two or more dimensions exceed 1; such files are
 * refused (streaming rows out of a column-major file would read the whole file per chunk).
 */
export function expectCOrder(file: string, header: NpyHeader): void {
  const { shape, fortranOrder } = header;
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new NpyFormatError(
      file,
      'fortran_order',
      "header field 'fortran_order' is True; only C-order arrays can be streamed by rows " +
        '(save it with np.save(path, np.ascontiguousarray(a)))',
    );
  }
}

/**
 * The kernels and the pool index a row (and a chunk, which holds at least one row) with int32, so a
 * row of more than 2^31 - 1 elements is refused up front, even in an empty `(0, N)` array.
 */
export function expectRowLength(file: string, header: NpyHeader, elements: number, what: string): void {
  if (elements > 0x7fffffff) {
    throw new NpyFormatError(
      file,
      'shape',
      `header field 'shape' is ${formatShape(header.shape)}; a row of the ${what} may hold at most 2,147,483,647 elements`,
    );
  }
}

const FLOAT = "float32 ('<f4') or float64 ('<f8', converted to float32)";
const INTEGER = 'an integer type (int8..int64, uint8..uint64)';

/** Checks a `(B, N)` float32/float64 loss (N >= 1), C order, and returns its shape. */
export function expectLoss(file: string, header: NpyHeader, what = 'loss'): { rows: number; cols: number } {
  const { shape, dtype } = header;
  if (shape.length !== 2) {
    throw new NpyFormatError(
      file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; the ${what} must be a 2-D array (B, N)`,
    );
  }
  if (shape[1] === 0) {
    throw new NpyFormatError(
      file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; rows must not be empty`,
    );
  }
  expectRowLength(file, header, shape[1]!, what);
  if (dtype.kind !== 'f' || (dtype.size !== 4 && dtype.size !== 8)) throw dtypeError(file, header, FLOAT);
  expectCOrder(file, header);
  return { rows: shape[0]!, cols: shape[1]! };
}

/** Checks a per-row count file: integers, shape `(B,)` or `(B, 1)` with the loss's B. */
export function expectCounts(file: string, header: NpyHeader, rows: number, lossFile: string): void {
  const { shape, dtype } = header;
  const ok = (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) && shape[0] === rows;
  if (!ok) {
    throw new NpyFormatError(
      file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; expected (${rows},) or (${rows}, 1): one count per row of ${lossFile}`,
    );
  }
  if (dtype.kind !== 'i' && dtype.kind !== 'u') throw dtypeError(file, header, INTEGER);
  expectCOrder(file, header);
}

/** Checks a positives file: bool or uint8 with the loss's `(B, N)`. */
export function expectPositives(
  file: string,
  header: NpyHeader,
  rows: number,
  cols: number,
  lossFile: string,
): void {
  expectRowsCols(file, header, rows, cols, `the shape of ${lossFile}`);
  const { dtype } = header;
  if (dtype.size !== 1 || (dtype.kind !== 'b' && dtype.kind !== 'u')) {
    throw dtypeError(file, header, "bool ('|b1') or uint8 ('|u1')");
  }
  expectCOrder(file, header);
}

/** Checks logits: float32/float64 `(B, N, C)` with N, C >= 1, C order; returns the three sizes. */
export function expectLogits(
  file: string,
  header: NpyHeader,
): { rows: number; cols: number; classes: number } {
  const { shape, dtype } = header;
  if (shape.length !== 3 || shape[1] === 0 || shape[2] === 0) {
    throw new NpyFormatError(
      file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; the logits must be a 3-D array (B, N, C) with N, C >= 1`,
    );
  }
  expectRowLength(file, header, shape[1]! * shape[2]!, 'logits');
  if (dtype.kind !== 'f' || (dtype.size !== 4 && dtype.size !== 8)) throw dtypeError(file, header, FLOAT);
  expectCOrder(file, header);
  return { rows: shape[0]!, cols: shape[1]!, classes: shape[2]! };
}

/** Checks labels: integers `(B, N)`, the first two dimensions of the logits. */
export function expectLabels(
  file: string,
  header: NpyHeader,
  rows: number,
  cols: number,
  logitsFile: string,
): void {
  expectRowsCols(file, header, rows, cols, `the first two dimensions of ${logitsFile}`);
  if (header.dtype.kind !== 'i' && header.dtype.kind !== 'u') throw dtypeError(file, header, INTEGER);
  expectCOrder(file, header);
}

/** A `(rows, cols)` shape taken from another file (`source` says which and how, for the message). */
function expectRowsCols(file: string, header: NpyHeader, rows: number, cols: number, source: string): void {
  const { shape } = header;
  if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) {
    throw new NpyFormatError(
      file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; expected (${rows}, ${cols}), ${source}`,
    );
  }
}
