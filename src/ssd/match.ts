/**
 * SSD target assignment: ssd.pytorch's `match` + `encode` (layers/box_utils.py) in plain TypeScript,
 * in float32 arithmetic like the PyTorch code (every operation rounded to float32 with `Math.fround`,
 * so overlaps compare against the threshold as they do there). No tfjs.
 */

/** Options of {@link matchTargets}. */
export interface MatchOptions {
  /** Ground-truth boxes, M × `[xmin, ymin, xmax, ymax]` relative to the image (0..1). */
  truths: Float32Array;
  /** 0-based class id of each truth (M); the target class is `label + 1` (0 is background). */
  labels: Int32Array;
  /** Default boxes, N × `(cx, cy, w, h)`, e.g. {@link defaultBoxes}`()`. */
  priors: Float32Array;
  /** A prior whose best overlap is below this is background; 0.5 when omitted. */
  threshold?: number;
  /** Encoding variances `[center, size]`; `[0.1, 0.2]` when omitted. */
  variances?: readonly [number, number];
}

/** What {@link matchTargets} returns. */
export interface MatchResult {
  /** Encoded offsets of each prior's matched truth, N × `(dx, dy, dw, dh)` (ssd.pytorch's `loc_t`). */
  loc: Float32Array;
  /** Target class of each prior (N): `label + 1`, or 0 (background) below the threshold. */
  conf: Int32Array;
}

/** Validated, normalised match parameters (shared with the batch helper and its worker). */
export interface MatchParams {
  threshold: number;
  variance0: number;
  variance1: number;
}

function typed<T extends Float32Array | Int32Array>(
  value: unknown,
  type: { new (n: number): T; name: string },
  name: string,
): T {
  if (!(value instanceof type)) {
    const got = ArrayBuffer.isView(value) ? value.constructor.name : value === null ? 'null' : typeof value;
    throw new TypeError(`\`${name}\` must be a ${type.name}, got ${got}`);
  }
  return value;
}

/** Validates `priors` (N × 4); returns N. */
export function checkPriors(priors: unknown, name = 'options.priors'): number {
  const p = typed(priors, Float32Array, name);
  if (p.length === 0 || p.length % 4 !== 0) {
    throw new RangeError(`\`${name}\` must hold N × 4 numbers (cx, cy, w, h) with N >= 1, got ${p.length}`);
  }
  return p.length / 4;
}

/** Validates one image's `truths` (M × 4) and `labels` (M); returns M. */
export function checkTruths(
  truths: unknown,
  labels: unknown,
  truthsName: string,
  labelsName: string,
): number {
  const t = typed(truths, Float32Array, truthsName);
  const l = typed(labels, Int32Array, labelsName);
  if (t.length % 4 !== 0) {
    throw new RangeError(
      `\`${truthsName}\` must hold M × 4 numbers (xmin, ymin, xmax, ymax), got ${t.length}`,
    );
  }
  const m = t.length / 4;
  if (l.length !== m) {
    throw new RangeError(`\`${labelsName}\` must hold one label per truth (${m}), got ${l.length}`);
  }
  for (let i = 0; i < m; i++) {
    if (l[i]! < 0 || l[i]! > 0x7ffffffe) {
      throw new RangeError(`\`${labelsName}[${i}]\` must be a 0-based class id, got ${l[i]}`);
    }
  }
  return m;
}

/** Validates `threshold` and `variances`. */
export function checkMatchParams(threshold: unknown, variances: unknown, prefix = 'options'): MatchParams {
  let t = 0.5;
  if (threshold !== undefined) {
    if (typeof threshold !== 'number') {
      throw new TypeError(`\`${prefix}.threshold\` must be a number, got ${typeof threshold}`);
    }
    if (!(threshold >= 0 && threshold <= 1)) {
      throw new RangeError(`\`${prefix}.threshold\` must be in [0, 1], got ${threshold}`);
    }
    t = threshold;
  }
  let v0 = 0.1;
  let v1 = 0.2;
  if (variances !== undefined) {
    if (!Array.isArray(variances) || variances.length !== 2) {
      throw new TypeError(`\`${prefix}.variances\` must be an array of two numbers [center, size]`);
    }
    for (let i = 0; i < 2; i++) {
      const v = variances[i];
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
        throw new RangeError(`\`${prefix}.variances[${i}]\` must be a finite number > 0, got ${String(v)}`);
      }
    }
    v0 = variances[0];
    v1 = variances[1];
  }
  return { threshold: t, variance0: v0, variance1: v1 };
}

/** Per-prior scratch of the matcher, reusable across images with the same N. */
export interface MatchScratch {
  bestOverlap: Float32Array;
  bestTruth: Int32Array;
  /** The priors in point form `(xmin, ymin, xmax, ymax)` and their areas, for `pointsOf`. */
  points: Float32Array;
  areas: Float32Array;
  pointsOf: Float32Array | null;
}

export function matchScratch(priorCount: number, old?: MatchScratch): MatchScratch {
  if (old !== undefined && old.bestTruth.length === priorCount) return old;
  return {
    bestOverlap: new Float32Array(priorCount),
    bestTruth: new Int32Array(priorCount),
    points: new Float32Array(priorCount * 4),
    areas: new Float32Array(priorCount),
    pointsOf: null,
  };
}

const f32 = Math.fround;

function preparePriors(priors: Float32Array, s: MatchScratch): void {
  if (s.pointsOf === priors) return;
  const { points, areas } = s;
  for (let p = 0, n = priors.length >> 2; p < n; p++) {
    const o = p * 4;
    const hw = f32(priors[o + 2]! / 2);
    const hh = f32(priors[o + 3]! / 2);
    const x0 = f32(priors[o]! - hw);
    const y0 = f32(priors[o + 1]! - hh);
    const x1 = f32(priors[o]! + hw);
    const y1 = f32(priors[o + 1]! + hh);
    points[o] = x0;
    points[o + 1] = y0;
    points[o + 2] = x1;
    points[o + 3] = y1;
    areas[p] = f32(f32(x1 - x0) * f32(y1 - y0));
  }
  // The cache is keyed by identity: a caller that mutates `priors` in place between calls must pass
  // a fresh scratch (the public functions always do).
  s.pointsOf = priors;
}

/** IoU of truth box (tx0..ty1, area ta) with prior p, in float32 steps as `jaccard` computes it. */
function overlap(
  tx0: number,
  ty0: number,
  tx1: number,
  ty1: number,
  ta: number,
  points: Float32Array,
  areas: Float32Array,
  p: number,
): number {
  const o = p * 4;
  const w = f32(Math.min(tx1, points[o + 2]!) - Math.max(tx0, points[o]!));
  const h = f32(Math.min(ty1, points[o + 3]!) - Math.max(ty0, points[o + 1]!));
  const inter = f32((w > 0 ? w : 0) * (h > 0 ? h : 0));
  const union = f32(f32(ta + areas[p]!) - inter);
  return f32(inter / union);
}

/**
 * Matches one image into `loc` / `conf` at prior offset `at` (in priors). The core of
 * {@link matchTargets} and the batch helper; inputs already validated.
 */
export function matchInto(
  truths: Float32Array,
  labels: Int32Array,
  priors: Float32Array,
  params: MatchParams,
  loc: Float32Array,
  conf: Int32Array,
  at: number,
  s: MatchScratch,
): void {
  const n = priors.length >> 2;
  const m = truths.length >> 2;
  if (m === 0) {
    // No object: every prior is background with zero offsets (ssd.pytorch cannot take an image
    // without objects; this is the natural extension).
    loc.fill(0, at * 4, (at + n) * 4);
    conf.fill(0, at, at + n);
    return;
  }
  preparePriors(priors, s);
  const { points, areas, bestOverlap, bestTruth } = s;
  bestOverlap.fill(-1);
  // Argmax tie rule, both directions: the lowest index wins (a strict `>` keeps the first maximum),
  // as torch's CPU max(dim) returns the first maximal index.
  const bestPrior = new Int32Array(m);
  for (let t = 0; t < m; t++) {
    const tx0 = truths[t * 4]!;
    const ty0 = truths[t * 4 + 1]!;
    const tx1 = truths[t * 4 + 2]!;
    const ty1 = truths[t * 4 + 3]!;
    const ta = f32(f32(tx1 - tx0) * f32(ty1 - ty0));
    let best = -1;
    let bestIou = Number.NEGATIVE_INFINITY;
    for (let p = 0; p < n; p++) {
      const iou = overlap(tx0, ty0, tx1, ty1, ta, points, areas, p);
      if (iou > bestIou) {
        bestIou = iou;
        best = p;
      }
      if (iou > bestOverlap[p]!) {
        bestOverlap[p] = iou;
        bestTruth[p] = t;
      }
    }
    // A NaN overlap (a degenerate truth) never wins a comparison: fall back to prior 0, as an
    // all-NaN row leaves torch's max at index 0 too.
    bestPrior[t] = best < 0 ? 0 : best;
  }
  for (let p = 0; p < n; p++) if (bestOverlap[p] === -1) bestTruth[p] = 0;
  // Each truth's best prior is forced to it; a later truth wins a shared prior, as in the Python loop.
  for (let t = 0; t < m; t++) {
    const p = bestPrior[t]!;
    bestOverlap[p] = 2;
    bestTruth[p] = t;
  }
  const threshold = f32(params.threshold);
  const v0 = f32(params.variance0);
  const v1 = f32(params.variance1);
  for (let p = 0; p < n; p++) {
    const t = bestTruth[p]!;
    const o = p * 4;
    const q = (at + p) * 4;
    const x0 = truths[t * 4]!;
    const y0 = truths[t * 4 + 1]!;
    const x1 = truths[t * 4 + 2]!;
    const y1 = truths[t * 4 + 3]!;
    const pw = priors[o + 2]!;
    const ph = priors[o + 3]!;
    loc[q] = f32(f32(f32(f32(x0 + x1) / 2) - priors[o]!) / f32(v0 * pw));
    loc[q + 1] = f32(f32(f32(f32(y0 + y1) / 2) - priors[o + 1]!) / f32(v0 * ph));
    loc[q + 2] = f32(f32(Math.log(f32(f32(x1 - x0) / pw))) / v1);
    loc[q + 3] = f32(f32(Math.log(f32(f32(y1 - y0) / ph))) / v1);
    conf[at + p] = bestOverlap[p]! < threshold ? 0 : labels[t]! + 1;
  }
}

let scratch: MatchScratch | undefined;

/**
 * SSD training targets of one image: ssd.pytorch's `match` then `encode`. Jaccard overlap of every
 * truth with every prior; each prior takes the truth it overlaps most; each truth's best prior is
 * forced to that truth (a later truth wins a prior that is best for several, as in the Python loop);
 * `conf = label + 1`, or 0 where the prior's best overlap is below `threshold`; `loc` encodes the
 * matched truth against the prior: `((cx_g - cx_p) / (v0 w_p), (cy_g - cy_p) / (v0 h_p),
 * log(w_g / w_p) / v1, log(h_g / h_p) / v1)`. Computed in float32 steps, as the PyTorch code does.
 *
 * Argmax ties (equal overlaps) go to the lowest index in both directions, as torch's CPU `max(dim)`
 * returns the first maximum; in particular a prior that overlaps no truth is encoded against truth 0
 * (its `conf` is 0, so a loss that masks `loc` by positives never reads it). With no truth (M = 0),
 * every prior is background and `loc` is 0 (ssd.pytorch has no such case). Coordinates are not
 * checked, as in ssd.pytorch: a box of zero width or height encodes to infinite offsets (log 0), which
 * `multiboxLoss` reads only at positives.
 *
 * Cost: O(M × N) time; allocates the result, M ints, and per-N scratch reused across calls.
 *
 * @throws {TypeError} `truths`/`priors` not a Float32Array, `labels` not an Int32Array, bad options.
 * @throws {RangeError} lengths that are not M × 4 / M / N × 4, a negative label, a threshold outside
 *   [0, 1], a variance that is not positive.
 */
export function matchTargets(options: MatchOptions): MatchResult {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`\`options\` must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const n = checkPriors(options.priors);
  checkTruths(options.truths, options.labels, 'options.truths', 'options.labels');
  const params = checkMatchParams(options.threshold, options.variances);
  const loc = new Float32Array(n * 4);
  const conf = new Int32Array(n);
  scratch = matchScratch(n, scratch);
  scratch.pointsOf = null;
  matchInto(options.truths, options.labels, options.priors, params, loc, conf, 0, scratch);
  return { loc, conf };
}
