/**
 * How each framework reduces the MultiBox loss, read from its source. One entry per preset; adding a
 * preset to `multiboxLoss` is adding an entry here (the mining itself comes from the preset table of
 * the SSD front end). Plain TypeScript, no tfjs.
 */

/** What the classification sum does with a box that is both positive and mined as a negative. */
export type ConfOverlap = 'union' | 'sum';

/** The divisors of the two sums, from the positives per image. */
export interface Normalisers {
  loc: number;
  conf: number;
}

/** One preset's reduction. */
export interface LossReduction {
  /** The framework code it transcribes. */
  readonly source: string;
  /**
   * `'union'`: the classification loss sums the cross-entropy over `positives ∪ negatives` (a box in
   * both counts once); `'sum'`: over positives plus over negatives (a box in both counts twice).
   */
  readonly overlap: ConfOverlap;
  /**
   * ssd_keras takes the log of a softmax clamped at 1e-15, so a box's cross-entropy is at most
   * `-log(1e-15)` (and has no gradient beyond it).
   */
  readonly clampProbability: boolean;
  /** The divisors of the localization and classification sums. */
  normalisers(positivesPerRow: Int32Array): Normalisers;
}

/** `-log(1e-15)`, ssd_keras' largest per-box classification loss. */
export const KERAS_MAX_LOSS = -Math.log(1e-15);

/** `torch.finfo(torch.float32).eps`, which mmdet adds to `avg_factor`. */
const FLOAT32_EPS = 2 ** -23;

function total(perRow: Int32Array): number {
  let n = 0;
  for (let r = 0; r < perRow.length; r++) n += perRow[r]!;
  return n;
}

/**
 * ssd.pytorch and the book divide both sums by the batch's positive count `N`, which is a division by
 * zero (NaN or Inf) when a batch has no positive; here such a batch divides by 1 instead (the sums
 * themselves: 0 for the localization, the mined negatives' loss for the classification). The result
 * reports `numPositives`, so a caller can tell.
 */
function batchPositives(perRow: Int32Array): Normalisers {
  const n = Math.max(1, total(perRow));
  return { loc: n, conf: n };
}

/** The reductions, by preset name. */
export const LOSS_REDUCTIONS = {
  'ssd.pytorch': {
    source:
      'amdegroot/ssd.pytorch layers/modules/multibox_loss.py: loss_l /= N; loss_c /= N (N = num_pos.sum())',
    overlap: 'union',
    clampProbability: false,
    normalisers: batchPositives,
  },
  pytorch_advanced: {
    source: "the seed's book, MultiBoxLoss.forward: loss_l /= N; loss_c /= N (N = num_pos.sum())",
    overlap: 'union',
    clampProbability: false,
    normalisers: batchPositives,
  },
  torchvision: {
    source:
      'pytorch/vision models/detection/ssd.py SSD.compute_loss: N = max(1, num_foreground); bbox_loss.sum() / N; ' +
      '(cls_loss[foreground].sum() + cls_loss[background].sum()) / N',
    overlap: 'sum',
    clampProbability: false,
    normalisers: (perRow: Int32Array): Normalisers => {
      const n = Math.max(1, total(perRow));
      return { loc: n, conf: n };
    },
  },
  mmdet: {
    source:
      'open-mmlab/mmdetection dense_heads/ssd_head.py loss_single: loss_cls / avg_factor, smooth_l1_loss(..., ' +
      'avg_factor) = sum / (avg_factor + eps); avg_factor = sum over images of max(#pos, 1); per-image losses summed',
    overlap: 'sum',
    clampProbability: false,
    normalisers: (perRow: Int32Array): Normalisers => {
      let avg = 0;
      for (let r = 0; r < perRow.length; r++) avg += Math.max(1, perRow[r]!);
      // The Python adds eps in float64, then torch divides the float32 sum by it as a float32 scalar.
      return { loc: Math.fround(avg + FLOAT32_EPS), conf: avg };
    },
  },
  ssd_keras: {
    source:
      'pierluigiferrari/ssd_keras keras_loss_function/keras_ssd_loss.py: (class_loss + alpha * loc_loss) / ' +
      'max(1, n_positive) * batch_size per item, averaged over the batch by Keras',
    overlap: 'sum',
    clampProbability: true,
    normalisers: (perRow: Int32Array): Normalisers => {
      // Per item `(...) / max(1, n) * B`, and Keras' batch mean divides the sum of the items by B.
      const n = Math.max(1, total(perRow));
      return { loc: n, conf: n };
    },
  },
  tf_object_detection: {
    source:
      'tensorflow/models research/object_detection meta_architectures/ssd_meta_arch.py SSDMetaArch.loss with a ' +
      'hard_example_miner: HardExampleMiner (core/losses.py) sums the losses over its kept selection; ' +
      'normalizer = max(reduce_sum(batch_reg_weights), 1); localization_loss * weight / (normalizer [* code_size]), ' +
      'classification_loss * weight / normalizer (multiboxLoss in tfod-loss.ts reads the options)',
    overlap: 'union',
    clampProbability: false,
    // normalize_loss_by_num_matches (the configs' setting): the batch's matched anchors, at least 1.
    normalisers: batchPositives,
  },
} as const satisfies Record<string, LossReduction>;

/** Presets `multiboxLoss` reduces (a preset of the mining front end without an entry is rejected). */
export type MultiboxPreset = keyof typeof LOSS_REDUCTIONS;

/** Names of the presets `multiboxLoss` supports. */
export const MULTIBOX_PRESETS = Object.keys(LOSS_REDUCTIONS) as MultiboxPreset[];
