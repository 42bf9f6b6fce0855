/**
 * Batch target encoding: `matchTargets` over many images into one `(B, N, 4)` / `(B, N)` pair, on the
 * calling thread ({@link matchTargetsBatch}) or on a worker pool ({@link TargetEncoder}). Plain
 * TypeScript, no tfjs.
 */
import type { MatchParams, MatchScratch } from './match.ts';
import { checkMatchParams, checkPriors, checkTruths, matchInto, matchScratch } from './match.ts';

/** One image's ground truth. */
export interface ImageTruths {
  /** M × `[xmin, ymin, xmax, ymax]` in [0, 1]. */
  truths: Float32Array;
  /** M 0-based class ids. */
  labels: Int32Array;
}

/** Options of {@link matchTargetsBatch} and `TargetEncoder.encode`. */
export interface MatchBatchOptions {
  images: readonly ImageTruths[];
  /** N × `(cx, cy, w, h)` default boxes. */
  priors: Float32Array;
  threshold?: number;
  variances?: readonly [number, number];
}

/** What the batch encoders return: the images' targets stacked in order. */
export interface MatchBatchResult {
  /** `(B, N, 4)` encoded offsets, row-major. */
  loc: Float32Array;
  /** `(B, N)` target classes (0 = background). */
  conf: Int32Array;
}

/** The validated batch: the truths packed for the workers. */
export interface PackedBatch {
  params: MatchParams;
  priors: Float32Array;
  priorCount: number;
  images: number;
  /** Truth offsets per image (B + 1 entries), in truths. */
  offsets: Int32Array;
  truths: Float32Array;
  labels: Int32Array;
}

/** Validates and packs a batch; `alloc` makes the packed arrays (shared memory for the pool). */
export function packBatch(
  options: MatchBatchOptions,
  floats: (n: number) => Float32Array = (n) => new Float32Array(n),
  ints: (n: number) => Int32Array = (n) => new Int32Array(n),
): PackedBatch {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`\`options\` must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  // Every array is read once and kept: a getter that hands back another array on a second read
  // (or grows the list) cannot bypass the checks.
  const priorsIn = options.priors;
  const priorCount = checkPriors(priorsIn);
  const params = checkMatchParams(options.threshold, options.variances);
  const list = options.images;
  if (!Array.isArray(list)) throw new TypeError('`options.images` must be an array of { truths, labels }');
  const images = list.length;
  const offsets = ints(images + 1);
  const truthsIn: Float32Array[] = [];
  const labelsIn: Int32Array[] = [];
  let total = 0;
  for (let i = 0; i < images; i++) {
    const img = list[i] as ImageTruths | undefined;
    if (img === null || typeof img !== 'object') {
      throw new TypeError(`\`options.images[${i}]\` must be an object { truths, labels }`);
    }
    const t = img.truths;
    const l = img.labels;
    total += checkTruths(t, l, `options.images[${i}].truths`, `options.images[${i}].labels`);
    truthsIn.push(t);
    labelsIn.push(l);
    offsets[i + 1] = total;
  }
  const truths = floats(total * 4);
  const labels = ints(total);
  for (let i = 0; i < images; i++) {
    truths.set(truthsIn[i]!, offsets[i]! * 4);
    labels.set(labelsIn[i]!, offsets[i]!);
  }
  const priors = floats(priorsIn.length);
  priors.set(priorsIn);
  return { params, priors, priorCount, images, offsets, truths, labels };
}

/** Encodes images `start .. end` of a packed batch into `loc` / `conf` (the kernel the workers run). */
export function encodeRange(
  batch: PackedBatch,
  start: number,
  end: number,
  loc: Float32Array,
  conf: Int32Array,
  scratch?: MatchScratch,
): MatchScratch {
  const s = matchScratch(batch.priorCount, scratch);
  s.pointsOf = null;
  const { offsets, truths, labels } = batch;
  for (let i = start; i < end; i++) {
    const a = offsets[i]!;
    const b = offsets[i + 1]!;
    matchInto(
      truths.subarray(a * 4, b * 4),
      labels.subarray(a, b),
      batch.priors,
      batch.params,
      loc,
      conf,
      i * batch.priorCount,
      s,
    );
  }
  return s;
}

/**
 * `matchTargets` for every image of a batch, stacked: `loc` `(B, N, 4)` and `conf` `(B, N)`, on the
 * calling thread. Image `i`'s rows equal `matchTargets({ ...images[i], priors, threshold, variances })`.
 *
 * Cost: O(Σ M_i × N); allocates the results and a packed copy of the truths.
 *
 * @throws {TypeError} / {RangeError} as `matchTargets`, naming the image (`options.images[i].truths`).
 */
export function matchTargetsBatch(options: MatchBatchOptions): MatchBatchResult {
  const batch = packBatch(options);
  const loc = new Float32Array(batch.images * batch.priorCount * 4);
  const conf = new Int32Array(batch.images * batch.priorCount);
  encodeRange(batch, 0, batch.images, loc, conf);
  return { loc, conf };
}
