/**
 * Piscina worker entry: runs the same kernels as the synchronous API on one contiguous row range,
 * reading and writing the call's `SharedArrayBuffer`s in place. A thin wrapper: no validation (the
 * coordinator validated the call), one `KernelScratch` per kernel and thread, allocated once per
 * column count; per task only a few typed-array views are created.
 *
 * Every task answers a number: -1 (done), the flat index of the first NaN it met, or -2 when it saw
 * its call's cancel flag (checked before starting and between chunks of about 2^18 elements, so an
 * aborted or closed call frees its threads within a fraction of a millisecond).
 *
 * Shared memory and this thread's GC: every task message brings new handles to the call's
 * `SharedArrayBuffer`s, and a shared backing store is freed only once every thread has collected its
 * handles. This thread allocates almost nothing, so its GC would practically never run, and a caller
 * passing fresh buffers call after call (fresh results, a new `allocLoss` per batch) would see the
 * worker pin all of them: measured, 200 calls of 2.2 MB results kept 420 MB alive. So the worker
 * counts the bytes of the distinct large buffers it has been handed (the coordinator numbers them)
 * and, past {@link GC_BYTES}, runs a full GC before the next task, where the handles of finished
 * tasks die (1-3 ms, against the 100+ ms it takes to mine that many bytes). Past {@link GC_TASKS}
 * tasks, which bounds the small buffers' handles, a young-generation GC (0.2-1 ms) does, and every
 * 16th collection (of either kind) is a full one, for handles that outlived a young collection. (Young collections alone were
 * not enough for the large buffers: tasks that wait in this thread's queue, see balancer.ts, can see
 * their handles promoted, and 128 calls of 1 MiB fresh results then stayed pinned.)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { histogramRefine, histogramTop, writeRange } from '../src/kernel/batch-wide.ts';
import { rankRows } from '../src/kernel/rank-rows.ts';
import type { KernelScratch } from '../src/kernel/scratch.ts';
import { scratchFor } from '../src/kernel/scratch.ts';
import { firstNan, selectRows } from '../src/kernel/select-rows.ts';
import type { MineTask, TestFault } from '../src/pool/protocol.ts';
import {
  RESULT_CANCELLED,
  RESULT_OK,
  TASK_HISTOGRAM,
  TASK_MASK,
  TASK_RANK,
  TASK_WRITE,
} from '../src/pool/protocol.ts';
import { CTRL_CANCEL, CTRL_WORDS, HIST_WORDS } from '../src/pool/shared-buffers.ts';

/**
 * One scratch per kernel: `rankRows` leaves `hist` dirty while `selectRows` expects it zeroed on
 * entry (it loops forever on a dirty one), so the two never share a `KernelScratch`.
 */
let maskScratch: KernelScratch | undefined;
let rankScratch: KernelScratch | undefined;

/** Distinct large shared buffers seen since the last collection (ids from the coordinator), and their bytes. */
const GC_BYTES = Number(process.env.HNM_WORKER_GC_BYTES) || 128 * 1024 * 1024;
const seen = new Set<number>();
let seenBytes = 0;
/** Tasks since the last collection: small buffers are not counted by id, so bound their handles by number. */
const GC_TASKS = Number(process.env.HNM_WORKER_GC_TASKS) || 4096;
let tasksSince = 0;
let collections = 0;
const collect = exposeGc();

/** Fault injection is for the fault tests only, and only when the environment asks for it. */
const faultsEnabled = process.env.HNM_TEST_FAULTS === '1';
if (faultsEnabled && process.env.HNM_TEST_FAIL_LOAD === '1') throw new Error('injected worker load failure');

/** Elements between two looks at the cancel flag. */
const CHUNK_ELEMENTS = 1 << 18;

/** Runs one task (see protocol.ts); answers -1, a NaN's flat index, or -2 (cancelled). */
export default function mineTask(task: MineTask): number | Promise<number> {
  if (task.fault !== null) {
    const crashed = injectFault(task.fault);
    if (crashed !== undefined) return crashed;
  }
  if (seenBytes >= GC_BYTES || ++tasksSince >= GC_TASKS) releaseHandles();
  if (task.lossId !== 0) note(task.lossId, task.loss.byteLength);
  if (task.ctxId !== 0) note(task.ctxId, task.ctx.byteLength);
  if (task.outId !== 0) note(task.outId, task.out.byteLength);
  const ctrl = new Int32Array(task.ctx, 0, CTRL_WORDS);
  if (Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
  const bits = new Int32Array(task.loss, task.lossAt, task.length);
  const cols = task.cols;
  const rowEnd = task.rowEnd;
  const chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / cols));
  const nanLargest = task.nanLargest;
  switch (task.kind) {
    case TASK_MASK: {
      const scratch = (maskScratch = scratchFor(maskScratch, cols));
      const counts = new Int32Array(task.ctx, CTRL_WORDS * 4, task.length / cols);
      const out = new Uint8Array(task.out, task.outAt, task.length);
      for (let r = task.rowStart; r < rowEnd; ) {
        const e = Math.min(rowEnd, r + chunkRows);
        const nanAt = selectRows(bits, cols, r, e, counts, out, scratch, nanLargest);
        if (nanAt >= 0) return nanAt;
        r = e;
        if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      }
      return RESULT_OK;
    }
    case TASK_RANK: {
      const scratch = (rankScratch = scratchFor(rankScratch, cols));
      const out = new Int32Array(task.out, task.outAt, task.length);
      for (let r = task.rowStart; r < rowEnd; ) {
        const e = Math.min(rowEnd, r + chunkRows);
        const nanAt = rankRows(bits, cols, r, e, out, scratch, nanLargest);
        if (nanAt >= 0) return nanAt;
        r = e;
        if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      }
      return RESULT_OK;
    }
    case TASK_HISTOGRAM: {
      const hist = new Int32Array(task.ctx);
      const slot = task.slot;
      hist.fill(0, slot, slot + HIST_WORDS);
      let firstNanAt = -1;
      for (let r = task.rowStart; r < rowEnd; ) {
        const e = Math.min(rowEnd, r + chunkRows);
        if (task.level === 0) {
          const nanAt = histogramTop(bits, r * cols, e * cols, hist, slot, nanLargest);
          if (nanAt >= 0 && firstNanAt < 0) {
            firstNanAt = nanAt;
            if (!nanLargest) return nanAt;
          }
        } else {
          histogramRefine(bits, r * cols, e * cols, task.level, task.prefix, hist, slot, task.hasNan);
        }
        r = e;
        if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      }
      return firstNanAt;
    }
    case TASK_WRITE: {
      if (task.checkNan && !nanLargest) {
        const nanAt = firstNan(bits, task.rowStart * cols, rowEnd * cols);
        if (nanAt >= 0) return nanAt;
      }
      const out = new Uint8Array(task.out, task.outAt, task.length);
      let quota = task.quota;
      for (let r = task.rowStart; r < rowEnd; ) {
        const e = Math.min(rowEnd, r + chunkRows);
        quota = writeRange(bits, r * cols, e * cols, task.shift, task.prefix, quota, out, task.hasNan);
        r = e;
        if (r < rowEnd && Atomics.load(ctrl, CTRL_CANCEL) !== 0) return RESULT_CANCELLED;
      }
      return RESULT_OK;
    }
    default:
      throw new Error(`unknown task kind ${task.kind}`);
  }
}

function note(id: number, bytes: number): void {
  if (seen.has(id)) return;
  seen.add(id);
  seenBytes += bytes;
}

/** Collects the handles of finished tasks (see the file comment). */
function releaseHandles(): void {
  const large = seenBytes >= GC_BYTES;
  seen.clear();
  seenBytes = 0;
  tasksSince = 0;
  if (collect === undefined) return;
  collections++;
  if (large || collections % 16 === 0) collect();
  else collect({ type: 'minor' });
}

/**
 * V8's `gc()` for this thread. Worker `execArgv` cannot carry V8 flags, so the flag is set at run
 * time and the function taken from a fresh context (the approach of jest's leak detector). The flag
 * is process-wide and only exposes `gc` to contexts created later; it changes nothing else.
 */
function exposeGc(): ((options?: { type: 'minor' | 'major' }) => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
  } catch {
    return undefined;
  }
}

/**
 * Test-only faults (see `TestFault`): handshake through the gate if any, then throw, exit the
 * thread, crash it without answering, or carry on (undefined).
 */
function injectFault(fault: TestFault): Promise<number> | undefined {
  if (!faultsEnabled) throw new Error('test fault injection is disabled (set HNM_TEST_FAULTS=1)');
  if (fault.gate !== null) {
    const gate = new Int32Array(fault.gate);
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    Atomics.wait(gate, 0, 1);
  }
  switch (fault.action) {
    case 'throw':
      throw new Error('injected fault');
    case 'exit':
      process.exit(70);
      break;
    case 'crash':
      return new Promise<number>(() => {
        queueMicrotask(() => {
          throw new Error('injected crash');
        });
      });
  }
  return undefined;
}
