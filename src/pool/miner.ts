import { hardNegativeMaskBatchWide } from '../batch-wide.ts';
import { selectRows } from '../kernel/select-rows.ts';
import { callerScratch, maskChecked } from '../mask.ts';
import { rankDescending } from '../rank.ts';
import { bitsOf, nanError } from '../validate.ts';
import type { CallArgs, MineOptions } from './args.ts';
import { batchWideArgs, maskArgs, rankArgs } from './args.ts';
import { firstNanAnswer, runBatchWide } from './batch-wide-protocol.ts';
import type { PoolCall } from './call.ts';
import { CallRegistry } from './call.ts';
import type { CallerKernel } from './caller-rows.ts';
import {
  InlineDecision,
  METHOD_MASK,
  METHOD_RANK,
  METHOD_WIDE,
  minPooled,
  shapeSlot,
} from './inline-decision.ts';
import { kNextCallId } from './internal.ts';
import {
  abortError,
  closedError,
  copyOut,
  nanPolicy,
  settle,
  sharedBytes,
  workerError,
} from './miner-helpers.ts';
import type { MinerOptions } from './miner-options.ts';
import { readMinerOptions } from './miner-options.ts';
import { planClaims, planRanges } from './plan.ts';
import type { MineTask } from './protocol.ts';
import { RESULT_CANCELLED, TASK_HISTOGRAM, TASK_MASK, TASK_RANK } from './protocol.ts';
import type { CallLayout } from './shared-buffers.ts';
import { callLayout, faultIn, HIST_WORDS, SharedStaging } from './shared-buffers.ts';
import { rowTasks, type Stager, stager } from './tasks.ts';
import { WorkerThreads } from './threads.ts';

export type { MineOptions } from './args.ts';
export type { MinerOptions } from './miner-options.ts';

/**
 * Dispatched calls of a miner that the inline decision does not record: the first calls start the
 * threads, and each thread's kernels run cold (V8 compiles wasm with its baseline tier first and
 * optimises it after a while), measured up to 3x slower than later calls.
 */
const WARM_CALLS = 8;

/**
 * A call's start time for the inline decision, or 0 for calls too small to ever be recorded (below
 * the decision's `minPooled` they always run inline), which then skip the clock.
 */
function clockFor(n: number, decision: InlineDecision): number {
  return n < decision.minPooled ? 0 : performance.now();
}

/**
 * Hard negative mining over a pool of worker threads (Piscina) that share memory with the caller.
 *
 * Each call is validated on the calling thread (same errors as the synchronous API, as rejections),
 * its arguments read once, and every worker thread claims rows a few at a time (contiguous row
 * ranges, a few per thread, for the batch-wide mask) and runs the same kernel as
 * {@link hardNegativeMask} on them, reading the losses and writing the
 * result in `SharedArrayBuffer`s: results are bit-identical to the synchronous functions. A shared
 * `loss` ({@link allocLoss}) is read in place; any other is copied into a recycled staging buffer
 * while the threads work, and for a mask the calling thread mines rows of it itself meanwhile
 * (caller-rows.ts), so the call keeps the calling thread busy. Workers write into a shared
 * `options.out` directly; otherwise into the staging buffer, from which the result is copied into
 * `options.out` or a fresh shared array owned by the caller (so no worker ever holds a handle to a
 * buffer the caller may drop). Calls with fewer than
 * `inlineBelow` elements run on the calling thread through the synchronous API.
 *
 * The threads start together on the first call that needs them (so constructing a miner is cheap
 * and a miner used only for small calls starts none) and stay until {@link close}; idle threads do
 * not keep the process alive. Many calls may run at once; tasks queue in the pool.
 *
 * Faults: an error in a worker rejects that call only; a worker thread that dies rejects the calls it
 * was running and is replaced, so later calls succeed. An aborted call rejects at once and its tasks
 * still queued or running stop at their next check (within about 2^16 elements for mask and rank,
 * 2^18 for the batch-wide phases).
 *
 * This class is the pool alone; the package's `HardNegativeMiner` extends it with the SSD front
 * end's `ssdNegatives` (src/miner.ts), so the pool layer knows nothing of SSD.
 *
 * @example
 * ```ts
 * await using miner = new HardNegativeMiner();
 * const loss = allocLoss(rows, 8732); // fill it
 * const mask = await miner.mask(loss, 8732, numNeg);
 * ```
 */
export class PooledMiner {
  /** Worker threads of the pool. */
  readonly threads: number;
  /** Calls below this many elements run inline (before measurements, when the decision is measured). */
  readonly inlineBelow: number;
  /** Whether the inline decision is measured (no `inlineBelow` option) rather than fixed. */
  readonly inlineMeasured: boolean;
  readonly #decision: InlineDecision;
  #dispatched = 0;
  #closing: Promise<void> | undefined;
  readonly #staging = new SharedStaging();
  readonly #calls = new CallRegistry(abortError);
  #counts: Int32Array = new Int32Array(16);
  readonly #threads: WorkerThreads;
  #cancelledTasks = 0;
  #callerRows = 0;

  /**
   * Validates the options; starts no thread.
   * @throws {TypeError} `options` not an object, or an option of the wrong type.
   * @throws {RangeError} `threads` not a positive integer or above 4 × the CPU count,
   *   `inlineBelow` not an integer >= 0, `workerUrl` not a file URL or absolute path of an
   *   existing file.
   */
  constructor(options?: MinerOptions) {
    const { threads, inlineBelow, inlineMeasured, worker, workerData } = readMinerOptions(options);
    this.#threads = new WorkerThreads(threads, worker, workerData, (error) =>
      this.#calls.stopAll(workerError(error)),
    );
    this.threads = threads;
    this.inlineBelow = inlineBelow;
    this.inlineMeasured = inlineMeasured;
    this.#decision = new InlineDecision(inlineBelow, this.inlineMeasured, minPooled(threads));
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Internal (tests): the number of the next dispatched call. */
  get [kNextCallId](): number {
    return this.#calls.nextId;
  }

  /**
   * Diagnostics: calls in flight, staging buffers kept for reuse, how many tasks found their call
   * cancelled and stopped early (aborted or failed calls), and how many were posted to a thread
   * already running a task of the same call, to wait in its queue (see balancer.ts), and how many
   * times the threads were replaced to free the shared memory they pinned (see plan.ts), and how
   * many rows of dispatched mask calls over a non-shared loss the calling thread mined itself (see
   * caller-rows.ts).
   */
  get stats(): {
    active: number;
    stagingBuffers: number;
    stagingBytes: number;
    cancelledTasks: number;
    queuedTasks: number;
    recycledPools: number;
    callerRows: number;
  } {
    const { buffers, bytes } = this.#staging.stats;
    return {
      active: this.#calls.size,
      stagingBuffers: buffers,
      stagingBytes: bytes,
      cancelledTasks: this.#cancelledTasks,
      queuedTasks: this.#threads.queuedTasks,
      recycledPools: this.#threads.recycled,
      callerRows: this.#callerRows,
    };
  }

  /**
   * {@link hardNegativeMask} on the pool: resolves to the `(rows, cols)` mask (1 = hard negative),
   * bit-identical to the synchronous result. Cost: the kernel's O(N) per row divided over the
   * threads, plus one round trip per call; a non-shared `loss` is copied for the threads by the
   * calling thread, which also mines rows of it from the back in one thread's place until the
   * threads' claims meet its own (caller-rows.ts: the promise is returned only after that), and a
   * result not written into a shared `options.out` is copied out once at the end.
   *
   * Rejects (never throws) with the synchronous API's `TypeError`/`RangeError` for bad arguments or
   * a NaN loss (naming the first NaN's row and column in the whole batch), a `TypeError` when an
   * argument's getter detached or resized `loss` or `out`, an `AbortError`, the closed error, or an
   * error naming a worker failure.
   */
  mask(
    loss: Float32Array,
    cols: number,
    numNeg: number | ArrayLike<number>,
    options?: MineOptions,
  ): Promise<Uint8Array> {
    return settle(() => {
      this.#checkOpen();
      const args = maskArgs(loss, cols, numNeg, options, this.#counts);
      this.#counts = args.scratch;
      this.#checkAborted(args.signal);
      const slot = shapeSlot(METHOD_MASK, args.n, args.lossShared, !args.outShared);
      const start = clockFor(args.n, this.#decision);
      if (this.#inline(args, slot)) {
        const out = args.out ?? sharedBytes(args.n);
        maskChecked(args.loss, args.cols, args.counts, out, args.nanLargest);
        this.#recordInline(slot, args.n, start);
        return Promise.resolve(out);
      }
      const timed = this.#timed(slot, args.n, start);
      const layout = callLayout(
        args.rows,
        0,
        args.lossShared ? 0 : args.n,
        args.outShared ? 0 : Math.ceil(args.n / 4),
        args.lossShared ? 0 : planClaims(args.rows, args.cols, this.threads).claims,
      );
      const ctx = this.#staging.acquire(layout.bytes);
      new Int32Array(ctx, layout.countsAt * 4, args.rows).set(args.counts);
      const target = args.outShared ? args.out! : new Uint8Array(ctx, layout.outAt * 4, args.n);
      // A loss not in shared memory: the calling thread mines rows from the back while it copies
      // the threads' rows from the front (caller-rows.ts).
      const bits = args.lossShared ? undefined : bitsOf(args.loss);
      const mine =
        bits === undefined
          ? undefined
          : (r: number, e: number) =>
              selectRows(
                bits,
                args.cols,
                r,
                e,
                args.counts,
                target,
                callerScratch(args.cols),
                args.nanLargest,
              );
      return this.#run(ctx, args, async (call) => {
        // Allocated before any task is posted (an allocation that throws leaves nothing running), its
        // pages faulted in while the threads mine rather than by the copy at the end: by the
        // calling thread's share for a plain loss (caller-rows.ts), else once the tasks are posted.
        const result = args.out ?? sharedBytes(args.n);
        const fresh = result !== args.out;
        const { tasks, round } = this.#rowTasks(
          TASK_MASK,
          call,
          args,
          layout,
          target,
          mine,
          fresh ? result : undefined,
        );
        const answers = round(tasks);
        if (fresh && args.lossShared) faultIn(result);
        const nanAt = firstNanAnswer(await answers);
        if (nanAt >= 0) throw nanError(nanAt, args.cols);
        return timed(copyOut(target, result));
      });
    });
  }

  /**
   * {@link rankDescending} on the pool: resolves to the stable descending rank of every element in
   * its row, identical to the synchronous result, in a shared `Int32Array`. Same rejections as
   * {@link mask}.
   */
  rank(loss: Float32Array, cols: number, options?: MineOptions): Promise<Int32Array> {
    return settle(() => {
      this.#checkOpen();
      const args = rankArgs(loss, cols, options);
      this.#checkAborted(args.signal);
      const fresh = () => new Int32Array(new SharedArrayBuffer(args.n * 4));
      const slot = shapeSlot(METHOD_RANK, args.n, args.lossShared, !args.outShared);
      const start = clockFor(args.n, this.#decision);
      if (this.#inline(args, slot)) {
        const out = args.out ?? fresh();
        rankDescending(args.loss, args.cols, { nan: nanPolicy(args), out });
        this.#recordInline(slot, args.n, start);
        return Promise.resolve(out);
      }
      const timed = this.#timed(slot, args.n, start);
      const layout = callLayout(0, 0, args.lossShared ? 0 : args.n, args.outShared ? 0 : args.n);
      const ctx = this.#staging.acquire(layout.bytes);
      const target = args.outShared ? args.out! : new Int32Array(ctx, layout.outAt * 4, args.n);
      return this.#run(ctx, args, async (call) => {
        const result = args.out ?? fresh(); // faulted in while the threads rank (see mask)
        const { tasks, round } = this.#rowTasks(TASK_RANK, call, args, layout, target);
        const answers = round(tasks);
        if (result !== args.out) faultIn(result);
        const nanAt = firstNanAnswer(await answers);
        if (nanAt >= 0) throw nanError(nanAt, args.cols);
        return timed(copyOut(target, result));
      });
    });
  }

  /**
   * {@link hardNegativeMaskBatchWide} on the pool: one count `k` over the whole batch, ties by flat
   * index, in two phases (see batch-wide-protocol.ts): the workers histogram their row ranges, the
   * coordinator fixes the threshold and each range's share of the ties, then the workers write the
   * mask. Cost: two to four passes over the batch divided over the threads, plus a round trip per
   * phase. Same rejections as {@link mask}.
   */
  maskBatchWide(loss: Float32Array, cols: number, k: number, options?: MineOptions): Promise<Uint8Array> {
    return settle(() => {
      this.#checkOpen();
      const args = batchWideArgs(loss, cols, k, options);
      this.#checkAborted(args.signal);
      const slot = shapeSlot(METHOD_WIDE, args.n, args.lossShared, !args.outShared);
      const start = clockFor(args.n, this.#decision);
      if (this.#inline(args, slot)) {
        const out = args.out ?? sharedBytes(args.n);
        hardNegativeMaskBatchWide(args.loss, args.cols, args.k, { nan: nanPolicy(args), out });
        this.#recordInline(slot, args.n, start);
        return Promise.resolve(out);
      }
      const timed = this.#timed(slot, args.n, start);
      const slots = planRanges(args.rows, args.cols, this.threads).length - 1;
      const layout = callLayout(
        0,
        slots,
        args.lossShared ? 0 : args.n,
        args.outShared ? 0 : Math.ceil(args.n / 4),
      );
      const ctx = this.#staging.acquire(layout.bytes);
      const target = args.outShared ? args.out! : new Uint8Array(ctx, layout.outAt * 4, args.n);
      return this.#run(ctx, args, async (call) => {
        const result = args.out ?? sharedBytes(args.n); // faulted in while the threads work (see mask)
        const { tasks, round } = this.#rowTasks(TASK_HISTOGRAM, call, args, layout, target);
        for (let t = 0; t < tasks.length; t++) tasks[t]!.slot = layout.histAt + t * HIST_WORDS;
        const done = runBatchWide(round, tasks, new Int32Array(ctx), args.k, args.n);
        if (result !== args.out) faultIn(result);
        const nanAt = await done;
        if (nanAt >= 0) throw nanError(nanAt, args.cols);
        return timed(copyOut(target, result));
      });
    });
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
    this.#calls.stopAll(closedError());
    this.#staging.clear();
    await this.#threads.destroy();
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }

  #checkAborted(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw abortError(signal);
  }

  #inline(args: CallArgs<Uint8Array | Int32Array>, slot: number): boolean {
    return args.rows === 0 || this.#decision.inline(slot, args.n);
  }

  /** Records an inline call's time, from {@link clockFor}'s start (0: not timed). */
  #recordInline(slot: number, n: number, start: number): void {
    if (start !== 0) this.#decision.record(slot, true, n, performance.now() - start);
  }

  /**
   * Records a dispatched call's time when it finishes, if it ran alone (a call that waited behind
   * others says nothing about the path) and the threads were already warm (the first calls start
   * them and compile their kernels).
   */
  #timed(slot: number, n: number, start: number): <T>(result: T) => T {
    const calls = this.#calls;
    const alone = calls.size === 0 && ++this.#dispatched > WARM_CALLS;
    return (result) => {
      if (alone && (calls.size as number) === 1)
        this.#decision.record(slot, false, n, performance.now() - start);
      return result;
    };
  }

  /**
   * Runs a dispatched call on staging buffer `ctx`: registered and released in one `try/finally`
   * (see call.ts). The buffer is recycled only under the release rule, never after close().
   */
  #run<T>(
    ctx: SharedArrayBuffer,
    args: CallArgs<Uint8Array | Int32Array>,
    body: (call: PoolCall) => Promise<T>,
  ): Promise<T> {
    const release = (buffer: SharedArrayBuffer) => {
      if (this.#closing !== undefined) return;
      const dropped = this.#staging.release(buffer);
      if (dropped > 0) this.#threads.pins(dropped);
    };
    return this.#calls.run(ctx, args.signal, release, body);
  }

  /**
   * The call's tasks (see tasks.ts), and a round function posting them (and copying a non-shared
   * loss as tasks.ts's `stager` says); the threads are told which caller buffers they get.
   */
  #rowTasks(
    kind: number,
    call: PoolCall,
    args: CallArgs<Uint8Array | Int32Array>,
    layout: CallLayout,
    target: Uint8Array | Int32Array,
    mine?: CallerKernel,
    fault?: Uint8Array,
  ): { tasks: MineTask[]; round: (tasks: MineTask[]) => Promise<number[]> } {
    const tasks = rowTasks(kind, call, args, layout, target, this.threads);
    if (args.lossShared) this.#threads.sees(args.loss.buffer as SharedArrayBuffer);
    if (args.outShared) this.#threads.sees(target.buffer as SharedArrayBuffer);
    const stage = stager(args, call.ctx, layout, tasks, mine, fault);
    return { tasks, round: (batch) => this.#round(call, batch, stage) };
  }

  /** Posts one task; a failure marks the call's buffer as held by a worker and stops the call. */
  #dispatch(call: PoolCall, task: MineTask): Promise<number> {
    if (!call.running || this.#closing !== undefined) return Promise.resolve(RESULT_CANCELLED);
    call.posted();
    return this.#threads.run(task, call.id).then(
      (result: number) => {
        call.answered(false);
        if (result === RESULT_CANCELLED) this.#cancelledTasks++;
        return result;
      },
      (error: unknown) => {
        call.answered(true);
        const wrapped = workerError(error);
        call.stop(wrapped);
        throw wrapped;
      },
    );
  }

  /**
   * Posts every task and waits for all answers, plus the calling thread's own (the first NaN it met
   * in the rows it mined, see tasks.ts's `stager`), last. A stopped call's answers are meaningless
   * (tasks may have been cancelled half-way): the round then rejects (the call has already settled).
   */
  async #round(call: PoolCall, tasks: MineTask[], stage?: Stager): Promise<number[]> {
    const posted = tasks.map((task) => {
      stage?.beforePost(task);
      return this.#dispatch(call, task);
    });
    let own = -1;
    try {
      if (stage !== undefined) {
        const share = stage.afterPost();
        own = share.nanAt;
        this.#callerRows += share.rows;
      }
    } catch (error) {
      // The tasks see the cancel flag and stop; their answers are awaited, so none is left unhandled.
      call.stop(error);
      await Promise.allSettled(posted);
      throw error;
    }
    const answers = await Promise.all(posted);
    if (!call.running) throw new Error('call stopped');
    if (stage !== undefined) answers.push(own);
    return answers;
  }
}
