import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { checkBatchCount, edgeThreshold, hardNegativeMaskBatchWide } from '../batch-wide.ts';
import { levelShift, stepLevel } from '../kernel/batch-wide.ts';
import { rankRows } from '../kernel/rank-rows.ts';
import type { KernelScratch } from '../kernel/scratch.ts';
import { scratchFor } from '../kernel/scratch.ts';
import { selectRows } from '../kernel/select-rows.ts';
import type { SsdNegativesResult } from '../ssd/plan.ts';
import type { SsdNegativesPooledOptions } from '../ssd/pooled.ts';
import { ssdNegativesPooled } from '../ssd/pooled.ts';
import type { NanOptions } from '../validate.ts';
import {
  bitsOf,
  checkCols,
  checkLoss,
  checkNan,
  checkOut,
  describe,
  errorText,
  nanError,
  toCounts,
} from '../validate.ts';
import { callAffinityBalancer, tagCall } from './balancer.ts';
import { INLINE_BELOW, planRanges, TASKS_PER_THREAD } from './plan.ts';
import type { MineTask, TestFaultOption } from './protocol.ts';
import {
  kTestFault,
  RESULT_CANCELLED,
  TASK_HISTOGRAM,
  TASK_MASK,
  TASK_RANK,
  TASK_WRITE,
} from './protocol.ts';
import type { CallLayout } from './shared-buffers.ts';
import {
  CTRL_CANCEL,
  CTRL_WORDS,
  callLayout,
  HIST_WORDS,
  isShared,
  SharedStaging,
} from './shared-buffers.ts';

/** Options of {@link HardNegativeMiner}. */
export interface MinerOptions {
  /**
   * Worker threads, all started together on the first call that needs them and kept until
   * `close()`. Default: `os.availableParallelism()` (one per CPU; more only time-slices the same
   * cores, measured slower here). A positive integer.
   */
  threads?: number;
  /**
   * Calls with fewer elements (`rows * cols`) than this run on the calling thread, where a pool
   * round trip (~40-60 us) would cost more than the work. Default 262144 (measured, see plan.ts); 0
   * sends every call to the pool. An integer >= 0.
   */
  inlineBelow?: number;
}

/** Options of the {@link HardNegativeMiner} methods. */
export interface MineOptions extends NanOptions {
  /** Cancels the call: it rejects with a `DOMException` named `'AbortError'`, its pending tasks are dropped. */
  signal?: AbortSignal;
  /**
   * Where to write the result, `rows * cols` elements: a `Uint8Array` for `mask` and
   * `maskBatchWide`, an `Int32Array` for `rank` (checked as the synchronous API checks it); the call
   * resolves to it. Backed by a `SharedArrayBuffer` (e.g. reused call after call), the workers write
   * into it directly; otherwise the result is staged in shared memory and copied into it at the end.
   * After a rejection its contents are unspecified: until the call's tasks notice the cancellation
   * (a fraction of a millisecond), workers may still write to a shared `out`.
   */
  out?: Uint8Array | Int32Array;
}

/** Per-call bookkeeping of a dispatched call. */
interface Call {
  /** Numbers the call for the load balancer (see balancer.ts). */
  readonly id: number;
  readonly ctx: SharedArrayBuffer;
  readonly ctrl: Int32Array;
  /** Tasks posted and not yet answered. */
  pending: number;
  /** A task failed abnormally (its worker may still touch `ctx`): the buffer is dropped, never reused. */
  broken: boolean;
  /** `ctx` went back to the staging free list. */
  released: boolean;
  /** The call's promise has settled: late answers are ignored. */
  settled: boolean;
  /** `stop` was called: post no more tasks, abandon the remaining rounds. */
  halted: boolean;
  /** The test fault has been attached to a task. */
  faultDone: boolean;
  /** Rejects the call now (abort, close, a failed task) and raises the cancel flag. */
  stop: (reason: unknown) => void;
  readonly stopped: Promise<never>;
  readonly signal: AbortSignal | undefined;
  readonly fault: TestFaultOption | undefined;
}

const fromSource = import.meta.url.endsWith('.ts');

/**
 * The worker entry, next to the coordinator's own module: `dist/workers/mine-worker.js` from the
 * compiled `dist/src/pool/miner.js`; `workers/mine-worker.ts` when this module runs from source
 * (vitest, tsx), in which case the workers load TypeScript through tsx (a devDependency).
 */
const WORKER_URL = new URL(
  fromSource ? '../../workers/mine-worker.ts' : '../../workers/mine-worker.js',
  import.meta.url,
).href;

function workerExecArgv(): string[] | undefined {
  if (!fromSource) return undefined;
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return ['--import', pathToFileURL(tsx).href];
}

function closedError(): Error {
  return new Error('this HardNegativeMiner is closed; create a new one');
}

function abortError(signal: AbortSignal): DOMException {
  return new DOMException('This operation was aborted', { name: 'AbortError', cause: signal.reason });
}

function workerError(cause: unknown): Error {
  return new Error(`hard negative mining failed in a worker thread: ${errorText(cause)}`, { cause });
}

function checkSignal(options: MineOptions | undefined): AbortSignal | undefined {
  const signal = options?.signal;
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`\`options.signal\` must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

function testFaultOf(options: MineOptions | undefined): TestFaultOption | undefined {
  if (options === undefined) return undefined;
  return (options as { [kTestFault]?: TestFaultOption })[kTestFault];
}

/** Shared buffers below this size are not worth tracking for the workers' GC (see mine-worker.ts). */
const TRACKED_BYTES = 1 << 16;

/** Whether the caller's `out` needs a shared staging area (it is given, valid-looking and not shared). */
function stagedOutput(out: unknown): boolean {
  return ArrayBuffer.isView(out) && !isShared(out);
}

/** A fresh result array in shared memory, owned by the caller. */
function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/**
 * Hard negative mining over a pool of worker threads (Piscina) that share memory with the caller.
 *
 * Each call is validated on the calling thread (same errors as the synchronous API, as rejections),
 * split into contiguous row ranges, a few per thread, and every worker runs the same kernel as
 * {@link hardNegativeMask} on its rows, reading the losses and writing the result in
 * `SharedArrayBuffer`s: results are bit-identical to the synchronous functions, and nothing is
 * copied except a non-shared input (once, into a recycled staging buffer; use {@link allocLoss} to
 * avoid even that). Results are fresh `SharedArrayBuffer`-backed arrays owned by the caller, or the
 * caller's `options.out` (a reused shared `out` also saves the first-touch cost of fresh memory,
 * about 0.2-0.7 ns per element measured). Calls with fewer than `inlineBelow` elements run on the
 * calling thread.
 *
 * The threads start together on the first call that needs them (so constructing a miner is cheap
 * and a miner used only for small calls starts none) and stay until {@link close}; idle threads do
 * not keep the process alive. Many calls may run at once; tasks queue in the pool.
 *
 * Faults: an error in a worker rejects that call only; a worker thread that dies rejects the calls it
 * was running and is replaced, so later calls succeed. An aborted call rejects at once and its tasks
 * still queued or running stop at their next check (within about 2^18 elements).
 *
 * @example
 * ```ts
 * await using miner = new HardNegativeMiner();
 * const loss = allocLoss(rows, 8732); // fill it
 * const mask = await miner.mask(loss, 8732, numNeg);
 * ```
 */
export class HardNegativeMiner {
  /** Worker threads of the pool. */
  readonly threads: number;
  /** Calls below this many elements run inline. */
  readonly inlineBelow: number;
  #pool: Piscina | undefined;
  #closing: Promise<void> | undefined;
  readonly #staging = new SharedStaging();
  readonly #active = new Set<Call>();
  /** Calling-thread scratch, one per kernel (they must not share one, see mine-worker.ts). */
  #maskScratch: KernelScratch | undefined;
  #rankScratch: KernelScratch | undefined;
  #counts = new Int32Array(16);
  readonly #bufferIds = new WeakMap<SharedArrayBuffer, number>();
  #nextBufferId = 1;
  #cancelledTasks = 0;
  #queuedTasks = 0;
  #nextCallId = 1;
  readonly #signalCalls = new WeakMap<AbortSignal, { calls: Set<Call>; onAbort: () => void }>();

  /**
   * Validates the options; starts no thread.
   * @throws {TypeError} `options` not an object, or an option of the wrong type.
   * @throws {RangeError} `threads` not a positive integer, `inlineBelow` not an integer >= 0.
   */
  constructor(options?: MinerOptions) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`\`options\` must be an object, got ${describe(options)}`);
    }
    const threads = options?.threads ?? availableParallelism();
    if (typeof threads !== 'number')
      throw new TypeError(`\`threads\` must be a number, got ${describe(threads)}`);
    if (!Number.isSafeInteger(threads) || threads < 1) {
      throw new RangeError(`\`threads\` must be a positive integer, got ${threads}`);
    }
    const maxThreads = 4 * availableParallelism(); // more only time-slices the cores, at ~5 MB a thread
    if (threads > maxThreads) {
      throw new RangeError(
        `\`threads\` must be at most ${maxThreads} (4 × os.availableParallelism()), got ${threads}`,
      );
    }
    const inlineBelow = options?.inlineBelow ?? INLINE_BELOW;
    if (typeof inlineBelow !== 'number') {
      throw new TypeError(`\`inlineBelow\` must be a number, got ${describe(inlineBelow)}`);
    }
    if (!Number.isSafeInteger(inlineBelow) || inlineBelow < 0) {
      throw new RangeError(`\`inlineBelow\` must be an integer >= 0, got ${inlineBelow}`);
    }
    this.threads = threads;
    this.inlineBelow = inlineBelow;
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Diagnostics: calls in flight, staging buffers kept for reuse, how many tasks found their call
   * cancelled and stopped early (aborted or failed calls), and how many were posted to a thread
   * already running a task of the same call, to wait in its queue (see balancer.ts).
   */
  get stats(): {
    active: number;
    stagingBuffers: number;
    stagingBytes: number;
    cancelledTasks: number;
    queuedTasks: number;
  } {
    const { buffers, bytes } = this.#staging.stats;
    return {
      active: this.#active.size,
      stagingBuffers: buffers,
      stagingBytes: bytes,
      cancelledTasks: this.#cancelledTasks,
      queuedTasks: this.#queuedTasks,
    };
  }

  /**
   * {@link hardNegativeMask} on the pool: resolves to the `(rows, cols)` mask (1 = hard negative),
   * bit-identical to the synchronous result. Cost: the kernel's ~1.1-1.5 ns per element divided
   * over the threads (0.77 ns on two threads at B = 1024 with a reused `out`), plus one round trip
   * per call (~60 us; more when the calling thread sat idle); a non-shared `loss` is copied once
   * first.
   *
   * Rejects (never throws) with the synchronous API's `TypeError`/`RangeError` for bad arguments or
   * a NaN loss (naming the first NaN's row and column in the whole batch), an `AbortError`, the
   * closed error, or an error naming a worker failure.
   */
  mask(
    loss: Float32Array,
    cols: number,
    numNeg: number | ArrayLike<number>,
    options?: MineOptions,
  ): Promise<Uint8Array> {
    try {
      return this.#mask(loss, cols, numNeg, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@link rankDescending} on the pool: resolves to the stable descending rank of every element in
   * its row, identical to the synchronous result, in a shared `Int32Array`. Same rejections as
   * {@link mask}.
   */
  rank(loss: Float32Array, cols: number, options?: MineOptions): Promise<Int32Array> {
    try {
      return this.#rank(loss, cols, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@link hardNegativeMaskBatchWide} on the pool: one count `k` over the whole batch, ties by flat
   * index. Two phases: the workers histogram their row ranges (one to three rounds of 11-bit digits,
   * as far as the threshold needs), the coordinator merges the histograms and fixes the threshold
   * and each range's share of the ties (in flat-index order), then the workers write the mask.
   * Cost: two to four passes over the batch divided over the threads, plus a round trip per phase.
   * Same rejections as {@link mask}.
   */
  maskBatchWide(loss: Float32Array, cols: number, k: number, options?: MineOptions): Promise<Uint8Array> {
    try {
      return this.#maskBatchWide(loss, cols, k, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `ssdNegatives` (the SSD framework presets) with the mining on this pool; the same result, bit for
   * bit. Preparation and the loss sum run on the calling thread, the select kernel in the workers;
   * see {@link ssdNegativesPooled}. Rejects (never throws) with `ssdNegatives`' errors or
   * {@link mask}'s.
   */
  ssdNegatives(options: SsdNegativesPooledOptions): Promise<SsdNegativesResult> {
    return ssdNegativesPooled(this, options);
  }

  /**
   * Closes the miner: every call still pending rejects at once with the closed error (its tasks
   * stop at their next check), the worker threads are terminated, and later calls reject with the
   * closed error. Idempotent; resolves when the threads are gone. Await your calls first to keep
   * their results.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#close();
    return this.#closing;
  }

  /** `await using miner = new HardNegativeMiner()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const error = closedError();
    for (const call of [...this.#active]) call.stop(error);
    this.#staging.clear();
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool !== undefined) await pool.destroy();
  }

  #mask(
    loss: Float32Array,
    cols: number,
    numNeg: number | ArrayLike<number>,
    options: MineOptions | undefined,
  ): Promise<Uint8Array> {
    const { rows, nanLargest } = this.#checkCall(loss, cols, options);
    const signal = checkSignal(options);
    const fault = testFaultOf(options);
    const n = loss.length;
    if (fault === undefined && (n < this.inlineBelow || rows === 0)) {
      if (this.#counts.length < rows) this.#counts = new Int32Array(Math.max(rows, this.#counts.length * 2));
      const counts = toCounts(numNeg, rows, cols, this.#counts);
      const out = checkOut(options?.out, n, Uint8Array, { loss, numNeg }) ?? sharedBytes(n);
      if (signal?.aborted) throw abortError(signal);
      const scratch = (this.#maskScratch = scratchFor(this.#maskScratch, cols));
      const nanAt = selectRows(bitsOf(loss), cols, 0, rows, counts, out, scratch, nanLargest);
      if (nanAt >= 0) throw nanError(nanAt, cols);
      return Promise.resolve(out);
    }
    const staged = stagedOutput(options?.out);
    const layout = callLayout(rows, 0, isShared(loss) ? 0 : n, staged ? Math.ceil(n / 4) : 0);
    const ctx = this.#staging.acquire(layout.bytes);
    let out: Uint8Array;
    try {
      toCounts(numNeg, rows, cols, new Int32Array(ctx, layout.countsAt * 4, rows));
      out = checkOut(options?.out, n, Uint8Array, { loss, numNeg }) ?? sharedBytes(n);
      if (signal?.aborted) throw abortError(signal);
    } catch (error) {
      this.#staging.release(ctx);
      throw error;
    }
    const call = this.#begin(ctx, signal, fault);
    const target = staged ? new Uint8Array(ctx, layout.outAt * 4, n) : out;
    const tasks = this.#rowTasks(TASK_MASK, loss, ctx, layout, target, rows, cols, nanLargest);
    return this.#finish(call, this.#runRows(call, tasks, cols, target, out));
  }

  /** The checks every call starts with, in the sync API's order: open miner, `loss`, `cols`, `nan`. */
  #checkCall(
    loss: Float32Array,
    cols: number,
    options: MineOptions | undefined,
  ): { rows: number; nanLargest: boolean } {
    if (this.#closing !== undefined) throw closedError();
    checkLoss(loss);
    return { rows: checkCols(cols, loss.length), nanLargest: checkNan(options) };
  }

  #rank(loss: Float32Array, cols: number, options: MineOptions | undefined): Promise<Int32Array> {
    const { rows, nanLargest } = this.#checkCall(loss, cols, options);
    const signal = checkSignal(options);
    const fault = testFaultOf(options);
    const n = loss.length;
    const out =
      checkOut(options?.out, n, Int32Array, { loss }) ?? new Int32Array(new SharedArrayBuffer(n * 4));
    if (signal?.aborted) throw abortError(signal);
    if (fault === undefined && (n < this.inlineBelow || rows === 0)) {
      const scratch = (this.#rankScratch = scratchFor(this.#rankScratch, cols));
      const nanAt = rankRows(bitsOf(loss), cols, 0, rows, out, scratch, nanLargest);
      if (nanAt >= 0) throw nanError(nanAt, cols);
      return Promise.resolve(out);
    }
    const staged = !isShared(out);
    const layout = callLayout(0, 0, isShared(loss) ? 0 : n, staged ? n : 0);
    const ctx = this.#staging.acquire(layout.bytes);
    const call = this.#begin(ctx, signal, fault);
    const target = staged ? new Int32Array(ctx, layout.outAt * 4, n) : out;
    const tasks = this.#rowTasks(TASK_RANK, loss, ctx, layout, target, rows, cols, nanLargest);
    return this.#finish(call, this.#runRows(call, tasks, cols, target, out));
  }

  #maskBatchWide(
    loss: Float32Array,
    cols: number,
    k: number,
    options: MineOptions | undefined,
  ): Promise<Uint8Array> {
    const { rows, nanLargest } = this.#checkCall(loss, cols, options);
    const n = loss.length;
    const count = checkBatchCount(k, n);
    const out = checkOut(options?.out, n, Uint8Array, { loss }) ?? sharedBytes(n);
    const signal = checkSignal(options);
    const fault = testFaultOf(options);
    if (signal?.aborted) throw abortError(signal);
    if (fault === undefined && (n < this.inlineBelow || rows === 0)) {
      hardNegativeMaskBatchWide(loss, cols, count, nanLargest ? { nan: 'largest', out } : { out });
      return Promise.resolve(out);
    }
    const staged = !isShared(out);
    const bounds = planRanges(rows, cols, this.threads);
    const layout = callLayout(0, bounds.length - 1, isShared(loss) ? 0 : n, staged ? Math.ceil(n / 4) : 0);
    const ctx = this.#staging.acquire(layout.bytes);
    const call = this.#begin(ctx, signal, fault);
    const target = staged ? new Uint8Array(ctx, layout.outAt * 4, n) : out;
    const tasks = this.#rowTasks(TASK_HISTOGRAM, loss, ctx, layout, target, rows, cols, nanLargest);
    for (let t = 0; t < tasks.length; t++) tasks[t]!.slot = layout.histAt + t * HIST_WORDS;
    const body = this.#runBatchWide(call, tasks, cols, count, new Int32Array(ctx), target, out);
    return this.#finish(call, body);
  }

  /** Registers a dispatched call: cancel flag cleared, abort listener attached. */
  #begin(ctx: SharedArrayBuffer, signal: AbortSignal | undefined, fault: TestFaultOption | undefined): Call {
    const ctrl = new Int32Array(ctx, 0, CTRL_WORDS);
    Atomics.store(ctrl, CTRL_CANCEL, 0);
    let reject!: (reason: unknown) => void;
    const stopped = new Promise<never>((_, rej) => {
      reject = rej;
    });
    const call: Call = {
      id: this.#nextCallId++,
      ctx,
      ctrl,
      pending: 0,
      broken: false,
      released: false,
      settled: false,
      halted: false,
      faultDone: false,
      stop: (reason) => {
        call.halted = true;
        Atomics.store(ctrl, CTRL_CANCEL, 1);
        reject(reason);
      },
      stopped,
      signal,
      fault,
    };
    if (signal !== undefined) this.#watch(signal, call);
    this.#active.add(call);
    return call;
  }

  /**
   * Stops `call` when `signal` aborts. One listener per signal and miner however many calls share
   * the signal (one per call trips Node's MaxListenersExceededWarning beyond 10), removed with the
   * signal's last pending call, so a long-lived signal keeps nothing attached between calls.
   */
  #watch(signal: AbortSignal, call: Call): void {
    let watched = this.#signalCalls.get(signal);
    if (watched === undefined) {
      const calls = new Set<Call>();
      const onAbort = () => {
        this.#signalCalls.delete(signal);
        const error = abortError(signal);
        for (const c of calls) c.stop(error);
      };
      watched = { calls, onAbort };
      this.#signalCalls.set(signal, watched);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    watched.calls.add(call);
  }

  #unwatch(signal: AbortSignal, call: Call): void {
    const watched = this.#signalCalls.get(signal);
    if (watched === undefined || !watched.calls.delete(call) || watched.calls.size > 0) return;
    this.#signalCalls.delete(signal);
    signal.removeEventListener('abort', watched.onAbort);
  }

  /** Settles the call with whichever comes first, its work or a stop; then cleans up. */
  async #finish<T>(call: Call, body: Promise<T>): Promise<T> {
    try {
      return await Promise.race([body, call.stopped]);
    } finally {
      call.settled = true;
      Atomics.store(call.ctrl, CTRL_CANCEL, 1);
      if (call.signal !== undefined) this.#unwatch(call.signal, call);
      this.#active.delete(call);
      this.#maybeRelease(call);
    }
  }

  /** Recycles the call's staging buffer once no task can touch it any more (see SharedStaging). */
  #maybeRelease(call: Call): void {
    if (call.settled && call.pending === 0 && !call.broken && !call.released && this.#closing === undefined) {
      call.released = true;
      this.#staging.release(call.ctx);
    }
  }

  /** One task per planned row range, copying a non-shared `loss` into the staging buffer first. */
  #rowTasks(
    kind: number,
    loss: Float32Array,
    ctx: SharedArrayBuffer,
    layout: CallLayout,
    target: Uint8Array | Int32Array,
    rows: number,
    cols: number,
    nanLargest: boolean,
  ): MineTask[] {
    let lossBuffer: SharedArrayBuffer;
    let lossByte: number;
    if (isShared(loss)) {
      lossBuffer = loss.buffer as SharedArrayBuffer;
      lossByte = loss.byteOffset;
    } else {
      new Float32Array(ctx, layout.lossAt * 4, loss.length).set(loss);
      lossBuffer = ctx;
      lossByte = layout.lossAt * 4;
    }
    const outBuffer = target.buffer as SharedArrayBuffer;
    const lossId = this.#idOf(lossBuffer);
    const ctxId = this.#idOf(ctx);
    const outId = this.#idOf(outBuffer);
    const bounds = planRanges(rows, cols, this.threads);
    const tasks: MineTask[] = [];
    for (let t = 0; t + 1 < bounds.length; t++) {
      tasks.push({
        kind,
        loss: lossBuffer,
        lossAt: lossByte,
        length: loss.length,
        ctx,
        out: outBuffer,
        outAt: target.byteOffset,
        cols,
        rowStart: bounds[t]!,
        rowEnd: bounds[t + 1]!,
        nanLargest,
        slot: 0,
        level: 0,
        prefix: 0,
        shift: 0,
        quota: 0,
        hasNan: false,
        checkNan: false,
        fault: null,
        lossId,
        ctxId,
        outId,
      });
    }
    return tasks;
  }

  /**
   * An id per distinct large `SharedArrayBuffer` (0 for small ones), so a worker can count the shared
   * memory its stale handles pin without counting a reused buffer twice (see mine-worker.ts).
   */
  #idOf(buffer: SharedArrayBuffer): number {
    if (buffer.byteLength < TRACKED_BYTES) return 0;
    let id = this.#bufferIds.get(buffer);
    if (id === undefined) {
      id = this.#nextBufferId++;
      this.#bufferIds.set(buffer, id);
    }
    return id;
  }

  /** Starts the worker threads (all of them: min = max = `threads`). */
  #startPool(): Piscina {
    const execArgv = workerExecArgv();
    const pool = new Piscina({
      filename: WORKER_URL,
      minThreads: this.threads,
      maxThreads: this.threads,
      recordTiming: false,
      // A call's tasks for a thread wait in the worker's own queue, with no round trip between
      // them; other calls' tasks wait for an idle thread (see balancer.ts).
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      loadBalancer: callAffinityBalancer(TASKS_PER_THREAD, () => this.#queuedTasks++),
      // The workers allocate little but receive thousands of messages in a burst: a 2 MiB young
      // generation (V8's default grows to 16+) keeps their heaps, and the stale shared-buffer handles
      // they hold, small. Measured (test/load.test.ts, 10,000 concurrent dispatched calls): RSS growth
      // after GC fell from ~100 to ~44-48 MiB; the kernels allocate nothing, so they do not slow down.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
      ...(execArgv === undefined ? {} : { execArgv }),
    });
    // A worker that fails between tasks is replaced by the pool; calls learn of their own failures
    // through `run()`. Without a listener, the 'error' event would throw.
    pool.on('error', (error: unknown) => this.#checkPool(pool, error));
    this.#pool = pool;
    return pool;
  }

  /**
   * Piscina stops replacing workers that fail while starting (a missing or broken worker file), and
   * tasks queued then would wait forever. So once such a pool has no thread left, every call still
   * using it rejects with the failure and the pool is dropped; the next call starts a new one (and
   * fails the same way, promptly, until the cause is fixed).
   */
  #checkPool(pool: Piscina, error: unknown): void {
    if (this.#pool !== pool || pool.threads.length > 0) return;
    this.#pool = undefined;
    const reason = workerError(error);
    for (const call of [...this.#active]) call.stop(reason);
    void pool.destroy();
  }

  /** Posts one task; a failure marks the call broken (its buffer is never reused) and rejects. */
  #dispatch(call: Call, task: MineTask, index: number): Promise<number> {
    if (call.halted || this.#closing !== undefined) return Promise.resolve(RESULT_CANCELLED);
    if (call.fault !== undefined && !call.faultDone && (call.fault.task ?? 0) === index) {
      task.fault = call.fault.fault;
      call.faultDone = true;
    }
    const pool = this.#pool ?? this.#startPool();
    call.pending++;
    return pool.run(tagCall(task, call.id)).then(
      (result: number) => {
        call.pending--;
        if (result === RESULT_CANCELLED) this.#cancelledTasks++;
        this.#maybeRelease(call);
        return result;
      },
      (error: unknown) => {
        call.pending--;
        call.broken = true;
        this.#checkPool(pool, error);
        const wrapped = workerError(error);
        call.stop(wrapped);
        throw wrapped;
      },
    );
  }

  /**
   * Posts every task and waits for all answers. A stopped call's answers are meaningless (tasks may
   * have been cancelled half-way): the round then rejects (the call has already settled).
   */
  async #round(call: Call, tasks: MineTask[]): Promise<number[]> {
    const answers = await Promise.all(tasks.map((task, t) => this.#dispatch(call, task, t)));
    if (call.halted) throw new Error('call stopped');
    return answers;
  }

  /** Mask and rank: one round (a staged result is copied into the caller's `out`) of tasks; the first NaN of the batch (lowest flat index) is the error. */
  async #runRows<T extends Uint8Array | Int32Array>(
    call: Call,
    tasks: MineTask[],
    cols: number,
    target: T,
    out: T,
  ): Promise<T> {
    const answers = await this.#round(call, tasks);
    const nanAt = firstNanAnswer(answers);
    if (nanAt >= 0) throw nanError(nanAt, cols);
    if (target !== out) out.set(target);
    return out;
  }

  async #runBatchWide(
    call: Call,
    tasks: MineTask[],
    cols: number,
    count: number,
    ctxWords: Int32Array,
    target: Uint8Array,
    out: Uint8Array,
  ): Promise<Uint8Array> {
    const n = out.length;
    const nanLargest = tasks[0]!.nanLargest;
    let shift: number;
    let prefix: number;
    const quotas = new Float64Array(tasks.length);
    const hasNan = new Uint8Array(tasks.length);
    if (count === 0 || count >= n) {
      ({ shift, prefix } = edgeThreshold(count));
      for (const task of tasks) task.checkNan = true;
    } else {
      const answers = await this.#round(call, tasks);
      const nanAt = firstNanAnswer(answers);
      if (nanAt >= 0 && !nanLargest) throw nanError(nanAt, cols);
      for (let t = 0; t < tasks.length; t++) hasNan[t] = answers[t]! >= 0 ? 1 : 0;
      const merged = new Int32Array(HIST_WORDS);
      mergeHistograms(ctxWords, tasks, merged);
      let level = 0;
      let step = stepLevel(merged, 0, 0, 0, count);
      while (step.count !== step.need && level < 2) {
        level++;
        for (let t = 0; t < tasks.length; t++) {
          const task = tasks[t]!;
          task.level = level;
          task.prefix = step.prefix;
          task.hasNan = hasNan[t] === 1;
          task.fault = null;
        }
        await this.#round(call, tasks);
        mergeHistograms(ctxWords, tasks, merged);
        step = stepLevel(merged, 0, level, step.prefix, step.need);
      }
      shift = levelShift(level);
      prefix = step.prefix;
      // Ties (keys equal to the threshold at this precision) go in flat-index order: each range's
      // count of them is its histogram's count in the chosen bucket.
      const bucket = level === 0 ? prefix + 1024 : level === 1 ? prefix & 2047 : prefix & 1023;
      let left = step.need;
      for (let t = 0; t < tasks.length; t++) {
        const ties = ctxWords[tasks[t]!.slot + bucket]!;
        quotas[t] = ties < left ? ties : left;
        left -= quotas[t]!;
      }
    }
    for (let t = 0; t < tasks.length; t++) {
      const task = tasks[t]!;
      task.kind = TASK_WRITE;
      task.shift = shift;
      task.prefix = prefix;
      task.quota = quotas[t]!;
      task.hasNan = hasNan[t] === 1;
      task.fault = null;
    }
    const answers = await this.#round(call, tasks);
    const nanAt = firstNanAnswer(answers);
    if (nanAt >= 0) throw nanError(nanAt, cols);
    if (target !== out) out.set(target);
    return out;
  }
}

/** The smallest NaN index among task answers (each task reports its range's first), or -1. */
function firstNanAnswer(answers: number[]): number {
  let nanAt = -1;
  for (const answer of answers) if (answer >= 0 && (nanAt < 0 || answer < nanAt)) nanAt = answer;
  return nanAt;
}

/** Sums the tasks' histogram slots into `merged`. */
function mergeHistograms(ctxWords: Int32Array, tasks: MineTask[], merged: Int32Array): void {
  merged.fill(0);
  for (const task of tasks) {
    const at = task.slot;
    for (let d = 0; d < HIST_WORDS; d++) merged[d]! += ctxWords[at + d]!;
  }
}
