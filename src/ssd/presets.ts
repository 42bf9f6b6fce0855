/**
 * The framework presets of the SSD front end: how each training framework keeps positives out of the
 * ranking and how many negatives it keeps, read from its source. {@link PRESETS} is the table;
 * {@link perImageCount} and {@link batchCount} are the count rules.
 */

/** Names of the framework presets; `'ssd.pytorch'` is the default. */
export type SsdPreset = 'ssd.pytorch' | 'pytorch_advanced' | 'torchvision' | 'mmdet' | 'ssd_keras';

/**
 * What a preset does with the positives before ranking:
 * - `'zero'`: their loss is set to 0 and they are ranked with the rest (a positive can be marked);
 * - `'-inf'`: their loss is set to `-Inf` and they are ranked with the rest (a positive can be marked
 *   once every negative above `-Inf` is taken);
 * - `'excluded'`: the top-k runs over the negatives only (a positive is never marked).
 */
export type PositiveHandling = 'zero' | '-inf' | 'excluded';

/**
 * The cap on the count: `'cols-1'` `min(k, N - 1)`, `'cols'` `min(k, N)`, `'none'` no cap (a count
 * above N marks the whole row), `'negatives'` `min(k, #negatives)`, `'nonzero-negatives'`
 * `min(k, #negatives with a nonzero loss)` over the whole batch.
 */
export type CountCap = 'cols-1' | 'cols' | 'none' | 'negatives' | 'nonzero-negatives';

/** One row of the preset table. */
export interface PresetSpec {
  readonly name: SsdPreset;
  /** The framework and file this preset transcribes. */
  readonly source: string;
  readonly positives: PositiveHandling;
  readonly cap: CountCap;
  /** One top-k over the whole batch (ties by flat index) instead of one per image. */
  readonly batchWide: boolean;
  /** The framework multiplies integers, so a fractional `ratio` is rejected. */
  readonly wholeRatio: boolean;
  /** Negatives whose loss is 0 (or -0) are never picked. */
  readonly skipZeroLoss: boolean;
  /** Whether the returned negative mask can contain positives. */
  readonly canMarkPositives: boolean;
}

/**
 * The preset table (README, "Coming from PyTorch / torchvision / mmdetection / Keras"). Every entry is transcribed
 * literally in `reference-presets.ts`, which the tests use as the oracle.
 */
export const PRESETS: Readonly<Record<SsdPreset, PresetSpec>> = {
  'ssd.pytorch': {
    name: 'ssd.pytorch',
    source: 'amdegroote/ssd.pytorch layers/modules/multibox_loss.py',
    positives: 'zero',
    cap: 'cols-1',
    batchWide: false,
    wholeRatio: false,
    skipZeroLoss: false,
    canMarkPositives: true,
  },
  pytorch_advanced: {
    name: 'pytorch_advanced',
    source: 'YutaroOgawa/pytorch_advanced 2_objectdetection/utils/ssd_model.py (MultiBoxLoss)',
    positives: 'zero',
    cap: 'cols',
    batchWide: false,
    wholeRatio: false,
    skipZeroLoss: false,
    canMarkPositives: true,
  },
  torchvision: {
    name: 'torchvision',
    source: 'pytorch/vision torchvision/models/detection/ssd.py (SSD.compute_loss)',
    positives: '-inf',
    cap: 'none',
    batchWide: false,
    wholeRatio: false,
    skipZeroLoss: false,
    canMarkPositives: true,
  },
  mmdet: {
    name: 'mmdet',
    source: 'open-mmlab/mmdetection mmdet/models/dense_heads/ssd_head.py (SSDHead.loss_single)',
    positives: 'excluded',
    cap: 'negatives',
    batchWide: false,
    wholeRatio: true,
    skipZeroLoss: false,
    canMarkPositives: false,
  },
  ssd_keras: {
    name: 'ssd_keras',
    source: 'pierluigiferrari/ssd_keras keras_loss_function/keras_ssd_loss.py (SSDLoss.compute_loss)',
    positives: 'excluded',
    cap: 'nonzero-negatives',
    batchWide: true,
    wholeRatio: true,
    skipZeroLoss: true,
    canMarkPositives: false,
  },
};

/** The preset used when none is given. */
export const DEFAULT_PRESET: SsdPreset = 'ssd.pytorch';

/** The negative-to-positive ratio used when none is given (every framework's default). */
export const DEFAULT_RATIO = 3;

/** Preset names, in table order. */
export const PRESET_NAMES: readonly SsdPreset[] = Object.keys(PRESETS) as SsdPreset[];

/** Validates a preset name (`undefined` gives the default); returns its table entry. */
export function checkPreset(preset: unknown, name = 'preset'): PresetSpec {
  if (preset === undefined) return PRESETS[DEFAULT_PRESET];
  if (typeof preset !== 'string') {
    throw new TypeError(`\`${name}\` must be a string, got ${typeof preset}`);
  }
  if (!Object.hasOwn(PRESETS, preset)) {
    throw new RangeError(
      `\`${name}\` must be one of ${PRESET_NAMES.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(preset)}`,
    );
  }
  return PRESETS[preset as SsdPreset];
}

/**
 * Validates `ratio` for a preset (`undefined` gives {@link DEFAULT_RATIO}): a positive finite number;
 * mmdet and ssd_keras multiply integers, so they take whole numbers only.
 */
export function checkRatio(ratio: unknown, spec: PresetSpec, name = 'ratio'): number {
  if (ratio === undefined) return DEFAULT_RATIO;
  if (typeof ratio !== 'number') throw new TypeError(`\`${name}\` must be a number, got ${typeof ratio}`);
  if (!Number.isFinite(ratio) || ratio <= 0) {
    throw new RangeError(`\`${name}\` must be a positive finite number, got ${ratio}`);
  }
  if (spec.wholeRatio && !Number.isInteger(ratio)) {
    throw new RangeError(
      `\`${name}\` must be a whole number for preset '${spec.name}' (it multiplies integers), got ${ratio}`,
    );
  }
  return ratio;
}

/** Validates `minNegatives` (`undefined` gives 0): a finite integer >= 0. */
export function checkMinNegatives(minNegatives: unknown, name = 'minNegatives'): number {
  if (minNegatives === undefined) return 0;
  if (typeof minNegatives !== 'number') {
    throw new TypeError(`\`${name}\` must be a number, got ${typeof minNegatives}`);
  }
  if (!Number.isInteger(minNegatives) || minNegatives < 0) {
    throw new RangeError(`\`${name}\` must be a finite integer >= 0, got ${minNegatives}`);
  }
  return minNegatives;
}

/**
 * `ratio * positives` as the framework computes it. The PyTorch-based frameworks multiply an int64
 * count by a Python float, which PyTorch does in float32 (the default dtype), so a fractional ratio
 * is rounded there, and `rank < k` then rounds the product up: with 50 positives, ratio 0.3 gives
 * 15.000000953674316 in float32, so 16 negatives (float64: exactly 15), and ratio 1.1 gives 55
 * (float64: 55.00000000000001, so 56); checked against torch 1.13 (test/fixtures/ssd). For an
 * integer ratio and fewer than 2^24 positives both agree. mmdet and ssd_keras multiply integers.
 */
export function negativeBudget(spec: PresetSpec, ratio: number, positives: number): number {
  if (spec.wholeRatio) return ratio * positives;
  return Math.fround(Math.fround(ratio) * Math.fround(positives));
}

/**
 * The number of elements a per-image preset marks in a row of `cols` elements with `positives`
 * positives and `negatives` negatives (`cols - positives`): `k = max(ratio * P, minNegatives)`,
 * then the preset's cap, then `ceil` (the frameworks test `rank < k`, so a fractional `k` rounds up),
 * clamped to `0 .. cols`. For `'negatives'` (mmdet) the result never exceeds `negatives`. O(1).
 */
export function perImageCount(
  spec: PresetSpec,
  ratio: number,
  minNegatives: number,
  cols: number,
  positives: number,
): number {
  let k = negativeBudget(spec, ratio, positives);
  if (k < minNegatives) k = minNegatives;
  switch (spec.cap) {
    case 'cols-1':
      if (k > cols - 1) k = cols - 1;
      break;
    case 'cols':
      if (k > cols) k = cols;
      break;
    case 'negatives':
      if (k > cols - positives) k = cols - positives;
      break;
    default:
      break;
  }
  k = Math.ceil(k);
  return k < 0 ? 0 : k > cols ? cols : k;
}

/**
 * ssd_keras's batch count `n_negative_keep = min(max(ratio * P_batch, n_neg_min), #nonzero
 * negatives)`, where `minNegatives` plays `n_neg_min` and `nonzeroNegatives` counts the negatives of
 * the whole batch whose loss is not 0 (NaN counts as nonzero, as in `tf.count_nonzero`). O(1).
 */
export function batchCount(
  ratio: number,
  minNegatives: number,
  positives: number,
  nonzeroNegatives: number,
): number {
  let k = ratio * positives;
  if (k < minNegatives) k = minNegatives;
  return k > nonzeroNegatives ? nonzeroNegatives : k;
}
