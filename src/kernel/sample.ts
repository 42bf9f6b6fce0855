/**
 * The mask kernel's pivot sample (select-rows.ts): 256 elements of a row, 32 runs of 8 neighbours
 * spread over it, estimate where the k-th largest key lies, so that one pass can gather the few
 * elements that can be selected. The wasm kernel runs the same sample in kernel.wat (`sample`).
 */

/** Sample size for the pivot; rows shorter than `SAMPLE_MIN_COLS` make every element a candidate. */
export const SAMPLE = 256;
export const SAMPLE_MIN_COLS = 2048;
/**
 * Pivots compare `key >> PIVOT_SHIFT` (19 bits: sign, exponent, 10 mantissa bits), so the pivot can
 * sit within 0.1% of the sampled threshold and the compare never overflows int32.
 */
export const PIVOT_SHIFT = 13;
/** `key >> PIVOT_SHIFT` below every key: every element is a candidate. */
export const PIVOT_ALL = -(1 << 18);
/** samplePivot's answer when over a quarter of the row would be candidates: histogram the row. */
export const PIVOT_WHOLE_ROW = 1 << 20;

/** The sample rank the pivot aims at: the expected rank of the k-th largest plus 2.5 sd plus one. */
export function sampleNeed(n: number, k: number): number {
  const expected = (k * SAMPLE) / n;
  return Math.ceil(expected + 2.5 * Math.sqrt(expected) + 1);
}

/**
 * Estimates, from an evenly spaced sample, a pivot at or below the k-th largest key and returns it
 * as `key >> PIVOT_SHIFT`, or {@link PIVOT_WHOLE_ROW}. The target is the sample element of rank
 * `expected + 2.5 sd + 1` (expected: how many sample elements lie above the k-th largest), so the
 * pivot is too high, costing one more pass, in under 1% of random rows. Two histogram levels over
 * the sample (11 bits, then 8) place the pivot within 1/1024 of an octave of that element. Uses
 * `sampleKeys` (256 entries) as scratch; leaves `hist` zeroed.
 */
export function samplePivot(
  bits: Int32Array,
  base: number,
  n: number,
  k: number,
  hist: Int32Array,
  sampleKeys: Int32Array,
): number {
  const need = sampleNeed(n, k);
  if (need > SAMPLE >> 2) return PIVOT_WHOLE_ROW;
  // 32 runs of 8 neighbours, evenly spaced: every region of the row is represented, and the sample
  // costs 32 cache misses rather than 256.
  const step = (n / (SAMPLE >> 3)) | 0;
  let top = 0;
  let bottom = 2047;
  let j = 0;
  for (let run = base, runEnd = base + step * (SAMPLE >> 3); run < runEnd; run += step) {
    for (let i = run; i < run + 8; i++) {
      const b = bits[i]!;
      const key = (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
      sampleKeys[j++] = key;
      const d = (key >> 21) + 1024; // top 11 bits, unsigned order
      hist[d]!++;
      top = d > top ? d : top;
      bottom = d < bottom ? d : bottom;
    }
  }
  let above = 0;
  let d = top;
  for (;;) {
    const h = hist[d]!;
    if (above + h >= need) break;
    above += h;
    d--;
  }
  hist.fill(0, bottom, top + 1);
  // Second level: the next 8 bits of the sample keys in bucket d.
  const dHi = d - 1024;
  for (let s = 0; s < SAMPLE; s++) {
    const key = sampleKeys[s]!;
    if (key >> 21 === dHi) hist[(key >> PIVOT_SHIFT) & 255]!++;
  }
  let sub = 255;
  for (;;) {
    const h = hist[sub]!;
    above += h;
    if (above >= need) break;
    sub--;
  }
  hist.fill(0, 0, 256);
  // Ties can put far more than `need` sample elements at or above the pivot.
  if (above > SAMPLE >> 2) return PIVOT_WHOLE_ROW;
  // +0 and -0 tie, but in gather's compare -0 sits just below +0's pivot 0: move it below -0.
  const pivot = (dHi << 8) | sub;
  return pivot === 0 ? -1 : pivot;
}

/**
 * The top-11-bit bucket (`key >> 21`) of the sample element of rank `k * SAMPLE / n`: where the k-th
 * largest key most likely lies, for the whole-row path (which checks it). Same sample positions as
 * {@link samplePivot}. Also writes to `neighbours` the nearest buckets the sample holds above and
 * below it (the bucket itself where there is none), the next guesses when the check shows the k-th
 * largest above or below: a threshold on the edge between two tie groups (the sample cannot tell
 * which) then costs one more mark pass, not a histogram of the row. Leaves `hist` zeroed.
 */
export function sampleBucket(
  bits: Int32Array,
  n: number,
  k: number,
  hist: Int32Array,
  neighbours: Int32Array,
): number {
  const need = Math.min(Math.max(Math.round((k * SAMPLE) / n), 1), SAMPLE);
  const step = (n / (SAMPLE >> 3)) | 0;
  let top = 0;
  let bottom = 2047;
  for (let run = 0, runEnd = step * (SAMPLE >> 3); run < runEnd; run += step) {
    for (let i = run; i < run + 8; i++) {
      const b = bits[i]!;
      const d = (((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) >> 21) + 1024;
      hist[d]!++;
      top = d > top ? d : top;
      bottom = d < bottom ? d : bottom;
    }
  }
  let above = 0;
  let d = top;
  while (d > bottom && above + hist[d]! < need) above += hist[d--]!;
  let higher = d + 1;
  while (higher < top && hist[higher] === 0) higher++;
  let lower = d - 1;
  while (lower > bottom && hist[lower] === 0) lower--;
  neighbours[0] = (higher <= top ? higher : d) - 1024;
  neighbours[1] = (lower >= bottom ? lower : d) - 1024;
  hist.fill(0, bottom, top + 1);
  return d - 1024;
}
