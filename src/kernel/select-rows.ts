import { fillMask, wordsOf } from './fill-bytes.ts';
import { NAN_KEY } from './keys.ts';
import {
  PIVOT_ALL,
  PIVOT_WHOLE_ROW,
  SAMPLE,
  SAMPLE_MIN_COLS,
  sampleBucket,
  sampleNeed,
  samplePivot,
} from './sample.ts';
import type { KernelScratch } from './scratch.ts';
import type { WasmKernel } from './wasm-kernel.ts';
import {
  copyMaskOut,
  gatherStaged,
  histogramStaged,
  MINE_MAX_COLS,
  markBucketStaged,
  markedAbove,
  markSelected,
  markStaged,
  maskRowAt,
  mineStaged,
  sampleStaged,
  stageRow,
  wasmKernelFor,
} from './wasm-kernel.ts';

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
 * - `scratch.hist` must be zeroed on entry; it is zeroed on return.
 *
 * How: a 256-element sample of the row gives a pivot that is, with high probability, at or below
 * the k-th largest key and not far below it. One pass over the row appends every element at or
 * above the pivot to a candidate list (branch-free, in index order), after a memset of the mask row.
 * A radix select over the few candidates finds the exact threshold key `T` and how many elements
 * equal to `T` to take. When the sample predicts that more than a quarter of the row would be
 * candidates (large k, heavy ties), the row is histogrammed directly instead. If the sample misled
 * (fewer candidates than `k`), the JavaScript kernel redoes the row with every element a candidate
 * and the wasm one takes the whole-row path, so the result never depends on the sample. Cost: about
 * one read of the row, one write of the mask row and O(candidates). Where the engine has
 * WebAssembly SIMD, all of it runs in wasm over a copy of the row, the mask row built in wasm memory
 * and copied out once (`selectRowStaged`, wasm-kernel.ts); the candidates and the selection, and so
 * the bytes written, are the same.
 *
 * (This file is past the ~400-line guideline on purpose: it is one idea, the row selection, and
 * its JavaScript passes are the reference the wasm functions are tested against, so they stay
 * side by side with the dispatch that chooses between them.)
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
  const wasm = wasmKernelFor(cols);
  const cand = scratch.cand;
  const candKeys = scratch.candKeys;
  const work = scratch.work;
  const workIdx = scratch.idxA;
  const words = wordsOf(out);
  for (let r = rowStart; r < rowEnd; r++) {
    const nanAt = selectRow(
      bits,
      r * cols,
      cols,
      counts[r]!,
      out,
      words,
      hist,
      cand,
      candKeys,
      work,
      workIdx,
      nanLargest,
      wasm,
    );
    if (nanAt >= 0) return nanAt;
  }
  return -1;
}

function selectRow(
  bits: Int32Array,
  base: number,
  n: number,
  k: number,
  out: Uint8Array,
  words: Float64Array | null,
  hist: Int32Array,
  cand: Int32Array,
  candKeys: Int32Array,
  work: Int32Array,
  workIdx: Int32Array,
  nanLargest: boolean,
  wasm: WasmKernel | null,
): number {
  const end = base + n;
  if (k <= 0 || k >= n) {
    fillMask(out, words, k <= 0 ? 0 : 1, base, end);
    return nanLargest ? -1 : firstNan(bits, base, end);
  }
  if (wasm !== null) return selectRowStaged(bits, base, n, k, out, words, nanLargest, wasm);
  let pivot = PIVOT_ALL;
  if (n >= SAMPLE_MIN_COLS) pivot = samplePivot(bits, base, n, k, hist, work);
  if (pivot === PIVOT_WHOLE_ROW) {
    const top = histogramRow(bits, base, n, hist);
    if (top >= 0) {
      markRow(bits, base, n, k, hist, top, work, workIdx, out);
      return -1;
    }
    hist.fill(0);
    if (!nanLargest) return firstNan(bits, base, end);
  }
  fillMask(out, words, 0, base, end);
  let c =
    pivot === PIVOT_WHOLE_ROW
      ? -1
      : pivot > 0
        ? gatherPositive(bits, base, n, pivot, cand)
        : gather(bits, base, n, pivot, cand);
  // Every candidate's top-11-bit bucket is at least the pivot's (fixed key >= the compared one).
  let bottom = (pivot >> 8) + 1024;
  const nanRow = c < 0;
  if (nanRow) {
    if (!nanLargest) return firstNan(bits, base, end);
    c = gatherAllWithNan(bits, base, n, base, cand, candKeys);
    bottom = 0;
  } else if (c < k) {
    c = gather(bits, base, n, PIVOT_ALL, cand);
    bottom = 0;
  }
  const top = nanRow ? topHistogram(candKeys, c, hist) : keysAndTopHistogram(bits, cand, c, candKeys, hist);
  markCandidates(candKeys, cand, c, k, hist, bottom, top, work, workIdx, out);
  return -1;
}

/**
 * {@link selectRow} (`0 < k < n`) with the wasm kernel: the row is staged in this thread's wasm
 * memory, its mask row is built there ({@link maskRowAt}: zeroed, then marked by the wasm select)
 * and copied out once. The same candidates and selection as the JavaScript passes, so the same
 * bytes; returns as {@link selectRow} does, and writes nothing to `out` when it reports a NaN.
 */
function selectRowStaged(
  bits: Int32Array,
  base: number,
  n: number,
  k: number,
  out: Uint8Array,
  words: Float64Array | null,
  nanLargest: boolean,
  wasm: WasmKernel,
): number {
  const end = base + n;
  // Staged first, so the sample reads the copy in cache, not 32 scattered lines of the caller's row.
  stageRow(bits, base, n, wasm);
  let pivot = PIVOT_ALL;
  if (n >= SAMPLE_MIN_COLS) {
    const need = sampleNeed(n, k);
    pivot = need > SAMPLE >> 2 ? PIVOT_WHOLE_ROW : sampleStaged(wasm, n, need);
  }
  const mask = maskRowAt(wasm, out, base);
  let nanRow = false;
  if (pivot !== PIVOT_WHOLE_ROW) {
    if (pivot > 0 && n <= MINE_MAX_COLS) {
      // The usual row: gather and select, whole in wasm.
      const done = mineStaged(wasm, n, pivot, k, mask);
      if (done === 0) {
        copyMaskOut(wasm, mask, n, out, words, base);
        return -1;
      }
      nanRow = done < 0;
    } else {
      wasm.bytes.fill(0, mask, mask + n);
      const c = gatherStaged(wasm, n, pivot);
      if (c >= k) {
        markSelected(wasm, c, k, mask); // the wasm select, over the candidates' keys already written
        copyMaskOut(wasm, mask, n, out, words, base);
        return -1;
      }
      nanRow = c < 0;
    }
    // Too few candidates (the sample misled): the whole-row path, which does not depend on it.
  }
  if (!nanRow) {
    // The sample names the threshold's bucket; the mark pass counts what lies above it and in it,
    // which proves it (or not: then the sample's next bucket on the side the counts point to, and
    // failing that a histogram of the row finds the bucket, and the mark runs again).
    let dHi = sampleBucket(wasm.row, n, k, wasm.hist, neighbours);
    let m = markStaged(wasm, n, dHi, mask);
    if (m >= 0 && !holdsKth(m, k)) {
      const next = neighbours[k <= markedAbove[0]! ? 0 : 1]!;
      if (next !== dHi) {
        dHi = next;
        m = markStaged(wasm, n, dHi, mask);
      }
      if (m >= 0 && !holdsKth(m, k)) {
        dHi = thresholdBucket(wasm.hist, 0, histogramStaged(wasm, n), k, needBox) - 1024;
        m = markStaged(wasm, n, dHi, mask);
      }
    }
    if (m >= 0) {
      markBucketStaged(wasm, m, k - markedAbove[0]!, mask);
      copyMaskOut(wasm, mask, n, out, words, base);
      return -1;
    }
  }
  if (!nanLargest) return firstNan(bits, base, end);
  // NaN ranks above +Inf: every element is a candidate.
  wasm.bytes.fill(0, mask, mask + n);
  markSelected(wasm, gatherAllWithNan(wasm.row, 0, n, 0, wasm.cand, wasm.candKeys), k, mask);
  copyMaskOut(wasm, mask, n, out, words, base);
  return -1;
}

/** Whether the bucket {@link markStaged} just marked (`m` elements in it) holds the k-th largest. */
function holdsKth(m: number, k: number): boolean {
  return markedAbove[0]! < k && k <= markedAbove[0]! + m;
}

/**
 * Appends the flat index of every element whose key's top 19 bits are `>= pivot` to `cand`, in
 * index order, without a branch: the slot is always written and the length advances by the
 * comparison's sign bit. The compare skips the `-0` fix of the full key (so `-0` reads as -1, `+0`
 * as 0); `samplePivot` never returns 0 for that reason. Returns the count, or -1 if the row holds a
 * NaN.
 */
function gather(bits: Int32Array, base: number, n: number, pivot: number, cand: Int32Array): number {
  let c = 0;
  let probe = 0;
  const limit = (pivot - 1) | 0;
  const end = base + n;
  for (let i = base; i < end; i++) {
    const b = bits[i]!;
    probe |= (b & 0x7fffffff) + 0x007fffff; // NAN_PROBE
    cand[c] = i;
    c += (limit - ((b ^ ((b >> 31) & 0x7fffffff)) >> 13)) >>> 31; // 13 = PIVOT_SHIFT
  }
  return c | (probe >> 31); // -1 when the probe saw a NaN; no compare, so no type feedback to miss
}

/**
 * {@link gather} for a positive pivot (the usual case: losses are >= 0): the raw bits of a
 * non-negative float already order like its key, and every negative float (its bits, and so
 * `bits >> 13`, negative) is below the pivot, so the key transform is skipped.
 */
function gatherPositive(bits: Int32Array, base: number, n: number, pivot: number, cand: Int32Array): number {
  let c = 0;
  let probe = 0;
  const limit = (pivot - 1) | 0;
  const end = base + n;
  for (let i = base; i < end; i++) {
    const b = bits[i]!;
    probe |= (b & 0x7fffffff) + 0x007fffff; // NAN_PROBE
    cand[c] = i;
    c += (limit - (b >> 13)) >>> 31; // 13 = PIVOT_SHIFT
  }
  return c | (probe >> 31); // -1 when the probe saw a NaN; no compare, so no type feedback to miss
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

/**
 * The interleaved top-11-bit histogram of a whole row, for rows where most elements would be
 * candidates. Returns the highest bucket used, or -1 if the row holds a NaN (`hist` is then dirty).
 */
function histogramRow(bits: Int32Array, base: number, n: number, hist: Int32Array): number {
  let top = 0;
  let probe = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[base + i]!;
    probe |= (b & 0x7fffffff) + 0x007fffff; // NAN_PROBE
    const d = (((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> 21) + 1024;
    hist[(d << 2) | (i & 3)]!++;
    top = d > top ? d : top;
  }
  return top | (probe >> 31);
}

/**
 * Every element of `bits[base .. base + n)` is a candidate, numbered from `first` (the flat index
 * `base`, or column 0); NaN gets `NAN_KEY` (above `+Inf`, all tied).
 */
function gatherAllWithNan(
  bits: Int32Array,
  base: number,
  n: number,
  first: number,
  cand: Int32Array,
  candKeys: Int32Array,
): number {
  for (let i = 0; i < n; i++) {
    const b = bits[base + i]!;
    cand[i] = first + i;
    candKeys[i] = (b & 0x7fffffff) > 0x7f800000 ? NAN_KEY : (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
  }
  return n;
}

/**
 * From an interleaved top-bit histogram (buckets `bottom .. top`) of at least `k` keys: returns the
 * bucket `d` holding the k-th largest key, and sets `needOut[0]` to how many of that bucket's keys
 * to take. Leaves `hist` zeroed.
 */
function thresholdBucket(
  hist: Int32Array,
  bottom: number,
  top: number,
  k: number,
  needOut: Int32Array,
): number {
  let need = k;
  let d = top;
  for (;;) {
    const at = d << 2;
    const h = hist[at]! + hist[at + 1]! + hist[at + 2]! + hist[at + 3]!;
    if (h >= need) break;
    need -= h;
    d--;
  }
  hist.fill(0, bottom << 2, (top + 1) << 2);
  needOut[0] = need;
  return d;
}

const needBox = new Int32Array(1);
/** {@link sampleBucket}'s second answer: the sample's buckets next above and below its guess. */
const neighbours = new Int32Array(2);

/**
 * Among `c` candidates (keys in `candKeys`, flat indices in `cand`, in index order), sets
 * `out[cand[j]] = 1` for the `k` ranked first in stable descending order; the others stay 0.
 * `hist` holds the candidates' interleaved top-bit histogram (buckets `bottom .. top`); it is left
 * zeroed. One pass marks every candidate above the threshold's bucket and keeps that bucket's keys
 * and indices (in index order) in `work`/`workIdx` for {@link resolveBucket}.
 */
function markCandidates(
  candKeys: Int32Array,
  cand: Int32Array,
  c: number,
  k: number,
  hist: Int32Array,
  bottom: number,
  top: number,
  work: Int32Array,
  workIdx: Int32Array,
  out: Uint8Array,
): void {
  if (k >= c) {
    hist.fill(0, bottom << 2, (top + 1) << 2);
    for (let j = 0; j < c; j++) out[cand[j]!] = 1;
    return;
  }
  const dHi = thresholdBucket(hist, bottom, top, k, needBox) - 1024;
  // 11-bit compares: both sides lie in -1024 .. 1023.
  let m = 0;
  for (let j = 0; j < c; j++) {
    const key = candKeys[j]!;
    const i = cand[j]!;
    out[i] = ((dHi - (key >> 21)) >>> 31) as number;
    work[m] = key;
    workIdx[m] = i;
    m += ((((key >> 21) ^ dHi) & 2047) - 1) >>> 31;
  }
  resolveBucket(work, workIdx, m, needBox[0]!, hist, out);
}

/**
 * {@link markCandidates} for a whole row (every element a candidate, no NaN): writes every mask
 * byte of the row.
 */
function markRow(
  bits: Int32Array,
  base: number,
  n: number,
  k: number,
  hist: Int32Array,
  top: number,
  work: Int32Array,
  workIdx: Int32Array,
  out: Uint8Array,
): void {
  const dHi = thresholdBucket(hist, 0, top, k, needBox) - 1024;
  let m = 0;
  for (let i = base, end = base + n; i < end; i++) {
    const b = bits[i]!;
    const key = (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
    out[i] = ((dHi - (key >> 21)) >>> 31) as number;
    work[m] = key;
    workIdx[m] = i;
    m += ((((key >> 21) ^ dHi) & 2047) - 1) >>> 31;
  }
  resolveBucket(work, workIdx, m, needBox[0]!, hist, out);
}

/**
 * The `m` keys of the threshold's bucket (sharing their top 11 bits; keys in `work`, flat indices
 * in `workIdx`, in index order, their mask bytes 0): marks the `need` ranked first. The remaining 21
 * bits are resolved from the highest bit where the kept keys differ, 8 bits a level, each level
 * marking the entries of higher digits and keeping only the digit that holds the need-th largest.
 * Once the kept keys are all equal, they are the threshold `T`, still in index order, and the first
 * `need` of them are taken (the stable tie-break); once `need` equals their number, all are taken.
 * Each level narrows the range of the kept keys, so it ends after at most three levels and usually
 * after one (the levels below the first distinct bits are skipped). Leaves `hist` zeroed.
 */
function resolveBucket(
  work: Int32Array,
  workIdx: Int32Array,
  m: number,
  need: number,
  hist: Int32Array,
  out: Uint8Array,
): void {
  for (;;) {
    let lo = 0x7fffffff;
    let hi = -2147483648;
    for (let j = 0; j < m; j++) {
      const key = work[j]!;
      lo = key < lo ? key : lo;
      hi = key > hi ? key : hi;
    }
    // All kept keys equal (they are T) or all of them taken: done, without the remaining levels.
    if (lo === hi || need === m) break;
    // The kept keys share every bit above `width`; signed shifts are exact since width <= 21.
    const width = 32 - Math.clz32(lo ^ hi);
    const shift = width > 8 ? width - 8 : 0;
    for (let j = 0; j < m; j++) hist[(work[j]! >> shift) & 255]!++;
    let digit = (hi >> shift) & 255;
    for (;;) {
      const h = hist[digit]!;
      if (h >= need) break;
      need -= h;
      digit--;
    }
    hist.fill(0, (lo >> shift) & 255, ((hi >> shift) & 255) + 1);
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
