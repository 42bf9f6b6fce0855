/**
 * SSD default boxes (priors, anchors) in `(cx, cy, w, h)` form, as ssd.pytorch's `PriorBox` (v2 /
 * the SSD paper's layout) and the seed book's `DBox` build them. Plain TypeScript: no tfjs.
 */

/** The layout of the default boxes: one entry per feature map, in the network's order. */
export interface DefaultBoxConfig {
  /** Input size in pixels (`min_dim`); 300 for SSD300. */
  imageSize: number;
  /** Cells per side of each feature map: 38, 19, 10, 5, 3, 1 for SSD300. */
  featureMaps: readonly number[];
  /** Pixels per cell of each map (`steps`): 8, 16, 32, 64, 100, 300 for SSD300. */
  steps: readonly number[];
  /** Box size in pixels of each map's aspect-1 box: 30, 60, 111, 162, 213, 264 for SSD300. */
  minSizes: readonly number[];
  /** The extra aspect-1 box of each map has side `sqrt(min * max)`: 60 .. 315 for SSD300. */
  maxSizes: readonly number[];
  /** Extra aspect ratios of each map; each `ar` adds two boxes (`ar` and `1 / ar`). */
  aspectRatios: readonly (readonly number[])[];
  /** Clamp every coordinate to [0, 1] (ssd.pytorch's `clip`); true for SSD300. */
  clip: boolean;
}

/** The VOC/COCO SSD300 configuration of ssd.pytorch (`data/config.py`) and the book: 8732 boxes. */
export const SSD300_CONFIG: Readonly<DefaultBoxConfig> = Object.freeze({
  imageSize: 300,
  featureMaps: Object.freeze([38, 19, 10, 5, 3, 1]),
  steps: Object.freeze([8, 16, 32, 64, 100, 300]),
  minSizes: Object.freeze([30, 60, 111, 162, 213, 264]),
  maxSizes: Object.freeze([60, 111, 162, 213, 264, 315]),
  aspectRatios: Object.freeze([[2], [2, 3], [2, 3], [2, 3], [2], [2]].map((a) => Object.freeze(a))),
  clip: true,
});

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`\`${name}\` must be a number, got ${typeof value}`);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`\`${name}\` must be a finite number > 0, got ${value}`);
  }
  return value;
}

function list(value: unknown, name: string, length: number): readonly unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`\`${name}\` must be an array, got ${typeof value}`);
  if (length >= 0 && value.length !== length) {
    throw new RangeError(`\`${name}\` must have one entry per feature map (${length}), got ${value.length}`);
  }
  return value;
}

/** Validates a config; returns the number of boxes it makes. */
function checkConfig(config: DefaultBoxConfig): number {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`\`config\` must be an object, got ${config === null ? 'null' : typeof config}`);
  }
  positive(config.imageSize, 'config.imageSize');
  const maps = list(config.featureMaps, 'config.featureMaps', -1);
  const n = maps.length;
  list(config.steps, 'config.steps', n);
  list(config.minSizes, 'config.minSizes', n);
  list(config.maxSizes, 'config.maxSizes', n);
  list(config.aspectRatios, 'config.aspectRatios', n);
  if (typeof config.clip !== 'boolean') {
    throw new TypeError(`\`config.clip\` must be a boolean, got ${typeof config.clip}`);
  }
  let boxes = 0;
  for (let k = 0; k < n; k++) {
    const f = maps[k];
    if (typeof f !== 'number' || !Number.isInteger(f) || f < 1) {
      throw new RangeError(`\`config.featureMaps[${k}]\` must be a positive integer, got ${String(f)}`);
    }
    positive(config.steps[k], `config.steps[${k}]`);
    positive(config.minSizes[k], `config.minSizes[${k}]`);
    positive(config.maxSizes[k], `config.maxSizes[${k}]`);
    const ars = list(config.aspectRatios[k], `config.aspectRatios[${k}]`, -1);
    for (let a = 0; a < ars.length; a++) positive(ars[a], `config.aspectRatios[${k}][${a}]`);
    boxes += f * f * (2 + 2 * ars.length);
  }
  if (boxes * 4 > 0x7fffffff) throw new RangeError(`\`config\` makes too many boxes (${boxes})`);
  return boxes;
}

/**
 * SSD default boxes in `(cx, cy, w, h)` form, relative to the image (0..1), four float32 numbers per
 * box. With no argument, the 8732 boxes of SSD300 ({@link SSD300_CONFIG}), bit-identical to
 * ssd.pytorch's `PriorBox(voc).forward()` and the book's `DBox.make_dbox_list()`: per feature map
 * `k` of size `f`, per cell row `i` then column `j`, centre `((j + 0.5) / f_k, (i + 0.5) / f_k)` with
 * `f_k = imageSize / steps[k]`, then the boxes of side `s_k = minSizes[k] / imageSize`,
 * `sqrt(s_k * maxSizes[k] / imageSize)`, and for each `ar` `(s_k * sqrt(ar), s_k / sqrt(ar))` and its
 * transpose. Like the Python, the arithmetic is float64 and each number is rounded once to float32;
 * `clip` clamps to [0, 1].
 *
 * Cost: O(boxes); allocates the result only.
 *
 * @throws {TypeError} a config field of the wrong type.
 * @throws {RangeError} a config field that is not positive, or lists of different lengths.
 */
export function defaultBoxes(config: DefaultBoxConfig = SSD300_CONFIG): Float32Array {
  const count = checkConfig(config);
  const out = new Float32Array(count * 4);
  const { imageSize, featureMaps, steps, minSizes, maxSizes, aspectRatios, clip } = config;
  let o = 0;
  for (let k = 0; k < featureMaps.length; k++) {
    const f = featureMaps[k]!;
    const fk = imageSize / steps[k]!;
    const sk = minSizes[k]! / imageSize;
    const skPrime = Math.sqrt(sk * (maxSizes[k]! / imageSize));
    const ars = aspectRatios[k]!;
    for (let i = 0; i < f; i++) {
      const cy = (i + 0.5) / fk;
      for (let j = 0; j < f; j++) {
        const cx = (j + 0.5) / fk;
        out[o++] = cx;
        out[o++] = cy;
        out[o++] = sk;
        out[o++] = sk;
        out[o++] = cx;
        out[o++] = cy;
        out[o++] = skPrime;
        out[o++] = skPrime;
        for (let a = 0; a < ars.length; a++) {
          const r = Math.sqrt(ars[a]!);
          out[o++] = cx;
          out[o++] = cy;
          out[o++] = sk * r;
          out[o++] = sk / r;
          out[o++] = cx;
          out[o++] = cy;
          out[o++] = sk / r;
          out[o++] = sk * r;
        }
      }
    }
  }
  if (clip) {
    // Clamping after the float32 rounding, as torch's clamp_ does; 0 and 1 are exact in both.
    for (let i = 0; i < out.length; i++) {
      const v = out[i]!;
      if (v < 0) out[i] = 0;
      else if (v > 1) out[i] = 1;
    }
  }
  return out;
}
