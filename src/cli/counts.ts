import { NpyFormatError } from '../npy/errors.ts';
import { expectCounts, expectPositives } from '../npy/expect.ts';
import type { NpyReader } from '../npy/reader.ts';
import { prepareSsdChunk, resolvePreset } from '../ssd/chunk.ts';
import { firstNonBinary } from '../ssd/positives.ts';
import type { NanPolicy } from '../validate.ts';
import type { LossChunk } from './nan.ts';
import { findNan } from './nan.ts';
import { openInput, readError } from './sources.ts';

/** Where the per-row negative counts come from (exactly one per `hnm mine` run). */
export type CountSpec =
  | { readonly kind: 'fixed'; readonly numNeg: number }
  | { readonly kind: 'file'; readonly file: string }
  | {
      readonly kind: 'positives';
      /** `POS.npy`, or undefined when each chunk carries its positives (computed from labels). */
      readonly file: string | undefined;
      readonly preset: string;
      readonly ratio: number;
      readonly minNeg: number;
    };

/** Per-chunk counts of one run; holds its input file open until {@link CountSource.close}. */
export interface CountSource {
  /**
   * The counts of `chunk`'s rows, clamped to `0 .. cols`, in a buffer reused by the next call. May
   * rewrite `chunk.loss` first, as a preset's handling of positives requires. A batch-wide preset
   * (ssd_keras) returns a single count for the whole chunk read as one flat row.
   */
  countsFor(chunk: LossChunk): Promise<Int32Array>;
  close(): Promise<void>;
}

/** The loss file a count source serves. */
export interface LossInfo {
  readonly file: string;
  readonly rows: number;
  readonly cols: number;
  /** Under `--nan error`, NaN must be reported even where a preset overwrites the loss. */
  readonly nan: NanPolicy;
}

/**
 * Opens the count source of `spec` for `loss`, validating its file's header against the loss's
 * shape, with buffers for chunks of up to `maxRows` rows.
 */
export async function openCountSource(
  spec: CountSpec,
  loss: LossInfo,
  maxRows: number,
): Promise<CountSource> {
  const counts = new Int32Array(maxRows);
  if (spec.kind === 'fixed') {
    const k = Math.min(spec.numNeg, loss.cols);
    counts.fill(k);
    return { countsFor: async (chunk) => counts.subarray(0, chunk.rows), close: async () => {} };
  }
  if (spec.kind === 'positives' && spec.file === undefined) {
    return positivesCounts(undefined, spec, loss, counts, new Uint8Array(0));
  }
  const reader = await openInput(spec.file!);
  try {
    if (spec.kind === 'file') {
      expectCounts(reader.file, reader.header, loss.rows, loss.file);
      return fileCounts(reader, loss, counts);
    }
    expectPositives(reader.file, reader.header, loss.rows, loss.cols, loss.file);
    return positivesCounts(reader, spec, loss, counts, new Uint8Array(maxRows * loss.cols));
  } catch (e) {
    await reader.close();
    throw e;
  }
}

function fileCounts(reader: NpyReader, loss: LossInfo, counts: Int32Array): CountSource {
  return {
    async countsFor(chunk) {
      const out = counts.subarray(0, chunk.rows);
      let bad: number;
      try {
        bad = await reader.readCounts(chunk.rowStart, chunk.rows, out, loss.cols);
      } catch (e) {
        throw readError(e, reader.file, 1, loss.rows);
      }
      if (bad >= 0) {
        throw new NpyFormatError(reader.file, 'data', `the count at row ${chunk.rowStart + bad} is negative`);
      }
      return out;
    },
    close: () => reader.close(),
  };
}

function positivesCounts(
  reader: NpyReader | undefined,
  spec: Extract<CountSpec, { kind: 'positives' }>,
  loss: LossInfo,
  counts: Int32Array,
  positives: Uint8Array,
): CountSource {
  const preset = resolvePreset({ preset: spec.preset, ratio: spec.ratio, minNegatives: spec.minNeg });
  return {
    async countsFor(chunk) {
      let pos: Uint8Array;
      if (reader === undefined) {
        if (chunk.positives === undefined) throw new Error('a chunk without its positives');
        pos = chunk.positives;
      } else {
        pos = positives.subarray(0, chunk.rows * chunk.cols);
        try {
          await reader.readRaw(chunk.rowStart * chunk.cols, chunk.rows * chunk.cols, pos);
        } catch (e) {
          throw readError(e, reader.file, loss.cols, loss.rows);
        }
      }
      if (loss.nan === 'error' && reader !== undefined) {
        const nan = findNan(loss.file, chunk);
        if (nan !== undefined) throw nan;
      }
      const bad = reader === undefined ? -1 : firstNonBinary(pos, 0, pos.length);
      if (reader !== undefined && bad >= 0) {
        const row = chunk.rowStart + Math.floor(bad / chunk.cols);
        throw new NpyFormatError(
          reader.file,
          'data',
          `the value at row ${row}, column ${bad % chunk.cols} is ${pos[bad]}; positives must be 0 or 1`,
        );
      }
      const out = counts.subarray(0, chunk.rows);
      const used = prepareSsdChunk(
        preset,
        { loss: chunk.loss, positives: pos, rows: chunk.rows, cols: chunk.cols },
        out,
      );
      return out.subarray(0, used);
    },
    close: async () => reader?.close(),
  };
}
