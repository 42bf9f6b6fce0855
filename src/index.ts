/**
 * `hard-negative-mining`: the core's exports (`core.ts`) plus the Node parts (the worker pool, `.npy`
 * files, the pooled SSD front end). The core's names are listed again here rather than re-exported
 * with `export *`, deliberately: each entry names every export explicitly.
 */
export type { BatchWideOptions } from './batch-wide.ts';
export { hardNegativeMaskBatchWide } from './batch-wide.ts';
export type { MaskOptions } from './mask.ts';
export { hardNegativeMask } from './mask.ts';
export { HardNegativeMiner } from './miner.ts';
export type { NpyArray, NpyData, NpyReadOptions, NpyWriteOptions } from './npy/codec.ts';
export { encodeNpy, parseNpy } from './npy/codec.ts';
export type { NpyDtype, NpyKind } from './npy/dtype.ts';
export { NpyFormatError } from './npy/errors.ts';
export { readNpy, writeNpy } from './npy/small.ts';
export type { MineOptions, MinerOptions } from './pool/miner.ts';
export { PooledMiner } from './pool/miner.ts';
export { allocLoss } from './pool/shared-buffers.ts';
export type { RankOptions } from './rank.ts';
export { rankDescending } from './rank.ts';
export { referenceMask, referenceRank } from './reference.ts';
// SSD targets in plain TypeScript (the tfjs API lives in `hard-negative-mining/tfjs`; never imported here).
export type { DefaultBoxConfig } from './ssd/boxes.ts';
export { defaultBoxes, SSD300_CONFIG } from './ssd/boxes.ts';
export type { LabelArray } from './ssd/confidence-loss.ts';
export { confidenceLoss } from './ssd/confidence-loss.ts';
export type { MatchOptions, MatchResult } from './ssd/match.ts';
export { matchTargets } from './ssd/match.ts';
export { ssdNegatives } from './ssd/negatives.ts';
export type {
  SsdCommonOptions,
  SsdLogitsInput,
  SsdLossInput,
  SsdNegativesOptions,
  SsdNegativesResult,
} from './ssd/plan.ts';
export type { SsdNegativesPooledOptions } from './ssd/pooled.ts';
export { ssdNegativesPooled } from './ssd/pooled.ts';
export type { PositivesInput } from './ssd/positives.ts';
export type { CountCap, PositiveHandling, PresetSpec, SsdPreset } from './ssd/presets.ts';
export { DEFAULT_PRESET, DEFAULT_RATIO, PRESET_NAMES, PRESETS } from './ssd/presets.ts';
export type { ReferenceSsdOptions } from './ssd/reference-presets.ts';
export { referenceSsdNegatives } from './ssd/reference-presets.ts';
export type { TargetEncoderOptions } from './ssd/target-encoder.ts';
export { TargetEncoder } from './ssd/target-encoder.ts';
export type { ImageTruths, MatchBatchOptions, MatchBatchResult } from './ssd/targets.ts';
export { matchTargetsBatch } from './ssd/targets.ts';
export { tfodNegatives } from './ssd/tfod.ts';
export type { TfodLossType, TfodMinerOptions, TfodOptions, TfodResult } from './ssd/tfod-options.ts';
export type { TfodPooledOptions } from './ssd/tfod-pooled.ts';
export { tfodNegativesPooled } from './ssd/tfod-pooled.ts';
export { referenceTfod } from './ssd/tfod-reference.ts';
export type { NanOptions, NanPolicy } from './validate.ts';
