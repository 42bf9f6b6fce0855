import { firstNan } from '../kernel/select-rows.ts';
import { bitsOf } from '../validate.ts';
import { DataError } from './errors.ts';

/** Rows of a loss file held in memory for one step of the stream. */
export interface LossChunk {
  /** The chunk's first row, counted in the whole file (0-based). */
  readonly rowStart: number;
  readonly rows: number;
  readonly cols: number;
  /** `rows * cols` float32 losses, row-major; counting may rewrite it (e.g. zero the positives). */
  readonly loss: Float32Array;
  /** `label > 0` per element, when the losses were computed from logits and labels. */
  readonly positives?: Uint8Array;
}

/**
 * The first NaN of `chunk` as a {@link DataError} naming the file, row (in the whole file) and
 * column, or undefined when there is none. Cost: one pass over the chunk's bits.
 */
export function findNan(lossFile: string, chunk: LossChunk): DataError | undefined {
  const at = firstNan(bitsOf(chunk.loss), 0, chunk.loss.length);
  if (at < 0) return undefined;
  const row = chunk.rowStart + Math.floor(at / chunk.cols);
  const col = at % chunk.cols;
  return new DataError(
    `${lossFile}: loss is NaN at row ${row}, column ${col}; pass --nan largest to rank NaN above +Inf as PyTorch does`,
  );
}

/**
 * The library's NaN error (a `RangeError` with `row` and `column` within the chunk) as a
 * {@link DataError} naming the file and the row in the whole file; any other error unchanged.
 */
export function nanInFile(e: unknown, lossFile: string, chunk: LossChunk): unknown {
  const { row, column } = e as { row?: unknown; column?: unknown };
  if (!(e instanceof RangeError) || typeof row !== 'number' || typeof column !== 'number') return e;
  return new DataError(
    `${lossFile}: loss is NaN at row ${chunk.rowStart + row}, column ${column}; pass --nan largest to rank NaN above +Inf as PyTorch does`,
  );
}
