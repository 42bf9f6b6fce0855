import { stat } from 'node:fs/promises';
import { NpyFormatError } from '../npy/errors.ts';
import { formatShape } from '../npy/header.ts';
import type { NpyReader } from '../npy/reader.ts';
import { NpyWriter } from '../npy/writer.ts';
import type { RowSlice } from './args.ts';
import { resolveRows } from './args.ts';
import type { Engine } from './engine.ts';
import { createEngine } from './engine.ts';
import { fileError } from './errors.ts';
import { checkLossFile, openInput } from './inputs.ts';
import type { LossChunk } from './nan.ts';
import { createProgress } from './progress.ts';

/**
 * Loss bytes per chunk: two chunk buffers (one mined while the next is read) plus the output stay
 * near 100 MB whatever the file size. `HNM_CHUNK_ROWS` overrides the row count (tests use it to
 * cross chunk boundaries on small files).
 */
const CHUNK_BYTES = 32 * 1024 * 1024;

/** Rows per chunk for rows of `cols` float32 losses: at most 32 MiB of loss, at least one row. */
export function chunkRowsFor(cols: number): number {
  const forced = Number(process.env.HNM_CHUNK_ROWS);
  if (Number.isSafeInteger(forced) && forced > 0) return forced;
  return Math.max(1, Math.floor(CHUNK_BYTES / (cols * 4)));
}

/** What a command needs to know once the loss header has been read. */
export interface StreamInputs {
  readonly loss: NpyReader;
  /** Rows and columns of the whole loss file. */
  readonly fileRows: number;
  readonly cols: number;
  /** The slice processed: file rows `start .. end - 1`. */
  readonly start: number;
  readonly end: number;
  readonly chunkRows: number;
}

/** The per-chunk work of one command, prepared once the inputs are open. */
export interface StreamStep {
  /** The output bytes of `chunk`'s rows (may be a reused buffer, written before the next call). */
  run(engine: Engine, chunk: LossChunk): Promise<Uint8Array>;
  /** Negatives kept so far (mine), or undefined (rank). */
  negatives(): number | undefined;
  close(): Promise<void>;
}

/** A streamed command: `mine` or `rank`. */
export interface StreamSpec {
  readonly command: string;
  readonly lossFile: string;
  readonly outFile: string;
  readonly outDescr: string;
  readonly outItemSize: number;
  readonly rows: RowSlice | undefined;
  readonly threads: number | undefined;
  readonly quiet: boolean;
  readonly json: boolean;
  /**
   * Read the whole slice as one chunk (a batch-wide preset such as ssd_keras ranks every row of the
   * batch together). Memory: the slice's losses twice (the read-ahead buffer) instead of a chunk's.
   */
  readonly wholeBatch?: boolean;
  /** Opens the command's other inputs and validates them against the loss (before any output exists). */
  prepare(inputs: StreamInputs): Promise<StreamStep>;
}

/** The summary `--json` prints. */
export interface RunSummary {
  rows: number;
  cols: number;
  negatives?: number;
  seconds: number;
  ns_per_element: number;
  threads: number;
}

/**
 * Runs a streamed command end to end: reads the loss header, lets the command open its other
 * inputs, creates the output's temporary file (so an unwritable target fails before any work),
 * then for each chunk of at most {@link chunkRowsFor} rows reads the losses (the next chunk is read
 * while the current one is mined), runs the step and writes its output at the chunk's offset.
 * Renames the output into place only when every chunk succeeded; on any failure the temporary file
 * is removed. Memory: two loss chunks, one output chunk and the inputs' staging buffers.
 */
export async function runStream(spec: StreamSpec): Promise<RunSummary> {
  const started = performance.now();
  const loss = await openInput(spec.lossFile);
  let step: StreamStep | undefined;
  let writer: NpyWriter | undefined;
  let engine: Engine | undefined;
  try {
    const { rows: fileRows, cols } = checkLossFile(loss);
    const { start, end } = resolveRows(spec.rows, fileRows);
    const chunkRows = spec.wholeBatch
      ? Math.max(1, end - start)
      : Math.min(chunkRowsFor(cols), Math.max(1, end - start));
    if (spec.wholeBatch && (end - start) * cols > 0x7fffffff) {
      // One chunk holds the whole batch; the kernels index it with int32.
      throw new NpyFormatError(
        spec.lossFile,
        'shape',
        `header field 'shape' is ${formatShape(loss.header.shape)}; a batch-wide preset ranks the whole batch at once, which may hold at most 2,147,483,647 elements`,
      );
    }
    const inputs: StreamInputs = { loss, fileRows, cols, start, end, chunkRows };
    step = await spec.prepare(inputs);
    try {
      // Renaming onto a folder fails only at the end: refuse it before any work.
      if ((await stat(spec.outFile).catch(() => undefined))?.isDirectory()) {
        throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
      }
      writer = await NpyWriter.create(spec.outFile, spec.outDescr, [end - start, cols], spec.outItemSize);
    } catch (e) {
      throw fileError(e, 'write', spec.outFile);
    }
    engine = await createEngine(spec.threads, { streaming: true });
    const progress = createProgress(spec.command, end - start, !spec.quiet && process.stderr.isTTY === true);
    try {
      await pump(inputs, engine, step, writer, spec, progress.update);
    } finally {
      progress.finish();
    }
    try {
      await writer.commit();
    } catch (e) {
      throw fileError(e, 'write', spec.outFile);
    }
    const seconds = (performance.now() - started) / 1000;
    const elements = (end - start) * cols;
    const negatives = step.negatives();
    return {
      rows: end - start,
      cols,
      ...(negatives === undefined ? {} : { negatives }),
      seconds: Number(seconds.toFixed(6)),
      ns_per_element: elements > 0 ? Number(((seconds * 1e9) / elements).toFixed(3)) : 0,
      threads: engine.threads,
    };
  } finally {
    await writer?.abort();
    await engine?.close();
    await step?.close();
    await loss.close();
  }
}

async function pump(
  inputs: StreamInputs,
  engine: Engine,
  step: StreamStep,
  writer: NpyWriter,
  spec: StreamSpec,
  progress: (done: number) => void,
): Promise<void> {
  const { loss, cols, start, end, chunkRows } = inputs;
  const buffers = [engine.allocLoss(chunkRows, cols), engine.allocLoss(chunkRows, cols)];
  const read = async (i: number): Promise<LossChunk> => {
    const rowStart = start + i * chunkRows;
    const rows = Math.min(chunkRows, end - rowStart);
    const buffer = buffers[i & 1]!.subarray(0, rows * cols);
    try {
      await loss.readFloat32(rowStart * cols, rows * cols, buffer);
    } catch (e) {
      throw fileError(e, 'read', spec.lossFile);
    }
    return { rowStart, rows, cols, loss: buffer };
  };
  const chunks = Math.ceil((end - start) / chunkRows);
  let next: Promise<LossChunk> | undefined = chunks > 0 ? read(0) : undefined;
  try {
    for (let i = 0; i < chunks; i++) {
      const chunk: LossChunk = await next!;
      // Read ahead into the other buffer while this chunk is mined.
      next = i + 1 < chunks ? read(i + 1) : undefined;
      const out = await step.run(engine, chunk);
      try {
        await writer.write(out, (chunk.rowStart - start) * cols * spec.outItemSize);
      } catch (e) {
        throw fileError(e, 'write', spec.outFile);
      }
      progress(chunk.rowStart + chunk.rows - start);
      if (i === 0 && process.env.HNM_TEST_STALL === '1') await stallForTest();
    }
  } finally {
    // A failed step leaves the read-ahead in flight: settle it so it neither leaks nor rejects unhandled.
    await next?.catch(() => undefined);
  }
}

/**
 * Test hook (`HNM_TEST_STALL=1`): after the first chunk is written, say so on stderr and wait
 * forever, so a test can send a signal mid-run, without timing, and check the cleanup.
 */
function stallForTest(): Promise<never> {
  process.stderr.write('hnm: stalled after the first chunk (HNM_TEST_STALL)\n');
  return new Promise(() => {
    setInterval(() => {}, 1 << 30);
  });
}
