import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SsdNegativesResult, SsdPreset } from '../src/index.ts';
import {
  allocLoss,
  confidenceLoss,
  HardNegativeMiner,
  hardNegativeMask,
  hardNegativeMaskBatchWide,
  PRESET_NAMES,
  PRESETS,
  rankDescending,
  referenceMask,
  referenceRank,
  referenceSsdNegatives,
  ssdNegatives,
} from '../src/index.ts';
import { setWasmKernel } from '../src/kernel/wasm-kernel.ts';
import { byteswap } from '../src/npy/convert.ts';
import { encodeHeader } from '../src/npy/header.ts';
import type { NpyData } from '../src/npy/small.ts';
import { encodeNpy, parseNpy } from '../src/npy/small.ts';
import { nanError } from '../src/validate.ts';
import { firstDifference, prng } from './support/adversarial.ts';
import type { AliasCase, GetterCase, LossRecipe, Outcome } from './support/fuzz-cases.ts';
import {
  aliasCase,
  aliasLayout,
  countRecipe,
  countsFor,
  detach,
  edgeCount,
  FUZZ_RUNS,
  fuzzParameters,
  getterCase,
  logInteger,
  lossRecipe,
  materialize,
  multiTaskShape,
  offsetView,
  settle,
  settleAsync,
  shape,
} from './support/fuzz-cases.ts';
import { ensureBuilt, hnm, STACK_TRACE } from './support/hnm.ts';

/**
 * The fuzz suite: every code path against the literal seed algorithm (`referenceMask` /
 * `referenceRank`) or, for the presets, the literal framework transcriptions, on random shapes up to
 * 64 x 30000, adversarial values and counts in -2 .. N + 2 (invalid counts must be rejected with the
 * same error as the reference). `npm test` runs a small number of cases; `npm run fuzz` sets
 * `HNM_FUZZ_RUNS=100000` (split across the properties by the shares below). Replay a failure with
 * `HNM_FUZZ_SEED=<seed>` and the same `HNM_FUZZ_RUNS`.
 */

/** Share of {@link FUZZ_RUNS} per property (the CLI one spawns a process per case). */
const SHARES = {
  syncMask: 0.2,
  sampledRows: 0.03,
  syncRank: 0.07,
  poolMask: 0.15,
  poolRank: 0.05,
  batchWideSync: 0.1,
  batchWidePool: 0.1,
  presets: 0.2,
  presetsPool: 0.095,
  cli: 0.005,
  aliasing: 0.03,
  getters: 0.03,
} as const;

/** Per-test timeout: generous at full size (the whole run is timed by `npm run fuzz`, not here). */
const timeout = (share: number, msPerCase: number): number =>
  Math.max(120_000, Math.ceil(FUZZ_RUNS * share) * msPerCase * 4);

const cases: Record<string, number> = {};
const count = (name: string): void => {
  cases[name] = (cases[name] ?? 0) + 1;
};

afterAll(() => {
  if (process.env.HNM_FUZZ_RUNS !== undefined) {
    const total = Object.values(cases).reduce((a, b) => a + b, 0);
    process.stdout.write(`fuzz cases run: ${total} ${JSON.stringify(cases)}\n`);
  }
});

type Nan = 'error' | 'largest';

/** Every call dispatched (inlineBelow 0), and the default miner (small calls inline). */
let pooled: HardNegativeMiner;
let auto: HardNegativeMiner;
beforeAll(() => {
  pooled = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
  auto = new HardNegativeMiner({ threads: 2 });
});
afterAll(async () => {
  await pooled.close();
  await auto.close();
});

/**
 * A batch and its NaN policy: mostly NaN-free under `'error'`; sometimes NaN under `'error'` (every
 * path must throw the reference's error, naming the first NaN's row and column); often NaN under
 * `'largest'` (ranked above +Inf, all NaNs tied, as PyTorch).
 */
function policyCase(
  shapes?: fc.Arbitrary<{ rows: number; cols: number }>,
): fc.Arbitrary<{ recipe: LossRecipe; nan: Nan }> {
  const opts = shapes === undefined ? {} : { shapes };
  return fc.oneof(
    { weight: 6, arbitrary: lossRecipe(opts).map((recipe) => ({ recipe, nan: 'error' as Nan })) },
    {
      weight: 1,
      arbitrary: lossRecipe({ ...opts, nan: true }).map((recipe) => ({
        recipe: { ...recipe, nan: recipe.nan === 'none' ? ('sparse' as const) : recipe.nan },
        nan: 'error' as Nan,
      })),
    },
    {
      weight: 4,
      arbitrary: lossRecipe({ ...opts, nan: true }).map((recipe) => ({ recipe, nan: 'largest' as Nan })),
    },
  );
}

/** Fails with a readable message unless `actual` is the same result (or the same error) as `expected`. */
function expectSame(
  actual: Outcome<ArrayLike<number>>,
  expected: Outcome<ArrayLike<number>>,
  what: string,
): void {
  if (!expected.ok) {
    if (actual.ok) throw new Error(`${what}: expected ${expected.name}: ${expected.message}, got a result`);
    expect(`${actual.name}: ${actual.message}`).toBe(`${expected.name}: ${expected.message}`);
    return;
  }
  if (!actual.ok) throw new Error(`${what}: expected a result, got ${actual.name}: ${actual.message}`);
  expect(actual.value.length).toBe(expected.value.length);
  const at = firstDifference(actual.value, expected.value);
  if (at >= 0) {
    throw new Error(
      `${what}: first difference at flat index ${at}: ${actual.value[at]} != ${expected.value[at]}`,
    );
  }
}

const options = (nan: Nan) => ({ nan });

/** Runs `run` with the JavaScript kernel when `js`, else the WebAssembly one (the default). */
function withKernel<T>(js: boolean, run: () => T): T {
  const was = setWasmKernel(!js);
  try {
    return run();
  } finally {
    setWasmKernel(was);
  }
}

describe('sync API against the literal double sort', () => {
  it(
    'hardNegativeMask = referenceMask, wasm and JavaScript kernels (shapes to 64 x 30000, adversarial values, k in -2..N+2)',
    () => {
      fc.assert(
        fc.property(policyCase(), countRecipe(), fc.boolean(), ({ recipe, nan }, countSpec, js) => {
          count('syncMask');
          const loss = materialize(recipe);
          const numNeg = countsFor(countSpec, recipe.rows, recipe.cols);
          const expected = settle(() => referenceMask(loss, recipe.cols, numNeg, options(nan)));
          if (countSpec.bad !== 'none') expect(expected).toMatchObject({ ok: false, name: 'RangeError' });
          expectSame(
            withKernel(js, () => settle(() => hardNegativeMask(loss, recipe.cols, numNeg, options(nan)))),
            expected,
            'mask',
          );
        }),
        fuzzParameters(SHARES.syncMask),
      );
    },
    timeout(SHARES.syncMask, 20),
  );

  it(
    "hardNegativeMask = referenceMask on rows long enough for the kernel's sampled pivot (2048..12000), both kernels",
    () => {
      // The styles that steer the sample: traps at the sampled positions, all-negative rows (signed
      // pivot compare), radix-boundary keys, heavy ties and signed zeros (whole-row path).
      const recipes = lossRecipe({
        nan: true,
        shapes: fc.record({ rows: fc.integer({ min: 1, max: 2 }), cols: logInteger(2048, 12000) }),
        styles: ['sample-trap', 'negative', 'radix-edges', 'ties', 'signed-zeros', 'ssd', 'descending'],
      });
      fc.assert(
        fc.property(recipes, fc.boolean(), fc.nat(), fc.boolean(), (recipe, largest, countSeed, js) => {
          count('sampledRows');
          const nan: Nan = largest ? 'largest' : 'error';
          const loss = materialize({ ...recipe, nan: largest ? recipe.nan : 'none' });
          // Mostly the small counts that take the sampled pivot (SSD: k up to ~600 of 8732).
          const rand = prng(countSeed);
          const numNeg = Array.from({ length: recipe.rows }, () =>
            Math.floor(rand() ** 3 * (recipe.cols + 3)),
          );
          const expected = settle(() => referenceMask(loss, recipe.cols, numNeg, options(nan)));
          expectSame(
            withKernel(js, () => settle(() => hardNegativeMask(loss, recipe.cols, numNeg, options(nan)))),
            expected,
            'mask',
          );
        }),
        fuzzParameters(SHARES.sampledRows),
      );
    },
    timeout(SHARES.sampledRows, 30),
  );

  it(
    'rankDescending = referenceRank',
    () => {
      fc.assert(
        fc.property(policyCase(), ({ recipe, nan }) => {
          count('syncRank');
          const loss = materialize(recipe);
          const expected = settle(() => referenceRank(loss, recipe.cols, options(nan)));
          expectSame(
            settle(() => rankDescending(loss, recipe.cols, options(nan))),
            expected,
            'rank',
          );
        }),
        fuzzParameters(SHARES.syncRank),
      );
    },
    timeout(SHARES.syncRank, 20),
  );
});

/** Batch-wide: one k over the flattened batch, ties by flat index; a NaN error names row and column. */
function batchWideExpected(loss: Float32Array, cols: number, k: number, nan: Nan): Outcome<Uint8Array> {
  if (!(Number.isInteger(k) && k >= 0)) {
    return { ok: false, name: 'RangeError', message: `\`k\` must be a finite integer >= 0, got ${k}` };
  }
  if (nan === 'error') {
    const at = loss.findIndex((x) => Number.isNaN(x));
    if (at >= 0) return { ok: false, name: 'RangeError', message: nanError(at, cols).message };
  }
  return { ok: true, value: referenceMask(loss, loss.length, k, options(nan)) };
}

const batchCount = fc
  .record({ mode: fc.constantFrom('edges', 'small', 'any', 'bad' as const), seed: fc.nat() })
  .map(({ mode, seed }) => ({ mode, seed }));

function batchK(spec: { mode: string; seed: number }, n: number): number {
  const rand = prng(spec.seed);
  if (spec.mode === 'bad') return [-1, -2, 0.5, Number.NaN][Math.floor(rand() * 4)]!;
  return edgeCount(n, rand, spec.mode === 'edges' ? 'edges' : spec.mode === 'small' ? 'small' : 'any');
}

describe('batch-wide (sync) against the literal double sort of the flattened batch', () => {
  it(
    'hardNegativeMaskBatchWide = referenceMask of the flattened batch',
    () => {
      fc.assert(
        fc.property(policyCase(), batchCount, ({ recipe, nan }, kSpec) => {
          count('batchWideSync');
          const loss = materialize(recipe);
          const k = batchK(kSpec, loss.length);
          const expected = batchWideExpected(loss, recipe.cols, k, nan);
          expectSame(
            settle(() => hardNegativeMaskBatchWide(loss, recipe.cols, k, options(nan))),
            expected,
            'batch-wide',
          );
        }),
        fuzzParameters(SHARES.batchWideSync),
      );
    },
    timeout(SHARES.batchWideSync, 30),
  );
});

/** Where the pool reads the losses from: a plain array, shared memory, or a view at an offset of either. */
type InputKind = 'plain' | 'shared' | 'offset' | 'offset-shared';

function inputOf(loss: Float32Array, rows: number, cols: number, kind: InputKind): Float32Array {
  if (kind === 'plain') return loss;
  if (kind === 'shared') {
    const shared = allocLoss(rows, cols);
    shared.set(loss);
    // allocLoss writes through a Float32Array: copy the bits so NaN payloads survive.
    new Int32Array(shared.buffer).set(new Int32Array(loss.buffer, loss.byteOffset, loss.length));
    return shared;
  }
  return offsetView(loss, kind === 'offset-shared', 3);
}

describe('pool (HardNegativeMiner) against the literal double sort', () => {
  const poolShapes = fc.oneof({ weight: 97, arbitrary: shape() }, { weight: 3, arbitrary: multiTaskShape() });
  const inputKind = fc.constantFrom<InputKind>('plain', 'shared', 'offset', 'offset-shared');

  it(
    'miner.mask = referenceMask (inline and dispatched, plain, shared and offset inputs)',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          policyCase(poolShapes),
          countRecipe(),
          inputKind,
          fc.boolean(),
          async ({ recipe, nan }, countSpec, kind, dispatch) => {
            count('poolMask');
            const loss = materialize(recipe);
            const numNeg = countsFor(countSpec, recipe.rows, recipe.cols);
            const expected = settle(() => referenceMask(loss, recipe.cols, numNeg, options(nan)));
            const input = inputOf(loss, recipe.rows, recipe.cols, kind);
            const miner = dispatch ? pooled : auto;
            const actual = await settleAsync(() => miner.mask(input, recipe.cols, numNeg, options(nan)));
            expectSame(actual, expected, 'miner.mask');
          },
        ),
        fuzzParameters(SHARES.poolMask),
      );
      expect(pooled.stats.active).toBe(0);
    },
    timeout(SHARES.poolMask, 30),
  );

  it(
    'miner.rank = referenceRank',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          policyCase(poolShapes),
          inputKind,
          fc.boolean(),
          async ({ recipe, nan }, kind, dispatch) => {
            count('poolRank');
            const loss = materialize(recipe);
            const expected = settle(() => referenceRank(loss, recipe.cols, options(nan)));
            const input = inputOf(loss, recipe.rows, recipe.cols, kind);
            const actual = await settleAsync(() =>
              (dispatch ? pooled : auto).rank(input, recipe.cols, options(nan)),
            );
            expectSame(actual, expected, 'miner.rank');
          },
        ),
        fuzzParameters(SHARES.poolRank),
      );
    },
    timeout(SHARES.poolRank, 30),
  );

  it(
    'miner.maskBatchWide (two-phase, several tasks) = referenceMask of the flattened batch',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          policyCase(poolShapes),
          batchCount,
          inputKind,
          fc.boolean(),
          async ({ recipe, nan }, kSpec, kind, dispatch) => {
            count('batchWidePool');
            const loss = materialize(recipe);
            const k = batchK(kSpec, loss.length);
            const expected = batchWideExpected(loss, recipe.cols, k, nan);
            const input = inputOf(loss, recipe.rows, recipe.cols, kind);
            const actual = await settleAsync(() =>
              (dispatch ? pooled : auto).maskBatchWide(input, recipe.cols, k, options(nan)),
            );
            expectSame(actual, expected, 'miner.maskBatchWide');
          },
        ),
        fuzzParameters(SHARES.batchWidePool),
      );
    },
    timeout(SHARES.batchWidePool, 40),
  );
});

/** Positives of a batch: a share per row (some rows all or none), drawn from `seed`. */
function positivesFor(rows: number, cols: number, density: number, seed: number): Uint8Array {
  const rand = prng(seed);
  const pos = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const u = rand();
    const d = u < 0.1 ? 0 : u < 0.15 ? 1 : density;
    for (let i = r * cols; i < (r + 1) * cols; i++) pos[i] = rand() < d ? 1 : 0;
  }
  return pos;
}

const WHOLE_RATIO = new Set<SsdPreset>(PRESET_NAMES.filter((p) => PRESETS[p].wholeRatio));

const presetCase = fc.record({
  batch: policyCase(),
  preset: fc.constantFrom(...PRESET_NAMES),
  ratio: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(1, 2, 3, 5, 10) },
    { weight: 3, arbitrary: fc.constantFrom(0.5, 2.5, 7 / 3, 1e-3, 100, 3.0000001) },
  ),
  minNeg: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 8 }) },
    { weight: 2, arbitrary: fc.double({ min: 0, max: 1.1, noNaN: true }) },
  ),
  density: fc.constantFrom(0, 0.004, 0.05, 0.3, 0.9),
  form: fc.constantFrom('bytes', 'booleans', 'numbers'),
  seed: fc.nat(),
});

type PresetCase = typeof presetCase extends fc.Arbitrary<infer T> ? T : never;

/** The options of a preset case, its expected outcome (the framework transcription), and its shape. */
function presetInputs(c: PresetCase) {
  const { recipe, nan } = c.batch;
  const { rows, cols } = recipe;
  const loss = materialize(recipe);
  const bytes = positivesFor(rows, cols, c.density, c.seed);
  const positives =
    c.form === 'bytes'
      ? bytes
      : c.form === 'booleans'
        ? Array.from(bytes, (b) => b === 1)
        : Array.from(bytes);
  // minNegatives as a count: a fraction of N (sometimes above N), or a small count.
  const minNegatives = Number.isInteger(c.minNeg) ? c.minNeg : Math.floor(c.minNeg * cols);
  // A fractional ratio for mmdet/ssd_keras is an error both must raise alike.
  const options = { loss, cols, positives, preset: c.preset, ratio: c.ratio, minNegatives, nan };
  const expected = settle(() => referenceSsdNegatives(options));
  if (WHOLE_RATIO.has(c.preset) && !Number.isInteger(c.ratio)) {
    expect(expected).toMatchObject({ ok: false, name: 'RangeError' });
  }
  return { options, expected, rows, cols };
}

/** The preset's mask equals the transcription's; per-row counts and the total count the mask's ones. */
function expectPresetResult(
  actual: Outcome<SsdNegativesResult>,
  expected: Outcome<Uint8Array>,
  rows: number,
  cols: number,
  what: string,
): void {
  expectSame(actual.ok ? { ok: true, value: actual.value.negatives } : actual, expected, what);
  if (!actual.ok) return;
  const { negatives, counts: perRow, numNegatives } = actual.value;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let ones = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) ones += negatives[i]!;
    expect(perRow[r]).toBe(ones);
    total += ones;
  }
  expect(numNegatives).toBe(total);
}

describe('SSD presets against the literal framework transcriptions', () => {
  it(
    'ssdNegatives = referenceSsdNegatives for every preset (ratio, minNegatives, NaN policy)',
    () => {
      fc.assert(
        fc.property(presetCase, (c) => {
          count('presets');
          const { options, expected, rows, cols } = presetInputs(c);
          expectPresetResult(
            settle(() => ssdNegatives(options)),
            expected,
            rows,
            cols,
            `${c.preset} (sync)`,
          );
        }),
        fuzzParameters(SHARES.presets),
      );
    },
    timeout(SHARES.presets, 25),
  );

  it(
    'miner.ssdNegatives (pooled) = referenceSsdNegatives for every preset',
    async () => {
      await fc.assert(
        fc.asyncProperty(presetCase, fc.boolean(), async (c, dispatch) => {
          count('presetsPool');
          const { options, expected, rows, cols } = presetInputs(c);
          const actual = await settleAsync(() => (dispatch ? pooled : auto).ssdNegatives(options));
          expectPresetResult(actual, expected, rows, cols, `${c.preset} (pool)`);
        }),
        fuzzParameters(SHARES.presetsPool),
      );
    },
    timeout(SHARES.presetsPool, 30),
  );
});

describe('CLI round trip through .npy files', () => {
  let dir = '';
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hnm-fuzz-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cliCase = fc.record({
    batch: policyCase(),
    command: fc.constantFrom('num-neg', 'num-neg-file', 'positives', 'rank', 'logits'),
    dtype: fc.constantFrom('<f4', '<f8', '>f4'),
    countsDtype: fc.constantFrom('<i8', '<i4', '>i4', '|u1', '<u2', '|i1'),
    countsShape2d: fc.boolean(),
    badCount: fc.oneof(
      { weight: 19, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    slice: fc.option(
      fc.record({
        a: fc.double({ min: 0, max: 1.2, noNaN: true }),
        b: fc.double({ min: 0, max: 1.2, noNaN: true }),
      }),
    ),
    chunkRows: fc.option(fc.integer({ min: 1, max: 5 })),
    threads: fc.constantFrom(undefined, 1, 2),
    preset: fc.constantFrom(...PRESET_NAMES),
    ratio: fc.constantFrom(1, 3, 2.5),
    minNeg: fc.constantFrom(0, 0, 2, 50),
    density: fc.constantFrom(0, 0.01, 0.2),
    seed: fc.nat(),
  });

  function npyBytes(loss: Float32Array, shape: number[], dtype: string): Uint8Array {
    if (dtype === '<f4') return encodeNpy(loss, shape);
    if (dtype === '<f8') return encodeNpy(Float64Array.from(loss), shape);
    const header = encodeHeader('>f4', shape);
    const data = new Uint8Array(loss.buffer.slice(loss.byteOffset, loss.byteOffset + loss.byteLength));
    byteswap(data, 4);
    const out = new Uint8Array(header.length + data.length);
    out.set(header);
    out.set(data, header.length);
    return out;
  }

  function countsNpy(counts: number[], shape: number[], dtype: string): Uint8Array {
    const typed: NpyData =
      dtype === '<i8'
        ? BigInt64Array.from(counts, (k) => BigInt(k))
        : dtype === '<i4' || dtype === '>i4'
          ? Int32Array.from(counts)
          : dtype === '|u1'
            ? Uint8Array.from(counts)
            : dtype === '<u2'
              ? Uint16Array.from(counts)
              : Int8Array.from(counts);
    const bytes = encodeNpy(typed, shape);
    if (dtype !== '>i4') return bytes;
    const header = encodeHeader('>i4', shape);
    const data = bytes.slice(header.length);
    byteswap(data, 4);
    const out = new Uint8Array(header.length + data.length);
    out.set(header);
    out.set(data, header.length);
    return out;
  }

  it(
    'hnm mine / rank write exactly the reference, or exit 1/2 with a message and no output',
    async () => {
      let serial = 0;
      await fc.assert(
        fc.asyncProperty(cliCase, async (c) => {
          count('cli');
          const id = `c${serial++}`;
          const { recipe, nan } = c.batch;
          const { rows, cols } = recipe;
          const loss = materialize(recipe);
          const rand = prng(c.seed);
          const lossFile = join(dir, `${id}.loss.npy`);
          writeFileSync(lossFile, npyBytes(loss, [rows, cols], c.dtype));
          const out = join(dir, `${id}.out.npy`);
          const batchWide =
            (c.command === 'positives' || c.command === 'logits') && PRESETS[c.preset].batchWide;
          let start = 0;
          let end = rows;
          const args: string[] = [
            c.command === 'rank' ? 'rank' : 'mine',
            '--loss',
            lossFile,
            '--out',
            out,
            '--quiet',
          ];
          if (c.slice !== null && !batchWide) {
            // Beyond the row count is a usage error (exit 2, test/cli.test.ts): stay within it here,
            // both ends (a and b both above 1 once gave `--rows 7:6` for 6 rows).
            const lo = Math.min(rows, Math.floor(Math.min(c.slice.a, c.slice.b) * rows));
            const hi = Math.min(rows, Math.floor(Math.max(c.slice.a, c.slice.b) * rows));
            args.push('--rows', `${lo}:${hi}`);
            end = Math.min(hi, rows);
            start = Math.min(lo, end);
          }
          if (c.threads !== undefined) args.push('--threads', String(c.threads));
          if (nan === 'largest') args.push('--nan', 'largest');
          let slice = loss.subarray(start * cols, end * cols);
          let expected: Outcome<ArrayLike<number>> = { ok: false, name: 'unset', message: '' };
          /** With --logits: the loss the run computes (and writes to --loss-out when given). */
          let logitsLoss: { file: string | undefined; loss: Float32Array } | undefined;
          if (c.command === 'logits') {
            // The loss comes from logits (B, N, C) and labels (B, N): confidenceLoss is the library's,
            // checked against float64 and PyTorch in test/confidence-loss.test.ts.
            const classes = 1 + Math.floor(rand() * 4);
            const logits = new Float32Array(rows * cols * classes);
            for (let i = 0; i < logits.length; i++) {
              const u = rand();
              logits[i] =
                u < 0.05
                  ? [80, -80, 1e4, -1e4][Math.floor(rand() * 4)]!
                  : u < 0.3
                    ? Math.floor(rand() * 5) - 2
                    : rand() * 10 - 5;
            }
            if (recipe.nan !== 'none') logits[Math.floor(rand() * logits.length)] = Number.NaN;
            const labels = Int32Array.from({ length: rows * cols }, () =>
              classes > 1 && rand() < c.density * 3 ? 1 + Math.floor(rand() * (classes - 1)) : 0,
            );
            const logitsFile = join(dir, `${id}.logits.npy`);
            const labelsFile = join(dir, `${id}.labels.npy`);
            writeFileSync(logitsFile, encodeNpy(logits, [rows, cols, classes]));
            writeFileSync(labelsFile, encodeNpy(labels, [rows, cols]));
            const lossC = confidenceLoss(logits, labels, rows, cols, classes);
            const lossOut = rand() < 0.5 ? join(dir, `${id}.lossout.npy`) : undefined;
            args.splice(1, 2, '--logits', logitsFile, '--labels', labelsFile);
            if (lossOut !== undefined) args.push('--loss-out', lossOut);
            args.push('--preset', c.preset, '--ratio', String(c.ratio), '--min-neg', String(c.minNeg));
            slice = lossC.subarray(start * cols, end * cols);
            logitsLoss = { file: lossOut, loss: slice };
            const posSlice = Uint8Array.from(labels.subarray(start * cols, end * cols), (l) =>
              l > 0 ? 1 : 0,
            );
            expected = settle(() =>
              referenceSsdNegatives({
                loss: slice,
                cols,
                positives: posSlice,
                preset: c.preset,
                ratio: c.ratio,
                minNegatives: c.minNeg,
                nan,
              }),
            );
          }
          /** Expected failure: exit code and a pattern the message must match. */
          let failure: { code: number; message: RegExp } | undefined;
          const nanAt = nan === 'error' ? slice.findIndex((x) => Number.isNaN(x)) : -1;
          const where = `row ${start + Math.floor(nanAt / cols)}, column ${nanAt % cols}\\b`;
          const nanFailure =
            nanAt >= 0
              ? {
                  code: 1,
                  message: new RegExp(
                    c.command === 'logits'
                      ? `the loss computed from the logits is NaN at ${where}`
                      : `loss is NaN at ${where}`,
                  ),
                }
              : undefined;
          if (c.command === 'logits') {
            if (PRESETS[c.preset].wholeRatio && !Number.isInteger(c.ratio)) {
              failure = { code: 2, message: /--ratio must be a whole number/ };
            }
          } else if (c.command === 'num-neg') {
            const k = c.badCount ? -1 : edgeCount(cols, rand, 'any');
            // `--num-neg=-1`: a separate `-1` would be read as an option (also exit 2, another message).
            args.push(`--num-neg=${k}`);
            if (k < 0) failure = { code: 2, message: /--num-neg must be a whole number >= 0/ };
            expected = settle(() => referenceMask(slice, cols, Math.max(k, 0), options(nan)));
          } else if (c.command === 'num-neg-file') {
            const signed = c.countsDtype.includes('i');
            const counts = Array.from({ length: rows }, () =>
              Math.min(edgeCount(cols, rand, 'any'), c.countsDtype === '|i1' ? 127 : 255),
            );
            let badRow = -1;
            if (c.badCount && signed && rows > 0) {
              badRow = Math.floor(rand() * rows);
              counts[badRow] = -1 - Math.floor(rand() * 3);
            }
            const countsFile = join(dir, `${id}.k.npy`);
            writeFileSync(countsFile, countsNpy(counts, c.countsShape2d ? [rows, 1] : [rows], c.countsDtype));
            args.push('--num-neg-file', countsFile);
            const sliceCounts = counts.slice(start, end);
            if (badRow >= start && badRow < end) {
              // The negative count and a NaN: whichever chunk comes first is reported; keep it simple.
              failure = { code: 1, message: new RegExp(`k\\.npy: the count at row ${badRow} is negative`) };
              if (nanAt >= 0)
                failure = { code: 1, message: /the count at row \d+ is negative|loss is NaN at row/ };
            }
            expected = settle(() =>
              referenceMask(
                slice,
                cols,
                sliceCounts.map((k) => Math.max(k, 0)),
                options(nan),
              ),
            );
          } else if (c.command === 'positives') {
            const pos = positivesFor(rows, cols, c.density, c.seed);
            const posFile = join(dir, `${id}.pos.npy`);
            writeFileSync(posFile, encodeNpy(pos, [rows, cols], { bool: rand() < 0.5 }));
            args.push(
              '--positives',
              posFile,
              '--preset',
              c.preset,
              '--ratio',
              String(c.ratio),
              '--min-neg',
              String(c.minNeg),
            );
            if (PRESETS[c.preset].wholeRatio && !Number.isInteger(c.ratio)) {
              failure = { code: 2, message: /--ratio must be a whole number/ };
            }
            expected = settle(() =>
              referenceSsdNegatives({
                loss: slice,
                cols,
                positives: pos.subarray(start * cols, end * cols),
                preset: c.preset,
                ratio: c.ratio,
                minNegatives: c.minNeg,
                nan,
              }),
            );
          } else if (c.command === 'rank') {
            expected = settle(() => referenceRank(slice, cols, options(nan)));
          }
          failure ??= nanFailure;
          const env: Record<string, string> =
            c.chunkRows === null ? {} : { HNM_CHUNK_ROWS: String(c.chunkRows) };
          const run = await hnm(args, { cwd: dir, env });
          // Outputs and temporary files of this case (inputs are `${id}.loss/k/pos/logits/labels.npy`).
          const leftovers = readdirSync(dir)
            .filter(
              (f) => f.startsWith(`${id}.out`) || f.startsWith(`${id}.lossout`) || f.startsWith(`.${id}`),
            )
            .sort();
          const context = `hnm ${args.join(' ')} (${JSON.stringify(env)}): exit ${run.code}\n${run.stderr}`;
          expect(run.stderr, context).not.toMatch(STACK_TRACE);
          if (failure !== undefined) {
            expect(run.code, context).toBe(failure.code);
            expect(run.stderr, context).toMatch(failure.message);
            expect(run.stdout).toBe('');
            expect(leftovers, context).toEqual([]);
            return;
          }
          expect(run.code, context).toBe(0);
          expect(run.stderr, context).toBe('');
          expect(leftovers).toEqual(
            logitsLoss?.file === undefined ? [`${id}.out.npy`] : [`${id}.lossout.npy`, `${id}.out.npy`],
          );
          const written = parseNpy(new Uint8Array(readFileSync(out)), out);
          expect(written.shape).toEqual([end - start, cols]);
          expect(written.dtype.descr).toBe(c.command === 'rank' ? '<i4' : '|b1');
          expectSame({ ok: true, value: written.data as ArrayLike<number> }, expected, context);
          if (logitsLoss?.file !== undefined) {
            const lossOut = parseNpy(new Uint8Array(readFileSync(logitsLoss.file)), logitsLoss.file);
            expect(lossOut.shape).toEqual([end - start, cols]);
            const bits = (f: Float32Array) => new Int32Array(f.buffer, f.byteOffset, f.length);
            expect(firstDifference(bits(lossOut.data as Float32Array), bits(logitsLoss.loss)), context).toBe(
              -1,
            );
          }

          for (const f of readdirSync(dir)) if (f.startsWith(`${id}.`)) rmSync(join(dir, f));
        }),
        fuzzParameters(SHARES.cli, 4),
      );
    },
    timeout(SHARES.cli, 2000),
  );
});

/** Bits of a float32 array, for comparing losses with -0 and NaN payloads intact. */
const bitsCopy = (a: Float32Array) => Int32Array.from(new Int32Array(a.buffer, a.byteOffset, a.length));

/** One call of the aliasing property: the input and the output placed in one buffer as `c` says. */
async function aliasCall(
  c: AliasCase,
  loss0: Float32Array,
  rows: number,
  cols: number,
  k: number,
): Promise<{
  actual: Outcome<ArrayLike<number>>;
  expected: Outcome<ArrayLike<number>>;
  input: string;
  intact: boolean;
}> {
  const n = rows * cols;
  const at = aliasLayout(c, n);
  const buffer = c.shared ? new SharedArrayBuffer(at.total) : new ArrayBuffer(at.total);
  const rankOut = c.entry === 'rank' || c.entry === 'pool.rank';
  const out = rankOut ? new Int32Array(buffer, at.outByte, n) : new Uint8Array(buffer, at.outByte, n);
  const miner = c.inputAt % 2 === 0 ? pooled : auto;
  const positives0 = Uint8Array.from({ length: n }, (_, i) => (((i * 2654435761) >>> 0) % 17 === 0 ? 1 : 0));
  if (c.entry === 'ssd.positives') {
    const positives = new Uint8Array(buffer, at.inputByte, n);
    positives.set(positives0);
    const loss = loss0.slice();
    const actual = settle(() => ssdNegatives({ loss, positives, cols, out: out as Uint8Array }).negatives);
    const expected = settle(() => referenceSsdNegatives({ loss: loss0, positives: positives0, cols }));
    const intact = actual.ok ? true : firstDifference(positives, positives0) < 0;
    return { actual, expected, input: 'options.positives', intact };
  }
  const loss = new Float32Array(buffer, at.inputByte, n);
  new Int32Array(buffer, at.inputByte, n).set(bitsCopy(loss0));
  const before = bitsCopy(loss0);
  let actual: Outcome<ArrayLike<number>>;
  let expected: Outcome<ArrayLike<number>>;
  let input = 'loss';
  switch (c.entry) {
    case 'mask':
      actual = settle(() => hardNegativeMask(loss, cols, k, { out: out as Uint8Array }));
      expected = settle(() => referenceMask(loss0, cols, k));
      break;
    case 'rank':
      actual = settle(() => rankDescending(loss, cols, { out: out as Int32Array }));
      expected = settle(() => referenceRank(loss0, cols));
      break;
    case 'batchWide':
      actual = settle(() => hardNegativeMaskBatchWide(loss, cols, k, { out: out as Uint8Array }));
      expected = settle(() => referenceMask(loss0, n, k));
      break;
    case 'pool.mask':
      actual = await settleAsync(() => miner.mask(loss, cols, k, { out }));
      expected = settle(() => referenceMask(loss0, cols, k));
      break;
    case 'pool.rank':
      actual = await settleAsync(() => miner.rank(loss, cols, { out }));
      expected = settle(() => referenceRank(loss0, cols));
      break;
    case 'pool.maskBatchWide':
      actual = await settleAsync(() => miner.maskBatchWide(loss, cols, k, { out: out as Uint8Array }));
      expected = settle(() => referenceMask(loss0, n, k));
      break;
    default:
      input = 'options.loss';
      actual = settle(
        () => ssdNegatives({ loss, positives: positives0, cols, out: out as Uint8Array }).negatives,
      );
      expected = settle(() => referenceSsdNegatives({ loss: loss0, positives: positives0, cols }));
  }
  // After a rejection nothing was written; after a result the input must be as it was.
  const intact = firstDifference(bitsCopy(loss), before) < 0;
  return { actual, expected, input, intact };
}

describe('hostile arguments', () => {
  it(
    'an output overlapping an input is a RangeError naming both (never a hang or a wrong mask); next to it, the exact result',
    async () => {
      await fc.assert(
        fc.asyncProperty(lossRecipe(), aliasCase(), fc.nat({ max: 50 }), async (recipe, c, k) => {
          count('aliasing');
          const loss0 = materialize(recipe);
          const { actual, expected, input, intact } = await aliasCall(c, loss0, recipe.rows, recipe.cols, k);
          const { overlap } = aliasLayout(c, recipe.rows * recipe.cols);
          expect(intact).toBe(true);
          if (overlap) {
            expect(actual).toMatchObject({ ok: false, name: 'RangeError' });
            expect(!actual.ok && actual.message).toMatch(
              new RegExp(`^\`options\\.out\` overlaps \`${input.replace('.', '\\.')}\``),
            );
          } else {
            expectSame(actual, expected, c.entry);
          }
        }),
        fuzzParameters(SHARES.aliasing),
      );
    },
    timeout(SHARES.aliasing, 30),
  );

  /**
   * A call whose option or count getters mutate the loss, detach the loss or the output: the call
   * must end in a clean `TypeError`/`RangeError` naming an argument, or in the exact result for the
   * loss as the getters left it. The pool is called with mutating getters only (snapshotting the
   * arguments of a pooled call before it is registered is issue 16 item 3).
   */
  it(
    'getters that mutate or detach give a clean error or the exact result, never a hang or a wrong one',
    async () => {
      await fc.assert(
        fc.asyncProperty(lossRecipe(), getterCase(), async (recipe, g: GetterCase) => {
          count('getters');
          const { rows, cols } = recipe;
          const n = rows * cols;
          const loss = materialize(recipe).slice();
          const rank = g.entry === 'rank';
          const out = rank ? new Int32Array(n) : new Uint8Array(n);
          const effect: GetterCase['effect'] =
            g.entry === 'pool.mask' && g.effect !== 'none' ? 'mutate' : g.effect;
          let fired = false;
          const act = (where: GetterCase['where']) => {
            if (where !== g.where) return;
            fired = true;
            if (effect === 'mutate') loss[g.at % n] = g.value;
            else if (effect === 'detach-loss') detach(loss.buffer);
            else if (effect === 'detach-out') detach(out.buffer);
          };
          const counts = Array.from({ length: rows }, (_, r) => (g.at + r * 7) % (cols + 2));
          const numNeg: ArrayLike<number> = { length: rows };
          Object.defineProperty(numNeg, 'length', {
            get: () => {
              act('numNeg.length');
              return rows;
            },
          });
          for (let r = 0; r < rows; r++) {
            Object.defineProperty(numNeg, r, {
              get: () => {
                act('numNeg[r]');
                return counts[r];
              },
            });
          }
          const withOut = g.entry !== 'reference';
          const options = {
            get nan() {
              act('options.nan');
              return 'error' as const;
            },
            ...(withOut
              ? {
                  get out() {
                    act('options.out');
                    return out;
                  },
                }
              : {}),
          };
          const k = g.at % (n + 2);
          let actual: Outcome<ArrayLike<number>>;
          if (g.entry === 'mask')
            actual = settle(() => hardNegativeMask(loss, cols, numNeg, options as never));
          else if (g.entry === 'rank') actual = settle(() => rankDescending(loss, cols, options as never));
          else if (g.entry === 'batchWide') {
            actual = settle(() => hardNegativeMaskBatchWide(loss, cols, k, options as never));
          } else if (g.entry === 'reference')
            actual = settle(() => referenceMask(loss, cols, numNeg, options));
          else actual = await settleAsync(() => pooled.mask(loss, cols, numNeg, options as never));
          const lossGone = fired && effect === 'detach-loss';
          const outGone = fired && effect === 'detach-out' && withOut;
          if (!actual.ok) {
            expect(['TypeError', 'RangeError']).toContain(actual.name);
            expect(actual.message).toMatch(/^`[A-Za-z.[\]0-9]+`|^loss is NaN/);
            // Only a detached or a mutated argument may turn a valid call into an error.
            if (!fired || effect === 'none')
              throw new Error(`${g.entry}: unexpected ${actual.name}: ${actual.message}`);
            return;
          }
          expect(lossGone || outGone).toBe(false);
          let expected: Outcome<ArrayLike<number>>;
          if (rank) expected = settle(() => referenceRank(loss, cols));
          else if (g.entry === 'batchWide') expected = settle(() => referenceMask(loss, n, k));
          else expected = settle(() => referenceMask(loss, cols, counts));
          expectSame(actual, expected, g.entry);
        }),
        fuzzParameters(SHARES.getters),
      );
      expect(pooled.stats.active).toBe(0);
    },
    timeout(SHARES.getters, 30),
  );
});
