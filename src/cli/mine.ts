import { resolve } from 'node:path';
import { PRESET_NAMES, PRESETS } from '../ssd/presets.ts';
import type { OptionTable, OptionValues } from './args.ts';
import {
  parseCount,
  parseNan,
  parseOptions,
  parsePositive,
  parseRows,
  parseThreads,
  required,
  str,
} from './args.ts';
import type { CountSpec } from './counts.ts';
import { openCountSource } from './counts.ts';
import { fileError, UsageError } from './errors.ts';
import { lossFromLogits } from './logits.ts';
import { findNan } from './nan.ts';
import type { RunSummary } from './stream.ts';
import { runStream } from './stream.ts';
import { report } from './summary.ts';
import { MINE_USAGE } from './usage.ts';

const OPTIONS: OptionTable = {
  loss: { type: 'string' },
  out: { type: 'string' },
  'num-neg': { type: 'string' },
  'num-neg-file': { type: 'string' },
  positives: { type: 'string' },
  ratio: { type: 'string' },
  preset: { type: 'string' },
  'min-neg': { type: 'string' },
  logits: { type: 'string' },
  labels: { type: 'string' },
  'loss-out': { type: 'string' },
  threads: { type: 'string' },
  nan: { type: 'string' },
  rows: { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** A validated `hnm mine` command line. */
export interface MinePlan {
  /** `--loss`; with `--logits`, empty (the loss is computed into a temporary file first). */
  readonly loss: string;
  /** `--logits`, `--labels` and `--loss-out`, when the loss comes from logits. */
  readonly logits:
    | { readonly logits: string; readonly labels: string; readonly lossOut: string | undefined }
    | undefined;
  /** The preset ranks the whole batch at once (ssd_keras): one chunk, one flat top-k. */
  readonly batchWide: boolean;
  readonly out: string;
  readonly counts: CountSpec;
  readonly threads: number | undefined;
  readonly nanLargest: boolean;
  readonly rows: ReturnType<typeof parseRows>;
  readonly quiet: boolean;
  readonly json: boolean;
}

const given = (values: OptionValues, name: string): boolean => values[name] !== undefined;

/**
 * Checks an `hnm mine` command line against the CLI contract: one input (`--loss`, or `--logits`
 * with `--labels`), `--out`, exactly one count source, preset options only with positives, every
 * value well-formed. Throws {@link UsageError} (exit 2) for any mistake; no file is touched.
 */
export function planMine(values: OptionValues): MinePlan {
  const hasLogits = given(values, 'logits') || given(values, 'labels') || given(values, 'loss-out');
  if (given(values, 'loss') && hasLogits) {
    throw new UsageError('give either --loss, or --logits with --labels, not both');
  }
  if (hasLogits) {
    if (!given(values, 'logits')) throw new UsageError('--labels and --loss-out need --logits LOGITS.npy');
    if (!given(values, 'labels')) throw new UsageError('--logits needs --labels LABELS.npy (0 = background)');
    for (const name of ['num-neg', 'num-neg-file', 'positives']) {
      if (given(values, name)) {
        throw new UsageError(`--${name} does not apply with --logits: the positives come from --labels`);
      }
    }
  }
  if (!hasLogits) required(values, 'loss', 'LOSS.npy');
  const out = required(values, 'out', 'MASK.npy');
  const lossOut = str(values, 'loss-out');
  if (lossOut !== undefined && resolve(lossOut) === resolve(out)) {
    // Both are renamed into place at the end: the loss would silently replace the mask.
    throw new UsageError(`--loss-out and --out must be different files, both are '${out}'`);
  }
  const preset = str(values, 'preset') ?? 'ssd.pytorch';
  if (!Object.hasOwn(PRESETS, preset)) {
    throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}; got '${preset}'`);
  }
  const spec = PRESETS[preset as keyof typeof PRESETS];
  const ratio = parsePositive(str(values, 'ratio') ?? '3', 'ratio');
  if (spec.wholeRatio && !Number.isInteger(ratio)) {
    throw new UsageError(
      `--ratio must be a whole number for --preset ${preset} (as that framework takes it), got ${ratio}`,
    );
  }
  const minNegText = str(values, 'min-neg');
  const minNeg = minNegText === undefined ? 0 : parseCount(minNegText, 'min-neg');
  const threads = parseThreads(str(values, 'threads'));
  const nanLargest = parseNan(str(values, 'nan'));
  const rows = parseRows(str(values, 'rows'));

  let counts: CountSpec;
  if (hasLogits) {
    counts = { kind: 'positives', file: str(values, 'labels')!, preset, ratio, minNeg };
  } else {
    const sources = ['num-neg', 'num-neg-file', 'positives'].filter((name) => given(values, name));
    if (sources.length === 0) {
      throw new UsageError(
        'missing count source: give one of --num-neg INT, --num-neg-file K.npy, --positives POS.npy',
      );
    }
    if (sources.length > 1) {
      throw new UsageError(
        `give exactly one count source, not ${sources.map((s) => `--${s}`).join(' and ')}`,
      );
    }
    if (sources[0] !== 'positives') {
      for (const name of ['ratio', 'preset', 'min-neg']) {
        if (given(values, name)) throw new UsageError(`--${name} applies only with --positives or --logits`);
      }
    }
    if (sources[0] === 'num-neg')
      counts = { kind: 'fixed', numNeg: parseCount(str(values, 'num-neg')!, 'num-neg') };
    else if (sources[0] === 'num-neg-file')
      counts = { kind: 'file', file: required(values, 'num-neg-file', 'K.npy') };
    else
      counts = { kind: 'positives', file: required(values, 'positives', 'POS.npy'), preset, ratio, minNeg };
  }
  const batchWide = counts.kind === 'positives' && spec.batchWide;
  if (batchWide && rows !== undefined) {
    throw new UsageError(
      `--preset ${preset} mines one top-k over the whole batch, so --rows would change which rows compete; ` +
        'mine the whole file (it is read into memory at once) and slice the mask instead',
    );
  }
  return {
    loss: str(values, 'loss') ?? '',
    logits: hasLogits
      ? { logits: str(values, 'logits')!, labels: str(values, 'labels')!, lossOut: str(values, 'loss-out') }
      : undefined,
    batchWide,
    out,
    counts,
    threads,
    nanLargest,
    rows,
    quiet: values.quiet === true,
    json: values.json === true,
  };
}

/**
 * `hnm mine`: streams the loss file in row chunks, computes each chunk's counts, mines it and writes
 * the `|b1` mask chunk at its offset; prints the summary. Resolves to the exit status; user errors
 * are thrown as `UsageError`/`DataError` for `main` to report.
 *
 * With `--logits`, a first pass (`lossFromLogits`) streams the logits and labels into a temporary
 * loss file and positives file (just the `--rows` slice), which the same pipeline then mines; the
 * loss file becomes `--loss-out` once the mask is written, else both are removed. A batch-wide preset
 * (ssd_keras) reads the whole batch as one chunk and mines it with one batch-wide top-k.
 */
export async function mineCommand(argv: readonly string[]): Promise<number> {
  // TensorFlow Object Detection API's miner takes other inputs and options: its own file.
  const tfod = await import('./tfod.ts');
  if (tfod.isTfodCommand(argv)) return tfod.tfodCommand(argv);
  const values = parseOptions(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(MINE_USAGE);
    return 0;
  }
  const plan = planMine(values);
  const stage =
    plan.logits === undefined
      ? undefined
      : await lossFromLogits({
          logits: plan.logits.logits,
          labels: plan.logits.labels,
          rows: plan.rows,
          lossTarget: plan.logits.lossOut ?? `${plan.out}.loss.npy`,
          positivesTarget: `${plan.out}.positives.npy`,
          nanLargest: plan.nanLargest,
        });
  try {
    const summary = await mineLoss(
      plan,
      stage?.loss.tempFile ?? plan.loss,
      stage === undefined || plan.counts.kind !== 'positives'
        ? plan.counts
        : { ...plan.counts, file: stage.positives.tempFile },
    );
    if (stage !== undefined) {
      if (plan.logits?.lossOut !== undefined) {
        try {
          await stage.loss.commit();
        } catch (e) {
          throw fileError(e, 'write', plan.logits.lossOut);
        }
      }
      const elements = summary.rows * summary.cols;
      summary.seconds = Number((summary.seconds + stage.seconds).toFixed(6));
      summary.ns_per_element = elements > 0 ? Number(((summary.seconds * 1e9) / elements).toFixed(3)) : 0;
    }
    report(summary, plan, 'mined', `${summary.negatives?.toLocaleString('en-US')} negatives kept`);
    return 0;
  } finally {
    await stage?.loss.abort();
    await stage?.positives.abort();
  }
}

/** Mines `lossFile` (the `--loss` file, or the one computed from `--logits`) with `counts`. */
async function mineLoss(plan: MinePlan, lossFile: string, countSpec: CountSpec): Promise<RunSummary> {
  let negatives = 0;
  return runStream({
    command: 'mine',
    lossFile,
    outFile: plan.out,
    outDescr: '|b1',
    outItemSize: 1,
    rows: plan.logits === undefined ? plan.rows : undefined,
    wholeBatch: plan.batchWide,
    threads: plan.threads,
    quiet: plan.quiet,
    json: plan.json,
    async prepare(inputs) {
      const source = await openCountSource(
        countSpec,
        { file: lossFile, rows: inputs.fileRows, cols: inputs.cols, nanLargest: plan.nanLargest },
        inputs.chunkRows,
      );
      return {
        async run(engine, chunk) {
          const counts = await source.countsFor(chunk);
          let mask: Uint8Array;
          try {
            // A batch-wide preset's single count applies to the whole chunk (the whole batch).
            mask = plan.batchWide
              ? await engine.maskBatchWide(chunk.loss, chunk.cols, counts[0]!, plan.nanLargest)
              : await engine.mask(chunk.loss, chunk.cols, counts, plan.nanLargest);
          } catch (e) {
            // The library names the row within the chunk; report it within the file instead.
            throw (e instanceof RangeError ? findNan(lossFile, chunk) : undefined) ?? e;
          }
          for (let r = 0; r < counts.length; r++) negatives += counts[r]!;
          return mask;
        },
        negatives: () => negatives,
        close: () => source.close(),
      };
    },
  });
}
