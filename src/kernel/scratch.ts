/** Histogram size of the radix passes: 11-bit digits, so the 8 KiB histogram stays in L1. */
export const DIGIT_BITS = 11;
export const BUCKETS = 1 << DIGIT_BITS;

/**
 * Per-thread working memory of the kernels, allocated once per column count and reused for every
 * row: nothing is allocated in the hot loops. One instance must not be used by two calls at once
 * (each worker thread and the calling thread own theirs).
 */
export interface KernelScratch {
  /** Columns this scratch was sized for. */
  readonly cols: number;
  /**
   * Radix histograms, `4 * BUCKETS` entries: the select's top-bit histogram is interleaved four ways
   * (entry `4 * bucket + (j & 3)`), so runs of equal keys do not serialise on one counter; the rank
   * sort keeps its three digit histograms here. Kernels leave it zeroed or zero it before use.
   */
  readonly hist: Int32Array;
  /** Candidate column offsets, in increasing order; one spare slot for the branch-free append. */
  readonly cand: Int32Array;
  /** Order keys of the candidates, parallel to `cand`; also the key buffer of the rank sort. */
  readonly candKeys: Int32Array;
  /** Refinement keys of the select, and the second ping-pong buffer of the rank sort. */
  readonly work: Int32Array;
  /** Index buffers of the rank sort; `idxA` also holds the select's refinement indices. */
  readonly idxA: Int32Array;
  readonly idxB: Int32Array;
}

/**
 * Allocates scratch for rows of `cols` elements: about 20 bytes per column plus 32 KiB of histogram,
 * or `hist` when given (it does not depend on `cols`).
 */
export function createScratch(cols: number, hist: Int32Array = new Int32Array(BUCKETS * 4)): KernelScratch {
  return {
    cols,
    hist,
    cand: new Int32Array(cols + 1),
    candKeys: new Int32Array(cols + 1),
    work: new Int32Array(cols + 1),
    idxA: new Int32Array(cols),
    idxB: new Int32Array(cols),
  };
}

/**
 * Returns `scratch` when it fits `cols`, else a new one (so callers can keep one per thread) that
 * keeps `scratch`'s histogram: calls whose column count keeps changing then allocate only the small
 * per-column arrays, not 32 KiB each (10,000 such calls left ~110 MiB more RSS on Node 24).
 */
export function scratchFor(scratch: KernelScratch | undefined, cols: number): KernelScratch {
  if (scratch !== undefined && scratch.cols === cols) return scratch;
  return createScratch(cols, scratch?.hist);
}
