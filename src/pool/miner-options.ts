import { availableParallelism } from 'node:os';
import { describe } from '../validate.ts';
import { kWorkerData } from './internal.ts';
import { INLINE_BELOW } from './plan.ts';
import type { WorkerLocation } from './worker-location.ts';
import { defaultWorker, workerAt } from './worker-location.ts';

/** Options of {@link HardNegativeMiner}. */
export interface MinerOptions {
  /**
   * Worker threads, all started together on the first call that needs them and kept until
   * `close()`. Default: `os.availableParallelism()` (one per CPU; more only time-slices the same
   * cores). A positive integer.
   */
  threads?: number;
  /**
   * Calls with fewer elements (`rows * cols`) than this run on the calling thread, always; 0 sends
   * every call to the pool. An integer >= 0. Default: measured (see inline-decision.ts): the miner
   * times its calls on both paths per call shape and takes the faster, starting from 262144 (see
   * plan.ts); calls below 16384 elements always run inline.
   */
  inlineBelow?: number;
  /**
   * The worker entry: the package's `dist/workers/mine-worker.js`, copied wherever the application
   * ships it. Needed when the application is bundled (a bundler moves this module away from the
   * worker file). A `URL` or a string holding a `file:` URL or an absolute path; checked to exist
   * when the miner is constructed. Default: the file next to this module in the package.
   */
  workerUrl?: URL | string;
}

/** The miner's options, read once (each option's getter runs once) and checked. */
export interface MinerSettings {
  readonly threads: number;
  readonly inlineBelow: number;
  /** No `inlineBelow` was given: the miner measures where to run each call shape. */
  readonly inlineMeasured: boolean;
  /** The worker entry. */
  readonly worker: WorkerLocation;
  /** Test-only data for a fixture worker (see internal.ts). */
  readonly workerData: unknown;
}

/**
 * Reads and checks {@link MinerOptions}, naming the option at fault.
 * @throws {TypeError} `options` not an object, or an option of the wrong type.
 * @throws {RangeError} `threads` not a positive integer or above 4 × the CPU count, `inlineBelow`
 *   not an integer >= 0, `workerUrl` not a file URL or absolute path of an existing file.
 */
export function readMinerOptions(options: MinerOptions | undefined): MinerSettings {
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
  const givenInlineBelow = options?.inlineBelow;
  const inlineBelow = givenInlineBelow ?? INLINE_BELOW;
  if (typeof inlineBelow !== 'number') {
    throw new TypeError(`\`inlineBelow\` must be a number, got ${describe(inlineBelow)}`);
  }
  if (!Number.isSafeInteger(inlineBelow) || inlineBelow < 0) {
    throw new RangeError(`\`inlineBelow\` must be an integer >= 0, got ${inlineBelow}`);
  }
  const workerUrl = options?.workerUrl;
  const worker = workerUrl === undefined ? defaultWorker() : workerAt(workerUrl);
  const workerData = (options as { [kWorkerData]?: unknown } | undefined)?.[kWorkerData];
  return { threads, inlineBelow, inlineMeasured: givenInlineBelow === undefined, worker, workerData };
}
