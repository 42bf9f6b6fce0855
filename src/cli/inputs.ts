import { NpyFormatError } from '../npy/errors.ts';
import { formatShape } from '../npy/header.ts';
import { NpyReader } from '../npy/reader.ts';
import { fileError } from './errors.ts';

/** Opens an input `.npy` file; a missing or unreadable file becomes a `DataError` naming it. */
export async function openInput(file: string): Promise<NpyReader> {
  try {
    return await NpyReader.open(file);
  } catch (e) {
    throw fileError(e, 'read', file);
  }
}

/**
 * Fortran order changes the layout only when two or more dimensions exceed 1; such files are
 * rejected (streaming rows out of a column-major file would read the whole file per chunk).
 */
export function checkOrder(reader: NpyReader): void {
  const { shape, fortranOrder } = reader.header;
  if (fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new NpyFormatError(
      reader.file,
      'fortran_order',
      "header field 'fortran_order' is True; only C-order arrays can be streamed by rows " +
        '(save it with np.save(path, np.ascontiguousarray(a)))',
    );
  }
}

/**
 * The kernels and the pool index a row (and a chunk, which holds at least one row) with int32, so a
 * row of more than 2^31 - 1 elements is refused up front, even in an empty `(0, N)` array: without
 * this check such a header reached the chunk allocation and failed there as an internal error.
 */
export function checkRowLength(reader: NpyReader, elements: number, what: string): void {
  if (elements > 0x7fffffff) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(reader.header.shape)}; a row of the ${what} may hold at most 2,147,483,647 elements`,
    );
  }
}

/** Checks a `(B, N)` float32/float64 loss (N >= 1) and returns its shape. */
export function checkLossFile(reader: NpyReader, what = 'loss'): { rows: number; cols: number } {
  const { shape, dtype } = reader.header;
  if (shape.length !== 2) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; the ${what} must be a 2-D array (B, N)`,
    );
  }
  if (shape[1] === 0) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; rows must not be empty`,
    );
  }
  checkRowLength(reader, shape[1]!, what);
  if (dtype.kind !== 'f' || (dtype.size !== 4 && dtype.size !== 8)) {
    throw reader.dtypeError("float32 ('<f4') or float64 ('<f8', converted to float32)");
  }
  checkOrder(reader);
  return { rows: shape[0]!, cols: shape[1]! };
}

/** Checks a per-row count file: integers, shape `(B,)` or `(B, 1)` with the loss's B. */
export function checkCountsFile(reader: NpyReader, rows: number, lossFile: string): void {
  const { shape, dtype } = reader.header;
  const ok = (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) && shape[0] === rows;
  if (!ok) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; expected (${rows},) or (${rows}, 1): one count per row of ${lossFile}`,
    );
  }
  if (dtype.kind !== 'i' && dtype.kind !== 'u')
    throw reader.dtypeError('an integer type (int8..int64, uint8..uint64)');
  checkOrder(reader);
}

/** Checks a positives file: bool or uint8, the loss's `(B, N)`. */
export function checkPositivesFile(reader: NpyReader, rows: number, cols: number, lossFile: string): void {
  const { shape, dtype } = reader.header;
  if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; expected (${rows}, ${cols}), the shape of ${lossFile}`,
    );
  }
  if (dtype.size !== 1 || (dtype.kind !== 'b' && dtype.kind !== 'u')) {
    throw reader.dtypeError("bool ('|b1') or uint8 ('|u1')");
  }
  checkOrder(reader);
}
