export type { MaskOptions } from './mask.ts';
export { hardNegativeMask } from './mask.ts';
export type { RankOptions } from './rank.ts';
export { rankDescending } from './rank.ts';
export { referenceMask, referenceRank } from './reference.ts';
export type { NanOptions, NanPolicy } from './validate.ts';
