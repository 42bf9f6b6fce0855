import type { TfodOptions, TfodPlan, TfodResult } from './tfod-options.ts';
import { planTfod } from './tfod-options.ts';

/**
 * Literal transcriptions, the executable specification of the `'tf_object_detection'` preset: slow on
 * purpose (a sorted array as the priority queue, IoU recomputed from the raw corners every time), for
 * tests and audits only.
 */

const f = Math.fround;
/** `std::min` / `std::max` as Eigen's `numext::mini` / `maxi` call them: `(b < a) ? b : a`, `(a < b) ? b : a`. */
const mini = (a: number, b: number): number => (b < a ? b : a);
const maxi = (a: number, b: number): number => (a < b ? b : a);

/**
 * `IOU(const float* boxes, int i, int j)` of `tensorflow/core/kernels/image/non_max_suppression_op.cc`
 * (`boxes` holds `[y1, x1, y2, x2]` per box, `i` and `j` box indices):
 * ```cpp
 * const float ymin_i = Eigen::numext::mini<float>(boxes(i, 0), boxes(i, 2));
 * ...
 * const float area_i = (ymax_i - ymin_i) * (xmax_i - xmin_i);
 * const float area_j = (ymax_j - ymin_j) * (xmax_j - xmin_j);
 * if (area_i <= 0 || area_j <= 0) return 0.0;
 * const float intersection_ymin = Eigen::numext::maxi<float>(ymin_i, ymin_j);
 * ...
 * const float intersection_area =
 *     Eigen::numext::maxi<float>(intersection_ymax - intersection_ymin, 0.0) *
 *     Eigen::numext::maxi<float>(intersection_xmax - intersection_xmin, 0.0);
 * return intersection_area / (area_i + area_j - intersection_area);
 * ```
 */
export function literalIou(boxes: Float32Array, base: number, i: number, j: number): number {
  const b = (k: number, c: number): number => boxes[base + 4 * k + c]!;
  const ymin_i = mini(b(i, 0), b(i, 2));
  const xmin_i = mini(b(i, 1), b(i, 3));
  const ymax_i = maxi(b(i, 0), b(i, 2));
  const xmax_i = maxi(b(i, 1), b(i, 3));
  const ymin_j = mini(b(j, 0), b(j, 2));
  const xmin_j = mini(b(j, 1), b(j, 3));
  const ymax_j = maxi(b(j, 0), b(j, 2));
  const xmax_j = maxi(b(j, 1), b(j, 3));
  const area_i = f(f(ymax_i - ymin_i) * f(xmax_i - xmin_i));
  const area_j = f(f(ymax_j - ymin_j) * f(xmax_j - xmin_j));
  if (area_i <= 0 || area_j <= 0) return 0;
  const intersection_ymin = maxi(ymin_i, ymin_j);
  const intersection_xmin = maxi(xmin_i, xmin_j);
  const intersection_ymax = mini(ymax_i, ymax_j);
  const intersection_xmax = mini(xmax_i, xmax_j);
  const intersection_area = f(
    maxi(f(intersection_ymax - intersection_ymin), 0) * maxi(f(intersection_xmax - intersection_xmin), 0),
  );
  return f(intersection_area / f(f(area_i + area_j) - intersection_area));
}

interface Candidate {
  box_index: number;
  score: number;
  suppress_begin_index: number;
}

/**
 * `DoNonMaxSuppressionOp` (hard NMS: `soft_nms_sigma = 0`, `score_threshold = -Inf` as
 * `tf.image.non_max_suppression` passes it), line by line:
 * ```cpp
 * auto cmp = [](const Candidate bs_i, const Candidate bs_j) {
 *   return ((bs_i.score == bs_j.score) && (bs_i.box_index > bs_j.box_index)) ||
 *          bs_i.score < bs_j.score;
 * };
 * for (int i = 0; i < scores_data.size(); ++i)
 *   if (scores_data[i] > score_threshold) candidate_priority_queue.emplace(Candidate({i, scores_data[i], 0}));
 * auto suppress_weight = [...](const T sim) {
 *   const T weight = Eigen::numext::exp<T>(scale * sim * sim);
 *   return is_soft_nms || sim <= similarity_threshold ? weight : static_cast<T>(0.0);
 * };
 * while (selected.size() < output_size && !candidate_priority_queue.empty()) {
 *   next_candidate = candidate_priority_queue.top();
 *   original_score = next_candidate.score;
 *   candidate_priority_queue.pop();
 *   bool should_hard_suppress = false;
 *   for (int j = static_cast<int>(selected.size()) - 1; j >= next_candidate.suppress_begin_index; --j) {
 *     similarity = similarity_fn(next_candidate.box_index, selected[j]);
 *     next_candidate.score *= suppress_weight(static_cast<T>(similarity));
 *     if (!is_soft_nms && static_cast<T>(similarity) > similarity_threshold) { should_hard_suppress = true; break; }
 *     if (next_candidate.score <= score_threshold) break;
 *   }
 *   next_candidate.suppress_begin_index = selected.size();
 *   if (!should_hard_suppress) {
 *     if (next_candidate.score == original_score) { selected.push_back(next_candidate.box_index); ...; continue; }
 *     if (next_candidate.score > score_threshold) candidate_priority_queue.push(next_candidate);
 *   }
 * }
 * ```
 * The priority queue is kept as an array sorted by `cmp` (its top last).
 */
export function literalNms(
  boxes: Float32Array,
  boxBase: number,
  scores: ArrayLike<number>,
  scoreBase: number,
  num_boxes: number,
  output_size: number,
  similarity_threshold: number,
  score_threshold = Number.NEGATIVE_INFINITY,
): number[] {
  const cmp = (bs_i: Candidate, bs_j: Candidate): boolean =>
    (bs_i.score === bs_j.score && bs_i.box_index > bs_j.box_index) || bs_i.score < bs_j.score;
  const queue: Candidate[] = [];
  const push = (c: Candidate): void => {
    let at = 0;
    while (at < queue.length && cmp(queue[at]!, c)) at++; // ascending by cmp: the top is last
    queue.splice(at, 0, c);
  };
  for (let i = 0; i < num_boxes; ++i) {
    const score = scores[scoreBase + i]!;
    if (score > score_threshold) push({ box_index: i, score, suppress_begin_index: 0 });
  }
  const scale = 0; // is_soft_nms is false
  const suppress_weight = (sim: number): number => {
    const weight = f(Math.exp(f(f(scale * sim) * sim)));
    return sim <= similarity_threshold ? weight : 0;
  };
  const selected: number[] = [];
  while (selected.length < output_size && queue.length > 0) {
    const next_candidate = { ...queue.pop()! };
    const original_score = next_candidate.score;
    let should_hard_suppress = false;
    for (let j = selected.length - 1; j >= next_candidate.suppress_begin_index; --j) {
      const similarity = literalIou(boxes, boxBase, next_candidate.box_index, selected[j]!);
      next_candidate.score = f(next_candidate.score * suppress_weight(similarity));
      if (similarity > similarity_threshold) {
        should_hard_suppress = true;
        break;
      }
      if (next_candidate.score <= score_threshold) break;
    }
    next_candidate.suppress_begin_index = selected.length;
    if (!should_hard_suppress) {
      if (next_candidate.score === original_score) {
        selected.push(next_candidate.box_index);
        continue;
      }
      if (next_candidate.score > score_threshold) push(next_candidate);
    }
  }
  return selected;
}

/**
 * `HardExampleMiner.__call__` and `_subsample_selection_to_desired_neg_pos_ratio`
 * (`research/object_detection/core/losses.py`), per image:
 * ```python
 * image_losses = cls_losses[ind]
 * if self._loss_type == 'loc':
 *   image_losses = location_losses[ind]
 * elif self._loss_type == 'both':
 *   image_losses *= self._cls_loss_weight
 *   image_losses += location_losses[ind] * self._loc_loss_weight
 * if self._num_hard_examples is not None: num_hard_examples = self._num_hard_examples
 * else: num_hard_examples = detection_boxlist.num_boxes()
 * selected_indices = tf.image.non_max_suppression(
 *     box_locations, image_losses, num_hard_examples, self._iou_threshold)
 * if self._max_negatives_per_positive is not None and match:
 *   (selected_indices, num_positives, num_negatives) = self._subsample_selection_to_desired_neg_pos_ratio(...)
 * mined_location_losses.append(tf.reduce_sum(tf.gather(location_losses[ind], selected_indices)))
 * mined_cls_losses.append(tf.reduce_sum(tf.gather(cls_losses[ind], selected_indices)))
 *
 * positives_indicator = tf.gather(match.matched_column_indicator(), indices)
 * negatives_indicator = tf.gather(match.unmatched_column_indicator(), indices)
 * num_positives = tf.reduce_sum(tf.cast(positives_indicator, dtype=tf.int32))
 * max_negatives = tf.maximum(min_negatives_per_image,
 *     tf.cast(max_negatives_per_positive * tf.cast(num_positives, dtype=tf.float32), dtype=tf.int32))
 * topk_negatives_indicator = tf.less_equal(
 *     tf.cumsum(tf.cast(negatives_indicator, dtype=tf.int32)), max_negatives)
 * subsampled_selection_indices = tf.where(tf.logical_or(positives_indicator, topk_negatives_indicator))
 * num_negatives = tf.size(subsampled_selection_indices) - num_positives
 * ```
 * Our reading, beyond the lines: the sums are float64 in index order per image, then added over images
 * in order (TensorFlow's float32 `reduce_sum` order is unspecified); the counts are reported also
 * without a ratio; an int32 overflow of the budget (product >= 2^31) keeps every negative.
 */
export function referenceTfod(options: TfodOptions): TfodResult {
  const plan: TfodPlan = planTfod(options);
  const { rows, cols, loss, locLoss, boxes, positives, ignored } = plan;
  const selectedMask = plan.out ?? new Uint8Array(rows * cols);
  selectedMask.fill(0);
  const positivesPerRow = new Int32Array(rows);
  const negativesPerRow = new Int32Array(rows);
  let clsLossSum = 0;
  let locLossSum = 0;
  for (let ind = 0; ind < rows; ind++) {
    const base = ind * cols;
    let image_losses: Float32Array = loss.slice(base, base + cols);
    if (plan.lossType === 'loc') image_losses = locLoss!.slice(base, base + cols);
    else if (plan.lossType === 'both') {
      image_losses = image_losses.map((x) => f(x * plan.clsWeight));
      image_losses = image_losses.map((x, i) => f(x + f(locLoss![base + i]! * plan.locWeight)));
    }
    let selected_indices = literalNms(boxes, 4 * base, image_losses, 0, cols, plan.maxOutput, plan.threshold);
    const matched = (i: number): number => positives[base + i]!;
    const unmatched = (i: number): number =>
      positives[base + i] === 0 && (ignored === undefined || ignored[base + i] === 0) ? 1 : 0;
    const positives_indicator = selected_indices.map(matched);
    const num_positives = positives_indicator.reduce((a, b) => a + b, 0);
    let num_negatives = selected_indices.length - num_positives;
    if (plan.ratio >= 0) {
      const negatives_indicator = selected_indices.map(unmatched);
      const product = f(plan.ratio * f(num_positives));
      const cast = product >= 2 ** 31 ? Number.MAX_SAFE_INTEGER : Math.trunc(product);
      const max_negatives = Math.max(plan.minNegatives, cast);
      let cumsum = 0;
      const topk_negatives_indicator = negatives_indicator.map((x) => (cumsum += x) <= max_negatives);
      const subsampled: number[] = [];
      for (let k = 0; k < selected_indices.length; k++) {
        if (positives_indicator[k] === 1 || topk_negatives_indicator[k]) subsampled.push(k);
      }
      selected_indices = subsampled.map((k) => selected_indices[k]!);
      num_negatives = subsampled.length - num_positives;
    }
    positivesPerRow[ind] = num_positives;
    negativesPerRow[ind] = num_negatives;
    const sorted = [...selected_indices].sort((a, b) => a - b);
    let cls = 0;
    let loc = 0;
    for (const i of sorted) {
      selectedMask[base + i] = 1;
      cls += loss[base + i]!;
      if (locLoss !== undefined) loc += locLoss[base + i]!;
    }
    clsLossSum += cls;
    locLossSum += loc;
  }
  const negatives = selectedMask.map((x, i) => x & (positives[i]! ^ 1));
  return {
    selected: selectedMask,
    negatives,
    positivesPerRow,
    negativesPerRow,
    numPositives: positivesPerRow.reduce((a, b) => a + b, 0),
    numNegatives: negativesPerRow.reduce((a, b) => a + b, 0),
    clsLossSum,
    locLossSum: locLoss === undefined ? null : locLossSum,
  };
}
