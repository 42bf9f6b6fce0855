import { referenceRank } from '../reference.ts';
import type { NanOptions } from '../validate.ts';
import { checkCols, checkLoss, checkNan, nanError } from '../validate.ts';
import { toPositives } from './positives.ts';
import type { SsdPreset } from './presets.ts';
import { checkMinNegatives, checkPreset, checkRatio } from './presets.ts';

/**
 * Literal transcriptions of each framework's hard negative mining, line by line from its source, with
 * stable comparator sorts (PyTorch's CPU sort is `std::stable_sort`; `tf.nn.top_k` puts the lower
 * index first on ties). They are the executable specification of the presets of
 * {@link ssdNegatives}: O(N log N) with a comparator call per comparison, for tests and audits only.
 *
 * Our one addition to every formula is `minNegatives`, written where the preset table puts it:
 * `max(ratio * P, minNegatives)` before the cap.
 */

/** `scalar * long_tensor` in PyTorch: the product of a Python float and an int64 count is float32. */
function torchMul(ratio: number, count: number): number {
  return Math.fround(Math.fround(ratio) * Math.fround(count));
}

/** PyTorch's descending order (NaN first, all NaNs tied) for a comparator sort. */
function descending(x: number, y: number): number {
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
  if (Number.isNaN(y)) return 1;
  return x > y ? -1 : x < y ? 1 : 0;
}

function rejectNan(loss: Float32Array, cols: number, options: NanOptions | undefined): void {
  if (checkNan(options)) return;
  const at = loss.findIndex((x) => Number.isNaN(x));
  if (at >= 0) throw nanError(at, cols);
}

function positivesPerRow(pos: Uint8Array, rows: number, cols: number): number[] {
  const numPos: number[] = [];
  for (let r = 0; r < rows; r++) {
    let p = 0;
    for (let i = 0; i < cols; i++) p += pos[r * cols + i]!;
    numPos.push(p);
  }
  return numPos;
}

/**
 * amdegroote/ssd.pytorch, `MultiBoxLoss.forward`:
 * ```python
 * loss_c[pos] = 0  # filter out pos boxes for now
 * loss_c = loss_c.view(num, -1)
 * _, loss_idx = loss_c.sort(1, descending=True)
 * _, idx_rank = loss_idx.sort(1)
 * num_pos = pos.long().sum(1, keepdim=True)
 * num_neg = torch.clamp(self.negpos_ratio*num_pos, max=pos.size(1)-1)
 * neg = idx_rank < num_neg.expand_as(idx_rank)
 * ```
 */
export function ssdPytorchReference(
  loss: Float32Array,
  cols: number,
  pos: Uint8Array,
  ratio: number,
  minNegatives: number,
  options?: NanOptions,
): Uint8Array {
  const rows = loss.length / cols;
  rejectNan(loss, cols, options);
  const lossC = loss.slice();
  for (let i = 0; i < lossC.length; i++) if (pos[i]) lossC[i] = 0;
  const idxRank = referenceRank(lossC, cols, options);
  const numPos = positivesPerRow(pos, rows, cols);
  const neg = new Uint8Array(loss.length);
  for (let r = 0; r < rows; r++) {
    const numNeg = Math.min(Math.max(torchMul(ratio, numPos[r]!), minNegatives), cols - 1);
    for (let i = 0; i < cols; i++) neg[r * cols + i] = idxRank[r * cols + i]! < numNeg ? 1 : 0;
  }
  return neg;
}

/**
 * YutaroOgawa/pytorch_advanced (the seed's book), `MultiBoxLoss.forward`:
 * ```python
 * num_pos = pos_mask.long().sum(1, keepdim=True)
 * loss_c = loss_c.view(num_batch, -1)
 * loss_c[pos_mask] = 0
 * _, loss_idx = loss_c.sort(1, descending=True)
 * _, idx_rank = loss_idx.sort(1)
 * num_neg = torch.clamp(num_pos*self.negpos_ratio, max=num_dbox)
 * neg_mask = idx_rank < (num_neg).expand_as(idx_rank)
 * ```
 */
export function pytorchAdvancedReference(
  loss: Float32Array,
  cols: number,
  pos: Uint8Array,
  ratio: number,
  minNegatives: number,
  options?: NanOptions,
): Uint8Array {
  const rows = loss.length / cols;
  rejectNan(loss, cols, options);
  const numPos = positivesPerRow(pos, rows, cols);
  const lossC = loss.slice();
  for (let i = 0; i < lossC.length; i++) if (pos[i]) lossC[i] = 0;
  const idxRank = referenceRank(lossC, cols, options);
  const negMask = new Uint8Array(loss.length);
  for (let r = 0; r < rows; r++) {
    const numNeg = Math.min(Math.max(torchMul(ratio, numPos[r]!), minNegatives), cols);
    for (let i = 0; i < cols; i++) negMask[r * cols + i] = idxRank[r * cols + i]! < numNeg ? 1 : 0;
  }
  return negMask;
}

/**
 * pytorch/vision, `SSD.compute_loss`:
 * ```python
 * foreground_idxs = cls_targets > 0
 * num_negative = self.neg_to_pos_ratio * foreground_idxs.sum(1, keepdim=True)
 * negative_loss = cls_loss.clone()
 * negative_loss[foreground_idxs] = -float("inf")
 * values, idx = negative_loss.sort(1, descending=True)
 * background_idxs = idx.sort(1)[1] < num_negative
 * ```
 */
export function torchvisionReference(
  loss: Float32Array,
  cols: number,
  pos: Uint8Array,
  ratio: number,
  minNegatives: number,
  options?: NanOptions,
): Uint8Array {
  const rows = loss.length / cols;
  rejectNan(loss, cols, options);
  const numPos = positivesPerRow(pos, rows, cols);
  const negativeLoss = loss.slice();
  for (let i = 0; i < negativeLoss.length; i++) if (pos[i]) negativeLoss[i] = Number.NEGATIVE_INFINITY;
  const idxRank = referenceRank(negativeLoss, cols, options);
  const backgroundIdxs = new Uint8Array(loss.length);
  for (let r = 0; r < rows; r++) {
    const numNegative = Math.max(torchMul(ratio, numPos[r]!), minNegatives);
    for (let i = 0; i < cols; i++)
      backgroundIdxs[r * cols + i] = idxRank[r * cols + i]! < numNegative ? 1 : 0;
  }
  return backgroundIdxs;
}

/**
 * open-mmlab/mmdetection, `SSDHead.loss_single` (one image; `topk` read as a stable descending sort,
 * which is what it returns up to the order of equal values):
 * ```python
 * pos_inds = ((labels >= 0) & (labels < self.num_classes)).nonzero().reshape(-1)
 * neg_inds = (labels == self.num_classes).nonzero().view(-1)
 * num_pos_samples = pos_inds.size(0)
 * num_neg_samples = self.train_cfg.neg_pos_ratio * num_pos_samples
 * if num_neg_samples > neg_inds.size(0):
 *     num_neg_samples = neg_inds.size(0)
 * topk_loss_cls_neg, _ = loss_cls_all[neg_inds].topk(num_neg_samples)
 * ```
 */
export function mmdetReference(
  loss: Float32Array,
  cols: number,
  pos: Uint8Array,
  ratio: number,
  minNegatives: number,
  options?: NanOptions,
): Uint8Array {
  const rows = loss.length / cols;
  rejectNan(loss, cols, options);
  const mask = new Uint8Array(loss.length);
  for (let r = 0; r < rows; r++) {
    const posInds: number[] = [];
    const negInds: number[] = [];
    for (let i = r * cols; i < (r + 1) * cols; i++) (pos[i] ? posInds : negInds).push(i);
    let numNegSamples = Math.max(ratio * posInds.length, minNegatives);
    if (numNegSamples > negInds.length) numNegSamples = negInds.length;
    const topk = negInds.slice().sort((a, b) => descending(loss[a]!, loss[b]!));
    for (const i of topk.slice(0, numNegSamples)) mask[i] = 1;
  }
  return mask;
}

/**
 * pierluigiferrari/ssd_keras, `SSDLoss.compute_loss`, over the whole batch, as the preset table reads
 * it: positives excluded, zero-loss negatives never picked, one stable top-k over the flattened batch.
 * ```python
 * neg_class_loss_all = classification_loss * negatives
 * n_neg_losses = tf.count_nonzero(neg_class_loss_all, dtype=tf.int32)
 * n_negative_keep = tf.minimum(tf.maximum(self.neg_pos_ratio * tf.to_int32(n_positive),
 *                                         self.n_neg_min), n_neg_losses)
 * values, indices = tf.nn.top_k(tf.reshape(neg_class_loss_all, [-1]), k=n_negative_keep, sorted=False)
 * ```
 * For losses >= 0 (every cross-entropy) this is exactly the TensorFlow code
 * ({@link ssdKerasTfReference}); for a negative loss the TensorFlow code would rank the zeroed
 * positives above it, the table (and this preset) never picks a positive.
 */
export function ssdKerasReference(
  loss: Float32Array,
  cols: number,
  pos: Uint8Array,
  ratio: number,
  minNegatives: number,
  options?: NanOptions,
): Uint8Array {
  rejectNan(loss, cols, options);
  let nPositive = 0;
  const candidates: number[] = [];
  for (let i = 0; i < loss.length; i++) {
    if (pos[i]) nPositive++;
    else if (loss[i] !== 0) candidates.push(i); // NaN !== 0: count_nonzero counts it
  }
  const nNegativeKeep = Math.min(Math.max(ratio * nPositive, minNegatives), candidates.length);
  const topk = candidates.sort((a, b) => descending(loss[a]!, loss[b]!)).slice(0, nNegativeKeep);
  const negativesKeep = new Uint8Array(loss.length);
  for (const i of topk) negativesKeep[i] = 1;
  return negativesKeep;
}

/**
 * ssd_keras's TensorFlow code word for word (`classification_loss * negatives`, then `tf.nn.top_k`
 * over the flattened batch, lower index first on ties). Agrees with {@link ssdKerasReference} for
 * finite losses >= 0; kept to show that.
 */
export function ssdKerasTfReference(
  loss: Float32Array,
  pos: Uint8Array,
  ratio: number,
  minNegatives: number,
): Uint8Array {
  const negClassLossAll = new Float32Array(loss.length);
  let nPositive = 0;
  for (let i = 0; i < loss.length; i++) {
    nPositive += pos[i]!;
    negClassLossAll[i] = loss[i]! * (pos[i] ? 0 : 1);
  }
  let nNegLosses = 0;
  for (const v of negClassLossAll) if (v !== 0) nNegLosses++;
  const nNegativeKeep = Math.min(Math.max(ratio * nPositive, minNegatives), nNegLosses);
  const order = Array.from({ length: loss.length }, (_, i) => i).sort((a, b) =>
    descending(negClassLossAll[a]!, negClassLossAll[b]!),
  );
  const negativesKeep = new Uint8Array(loss.length);
  for (const i of order.slice(0, nNegativeKeep)) negativesKeep[i] = 1;
  return negativesKeep;
}

const REFERENCES = {
  'ssd.pytorch': ssdPytorchReference,
  pytorch_advanced: pytorchAdvancedReference,
  torchvision: torchvisionReference,
  mmdet: mmdetReference,
  ssd_keras: ssdKerasReference,
} as const;

/** Options of {@link referenceSsdNegatives}: the loss form of `ssdNegatives`'s options. */
export interface ReferenceSsdOptions extends NanOptions {
  loss: Float32Array;
  cols: number;
  positives: Uint8Array | ArrayLike<boolean> | ArrayLike<number>;
  preset?: SsdPreset;
  ratio?: number;
  minNegatives?: number;
}

/**
 * The negative mask of `ssdNegatives` computed by the literal transcription of the preset's framework
 * (same validation and defaults). The oracle of the SSD front end; O(N log N) per row with comparator
 * sorts, so for tests and audits, not training.
 */
export function referenceSsdNegatives(options: ReferenceSsdOptions): Uint8Array {
  const spec = checkPreset(options.preset, 'options.preset');
  const ratio = checkRatio(options.ratio, spec, 'options.ratio');
  const minNegatives = checkMinNegatives(options.minNegatives, 'options.minNegatives');
  const loss = checkLoss(options.loss, 'options.loss');
  checkCols(options.cols, loss.length);
  const pos = toPositives(options.positives, loss.length, options.cols, 'options.positives');
  const nanOptions: NanOptions = options.nan === undefined ? {} : { nan: options.nan };
  return REFERENCES[spec.name](loss, options.cols, pos, ratio, minNegatives, nanOptions);
}
