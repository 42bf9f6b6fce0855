/**
 * The option and result types of `multiboxLoss` (a file of their own so each preset's reduction can
 * import them without an import circle).
 */
import type { Scalar, Tensor2D, Tensor3D } from '@tensorflow/tfjs-core';
import type { TfodMinerOptions, TfodResult } from '../ssd/tfod-options.ts';
import type { NanOptions } from '../validate.ts';
import type { MultiboxPreset } from './reductions.ts';

/**
 * Options of {@link multiboxLoss}. `HardExampleMiner`'s own options (`numHardExamples`, `iouThreshold`,
 * `lossType`, `clsLossWeight`, `locLossWeight`, `maxNegativesPerPositive`, `minNegativesPerImage`,
 * with TensorFlow's defaults) are read by `'tf_object_detection'` only.
 */
export interface MultiboxLossOptions extends NanOptions, TfodMinerOptions {
  /** float32 `[B, N, 4]` predicted offsets. */
  locPred: Tensor3D;
  /** float32 `[B, N, 4]` encoded targets (e.g. `matchTargets`' `loc`); read at positives only. */
  locTarget: Tensor3D;
  /** float32 `[B, N, C]` class logits (background is class 0). */
  logits: Tensor3D;
  /** int32 `[B, N]` target classes, 0 = background (e.g. `matchTargets`' `conf`). */
  labels: Tensor2D;
  /** The framework whose mining and reduction to reproduce; `'ssd.pytorch'` when omitted. */
  preset?: MultiboxPreset;
  /** Negatives per positive; 3 when omitted (whole numbers for mmdet and ssd_keras). */
  ratio?: number;
  /** A floor on the negatives' count (per image; the batch's `n_neg_min` for ssd_keras); 0 when omitted. */
  minNegatives?: number;
  /**
   * A bool (or int32 0/1) `[B, N]` negative mask computed beforehand, e.g. by `ssdNegativesTensorPooled`;
   * when given, no mining runs here (the mask is used as is).
   */
  negatives?: Tensor2D;
  /** Smooth-L1 `beta` (mmdet's `smoothl1_beta`); 1 when omitted, as every framework's default. */
  beta?: number;
  /** Weight of the localization loss in `loss` (ssd_keras' `alpha`, TF's `localization_weight`); 1 when omitted. */
  alpha?: number;
  /**
   * `'tf_object_detection'` only: float32 decoded predicted boxes `[B, N, 4]`, `[ymin, xmin, ymax, xmax]`
   * (a tensor or plain data), which the mining's NMS reads; a constant (no gradient flows to it).
   */
  boxes?: Tensor3D | Float32Array;
  /**
   * `'tf_object_detection'` only: ignored anchors `[B, N]` (bool / int32 0/1 tensor, or 0/1 bytes):
   * neither positive nor negative, classification weight 0 (the target assigner's `ignored_value`).
   */
  ignored?: Tensor2D | Uint8Array;
  /**
   * `'tf_object_detection'` only: a kept selection `[B, N]` computed beforehand (bool / int32 0/1 tensor
   * or 0/1 bytes), e.g. `ssdNegativesTensorPooled`'s `selected`, so the pool does the NMS; when given,
   * no mining runs here, `boxes` is not needed and `result.mined` is absent.
   */
  selected?: Tensor2D | Uint8Array;
  /** `'tf_object_detection'`: `normalize_loss_by_num_matches`; true when omitted (as the SSD configs set it). */
  normalizeLossByNumMatches?: boolean;
  /** `'tf_object_detection'`: `normalize_loc_loss_by_codesize` (code size 4); false when omitted. */
  normalizeLocLossByCodesize?: boolean;
}

/** What {@link multiboxLoss} returns; the caller owns the three scalars. */
export interface MultiboxLossResult {
  /** `confLoss + alpha * locLoss`, the scalar to minimise. */
  loss: Scalar;
  /** Smooth-L1 over the positives' offsets, normalised as the preset does. */
  locLoss: Scalar;
  /** Cross-entropy over positives and mined negatives, normalised as the preset does. */
  confLoss: Scalar;
  /** Positives in the batch (labels > 0). */
  numPositives: number;
  /** Negatives in the mask that was used (`'tf_object_detection'`: kept anchors that are not positives). */
  numNegatives: number;
  /**
   * `'tf_object_detection'` only: the miner's result (the kept selection, which may drop positives, its
   * negatives, per-image counts, and the unnormalised mined loss sums as the mining saw them).
   */
  mined?: TfodResult;
}
