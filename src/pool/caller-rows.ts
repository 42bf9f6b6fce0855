/**
 * The calling thread's part of a dispatched mask call over a loss that is not in shared memory: it
 * copies rows into the call's staging buffer from the front, for the pool threads, and mines rows
 * itself from the back, straight from the caller's array.
 *
 * Why: such a loss must be copied before a thread can read it, and that copy runs on the calling
 * thread. With the threads mining every row, the call costs the threads' kernel time plus the copy,
 * and on a machine with few cores the copy takes CPU time the threads need (on 2 cores the call
 * measured 1.5-1.7x the same call on an `allocLoss` input, `node dist/bench/crossover.bench.js`).
 * Rows the calling thread mines need no copy, and it mines them from the caller's plain memory, which
 * its kernel reads faster than shared memory.
 *
 * The protocol (shared-buffers.ts): the threads take claims from the front counter
 * (`CTRL_NEXT_CLAIM`), the calling thread from the back counter (`CTRL_BACK_CLAIM`), and each side
 * must then win the claim's owner word. A claim reaches at most one thread and the calling thread at
 * most once, so exactly one side mines it; the side that loses stops, as every claim past it is the
 * other side's. The copy runs a few claims ahead of the threads' front, never past the claim the
 * calling thread takes next, so the only rows copied in vain are those of the few claims it takes
 * after the copy reached them (where the ends meet, or all of a call whose threads start late); a
 * thread waiting for rows (`CTRL_STAGED_ROWS`) waits at most about one claim of the calling
 * thread's kernel time.
 *
 * This blocks the calling thread for its share of the kernel time as well as for the copy (which it
 * blocked before): an `allocLoss` input keeps it free.
 */
import {
  CTRL_BACK_CLAIM,
  CTRL_NAN_MET,
  CTRL_NEXT_CLAIM,
  CTRL_STAGED_ROWS,
  faultIn,
  OWNER_CALLER,
  OWNER_NONE,
  OWNER_THREAD,
} from './shared-buffers.ts';

/** What the calling thread did: the first NaN it met (flat index, or -1), and the rows it mined. */
export interface CallerShare {
  nanAt: number;
  rows: number;
}

/** The arrays and sizes of one call that {@link copyAndMine} works on. */
export interface TwoEndedCall {
  /** The caller's losses (`rows * cols`), and the staging buffer's copy of them. */
  readonly loss: Float32Array;
  readonly staged: Float32Array;
  readonly cols: number;
  readonly rows: number;
  /** Rows per claim (plan.ts's `planClaims`), and one owner word per claim. */
  readonly claim: number;
  readonly owners: Int32Array;
  /** The call's control words (shared-buffers.ts). */
  readonly ctrl: Int32Array;
  /** Claims the copy keeps ahead of the threads' front. */
  readonly lead: number;
  /** Rows copied between two notifications of `CTRL_STAGED_ROWS`. */
  readonly blockRows: number;
  /** The calling thread's kernel; `undefined`: it only copies (the threads mine every row). */
  readonly mine: CallerKernel | undefined;
  /**
   * A fresh result to fault in (one store per 4 KiB page) while the threads work, in pieces between
   * the copy's turns and before the calling thread's own claims, so that the threads, not the end of
   * the call, absorb its cost; `undefined`: none.
   */
  readonly fault: Uint8Array | undefined;
}

/** Bytes of a fresh result faulted in between two looks at the threads' front (64 pages). */
const FAULT_PIECE = 1 << 18;
const NOTHING = new Uint8Array(0);

/** The calling thread's kernel on rows `r .. e - 1` of a call: the first NaN's flat index, or -1. */
export type CallerKernel = (rowStart: number, rowEnd: number) => number;

/**
 * Runs the calling thread's part (see the file's comment) until the two ends meet, the threads meet
 * a NaN, or it meets one itself (`nanAt`; the threads still mine every earlier claim, so the call's
 * first NaN is the smallest answer). It leaves every row the threads may claim copied and `fault`
 * faulted in. Cost: the copy of the threads' rows, the faults, and the kernel on its own claims; the
 * caller's thread is busy throughout.
 */
export function copyAndMine(call: TwoEndedCall): CallerShare {
  const { loss, staged, cols, rows, claim, owners, ctrl, lead, blockRows, mine } = call;
  const fault = call.fault ?? NOTHING;
  let copied = 0;
  let faulted = 0;
  /** Rows from here on are the calling thread's (its lowest claim won so far). */
  let low = rows;
  let mining = mine !== undefined;
  let nanAt = -1;
  for (;;) {
    const front = Atomics.load(ctrl, CTRL_NEXT_CLAIM);
    const next = Atomics.load(ctrl, CTRL_BACK_CLAIM) - 1; // the claim it takes next
    const want = mining ? Math.min(low, (front + lead) * claim, Math.max(0, next) * claim) : low;
    if (copied < want) {
      const e = Math.min(want, copied + blockRows);
      staged.set(loss.subarray(copied * cols, e * cols), copied * cols);
      copied = e;
      Atomics.store(ctrl, CTRL_STAGED_ROWS, e);
      Atomics.notify(ctrl, CTRL_STAGED_ROWS);
      continue;
    }
    if (faulted < fault.length) {
      const e = Math.min(fault.length, faulted + FAULT_PIECE);
      faultIn(fault, faulted, e);
      faulted = e;
      continue;
    }
    if (!mining || mine === undefined) return { nanAt, rows: rows - low };
    if (Atomics.load(ctrl, CTRL_NAN_MET) !== 0) {
      // A thread met a NaN before every claim of ours: ours cannot change the answer. The copy still
      // goes on up to `low`: a thread may have won a claim just before the flag went up, and waits
      // for its rows.
      mining = false;
      continue;
    }
    const c = Atomics.sub(ctrl, CTRL_BACK_CLAIM, 1) - 1;
    if (c < 0 || Atomics.compareExchange(owners, c, OWNER_NONE, OWNER_CALLER) !== OWNER_NONE) {
      mining = false; // the ends met: every claim below `low` is the threads'
      continue;
    }
    low = c * claim;
    nanAt = mine(low, Math.min(rows, low + claim));
    if (nanAt >= 0) mining = false;
  }
}

/**
 * A pool thread's next claim of a two-ended call (`owners` given) or of a one-ended one: the claim's
 * index, or -1 when no claim is left for the threads (the front counter passed the last of the
 * `claims`, or the calling thread won this one, and so every later one). Cost: an atomic add and,
 * two-ended, a compare-exchange.
 */
export function threadClaim(ctrl: Int32Array, owners: Int32Array | undefined, claims: number): number {
  const c = Atomics.add(ctrl, CTRL_NEXT_CLAIM, 1);
  if (c >= claims) return -1;
  if (owners !== undefined && Atomics.compareExchange(owners, c, OWNER_NONE, OWNER_THREAD) !== OWNER_NONE)
    return -1;
  return c;
}
