import { Piscina } from 'piscina';
import { SharedStaging } from '../pool/shared-buffers.ts';
import { defaultWorker } from '../pool/worker-location.ts';
import type { TfodRowsOutput } from './tfod.ts';
import { finishTfod, mineTfodRows, tfodOutput } from './tfod.ts';
import type { TfodOptions, TfodPlan, TfodResult, TfodRowsInput } from './tfod-options.ts';
import { planTfod } from './tfod-options.ts';

/**
 * The `'tf_object_detection'` preset on worker threads. The NMS of one image is a sequential greedy
 * loop, so the parallelism is over images: one task per thread, each claiming images one at a time
 * from a counter in the arena (as the miner's mask tasks claim rows) and mining them with the same
 * row kernel as the synchronous call (`mineTfodRows`), so the result is the same bit for bit (the
 * loss sums are added per row, then over rows in order, on every path) and a thread that runs slower
 * simply mines fewer images.
 *
 * The ranges run on a small Piscina pool of its own (`workers/nms-worker.ts`), one per thread count,
 * started on first use; its threads exit after two idle seconds and never keep the process alive.
 * (The miner's pool runs the mask kernels' task protocol; this preset needs none of it, and keeping it
 * apart leaves the miner's workers unchanged.) Inputs are copied into a shared arena owned by this
 * module and reused call after call, and the results copied out: the workers never hold handles to
 * callers' buffers, so nothing piles up in their heaps however many calls run.
 */

/** What the preset's pooled call needs of a `HardNegativeMiner`: its public thread count and state. */
export interface TfodPoolHost {
  readonly threads: number;
  readonly closed: boolean;
}

/** Options of the pooled call: the preset's, plus an abort signal. */
export type TfodPooledOptions = TfodOptions & { signal?: AbortSignal };

/** One task: claims images `0 .. rows - 1` one at a time through `claims[0]` (arena views). */
export interface TfodTask {
  readonly input: TfodRowsInput;
  readonly output: TfodRowsOutput;
  /** The call's claim counter: the next image to mine (`Atomics.add` by 1). */
  readonly claims: Int32Array;
  readonly rows: number;
}

/** `dist/workers/nms-worker.js` from the compiled module; the `.ts` entry (through tsx) from source. */
const WORKER = defaultWorker('nms-worker');

interface PoolEntry {
  readonly pool: Piscina;
  /** Arenas not in use by a call; a call that did not end normally never returns its arena. */
  readonly free: SharedStaging;
}

const pools = new Map<number, PoolEntry>();

/** Arenas kept per pool for the next calls (more are in use only while calls overlap). */
const ARENAS = 4;

function poolFor(threads: number): PoolEntry {
  let entry = pools.get(threads);
  if (entry === undefined) {
    const { execArgv } = WORKER;
    const pool = new Piscina({
      filename: WORKER.filename,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: 2000,
      ...(execArgv === undefined ? {} : { execArgv }),
    });
    // Failures reach the calls through run(); without a listener the 'error' event would throw.
    pool.on('error', () => {});
    entry = { pool, free: new SharedStaging(ARENAS) };
    pools.set(threads, entry);
  }
  return entry;
}

/** Byte layout of a plan's inputs and outputs in one arena (8-byte aligned regions). */
function layout(plan: TfodPlan): { size: number; place: (arena: SharedArrayBuffer) => TfodTaskViews } {
  const n = plan.rows * plan.cols;
  const rows = plan.rows;
  const regions: number[] = [];
  let size = 0;
  const take = (bytes: number): number => {
    const at = size;
    size += Math.ceil(bytes / 8) * 8;
    regions.push(at);
    return at;
  };
  const at = {
    claims: take(8),
    loss: take(4 * n),
    loc: take(plan.locLoss === undefined ? 0 : 4 * n),
    boxes: take(16 * n),
    pos: take(n),
    ign: take(plan.ignored === undefined ? 0 : n),
    selected: take(n),
    posRow: take(4 * rows),
    negRow: take(4 * rows),
    cls: take(8 * rows),
    loc2: take(8 * rows),
  };
  const place = (arena: SharedArrayBuffer): TfodTaskViews => {
    const copyF32 = (offset: number, length: number, from: Float32Array): Float32Array => {
      const view = new Float32Array(arena, offset, length);
      view.set(from);
      return view;
    };
    const copyU8 = (offset: number, length: number, from: Uint8Array): Uint8Array => {
      const view = new Uint8Array(arena, offset, length);
      view.set(from);
      return view;
    };
    const loss = copyF32(at.loss, n, plan.loss);
    const locLoss = plan.locLoss && copyF32(at.loc, n, plan.locLoss);
    const boxes = copyF32(at.boxes, 4 * n, plan.boxes);
    const positives = copyU8(at.pos, n, plan.positives);
    const ignored = plan.ignored && copyU8(at.ign, n, plan.ignored);
    // The plan's scalar fields as they are, its arrays replaced by their views in the arena (the
    // caller's `out` never travels to a worker).
    const { rows: _rows, out: _out, ...fields } = plan;
    const claims = new Int32Array(arena, at.claims, 1);
    Atomics.store(claims, 0, 0);
    return {
      claims,
      input: { ...fields, loss, locLoss, boxes, positives, ignored },
      output: {
        selected: new Uint8Array(arena, at.selected, n),
        positivesPerRow: new Int32Array(arena, at.posRow, rows),
        negativesPerRow: new Int32Array(arena, at.negRow, rows),
        clsSums: new Float64Array(arena, at.cls, rows),
        locSums: new Float64Array(arena, at.loc2, rows),
      },
    };
  };
  return { size, place };
}

interface TfodTaskViews {
  readonly claims: Int32Array;
  readonly input: TfodRowsInput;
  readonly output: TfodRowsOutput;
}

function abortError(signal: AbortSignal): DOMException {
  return new DOMException('This operation was aborted', { name: 'AbortError', cause: signal.reason });
}

/**
 * `ssdNegatives({ preset: 'tf_object_detection', ... })` with the images mined on worker threads
 * (`host.threads` of them, one task each, claiming images); the same result, bit for bit. A batch
 * of one image runs on the calling thread. Cost: the synchronous call's work spread over the
 * threads, plus one copy of the inputs into the shared arena and of the results out of it. `selected` is `options.out` when given, else a fresh
 * array.
 *
 * Rejects (never throws) with the synchronous call's errors, an `AbortError` (`options.signal`), a
 * closed miner, or a worker failure.
 */
export async function tfodNegativesPooled(
  host: TfodPoolHost,
  options: TfodPooledOptions,
): Promise<TfodResult> {
  if (host.closed) throw new Error('this HardNegativeMiner is closed; create a new one');
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('`options.signal` must be an AbortSignal');
  }
  if (signal?.aborted) throw abortError(signal);
  const plan = planTfod(options);
  if (plan.rows < 2 || host.threads < 2) {
    const output = tfodOutput(plan);
    mineTfodRows(plan, 0, plan.rows, output);
    return finishTfod(plan, output);
  }
  const entry = poolFor(host.threads);
  const { size, place } = layout(plan);
  const arena = entry.free.acquire(size);
  const views = place(arena);
  const task: TfodTask = { ...views, rows: plan.rows };
  const tasks: Promise<unknown>[] = [];
  for (let k = Math.min(plan.rows, host.threads); k > 0; k--) {
    tasks.push(entry.pool.run(task, signal === undefined ? {} : { signal }));
  }
  try {
    await Promise.all(tasks);
  } catch (e) {
    // The arena may still be written by a task of this call: it is never reused.
    await Promise.allSettled(tasks);
    throw signal?.aborted ? abortError(signal) : e;
  }
  const out = views.output;
  const selected = plan.out ?? new Uint8Array(out.selected.length);
  selected.set(out.selected);
  const result = finishTfod(plan, {
    selected,
    positivesPerRow: out.positivesPerRow.slice(),
    negativesPerRow: out.negativesPerRow.slice(),
    clsSums: out.clsSums.slice(),
    locSums: out.locSums.slice(),
  });
  entry.free.release(arena);
  return result;
}
