import { checkDisjoint, checkTypedArray, describe, typedArrayKind } from '../validate.ts';

/**
 * A class label as stored in `labels`: a number, or a bigint (an int64 `.npy` read as a
 * `BigInt64Array`).
 */
export type LabelArray = ArrayLike<number> | ArrayLike<bigint>;

function checkDim(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`\`${name}\` must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > 0x7fffffff) {
    throw new RangeError(`\`${name}\` must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** Validates the `(rows, cols, classes)` shape of `logits` and `labels`. */
export function checkLogitsShape(
  logits: unknown,
  labels: unknown,
  rows: unknown,
  cols: unknown,
  classes: unknown,
): void {
  checkTypedArray(logits, 'logits', 'Float32Array');
  const r = checkDim(rows, 'rows', 0);
  const c = checkDim(cols, 'cols', 1);
  const k = checkDim(classes, 'classes', 1);
  const length = (logits as Float32Array).length;
  if (length !== r * c * k) {
    throw new RangeError(
      `\`logits.length\` must be rows * cols * classes (${r} * ${c} * ${k} = ${r * c * k}), got ${length}`,
    );
  }
  if (
    labels === null ||
    typeof labels !== 'object' ||
    typeof (labels as ArrayLike<unknown>).length !== 'number'
  ) {
    throw new TypeError(`\`labels\` must be an array-like of integers, got ${describe(labels)}`);
  }
  if (typedArrayKind(labels) !== undefined) checkTypedArray(labels, 'labels', typedArrayKind(labels)!);
  const n = (labels as ArrayLike<unknown>).length;
  if (n !== r * c) {
    throw new RangeError(`\`labels.length\` must be rows * cols (${r * c}), got ${n}`);
  }
}

/** The error for a label that is not a class index. */
export function labelError(flat: number, cols: number, classes: number, value: unknown): RangeError {
  const row = Math.floor(flat / cols);
  const col = flat % cols;
  return new RangeError(
    `\`labels\` at row ${row}, column ${col} must be an integer class in 0 .. ${classes - 1}, got ${describe(value)}`,
  );
}

/**
 * SSD's per-box confidence loss, the cross-entropy of each box's logits against its label:
 * `loss_c[r, i] = logsumexp(logits[r, i, :]) - logits[r, i, labels[r, i]]`, as ssd.pytorch's
 * `log_sum_exp(batch_conf) - batch_conf.gather(1, conf_t)` and `F.cross_entropy(..., reduction='none')`.
 *
 * Computed stably in float64 and rounded once to float32: with `m` the largest logit of the box,
 * `loss = (m - x_label) + log1p(sum over the other classes of exp(x_j - m))`, so logits of ±80 or
 * ±1e4 neither overflow nor lose the small losses of confident boxes. Non-finite logits follow
 * PyTorch: a NaN logit gives a NaN loss, a `+Inf` logit `+Inf` (NaN if it is the label's),
 * all-`-Inf` logits NaN.
 *
 * Cost: O(rows * cols * classes), one `exp` per logit; allocates the result (unless `out` is given).
 *
 * @param logits float32 `(rows, cols, classes)`, row-major.
 * @param labels `(rows, cols)` integer class indices, 0 = background; numbers or bigints.
 * @param out where to write the `(rows, cols)` losses; a new array when omitted.
 * @throws {TypeError} an argument of the wrong type.
 * @throws {RangeError} a bad shape, or a label that is not an integer in `0 .. classes - 1` (naming
 *   its row and column).
 */
export function confidenceLoss(
  logits: Float32Array,
  labels: LabelArray,
  rows: number,
  cols: number,
  classes: number,
  out?: Float32Array,
): Float32Array {
  checkLogitsShape(logits, labels, rows, cols, classes);
  const n = rows * cols;
  if (out !== undefined) {
    checkTypedArray(out, 'out', 'Float32Array');
    if (out.length !== n)
      throw new RangeError(`\`out\` must have rows * cols (${n}) elements, got ${out.length}`);
    checkDisjoint(out, 'out', { logits, labels });
  }
  const loss = out ?? new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const raw = labels[e];
    const y = typeof raw === 'bigint' ? Number(raw) : (raw as number);
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) throw labelError(e, cols, classes, raw);
    loss[e] = boxLoss(logits, e * classes, classes, y);
  }
  return loss;
}

function boxLoss(logits: Float32Array, base: number, classes: number, label: number): number {
  const end = base + classes;
  let m = Number.NEGATIVE_INFINITY;
  let at = -1;
  for (let j = base; j < end; j++) {
    const x = logits[j]!;
    if (x > m) {
      m = x;
      at = j;
    }
  }
  const xLabel = logits[base + label]!;
  if (at < 0 || m === Number.POSITIVE_INFINITY) {
    // Not finite: PyTorch's logsumexp shifts by 0 here, so sum exp(x) as it is.
    let s = 0;
    for (let j = base; j < end; j++) s += Math.exp(logits[j]!);
    return Math.log(s) - xLabel;
  }
  let t = 0;
  for (let j = base; j < end; j++) if (j !== at) t += Math.exp(logits[j]! - m);
  return m - xLabel + Math.log1p(t);
}
