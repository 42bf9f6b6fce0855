/**
 * Argument checks shared by every entry point, so the sync API, the pool and the CLI report the same
 * mistakes with the same words. Type mistakes throw `TypeError`, values out of range `RangeError`;
 * each message names the argument in backticks.
 */

/** How NaN losses are treated: `'error'` (the default) rejects them, `'largest'` ranks them as PyTorch. */
export type NanPolicy = 'error' | 'largest';

/** Options shared by every mask and rank call. */
export interface NanOptions {
  /** `'error'` (default): a NaN loss throws, naming its row and column. `'largest'`: NaN ranks above `+Inf`, all NaNs tie. */
  nan?: NanPolicy;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}

/** `loss` must be a Float32Array. */
export function checkLoss(loss: unknown, name = 'loss'): Float32Array {
  if (!(loss instanceof Float32Array)) {
    throw new TypeError(`\`${name}\` must be a Float32Array, got ${describe(loss)}`);
  }
  return loss;
}

/** `cols` must be a positive integer dividing `length`; returns the row count. */
export function checkCols(cols: unknown, length: number, name = 'loss'): number {
  if (typeof cols !== 'number') throw new TypeError(`\`cols\` must be a number, got ${describe(cols)}`);
  if (!Number.isInteger(cols) || cols < 1 || cols > 0x7fffffff) {
    throw new RangeError(`\`cols\` must be a positive integer, got ${cols}`);
  }
  if (length % cols !== 0) {
    throw new RangeError(`\`cols\` (${cols}) must divide \`${name}.length\` (${length})`);
  }
  return length / cols;
}

/** Validates `options.nan`; returns true for `'largest'`. */
export function checkNan(options: NanOptions | undefined): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`\`options\` must be an object, got ${describe(options)}`);
  }
  const nan = options.nan;
  if (nan === undefined || nan === 'error') return false;
  if (nan === 'largest') return true;
  throw new TypeError(`\`options.nan\` must be 'error' or 'largest', got ${describe(nan)}`);
}

function checkCount(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a finite integer >= 0, got ${value}`);
  }
  return value;
}

/**
 * Per-row counts as an `Int32Array` clamped to `0 .. cols` (a count above `cols` selects the whole
 * row). `numNeg` is one number for every row or one entry per row; each must be a finite integer
 * >= 0. Writes into `into` when given (it must hold `rows` entries).
 */
export function toCounts(numNeg: unknown, rows: number, cols: number, into?: Int32Array): Int32Array {
  const counts = into ?? new Int32Array(rows);
  if (typeof numNeg === 'number') {
    const k = checkCount(numNeg, '`numNeg`');
    counts.fill(k > cols ? cols : k, 0, rows);
    return counts;
  }
  if (
    numNeg === null ||
    typeof numNeg !== 'object' ||
    typeof (numNeg as ArrayLike<unknown>).length !== 'number'
  ) {
    throw new TypeError(`\`numNeg\` must be a number or an array-like of numbers, got ${describe(numNeg)}`);
  }
  const list = numNeg as ArrayLike<unknown>;
  if (list.length !== rows) {
    throw new RangeError(`\`numNeg\` must have one entry per row (${rows}), got ${list.length}`);
  }
  for (let r = 0; r < rows; r++) {
    const k = checkCount(list[r], `\`numNeg[${r}]\``);
    counts[r] = k > cols ? cols : k;
  }
  return counts;
}

/** `out` must be a Uint8Array of exactly `length` bytes. */
export function checkOut<T extends Uint8Array | Int32Array>(
  out: unknown,
  length: number,
  type: { new (n: number): T; name: string },
): T | undefined {
  if (out === undefined) return undefined;
  if (!(out instanceof type)) {
    const article = /^[AEIO]/.test(type.name) ? 'an' : 'a'; // a Uint8Array, an Int32Array
    throw new TypeError(`\`options.out\` must be ${article} ${type.name}, got ${describe(out)}`);
  }
  if (out.length !== length) {
    throw new RangeError(`\`options.out\` must have ${length} elements (rows * cols), got ${out.length}`);
  }
  return out;
}

/** The `RangeError` of a NaN loss, with where it is as numbers (0-based) besides the message. */
export type NanError = RangeError & { readonly row: number; readonly column: number };

/** The error every path raises for a NaN loss under `nan: 'error'`; `row` and `column` locate it. */
export function nanError(flatIndex: number, cols: number): NanError {
  const row = Math.floor(flatIndex / cols);
  const column = flatIndex % cols;
  const error = new RangeError(
    `loss is NaN at row ${row}, column ${column}; pass \`nan: 'largest'\` to rank NaN above +Inf as PyTorch does`,
  );
  // Not enumerable: the error still equals a plain RangeError with the same message.
  return Object.defineProperties(error, { row: { value: row }, column: { value: column } }) as NanError;
}

/** An `Int32Array` view of a float32 array's IEEE bits (the kernels read bits). */
export function bitsOf(loss: Float32Array): Int32Array {
  return new Int32Array(loss.buffer, loss.byteOffset, loss.length);
}
