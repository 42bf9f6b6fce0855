import { NpyFormatError } from '../npy/errors.ts';
import { expectCOrder, expectLoss, expectPositives } from '../npy/expect.ts';
import { formatShape } from '../npy/header.ts';
import type { NpyReader } from '../npy/reader.ts';
import { firstNonBinary } from '../ssd/positives.ts';
import { describeBadInput, findBadInput } from '../ssd/tfod-options.ts';
import { DataError } from './errors.ts';
import { openInput, readError } from './sources.ts';

/**
 * The inputs of `hnm mine --preset tf_object_detection`: opening them (any one may be stdin or a
 * FIFO), checking their headers against the loss file, and reading and checking one chunk of rows.
 */

export type InputKey = 'loss' | 'positives' | 'boxes' | 'ignored' | 'loc';

/** Each input's option and the values it holds per anchor. */
export const INPUTS: readonly { key: InputKey; option: string; perAnchor: number }[] = [
  { key: 'loss', option: 'loss', perAnchor: 1 },
  { key: 'positives', option: 'positives', perAnchor: 1 },
  { key: 'boxes', option: 'boxes', perAnchor: 4 },
  { key: 'ignored', option: 'ignored', perAnchor: 1 },
  { key: 'loc', option: 'loc-loss', perAnchor: 1 },
];

/** The input files as named on the command line. */
export interface TfodFiles {
  readonly loss: string;
  readonly positives: string;
  readonly boxes: string;
  readonly ignored?: string;
  readonly loc?: string;
}

function checkBoxesFile(reader: NpyReader, rows: number, cols: number, lossFile: string): void {
  const { shape, dtype } = reader.header;
  if (shape.length !== 3 || shape[0] !== rows || shape[1] !== cols || shape[2] !== 4) {
    throw new NpyFormatError(
      reader.file,
      'shape',
      `header field 'shape' is ${formatShape(shape)}; expected (${rows}, ${cols}, 4): one box per element of ${lossFile}`,
    );
  }
  if (dtype.kind !== 'f' || (dtype.size !== 4 && dtype.size !== 8)) {
    throw reader.dtypeError("float32 ('<f4') or float64 ('<f8', converted to float32)");
  }
  expectCOrder(reader.file, reader.header);
}

export type Readers = Partial<Record<InputKey, NpyReader>>;

/**
 * Opens the inputs in option order (a FIFO waits for its writer) and checks every header against
 * the loss file's `(B, N)`. Resolves to the shape and the bytes read per row (what bounds a chunk);
 * on failure the readers opened so far stay in `readers` for the caller to close.
 */
export async function openInputs(
  files: TfodFiles,
  readers: Readers,
): Promise<{ rows: number; cols: number; rowBytes: number }> {
  for (const { key } of INPUTS) {
    const file = files[key];
    if (file !== undefined) readers[key] = await openInput(file);
  }
  const { rows, cols } = expectLoss(files.loss, readers.loss!.header);
  expectPositives(files.positives, readers.positives!.header, rows, cols, files.loss);
  if (readers.ignored) expectPositives(files.ignored!, readers.ignored.header, rows, cols, files.loss);
  checkBoxesFile(readers.boxes!, rows, cols, files.loss);
  if (readers.loc) {
    const loc = expectLoss(files.loc!, readers.loc.header, 'localization loss');
    if (loc.rows !== rows || loc.cols !== cols) {
      throw new NpyFormatError(
        files.loc!,
        'shape',
        `header field 'shape' is ${formatShape(readers.loc.header.shape)}; expected (${rows}, ${cols}), the shape of ${files.loss}`,
      );
    }
  }
  let rowBytes = 0;
  for (const { key, perAnchor } of INPUTS)
    rowBytes += cols * perAnchor * (readers[key]?.header.dtype.size ?? 0);
  return { rows, cols, rowBytes };
}

/** One chunk's inputs, in buffers allocated once for the largest chunk and reused. */
export interface ChunkBuffers {
  loss: Float32Array;
  boxes: Float32Array;
  locLoss: Float32Array | undefined;
  positives: Uint8Array;
  ignored: Uint8Array | undefined;
}

/**
 * Reads rows `rowStart .. rowStart + rows - 1` of every input (each reader goes forward only, so
 * pipes work) and checks them: positives and ignored 0/1 and disjoint, no NaN loss or box. Errors
 * name the file, row and column (in the whole file); a stream that ends early names the row.
 */
export async function readChunk(
  files: TfodFiles,
  readers: Readers,
  fileRows: number,
  cols: number,
  rowStart: number,
  rows: number,
  buffers: ChunkBuffers,
): Promise<ChunkBuffers> {
  const n = rows * cols;
  const read = async (key: InputKey, perAnchor: number, run: (r: NpyReader) => Promise<unknown>) => {
    try {
      await run(readers[key]!);
    } catch (e) {
      throw readError(e, files[key]!, cols * perAnchor, fileRows);
    }
  };
  const chunk: ChunkBuffers = {
    loss: buffers.loss.subarray(0, n),
    boxes: buffers.boxes.subarray(0, 4 * n),
    locLoss: buffers.locLoss?.subarray(0, n),
    positives: buffers.positives.subarray(0, n),
    ignored: buffers.ignored?.subarray(0, n),
  };
  await read('loss', 1, (r) => r.readFloat32(rowStart * cols, n, chunk.loss));
  await read('positives', 1, (r) => r.readRaw(rowStart * cols, n, chunk.positives));
  await read('boxes', 4, (r) => r.readFloat32(4 * rowStart * cols, 4 * n, chunk.boxes));
  if (chunk.ignored) await read('ignored', 1, (r) => r.readRaw(rowStart * cols, n, chunk.ignored!));
  if (chunk.locLoss) await read('loc', 1, (r) => r.readFloat32(rowStart * cols, n, chunk.locLoss!));
  const where = (i: number) => `row ${rowStart + Math.floor(i / cols)}, column ${i % cols}`;
  for (const key of ['positives', 'ignored'] as const) {
    const b = chunk[key];
    const at = b === undefined ? -1 : firstNonBinary(b, 0, n);
    if (at >= 0) throw new DataError(`${files[key]}: value ${b![at]} at ${where(at)} is not 0 or 1`);
  }
  const bad = findBadInput(chunk.loss, chunk.locLoss, chunk.boxes);
  if (bad) {
    const file = bad.input === 'loss' ? files.loss : bad.input === 'locLoss' ? files.loc : files.boxes;
    throw new DataError(`${file}: ${describeBadInput(bad, cols, rowStart)}`);
  }
  if (chunk.ignored) {
    for (let i = 0; i < n; i++) {
      if ((chunk.ignored[i]! & chunk.positives[i]!) !== 0) {
        throw new DataError(
          `${files.ignored}: ${where(i)} is ignored and also a positive in ${files.positives}`,
        );
      }
    }
  }
  return chunk;
}
