/**
 * Element conversions from raw `.npy` bytes to the typed arrays the kernels read. Every function
 * works in place or into a caller's buffer, so streaming readers allocate nothing per chunk. `raw`
 * buffers must start at a byte offset that is a multiple of their item size (readers use their own
 * staging buffers, which start at 0).
 */

/** Reverses the byte order of each `size`-byte element of `raw` in place (big- to little-endian). */
export function byteswap(raw: Uint8Array, size: 1 | 2 | 4 | 8): void {
  if (size === 1) return;
  const n = raw.length - (raw.length % size);
  for (let i = 0; i < n; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = raw[a]!;
      raw[a] = raw[b]!;
      raw[b] = t;
    }
  }
}

/** `dst[i] = Math.fround(src[i])` for `count` little-endian float64 values in `raw`. Cost: O(count). */
export function float64ToFloat32(raw: Uint8Array, count: number, dst: Float32Array): void {
  const src = new Float64Array(raw.buffer, raw.byteOffset, count);
  for (let i = 0; i < count; i++) dst[i] = src[i]!;
}

/**
 * Converts `count` little-endian integers of `kind`/`size` in `raw` to int32 counts clamped to
 * `0 .. cap` (a count above the row length selects the whole row, so clamping loses nothing; 64-bit
 * values of any size are safe). Returns -1, or the index of the first negative value (then `dst` is
 * partly written). Cost: O(count).
 */
export function integersToCounts(
  raw: Uint8Array,
  kind: 'i' | 'u',
  size: 1 | 2 | 4 | 8,
  count: number,
  dst: Int32Array,
  cap: number,
): number {
  if (size === 8) {
    // Each value as two int32 halves (low, high): exact without BigInt.
    const halves = new Int32Array(raw.buffer, raw.byteOffset, count * 2);
    for (let i = 0; i < count; i++) {
      const lo = halves[2 * i]! >>> 0;
      const hi = halves[2 * i + 1]!;
      if (kind === 'i' && hi < 0) return i;
      dst[i] = hi !== 0 || lo > cap ? cap : lo;
    }
    return -1;
  }
  const src =
    kind === 'i'
      ? size === 1
        ? new Int8Array(raw.buffer, raw.byteOffset, count)
        : size === 2
          ? new Int16Array(raw.buffer, raw.byteOffset, count)
          : new Int32Array(raw.buffer, raw.byteOffset, count)
      : size === 1
        ? new Uint8Array(raw.buffer, raw.byteOffset, count)
        : size === 2
          ? new Uint16Array(raw.buffer, raw.byteOffset, count)
          : new Uint32Array(raw.buffer, raw.byteOffset, count);
  for (let i = 0; i < count; i++) {
    const v = src[i]!;
    if (v < 0) return i;
    dst[i] = v > cap ? cap : v;
  }
  return -1;
}
