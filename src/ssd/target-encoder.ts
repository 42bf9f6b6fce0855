import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { defaultWorker } from '../pool/worker-location.ts';
import type { MatchParams } from './match.ts';
import type { MatchBatchOptions, MatchBatchResult, PackedBatch } from './targets.ts';
import { encodeRange, packBatch } from './targets.ts';

/** A task of the targets worker: images `start .. end` of a batch in shared memory. */
export interface TargetsTask {
  batch: {
    params: MatchParams;
    priorCount: number;
    images: number;
    priors: SharedArrayBuffer;
    offsets: SharedArrayBuffer;
    truths: SharedArrayBuffer;
    labels: SharedArrayBuffer;
  };
  loc: SharedArrayBuffer;
  conf: SharedArrayBuffer;
  start: number;
  end: number;
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

function shared(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(bytes);
}

/**
 * Batch SSD target encoding (`matchTargets` per image, stacked) on a Piscina worker pool: a dataset's
 * targets are a large preprocessing job. The images are split into contiguous ranges, a few per
 * thread; the truths are packed once into shared memory and the workers write `loc` / `conf` in
 * place, so nothing is copied back. Small batches run inline. The result equals
 * `matchTargetsBatch(options)` bit for bit (the same kernel runs in both places).
 *
 * Own it like a file handle: `await encoder.close()` ends its threads (later calls reject).
 */
export class TargetEncoder {
  readonly threads: number;
  readonly #inlineBelow: number;
  #pool: Piscina | undefined;
  #closed = false;

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
   * and `conf` `(B, N)` (backed by `SharedArrayBuffer`s when the pool ran). Rejects (never throws)
   * with `matchTargetsBatch`'s errors, a closed-encoder error, or a worker failure.
   * Cost: O(Σ M_i × N) spread over the threads, plus one O(Σ M_i) copy of the truths.
   */
  async encode(options: MatchBatchOptions): Promise<MatchBatchResult> {
    if (this.#closed) throw new Error('this TargetEncoder is closed; create a new one');
    // Packed straight into shared memory, so the pool path copies nothing more.
    const probe = packBatch(
      options,
      (n) => new Float32Array(shared(n * 4)),
      (n) => new Int32Array(shared(n * 4)),
    );
    const pairs = (probe.truths.length / 4) * probe.priorCount;
    if (pairs < this.#inlineBelow || probe.images < 2) {
      const loc = new Float32Array(probe.images * probe.priorCount * 4);
      const conf = new Int32Array(probe.images * probe.priorCount);
      encodeRange(probe, 0, probe.images, loc, conf);
      return { loc, conf };
    }
    return this.#encodePooled(probe);
  }

  async #encodePooled(plain: PackedBatch): Promise<MatchBatchResult> {
    const { images, priorCount } = plain;
    const priors = plain.priors.buffer as SharedArrayBuffer;
    const offsets = plain.offsets.buffer as SharedArrayBuffer;
    const truths = plain.truths.buffer as SharedArrayBuffer;
    const labels = plain.labels.buffer as SharedArrayBuffer;
    const loc = shared(images * priorCount * 16);
    const conf = shared(images * priorCount * 4);
    const batch = { params: plain.params, priorCount, images, priors, offsets, truths, labels };
    const pool = this.#getPool();
    const tasks = Math.min(images, this.threads * 4);
    const runs: Promise<unknown>[] = [];
    for (let t = 0; t < tasks; t++) {
      const start = Math.floor((t * images) / tasks);
      const end = Math.floor(((t + 1) * images) / tasks);
      const task: TargetsTask = { batch, loc, conf, start, end };
      runs.push(pool.run(task));
    }
    try {
      await Promise.all(runs);
    } catch (cause) {
      await Promise.allSettled(runs);
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`target encoding failed in a worker thread: ${message}`, { cause });
    }
    return { loc: new Float32Array(loc), conf: new Int32Array(conf) };
  }

  /** Ends the worker threads; later `encode` calls reject. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool !== undefined) await pool.destroy();
  }
}
