import { availableParallelism } from 'node:os';
import type { ParseArgsConfig } from 'node:util';
import { parseArgs } from 'node:util';
import type { NanPolicy } from '../validate.ts';
import { UsageError } from './errors.ts';

/** The option table of one command, as `node:util` `parseArgs` takes it. */
export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** Parsed option values: strings, booleans, or absent. */
export type OptionValues = Record<string, string | boolean | undefined>;

/**
 * Parses `argv` strictly against `options` (no positionals), turning every parse failure (unknown
 * option, missing value, value that looks like an option) into a {@link UsageError}.
 */
export function parseOptions(argv: readonly string[], options: OptionTable): OptionValues {
  return parseWithPositionals(argv, options, false).values;
}

/**
 * A value that starts with '-' after a string option (`--num-neg -3`, `--loss -`): `parseArgs`
 * would take it for an option and print its own "ambiguous" message, so it is glued on with '='
 * and the option's own check names the mistake.
 */
function glueDashValues(argv: readonly string[], options: OptionTable): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const next = argv[i + 1];
    if (
      name !== undefined &&
      options[name]?.type === 'string' &&
      next !== undefined &&
      (next === '-' || /^-[\d.]/.test(next))
    ) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  return args;
}

/** Like {@link parseOptions}, also returning positional arguments when `positionals` is true. */
export function parseWithPositionals(
  argv: readonly string[],
  options: OptionTable,
  positionals: boolean,
): { values: OptionValues; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args: glueDashValues(argv, options),
      options,
      strict: true,
      allowPositionals: positionals,
    });
    return { values: parsed.values as OptionValues, positionals: parsed.positionals };
  } catch (e) {
    if (e instanceof TypeError && typeof (e as { code?: unknown }).code === 'string') {
      throw new UsageError(e.message.replace(/\. To specify a positional argument.*$/s, '.'));
    }
    throw e;
  }
}

/** A string option's value, or undefined. */
export function str(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A required string option's value. */
export function required(values: OptionValues, name: string, meta: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw new UsageError(`missing --${name} ${meta}`);
  return v;
}

/** A non-negative integer written in plain decimal digits (no sign, fraction, exponent). */
export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`--${option} must be a whole number >= 0, got '${text}'`);
  }
  const n = Number(text.trim());
  // A huge count selects every element; the kernels clamp to the row length anyway.
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}

/**
 * `--threads N`: a whole number from 1 to 4x the CPU count (more only time-slices the same cores,
 * and each thread costs start-up time and memory). Above the CPU count, a one-line warning on
 * stderr unless `quiet`.
 */
export function parseThreads(
  text: string | undefined,
  quiet = false,
  cpus = availableParallelism(),
): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  const most = 4 * cpus;
  if (!(n >= 1 && n <= most)) {
    throw new UsageError(
      `--threads must be a whole number from 1 to ${most} (4x the ${cpus} CPUs here), got '${text}'`,
    );
  }
  if (n > cpus && !quiet) {
    process.stderr.write(
      `hnm: warning: --threads ${n} is more than the ${cpus} CPUs here; the extra threads only share the same cores\n`,
    );
  }
  return n;
}

/** `--nan error|largest`. */
export function parseNan(text: string | undefined): NanPolicy {
  if (text === undefined || text === 'error' || text === 'largest') return text ?? 'error';
  throw new UsageError(`--nan must be 'error' or 'largest', got '${text}'`);
}

/** `--shard I/N`: shard I (0-based) of N contiguous, nearly equal row ranges. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `--shard I/N` (whole numbers, 0 <= I < N). */
export function parseShard(text: string | undefined): Shard | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m === null ? Number.NaN : Number(m[1]);
  const count = m === null ? Number.NaN : Number(m[2]);
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(count) && count >= 1 && index < count)) {
    throw new UsageError(
      `--shard must be I/N with whole numbers 0 <= I < N (shard I of N, 0-based, e.g. --shard $SLURM_ARRAY_TASK_ID/8), got '${text}'`,
    );
  }
  return { index, count };
}

/** The rows of shard `index` of `count` over `rows` rows: `floor(I*B/N) .. floor((I+1)*B/N)`. */
export function shardRows(shard: Shard, rows: number): { start: number; end: number } {
  // BigInt: I * B may exceed 2^53 for huge B and N.
  const at = (i: number) => Number((BigInt(i) * BigInt(rows)) / BigInt(shard.count));
  return { start: at(shard.index), end: at(shard.index + 1) };
}

/** A `--rows START:END` slice as written: either bound may be omitted, like a Python slice. */
export interface RowSlice {
  readonly start: number | undefined;
  readonly end: number | undefined;
}

/** Parses `--rows START:END` (0-based, END exclusive, non-negative; `:END`, `START:` and `:` allowed). */
export function parseRows(text: string | undefined): RowSlice | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d*)\s*:\s*(\d*)\s*$/.exec(text);
  if (m === null) {
    throw new UsageError(
      `--rows must be START:END with whole numbers >= 0 (0-based, END exclusive, like a Python slice), got '${text}'`,
    );
  }
  const start = m[1] === '' ? undefined : Number(m[1]);
  const end = m[2] === '' ? undefined : Number(m[2]);
  if (start !== undefined && end !== undefined && start > end) {
    throw new UsageError(`--rows ${text}: START (${start}) is after END (${end})`);
  }
  return { start, end };
}

/**
 * Resolves `--rows` or `--shard` against a file of `rows` rows. A bound beyond the row count is a
 * usage error naming the count (a silently empty or short shard would look like success); an empty
 * slice given explicitly (`5:5`) is fine.
 */
export function resolveRows(
  slice: RowSlice | undefined,
  shard: Shard | undefined,
  rows: number,
  file: string,
): { start: number; end: number } {
  if (shard !== undefined) return shardRows(shard, rows);
  const start = slice?.start ?? 0;
  const end = slice?.end ?? rows;
  if (start > rows || end > rows) {
    throw new UsageError(
      `--rows ${slice?.start ?? ''}:${slice?.end ?? ''} is beyond the ${rows.toLocaleString('en-US')} rows of ${file} (rows are 0 .. ${rows - 1}; END may be at most ${rows})`,
    );
  }
  return { start, end: Math.max(start, end) };
}

/** A positive finite number (e.g. `--ratio`). */
export function parsePositive(text: string, option: string): number {
  const n = /^\s*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isFinite(n) && n > 0))
    throw new UsageError(`--${option} must be a positive number, got '${text}'`);
  return n;
}
