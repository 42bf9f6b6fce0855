/**
 * The message the coordinator posts to a pool worker for one contiguous row range, and what the
 * worker answers. Kept small on purpose: three `SharedArrayBuffer` handles (structured clone shares
 * them, nothing is copied) plus a few numbers. Every field is always present so the worker sees one
 * object shape.
 */

/** Hard negative mask of rows `rowStart .. rowEnd - 1` (`selectRows`). */
export const TASK_MASK = 0;
/** Descending ranks of rows `rowStart .. rowEnd - 1` (`rankRows`). */
export const TASK_RANK = 1;
/** Batch-wide phase 1: histogram of the range's keys at `level` under `prefix`, into the task's slot. */
export const TASK_HISTOGRAM = 2;
/** Batch-wide phase 2: write the range's mask for threshold `(shift, prefix)` taking `quota` ties. */
export const TASK_WRITE = 3;

/** Answer of a task that ran to the end with no NaN (a NaN answers its flat index, >= 0). */
export const RESULT_OK = -1;
/** Answer of a task that saw its call's cancel flag and stopped (the call has already settled). */
export const RESULT_CANCELLED = -2;

/** Fault actions a test can inject (see {@link kTestFault}). */
export type TestFaultAction = 'none' | 'throw' | 'exit' | 'crash';

/**
 * A fault the worker injects into one task, for the fault tests only. The worker honours it only
 * when its environment has `HNM_TEST_FAULTS=1`; otherwise the task fails with an error saying so.
 *
 * - `gate`: when given, the worker first stores 1 into `Int32Array(gate)[0]`, notifies, and waits
 *   while it stays 1; the test observes the task running (mid-task) and releases it by storing
 *   another value and notifying. No sleeps on either side.
 * - `action`: then `'throw'` throws inside the task, `'exit'` calls `process.exit(70)` in the
 *   worker thread, `'crash'` raises an uncaught exception that kills the thread without answering,
 *   `'none'` carries on with the task normally (it still honours its call's cancel flag).
 */
export interface TestFault {
  action: TestFaultAction;
  gate: SharedArrayBuffer | null;
}

/** Where a test attaches a {@link TestFault} in a call's options: `{ [kTestFault]: { fault, task } }`. */
export const kTestFault: unique symbol = Symbol.for('hard-negative-mining.testFault');

/** The value under {@link kTestFault}: the fault and the index of the call's task that gets it. */
export interface TestFaultOption {
  fault: TestFault;
  /** Index of the task (in dispatch order, first round) that carries the fault; 0 by default. */
  task?: number;
}

/** One task: a row range of one call. */
export interface MineTask {
  kind: number;
  /** The float32 losses (read as int32 bits): `length` elements from byte `lossAt` of `loss`. */
  loss: SharedArrayBuffer;
  lossAt: number;
  length: number;
  /** The call's staging buffer: control words, counts, histogram slots (see shared-buffers.ts). */
  ctx: SharedArrayBuffer;
  /** The call's output: mask bytes or int32 ranks, `length` elements from byte `outAt`. */
  out: SharedArrayBuffer;
  outAt: number;
  cols: number;
  rowStart: number;
  rowEnd: number;
  nanLargest: boolean;
  /** Batch-wide only: histogram slot (int32 offset into ctx), level, prefix, shift, quota, flags. */
  slot: number;
  level: number;
  prefix: number;
  shift: number;
  quota: number;
  /** The range is known to hold a NaN (nan: 'largest'): use the NaN-aware loops. */
  hasNan: boolean;
  /** Scan for NaN first and answer its index (the histogram phase was skipped). */
  checkNan: boolean;
  fault: TestFault | null;
  /**
   * Ids the coordinator gives each distinct `SharedArrayBuffer` (0 = not tracked, e.g. a small one),
   * so the worker can tell how much shared memory its stale handles pin (see mine-worker.ts).
   */
  lossId: number;
  ctxId: number;
  outId: number;
}
