import { firstNan } from '../kernel/select-rows.ts';
import { expectLabels, expectLogits, expectLoss } from '../npy/expect.ts';
import { NpyReader } from '../npy/reader.ts';
import { confidenceLoss } from '../ssd/confidence-loss.ts';
import type { NanPolicy } from '../validate.ts';
import { bitsOf } from '../validate.ts';
import { DataError, fileError } from './errors.ts';
import type { LossChunk } from './nan.ts';

/**
 * Where a streamed command's losses come from, chunk by chunk, in row order: a loss file, or
 * logits with labels turned into `loss_c` (and positives) in memory. Reads must go forward (an
 * input may be a pipe).
 */
export interface LossSource {
  /** The file named in messages about the losses (`--loss` or `--logits`). */
  readonly file: string;
  readonly rows: number;
  readonly cols: number;
  /** The shape in the header of {@link LossSource.file} (for messages). */
  readonly shape: readonly number[];
  /** Bytes read per row: what bounds the chunk size. */
  readonly rowBytes: number;
  /** `'<f8'` (or `'>f8'`) when float64 data is rounded to float32 on reading, else undefined. */
  readonly convertedFrom: string | undefined;
  /**
   * Reads rows `rowStart .. rowStart + rows - 1` into `loss` (`rows * cols`). `slot` (0 or 1) picks
   * the buffer of anything else the chunk carries, so the chunk read ahead does not overwrite the
   * one being mined.
   */
  read(rowStart: number, rows: number, loss: Float32Array, slot: 0 | 1): Promise<LossChunk>;
  close(): Promise<void>;
}

/** Opens an input `.npy` file (`'-'`: stdin); a missing or unreadable file becomes a `DataError` naming it. */
export async function openInput(file: string): Promise<NpyReader> {
  try {
    return await NpyReader.open(file);
  } catch (e) {
    throw fileError(e, 'read', file);
  }
}

/**
 * A read failure as a `DataError`: a stream that ran out names the row where its data ended
 * (`perRow` elements a row), other `fs` errors name the file and what went wrong.
 */
export function readError(e: unknown, file: string, perRow: number, rows: number): unknown {
  const element = (e as { code?: unknown; element?: unknown }).element;
  if ((e as { code?: unknown }).code === 'EOF' && typeof element === 'number') {
    const row = Math.floor(element / perRow);
    return new DataError(
      `${file}: the data ended early, in row ${row} of the ${rows.toLocaleString('en-US')} its header promises (truncated input)`,
    );
  }
  return fileError(e, 'read', file);
}

const f8 = (reader: NpyReader): string | undefined =>
  reader.header.dtype.kind === 'f' && reader.header.dtype.size === 8 ? reader.header.dtype.descr : undefined;

/** The losses of a `(B, N)` loss file. */
export async function lossFileSource(file: string): Promise<LossSource> {
  const reader = await openInput(file);
  try {
    const { rows, cols } = expectLoss(file, reader.header);
    return {
      file,
      rows,
      cols,
      shape: reader.header.shape,
      rowBytes: cols * reader.header.dtype.size,
      convertedFrom: f8(reader),
      async read(rowStart, n, loss) {
        try {
          await reader.readFloat32(rowStart * cols, n * cols, loss);
        } catch (e) {
          throw readError(e, file, cols, rows);
        }
        return { rowStart, rows: n, cols, loss };
      },
      close: () => reader.close(),
    };
  } catch (e) {
    await reader.close();
    throw e;
  }
}

/**
 * `loss_c = logsumexp(logits) - logits[label]` (the library's `confidenceLoss`: float64, max
 * subtracted, one float32 rounding) and `positives = label > 0`, computed chunk by chunk from
 * `LOGITS.npy` `(B, N, C)` and `LABELS.npy` `(B, N)`; nothing goes through a file. Checks, naming the
 * file, row (in the whole file) and column: every label in `0 .. C - 1`, and under `nan: 'error'` a
 * NaN loss (from a NaN or infinite logit). Memory: the logits and labels of one chunk, and two
 * positives buffers.
 */
export async function logitsSource(
  logitsFile: string,
  labelsFile: string,
  nan: NanPolicy,
): Promise<LossSource> {
  const logits = await openInput(logitsFile);
  let labels: NpyReader | undefined;
  try {
    labels = await openInput(labelsFile);
    const { rows, cols, classes } = expectLogits(logitsFile, logits.header);
    expectLabels(labelsFile, labels.header, rows, cols, logitsFile);
    const lab = labels;
    let logitsBuf = new Float32Array(0);
    let labelBuf = new Int32Array(0);
    const positives: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
    return {
      file: logitsFile,
      rows,
      cols,
      shape: logits.header.shape,
      rowBytes: cols * classes * logits.header.dtype.size + cols * lab.header.dtype.size,
      convertedFrom: f8(logits),
      async read(rowStart, n, loss, slot) {
        const count = n * cols;
        if (logitsBuf.length < count * classes) logitsBuf = new Float32Array(count * classes);
        if (labelBuf.length < count) labelBuf = new Int32Array(count);
        if (positives[slot].length < count) positives[slot] = new Uint8Array(count);
        const lg = logitsBuf.subarray(0, count * classes);
        const lb = labelBuf.subarray(0, count);
        try {
          await logits.readFloat32(rowStart * cols * classes, count * classes, lg);
        } catch (e) {
          throw readError(e, logitsFile, cols * classes, rows);
        }
        let negative: number;
        try {
          negative = await lab.readCounts(rowStart * cols, count, lb, classes);
        } catch (e) {
          throw readError(e, labelsFile, cols, rows);
        }
        const where = (i: number) => `row ${rowStart + Math.floor(i / cols)}, column ${i % cols}`;
        if (negative >= 0) {
          throw new DataError(
            `${labelsFile}: the label at ${where(negative)} is negative; labels are 0 .. ${classes - 1}`,
          );
        }
        // readCounts clamps to 0 .. classes, so `classes` marks a label out of range.
        const over = lb.indexOf(classes);
        if (over >= 0) {
          throw new DataError(
            `${labelsFile}: the label at ${where(over)} is ${classes} or more; ${logitsFile} has ${classes} classes, so labels are 0 .. ${classes - 1}`,
          );
        }
        const lc = confidenceLoss(lg, lb, n, cols, classes, loss.subarray(0, count));
        if (nan === 'error') {
          const at = firstNan(bitsOf(lc), 0, count);
          if (at >= 0) {
            throw new DataError(
              `${logitsFile}: the loss computed from the logits is NaN at ${where(at)} (a NaN or infinite logit); ` +
                'pass --nan largest to rank NaN above +Inf as PyTorch does',
            );
          }
        }
        const pos = positives[slot].subarray(0, count);
        for (let i = 0; i < count; i++) pos[i] = lb[i]! > 0 ? 1 : 0;
        return { rowStart, rows: n, cols, loss, positives: pos };
      },
      async close() {
        await lab.close();
        await logits.close();
      },
    };
  } catch (e) {
    await labels?.close();
    await logits.close();
    throw e;
  }
}
