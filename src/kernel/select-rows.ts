import { NAN_KEY } from './keys.ts';
import type { KernelScratch } from './scratch.ts';
import { DIGIT_BITS } from './scratch.ts';

/**
 * The hard-negative kernel: for rows `rowStart .. rowEnd - 1` of a `(rows, cols)` float32 batch,
 * writes `out[r * cols + i] = 1` when element `i` ranks below `counts[r]` in the stable descending
 * order of its row (larger loss first, equal losses by index), else 0. This is the seed's
 * `idx_rank < num_neg`, bit for bit, in O(cols) per row and without sorting.
 *
 * - `bits` is an `Int32Array` view of the float32 losses (the kernel reads IEEE bits).
 * - `counts[r]` must already be clamped to `0 .. cols`.
 * - Returns -1 on success. When a NaN is met and `nanLargest` is false, stops and returns the flat
 *   index of the first NaN of the offending row (the caller reports it); rows before it are written.
 *   With `nanLargest`, NaN ranks above `+Inf` and all NaNs tie, as in PyTorch.
 *
 * How: a 256-element sample of the row gives a pivot that is, with high probability, at or below
 * the k-th largest key and not far below it. One pass over the row appends every element at or above
 * the pivot to a candidate list (branch-free, in index order) while the mask row is zero-filled. A
 * radix select over the few candidates finds the exact threshold key `T` and how many elements equal
 * to `T` to take; a last pass over the candidates writes the ones. If the sample misled (fewer
 * candidates than `k`), the row is redone with every element a candidate, so the result never
 * depends on the sample. Cost: about one read of the row, one memset and O(candidates).
 */
export function selectRows(
  bits: Int32Array,
  cols: number,
  rowStart: number,
  rowEnd: number,
  counts: Int32Array,
  out: Uint8Array,
  scratch: KernelScratch,
  nanLargest: boolean,
): number {
  const hist = scratch.hist;
  const cand = scratch.cand;
  const candKeys = scratch.candKeys;
  const work = scratch.work;
  const workIdx = scratch.idxA;
  for (let r = rowStart; r < rowEnd; r++) {
    const nanAt = selectRow(
      bits,
      r * cols,
      cols,
      counts[r]!,
      out,
      hist,
      cand,
      candKeys,
      work,
      workIdx,
      nanLargest,
    );
    if (nanAt >= 0) return nanAt;
  }
  return -1;
}

const INT_MIN = -2147483648;
/** Sample size for the pivot; rows shorter than `SAMPLE_MIN_COLS` make every element a candidate. */
const SAMPLE = 256;
const SAMPLE_MIN_COLS = 2048;
/** Pivot granularity: the pivot is the floor of a top-11-bit bucket, so compares use `key >> 21`. */
const PIVOT_SHIFT = 32 - DIGIT_BITS;

function selectRow(
  bits: Int32Array,
  base: number,
  n: number,
  k: number,
  out: Uint8Array,
  hist: Int32Array,
  cand: Int32Array,
  candKeys: Int32Array,
  work: Int32Array,
  workIdx: Int32Array,
  nanLargest: boolean,
): number {
  const end = base + n;
  if (k <= 0 || k >= n) {
    out.fill(k <= 0 ? 0 : 1, base, end);
    return nanLargest ? -1 : firstNan(bits, base, end);
  }
  out.fill(0, base, end);
  let pivotHi = INT_MIN >> PIVOT_SHIFT;
  if (n >= SAMPLE_MIN_COLS) pivotHi = samplePivot(bits, base, n, k, hist);
  let c = gather(bits, base, n, pivotHi, cand);
  let top: number;
  if (c < 0) {
    if (!nanLargest) return firstNan(bits, base, end);
    c = gatherAllWithNan(bits, base, n, cand, candKeys);
    top = topHistogram(candKeys, c, hist);
  } else {
    if (c < k) c = gather(bits, base, n, INT_MIN >> PIVOT_SHIFT, cand);
    top = keysAndTopHistogram(bits, cand, c, candKeys, hist);
  }
  markTopK(candKeys, cand, c, k, hist, top, work, workIdx, out);
  return -1;
}

/**
 * Estimates, from an evenly spaced sample, a bucket floor at or below the k-th largest key; returns
 * it as `key >> PIVOT_SHIFT`. The target count is the expected number of sample elements above the
 * k-th largest plus three standard deviations, so the pivot is too high (costing one more pass) in
 * about 0.1% of random rows. Leaves `hist` zeroed.
 */
function samplePivot(bits: Int32Array, base: number, n: number, k: number, hist: Int32Array): number {
  const expected = (k * SAMPLE) / n;
  const need = Math.ceil(expected + 3 * Math.sqrt(expected) + 2);
  if (need >= (SAMPLE * 3) >> 2) return INT_MIN >> PIVOT_SHIFT;
  // 32 runs of 8 neighbours, evenly spaced: every region of the row is represented, and the sample
  // costs 32 cache misses rather than 256.
  const step = (n / (SAMPLE >> 3)) | 0;
  let top = 0;
  for (let run = base, runEnd = base + step * (SAMPLE >> 3); run < runEnd; run += step) {
    for (let i = run; i < run + 8; i++) {
      const b = bits[i]!;
      const d = (((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> 21) + 1024; // top 11 bits, unsigned
      hist[d]!++;
      if (d > top) top = d;
    }
  }
  let acc = 0;
  let d = top;
  for (; d >= 0; d--) {
    acc += hist[d]!;
    if (acc >= need) break;
  }
  hist.fill(0, 0, top + 1);
  if (d < 0) return INT_MIN >> PIVOT_SHIFT;
  // Bucket 0 holds +0 but not -0 in gather's unfixed compare: widen it to take -0 too.
  const pivotHi = (d - 1024) | 0;
  return pivotHi === 0 ? -1 : pivotHi;
}

/**
 * Appends the flat index of every element whose key's top 11 bits are `>= pivotHi` to `cand`, in
 * index order, without a branch: the slot is always written and the length advances by the
 * comparison's sign bit. The bucket compare skips the `-0` fix of the full key (so `-0` falls in
 * bucket -1, `+0` in bucket 0); `samplePivot` never returns bucket 0 for that reason. Returns the
 * count, or -1 if the row holds a NaN.
 */
function gather(bits: Int32Array, base: number, n: number, pivotHi: number, cand: Int32Array): number {
  let c = 0;
  let probe = 0;
  const limit = (pivotHi - 1) | 0;
  const end = base + n;
  for (let i = base; i < end; i++) {
    const b = bits[i]!;
    probe |= (b & 0x7fffffff) + 0x007fffff; // NAN_PROBE
    cand[c] = i;
    c += (limit - ((b ^ ((b >> 31) & 0x7fffffff)) >> 21)) >>> 31; // 21 = PIVOT_SHIFT
  }
  return probe < 0 ? -1 : c;
}

/**
 * Order keys of the `c` candidates, parallel to `cand`, and the histogram of their top 11 bits
 * (bucket `(key >> 21) + 1024`, unsigned order), interleaved four ways: entry `4 * bucket + (j & 3)`.
 * Returns the highest bucket used.
 */
function keysAndTopHistogram(
  bits: Int32Array,
  cand: Int32Array,
  c: number,
  candKeys: Int32Array,
  hist: Int32Array,
): number {
  let top = 0;
  for (let j = 0; j < c; j++) {
    const b = bits[cand[j]!]!;
    const key = (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
    candKeys[j] = key;
    const d = (key >> 21) + 1024;
    hist[(d << 2) | (j & 3)]!++;
    top = d > top ? d : top;
  }
  return top;
}

/** The interleaved top-11-bit histogram of `c` precomputed keys (the NaN path); returns the top bucket. */
function topHistogram(candKeys: Int32Array, c: number, hist: Int32Array): number {
  let top = 0;
  for (let j = 0; j < c; j++) {
    const d = (candKeys[j]! >> 21) + 1024;
    hist[(d << 2) | (j & 3)]!++;
    top = d > top ? d : top;
  }
  return top;
}

/** Every element is a candidate; NaN gets `NAN_KEY` (above `+Inf`, all tied). */
function gatherAllWithNan(
  bits: Int32Array,
  base: number,
  n: number,
  cand: Int32Array,
  candKeys: Int32Array,
): number {
  for (let i = 0; i < n; i++) {
    const b = bits[base + i]!;
    cand[i] = base + i;
    candKeys[i] = (b & 0x7fffffff) > 0x7f800000 ? NAN_KEY : (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
  }
  return n;
}

/**
 * Among `c` candidates (keys in `candKeys`, flat indices in `cand`, in index order), sets
 * `out[cand[j]] = 1` for the `k` ranked first in stable descending order; the others stay 0.
 * `hist` holds the candidates' interleaved top-bit histogram (highest bucket `top`); it is left
 * zeroed. `work`/`workIdx` receive the keys and indices of the threshold's bucket.
 *
 * Radix select: the top-bit histogram gives the bucket `d` holding the k-th largest key. One pass
 * marks every candidate above that bucket and keeps the bucket's keys and indices (in index order).
 * The remaining 21 bits are resolved from the highest bit where the kept keys differ, 8 bits a
 * level, each level marking the entries of higher digits and keeping only the digit that holds the
 * k-th largest. After the level that reaches bit 0, the kept entries all equal the threshold `T`,
 * still in index order, and `need` is how many of them to take: the first `need` (the stable
 * tie-break).
 */
function markTopK(
  candKeys: Int32Array,
  cand: Int32Array,
  c: number,
  k: number,
  hist: Int32Array,
  top: number,
  work: Int32Array,
  workIdx: Int32Array,
  out: Uint8Array,
): void {
  if (k >= c) {
    hist.fill(0, 0, (top + 1) << 2);
    for (let j = 0; j < c; j++) out[cand[j]!] = 1;
    return;
  }
  let need = k;
  let d = top;
  for (;;) {
    const at = d << 2;
    const h = hist[at]! + hist[at + 1]! + hist[at + 2]! + hist[at + 3]!;
    if (h >= need) break;
    need -= h;
    d--;
  }
  hist.fill(0, 0, (top + 1) << 2);
  // Mark the buckets above d, keep bucket d (11-bit compares: both sides lie in -1024 .. 1023).
  const dHi = d - 1024;
  let m = 0;
  for (let j = 0; j < c; j++) {
    const key = candKeys[j]!;
    const i = cand[j]!;
    out[i] = ((dHi - (key >> 21)) >>> 31) as number;
    work[m] = key;
    workIdx[m] = i;
    m += ((((key >> 21) ^ dHi) & 2047) - 1) >>> 31;
  }
  let lo = 0x7fffffff;
  let hi = -2147483648;
  for (let j = 0; j < m; j++) {
    const key = work[j]!;
    lo = key < lo ? key : lo;
    hi = key > hi ? key : hi;
  }
  const diff = lo ^ hi;
  if (diff !== 0) {
    // The kept keys share their top 11 bits: resolve the rest, 8 bits a level, from the highest
    // differing bit (signed shifts are exact here since shift + 8 <= 21).
    const width = 32 - Math.clz32(diff);
    let shift = width > 8 ? width - 8 : 0;
    for (;;) {
      hist.fill(0, 0, 256);
      for (let j = 0; j < m; j++) hist[(work[j]! >> shift) & 255]!++;
      let digit = 255;
      for (;;) {
        const h = hist[digit]!;
        if (h >= need) break;
        need -= h;
        digit--;
      }
      // Keep this digit's entries; mark those of a higher digit (they rank above T).
      let kept = 0;
      for (let j = 0; j < m; j++) {
        const key = work[j]!;
        const i = workIdx[j]!;
        const dj = (key >> shift) & 255;
        out[i] = ((digit - dj) >>> 31) as number;
        work[kept] = key;
        workIdx[kept] = i;
        kept += ((dj ^ digit) - 1) >>> 31;
      }
      m = kept;
      if (shift === 0) break;
      shift = shift > 8 ? shift - 8 : 0;
    }
    hist.fill(0, 0, 256);
  }
  for (let j = 0; j < need; j++) out[workIdx[j]!] = 1;
}

/** Flat index of the first NaN in `bits[start .. end)`, or -1. */
export function firstNan(bits: Int32Array, start: number, end: number): number {
  let probe = 0;
  for (let i = start; i < end; i++) probe |= (bits[i]! & 0x7fffffff) + 0x007fffff; // NAN_PROBE
  if (probe >= 0) return -1;
  for (let i = start; i < end; i++) if ((bits[i]! & 0x7fffffff) > 0x7f800000) return i;
  return -1;
}
