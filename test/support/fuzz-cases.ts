import fc from 'fast-check';
import { prng, SPECIAL_VALUES } from './adversarial.ts';

/**
 * Generators of the fuzz suite (test/fuzz.test.ts). Large batches are not drawn element by element
 * by fast-check (a 64 x 30000 array of arbitraries would take longer to build and to shrink than to
 * test): fast-check draws a small *recipe* (shape, value style, NaN density, count mode, seed) and
 * {@link materialize} expands it deterministically with a seeded PRNG. A failure therefore prints a
 * recipe that rebuilds the exact batch, and shrinking shrinks the shape and the style.
 */

/** Total fuzz cases of one `vitest run test/fuzz.test.ts`, split across the properties by share. */
export const FUZZ_RUNS = positiveIntFromEnv('HNM_FUZZ_RUNS', 1200);

/** Fixed fast-check seed (`HNM_FUZZ_SEED`), to replay a failure; random otherwise. */
export const FUZZ_SEED =
  process.env.HNM_FUZZ_SEED === undefined ? undefined : Number(process.env.HNM_FUZZ_SEED);

function positiveIntFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/** fast-check parameters for a property that gets `share` of {@link FUZZ_RUNS} (at least `min` runs). */
export function fuzzParameters(share: number, min = 3): { numRuns: number; seed?: number } {
  const numRuns = Math.max(min, Math.round(FUZZ_RUNS * share));
  return FUZZ_SEED === undefined ? { numRuns } : { numRuns, seed: FUZZ_SEED };
}

/** How the losses of a batch are drawn (see {@link materialize}). */
export type ValueStyle =
  | 'mixed'
  | 'ties'
  | 'signed-zeros'
  | 'denormals'
  | 'infinities'
  | 'ssd'
  | 'ascending'
  | 'descending'
  | 'sample-trap'
  | 'radix-edges'
  | 'negative'
  | 'bits';

export const VALUE_STYLES: readonly ValueStyle[] = [
  'mixed',
  'ties',
  'signed-zeros',
  'denormals',
  'infinities',
  'ssd',
  'ascending',
  'descending',
  'sample-trap',
  'radix-edges',
  'negative',
  'bits',
];

/** NaN in the batch: none, a few per row, or a dense share of the elements. */
export type NanDensity = 'none' | 'sparse' | 'dense';

/** A deterministic description of one `(rows, cols)` float32 batch. */
export interface LossRecipe {
  rows: number;
  cols: number;
  style: ValueStyle;
  nan: NanDensity;
  seed: number;
}

/** An integer in `min .. max`, log-uniform (so small sizes are as common as large ones), shrinking to `min`. */
export function logInteger(min: number, max: number): fc.Arbitrary<number> {
  return fc
    .integer({ min: 0, max: 1 << 16 })
    .map((u) => Math.min(max, Math.floor(min * (max / min) ** (u / (1 << 16)))));
}

/**
 * Batch shapes within `rows 1..64`, `cols 1..30000`, weighted so that the average case stays near a
 * few thousand elements (the literal reference costs about 1-2 us per element): mostly tiny rows
 * (every kernel branch for short rows, exact ties by the dozen), rows around the sampled-pivot
 * threshold (2048 columns), SSD-sized rows, and rarely the extremes up to 64 x 30000.
 */
export function shape(): fc.Arbitrary<{ rows: number; cols: number }> {
  return fc.oneof(
    {
      weight: 600,
      arbitrary: fc.record({ rows: fc.integer({ min: 1, max: 6 }), cols: fc.integer({ min: 1, max: 40 }) }),
    },
    {
      weight: 300,
      arbitrary: fc.record({ rows: fc.integer({ min: 1, max: 8 }), cols: logInteger(41, 2600) }),
    },
    {
      weight: 90,
      arbitrary: fc.record({ rows: fc.integer({ min: 1, max: 4 }), cols: logInteger(2048, 12000) }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        rows: fc.integer({ min: 1, max: 64 }),
        cols: fc.integer({ min: 1, max: 30000 }),
      }),
    },
  );
}

/**
 * Shapes big enough for the pool to cut a call into several tasks (at least 2 x 65536 elements) but
 * no bigger than needed: 131072 .. 400000 elements, 2 .. 64 rows.
 */
export function multiTaskShape(): fc.Arbitrary<{ rows: number; cols: number }> {
  return fc
    .record({ rows: fc.integer({ min: 2, max: 64 }), elements: fc.integer({ min: 131072, max: 400000 }) })
    .map(({ rows, elements }) => ({ rows, cols: Math.min(30000, Math.ceil(elements / rows)) }));
}

/** A loss recipe over `shapes` and `styles` (default: all); `nan` allows NaN densities other than `'none'`. */
export function lossRecipe(
  options: {
    nan?: boolean;
    shapes?: fc.Arbitrary<{ rows: number; cols: number }>;
    styles?: readonly ValueStyle[];
  } = {},
): fc.Arbitrary<LossRecipe> {
  return fc
    .record({
      size: options.shapes ?? shape(),
      style: fc.constantFrom(...(options.styles ?? VALUE_STYLES)),
      nan: options.nan
        ? fc.constantFrom<NanDensity>('none', 'sparse', 'sparse', 'dense')
        : fc.constant<NanDensity>('none'),
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
    })
    .map(({ size, style, nan, seed }) => ({ rows: size.rows, cols: size.cols, style, nan, seed }));
}

const NAN_BITS = [0x7fc00000, 0xffc00000 | 0, 0x7f800001, 0xffffffff | 0, 0x7fbfffff, 0xff800001 | 0];

/** float32 bits of the order key `key` (inverse of `orderKey` in src/kernel/keys.ts; -0 for key 0 when `negZero`). */
export function bitsOfKey(key: number, negZero = false): number {
  if (key > 0 || (key === 0 && !negZero)) return key | 0;
  return ((key - 1) ^ 0x7fffffff) | 0;
}

/** Builds the batch a recipe describes. NaNs are written through the bits (any payload, either sign). */
export function materialize(recipe: LossRecipe): Float32Array {
  const { rows, cols, style } = recipe;
  const n = rows * cols;
  const rand = prng(recipe.seed);
  const loss = new Float32Array(n);
  const bits = new Int32Array(loss.buffer);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const finiteBits = (): number => {
    for (;;) {
      const b = (rand() * 4294967296) | 0;
      if ((b & 0x7fffffff) <= 0x7f800000) return b;
    }
  };
  const mixed = (): number => {
    const u = rand();
    if (u < 0.15) return pick(SPECIAL_VALUES);
    if (u < 0.4) return Math.floor(rand() * 4);
    if (u < 0.7) return rand() * 10;
    const f = new Float32Array(new Int32Array([finiteBits()]).buffer)[0]!;
    return f;
  };
  switch (style) {
    case 'mixed':
      for (let i = 0; i < n; i++) loss[i] = mixed();
      break;
    case 'ties': {
      const palette = Array.from({ length: 1 + Math.floor(rand() * 4) }, mixed);
      for (let i = 0; i < n; i++) loss[i] = pick(palette);
      break;
    }
    case 'signed-zeros':
      for (let i = 0; i < n; i++) loss[i] = pick([0, -0, 0, -0, 1e-45, -1e-45]);
      break;
    case 'denormals': {
      // Few mantissas (ties) or any mantissa, either sign, exponent 0.
      const few = rand() < 0.5;
      for (let i = 0; i < n; i++) {
        const mantissa = few ? Math.floor(rand() * 8) : Math.floor(rand() * 0x800000);
        bits[i] = (rand() < 0.5 ? 0x80000000 : 0) | mantissa;
      }
      break;
    }
    case 'infinities':
      for (let i = 0; i < n; i++) {
        const u = rand();
        loss[i] = u < 0.3 ? Number.POSITIVE_INFINITY : u < 0.6 ? Number.NEGATIVE_INFINITY : mixed();
      }
      break;
    case 'ssd':
      // Cross-entropy-like: exponential, with zeroed positives (+0 and -0).
      for (let i = 0; i < n; i++) {
        const u = rand();
        loss[i] = u < 0.004 ? 0 : u < 0.006 ? -0 : -Math.log(1 - rand());
      }
      break;
    case 'ascending':
    case 'descending': {
      // Monotone along each row, with runs of ties (adversarial for pivots and stable tie-breaks).
      const run = 1 + Math.floor(rand() * 4);
      const sign = style === 'ascending' ? 1 : -1;
      for (let i = 0; i < n; i++) loss[i] = sign * Math.floor((i % cols) / run);
      break;
    }
    case 'sample-trap': {
      // The select kernel samples 32 runs of 8 neighbours, `floor(cols / 32)` apart: put the large
      // values exactly there (the sample overestimates the threshold) or exactly elsewhere.
      // Distinct large values make the sample's pivot exactly as high as the sample suggests, so
      // the gather finds fewer candidates than k and the row is redone; tied ones test the ties.
      const step = Math.max(1, Math.floor(cols / 32));
      const inSample = rand() < 0.5;
      const distinct = rand() < 0.5;
      for (let i = 0; i < n; i++) {
        const sampled = (i % cols) % step < 8;
        const high = distinct ? 100 + rand() : 100 + Math.floor(rand() * 4);
        loss[i] = sampled === inSample ? high : Math.floor(rand() * 4);
      }
      break;
    }
    case 'radix-edges': {
      // Keys next to the radix digit boundaries of the kernels (top 11 bits, the 19-bit pivot, then
      // 11/10 or 8-bit refinements), a few buckets per row so the threshold bucket holds many keys.
      const shifts = [21, 13, 10, 8, 5, 0];
      const anchors = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
        const shift = pick(shifts);
        const limit = Math.floor(0x7f800000 / 2 ** shift);
        const j = Math.floor((rand() * 2 - 1) * Math.min(limit, 1 + Math.floor(rand() * 2000)));
        return j * 2 ** shift;
      });
      for (let i = 0; i < n; i++) {
        let key = pick(anchors) + Math.floor(rand() * 7) - 3;
        key = Math.max(-0x7f800000, Math.min(0x7f800000, key));
        bits[i] = bitsOfKey(key, rand() < 0.5);
      }
      break;
    }
    case 'negative':
      // All at or below zero (log-probabilities, negated losses): the signed pivot compare.
      for (let i = 0; i < n; i++) {
        const u = rand();
        loss[i] = u < 0.02 ? -0 : u < 0.2 ? -Math.floor(rand() * 4) : Math.log(rand());
      }
      break;
    case 'bits':
      for (let i = 0; i < n; i++) bits[i] = finiteBits();
      break;
  }
  if (recipe.nan !== 'none' && n > 0) {
    const count = recipe.nan === 'sparse' ? rows * (1 + Math.floor(rand() * 3)) : Math.ceil(n * 0.3);
    for (let j = 0; j < count; j++) {
      bits[Math.floor(rand() * n)] =
        rand() < 0.5 ? pick(NAN_BITS) : 0x7f800000 | (1 + Math.floor(rand() * 0x7fffff));
    }
  }
  return loss;
}

/** How per-row counts are chosen (see {@link countsFor}). */
export type CountMode = 'edges' | 'small' | 'any' | 'single';

/** A count that must be rejected (RangeError) when injected into a row; `'none'` for a valid call. */
export type BadCount = 'none' | -1 | -2 | 0.5 | 'NaN' | 'Infinity';

export interface CountRecipe {
  mode: CountMode;
  /** Container of per-row counts. */
  form: 'array' | 'int32' | 'float64';
  bad: BadCount;
  seed: number;
}

/** Count recipes: valid in about 95% of cases, else one row's count is negative, fractional or not finite. */
export function countRecipe(): fc.Arbitrary<CountRecipe> {
  return fc.record({
    mode: fc.constantFrom<CountMode>('edges', 'small', 'any', 'single'),
    form: fc.constantFrom<CountRecipe['form']>('array', 'int32', 'float64'),
    bad: fc.oneof(
      { weight: 95, arbitrary: fc.constant<BadCount>('none') },
      { weight: 5, arbitrary: fc.constantFrom<BadCount>(-1, -2, 0.5, 'NaN', 'Infinity') },
    ),
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
  });
}

/** One count in `-2 .. n + 2`, biased to the edges (0, 1, n - 1, n, n + 1, n + 2). */
export function edgeCount(n: number, rand: () => number, mode: CountMode): number {
  const u = rand();
  if (mode === 'edges' || u < 0.3) return [0, 1, n - 1, n, n + 1, n + 2][Math.floor(rand() * 6)]!;
  if (mode === 'small') return Math.floor(rand() * Math.min(n + 3, 40));
  return Math.floor(rand() * (n + 3));
}

/**
 * The `numNeg` argument a count recipe gives for `rows` rows of `cols`: one number (mode `'single'`)
 * or one entry per row in the recipe's container. `bad` replaces one count by an invalid value. An
 * edge count of -1 (from `n - 1` with n = 0) cannot happen since cols >= 1.
 */
export function countsFor(recipe: CountRecipe, rows: number, cols: number): number | ArrayLike<number> {
  const rand = prng(recipe.seed);
  const bad =
    recipe.bad === 'NaN' ? Number.NaN : recipe.bad === 'Infinity' ? Number.POSITIVE_INFINITY : recipe.bad;
  if (recipe.mode === 'single') return bad === 'none' ? edgeCount(cols, rand, 'any') : bad;
  const counts = Array.from({ length: rows }, () => edgeCount(cols, rand, recipe.mode));
  if (bad !== 'none') counts[Math.floor(rand() * rows)] = bad;
  if (recipe.form === 'array') return counts;
  // An Int32Array cannot hold a fraction, NaN or Infinity: keep the invalid case in a Float64Array.
  if (recipe.form === 'int32' && bad === 'none') return Int32Array.from(counts);
  return Float64Array.from(counts);
}

/** The outcome of a call: its value, or the error's class name and message. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; name: string; message: string };

/** Runs `f`, capturing a thrown error as an {@link Outcome}. */
export function settle<T>(f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return failure(e);
  }
}

/**
 * Awaits the promise `f` returns, capturing a rejection; an async API must never throw
 * synchronously, so a synchronous throw is reported as the failure `'threw synchronously'`.
 */
export async function settleAsync<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  let promise: Promise<T>;
  try {
    promise = f();
  } catch (e) {
    return { ok: false, name: 'threw synchronously', message: String(e) };
  }
  try {
    return { ok: true, value: await promise };
  } catch (e) {
    return failure(e);
  }
}

function failure(e: unknown): Outcome<never> {
  if (e instanceof Error) return { ok: false, name: e.constructor.name, message: e.message };
  return { ok: false, name: typeof e, message: String(e) };
}

/** A float32 copy of `loss` at a nonzero offset inside a larger buffer (shared or not): views must work anywhere. */
export function offsetView(loss: Float32Array, shared: boolean, offset: number): Float32Array {
  const bytes = (loss.length + offset) * 4;
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const view = new Float32Array(buffer, offset * 4, loss.length);
  new Int32Array(buffer, offset * 4, loss.length).set(
    new Int32Array(loss.buffer, loss.byteOffset, loss.length),
  );
  return view;
}

/** The entry points the aliasing property calls with an output placed in the input's buffer. */
export const ALIAS_ENTRIES = [
  'mask',
  'rank',
  'batchWide',
  'pool.mask',
  'pool.rank',
  'pool.maskBatchWide',
  'ssd.loss',
  'ssd.positives',
] as const;
export type AliasEntry = (typeof ALIAS_ENTRIES)[number];

/**
 * Where the input and the output sit in one buffer: the input (the loss, or the positives for
 * `ssd.positives`) at element `inputAt`, the output at byte `outAt` (4-aligned for a rank). Picked so
 * that the two overlap in about half the cases, from sharing one byte to being the same bytes, and
 * otherwise sit right next to each other or apart.
 */
export interface AliasCase {
  readonly entry: AliasEntry;
  readonly shared: boolean;
  readonly inputAt: number;
  /** Fraction of the span `[0, input end + 8)` where the output starts; mapped to a byte offset. */
  readonly outFraction: number;
  readonly exactAlias: boolean;
}

export function aliasCase(): fc.Arbitrary<AliasCase> {
  return fc.record({
    entry: fc.constantFrom(...ALIAS_ENTRIES),
    shared: fc.boolean(),
    inputAt: fc.integer({ min: 0, max: 6 }),
    outFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    exactAlias: fc.boolean(),
  });
}

/** The byte layout of an {@link AliasCase} for `n` elements: offsets, sizes and whether they overlap. */
export function aliasLayout(
  c: AliasCase,
  n: number,
): {
  inputByte: number;
  inputBytes: number;
  outByte: number;
  outBytes: number;
  total: number;
  overlap: boolean;
} {
  const inputSize = c.entry === 'ssd.positives' ? 1 : 4;
  const outSize = c.entry === 'rank' || c.entry === 'pool.rank' ? 4 : 1;
  const inputByte = c.inputAt * inputSize;
  const inputBytes = n * inputSize;
  const outBytes = n * outSize;
  let outByte = c.exactAlias ? inputByte : Math.floor(c.outFraction * (inputByte + inputBytes + 8));
  if (outSize === 4) outByte -= outByte % 4;
  const total = Math.max(inputByte + inputBytes, outByte + outBytes, 1);
  const overlap = n > 0 && outByte < inputByte + inputBytes && inputByte < outByte + outBytes;
  return { inputByte, inputBytes, outByte, outBytes, total, overlap };
}

/** What a getter of a hostile argument object does each time it is read. */
export type GetterEffect = 'none' | 'mutate' | 'detach-loss' | 'detach-out';

/** A hostile call: which getter misbehaves and how; `at` picks the element it writes. */
export interface GetterCase {
  readonly where: 'options.nan' | 'options.out' | 'numNeg.length' | 'numNeg[r]';
  readonly effect: GetterEffect;
  readonly at: number;
  readonly value: number;
  readonly entry: 'mask' | 'rank' | 'batchWide' | 'reference' | 'pool.mask';
}

export function getterCase(): fc.Arbitrary<GetterCase> {
  return fc.record({
    where: fc.constantFrom('options.nan', 'options.out', 'numNeg.length', 'numNeg[r]'),
    effect: fc.constantFrom<GetterEffect>('none', 'mutate', 'detach-loss', 'detach-out'),
    at: fc.nat(),
    value: fc.constantFrom(0, -0, 1, 2, 1e30, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3),
    entry: fc.constantFrom('mask', 'rank', 'batchWide', 'reference', 'pool.mask'),
  });
}

/** Detaches a non-shared buffer (transfers it away); a shared one cannot be detached. */
export function detach(buffer: ArrayBufferLike): void {
  if (buffer instanceof ArrayBuffer && buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] });
}
