import { NpyFormatError } from './errors.ts';

/** The dtype kinds this codec reads: bool, signed and unsigned integers, floats. */
export type NpyKind = 'b' | 'i' | 'u' | 'f';

/** A parsed `descr` of a `.npy` header. */
export interface NpyDtype {
  /** The `descr` string exactly as the header holds it (e.g. `'<f4'`, `'>i8'`, `'|b1'`). */
  readonly descr: string;
  readonly kind: NpyKind;
  /** Bytes per element. */
  readonly size: 1 | 2 | 4 | 8;
  /** True when elements are stored big-endian, so bytes must be swapped on this little-endian host. */
  readonly bigEndian: boolean;
}

const NAMES: Record<string, string> = {
  b1: 'bool',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
};

/**
 * Parses a simple (non-structured) `descr` such as `'<f4'`. `'='` and `'|'` mean native order, which
 * is little-endian on every platform Node.js supports; `'>'` marks big-endian data (converted by the
 * readers). Cost: O(1). Throws {@link NpyFormatError} naming `descr` for anything else (complex,
 * strings, objects, datetimes, structured records).
 */
export function parseDescr(descr: string, file: string): NpyDtype {
  const m = /^([<>|=]?)([biuf])(\d+)$/.exec(descr) ?? (descr === '?' ? ['?', '|', 'b', '1'] : null);
  const code = m === null ? '' : `${m[2]}${m[3]}`;
  if (m === null || NAMES[code] === undefined) {
    throw new NpyFormatError(
      file,
      'descr',
      `header field 'descr' is ${pyRepr(descr)}, not a dtype this tool reads (bool, int8..int64, uint8..uint64, float16/32/64)`,
    );
  }
  const size = Number(m[3]) as 1 | 2 | 4 | 8;
  return { descr, kind: m[2] as NpyKind, size, bigEndian: m[1] === '>' && size > 1 };
}

/** Human name of a dtype for messages, e.g. `'<f8' (float64)` or `'>i4' (int32, big-endian)`. */
export function dtypeName(dtype: NpyDtype): string {
  const base = NAMES[`${dtype.kind}${dtype.size}`] ?? '?';
  return `${pyRepr(dtype.descr)} (${base}${dtype.bigEndian ? ', big-endian' : ''})`;
}

/** A string as Python's `repr` shows it in a header, for messages. */
export function pyRepr(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
