import { Bench } from 'tinybench';
import { hardNegativeMask } from '../mask.ts';
import { referenceMask } from '../reference.ts';
import { errorText, typedArrayKind } from '../validate.ts';
import { certifyMask, compareMask } from './check.ts';
import type { Batch, Dist } from './data.ts';
import { makeBatch } from './data.ts';
import { floorNsPerElement } from './floor.ts';
import type { Implementation } from './implementations.ts';
import { ReportedFailure } from './implementations.ts';

/** What {@link runSuite} measures. */
export interface SuiteOptions {
  /** Batch sizes (rows), each run on a fresh deterministic batch. */
  readonly rows: readonly number[];
  readonly cols: number;
  readonly dist: Dist;
  /** tinybench time budget per task, in milliseconds. */
  readonly timeMs: number;
  /** Seed of the data generator. */
  readonly dataSeed: number;
  /** Implementations in display order; names must be unique. */
  readonly implementations: readonly Implementation[];
  /** Storage of the loss batches (shared memory, so the pool reads them without a copy). */
  readonly alloc?: (rows: number, cols: number) => Float32Array;
  /** How long the checking call of an async implementation may take before it is reported as hung (default 120 s). */
  readonly checkTimeoutMs?: number;
  /** Whether to time the floor pass on each batch (`x_floor`; default true). */
  readonly floor?: boolean;
  /** Called before each implementation is checked and timed on a batch (progress display). */
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** One implementation on one batch size. Times are tinybench's, per call of the implementation. */
export interface BenchResult {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly threads: number;
  readonly builtin: boolean;
  /** `'timed'`, or `'failed'`: threw, returned the wrong type or length, or changed its input. */
  readonly status: 'timed' | 'failed';
  /** True when every checked result equalled the exact mask (before timing and after). */
  readonly exact: boolean;
  /** Why it is not exact or failed, naming the first wrong row and column. */
  readonly error?: string;
  readonly median_ms: number | null;
  readonly mean_ms: number | null;
  readonly p99_ms: number | null;
  /** Relative margin of error of the mean, in percent. */
  readonly rme_percent: number | null;
  readonly samples: number;
  /** `median_ms` per loss element, in nanoseconds. */
  readonly ns_per_element: number | null;
  /** `seed`'s ns per element divided by this one's (null when there is no seed figure). */
  speedup_vs_seed: number | null;
  /** True when the seed was not timed at this size and its figure comes from the largest size it was. */
  speedup_estimated: boolean;
  /** The fastest exact implementation on this batch size. */
  best: boolean;
  /**
   * ns per element of the floor pass (one thread) on this batch, timed in the same run (null where
   * the engine has no WebAssembly SIMD or the floor was not timed); see floor.ts.
   */
  floor_ns_per_element: number | null;
  /** `ns_per_element / floor_ns_per_element`: the distance to the 1-thread memory floor. */
  x_floor: number | null;
  /** tinybench's own table row for this task (formatted strings), for the text report. */
  readonly tinybench?: Readonly<Record<string, number | string | undefined>>;
}

/** An implementation not run on a batch size, and why (the slow seed above its size limit). */
export interface Skipped {
  readonly name: string;
  readonly rows: number;
  readonly reason: string;
}

/** Everything {@link runSuite} found. */
export interface SuiteResult {
  readonly results: BenchResult[];
  readonly skipped: Skipped[];
  /** Where the exact mask of each batch came from. */
  readonly oracle: string;
  /** The implementations' notes, each once. */
  readonly notes: string[];
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Whether two float32 arrays hold the same bits (so `-0` vs `+0` counts as a change). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Int32Array(a.buffer, a.byteOffset, a.length);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameInts(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The exact mask of a batch: the kernel's result once certified against the definition
 * ({@link certifyMask}); should the kernel ever be wrong, the literal double sort instead (then the
 * kernel will show up as not exact).
 */
export function exactMask(batch: Batch): { mask: Uint8Array; source: string } {
  const mask = hardNegativeMask(batch.loss, batch.cols, batch.numNeg);
  if (certifyMask(batch.loss, batch.cols, batch.numNeg, mask) < 0)
    return { mask, source: 'kernel, certified' };
  return { mask: referenceMask(batch.loss, batch.cols, batch.numNeg), source: 'referenceMask' };
}

function failed(impl: Implementation, batch: Batch, error: string): BenchResult {
  return {
    name: impl.name,
    rows: batch.rows,
    cols: batch.cols,
    threads: impl.threads,
    builtin: impl.builtin,
    status: 'failed',
    exact: false,
    error,
    median_ms: null,
    mean_ms: null,
    p99_ms: null,
    rme_percent: null,
    samples: 0,
    ns_per_element: null,
    speedup_vs_seed: null,
    speedup_estimated: false,
    best: false,
    floor_ns_per_element: null,
    x_floor: null,
  };
}

/** Default of {@link SuiteOptions.checkTimeoutMs}. */
const CHECK_TIMEOUT_MS = 120_000;

/** `promise`, or a rejection naming the delay if it has not settled after `ms` (the timer is cleared). */
function settleWithin<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ReportedFailure(`its promise did not settle within ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

/** Minimum samples per task: few, because the seed takes a tenth of a second or more per call. */
const MIN_ITERATIONS = 5;

/**
 * Checks `impl` on `batch` against `expected`, then times it with tinybench. Anything the
 * implementation does wrong (throw, wrong type or length, changing its input, a wrong mask) ends up
 * in the result; nothing it does stops the suite.
 */
async function measure(
  impl: Implementation,
  batch: Batch,
  expected: Uint8Array,
  pristine: Float32Array,
  timeMs: number,
  checkTimeoutMs: number,
): Promise<BenchResult> {
  const { loss, cols, numNeg } = batch;
  const counts = numNeg.slice();
  const restore = () => {
    loss.set(pristine);
    numNeg.set(counts);
  };
  // The first call is the check; it also tells a synchronous function from an async one.
  let first: unknown;
  let isAsync = impl.async ?? false;
  try {
    first = impl.run(loss, cols, numNeg);
    if (isThenable(first)) {
      isAsync = true;
      first = await settleWithin(first, checkTimeoutMs);
    }
  } catch (error) {
    restore();
    return failed(
      impl,
      batch,
      error instanceof ReportedFailure ? error.message : `threw: ${errorText(error)}`,
    );
  }
  if (!sameBits(loss, pristine) || !sameInts(numNeg, counts)) {
    restore();
    return failed(impl, batch, 'changed its input (`loss` or `numNeg`); implementations must only read them');
  }
  const check = compareMask(first, expected, cols);
  if (
    !check.ok &&
    !(typedArrayKind(first) === 'Uint8Array' && (first as Uint8Array).length === expected.length)
  ) {
    return failed(impl, batch, check.reason);
  }
  let exact = check.ok;
  let error = check.ok ? undefined : check.reason;

  let last: unknown;
  const bench = new Bench({
    time: timeMs,
    iterations: MIN_ITERATIONS,
    warmupTime: Math.min(250, timeMs),
    warmupIterations: 2,
    throws: false,
  });
  const run = impl.run;
  if (isAsync) {
    bench.add(
      impl.name,
      async () => {
        last = await run(loss, cols, numNeg);
      },
      { async: true },
    );
  } else {
    bench.add(
      impl.name,
      () => {
        last = run(loss, cols, numNeg);
      },
      { async: false },
    );
  }
  await bench.run();
  const task = bench.tasks[0]!;
  const result = task.result;
  if (!sameBits(loss, pristine) || !sameInts(numNeg, counts)) {
    restore();
    return failed(impl, batch, 'changed its input (`loss` or `numNeg`) while being timed');
  }
  if (result.state === 'errored') {
    const why = result.error instanceof ReportedFailure ? '' : 'threw ';
    return failed(impl, batch, `${why}while being timed: ${errorText(result.error)}`);
  }
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
    return failed(impl, batch, `tinybench ended in state '${result.state}'`);
  }
  // A result that was right on the first call must stay right.
  if (exact) {
    const again = compareMask(last, expected, cols);
    if (!again.ok) {
      exact = false;
      error = `after timing: ${again.reason}`;
    }
  }
  const latency = result.latency;
  const elements = batch.rows * cols;
  return {
    name: impl.name,
    rows: batch.rows,
    cols,
    threads: impl.threads,
    builtin: impl.builtin,
    status: 'timed',
    exact,
    ...(error === undefined ? {} : { error }),
    median_ms: latency.p50,
    mean_ms: latency.mean,
    p99_ms: latency.p99,
    rme_percent: latency.rme,
    samples: latency.samplesCount,
    ns_per_element: (latency.p50 * 1e6) / elements,
    speedup_vs_seed: null,
    speedup_estimated: false,
    best: false,
    floor_ns_per_element: null,
    x_floor: null,
    tinybench: bench.table()[0] ?? {},
  };
}

/**
 * Fills `speedup_vs_seed` (against the seed on the same batch size, or, where the seed was not
 * timed, its ns per element at the largest size it was: the seed's cost per element does not depend
 * on the row count) and marks the fastest exact implementation of each size.
 */
export function rankResults(results: BenchResult[]): void {
  const seedNs = new Map<number, number>();
  let largest: { rows: number; ns: number } | undefined;
  for (const r of results) {
    if (r.name !== 'seed' || !r.builtin || !r.exact || r.ns_per_element === null) continue;
    seedNs.set(r.rows, r.ns_per_element);
    if (largest === undefined || r.rows > largest.rows) largest = { rows: r.rows, ns: r.ns_per_element };
  }
  const bestOf = new Map<number, BenchResult>();
  for (const r of results) {
    if (r.ns_per_element === null) continue;
    const same = seedNs.get(r.rows);
    const base = same ?? largest?.ns;
    if (base !== undefined) {
      r.speedup_vs_seed = base / r.ns_per_element;
      r.speedup_estimated = same === undefined;
    }
    if (!r.exact) continue;
    const best = bestOf.get(r.rows);
    if (best === undefined || r.ns_per_element < best.ns_per_element!) bestOf.set(r.rows, r);
  }
  for (const r of bestOf.values()) r.best = true;
}

/**
 * Runs the suite: sets every implementation up (starting and warming the pool: never timed), then
 * for each batch size builds the deterministic batch, computes its exact mask, and checks then
 * times each implementation on it. Implementations whose setup fails are reported on every size.
 * Always closes what it set up. Cost: about `timeMs` plus warm-up per implementation and size.
 */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const { rows: sizes, cols, dist, timeMs, dataSeed, implementations } = options;
  const checkTimeout = options.checkTimeoutMs ?? CHECK_TIMEOUT_MS;
  const results: BenchResult[] = [];
  const skipped: Skipped[] = [];
  const setupError = new Map<string, string>();
  const oracles = new Set<string>();
  const total = sizes.length * implementations.length;
  let done = 0;
  try {
    for (const impl of implementations) {
      options.onProgress?.(done, total, `setting up ${impl.name}`);
      try {
        await impl.setup?.(cols);
      } catch (error) {
        setupError.set(impl.name, `setup failed: ${errorText(error)}`);
      }
    }
    for (const rows of sizes) {
      const batch = makeBatch(dist, rows, cols, dataSeed, options.alloc);
      const pristine = batch.loss.slice();
      const { mask: expected, source } = exactMask(batch);
      oracles.add(source);
      const floor = options.floor === false ? null : await floorNsPerElement(batch.loss, timeMs);
      const first = results.length;
      for (const impl of implementations) {
        options.onProgress?.(done, total, `${impl.name}, ${rows} x ${cols}`);
        done++;
        const failure = setupError.get(impl.name);
        if (failure !== undefined) {
          results.push(failed(impl, batch, failure));
        } else if (rows * cols > impl.maxElements) {
          skipped.push({
            name: impl.name,
            rows,
            reason: `not timed above ${impl.maxElements} elements per batch (${rows} x ${cols} = ${rows * cols})`,
          });
        } else {
          results.push(await measure(impl, batch, expected, pristine, timeMs, checkTimeout));
        }
      }
      for (let i = first; i < results.length; i++) {
        const r = results[i]!;
        r.floor_ns_per_element = floor;
        r.x_floor = floor === null || r.ns_per_element === null ? null : r.ns_per_element / floor;
      }
    }
  } finally {
    for (const impl of implementations) {
      if (setupError.has(impl.name)) continue;
      await impl.close?.().catch(() => {});
    }
  }
  rankResults(results);
  const notes = [...new Set(implementations.flatMap((i) => (i.note === undefined ? [] : [i.note])))];
  return { results, skipped, oracle: [...oracles].join(' / '), notes };
}
