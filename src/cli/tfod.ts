import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HardNegativeMiner } from '../miner.ts';
import { NpyFormatError } from '../npy/errors.ts';
import { formatShape } from '../npy/header.ts';
import type { NpyReader } from '../npy/reader.ts';
import { NpyWriter } from '../npy/writer.ts';
import { firstNonBinary } from '../ssd/positives.ts';
import type { TfodLossType, TfodOptions } from '../ssd/tfod-options.ts';
import { describeBadInput, findBadInput, TFOD_PRESET } from '../ssd/tfod-options.ts';
import { tfodNegativesPooled } from '../ssd/tfod-pooled.ts';
import type { OptionTable, OptionValues } from './args.ts';
import { parseCount, parseOptions, parseRows, parseThreads, required, resolveRows, str } from './args.ts';
import { DataError, fileError, UsageError } from './errors.ts';
import { checkLossFile, checkOrder, checkPositivesFile, openInput } from './inputs.ts';
import { chunkRowsFor } from './stream.ts';

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
Outputs (numpy bool (B, N), written to a temporary file, renamed on success):
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
  --threads N, --rows START:END, --quiet, --json   as for the other presets; --json adds
                             positives, negatives and the two mined loss sums
  --nan error                the only policy: a NaN loss or box is an error naming row and column
`;

const OPTIONS: OptionTable = {
  preset: { type: 'string' },
  loss: { type: 'string' },
  positives: { type: 'string' },
  boxes: { type: 'string' },
  ignored: { type: 'string' },
  'loc-loss': { type: 'string' },
  out: { type: 'string' },
  'negatives-out': { type: 'string' },
  'num-hard-examples': { type: 'string' },
  'iou-threshold': { type: 'string' },
  'loss-type': { type: 'string' },
  'cls-loss-weight': { type: 'string' },
  'loc-loss-weight': { type: 'string' },
  'max-neg-per-pos': { type: 'string' },
  'min-neg': { type: 'string' },
  threads: { type: 'string' },
  nan: { type: 'string' },
  rows: { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
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

interface TfodPlanCli {
  readonly files: { loss: string; positives: string; boxes: string; ignored?: string; loc?: string };
  readonly out: string;
  readonly negativesOut: string | undefined;
  readonly options: Omit<TfodOptions, 'cols' | 'loss' | 'positives' | 'boxes' | 'ignored' | 'locLoss'>;
  readonly threads: number | undefined;
  readonly rows: ReturnType<typeof parseRows>;
  readonly quiet: boolean;
  readonly json: boolean;
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
  const inputs = [loss, positives, boxes, ignored, loc].filter((f): f is string => f !== undefined);
  const outputs = [
    ['--out', out],
    ['--negatives-out', negativesOut],
  ] as const;
  for (const [flag, file] of outputs) {
    if (file !== undefined && inputs.some((f) => resolve(f) === resolve(file))) {
      throw new UsageError(`${flag} '${file}' is also an input; write the output to another file`);
    }
  }
  if (negativesOut !== undefined && resolve(negativesOut) === resolve(out)) {
    throw new UsageError(`--out and --negatives-out must be different files, both are '${out}'`);
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
    files: {
      loss,
      positives,
      boxes,
      ...(ignored === undefined ? {} : { ignored }),
      ...(loc === undefined ? {} : { loc }),
    },
    out,
    negativesOut,
    options,
    threads: parseThreads(str(values, 'threads')),
    rows: parseRows(str(values, 'rows')),
    quiet: values.quiet === true,
    json: values.json === true,
  };
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
  checkOrder(reader);
}

/** `hnm mine --preset tf_object_detection ...`: resolves to the exit status. */
export async function tfodCommand(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(TFOD_USAGE);
    return 0;
  }
  const plan = planTfodCommand(values);
  const started = performance.now();
  const { files } = plan;
  const readers: Partial<Record<keyof TfodPlanCli['files'], NpyReader>> = {};
  const writers: NpyWriter[] = [];
  let miner: HardNegativeMiner | undefined;
  try {
    for (const key of Object.keys(files) as (keyof TfodPlanCli['files'])[])
      readers[key] = await openInput(files[key]!);
    const { rows: fileRows, cols } = checkLossFile(readers.loss!);
    checkPositivesFile(readers.positives!, fileRows, cols, files.loss);
    if (readers.ignored) checkPositivesFile(readers.ignored, fileRows, cols, files.loss);
    checkBoxesFile(readers.boxes!, fileRows, cols, files.loss);
    if (readers.loc) {
      const loc = checkLossFile(readers.loc, 'localization loss');
      if (loc.rows !== fileRows || loc.cols !== cols) {
        throw new NpyFormatError(
          files.loc!,
          'shape',
          `header field 'shape' is ${formatShape(readers.loc.header.shape)}; expected (${fileRows}, ${cols}), the shape of ${files.loss}`,
        );
      }
    }
    const { start, end } = resolveRows(plan.rows, fileRows);
    for (const file of [plan.out, plan.negativesOut]) {
      if (file === undefined) continue;
      try {
        if ((await stat(file).catch(() => undefined))?.isDirectory()) {
          throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
        }
        writers.push(await NpyWriter.create(file, '|b1', [end - start, cols], 1));
      } catch (e) {
        throw fileError(e, 'write', file);
      }
    }
    miner = new HardNegativeMiner(plan.threads === undefined ? {} : { threads: plan.threads });
    // Inputs of one row take 27 bytes per anchor: a seventh of the loss-only chunk.
    const chunkRows = process.env.HNM_CHUNK_ROWS
      ? chunkRowsFor(cols)
      : Math.max(1, Math.floor(chunkRowsFor(cols) / 7));
    const totals = { positives: 0, negatives: 0, cls: 0, loc: 0 };
    for (let rowStart = start; rowStart < end; rowStart += chunkRows) {
      const rows = Math.min(chunkRows, end - rowStart);
      const n = rows * cols;
      const read = async (key: keyof TfodPlanCli['files'], run: () => Promise<void>): Promise<void> => {
        try {
          await run();
        } catch (e) {
          throw fileError(e, 'read', files[key]!);
        }
      };
      const loss = new Float32Array(n);
      await read('loss', () => readers.loss!.readFloat32(rowStart * cols, n, loss));
      const boxes = new Float32Array(4 * n);
      await read('boxes', () => readers.boxes!.readFloat32(4 * rowStart * cols, 4 * n, boxes));
      const locLoss = readers.loc ? new Float32Array(n) : undefined;
      if (locLoss) await read('loc', () => readers.loc!.readFloat32(rowStart * cols, n, locLoss));
      const bytes = async (key: 'positives' | 'ignored'): Promise<Uint8Array> => {
        const b = new Uint8Array(n);
        await read(key, () => readers[key]!.readRaw(rowStart * cols, n, b));
        const at = firstNonBinary(b, 0, n);
        if (at >= 0) {
          throw new DataError(
            `${files[key]}: value ${b[at]} at row ${rowStart + Math.floor(at / cols)}, column ${at % cols} is not 0 or 1`,
          );
        }
        return b;
      };
      const positives = await bytes('positives');
      const ignored = readers.ignored ? await bytes('ignored') : undefined;
      const bad = findBadInput(loss, locLoss, boxes);
      if (bad) {
        const file = bad.input === 'loss' ? files.loss : bad.input === 'locLoss' ? files.loc : files.boxes;
        throw new DataError(`${file}: ${describeBadInput(bad, cols, rowStart)}`);
      }
      if (ignored) {
        for (let i = 0; i < n; i++) {
          if ((ignored[i]! & positives[i]!) !== 0) {
            throw new DataError(
              `${files.ignored}: row ${rowStart + Math.floor(i / cols)}, column ${i % cols} is ignored and also a positive in ${files.positives}`,
            );
          }
        }
      }
      const result = await tfodNegativesPooled(miner, {
        ...plan.options,
        cols,
        loss,
        positives,
        boxes,
        ...(ignored ? { ignored } : {}),
        ...(locLoss ? { locLoss } : {}),
      } as TfodOptions);
      totals.positives += result.numPositives;
      totals.negatives += result.numNegatives;
      totals.cls += result.clsLossSum;
      totals.loc += result.locLossSum ?? 0;
      const offset = (rowStart - start) * cols;
      const outputs = [result.selected, result.negatives];
      for (let w = 0; w < writers.length; w++) {
        try {
          await writers[w]!.write(outputs[w]!, offset);
        } catch (e) {
          throw fileError(e, 'write', w === 0 ? plan.out : plan.negativesOut!);
        }
      }
    }
    for (let w = 0; w < writers.length; w++) {
      try {
        await writers[w]!.commit();
      } catch (e) {
        throw fileError(e, 'write', w === 0 ? plan.out : plan.negativesOut!);
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
    };
    if (plan.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!plan.quiet) {
      process.stdout.write(
        `mined ${summary.rows.toLocaleString('en-US')} x ${cols.toLocaleString('en-US')} (tf_object_detection): ` +
          `${summary.kept.toLocaleString('en-US')} kept (${summary.positives.toLocaleString('en-US')} positives, ` +
          `${summary.negatives.toLocaleString('en-US')} negatives), written to ${plan.out} in ${seconds.toFixed(2)} s\n`,
      );
    }
    return 0;
  } finally {
    for (const w of writers) await w.abort();
    await miner?.close();
    for (const r of Object.values(readers)) await r?.close();
  }
}
