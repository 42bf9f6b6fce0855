/**
 * The candidate order of TensorFlow's CPU NMS kernel (`DoNonMaxSuppressionOp` in
 * `tensorflow/core/kernels/image/non_max_suppression_op.cc`): every box whose score is `> -Inf`
 * (the default `score_threshold` of `tf.image.non_max_suppression`), larger score first, equal scores
 * lower box index first. The kernel pops a priority queue whose comparator reads
 *
 *     ((bs_i.score == bs_j.score) && (bs_i.box_index > bs_j.box_index)) || bs_i.score < bs_j.score
 *
 * ("i ranks below j"), so the top is the largest score and, among equal scores (`-0 == +0`), the
 * smallest index. A stable sort by descending score gives the same sequence; here an LSD radix sort
 * over order-preserving keys, O(N) per row.
 */

/** Scratch of {@link candidateOrder} for rows of up to `cols` elements. */
export interface OrderScratch {
  readonly cols: number;
  readonly keys: Uint32Array;
  readonly keysTmp: Uint32Array;
  readonly idxTmp: Int32Array;
  readonly hist: Int32Array;
}

/** Allocates order scratch for rows of `cols` elements (about 12 bytes per column plus 8 KiB). */
export function orderScratch(cols: number): OrderScratch {
  return {
    cols,
    keys: new Uint32Array(cols),
    keysTmp: new Uint32Array(cols),
    idxTmp: new Int32Array(cols),
    hist: new Int32Array(2048),
  };
}

const NEG_INF_BITS = -8388608; // 0xff800000

/**
 * Writes into `order` the indices `0 .. cols - 1` of the boxes whose score is above `-Inf`, in the
 * kernel's candidate order, and returns how many there are. `bits` is an `Int32Array` view of the row's
 * float32 scores (read from `base`); the scores must hold no NaN (the callers reject NaN first: the
 * kernel's `score > -Inf` test would silently drop such a box). Cost: three counting passes over the
 * candidates (11, 11 and 10 bits of the key); no allocation.
 */
export function candidateOrder(
  bits: Int32Array,
  base: number,
  cols: number,
  order: Int32Array,
  s: OrderScratch,
): number {
  const keys = s.keys;
  let n = 0;
  for (let i = 0; i < cols; i++) {
    const b = bits[base + i]!;
    if (b === NEG_INF_BITS) continue;
    // Order-preserving signed key (-0 lands on +0), then flipped so that ascending unsigned order is
    // descending score order.
    const key = ((b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31)) | 0;
    keys[n] = ~(key ^ 0x80000000) >>> 0;
    order[n] = i;
    n++;
  }
  radixPass(keys, order, s.keysTmp, s.idxTmp, n, 0, 2047, s.hist);
  radixPass(s.keysTmp, s.idxTmp, keys, order, n, 11, 2047, s.hist);
  radixPass(keys, order, s.keysTmp, s.idxTmp, n, 22, 1023, s.hist);
  order.set(s.idxTmp.subarray(0, n));
  return n;
}

/** One stable counting pass on the digit `(key >>> shift) & mask`. */
function radixPass(
  keysIn: Uint32Array,
  idxIn: Int32Array,
  keysOut: Uint32Array,
  idxOut: Int32Array,
  n: number,
  shift: number,
  mask: number,
  hist: Int32Array,
): void {
  hist.fill(0, 0, mask + 1);
  for (let i = 0; i < n; i++) hist[(keysIn[i]! >>> shift) & mask]!++;
  let sum = 0;
  for (let d = 0; d <= mask; d++) {
    const c = hist[d]!;
    hist[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const k = keysIn[i]!;
    const at = hist[(k >>> shift) & mask]!++;
    keysOut[at] = k;
    idxOut[at] = idxIn[i]!;
  }
}
