import type { NanPolicy } from '../validate.ts';
import type { OptionTable, OptionValues, RowSlice, Shard } from './args.ts';
import { parseNan, parseRows, parseShard, parseThreads, resolveRows, str } from './args.ts';
import { UsageError } from './errors.ts';
import type { NamedFile } from './files.ts';
import { refuseClobbering } from './files.ts';
import type { LossSource } from './sources.ts';

/** The options every streamed command (`mine`, `rank`) shares. */
export const STREAM_OPTIONS: OptionTable = {
  out: { type: 'string' },
  threads: { type: 'string' },
  nan: { type: 'string' },
  rows: { type: 'string' },
  shard: { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** The shared part of a streamed command line, validated. */
export interface StreamPlan {
  readonly threads: number | undefined;
  readonly nan: NanPolicy;
  readonly rows: RowSlice | undefined;
  readonly shard: Shard | undefined;
  readonly quiet: boolean;
  readonly json: boolean;
}

/**
 * Validates the shared options; `outputs` are the command's outputs (`--out`, `--loss-out`).
 * `--rows` and `--shard` exclude each other; `--json` cannot share stdout with an output `-`.
 */
export function planStream(values: OptionValues, outputs: readonly NamedFile[]): StreamPlan {
  const rows = parseRows(str(values, 'rows'));
  const shard = parseShard(str(values, 'shard'));
  if (rows !== undefined && shard !== undefined) {
    throw new UsageError('give --rows START:END or --shard I/N, not both');
  }
  const json = values.json === true;
  const toStdout = outputs.find((f) => f.file === '-');
  if (json && toStdout !== undefined) {
    throw new UsageError(
      `--json and ${toStdout.option} - would both write to stdout; drop --json or name a file`,
    );
  }
  if (toStdout !== undefined && process.stdout.isTTY === true) {
    throw new UsageError(
      `${toStdout.option} - writes binary .npy data to stdout, which is a terminal here; pipe it into a program or name a file`,
    );
  }
  const quiet = values.quiet === true;
  return {
    threads: parseThreads(str(values, 'threads'), quiet),
    nan: parseNan(str(values, 'nan')),
    rows,
    shard,
    quiet,
    json,
  };
}

/**
 * Refuses outputs that would replace an input, opens the loss source and resolves the rows to
 * process against its row count (exit 2 when out of range).
 */
export async function openSlice(
  plan: StreamPlan,
  inputs: readonly NamedFile[],
  outputs: readonly NamedFile[],
  open: () => Promise<LossSource>,
): Promise<{ source: LossSource; start: number; end: number }> {
  await refuseClobbering(inputs, outputs);
  const source = await open();
  try {
    return { source, ...resolveRows(plan.rows, plan.shard, source.rows, source.file) };
  } catch (e) {
    await source.close();
    throw e;
  }
}
