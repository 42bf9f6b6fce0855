import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { SharedStaging } from '../pool/shared-buffers.ts';
import { defaultWorker } from '../pool/worker-location.ts';
import type { MatchBatchOptions, MatchBatchResult, PackedBatch } from './targets.ts';
import { encodeRange, packBatch } from './targets.ts';

/**
 * A task of the targets worker: a batch packed in the encoder's arena (views over one
 * `SharedArrayBuffer`), its results' views there, and the call's claim counter. Every task of a call
 * is the same: each claims `claim` images at a time through `claims[0]` until none are left.
 */
export interface TargetsTask {
  batch: PackedBatch;
  loc: Float32Array;
  conf: Int32Array;
  claims: Int32Array;
  claim: number;
}

/** Options of {@link TargetEncoder}. */
export interface TargetEncoderOptions {
  /** Worker threads; `os.availableParallelism()` when omitted. */
  threads?: number;
  /**
   * Batches below this many truth-prior pairs (`Σ M_i × N`) are encoded on the calling thread, where
   * a pool round trip would cost more than the work; 2^20 when omitted (0 sends every batch to the pool).
   */
  inlineBelow?: number;
}

/** `dist/workers/targets-worker.js` from the compiled module; the `.ts` entry (through tsx) from source. */
const WORKER = defaultWorker('targets-worker');

/** Arenas kept per encoder for the next calls (more run at once only with concurrent calls). */
const FREE_ARENAS = 4;

/** Byte offsets of a batch's regions in an arena (8-byte aligned), and its size. */
interface ArenaLayout {
  readonly claims: number;
  readonly priors: number;
  readonly offsets: number;
  readonly truths: number;
  readonly labels: number;
  readonly loc: number;
  readonly conf: number;
  readonly size: number;
}

function arenaLayout(batch: PackedBatch): ArenaLayout {
  let size = 0;
  const take = (bytes: number): number => {
    const at = size;
    size += Math.ceil(bytes / 8) * 8;
    return at;
  };
  const results = batch.images * batch.priorCount;
  const claims = take(4);
  const priors = take(batch.priors.byteLength);
  const offsets = take(batch.offsets.byteLength);
  const truths = take(batch.truths.byteLength);
  const labels = take(batch.labels.byteLength);
  const loc = take(16 * results);
  const conf = take(4 * results);
  return { claims, priors, offsets, truths, labels, loc, conf, size };
}

/**
 * Batch SSD target encoding (`matchTargets` per image, stacked) on a Piscina worker pool: a dataset's
 * targets are a large preprocessing job. One task per thread claims images a few at a time from a
 * counter the call's tasks share. The batch is copied into a shared arena the encoder owns and
 * reuses call after call, the workers write `loc` / `conf` there, and the result is copied out into
 * plain arrays: the workers never hold a buffer the caller gets (a fresh shared result per call stayed
 * pinned in the workers' heaps, ~350-730 MB of RSS after a few hundred calls, and its pages were
 * faulted in by the workers on every call). Small batches run inline. The result equals
 * `matchTargetsBatch(options)` bit for bit (the same kernel runs in both places).
 *
 * Own it like a file handle: `await encoder.close()` ends its threads (later calls reject).
 */
export class TargetEncoder {
  readonly threads: number;
  readonly #inlineBelow: number;
  #pool: Piscina | undefined;
  #closed = false;
  /** Arenas free for the next call (a call that fails never returns its arena: a worker may still write). */
  readonly #free = new SharedStaging(FREE_ARENAS);

  /**
   * @throws {TypeError} / {RangeError} a bad `threads` (an integer from 1 to 4 × the CPU count) or
   *   `inlineBelow`.
   */
  constructor(options?: TargetEncoderOptions) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError('`options` must be an object');
    }
    const threads = options?.threads ?? availableParallelism();
    if (typeof threads !== 'number')
      throw new TypeError(`\`options.threads\` must be a number, got ${typeof threads}`);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`\`options.threads\` must be an integer >= 1, got ${threads}`);
    }
    // As the miner's bound: more threads only time-slice the cores, each costing its own heap.
    const maxThreads = 4 * availableParallelism();
    if (threads > maxThreads) {
      throw new RangeError(
        `\`options.threads\` must be at most ${maxThreads} (4 × os.availableParallelism()), got ${threads}`,
      );
    }
    const inlineBelow = options?.inlineBelow ?? 2 ** 20;
    if (typeof inlineBelow !== 'number' || !(inlineBelow >= 0)) {
      throw new RangeError(`\`options.inlineBelow\` must be a number >= 0, got ${String(inlineBelow)}`);
    }
    this.threads = threads;
    this.#inlineBelow = inlineBelow;
  }

  #getPool(): Piscina {
    if (this.#pool === undefined) {
      const { execArgv } = WORKER;
      this.#pool = new Piscina({
        filename: WORKER.filename,
        minThreads: this.threads,
        maxThreads: this.threads,
        ...(execArgv === undefined ? {} : { execArgv }),
      });
    }
    return this.#pool;
  }

  /**
   * Encodes every image of `options.images` against `options.priors`. Resolves to `loc` `(B, N, 4)`
   * and `conf` `(B, N)`, plain arrays. Rejects (never throws) with `matchTargetsBatch`'s errors, a
   * closed-encoder error, or a worker failure.
   * Cost: O(Σ M_i × N) spread over the threads, plus copies of the batch into the arena (O(N + Σ M_i))
   * and of the results out of it (20 bytes per image and prior).
   */
  async encode(options: MatchBatchOptions): Promise<MatchBatchResult> {
    if (this.#closed) throw new Error('this TargetEncoder is closed; create a new one');
    const probe = packBatch(options);
    const pairs = (probe.truths.length / 4) * probe.priorCount;
    if (pairs < this.#inlineBelow || probe.images < 2) {
      const loc = new Float32Array(probe.images * probe.priorCount * 4);
      const conf = new Int32Array(probe.images * probe.priorCount);
      encodeRange(probe, 0, probe.images, loc, conf);
      return { loc, conf };
    }
    return this.#encodePooled(probe);
  }

  async #encodePooled(packed: PackedBatch): Promise<MatchBatchResult> {
    const { images, priorCount } = packed;
    const at = arenaLayout(packed);
    const arena = this.#free.acquire(at.size);
    const copy = <T extends Float32Array | Int32Array>(
      make: new (buffer: SharedArrayBuffer, offset: number, length: number) => T,
      offset: number,
      from: T,
    ): T => {
      const view = new make(arena, offset, from.length);
      view.set(from);
      return view;
    };
    const claims = new Int32Array(arena, at.claims, 1);
    Atomics.store(claims, 0, 0);
    const task: TargetsTask = {
      batch: {
        params: packed.params,
        priorCount,
        images,
        priors: copy(Float32Array, at.priors, packed.priors),
        offsets: copy(Int32Array, at.offsets, packed.offsets),
        truths: copy(Float32Array, at.truths, packed.truths),
        labels: copy(Int32Array, at.labels, packed.labels),
      },
      loc: new Float32Array(arena, at.loc, images * priorCount * 4),
      conf: new Int32Array(arena, at.conf, images * priorCount),
      claims,
      // A few claims per thread: each one re-derives the priors' corners (O(N)), an image costs O(M × N).
      claim: Math.max(1, Math.floor(images / (8 * this.threads))),
    };
    const pool = this.#getPool();
    const runs: Promise<unknown>[] = [];
    for (let t = Math.min(images, this.threads); t > 0; t--) runs.push(pool.run(task));
    try {
      await Promise.all(runs);
    } catch (cause) {
      await Promise.allSettled(runs);
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`target encoding failed in a worker thread: ${message}`, { cause });
    }
    const result = { loc: new Float32Array(task.loc), conf: new Int32Array(task.conf) };
    this.#free.release(arena);
    return result;
  }

  /** Ends the worker threads; later `encode` calls reject. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool !== undefined) await pool.destroy();
  }
}
