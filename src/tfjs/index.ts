/**
 * `hard-negative-mining/tfjs`: the TensorFlow.js API. Needs `@tensorflow/tfjs-core` ^4 (an optional
 * peer dependency); in Node, install `@tensorflow/tfjs`, which brings the CPU backend and the
 * gradients `multiboxLoss` needs.
 */
export type { DefaultBoxConfig } from '../ssd/boxes.ts';
export { defaultBoxes, SSD300_CONFIG } from '../ssd/boxes.ts';
export type { MatchOptions, MatchResult } from '../ssd/match.ts';
export { matchTargets } from '../ssd/match.ts';
export type { TargetEncoderOptions } from '../ssd/target-encoder.ts';
export { TargetEncoder } from '../ssd/target-encoder.ts';
export type { ImageTruths, MatchBatchOptions, MatchBatchResult } from '../ssd/targets.ts';
export { matchTargetsBatch } from '../ssd/targets.ts';
export type { MaskTensorOptions, MaskTensorPooledOptions } from './mask.ts';
export { hardNegativeMaskTensor, hardNegativeMaskTensorPooled } from './mask.ts';
export type { MultiboxLossOptions, MultiboxLossResult } from './multibox.ts';
export { multiboxLoss } from './multibox.ts';
export type {
  SsdNegativesTensorOptions,
  SsdNegativesTensorPooledOptions,
  SsdNegativesTensorResult,
} from './negatives.ts';
export { ssdNegativesTensor, ssdNegativesTensorPooled } from './negatives.ts';
export type { ConfOverlap, LossReduction, MultiboxPreset, Normalisers } from './reductions.ts';
export { LOSS_REDUCTIONS, MULTIBOX_PRESETS } from './reductions.ts';
export type { TfodTensorOptions } from './tfod-negatives.ts';
