/**
 * The worker threads of one miner: a Piscina pool started on demand, replaced when its threads may
 * pin too much shared memory (see RECYCLE_BYTES in plan.ts), and dropped when its threads cannot
 * start.
 */
import { Piscina } from 'piscina';
import { callAffinityBalancer, tagCall } from './balancer.ts';
import { RECYCLE_BYTES, TASKS_PER_THREAD } from './plan.ts';
import type { MineTask } from './protocol.ts';
import type { WorkerLocation } from './worker-location.ts';

export class WorkerThreads {
  readonly #threads: number;
  readonly #worker: WorkerLocation;
  readonly #workerData: unknown;
  /** Told when the threads cannot start at all (every call using them must fail). */
  readonly #onDead: (error: unknown) => void;
  #pool: Piscina | undefined;
  /** Tasks in flight per pool (the current one and any being retired). */
  readonly #inFlight = new Map<Piscina, number>();
  /** Pools replaced, destroyed once their last task has answered. */
  readonly #retiring = new Set<Piscina>();
  /** Caller buffers the current threads have been handed, and the bytes they may pin. */
  #seen = new WeakSet<SharedArrayBuffer>();
  #pinnable = 0;
  /** How many times the threads were replaced. */
  recycled = 0;
  /** Tasks posted to a thread already busy with their call (see balancer.ts). */
  queuedTasks = 0;

  constructor(
    threads: number,
    worker: WorkerLocation,
    workerData: unknown,
    onDead: (error: unknown) => void,
  ) {
    this.#threads = threads;
    this.#worker = worker;
    this.#workerData = workerData;
    this.#onDead = onDead;
  }

  /** Runs `task` of call `call` on a thread (starting the threads first if needed). */
  run(task: MineTask, call: number): Promise<number> {
    const pool = this.#pool ?? this.#start();
    this.#inFlight.set(pool, (this.#inFlight.get(pool) ?? 0) + 1);
    const done = () => {
      this.#inFlight.set(pool, this.#inFlight.get(pool)! - 1);
      this.#retireIfIdle(pool);
    };
    return pool.run(tagCall(task, call)).then(
      (result: number) => {
        done();
        return result;
      },
      (error: unknown) => {
        done();
        this.#checkPool(pool, error);
        throw error;
      },
    );
  }

  /** Counts a caller buffer handed to the current threads, once. */
  sees(buffer: SharedArrayBuffer): void {
    if (this.#seen.has(buffer)) return;
    this.#seen.add(buffer);
    this.pins(buffer.byteLength);
  }

  /**
   * `bytes` more shared memory the current threads may pin after the miner is done with it (a
   * staging buffer dropped from the full free list, a caller buffer); past RECYCLE_BYTES the threads
   * are replaced: later tasks go to a fresh pool, the old one is destroyed once its tasks answered.
   */
  pins(bytes: number): void {
    this.#pinnable += bytes;
    if (this.#pinnable < RECYCLE_BYTES) return;
    this.#pinnable = 0;
    this.#seen = new WeakSet();
    const pool = this.#pool;
    if (pool === undefined) return;
    this.#pool = undefined;
    this.recycled++;
    this.#retiring.add(pool);
    this.#retireIfIdle(pool);
  }

  /** Terminates every thread. */
  async destroy(): Promise<void> {
    const pools = [...this.#retiring];
    if (this.#pool !== undefined) pools.push(this.#pool);
    this.#pool = undefined;
    this.#retiring.clear();
    this.#inFlight.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  #retireIfIdle(pool: Piscina): void {
    if (!this.#retiring.has(pool) || (this.#inFlight.get(pool) ?? 0) > 0) return;
    this.#retiring.delete(pool);
    this.#inFlight.delete(pool);
    void pool.destroy();
  }

  /** Starts the worker threads (all of them: min = max = `threads`). */
  #start(): Piscina {
    const { filename, execArgv } = this.#worker;
    const pool = new Piscina({
      filename,
      minThreads: this.#threads,
      maxThreads: this.#threads,
      recordTiming: false,
      // A call's tasks for a thread wait in the worker's own queue, with no round trip between
      // them; other calls' tasks wait for an idle thread (see balancer.ts).
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      loadBalancer: callAffinityBalancer(TASKS_PER_THREAD, () => this.queuedTasks++),
      // The workers allocate little but receive thousands of messages in a burst: a small young
      // generation keeps their heaps, and the stale shared-buffer handles those messages carried,
      // small (test/load.test.ts); the kernels allocate nothing, so they do not slow down.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
      ...(execArgv === undefined ? {} : { execArgv }),
      ...(this.#workerData === undefined ? {} : { workerData: this.#workerData }),
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
   * using it fails (`onDead`) and the pool is dropped; the next call starts a new one (and fails
   * the same way, promptly, until the cause is fixed).
   */
  #checkPool(pool: Piscina, error: unknown): void {
    if (this.#pool !== pool || pool.threads.length > 0) return;
    this.#pool = undefined;
    this.#inFlight.delete(pool);
    this.#onDead(error);
    void pool.destroy();
  }
}
