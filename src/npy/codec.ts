/**
 * The in-memory `.npy` codec: parse a whole file held in a `Uint8Array`, encode an array to the bytes
 * `np.save` writes. No Node.js API anywhere in this file's import graph (it runs in browsers and bare
 * `vm` contexts; the `core` entry imports it); the file-system side is `small.ts`, `reader.ts` and
 * `writer.ts`.
 */
import { isArrayBuffer, isProxy, isSharedArrayBuffer } from '../host-types.ts';
import { describe } from '../validate.ts';
import { byteswap } from './convert.ts';
import type { NpyDtype } from './dtype.ts';
import type { NpyHeader } from './header.ts';
import { encodeHeader, formatShape, parseHeader } from './header.ts';

/** The typed array {@link parseNpy} returns for each dtype (bool as `Uint8Array`, float16 as raw `Uint16Array` bits). */
export type NpyData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** A whole `.npy` array in memory. */
export interface NpyArray {
  /** The dtype as stored in the file; `data` is always in this machine's (little-endian) order. */
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /**
   * False unless {@link NpyReadOptions.keepFortranOrder} was asked for on a Fortran-order file: then
   * `data` is column-major, as stored, and a kernel reading it as rows would misread it.
   */
  readonly fortranOrder: boolean;
  readonly data: NpyData;
}

/** Options of {@link parseNpy} and `readNpy`. */
export interface NpyReadOptions {
  /**
   * A Fortran-order (column-major) file is returned in C order by default, transposed while
   * reading, so `data` is row-major like every kernel expects. `true` returns the stored layout
   * instead, with `fortranOrder: true` in the result.
   */
  keepFortranOrder?: boolean;
}

/** Options of {@link encodeNpy} and `writeNpy`. */
export interface NpyWriteOptions {
  /** Store a `Uint8Array` as numpy bool (`'|b1'`) instead of `'|u1'`. */
  bool?: boolean;
}

/** A typed array of `dtype`'s element type over `length` elements of `buffer` from byte 0. */
export function typedArrayFor(dtype: NpyDtype, buffer: ArrayBuffer, length: number): NpyData {
  switch (`${dtype.kind}${dtype.size}`) {
    case 'b1':
    case 'u1':
      return new Uint8Array(buffer, 0, length);
    case 'i1':
      return new Int8Array(buffer, 0, length);
    case 'i2':
      return new Int16Array(buffer, 0, length);
    case 'i4':
      return new Int32Array(buffer, 0, length);
    case 'i8':
      return new BigInt64Array(buffer, 0, length);
    case 'u2':
    case 'f2':
      return new Uint16Array(buffer, 0, length);
    case 'u4':
      return new Uint32Array(buffer, 0, length);
    case 'u8':
      return new BigUint64Array(buffer, 0, length);
    case 'f4':
      return new Float32Array(buffer, 0, length);
    default:
      return new Float64Array(buffer, 0, length);
  }
}

/**
 * The C-order (row-major) copy of column-major `data` of `shape`. Cost: O(elements), one new array.
 */
export function fortranToC(data: NpyData, shape: readonly number[]): NpyData {
  const n = shape.length;
  const out = new (data.constructor as new (length: number) => NpyData)(data.length);
  if (data.length === 0) return out;
  // Strides of a column-major layout: the first axis varies fastest.
  const stride = new Array<number>(n);
  let s = 1;
  for (let k = 0; k < n; k++) {
    stride[k] = s;
    s *= shape[k]!;
  }
  const index = new Array<number>(n).fill(0);
  let f = 0;
  const src = data as unknown as { [i: number]: number | bigint };
  const dst = out as unknown as { [i: number]: number | bigint };
  for (let c = 0; c < data.length; c++) {
    dst[c] = src[f]!;
    // Odometer over the C order: the last axis varies fastest.
    for (let k = n - 1; k >= 0; k--) {
      if (++index[k]! < shape[k]!) {
        f += stride[k]!;
        break;
      }
      f -= (shape[k]! - 1) * stride[k]!;
      index[k] = 0;
    }
  }
  return out;
}

/** Whether a layout flag changes anything: only with two or more dimensions above 1. */
export function layoutMatters(shape: readonly number[]): boolean {
  return shape.filter((d) => d > 1).length > 1;
}

/**
 * The array of a whole file's data bytes (`raw`, already little-endian, length `header.dataBytes`,
 * from byte 0 of its own buffer), in C order unless `keepFortranOrder`.
 */
export function arrayOf(header: NpyHeader, buffer: ArrayBuffer, options?: NpyReadOptions): NpyArray {
  let data = typedArrayFor(header.dtype, buffer, header.length);
  let fortranOrder = header.fortranOrder;
  if (fortranOrder && options?.keepFortranOrder !== true) {
    if (layoutMatters(header.shape)) data = fortranToC(data, header.shape);
    fortranOrder = false;
  }
  return { dtype: header.dtype, shape: header.shape, fortranOrder, data };
}

/** The bytes of `parseNpy`'s input as a Uint8Array (a view, never a copy). */
function npyBytes(input: unknown): Uint8Array {
  if (isArrayBuffer(input) || isSharedArrayBuffer(input)) return new Uint8Array(input);
  if (ArrayBuffer.isView(input) && !isProxy(input)) {
    if (input instanceof Uint8Array) return input;
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }
  throw new TypeError(
    `\`bytes\` must be a Uint8Array, an ArrayBuffer or another ArrayBufferView holding a .npy file, got ${describe(input)}`,
  );
}

/**
 * Parses a whole `.npy` file held in memory: header validated as by the streaming reader, data
 * copied into a new, aligned typed array, converted to little-endian and (unless
 * `options.keepFortranOrder`) to C order. Cost: O(bytes).
 * @param input the file's bytes: a `Uint8Array` (a `Buffer` is one), an `ArrayBuffer` or
 *   `SharedArrayBuffer`, or any other `ArrayBufferView` (its bytes are read).
 * @param file name used in error messages.
 * @throws {TypeError} `input` is none of those.
 * @throws {NpyFormatError} naming the header field at fault.
 */
export function parseNpy(
  input: Uint8Array | ArrayBufferLike | ArrayBufferView,
  file = '<bytes>',
  options?: NpyReadOptions,
): NpyArray {
  const bytes = npyBytes(input);
  const header = parseHeader(bytes, bytes.length, file);
  const buffer = new ArrayBuffer(header.dataBytes);
  const raw = new Uint8Array(buffer);
  raw.set(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
  if (header.dtype.bigEndian) byteswap(raw, header.dtype.size);
  return arrayOf(header, buffer, options);
}

/** The `descr` `np.save` writes for `data`'s element type. */
export function descrOf(data: NpyData, options: NpyWriteOptions | undefined): string {
  if (data instanceof Uint8Array) return options?.bool ? '|b1' : '|u1';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof BigUint64Array) return '<u8';
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  throw new TypeError('`data` must be a typed array');
}

/** Checks that `shape` is a list of sizes holding exactly `data.length` elements. */
export function checkShape(data: NpyData, shape: readonly number[]): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError('`shape` must be an array of non-negative integers');
  }
  const length = shape.reduce((a, b) => a * b, 1);
  if (length !== data.length) {
    throw new RangeError(
      `\`shape\` ${formatShape(shape)} holds ${length} elements, \`data\` has ${data.length}`,
    );
  }
}

/**
 * The bytes numpy's `np.save` would write for `data` in C order with `shape` (header identical,
 * data aligned to 64 bytes). Cost: O(bytes).
 * @throws {TypeError} when `data` is not a typed array or `shape` not a list of sizes.
 * @throws {RangeError} when `shape` does not hold `data.length` elements.
 */
export function encodeNpy(data: NpyData, shape: readonly number[], options?: NpyWriteOptions): Uint8Array {
  const descr = descrOf(data, options);
  checkShape(data, shape);
  const header = encodeHeader(descr, shape);
  const out = new Uint8Array(header.length + data.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  return out;
}
