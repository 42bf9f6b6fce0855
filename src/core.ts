/**
 * `hard-negative-mining/core`: everything that needs no Node API, for browsers, Deno, Bun, workers
 * and bundles: the mask and rank kernels (WebAssembly with a JavaScript fallback), the batch-wide
 * mask, the literal reference transcriptions, the SSD framework presets with `ssdNegatives` and
 * `confidenceLoss` (tf_object_detection's NMS miner included), the SSD target helpers
 * (`defaultBoxes`, `matchTargets`, `matchTargetsBatch`), and `.npy` encode/parse of arrays in memory. No module in its import graph
 * imports a `node:` module (test/core-bundle.test.ts checks the graph and runs a browser bundle of it
 * in a bare `node:vm` context). The worker pool, file I/O and the CLI are in the main entry.
 */
export type { BatchWideOptions } from './batch-wide.ts';
export { hardNegativeMaskBatchWide } from './batch-wide.ts';
export type { MaskOptions } from './mask.ts';
export { hardNegativeMask } from './mask.ts';
export type { NpyArray, NpyData, NpyWriteOptions } from './npy/codec.ts';
export { encodeNpy, parseNpy } from './npy/codec.ts';
export type { NpyDtype, NpyKind } from './npy/dtype.ts';
export { NpyFormatError } from './npy/errors.ts';
export type { RankOptions } from './rank.ts';
export { rankDescending } from './rank.ts';
export { referenceMask, referenceRank } from './reference.ts';
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
export type { PositivesInput } from './ssd/positives.ts';
export type { CountCap, PositiveHandling, PresetSpec, SsdPreset } from './ssd/presets.ts';
export { DEFAULT_PRESET, DEFAULT_RATIO, PRESET_NAMES, PRESETS } from './ssd/presets.ts';
export type { ReferenceSsdOptions } from './ssd/reference-presets.ts';
export { referenceSsdNegatives } from './ssd/reference-presets.ts';
export type { ImageTruths, MatchBatchOptions, MatchBatchResult } from './ssd/targets.ts';
export { matchTargetsBatch } from './ssd/targets.ts';
export { tfodNegatives } from './ssd/tfod.ts';
export type { TfodLossType, TfodMinerOptions, TfodOptions, TfodResult } from './ssd/tfod-options.ts';
export { referenceTfod } from './ssd/tfod-reference.ts';
export type { NanOptions, NanPolicy } from './validate.ts';
