import type { ParseArgsConfig } from 'node:util';
import { parseArgs } from 'node:util';
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
  try {
    const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
    return values as OptionValues;
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

/** `--threads N`: a whole number from 1 to 1024. */
export function parseThreads(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(n >= 1 && n <= 1024))
    throw new UsageError(`--threads must be a whole number from 1 to 1024, got '${text}'`);
  return n;
}

/** `--nan error|largest`: true for `largest`. */
export function parseNan(text: string | undefined): boolean {
  if (text === undefined || text === 'error') return false;
  if (text === 'largest') return true;
  throw new UsageError(`--nan must be 'error' or 'largest', got '${text}'`);
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
 * Resolves a slice against a file of `rows` rows as Python does: END beyond the last row is clipped
 * (so fixed-size shards work on the last shard), START beyond it gives an empty slice.
 */
export function resolveRows(slice: RowSlice | undefined, rows: number): { start: number; end: number } {
  const end = Math.min(slice?.end ?? rows, rows);
  const start = Math.min(slice?.start ?? 0, end);
  return { start, end };
}

/** A positive finite number (e.g. `--ratio`). */
export function parsePositive(text: string, option: string): number {
  const n = /^\s*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(Number.isFinite(n) && n > 0))
    throw new UsageError(`--${option} must be a positive number, got '${text}'`);
  return n;
}
