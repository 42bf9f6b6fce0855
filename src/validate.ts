import { isDataView as isHostDataView, isNativeError, isProxy, isSharedArrayBuffer } from './host-types.ts';

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

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function intrinsicGetter(proto: object, key: PropertyKey): (this: unknown) => unknown {
  const get = Object.getOwnPropertyDescriptor(proto, key)?.get;
  if (get === undefined) throw new Error(`no intrinsic getter ${String(key)}`);
  return get as (this: unknown) => unknown;
}

// The engine's own getters, called directly: they read internal slots, so a Proxy, an object that
// merely inherits a typed array prototype, or an own property shadowing `length` cannot fool them,
// and they run no user code.
const tagGetter = intrinsicGetter(TypedArrayPrototype, Symbol.toStringTag);
const bufferGetter = intrinsicGetter(TypedArrayPrototype, 'buffer');
const byteOffsetGetter = intrinsicGetter(TypedArrayPrototype, 'byteOffset');
const byteLengthGetter = intrinsicGetter(TypedArrayPrototype, 'byteLength');
const viewBufferGetter = intrinsicGetter(DataView.prototype, 'buffer');
const viewByteOffsetGetter = intrinsicGetter(DataView.prototype, 'byteOffset');
const viewByteLengthGetter = intrinsicGetter(DataView.prototype, 'byteLength');
const arrayBufferByteLength = intrinsicGetter(ArrayBuffer.prototype, 'byteLength');

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
const TYPED_ARRAY_PROTOTYPES: ReadonlyMap<object, string> = new Map(
  TYPED_ARRAYS.map((c) => [c.prototype as object, c.name]),
);
const ELEMENT_BYTES: ReadonlyMap<string, number> = new Map(
  TYPED_ARRAYS.map((c) => [c.name, c.BYTES_PER_ELEMENT]),
);

/**
 * The kind of a genuine typed array (`'Float32Array'`, ...), read from its internal slot, or
 * `undefined` for anything else (a Proxy, `Object.create(Float32Array.prototype)`, a DataView).
 * Never throws and runs no user code.
 */
export function typedArrayKind(value: unknown): string | undefined {
  return tagGetter.call(value) as string | undefined;
}

/** Whether `value` is a genuine DataView (read from its internal slot; never throws). */
function isDataView(value: unknown): value is DataView {
  if (value === null || typeof value !== 'object' || isProxy(value)) return false;
  return isHostDataView(value);
}

/**
 * A short description of any value for an error message: `null`, `5`, `"text"`, `Float64Array`, `an
 * array`, `a Proxy`, `object`. Never throws and runs no user code (no getters, no `toString`), so it
 * is safe on hostile values.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  if (isProxy(value)) return 'a Proxy';
  const kind = typedArrayKind(value);
  if (kind !== undefined) return kind;
  if (isDataView(value)) return 'DataView';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    const like = proto === null ? undefined : TYPED_ARRAY_PROTOTYPES.get(proto as object);
    if (like !== undefined) return `an object with ${like}'s prototype (not a typed array)`;
  }
  return typeof value;
}

/**
 * The message of a caught value, for a report line: an `Error`'s message (or its name when the
 * message is empty), a string as it is, any other value {@link describe}d. Never throws, even for a
 * Proxy, a getter that throws or an object whose `toString` throws.
 */
export function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error === null || (typeof error !== 'object' && typeof error !== 'function')) return describe(error);
  try {
    // An Error from another thread is not "native" here but still inherits Error.prototype.
    if (isProxy(error) || !(isNativeError(error) || inheritsError(error))) return describe(error);
    const message: unknown = (error as Error).message;
    if (typeof message === 'string' && message !== '') return message;
    const name: unknown = (error as Error).name;
    return typeof name === 'string' && name !== '' ? name : describe(message);
  } catch {
    return 'an error whose message cannot be read';
  }
}

/** Whether `Error.prototype` is on `value`'s prototype chain, walked without entering a Proxy. */
function inheritsError(value: object): boolean {
  let p: unknown = value;
  for (let depth = 0; depth < 64; depth++) {
    if (p === null || isProxy(p)) return false;
    p = Object.getPrototypeOf(p);
    if (p === Error.prototype) return true;
  }
  return false;
}

/** Whether a genuine typed array's buffer has been detached (transferred). Never throws. */
function isDetached(view: ArrayBufferView): boolean {
  const buffer = bufferGetter.call(view) as ArrayBufferLike;
  if (isSharedArrayBuffer(buffer)) return false;
  if ((arrayBufferByteLength.call(buffer) as number) !== 0) return false;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** `an Int32Array`, `a Uint8Array` (a "you" sound). */
const article = (kind: string) => (/^[AEIO]/.test(kind) ? 'an' : 'a');

/**
 * `value` must be a genuine typed array of `kind` (`'Float32Array'`, ...) whose prototype chain is
 * that kind's and whose buffer is attached. Checked by brand, not `instanceof`: a Proxy, an object
 * that only inherits the prototype, or another kind with a swapped prototype is refused.
 * @throws {TypeError} naming `name`.
 */
export function checkTypedArray<T extends ArrayBufferView>(value: unknown, name: string, kind: string): T {
  const got = typedArrayKind(value);
  if (got !== kind) {
    const proto = got === undefined ? undefined : prototypeKind(value);
    const swapped = proto !== undefined && proto !== got ? ` with ${proto}'s prototype` : '';
    const what = got === undefined ? describe(value) : `${got}${swapped}`;
    throw new TypeError(`\`${name}\` must be ${article(kind)} ${kind}, got ${what}`);
  }
  if (prototypeKind(value) !== kind) {
    throw new TypeError(`\`${name}\` must be a plain ${kind}, got one whose prototype was replaced`);
  }
  if (isDetached(value as ArrayBufferView)) {
    throw new TypeError(
      `\`${name}\` is detached (its buffer was transferred); pass ${article(kind)} ${kind} whose buffer is attached`,
    );
  }
  return value as T;
}

/**
 * The typed array kind whose prototype is first on `value`'s prototype chain (a subclass of
 * Float32Array gives `'Float32Array'`), or undefined. A genuine typed array is never a Proxy, but its
 * chain may hold one, hence the catch. Never throws.
 */
function prototypeKind(value: unknown): string | undefined {
  try {
    let p: unknown = Object.getPrototypeOf(value);
    for (let depth = 0; p !== null && depth < 64; depth++) {
      const kind = TYPED_ARRAY_PROTOTYPES.get(p as object);
      if (kind !== undefined || p === TypedArrayPrototype || isProxy(p)) return kind;
      p = Object.getPrototypeOf(p);
    }
  } catch {
    // A Proxy in the chain whose getPrototypeOf trap throws.
  }
  return undefined;
}

/** `loss` must be a Float32Array (a genuine one, attached; see {@link checkTypedArray}). */
export function checkLoss(loss: unknown, name = 'loss'): Float32Array {
  return checkTypedArray<Float32Array>(loss, name, 'Float32Array');
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

/** The bytes `[start, end)` a genuine view covers in its buffer, or undefined for anything else. */
function byteRange(value: unknown): { buffer: ArrayBufferLike; start: number; end: number } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (typedArrayKind(value) !== undefined) {
    const start = byteOffsetGetter.call(value) as number;
    return {
      buffer: bufferGetter.call(value) as ArrayBufferLike,
      start,
      end: start + (byteLengthGetter.call(value) as number),
    };
  }
  if (isDataView(value)) {
    const start = viewByteOffsetGetter.call(value) as number;
    return {
      buffer: viewBufferGetter.call(value) as ArrayBufferLike,
      start,
      end: start + (viewByteLengthGetter.call(value) as number),
    };
  }
  return undefined;
}

/**
 * An output must not share memory with any input: a kernel writing the output would change the
 * input it is still reading (a wrong result, or a select that never converges). For each entry of
 * `inputs` (argument name → value) that is a typed array or DataView over the same buffer as
 * `output`, with intersecting byte ranges, throws. Values that are not views (a number, a plain
 * array) are skipped. O(number of inputs).
 * @throws {RangeError} naming both arguments and the shared bytes.
 */
export function checkDisjoint(
  output: unknown,
  outputName: string,
  inputs: Readonly<Record<string, unknown>>,
): void {
  const out = byteRange(output);
  if (out === undefined || out.end === out.start) return;
  for (const [name, value] of Object.entries(inputs)) {
    const input = byteRange(value);
    if (input === undefined || input.buffer !== out.buffer) continue;
    const start = Math.max(out.start, input.start);
    const end = Math.min(out.end, input.end);
    if (start < end) {
      throw new RangeError(
        `\`${outputName}\` overlaps \`${name}\` (both use bytes ${start} .. ${end - 1} of the same buffer); an output must not share memory with an input`,
      );
    }
  }
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
  if (typedArrayKind(numNeg) !== undefined && isDetached(numNeg as ArrayBufferView)) {
    throw new TypeError(
      '`numNeg` is detached (its buffer was transferred); pass counts whose buffer is attached',
    );
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

/**
 * `out` must be a genuine, attached typed array of `type` with exactly `length` elements, sharing no
 * memory with any of `inputs` (argument name → value; see {@link checkDisjoint}). Returns it, or
 * undefined when `out` is undefined.
 * @throws {TypeError} the wrong type, or detached. @throws {RangeError} the wrong length, or an overlap.
 */
export function checkOut<T extends Uint8Array | Int32Array>(
  out: unknown,
  length: number,
  type: { new (n: number): T; name: string },
  inputs: Readonly<Record<string, unknown>> = {},
): T | undefined {
  if (out === undefined) return undefined;
  const checked = checkTypedArray<T>(out, 'options.out', type.name);
  if (checked.length !== length) {
    throw new RangeError(`\`options.out\` must have ${length} elements (rows * cols), got ${checked.length}`);
  }
  checkDisjoint(checked, 'options.out', inputs);
  return checked;
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

/**
 * A fresh `Uint8Array` over the bytes of a genuine typed array of `kind`, or undefined when `value`
 * is anything else or detached. Reads internal slots only: runs none of `value`'s code (no
 * `constructor`, `length` or Proxy trap), so it is safe on values returned by untrusted code.
 */
export function byteView(value: unknown, kind: string): Uint8Array | undefined {
  if (typedArrayKind(value) !== kind || isDetached(value as ArrayBufferView)) return undefined;
  return new Uint8Array(
    bufferGetter.call(value) as ArrayBufferLike,
    byteOffsetGetter.call(value) as number,
    byteLengthGetter.call(value) as number,
  );
}

/**
 * Re-checks, after every argument has been read, that a validated array is still usable: a getter
 * of a later argument (an option, a count) may have detached its buffer or resized it under it.
 * Cheap (a few slot reads); called just before the kernels run.
 * @throws {TypeError} detached. @throws {RangeError} its length changed from `length`.
 */
export function checkIntact(view: ArrayBufferView, name: string, length: number): void {
  if (isDetached(view)) {
    throw new TypeError(`\`${name}\` was detached while the call read its other arguments`);
  }
  const size = ELEMENT_BYTES.get(typedArrayKind(view) ?? '') ?? 1;
  const now = (byteLengthGetter.call(view) as number) / size;
  if (now !== length) {
    throw new RangeError(
      `\`${name}\` changed length while the call read its other arguments (from ${length} to ${now})`,
    );
  }
}
