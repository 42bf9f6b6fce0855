import { firstNan } from '../kernel/select-rows.ts';
import { NpyFormatError } from '../npy/errors.ts';
import { formatShape } from '../npy/header.ts';
import type { NpyReader } from '../npy/reader.ts';
import { NpyWriter } from '../npy/writer.ts';
import { confidenceLoss } from '../ssd/confidence-loss.ts';
import { bitsOf } from '../validate.ts';
import type { RowSlice } from './args.ts';
import { resolveRows } from './args.ts';
import { DataError, fileError } from './errors.ts';
import { checkOrder, checkRowLength, openInput } from './inputs.ts';
import { chunkRowsFor } from './stream.ts';

/** Where {@link lossFromLogits} reads and writes. */
export interface LogitsInputs {
  /** `LOGITS.npy`: float32 (float64 converted) `(B, N, C)`, C order. */
  readonly logits: string;
  /** `LABELS.npy`: integers `(B, N)`, 0 = background. */
  readonly labels: string;
  readonly rows: RowSlice | undefined;
  /** Target of the loss file (`--loss-out`, or a name never committed); its folder holds the temp file. */
  readonly lossTarget: string;
  /** Target of the positives file (never committed); its folder holds the temp file. */
  readonly positivesTarget: string;
  readonly nanLargest: boolean;
}

/** The two files {@link lossFromLogits} wrote, still uncommitted: read them, then commit or abort. */
export interface LogitsStage {
  /** `loss_c` float32 `(rows, cols)` of the selected rows, in `loss.tempFile`. */
  readonly loss: NpyWriter;
  /** `label > 0` as numpy bool `(rows, cols)`, in `positives.tempFile`. */
  readonly positives: NpyWriter;
  readonly rows: number;
  readonly cols: number;
  readonly classes: number;
  /** Wall time of this stage. */
  readonly seconds: number;
}

function checkLogitsFile(reader: NpyReader): { rows: number; cols: number; classes: number } {
  const { shape, dtype } = reader.header;
  if (shape.length !== 3 || shape[1] === 0 || shape[2] === 0) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; the logits must be a 3-D array (B, N, C) with N, C >= 1`,
    );
  }
  checkRowLength(reader, shape[1]! * shape[2]!, 'logits');
  if (dtype.kind !== 'f' || (dtype.size !== 4 && dtype.size !== 8)) {
    throw reader.dtypeError("float32 ('<f4') or float64 ('<f8', converted to float32)");
  }
  checkOrder(reader);
  return { rows: shape[0]!, cols: shape[1]!, classes: shape[2]! };
}

function checkLabelsFile(reader: NpyReader, rows: number, cols: number, logitsFile: string): void {
  const { shape, dtype } = reader.header;
  if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; expected (${rows}, ${cols}), the first two dimensions of ${logitsFile}`,
    );
  }
  if (dtype.kind !== 'i' && dtype.kind !== 'u') {
    throw reader.dtypeError('an integer type (int8..int64, uint8..uint64)');
  }
  checkOrder(reader);
}

/**
 * The first stage of `hnm mine --logits LOGITS.npy --labels LABELS.npy`: streams both files in
 * chunks of whole rows (at most 32 MiB of logits each, `HNM_CHUNK_ROWS` overrides), computes
 * `loss_c = logsumexp(logits) - logits[label]` (the library's `confidenceLoss`: float64, max
 * subtracted, one float32 rounding) and `positives = label > 0`, and writes them to two `.npy`
 * files that the ordinary `--loss/--positives` pipeline then mines. Only the rows of `--rows` are
 * computed, so both files hold just those rows.
 *
 * Checks, naming the file and the row (in the whole file) and column: the shapes (`(B, N, C)` and
 * `(B, N)`), the dtypes, every label in `0 .. C - 1`, and under `--nan error` a NaN loss (from a NaN
 * or infinite logit). Neither output is committed: the caller reads the temporary files and then
 * commits the loss (for `--loss-out`) or aborts it; on failure here both are removed.
 *
 * Memory: one chunk of logits, labels, losses and positives. Disk: 5 bytes per element of `(B, N)`.
 */
export async function lossFromLogits(inputs: LogitsInputs): Promise<LogitsStage> {
  const started = performance.now();
  const logits = await openInput(inputs.logits);
  let labels: NpyReader | undefined;
  let loss: NpyWriter | undefined;
  let positives: NpyWriter | undefined;
  try {
    labels = await openInput(inputs.labels);
    const { rows: fileRows, cols, classes } = checkLogitsFile(logits);
    checkLabelsFile(labels, fileRows, cols, inputs.logits);
    const { start, end } = resolveRows(inputs.rows, fileRows);
    const rows = end - start;
    loss = await createWriter(inputs.lossTarget, '<f4', [rows, cols], 4);
    positives = await createWriter(inputs.positivesTarget, '|b1', [rows, cols], 1);
    const chunkRows = Math.max(1, Math.min(chunkRowsFor(cols * classes), rows));
    const logitsBuf = new Float32Array(chunkRows * cols * classes);
    const labelBuf = new Int32Array(chunkRows * cols);
    const lossBuf = new Float32Array(chunkRows * cols);
    const posBuf = new Uint8Array(chunkRows * cols);
    for (let rowStart = start; rowStart < end; rowStart += chunkRows) {
      const n = Math.min(chunkRows, end - rowStart) * cols;
      const lg = logitsBuf.subarray(0, n * classes);
      const lb = labelBuf.subarray(0, n);
      try {
        await logits.readFloat32(rowStart * cols * classes, n * classes, lg);
      } catch (e) {
        throw fileError(e, 'read', inputs.logits);
      }
      let negative: number;
      try {
        negative = await labels.readCounts(rowStart * cols, n, lb, classes);
      } catch (e) {
        throw fileError(e, 'read', inputs.labels);
      }
      const where = (i: number) => `row ${rowStart + Math.floor(i / cols)}, column ${i % cols}`;
      if (negative >= 0) {
        throw new DataError(
          `${inputs.labels}: the label at ${where(negative)} is negative; labels are 0 .. ${classes - 1}`,
        );
      }
      // readCounts clamps to 0 .. classes, so `classes` marks a label out of range.
      const over = lb.indexOf(classes);
      if (over >= 0) {
        throw new DataError(
          `${inputs.labels}: the label at ${where(over)} is ${classes} or more; ${inputs.logits} has ${classes} classes, so labels are 0 .. ${classes - 1}`,
        );
      }
      const lc = confidenceLoss(lg, lb, n / cols, cols, classes, lossBuf.subarray(0, n));
      if (!inputs.nanLargest) {
        const at = firstNan(bitsOf(lc), 0, n);
        if (at >= 0) {
          throw new DataError(
            `${inputs.logits}: the loss computed from the logits is NaN at ${where(at)} (a NaN or infinite logit); ` +
              'pass --nan largest to rank NaN above +Inf as PyTorch does',
          );
        }
      }
      const pos = posBuf.subarray(0, n);
      for (let i = 0; i < n; i++) pos[i] = lb[i]! > 0 ? 1 : 0;
      const offset = (rowStart - start) * cols;
      await writeChunk(loss, new Uint8Array(lc.buffer, lc.byteOffset, n * 4), offset * 4);
      await writeChunk(positives, pos, offset);
    }
    const stage: LogitsStage = {
      loss,
      positives,
      rows,
      cols,
      classes,
      seconds: (performance.now() - started) / 1000,
    };
    loss = undefined;
    positives = undefined;
    return stage;
  } finally {
    await loss?.abort();
    await positives?.abort();
    await labels?.close();
    await logits.close();
  }
}

async function createWriter(
  file: string,
  descr: string,
  shape: readonly number[],
  itemSize: number,
): Promise<NpyWriter> {
  try {
    return await NpyWriter.create(file, descr, shape, itemSize);
  } catch (e) {
    throw fileError(e, 'write', file);
  }
}

async function writeChunk(writer: NpyWriter, bytes: Uint8Array, byteOffset: number): Promise<void> {
  try {
    await writer.write(bytes, byteOffset);
  } catch (e) {
    throw fileError(e, 'write', writer.file);
  }
}
