import type { OrderScratch } from './nms-order.ts';
import { candidateOrder, orderScratch } from './nms-order.ts';

/**
 * Greedy hard NMS exactly as TensorFlow's CPU kernel does it (`tf.image.non_max_suppression`,
 * `NonMaxSuppressionV3`, `score_threshold = -Inf`): candidates in {@link candidateOrder}; a candidate
 * is selected unless its float32 IoU (`boxIou`, the kernel's arithmetic step by step) with an already
 * selected box is `> iouThreshold`; at most `maxOutput` boxes. `literalNms` in `tfod-reference.ts`
 * transcribes the kernel's loop itself.
 *
 * Precondition: finite corners and finite float32 areas (the preset rejects other boxes). Only such
 * boxes make the IoU NaN, and for a NaN IoU the kernel multiplies the candidate's score by 0 and
 * re-queues it (a soft-NMS side effect of its `suppress_weight`), which this file does not reproduce.
 *
 * Two paths give the same selection:
 * - `plainNms`: each candidate against every selected box, O(N * S) IoU tests;
 * - `gridNms`: the selected boxes indexed by their lower corner in a uniform grid, and a candidate
 *   tested only against the boxes near its own corner (see `queryRadius` for why that is exact).
 *   Used when no positive area of the row is so small (subnormal range) that float32 rounding could
 *   inflate an IoU, and `iouThreshold > 1e-5`; any other row takes `plainNms`.
 */

/** Cells per side of the grid: 4096 cells, each a 64th of the row's corner extent. */
const GRID = 64;

/** Positive areas below this could make the float32 IoU far larger than the real one (subnormals). */
const TINY_AREA = 2 ** -100;

/** How far the float32 IoU can exceed the real IoU of the same float corners (a few ulps; generous). */
const IOU_SLACK = 1e-5;

/** Scratch of the NMS of one row of up to `cols` boxes; allocated once per thread and reused. */
export interface NmsScratch {
  readonly cols: number;
  /** The boxes' corners after the kernel's min/max (any corner order in, ordered corners out). */
  readonly y0: Float32Array;
  readonly x0: Float32Array;
  readonly y1: Float32Array;
  readonly x1: Float32Array;
  /** The kernel's float32 area `(ymax - ymin) * (xmax - xmin)`. */
  readonly area: Float32Array;
  /** The candidate order, then reused by nothing else. */
  readonly order: Int32Array;
  /** Grid cell heads and per-box links of the selected boxes. */
  readonly head: Int32Array;
  readonly next: Int32Array;
  readonly sort: OrderScratch;
}

/** Allocates NMS scratch for rows of `cols` boxes (about 40 bytes per box plus 24 KiB). */
export function nmsScratch(cols: number): NmsScratch {
  return {
    cols,
    y0: new Float32Array(cols),
    x0: new Float32Array(cols),
    y1: new Float32Array(cols),
    x1: new Float32Array(cols),
    area: new Float32Array(cols),
    order: new Int32Array(cols),
    head: new Int32Array(GRID * GRID),
    next: new Int32Array(cols),
    sort: orderScratch(cols),
  };
}

/** Returns `scratch` if it fits rows of `cols` boxes, else a new one. */
export function nmsScratchFor(scratch: NmsScratch | undefined, cols: number): NmsScratch {
  return scratch !== undefined && scratch.cols >= cols ? scratch : nmsScratch(cols);
}

/**
 * Writes the ordered corners and areas of row boxes `boxes[base .. base + 4 * cols)`
 * (`[ymin, xmin, ymax, xmax]` per box, corners in either order) into the scratch, with the kernel's
 * `std::min`/`std::max` (`(b < a) ? b : a`, `(a < b) ? b : a`) and float32 area. Returns false when a
 * positive area is tiny enough for the grid's error bound to fail (see the file comment).
 */
export function prepareBoxes(boxes: Float32Array, base: number, cols: number, s: NmsScratch): boolean {
  const { y0, x0, y1, x1, area } = s;
  let tame = true;
  for (let i = 0, o = base; i < cols; i++, o += 4) {
    const a = boxes[o]!;
    const b = boxes[o + 1]!;
    const c = boxes[o + 2]!;
    const d = boxes[o + 3]!;
    const ymin = c < a ? c : a;
    const xmin = d < b ? d : b;
    const ymax = a < c ? c : a;
    const xmax = b < d ? d : b;
    y0[i] = ymin;
    x0[i] = xmin;
    y1[i] = ymax;
    x1[i] = xmax;
    const ar = Math.fround(Math.fround(ymax - ymin) * Math.fround(xmax - xmin));
    area[i] = ar;
    if (ar > 0 && ar < TINY_AREA) tame = false;
  }
  return tame;
}

/**
 * The kernel's IoU of prepared boxes `i` (the candidate) and `j` (a selected box), in float32 step by
 * step: 0 when either area is `<= 0`; else `inter / ((area_i + area_j) - inter)`, with
 * `inter = max(ymax' - ymin', 0) * max(xmax' - xmin', 0)` over the intersection's corners. A double
 * product or sum of two float32 values rounded once with `Math.fround` is the float32 operation.
 */
export function boxIou(s: NmsScratch, i: number, j: number): number {
  const ai = s.area[i]!;
  const aj = s.area[j]!;
  if (ai <= 0 || aj <= 0) return 0;
  const y0i = s.y0[i]!;
  const y0j = s.y0[j]!;
  const x0i = s.x0[i]!;
  const x0j = s.x0[j]!;
  const y1i = s.y1[i]!;
  const y1j = s.y1[j]!;
  const x1i = s.x1[i]!;
  const x1j = s.x1[j]!;
  const iy0 = y0i < y0j ? y0j : y0i;
  const ix0 = x0i < x0j ? x0j : x0i;
  const iy1 = y1j < y1i ? y1j : y1i;
  const ix1 = x1j < x1i ? x1j : x1i;
  let h = Math.fround(iy1 - iy0);
  if (h < 0) h = 0;
  let w = Math.fround(ix1 - ix0);
  if (w < 0) w = 0;
  const inter = Math.fround(h * w);
  return Math.fround(inter / Math.fround(Math.fround(ai + aj) - inter));
}

/**
 * Runs the NMS of one row: `scoreBits` is an `Int32Array` view of the row's float32 scores (from
 * `scoreBase`, no NaN), `boxes` the flat `[ymin, xmin, ymax, xmax]` boxes (from `boxBase`). Writes the
 * selected box indices, in selection order, to `selected` and returns how many. `threshold` is the
 * float32 IoU threshold (any value; TensorFlow accepts [0, 1]); `maxOutput >= 0`; `plain` forces the
 * O(N * S) path (the benchmark's baseline, and the tests' cross-check). Cost: the candidate sort,
 * O(N), then per candidate the IoU tests (`gridNms`: only nearby selected boxes). No allocation.
 */
export function nmsRow(
  scoreBits: Int32Array,
  scoreBase: number,
  boxes: Float32Array,
  boxBase: number,
  cols: number,
  threshold: number,
  maxOutput: number,
  selected: Int32Array,
  s: NmsScratch,
  plain = false,
): number {
  if (maxOutput <= 0) return 0;
  const tame = prepareBoxes(boxes, boxBase, cols, s);
  const n = candidateOrder(scoreBits, scoreBase, cols, s.order, s.sort);
  if (plain || !tame || !(threshold - IOU_SLACK > 0)) return plainNms(s, n, threshold, maxOutput, selected);
  return gridNms(s, n, threshold, maxOutput, selected);
}

/** Every candidate against every selected box, newest first (as the kernel iterates). */
function plainNms(
  s: NmsScratch,
  n: number,
  threshold: number,
  maxOutput: number,
  selected: Int32Array,
): number {
  const order = s.order;
  let count = 0;
  for (let k = 0; k < n && count < maxOutput; k++) {
    const c = order[k]!;
    let keep = true;
    for (let j = count - 1; j >= 0; j--) {
      if (boxIou(s, c, selected[j]!) > threshold) {
        keep = false;
        break;
      }
    }
    if (keep) selected[count++] = c;
  }
  return count;
}

/**
 * Why a grid over lower corners is exact. For boxes with real IoU `R > t > 0`: `inter > t * union >=
 * t * w_c * h_c` and the overlap height is at most `h_c`, so the overlap width `ow > t * w_c`, and
 * likewise `ow > t * w_s`, so `w_s < w_c / t`. If `xmin_s >= xmin_c`, `ow <= xmax_c - xmin_s`, so
 * `xmin_s - xmin_c < (1 - t) w_c`; otherwise `ow <= xmax_s - xmin_c`, so `xmin_c - xmin_s <
 * (1 - t) w_s < (1 - t) w_c / t`. Either way `|xmin_s - xmin_c| < (1 - t) / t * w_c`, and the same in
 * y. The float32 IoU of such boxes (no tiny area) is within a few ulps of the real one, so a box whose float32 IoU
 * exceeds the threshold has a real IoU above `threshold - IOU_SLACK`; the radius uses that `t` and is
 * widened a further 1% (and by the corner's own magnitude) for the double arithmetic of the query.
 */
function queryRadius(t: number, width: number, corner: number): number {
  return ((1 - t) / t) * width * 1.01 + Math.abs(corner) * 2 ** -40;
}

/** Same signature and result as `plainNms` (its exact fallback); `nmsRow` picks one per row. */
function gridNms(
  s: NmsScratch,
  n: number,
  threshold: number,
  maxOutput: number,
  selected: Int32Array,
): number {
  const { order, head, next, x0, y0, x1, y1, area } = s;
  const t = threshold - IOU_SLACK;
  // The grid spans the lower corners of the row's positive-area boxes (the only ones that can
  // suppress or be suppressed when t > 0: a zero-area box has IoU 0 with every box).
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    const c = order[k]!;
    if (!(area[c]! > 0)) continue;
    const x = x0[c]!;
    const y = y0[c]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const scaleX = maxX > minX ? GRID / (maxX - minX) : 0;
  const scaleY = maxY > minY ? GRID / (maxY - minY) : 0;
  head.fill(-1);
  let count = 0;
  for (let k = 0; k < n && count < maxOutput; k++) {
    const c = order[k]!;
    if (!(area[c]! > 0)) {
      selected[count++] = c; // IoU 0 with every box: never suppressed, never suppresses (t > 0)
      continue;
    }
    const xc = x0[c]!;
    const yc = y0[c]!;
    const rx = queryRadius(t, x1[c]! - xc, xc);
    const ry = queryRadius(t, y1[c]! - yc, yc);
    const cx0 = cell(xc - rx, minX, scaleX);
    const cx1 = cell(xc + rx, minX, scaleX);
    const cy0 = cell(yc - ry, minY, scaleY);
    const cy1 = cell(yc + ry, minY, scaleY);
    let keep = true;
    if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > count) {
      // Fewer selected boxes than cells to visit: test them all.
      for (let j = count - 1; j >= 0; j--) {
        if (boxIou(s, c, selected[j]!) > threshold) {
          keep = false;
          break;
        }
      }
    } else {
      for (let gy = cy0; gy <= cy1 && keep; gy++) {
        for (let gx = cx0; gx <= cx1; gx++) {
          let j = head[gy * GRID + gx]!;
          while (j >= 0 && boxIou(s, c, j) <= threshold) j = next[j]!;
          if (j >= 0) {
            keep = false;
            break;
          }
        }
      }
    }
    if (!keep) continue;
    selected[count++] = c;
    const at = cell(yc, minY, scaleY) * GRID + cell(xc, minX, scaleX);
    next[c] = head[at]!;
    head[at] = c;
  }
  return count;
}

/** The grid column (or row) of coordinate `v`: monotone in `v`, clamped to `0 .. GRID - 1`. */
function cell(v: number, min: number, scale: number): number {
  const g = Math.floor((v - min) * scale);
  return g < 0 ? 0 : g >= GRID ? GRID - 1 : g;
}
