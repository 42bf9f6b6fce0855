import { NpyFormatError } from '../npy/errors.ts';
import type { NpyReader } from '../npy/reader.ts';
import { prepareSsdChunk, resolvePreset } from '../ssd/chunk.ts';
import { firstNonBinary } from '../ssd/positives.ts';
import { checkCountsFile, checkPositivesFile, openInput } from './inputs.ts';
import type { LossChunk } from './nan.ts';
import { findNan } from './nan.ts';

/** Where the per-row negative counts come from (exactly one per `hnm mine` run). */
export type CountSpec =
  | { readonly kind: 'fixed'; readonly numNeg: number }
  | { readonly kind: 'file'; readonly file: string }
  | {
      readonly kind: 'positives';
      readonly file: string;
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
  readonly nanLargest: boolean;
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
  const reader = await openInput(spec.file);
  try {
    if (spec.kind === 'file') {
      checkCountsFile(reader, loss.rows, loss.file);
      return fileCounts(reader, loss, counts);
    }
    checkPositivesFile(reader, loss.rows, loss.cols, loss.file);
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
      const bad = await reader.readCounts(chunk.rowStart, chunk.rows, out, loss.cols);
      if (bad >= 0) {
        throw new NpyFormatError(reader.file, 'data', `the count at row ${chunk.rowStart + bad} is negative`);
      }
      return out;
    },
    close: () => reader.close(),
  };
}

function positivesCounts(
  reader: NpyReader,
  spec: Extract<CountSpec, { kind: 'positives' }>,
  loss: LossInfo,
  counts: Int32Array,
  positives: Uint8Array,
): CountSource {
  const preset = resolvePreset({ preset: spec.preset, ratio: spec.ratio, minNegatives: spec.minNeg });
  return {
    async countsFor(chunk) {
      const pos = positives.subarray(0, chunk.rows * chunk.cols);
      await reader.readRaw(chunk.rowStart * chunk.cols, chunk.rows * chunk.cols, pos);
      if (!loss.nanLargest) {
        const nan = findNan(loss.file, chunk);
        if (nan !== undefined) throw nan;
      }
      const bad = firstNonBinary(pos, 0, pos.length);
      if (bad >= 0) {
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
    close: () => reader.close(),
  };
}
