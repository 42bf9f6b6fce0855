import { resolve } from 'node:path';
import { PRESET_NAMES, PRESETS } from '../ssd/presets.ts';
import type { OptionTable, OptionValues } from './args.ts';
import { parseCount, parseOptions, parsePositive, required, str } from './args.ts';
import type { StreamPlan } from './common.ts';
import { openSlice, planStream, STREAM_OPTIONS } from './common.ts';
import type { CountSpec } from './counts.ts';
import { openCountSource } from './counts.ts';
import { UsageError } from './errors.ts';
import type { NamedFile } from './files.ts';
import { nanInFile } from './nan.ts';
import { logitsSource, lossFileSource } from './sources.ts';
import { runStream } from './stream.ts';
import { report } from './summary.ts';
import { MINE_USAGE } from './usage.ts';

const OPTIONS: OptionTable = {
  ...STREAM_OPTIONS,
  loss: { type: 'string' },
  'num-neg': { type: 'string' },
  'num-neg-file': { type: 'string' },
  positives: { type: 'string' },
  ratio: { type: 'string' },
  preset: { type: 'string' },
  'min-neg': { type: 'string' },
  logits: { type: 'string' },
  labels: { type: 'string' },
  'loss-out': { type: 'string' },
};

/** A validated `hnm mine` command line. */
export interface MinePlan extends StreamPlan {
  /** `--loss`, or undefined when the loss comes from `--logits`. */
  readonly loss: string | undefined;
  /** `--logits` and `--labels`, when the loss is computed from them. */
  readonly logits: { readonly logits: string; readonly labels: string } | undefined;
  /** `--loss-out`: also write the loss computed from the logits. */
  readonly lossOut: string | undefined;
  /** The preset ranks the whole batch at once (ssd_keras): one chunk, one flat top-k. */
  readonly batchWide: boolean;
  readonly out: string;
  readonly counts: CountSpec;
  /** Every input file with the option naming it (the outputs must differ from all of them). */
  readonly inputs: readonly NamedFile[];
  readonly outputs: readonly NamedFile[];
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
    const with_ = ['logits', 'labels', 'loss-out'].filter((name) => given(values, name));
    throw new UsageError(
      with_.length === 1 && with_[0] === 'loss-out'
        ? '--loss-out writes the loss computed from --logits; with --loss LOSS.npy the loss is that file already (drop --loss-out)'
        : `give either --loss, or --logits with --labels, not both (--loss was given with ${with_.map((n) => `--${n}`).join(' and ')})`,
    );
  }
  if (hasLogits) {
    if (!given(values, 'logits')) {
      throw new UsageError(
        `${given(values, 'labels') ? '--labels' : '--loss-out'} needs --logits LOGITS.npy (or give --loss LOSS.npy alone)`,
      );
    }
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
  const outputs: NamedFile[] = [{ option: '--out', file: out }];
  if (lossOut !== undefined) outputs.push({ option: '--loss-out', file: lossOut });
  const stream = planStream(values, outputs);

  let counts: CountSpec;
  if (hasLogits) {
    counts = { kind: 'positives', file: undefined, preset, ratio, minNeg };
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
  if (batchWide && (stream.rows !== undefined || stream.shard !== undefined)) {
    throw new UsageError(
      `--preset ${preset} mines one top-k over the whole batch, so --rows or --shard would change which rows compete; ` +
        'mine the whole file (it is read into memory at once) and slice the mask instead',
    );
  }
  const inputs: NamedFile[] = [];
  for (const name of ['loss', 'logits', 'labels', 'num-neg-file', 'positives']) {
    const file = str(values, name);
    if (file !== undefined) inputs.push({ option: `--${name}`, file });
  }
  return {
    ...stream,
    loss: str(values, 'loss'),
    logits: hasLogits ? { logits: str(values, 'logits')!, labels: str(values, 'labels')! } : undefined,
    lossOut,
    batchWide,
    out,
    counts,
    inputs,
    outputs,
  };
}

/**
 * `hnm mine`: streams the losses in row chunks (from `--loss`, or computed in memory from
 * `--logits` and `--labels`), computes each chunk's counts, mines it and writes the `|b1` mask chunk
 * (and with `--loss-out` the chunk's losses); prints the summary. Resolves to the exit status; user
 * errors are thrown as `UsageError`/`DataError` for `main` to report. A batch-wide preset
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
  const slice = await openSlice(plan, plan.inputs, plan.outputs, () =>
    plan.logits === undefined
      ? lossFileSource(plan.loss!)
      : logitsSource(plan.logits.logits, plan.logits.labels, plan.nan),
  );
  const lossFile = slice.source.file;
  let negatives = 0;
  const summary = await runStream({
    command: 'mine',
    ...slice,
    out: plan.outputs[0]!,
    outDescr: '|b1',
    outItemSize: 1,
    lossOut: plan.outputs[1],
    wholeBatch: plan.batchWide,
    threads: plan.threads,
    nan: plan.nan,
    quiet: plan.quiet,
    async prepare(chunkRows) {
      const { rows, cols } = slice.source;
      const source = await openCountSource(
        plan.counts,
        { file: lossFile, rows, cols, nan: plan.nan },
        chunkRows,
      );
      return {
        async run(engine, chunk) {
          const counts = await source.countsFor(chunk);
          let mask: Uint8Array;
          try {
            // A batch-wide preset's single count applies to the whole chunk (the whole batch).
            mask = plan.batchWide
              ? await engine.maskBatchWide(chunk.loss, chunk.cols, counts[0]!, plan.nan)
              : await engine.mask(chunk.loss, chunk.cols, counts, plan.nan);
          } catch (e) {
            throw nanInFile(e, lossFile, chunk);
          }
          for (let r = 0; r < counts.length; r++) negatives += counts[r]!;
          return mask;
        },
        negatives: () => negatives,
        close: () => source.close(),
      };
    },
  });
  report(summary, plan, 'mined', `${summary.negatives?.toLocaleString('en-US')} negatives kept`);
  return 0;
}
