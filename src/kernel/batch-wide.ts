import { firstNan } from './select-rows.ts';

/**
 * Batch-wide selection: one count `k` over the whole `(rows, cols)` batch read as one flat row (ties
 * by flat index), i.e. ssd_keras' top-k over every negative of the batch. A radix select on the
 * order keys of keys.ts, split so that any contiguous piece of the batch can be processed on its own
 * (a worker's row range) and the pieces merged by summing:
 *
 * 1. Level 0 histograms the top 11 bits of every key (`key >> 21`, 2048 buckets). Summed over the
 *    pieces, {@link stepLevel} finds the bucket holding the k-th largest key and how many of its keys
 *    to take. If that is the whole bucket, the threshold is known at this precision.
 * 2. Else level 1 histograms the next 11 bits (`(key >> 10) & 2047`) of the keys in that bucket, and
 *    level 2 the last 10 bits (`key & 1023`), reaching the full 32-bit threshold key.
 * 3. The threshold is `(shift, prefix, need)`: every key with `key >> shift > prefix` is taken, plus
 *    the first `need` keys with `key >> shift === prefix` in flat-index order. A piece's histogram
 *    count of the chosen bucket is its number of such ties, so ties are shared out in piece order
 *    (`quota`) with no extra pass, and {@link writeRange} writes each piece's mask on its own.
 *
 * Keys are the int32 order keys (`-0 == +0`); under `nan: 'largest'` a NaN's key is `NAN_KEY`
 * (0x7fffffff, above `+Inf`), so NaNs are taken first and tie among themselves. The loops spell the
 * key expression and the digit constants as literals (faster in V8 hot loops).
 */

/** Right shift of the prefix each level fixes: the threshold is `(key >> LEVEL_SHIFT[level])`. */
export function levelShift(level: number): number {
  return level === 0 ? 21 : level === 1 ? 10 : 0;
}

/** The outcome of one level: the bucket's prefix, how many of its keys to take, and its size. */
export interface LevelStep {
  /** `key >> levelShift(level)` of the bucket holding the k-th largest key. */
  prefix: number;
  /** How many keys of that bucket to take (>= 1). */
  need: number;
  /** How many keys the bucket holds (the level is final when it equals `need`). */
  count: number;
}

/**
 * From a merged histogram of `level` (restricted to the keys under `prefix`, the previous level's
 * result), finds the bucket holding the `need`-th largest key. Requires `1 <= need <=` the histogram's
 * total. Cost: O(buckets).
 */
export function stepLevel(
  hist: Int32Array,
  at: number,
  level: number,
  prefix: number,
  need: number,
): LevelStep {
  let d = (level === 2 ? 1024 : 2048) - 1;
  for (; d > 0; d--) {
    const h = hist[at + d]!;
    if (h >= need) break;
    need -= h;
  }
  const next = level === 0 ? d - 1024 : level === 1 ? (prefix << 11) | d : (prefix << 10) | d;
  return { prefix: next, need, count: hist[at + d]! };
}

/**
 * Adds the level-0 histogram of `bits[start .. end)` into `hist[at .. at + 2048)` (the caller zeroes
 * it once per piece). Returns the flat index of the first NaN of the range, or -1. Under
 * `nanLargest` NaNs are counted with `NAN_KEY` (a fix-up pass over the range, only when it holds
 * one); otherwise the histogram is not meaningful when a NaN is reported. Cost: one read of the range.
 */
export function histogramTop(
  bits: Int32Array,
  start: number,
  end: number,
  hist: Int32Array,
  at: number,
  nanLargest: boolean,
): number {
  const base = at + 1024;
  let probe = 0;
  for (let i = start; i < end; i++) {
    const b = bits[i]!;
    probe |= (b & 0x7fffffff) + 0x007fffff; // NAN_PROBE
    hist[base + ((((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> 21) | 0)]!++;
  }
  if (probe >= 0) return -1;
  const nanAt = firstNan(bits, start, end);
  if (nanLargest) {
    for (let i = nanAt; i < end; i++) {
      const b = bits[i]!;
      if ((b & 0x7fffffff) > 0x7f800000) {
        hist[base + ((((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> 21) | 0)]!--;
        hist[base + 1023]!++; // NAN_KEY >> 21
      }
    }
  }
  return nanAt;
}

/**
 * Adds the level-1 or level-2 histogram of the keys of `bits[start .. end)` whose
 * `key >> levelShift(level - 1)` equals `prefix` into `hist[at ..]` (2048 or 1024 buckets; the caller
 * zeroes it once per piece). `hasNan`: the range holds a NaN and `nan: 'largest'` is in force, so
 * keys are computed NaN-aware. Cost: one read of the range.
 */
export function histogramRefine(
  bits: Int32Array,
  start: number,
  end: number,
  level: number,
  prefix: number,
  hist: Int32Array,
  at: number,
  hasNan: boolean,
): void {
  const filterShift = level === 1 ? 21 : 10;
  const digitShift = level === 1 ? 10 : 0;
  const mask = level === 1 ? 2047 : 1023;
  if (hasNan) {
    for (let i = start; i < end; i++) {
      const b = bits[i]!;
      const key = (b & 0x7fffffff) > 0x7f800000 ? 0x7fffffff : (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
      if (key >> filterShift === prefix) hist[at + ((key >> digitShift) & mask)]!++;
    }
    return;
  }
  for (let i = start; i < end; i++) {
    const b = bits[i]!;
    const key = (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
    if (key >> filterShift === prefix) hist[at + ((key >> digitShift) & mask)]!++;
  }
}

/**
 * Writes `out[i]` for `i` in `[start, end)`: 1 when `key >> shift > prefix`, or when
 * `key >> shift === prefix` and it is among the first `quota` such keys of the range; else 0.
 * Returns the quota left (0 when the range held at least `quota` ties). `hasNan` as in
 * {@link histogramRefine}. Cost: one read of the range and one byte written per element.
 */
export function writeRange(
  bits: Int32Array,
  start: number,
  end: number,
  shift: number,
  prefix: number,
  quota: number,
  out: Uint8Array,
  hasNan: boolean,
): number {
  if (hasNan) return writeRangeNan(bits, start, end, shift, prefix, quota, out);
  let i = start;
  if (quota > 0) {
    for (; i < end; i++) {
      const b = bits[i]!;
      const v = ((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> shift;
      if (v === prefix) {
        out[i] = 1;
        if (--quota === 0) {
          i++;
          break;
        }
      } else {
        out[i] = v > prefix ? 1 : 0;
      }
    }
  }
  for (; i < end; i++) {
    const b = bits[i]!;
    out[i] = ((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> shift > prefix ? 1 : 0;
  }
  return quota;
}

function writeRangeNan(
  bits: Int32Array,
  start: number,
  end: number,
  shift: number,
  prefix: number,
  quota: number,
  out: Uint8Array,
): number {
  for (let i = start; i < end; i++) {
    const b = bits[i]!;
    const key = (b & 0x7fffffff) > 0x7f800000 ? 0x7fffffff : (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
    const v = key >> shift;
    if (v === prefix && quota > 0) {
      out[i] = 1;
      quota--;
    } else {
      out[i] = v > prefix ? 1 : 0;
    }
  }
  return quota;
}

/** Threshold that takes nothing (`k = 0`): no `key >> 21` exceeds 1023. */
export const TAKE_NONE_PREFIX = 1024;
/** Threshold that takes everything (`k >= n`): every `key >> 21` is at least -1024. */
export const TAKE_ALL_PREFIX = -1025;
