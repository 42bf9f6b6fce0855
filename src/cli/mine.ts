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
import { UsageError } from './errors.ts';
import { findNan } from './nan.ts';
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

/** Presets of the SSD front end; only the default is served by the CLI so far. */
const PRESETS = ['ssd.pytorch', 'pytorch_advanced', 'torchvision', 'mmdet', 'ssd_keras'];
const AVAILABLE_PRESETS = new Set(['ssd.pytorch']);
/** These frameworks take whole-number ratios; a fraction would not reproduce them. */
const WHOLE_RATIO_PRESETS = new Set(['mmdet', 'ssd_keras']);

/** A validated `hnm mine` command line. */
export interface MinePlan {
  readonly loss: string;
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
  const preset = str(values, 'preset') ?? 'ssd.pytorch';
  if (!PRESETS.includes(preset)) {
    throw new UsageError(`--preset must be one of ${PRESETS.join(', ')}; got '${preset}'`);
  }
  const ratio = parsePositive(str(values, 'ratio') ?? '3', 'ratio');
  if (WHOLE_RATIO_PRESETS.has(preset) && !Number.isInteger(ratio)) {
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
  if (counts.kind === 'positives' && !AVAILABLE_PRESETS.has(preset)) {
    throw new UsageError(`--preset ${preset} is not available in this version yet (only ssd.pytorch)`);
  }
  if (hasLogits) {
    throw new UsageError(
      '--logits/--labels is not available in this version yet; compute loss_c and pass --loss',
    );
  }
  return {
    loss: str(values, 'loss')!,
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
 */
export async function mineCommand(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(MINE_USAGE);
    return 0;
  }
  const plan = planMine(values);
  let negatives = 0;
  const summary = await runStream({
    command: 'mine',
    lossFile: plan.loss,
    outFile: plan.out,
    outDescr: '|b1',
    outItemSize: 1,
    rows: plan.rows,
    threads: plan.threads,
    quiet: plan.quiet,
    json: plan.json,
    async prepare(inputs) {
      const source = await openCountSource(
        plan.counts,
        { file: plan.loss, rows: inputs.fileRows, cols: inputs.cols, nanLargest: plan.nanLargest },
        inputs.chunkRows,
      );
      return {
        async run(engine, chunk) {
          const counts = await source.countsFor(chunk);
          let mask: Uint8Array;
          try {
            mask = await engine.mask(chunk.loss, chunk.cols, counts, plan.nanLargest);
          } catch (e) {
            // The library names the row within the chunk; report it within the file instead.
            throw (e instanceof RangeError ? findNan(plan.loss, chunk) : undefined) ?? e;
          }
          for (let r = 0; r < chunk.rows; r++) negatives += counts[r]!;
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
