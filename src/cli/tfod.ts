import { HardNegativeMiner } from '../miner.ts';
import type { NpyOutput } from '../npy/output.ts';
import type { TfodLossType, TfodOptions } from '../ssd/tfod-options.ts';
import { TFOD_PRESET } from '../ssd/tfod-options.ts';
import { tfodNegativesPooled } from '../ssd/tfod-pooled.ts';
import type { OptionTable, OptionValues } from './args.ts';
import { parseCount, parseOptions, required, resolveRows, str } from './args.ts';
import type { StreamPlan } from './common.ts';
import { planStream, STREAM_OPTIONS } from './common.ts';
import { fileError, UsageError } from './errors.ts';
import type { NamedFile } from './files.ts';
import { refuseClobbering } from './files.ts';
import { chunkRowsFor, openOutput, refuseWideRows } from './stream.ts';
import type { ChunkBuffers, Readers, TfodFiles } from './tfod-inputs.ts';
import { INPUTS, openInputs, readChunk } from './tfod-inputs.ts';

/**
 * `hnm mine --preset tf_object_detection`: TensorFlow Object Detection API's `HardExampleMiner` over
 * `.npy` files, in row chunks (each image is mined on its own), on the worker pool. Writes the kept
 * selection (`--out`) and optionally the negatives (`--negatives-out`), both numpy bool `(B, N)`.
 */

export const TFOD_USAGE = `Usage:
  hnm mine --preset tf_object_detection --loss CLS.npy --positives POS.npy --boxes BOXES.npy
           --out KEPT.npy [options]

TensorFlow Object Detection API's HardExampleMiner, per image: greedy NMS of the decoded boxes
by loss (a box is dropped when its IoU with a selected one is > the threshold; equal losses
lower index first; at most N boxes), then at most max(M, int(X * selected positives))
negatives in NMS order. Positives NMS dropped are not kept. Writes the kept selection.

Inputs:
  --loss CLS.npy             classification loss, float32 (B, N) (float64 converted)
  --positives POS.npy        matched anchors, bool or uint8 0/1 (B, N)
  --boxes BOXES.npy          decoded boxes, float32 (B, N, 4): ymin, xmin, ymax, xmax
                             (corners in either order)
  --ignored IGN.npy          ignored anchors, bool or uint8 (B, N): neither positive nor negative
  --loc-loss LOC.npy         localization loss, float32 (B, N); needed for --loss-type loc|both
  Any one input may be - (stdin); a FIFO or character device is read too (front to back).
Outputs (numpy bool (B, N)); a file is written to a temporary file and renamed on success (through
a symbolic link, onto its target); a FIFO, a device or - (stdout) is streamed into; an output that
is the same file as an input or as the other output is refused (exit 2):
  --out KEPT.npy             the kept selection: positives and negatives
  --negatives-out NEG.npy    the kept anchors that are not positives
Options (HardExampleMiner's defaults):
  --num-hard-examples N|none at most N boxes per image from NMS (default 64)
  --iou-threshold X          in [0, 1] (default 0.7)
  --loss-type cls|loc|both   what NMS ranks by (default both: X * cls + Y * loc)
  --cls-loss-weight X        (default 0.05)
  --loc-loss-weight Y        (default 0.06)
  --max-neg-per-pos X|none   negatives per selected positive (default none: keep the NMS selection)
  --min-neg M                min_negatives_per_image (default 0)
  --threads N, --rows START:END, --shard I/N, --quiet, --json   as for the other presets;
                             --json adds positives, negatives and the two mined loss sums,
                             and converted_from ({"boxes": "<f8"}, say) for float64 inputs
  --nan error                the only policy: a NaN loss or box is an error naming row and column
`;

const OPTIONS: OptionTable = {
  ...STREAM_OPTIONS,
  preset: { type: 'string' },
  loss: { type: 'string' },
  positives: { type: 'string' },
  boxes: { type: 'string' },
  ignored: { type: 'string' },
  'loc-loss': { type: 'string' },
  'negatives-out': { type: 'string' },
  'num-hard-examples': { type: 'string' },
  'iou-threshold': { type: 'string' },
  'loss-type': { type: 'string' },
  'cls-loss-weight': { type: 'string' },
  'loc-loss-weight': { type: 'string' },
  'max-neg-per-pos': { type: 'string' },
  'min-neg': { type: 'string' },
};

/** Whether an `hnm mine` command line asks for this preset (`--preset tf_object_detection` or `=`). */
export function isTfodCommand(argv: readonly string[]): boolean {
  return argv.some(
    (a, i) => (a === '--preset' && argv[i + 1] === TFOD_PRESET) || a === `--preset=${TFOD_PRESET}`,
  );
}

function parseNumber(text: string, option: string, check: (x: number) => boolean, what: string): number {
  const n = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isFinite(n) && check(n))) throw new UsageError(`--${option} must be ${what}, got '${text}'`);
  return n;
}

/** A validated `hnm mine --preset tf_object_detection` command line. */
export interface TfodPlanCli extends StreamPlan {
  readonly files: TfodFiles;
  /** Every input with the option naming it (no output may be the same file as one of them). */
  readonly inputs: readonly NamedFile[];
  /** `--out`, then `--negatives-out` when given. */
  readonly outputs: readonly NamedFile[];
  readonly options: Omit<TfodOptions, 'cols' | 'loss' | 'positives' | 'boxes' | 'ignored' | 'locLoss'>;
}

/** Checks the command line; throws {@link UsageError} (exit 2) for any mistake; touches no file. */
export function planTfodCommand(values: OptionValues): TfodPlanCli {
  const loss = required(values, 'loss', 'CLS.npy');
  const positives = required(values, 'positives', 'POS.npy');
  const boxes = required(values, 'boxes', 'BOXES.npy');
  const out = required(values, 'out', 'KEPT.npy');
  const negativesOut = str(values, 'negatives-out');
  const ignored = str(values, 'ignored');
  const loc = str(values, 'loc-loss');
  const lossTypeText = str(values, 'loss-type') ?? 'both';
  if (lossTypeText !== 'cls' && lossTypeText !== 'loc' && lossTypeText !== 'both') {
    throw new UsageError(`--loss-type must be cls, loc or both, got '${lossTypeText}'`);
  }
  const lossType: TfodLossType = lossTypeText;
  if (lossType !== 'cls' && loc === undefined) {
    throw new UsageError(
      `--loss-type ${lossType}${str(values, 'loss-type') === undefined ? ' (the default)' : ''} needs --loc-loss LOC.npy; pass --loss-type cls to rank by the classification loss alone`,
    );
  }
  const nan = str(values, 'nan');
  if (nan !== undefined && nan !== 'error') {
    throw new UsageError(
      `--nan must be 'error' for --preset tf_object_detection (TensorFlow's NMS never selects a NaN), got '${nan}'`,
    );
  }
  const outputs: NamedFile[] = [{ option: '--out', file: out }];
  if (negativesOut !== undefined) outputs.push({ option: '--negatives-out', file: negativesOut });
  const stream = planStream(values, outputs);
  const inputs: NamedFile[] = [];
  for (const { option } of INPUTS) {
    const file = str(values, option);
    if (file !== undefined) inputs.push({ option: `--${option}`, file });
  }
  const hardText = str(values, 'num-hard-examples');
  const perPosText = str(values, 'max-neg-per-pos');
  const options: TfodPlanCli['options'] = {
    preset: TFOD_PRESET,
    lossType,
    numHardExamples:
      hardText === undefined
        ? 64
        : hardText.trim() === 'none'
          ? null
          : parseCount(hardText, 'num-hard-examples'),
    iouThreshold: parseNumber(
      str(values, 'iou-threshold') ?? '0.7',
      'iou-threshold',
      (x) => x >= 0 && x <= 1,
      'a number in [0, 1]',
    ),
    clsLossWeight: parseNumber(
      str(values, 'cls-loss-weight') ?? '0.05',
      'cls-loss-weight',
      () => true,
      'a finite number',
    ),
    locLossWeight: parseNumber(
      str(values, 'loc-loss-weight') ?? '0.06',
      'loc-loss-weight',
      () => true,
      'a finite number',
    ),
    maxNegativesPerPositive:
      perPosText === undefined || perPosText.trim() === 'none'
        ? null
        : parseNumber(perPosText, 'max-neg-per-pos', (x) => x >= 0, "a number >= 0 or 'none'"),
    minNegativesPerImage: parseCount(str(values, 'min-neg') ?? '0', 'min-neg'),
  };
  return {
    ...stream,
    files: {
      loss,
      positives,
      boxes,
      ...(ignored === undefined ? {} : { ignored }),
      ...(loc === undefined ? {} : { loc }),
    },
    inputs,
    outputs,
    options,
  };
}

/**
 * `hnm mine --preset tf_object_detection ...`: refuses outputs that would replace an input, opens
 * and checks the inputs, resolves `--rows`/`--shard`, opens the outputs (files atomically, FIFOs,
 * devices and stdout streamed), then mines chunk by chunk on the pool and writes both outputs in
 * row order. Commits only when every chunk succeeded. Resolves to the exit status.
 */
export async function tfodCommand(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(TFOD_USAGE);
    return 0;
  }
  const plan = planTfodCommand(values);
  const started = performance.now();
  const { files } = plan;
  await refuseClobbering(plan.inputs, plan.outputs);
  const readers: Readers = {};
  const writers: NpyOutput[] = [];
  let miner: HardNegativeMiner | undefined;
  try {
    const { rows: fileRows, cols, rowBytes } = await openInputs(files, readers);
    refuseWideRows({ file: files.loss, cols, rowBytes });
    const { start, end } = resolveRows(plan.rows, plan.shard, fileRows, files.loss);
    for (const output of plan.outputs) writers.push(await openOutput(output, '|b1', [end - start, cols], 1));
    // Inputs read as float64 and rounded to float32: a notice each, and `converted_from` in --json.
    const converted: [string, string][] = [];
    for (const { key, option } of INPUTS) {
      const dtype = readers[key]?.header.dtype;
      if (dtype?.kind !== 'f' || dtype.size !== 8) continue;
      converted.push([option, dtype.descr]);
      if (!plan.quiet) {
        process.stderr.write(
          `hnm mine: note: ${files[key]} is float64 ('${dtype.descr}'); values are used after rounding to float32, so values equal in float32 tie\n`,
        );
      }
    }
    miner = new HardNegativeMiner(plan.threads === undefined ? {} : { threads: plan.threads });
    const chunkRows = Math.min(chunkRowsFor(rowBytes), Math.max(1, end - start));
    const cap = chunkRows * cols;
    const buffers: ChunkBuffers = {
      loss: new Float32Array(cap),
      boxes: new Float32Array(4 * cap),
      locLoss: readers.loc ? new Float32Array(cap) : undefined,
      positives: new Uint8Array(cap),
      ignored: readers.ignored ? new Uint8Array(cap) : undefined,
    };
    const totals = { positives: 0, negatives: 0, cls: 0, loc: 0 };
    for (let rowStart = start; rowStart < end; rowStart += chunkRows) {
      const rows = Math.min(chunkRows, end - rowStart);
      const chunk = await readChunk(files, readers, fileRows, cols, rowStart, rows, buffers);
      const result = await tfodNegativesPooled(miner, {
        ...plan.options,
        cols,
        loss: chunk.loss,
        positives: chunk.positives,
        boxes: chunk.boxes,
        ...(chunk.ignored ? { ignored: chunk.ignored } : {}),
        ...(chunk.locLoss ? { locLoss: chunk.locLoss } : {}),
      } as TfodOptions);
      totals.positives += result.numPositives;
      totals.negatives += result.numNegatives;
      totals.cls += result.clsLossSum;
      totals.loc += result.locLossSum ?? 0;
      const outputs = [result.selected, result.negatives];
      for (let w = 0; w < writers.length; w++) {
        try {
          await writers[w]!.write(outputs[w]!, (rowStart - start) * cols);
        } catch (e) {
          throw fileError(e, 'write', plan.outputs[w]!.file);
        }
      }
    }
    for (let w = 0; w < writers.length; w++) {
      try {
        await writers[w]!.commit();
      } catch (e) {
        throw fileError(e, 'write', plan.outputs[w]!.file);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const elements = (end - start) * cols;
    const summary = {
      rows: end - start,
      cols,
      negatives: totals.negatives,
      positives: totals.positives,
      kept: totals.negatives + totals.positives,
      cls_loss_sum: totals.cls,
      loc_loss_sum: readers.loc ? totals.loc : null,
      seconds: Number(seconds.toFixed(6)),
      ns_per_element: elements > 0 ? Number(((seconds * 1e9) / elements).toFixed(3)) : 0,
      threads: miner.threads,
      ...(converted.length === 0 ? {} : { converted_from: Object.fromEntries(converted) }),
    };
    if (plan.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!plan.quiet) {
      // With an output on stdout the data goes there: the summary line goes to stderr.
      const stream = plan.outputs.some((f) => f.file === '-') ? process.stderr : process.stdout;
      const out = plan.outputs[0]!.file;
      const n = (x: number): string => x.toLocaleString('en-US');
      stream.write(
        `mined ${n(summary.rows)} x ${n(cols)} (tf_object_detection): ${n(summary.kept)} kept (${n(summary.positives)} positives, ` +
          `${n(summary.negatives)} negatives), written to ${out === '-' ? 'stdout' : out} in ${seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  } finally {
    for (const w of writers) await w.abort();
    await miner?.close();
    for (const r of Object.values(readers)) await r?.close();
  }
}
