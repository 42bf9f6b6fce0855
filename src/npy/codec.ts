/**
 * `.npy` encode and parse of whole arrays held in memory: no file system, no Node API, so it is part
 * of the `hard-negative-mining/core` entry. Files are read and written by `small.ts` (whole files) and
 * `reader.ts` / `writer.ts` (streamed).
 */
import { isArrayBuffer, isProxy, isSharedArrayBuffer } from '../host-types.ts';
import { describe } from '../validate.ts';
import { byteswap } from './convert.ts';
import type { NpyDtype } from './dtype.ts';
import { encodeHeader, formatShape, parseHeader } from './header.ts';

/** The typed array {@link parseNpy} (and `readNpy`) returns for each dtype (bool as `Uint8Array`, float16 as raw `Uint16Array` bits). */
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
  /** As stored: when true, `data` is in column-major order (no reordering is done). */
  readonly fortranOrder: boolean;
  readonly data: NpyData;
}

/** Options of {@link encodeNpy} and `writeNpy`. */
export interface NpyWriteOptions {
  /** Store a `Uint8Array` as numpy bool (`'|b1'`) instead of `'|u1'`. */
  bool?: boolean;
}

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
 * copied into a new, aligned typed array and converted to little-endian. Cost: O(bytes).
 * @param input the file's bytes: a `Uint8Array` (a `Buffer` is one), an `ArrayBuffer` or
 *   `SharedArrayBuffer`, or any other `ArrayBufferView` (its bytes are read).
 * @param file name used in error messages.
 * @throws {TypeError} `input` is none of those.
 * @throws {NpyFormatError} naming the header field at fault.
 */
export function parseNpy(input: Uint8Array | ArrayBufferLike | ArrayBufferView, file = '<bytes>'): NpyArray {
  const bytes = npyBytes(input);
  const header = parseHeader(bytes, bytes.length, file);
  const buffer = new ArrayBuffer(header.dataBytes);
  const raw = new Uint8Array(buffer);
  raw.set(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
  if (header.dtype.bigEndian) byteswap(raw, header.dtype.size);
  return {
    dtype: header.dtype,
    shape: header.shape,
    fortranOrder: header.fortranOrder,
    data: typedArrayFor(header.dtype, buffer, header.length),
  };
}

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
