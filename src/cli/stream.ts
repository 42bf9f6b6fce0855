import { NpyFormatError } from '../npy/errors.ts';
import { formatShape } from '../npy/header.ts';
import type { NpyOutput } from '../npy/output.ts';
import { openNpyOutput } from '../npy/output.ts';
import type { NanPolicy } from '../validate.ts';
import type { Engine } from './engine.ts';
import { createEngine } from './engine.ts';
import { fileError, UsageError } from './errors.ts';
import type { NamedFile } from './files.ts';
import type { LossChunk } from './nan.ts';
import { createProgress } from './progress.ts';
import type { LossSource } from './sources.ts';

/**
 * Bytes read per chunk: two chunk buffers (one mined while the next is read) plus the output stay
 * near 100 MB whatever the file size. `HNM_CHUNK_ROWS` overrides the row count (tests use it to
 * cross chunk boundaries on small files).
 */
export const CHUNK_BYTES = 32 * 1024 * 1024;

/** Rows per chunk for rows of `rowBytes` bytes read: at most {@link CHUNK_BYTES}, at least one row. */
export function chunkRowsFor(rowBytes: number): number {
  const forced = Number(process.env.HNM_CHUNK_ROWS);
  if (Number.isSafeInteger(forced) && forced > 0) return forced;
  return Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
}

const mib = (bytes: number): string =>
  `${(bytes / 2 ** 20).toLocaleString('en-US', { maximumFractionDigits: 1 })} MiB`;

/**
 * The memory promise is "chunks of at most 32 MiB, whatever the file": a row must fit in a chunk
 * (the kernels select over a whole row at once). A wider row is refused up front, saying why.
 */
export function refuseWideRows(source: Pick<LossSource, 'file' | 'cols' | 'rowBytes'>): void {
  if (source.rowBytes <= CHUNK_BYTES) return;
  throw new UsageError(
    `${source.file}: one row of ${source.cols.toLocaleString('en-US')} columns takes ${mib(source.rowBytes)} to read, ` +
      `more than the ${mib(CHUNK_BYTES)} chunk that bounds hnm's memory (a row is mined whole); ` +
      'split the rows, or use the library (hardNegativeMask) on them in memory',
  );
}

/** The summary `--json` prints. */
export interface RunSummary {
  rows: number;
  cols: number;
  negatives?: number;
  seconds: number;
  ns_per_element: number;
  threads: number;
  /** The input's dtype when float64 was rounded to float32. */
  converted_from?: string;
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
  readonly source: LossSource;
  /** Rows of the source to process: `start .. end - 1`, already checked against its row count. */
  readonly start: number;
  readonly end: number;
  readonly out: NamedFile;
  readonly outDescr: string;
  readonly outItemSize: number;
  /** Also write each chunk's float32 losses, before `run` may rewrite them (`--loss-out`). */
  readonly lossOut?: NamedFile | undefined;
  readonly threads: number | undefined;
  readonly nan: NanPolicy;
  readonly quiet: boolean;
  /**
   * Read the whole slice as one chunk (a batch-wide preset such as ssd_keras ranks every row of the
   * batch together). Memory: the slice's losses twice (the read-ahead buffer) instead of a chunk's.
   */
  readonly wholeBatch?: boolean;
  /** Opens the command's other inputs and validates them against the loss (before any output exists). */
  prepare(chunkRows: number): Promise<StreamStep>;
}

/** Opens an output (see {@link openNpyOutput}); a failure becomes a `DataError` naming the file. */
export async function openOutput(
  file: NamedFile,
  descr: string,
  shape: number[],
  itemSize: number,
): Promise<NpyOutput> {
  try {
    return await openNpyOutput(file.file, descr, shape, itemSize);
  } catch (e) {
    throw fileError(e, 'write', file.file);
  }
}

/**
 * Runs a streamed command end to end over an open source: lets the command open its other inputs,
 * opens the outputs (so an unwritable target fails before any work), then for each chunk of at
 * most {@link chunkRowsFor} rows reads the losses (the next chunk is read, and the previous one's
 * output written, while the current one is mined), runs the step and writes its output. Commits
 * the outputs only when every chunk succeeded (a file output is flushed to disk first); on any
 * failure temporary files are removed. Memory: two loss chunks, two output chunks and the inputs'
 * staging buffers. Closes the source.
 */
export async function runStream(spec: StreamSpec): Promise<RunSummary> {
  const started = performance.now();
  const { source, start, end } = spec;
  const { cols } = source;
  let step: StreamStep | undefined;
  let out: NpyOutput | undefined;
  let lossOut: NpyOutput | undefined;
  let engine: Engine | undefined;
  try {
    if (spec.wholeBatch && (end - start) * cols > 0x7fffffff) {
      // One chunk holds the whole batch; the kernels index it with int32.
      throw new NpyFormatError(
        source.file,
        'shape',
        `header field 'shape' is ${formatShape(source.shape)}; a batch-wide preset ranks the whole batch at once, which may hold at most 2,147,483,647 elements`,
      );
    }
    refuseWideRows(source);
    const chunkRows = spec.wholeBatch
      ? Math.max(1, end - start)
      : Math.min(chunkRowsFor(source.rowBytes), Math.max(1, end - start));
    step = await spec.prepare(chunkRows);
    out = await openOutput(spec.out, spec.outDescr, [end - start, cols], spec.outItemSize);
    if (spec.lossOut !== undefined) lossOut = await openOutput(spec.lossOut, '<f4', [end - start, cols], 4);
    if (source.convertedFrom !== undefined && !spec.quiet) {
      process.stderr.write(
        `hnm ${spec.command}: note: ${source.file} is float64 ('${source.convertedFrom}'); values are ranked after rounding to float32, so values equal in float32 tie\n`,
      );
    }
    engine = await createEngine(spec.threads);
    const progress = createProgress(spec.command, end - start, !spec.quiet && process.stderr.isTTY === true);
    try {
      await pump(spec, chunkRows, engine, step, out, lossOut, progress.update);
    } finally {
      progress.finish();
    }
    for (const [output, file] of [
      [out, spec.out],
      [lossOut, spec.lossOut],
    ] as const) {
      try {
        await output?.commit();
      } catch (e) {
        throw fileError(e, 'write', file!.file);
      }
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
      ...(source.convertedFrom === undefined ? {} : { converted_from: source.convertedFrom }),
    };
  } finally {
    await out?.abort();
    await lossOut?.abort();
    await engine?.close();
    await step?.close();
    await source.close();
  }
}

async function pump(
  spec: StreamSpec,
  chunkRows: number,
  engine: Engine,
  step: StreamStep,
  out: NpyOutput,
  lossOut: NpyOutput | undefined,
  progress: (done: number) => void,
): Promise<void> {
  const { source, start, end } = spec;
  const { cols } = source;
  const buffers = [engine.allocLoss(chunkRows, cols), engine.allocLoss(chunkRows, cols)] as const;
  const read = (i: number): Promise<LossChunk> => {
    const rowStart = start + i * chunkRows;
    const rows = Math.min(chunkRows, end - rowStart);
    return source.read(rowStart, rows, buffers[i & 1]!.subarray(0, rows * cols), (i & 1) as 0 | 1);
  };
  const write = async (output: NpyOutput, bytes: Uint8Array, offset: number, file: NamedFile) => {
    try {
      await output.write(bytes, offset);
    } catch (e) {
      throw fileError(e, 'write', file.file);
    }
  };
  const chunks = Math.ceil((end - start) / chunkRows);
  let next: Promise<LossChunk> | undefined = chunks > 0 ? read(0) : undefined;
  // The output of chunk i is written while chunk i + 1 is mined (the engine's results alternate
  // between two buffers); writes stay in order, each after the previous one.
  let written: Promise<void> = Promise.resolve();
  let before: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < chunks; i++) {
      const chunk: LossChunk = await next!;
      // Read ahead into the other buffer while this chunk is mined.
      next = i + 1 < chunks ? read(i + 1) : undefined;
      const offset = (chunk.rowStart - start) * cols;
      if (lossOut !== undefined) {
        // Before the step: a preset may rewrite the losses (zero the positives).
        const { loss } = chunk;
        await write(
          lossOut,
          new Uint8Array(loss.buffer, loss.byteOffset, loss.byteLength),
          offset * 4,
          spec.lossOut!,
        );
      }
      // The result buffer this chunk gets is the one chunk i - 2 was written from.
      await before;
      const bytes = await step.run(engine, chunk);
      before = written;
      const previous = written;
      written = (async () => {
        await previous;
        await write(out, bytes, offset * spec.outItemSize, spec.out);
        progress(chunk.rowStart + chunk.rows - start);
      })();
      // Handled here so a failure while the next chunk is mined is not an unhandled rejection; it
      // is rethrown by the next await of `before` or `written`.
      written.catch(() => undefined);
      if (i === 0 && process.env.HNM_TEST_STALL === '1') {
        await written;
        await stallForTest();
      }
    }
    await written;
  } finally {
    // A failed step leaves the read-ahead (and a write) in flight: settle them so they neither leak
    // nor reject unhandled.
    await next?.catch(() => undefined);
    await written.catch(() => undefined);
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
