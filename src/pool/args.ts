/**
 * A pooled call's arguments, read and checked once, before the call is registered.
 *
 * Every value the call uses later comes from this snapshot: getters on `options` or on a `numNeg`
 * array-like run exactly once, here, so one that flips `out` between a shared and a plain array, or
 * detaches or shrinks the loss's buffer, cannot make the call see two different arguments. After the
 * caller's code has run, the views are checked again: a `loss` or `out` that no longer has the length
 * read at first (detached, or a resizable buffer shrunk) is an error here, before anything is
 * registered, so an abandoned call can hold no pool resource.
 */
import { checkBatchCount } from '../batch-wide.ts';
import type { NanOptions } from '../validate.ts';
import { checkCols, checkLoss, checkNan, checkOut, describe, toCounts } from '../validate.ts';
import { isShared } from './shared-buffers.ts';

/** Options of the {@link HardNegativeMiner} methods. */
export interface MineOptions extends NanOptions {
  /** Cancels the call: it rejects with a `DOMException` named `'AbortError'`, its pending tasks are dropped. */
  signal?: AbortSignal;
  /**
   * Where to write the result, `rows * cols` elements: a `Uint8Array` for `mask` and
   * `maskBatchWide`, an `Int32Array` for `rank` (checked as the synchronous API checks it); the call
   * resolves to it. Backed by a `SharedArrayBuffer` (e.g. reused call after call), the workers write
   * into it directly; otherwise the result is staged in the pool's shared memory and copied into it
   * at the end. After a rejection its contents are unspecified: until the call's tasks notice the
   * cancellation (a fraction of a millisecond), workers may still write to a shared `out`.
   */
  out?: Uint8Array | Int32Array;
}

/** What a call runs on: every field read once from the caller's arguments. */
export interface CallArgs<T extends Uint8Array | Int32Array> {
  readonly loss: Float32Array;
  /** `loss.length`, read once. */
  readonly n: number;
  readonly rows: number;
  readonly cols: number;
  readonly nanLargest: boolean;
  readonly signal: AbortSignal | undefined;
  /** The caller's `options.out`, if any. */
  readonly out: T | undefined;
  /** Whether `out` is given and shared (the workers write into it directly). */
  readonly outShared: boolean;
  /** Whether `loss` is shared (the workers read it in place). */
  readonly lossShared: boolean;
}

function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(`\`options.signal\` must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/**
 * The common part, in the sync API's order of checks: `loss`, `cols`, `options.nan`, then
 * `options.signal`; `readRest` reads the method's own arguments (counts, `k`) and `options.out`
 * comes last. Throws the sync API's `TypeError`/`RangeError`.
 */
function snapshot<T extends Uint8Array | Int32Array>(
  loss: Float32Array,
  cols: number,
  options: MineOptions | undefined,
  type: { new (n: number): T; name: string },
  inputs: Readonly<Record<string, unknown>>,
  readRest: (rows: number, n: number) => void,
): CallArgs<T> {
  checkLoss(loss);
  const n = loss.length;
  const rows = checkCols(cols, n);
  const nanLargest = checkNan(options);
  const signal = checkSignal(options?.signal);
  readRest(rows, n);
  const out = checkOut(options?.out, n, type, inputs);
  // The caller's code (getters) has run for the last time: the views must still be what was read.
  if (loss.length !== n) {
    throw new TypeError(
      `\`loss\` changed while the call's arguments were read (length ${n}, now ${loss.length}): its buffer was detached or resized`,
    );
  }
  if (out !== undefined && out.length !== n) {
    throw new TypeError(
      `\`options.out\` changed while the call's arguments were read (length ${n}, now ${out.length}): its buffer was detached or resized`,
    );
  }
  return {
    loss,
    n,
    rows,
    cols,
    nanLargest,
    signal,
    out,
    outShared: out !== undefined && isShared(out),
    lossShared: isShared(loss),
  };
}

/**
 * `mask` arguments. The per-row counts are written into `scratch` (the miner's, reused) or, when it
 * is too short, into a larger array returned as `scratch` for the miner to keep.
 */
export function maskArgs(
  loss: Float32Array,
  cols: number,
  numNeg: number | ArrayLike<number>,
  options: MineOptions | undefined,
  scratch: Int32Array,
): CallArgs<Uint8Array> & { readonly counts: Int32Array; readonly scratch: Int32Array } {
  let store = scratch;
  let rowCount = 0;
  const args = snapshot(loss, cols, options, Uint8Array, { loss, numNeg }, (rows) => {
    if (store.length < rows) store = new Int32Array(Math.max(rows, store.length * 2));
    toCounts(numNeg, rows, cols, store);
    rowCount = rows;
  });
  // A view over the scratch's first rows, built directly: `subarray` goes through the species
  // protocol, which costs microseconds per call here.
  const counts = new Int32Array(store.buffer, store.byteOffset, rowCount);
  return Object.assign(args, { counts, scratch: store });
}

/** `rank` arguments. */
export function rankArgs(
  loss: Float32Array,
  cols: number,
  options: MineOptions | undefined,
): CallArgs<Int32Array> {
  return snapshot(loss, cols, options, Int32Array, { loss }, () => {});
}

/** `maskBatchWide` arguments, with the batch count `k`. */
export function batchWideArgs(
  loss: Float32Array,
  cols: number,
  k: number,
  options: MineOptions | undefined,
): CallArgs<Uint8Array> & { readonly k: number } {
  let count = 0;
  const args = snapshot(loss, cols, options, Uint8Array, { loss }, (_rows, n) => {
    count = checkBatchCount(k, n);
  });
  return Object.assign(args, { k: count });
}
