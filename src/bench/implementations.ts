import { hardNegativeMask } from '../mask.ts';
import { rankDescending } from '../rank.ts';
import { referenceMask } from '../reference.ts';

/**
 * A failure whose message is the report line as it stands (`did not return within 60 s ...`,
 * `returned a Proxy, expected a Uint8Array`), not something the implementation threw.
 */
export class ReportedFailure extends Error {}

/** The signature every implementation, built-in or plug-in, is timed through. */
export type MaskFn = (loss: Float32Array, cols: number, numNeg: Int32Array) => unknown;

/**
 * Something the harness can check and time. `run` must return the `(rows, cols)` mask as a
 * `Uint8Array` (or a promise of one); the harness verifies that before trusting it.
 */
export interface Implementation {
  /** Name in the results; unique within a run. */
  readonly name: string;
  /** Threads it computes on (1 except for the pool). */
  readonly threads: number;
  /** Whether it ships with the package (plug-ins are not). */
  readonly builtin: boolean;
  /** Largest batch (`rows * cols` elements) it is timed on; larger batches skip it. */
  readonly maxElements: number;
  /** `false` when `run` is known to be synchronous (timed without a promise round trip). */
  readonly async?: boolean;
  /** Computes the mask. */
  readonly run: MaskFn;
  /** Starts and warms whatever `run` needs for rows of `cols` (the pool's workers); never timed. */
  readonly setup?: (cols: number) => Promise<void>;
  /** Releases what `setup` started. */
  readonly close?: () => Promise<void>;
  /** A line for the report's notes (the same line from several implementations is shown once). */
  readonly note?: string;
}

/** Names of the built-in implementation families, in the order they are run and shown. */
export const BUILTINS = ['seed', 'sort+scatter', 'kernel', 'pool'] as const;

/** One of {@link BUILTINS}. */
export type BuiltinName = (typeof BUILTINS)[number];

/**
 * Default largest batch the `seed` is timed on: 300 000 elements (32 rows of 8732), about 0.1-0.3 s a
 * call at its 300-900 ns per element; larger batches would take seconds per sample.
 */
export const SEED_MAX_ELEMENTS = 300_000;

/** The seed: `referenceMask`, the literal double comparator sort (the baseline of every speed-up). */
export function seedImplementation(maxElements = SEED_MAX_ELEMENTS): Implementation {
  return {
    name: 'seed',
    threads: 1,
    builtin: true,
    maxElements,
    async: false,
    run: (loss, cols, numNeg) => referenceMask(loss, cols, numNeg),
  };
}

/** `mask[i] = rank[i] < numNeg[row]`: the seed's comparison, over a whole batch. */
function maskFromRank(rank: Int32Array, cols: number, numNeg: Int32Array, out: Uint8Array): void {
  const rows = numNeg.length;
  for (let r = 0; r < rows; r++) {
    const k = numNeg[r]! | 0;
    const end = (r + 1) * cols;
    for (let i = r * cols; i < end; i++) out[i] = rank[i]! < k ? 1 : 0;
  }
}

/**
 * The seed's algorithm done right but still sorting: `rankDescending` (one stable radix sort plus
 * the inverse permutation as an O(N) scatter), then `rank < k`. The rank buffer is reused between
 * calls of the same size; the mask is allocated per call, as every other implementation does.
 */
export function sortScatterImplementation(): Implementation {
  let rank = new Int32Array(0);
  return {
    name: 'sort+scatter',
    threads: 1,
    builtin: true,
    maxElements: Number.POSITIVE_INFINITY,
    async: false,
    run: (loss, cols, numNeg) => {
      if (rank.length !== loss.length) rank = new Int32Array(loss.length);
      rankDescending(loss, cols, { out: rank });
      const out = new Uint8Array(loss.length);
      maskFromRank(rank, cols, numNeg, out);
      return out;
    },
  };
}

/** The O(N) select kernel on the calling thread: `hardNegativeMask`. */
export function kernelImplementation(): Implementation {
  return {
    name: 'kernel',
    threads: 1,
    builtin: true,
    maxElements: Number.POSITIVE_INFINITY,
    async: false,
    run: (loss, cols, numNeg) => hardNegativeMask(loss, cols, numNeg),
  };
}
