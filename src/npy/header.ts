import type { NpyDtype } from './dtype.ts';
import { dtypeName, parseDescr, pyRepr } from './dtype.ts';
import { NpyFormatError } from './errors.ts';
import type { PyValue } from './literal.ts';
import { PyLiteralError, parsePyLiteral } from './literal.ts';

/** What a `.npy` header says, checked against the file size. */
export interface NpyHeader {
  /** Format version as written in the file: `'1.0'`, `'2.0'` or `'3.0'`. */
  readonly version: string;
  readonly dtype: NpyDtype;
  readonly fortranOrder: boolean;
  /** The array's shape; `[]` for a 0-d array. */
  readonly shape: readonly number[];
  /** Elements in the array (the product of `shape`). */
  readonly length: number;
  /** Byte offset of the first data byte (magic + length field + header dict + padding). */
  readonly dataOffset: number;
  /** Bytes of data: `length * dtype.size`, which is exactly what the file holds after the header. */
  readonly dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Enough leading bytes for {@link headerEnd}: magic, version and a 4-byte length field. */
export const PREFIX_BYTES = 12;
/** Larger than any real header of a plain array; numpy itself refuses more than 10 000 bytes by default. */
const MAX_HEADER_LEN = 1 << 20;
/** numpy aligns the data to this many bytes and pads the header with spaces so it can grow in place. */
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Reads the fixed prefix of a `.npy` file (`prefix` holds its first `min(fileSize, PREFIX_BYTES)`
 * bytes) and returns the offset where the data starts, so a reader knows how much header to load.
 * Validates the magic string, the version and `HEADER_LEN` against `fileSize` (`Infinity` for a
 * stream of unknown length: then only what the prefix holds is checked). Cost: O(1).
 * @throws {NpyFormatError} naming `magic string`, `version` or `HEADER_LEN`.
 */
export function headerEnd(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize === 0) throw new NpyFormatError(file, 'magic string', 'the file is empty, not a .npy file');
  for (let i = 0; i < MAGIC.length; i++) {
    if (prefix[i] !== MAGIC[i]) {
      throw new NpyFormatError(
        file,
        'magic string',
        `not a .npy file: it does not start with the magic string "\\x93NUMPY"`,
      );
    }
  }
  if (fileSize < 8) throw new NpyFormatError(file, 'version', 'truncated in the version field');
  const major = prefix[6]!;
  const minor = prefix[7]!;
  if (major < 1 || major > 3 || minor !== 0) {
    throw new NpyFormatError(
      file,
      'version',
      `format version ${major}.${minor} is not supported (this tool reads 1.0, 2.0 and 3.0)`,
    );
  }
  const prefixLen = major === 1 ? 10 : 12;
  if (fileSize < prefixLen) throw new NpyFormatError(file, 'HEADER_LEN', 'truncated in the HEADER_LEN field');
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLen > MAX_HEADER_LEN) {
    throw new NpyFormatError(
      file,
      'HEADER_LEN',
      `HEADER_LEN is ${fmt(headerLen)} bytes, more than any real header (limit ${fmt(MAX_HEADER_LEN)})`,
    );
  }
  const end = prefixLen + headerLen;
  if (end > fileSize) {
    throw new NpyFormatError(
      file,
      'HEADER_LEN',
      `HEADER_LEN says the header ends at byte ${fmt(end)}, but the file has only ${fmt(fileSize)} bytes (truncated?)`,
    );
  }
  return end;
}

/**
 * Parses and validates a whole `.npy` header. `bytes` holds the file's first {@link headerEnd} bytes
 * (at least); `fileSize` is the file's size, which must equal the header plus `shape`'s product
 * times the item size exactly, so a truncated file or a header that lies is caught before any data
 * is read. For a stream of unknown length pass `fileSize = Infinity`: the size check is then the
 * reader's job, as data runs out. Accepts versions 1.0/2.0 (latin-1 header) and 3.0 (UTF-8), any data alignment (files by
 * old numpy versions align to 16 bytes) and Python 2 `3L` integers. Cost: O(header length).
 * @throws {NpyFormatError} naming the field at fault.
 */
export function parseHeader(bytes: Uint8Array, fileSize: number, file: string): NpyHeader {
  const dataOffset = headerEnd(bytes, fileSize, file);
  if (bytes.length < dataOffset) throw new RangeError(`\`bytes\` must hold the header's ${dataOffset} bytes`);
  const major = bytes[6]!;
  const prefixLen = major === 1 ? 10 : 12;
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(
      bytes.subarray(prefixLen, dataOffset),
    );
  } catch {
    throw new NpyFormatError(file, 'header', 'the header is not valid UTF-8 text (required by format 3.0)');
  }
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (e) {
    if (!(e instanceof PyLiteralError)) throw e;
    throw new NpyFormatError(file, 'header', `the header is not a Python dict literal: ${e.message}`);
  }
  if (dict.kind !== 'dict') {
    throw new NpyFormatError(file, 'header', 'the header is not a Python dict literal');
  }
  const fields = new Map<string, PyValue>();
  for (const [key, value] of dict.entries) {
    if (key.kind !== 'str')
      throw new NpyFormatError(file, 'header', 'the header dict has a key that is not a string');
    if (key.value !== 'descr' && key.value !== 'fortran_order' && key.value !== 'shape') {
      throw new NpyFormatError(
        file,
        key.value,
        `unexpected header field ${pyRepr(key.value)} (a .npy header has exactly 'descr', 'fortran_order' and 'shape')`,
      );
    }
    fields.set(key.value, value);
  }
  for (const name of ['descr', 'fortran_order', 'shape']) {
    if (!fields.has(name)) throw new NpyFormatError(file, name, `the header has no ${pyRepr(name)} field`);
  }

  const descr = fields.get('descr')!;
  if (descr.kind !== 'str') {
    throw new NpyFormatError(
      file,
      'descr',
      descr.kind === 'list'
        ? "header field 'descr' describes a structured (record) dtype, which this tool does not read"
        : "header field 'descr' is not a string",
    );
  }
  const dtype = parseDescr(descr.value, file);

  const fortran = fields.get('fortran_order')!;
  if (fortran.kind !== 'bool') {
    throw new NpyFormatError(file, 'fortran_order', "header field 'fortran_order' is not True or False");
  }

  const shapeValue = fields.get('shape')!;
  if (shapeValue.kind !== 'tuple') {
    throw new NpyFormatError(file, 'shape', "header field 'shape' is not a tuple of integers");
  }
  const shape: number[] = [];
  let length = 1;
  for (const item of shapeValue.items) {
    if (item.kind !== 'int' || item.value < 0n || item.value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new NpyFormatError(
        file,
        'shape',
        "header field 'shape' must hold non-negative integers (each a dimension's size)",
      );
    }
    const n = Number(item.value);
    shape.push(n);
    length *= n;
  }
  const dataBytes = length * dtype.size;
  const available = fileSize - dataOffset;
  const unknownSize = fileSize === Number.POSITIVE_INFINITY && Number.isSafeInteger(dataBytes);
  if (!unknownSize && (!Number.isSafeInteger(dataBytes) || dataBytes !== available)) {
    const described = `header fields 'shape' ${formatShape(shape)} and 'descr' ${dtypeName(dtype)} describe ${fmt(dataBytes)} bytes of data`;
    throw new NpyFormatError(
      file,
      'shape',
      dataBytes > available
        ? `${described}, but the file holds only ${fmt(available)} after the ${fmt(dataOffset)}-byte header (truncated file, or a header that lies)`
        : `${described}, but the file holds ${fmt(available)} after the ${fmt(dataOffset)}-byte header (a header that lies, or trailing bytes)`,
    );
  }
  return {
    version: `${major}.0`,
    dtype,
    fortranOrder: fortran.value,
    shape,
    length,
    dataOffset,
    dataBytes,
  };
}

/** A shape as Python prints it: `(3, 4)`, `(5,)`, `()`. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * The header numpy's `np.save` writes for a C-order array of `descr` and `shape`, byte for byte:
 * sorted keys, spare spaces so the first axis can grow in place, padded with spaces and a newline so
 * the data starts at a multiple of 64 bytes. Version 1.0 unless the header needs more than 65535
 * bytes (then 2.0). Cost: O(header length).
 */
export function encodeHeader(descr: string, shape: readonly number[]): Uint8Array {
  let dict = `{'descr': ${pyRepr(descr)}, 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const hlen = dict.length + 1;
  let prefixLen = 10;
  let padlen = ARRAY_ALIGN - ((prefixLen + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    prefixLen = 12;
    padlen = ARRAY_ALIGN - ((prefixLen + hlen) % ARRAY_ALIGN);
  }
  const total = prefixLen + hlen + padlen;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = prefixLen === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (prefixLen === 10) view.setUint16(8, hlen + padlen, true);
  else view.setUint32(8, hlen + padlen, true);
  for (let i = 0; i < dict.length; i++) out[prefixLen + i] = dict.charCodeAt(i) & 0x7f;
  out.fill(0x20, prefixLen + dict.length, total - 1);
  out[total - 1] = 0x0a;
  return out;
}
