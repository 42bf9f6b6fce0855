import { getEventListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allocLoss,
  HardNegativeMiner,
  hardNegativeMask,
  hardNegativeMaskBatchWide,
  rankDescending,
  referenceMask,
} from '../src/index.ts';
import { callAffinityBalancer, tagCall } from '../src/pool/balancer.ts';
import { type CallerKernel, copyAndMine, threadClaim } from '../src/pool/caller-rows.ts';
import {
  InlineDecision,
  METHOD_MASK,
  METHOD_RANK,
  MIN_POOLED,
  minPooled,
  shapeSlot,
} from '../src/pool/inline-decision.ts';
import { INLINE_BELOW, planClaims, planRanges } from '../src/pool/plan.ts';
import {
  CTRL_BACK_CLAIM,
  CTRL_NAN_MET,
  CTRL_STAGED_ROWS,
  CTRL_WORDS,
  SharedStaging,
} from '../src/pool/shared-buffers.ts';
import { batch, firstDifference, generate, prng, SPECIAL_VALUES } from './support/adversarial.ts';
import { faultyMiner } from './support/gate.ts';
import { settledArrayBuffers } from './support/memory.ts';
import { syncError } from './support/sync-error.ts';

/** Every call goes to the pool (no inline path), on two threads: most tests share this miner. */
const pooled = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
afterAll(() => pooled.close());
/** The same, on the fault-injecting fixture worker (test/fixtures/fault-worker.ts). */
const faulty = faultyMiner({ threads: 2, inlineBelow: 0 });
afterAll(() => faulty.miner.close());

const SSD_COLS = 8732;

function expLoss(rows: number, cols: number, seed: number, shared: boolean): Float32Array {
  const random = prng(seed);
  const loss = shared ? allocLoss(rows, cols) : new Float32Array(rows * cols);
  for (let i = 0; i < loss.length; i++) loss[i] = -Math.log(1 - random());
  return loss;
}

function ssdCounts(rows: number, seed: number): number[] {
  const random = prng(seed);
  return Array.from({ length: rows }, () => Math.floor(random() * 601));
}

/** Whether a promise has settled, without waiting for it. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const first = await Promise.race([
    promise.then(
      () => 'settled',
      () => 'settled',
    ),
    Promise.resolve(pending),
  ]);
  return first !== pending;
}

describe('HardNegativeMiner options', () => {
  it('defaults to one thread per CPU and the measured inline threshold', () => {
    const miner = new HardNegativeMiner();
    expect(miner.threads).toBe(availableParallelism());
    expect(miner.inlineBelow).toBe(INLINE_BELOW);
    expect(miner.inlineMeasured).toBe(true);
    expect(new HardNegativeMiner({ inlineBelow: 5 }).inlineMeasured).toBe(false);
    expect(miner.closed).toBe(false);
  });

  it('rejects bad options with messages naming them', () => {
    expect(() => new HardNegativeMiner({ threads: 0 })).toThrow(
      new RangeError('`threads` must be a positive integer, got 0'),
    );
    expect(() => new HardNegativeMiner({ threads: 1.5 })).toThrow(
      '`threads` must be a positive integer, got 1.5',
    );
    expect(() => new HardNegativeMiner({ threads: -2 })).toThrow(RangeError);
    expect(() => new HardNegativeMiner({ threads: Number.NaN })).toThrow('got NaN');
    expect(() => new HardNegativeMiner({ threads: '2' as unknown as number })).toThrow(
      new TypeError('`threads` must be a number, got "2"'),
    );
    expect(() => new HardNegativeMiner({ inlineBelow: -1 })).toThrow(
      new RangeError('`inlineBelow` must be an integer >= 0, got -1'),
    );
    expect(() => new HardNegativeMiner(null as unknown as undefined)).toThrow(
      new TypeError('`options` must be an object, got null'),
    );
  });
});

describe('allocLoss', () => {
  it('returns a zeroed Float32Array over a SharedArrayBuffer', () => {
    const loss = allocLoss(3, 5);
    expect(loss).toBeInstanceOf(Float32Array);
    expect(loss.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(loss.length).toBe(15);
    expect(loss.every((x) => x === 0)).toBe(true);
    expect(allocLoss(0, 4).length).toBe(0);
  });

  it('validates rows and cols', () => {
    expect(() => allocLoss(-1, 4)).toThrow(new RangeError('`rows` must be an integer >= 0, got -1'));
    expect(() => allocLoss(2, 0)).toThrow(new RangeError('`cols` must be a positive integer, got 0'));
    expect(() => allocLoss(2, 2.5)).toThrow(RangeError);
    expect(() => allocLoss('2' as unknown as number, 4)).toThrow(TypeError);
    expect(() => allocLoss(1 << 16, 1 << 16)).toThrow('`rows * cols` must be at most 2147483647');
  });
});

describe('callAffinityBalancer', () => {
  type Balancer = ReturnType<typeof callAffinityBalancer>;
  const worker = (id: number, currentUsage: number) =>
    ({
      id,
      currentUsage,
      terminating: false,
      destroyed: false,
    }) as unknown as Parameters<Balancer>[1][number];
  const task = (call: number) => tagCall({}, call) as unknown as Parameters<Balancer>[0];

  it('gives a busy thread more tasks of its own call only, up to the limit; other calls wait for an idle one', () => {
    let queued = 0;
    const balance = callAffinityBalancer(3, () => queued++);
    const callA = 1;
    const callB = 2;
    const w0 = worker(0, 0);
    const w1 = worker(1, 0);
    expect(balance(task(callA), [w0, w1])).toBe(w0); // idle first
    w0.currentUsage = 1;
    expect(balance(task(callA), [w0, w1])).toBe(w1); // an idle one before a busy one
    w1.currentUsage = 1;
    expect(balance(task(callA), [w0, w1])).toBe(w0); // both busy with this call: queue on the least used
    w0.currentUsage = 2;
    expect(balance(task(callA), [w0, w1])).toBe(w1);
    w1.currentUsage = 3;
    w0.currentUsage = 3;
    expect(balance(task(callA), [w0, w1])).toBeNull(); // both at the limit
    w0.currentUsage = 1;
    expect(balance(task(callB), [w0, w1])).toBeNull(); // another call never queues behind callA
    w1.currentUsage = 0;
    expect(balance(task(callB), [w0, w1])).toBe(w1);
    w1.currentUsage = 1;
    expect(balance(task(callA), [w0, w1])).toBe(w0); // w1 now works for callB
    expect(balance(task(callB), [w0, w1])).toBe(w1);
    expect(balance({} as Parameters<Balancer>[0], [w0, worker(2, 1)])).toBeNull(); // untagged: idle only
    expect(queued).toBe(4); // the four tasks posted to a busy thread
  });

  it("through Piscina: a call's tasks for one thread queue in it (the tag reaches the balancer)", async () => {
    await using miner = new HardNegativeMiner({ threads: 1, inlineBelow: 0 });
    const rows = 150; // 150 x 8732 elements: four batch-wide range tasks (planRanges) per round
    expect(planRanges(rows, SSD_COLS, 1).length - 1).toBe(4);
    const loss = expLoss(rows, SSD_COLS, 5, true);
    const counts = ssdCounts(rows, 6);
    // Mask and rank post one claiming task per thread: nothing queues.
    expect(
      firstDifference(await miner.mask(loss, SSD_COLS, counts), hardNegativeMask(loss, SSD_COLS, counts)),
    ).toBe(-1);
    expect(miner.stats.queuedTasks).toBe(0);
    // A batch-wide round posts its four tasks at once: three queue behind the first, every round.
    expect(
      firstDifference(
        await miner.maskBatchWide(loss, SSD_COLS, 9000),
        hardNegativeMaskBatchWide(loss, SSD_COLS, 9000),
      ),
    ).toBe(-1);
    const queued = miner.stats.queuedTasks;
    expect(queued).toBeGreaterThanOrEqual(6); // a histogram round and the write round at least
    expect(queued % 3).toBe(0);
  });
});

/** `(rows, cols, threads)` shapes the task planners are checked on. */
const PLAN_SHAPES = [
  [1024, 8732, 2],
  [7, 8732, 2],
  [1, 8732, 4],
  [3, 10, 2],
  [5, 1 << 20, 3],
] as const;

describe('planClaims', () => {
  it('claims whole rows of about 2^16 elements, at most an even share, one task per thread that gets one', () => {
    for (const [rows, cols, threads] of [...PLAN_SHAPES, [100_000, 1, 4], [2 ** 31 - 1, 1, 2]] as const) {
      const { claim, claims, tasks } = planClaims(rows, cols, threads);
      expect(claims).toBe(Math.ceil(rows / claim));
      expect(Number.isInteger(claim) && claim >= 1).toBe(true);
      expect(claim).toBeLessThanOrEqual(Math.max(1, Math.ceil(rows / threads)));
      expect(claim === 1 || claim * cols <= 1 << 16).toBe(true);
      expect(tasks).toBe(Math.min(threads, Math.ceil(rows / claim)));
      // The claim counter (an int32 of claims, not rows) stays far from overflow.
      expect(Math.ceil(rows / claim) + tasks).toBeLessThan(2 ** 31);
    }
    expect(planClaims(1024, 8732, 2)).toEqual({ claim: 7, claims: 147, tasks: 2 });
    expect(planClaims(1, 8732, 4)).toEqual({ claim: 1, claims: 1, tasks: 1 });
    expect(planClaims(3, 8732, 2)).toEqual({ claim: 2, claims: 2, tasks: 2 });
  });
});

describe('planRanges', () => {
  it('covers the rows with contiguous ranges, a few per thread, none tiny', () => {
    for (const [rows, cols, threads] of PLAN_SHAPES) {
      const bounds = planRanges(rows, cols, threads);
      const tasks = bounds.length - 1;
      expect(bounds[0]).toBe(0);
      expect(bounds[tasks]).toBe(rows);
      expect(tasks).toBeGreaterThanOrEqual(1);
      expect(tasks).toBeLessThanOrEqual(Math.min(rows, threads * 4));
      for (let t = 0; t < tasks; t++)
        expect(bounds[t + 1]! - bounds[t]!).toBeGreaterThanOrEqual(Math.floor(rows / tasks));
    }
    const tasks = (rows: number, cols: number, threads: number) => planRanges(rows, cols, threads).length - 1;
    expect(tasks(1024, 8732, 2)).toBe(8); // a few per thread
    expect(tasks(150, 8732, 2)).toBe(4); // >= 2^18 elements each
    expect(tasks(37, 8732, 2)).toBe(2); // too small for two tasks a thread: one each
    expect(tasks(8, 8732, 2)).toBe(2); // one per thread rather than one task on one thread
    expect(tasks(4, 8192, 2)).toBe(2);
    expect(tasks(2, 4096, 2)).toBe(1); // too small to split
    expect(tasks(3, 10, 2)).toBe(1);
    expect(tasks(1, 8732, 4)).toBe(1);
  });
});

describe('SharedStaging', () => {
  it('reuses released buffers (best fit) and bounds its free list', () => {
    const staging = new SharedStaging(2, 1 << 20);
    const a = staging.acquire(3000);
    const b = staging.acquire(5000);
    expect(a.byteLength).toBeGreaterThanOrEqual(3000);
    expect(b.byteLength).toBeGreaterThanOrEqual(5000);
    staging.release(a);
    staging.release(b);
    expect(staging.stats.buffers).toBe(2);
    expect(staging.acquire(2000)).toBe(a);
    expect(staging.acquire(4500)).toBe(b);
    expect(staging.acquire(10)).not.toBe(a);
    staging.release(a);
    staging.release(b);
    // Over the count bound: the buffer released longest ago (a) is dropped, not the new one.
    const c = new SharedArrayBuffer(4096);
    expect(staging.release(c)).toBe(a.byteLength);
    expect(staging.stats.buffers).toBe(2);
    expect(staging.acquire(4000)).toBe(c);
    expect(staging.acquire(4500)).toBe(b);
    // Over the byte bound: as many old ones as needed go; one larger than the bound is itself dropped.
    const big = new SharedArrayBuffer(1 << 19);
    staging.release(b);
    staging.release(c);
    expect(staging.release(big)).toBe(b.byteLength); // the count bound again: [c, big]
    expect(staging.release(new SharedArrayBuffer((1 << 20) - 4096))).toBe(c.byteLength + big.byteLength);
    expect(staging.stats.buffers).toBe(1);
    expect(staging.release(new SharedArrayBuffer((1 << 20) + 1))).toBe((1 << 20) + 1);
    staging.clear();
    expect(staging.stats).toEqual({ buffers: 0, bytes: 0 });
  });
});

describe('pool results equal the synchronous API', () => {
  it('mask and rank on random adversarial batches (odd shapes, counts beyond cols)', async () => {
    await fc.assert(
      fc.asyncProperty(batch({ maxRows: 9, maxCols: 60, nan: true }), fc.boolean(), async (b, shared) => {
        let loss: Float32Array = b.loss;
        if (shared) {
          loss = allocLoss(b.rows, b.cols);
          loss.set(b.loss);
        }
        const mask = await pooled.mask(loss, b.cols, b.counts, { nan: 'largest' });
        expect(mask.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(firstDifference(mask, referenceMask(b.loss, b.cols, b.counts, { nan: 'largest' }))).toBe(-1);
        const rank = await pooled.rank(loss, b.cols, { nan: 'largest' });
        expect(firstDifference(rank, rankDescending(b.loss, b.cols, { nan: 'largest' }))).toBe(-1);
      }),
      { numRuns: 120 },
    );
  });

  it('SSD-sized batches split over several tasks, shared and copied input, odd row counts', async () => {
    for (const [rows, shared] of [
      [37, true],
      [37, false],
      [8, true],
      [1, false],
    ] as const) {
      const loss = expLoss(rows, SSD_COLS, rows, shared);
      const counts = ssdCounts(rows, rows + 1);
      const expected = hardNegativeMask(loss, SSD_COLS, counts);
      expect(firstDifference(await pooled.mask(loss, SSD_COLS, counts), expected)).toBe(-1);
      expect(
        firstDifference(await pooled.mask(loss, SSD_COLS, 300), hardNegativeMask(loss, SSD_COLS, 300)),
      ).toBe(-1);
    }
    const loss = expLoss(9, SSD_COLS, 3, true);
    expect(firstDifference(await pooled.rank(loss, SSD_COLS), rankDescending(loss, SSD_COLS))).toBe(-1);
  });

  it('reads views that start inside their buffer (shared and not)', async () => {
    const cols = 20000;
    const whole = expLoss(6, cols, 9, true);
    const view = whole.subarray(cols, 5 * cols);
    const plain = Float32Array.from(whole).subarray(cols, 5 * cols);
    const expected = hardNegativeMask(view, cols, [1, 500, 19999, 7]);
    expect(firstDifference(await pooled.mask(view, cols, [1, 500, 19999, 7]), expected)).toBe(-1);
    expect(firstDifference(await pooled.mask(plain, cols, [1, 500, 19999, 7]), expected)).toBe(-1);
  });

  it('adversarial values: ties, -0/+0, infinities, denormals, NaN as largest', async () => {
    const cols = 30011;
    const random = prng(5);
    const loss = generate(5, cols, () => {
      const r = random();
      if (r < 0.5) return SPECIAL_VALUES[Math.floor(random() * SPECIAL_VALUES.length)]!;
      if (r < 0.55) return Number.NaN;
      return Math.floor(random() * 4);
    });
    for (const k of [0, 1, 17, 15000, cols - 1, cols]) {
      const expected = hardNegativeMask(loss, cols, k, { nan: 'largest' });
      expect(firstDifference(await pooled.mask(loss, cols, k, { nan: 'largest' }), expected)).toBe(-1);
    }
    expect(
      firstDifference(
        await pooled.rank(loss, cols, { nan: 'largest' }),
        rankDescending(loss, cols, { nan: 'largest' }),
      ),
    ).toBe(-1);
  });

  it('B < threads and B = 1 on a wider pool; small calls run inline with the same result', async () => {
    await using miner = new HardNegativeMiner({ threads: 3 });
    for (const rows of [1, 2]) {
      const loss = expLoss(rows, 200_000, rows, true);
      expect(planRanges(rows, 200_000, 3).length - 1).toBe(rows);
      expect(
        firstDifference(await miner.mask(loss, 200_000, 600), hardNegativeMask(loss, 200_000, 600)),
      ).toBe(-1);
    }
    const one = expLoss(1, SSD_COLS, 2, false); // below inlineBelow: calling thread
    const mask = await miner.mask(one, SSD_COLS, [250]);
    expect(mask.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(firstDifference(mask, hardNegativeMask(one, SSD_COLS, [250]))).toBe(-1);
    expect(firstDifference(await miner.rank(one, SSD_COLS), rankDescending(one, SSD_COLS))).toBe(-1);
    expect(await miner.mask(new Float32Array(0), 3, 1)).toEqual(new Uint8Array(0));
  });
});

describe('a loss not in shared memory: the calling thread mines from the back (caller-rows.ts)', () => {
  // 300 rows of 1000 columns: claims of 65 rows (planClaims), 5 claims on one thread.
  const cols = 1000;
  const rows = 300;
  const counts = ssdCounts(rows, 3).map((k) => Math.min(k, cols));

  it('with its thread held before its first claim, the calling thread mines every row; the mask is exact', async () => {
    const one = faultyMiner({ threads: 1, inlineBelow: 0 });
    await using miner = one.miner;
    const loss = expLoss(rows, cols, 11, false);
    const before = miner.stats.callerRows;
    const g = one.arm('none', { gated: true });
    const call = miner.mask(loss, cols, counts);
    // The calling thread's part ran before mask() returned: the thread has not claimed a row.
    expect(miner.stats.callerRows - before).toBe(rows);
    await g.reached;
    g.release();
    expect(firstDifference(await call, referenceMask(loss, cols, counts))).toBe(-1);
  });

  it('the caller may overwrite its loss as soon as mask() returns: every row was copied or mined by then', async () => {
    const two = faultyMiner({ threads: 2, inlineBelow: 0 });
    await using miner = two.miner;
    const loss = expLoss(rows, cols, 15, false);
    const expected = referenceMask(loss, cols, counts);
    const g = two.arm('none', { gated: true }); // the call's one task: held before its first claim
    const call = miner.mask(loss, cols, counts);
    loss.fill(Number.NaN);
    await g.reached;
    g.release();
    expect(firstDifference(await call, expected)).toBe(-1);
  });

  it('the first NaN in row order is reported, whichever side met it', async () => {
    const one = faultyMiner({ threads: 1, inlineBelow: 0 });
    await using miner = one.miner;
    const loss = expLoss(rows, cols, 12, false);
    loss[290 * cols + 7] = Number.NaN; // in the last claim, which the calling thread takes first
    const late = syncError(() => hardNegativeMask(loss, cols, counts));
    let before = miner.stats.callerRows;
    let g = one.arm('none', { gated: true });
    let call = miner.mask(loss, cols, counts);
    // It stopped at its NaN: only the last claim (rows 260..299) is its own; the thread takes the rest.
    expect(miner.stats.callerRows - before).toBe(rows - 260);
    await g.reached;
    g.release();
    await expect(call).rejects.toThrow(late);
    expect(String(late)).toMatch(/row 290, column 7/);

    loss[10 * cols + 3] = Number.NaN; // now also in the thread's first claim
    before = miner.stats.callerRows;
    g = one.arm('none', { gated: true });
    call = miner.mask(loss, cols, counts);
    expect(miner.stats.callerRows - before).toBe(rows - 260);
    await g.reached;
    g.release();
    await expect(call).rejects.toThrow(/row 10, column 3/);
    loss[10 * cols + 3] = 1;
    loss[290 * cols + 7] = 1;
    expect(firstDifference(await miner.mask(loss, cols, counts), referenceMask(loss, cols, counts))).toBe(-1);
  });

  it('racing on 1, 2 and 3 threads over 1 to 40 claims, with NaNs anywhere: the synchronous mask or its first-NaN error', async () => {
    const random = prng(31);
    const miners = [1, 2, 3].map((threads) => new HardNegativeMiner({ threads, inlineBelow: 0 }));
    try {
      for (let i = 0; i < 60; i++) {
        const miner = miners[i % 3]!;
        const c = [7, 1000, 8732, 70000][Math.floor(random() * 4)]!;
        const claimRows = Math.max(1, Math.floor(65536 / c));
        const r = 1 + Math.floor(random() * Math.min(40 * claimRows, Math.floor(600_000 / c)));
        const loss = expLoss(r, c, i, false);
        for (let j = Math.floor(random() * 3); j > 0; j--)
          loss[Math.floor(random() * loss.length)] = Number.NaN;
        const k = Array.from({ length: r }, () => Math.floor(random() * (c + 1)));
        let expected: Uint8Array | Error;
        try {
          expected = hardNegativeMask(loss, c, k);
        } catch (error) {
          expected = error as Error;
        }
        const call = miner.mask(loss, c, k);
        if (expected instanceof Error) await expect(call).rejects.toThrow(expected);
        else expect(firstDifference(await call, expected)).toBe(-1);
      }
      expect(miners.every((m) => m.stats.callerRows > 0)).toBe(true);
    } finally {
      await Promise.all(miners.map((m) => m.close()));
    }
  });

  it('a stale worker file (from before shared claims) fails the call at once instead of waiting forever', async () => {
    await using miner = new HardNegativeMiner({
      threads: 2,
      inlineBelow: 0,
      workerUrl: fileURLToPath(new URL('./fixtures/stale-worker.ts', import.meta.url)),
    });
    const shared = expLoss(rows, cols, 16, true);
    expect(
      firstDifference(await miner.mask(shared, cols, counts), hardNegativeMask(shared, cols, counts)),
    ).toBe(-1);
    const plain = Float32Array.from(shared);
    await expect(miner.mask(plain, cols, counts)).rejects.toThrow(
      /failed in a worker thread: .*unknown task kind 4/,
    );
  });

  it('both sides mine: every row once, the same mask as the synchronous call, and a shared loss is left to the threads', async () => {
    const loss = expLoss(64, SSD_COLS, 13, false);
    const counts64 = ssdCounts(64, 14);
    const expected = hardNegativeMask(loss, SSD_COLS, counts64);
    for (let i = 0; i < 10; i++)
      expect(firstDifference(await pooled.mask(loss, SSD_COLS, counts64), expected)).toBe(-1);
    const before = pooled.stats.callerRows;
    const shared = allocLoss(64, SSD_COLS);
    shared.set(loss);
    expect(firstDifference(await pooled.mask(shared, SSD_COLS, counts64), expected)).toBe(-1);
    expect(firstDifference(await pooled.rank(loss, SSD_COLS), rankDescending(loss, SSD_COLS))).toBe(-1);
    expect(pooled.stats.callerRows).toBe(before);
  });
});

describe('copyAndMine (the two-ended claim protocol, with the threads played by the test)', () => {
  const cols = 3;
  const rows = 20;
  const claim = 4; // 5 claims
  function setup() {
    const loss = Float32Array.from({ length: rows * cols }, (_, i) => i);
    const ctx = new SharedArrayBuffer(64 * 4);
    const ctrl = new Int32Array(ctx, 0, CTRL_WORDS);
    const owners = new Int32Array(ctx, CTRL_WORDS * 4, 5);
    Atomics.store(ctrl, CTRL_BACK_CLAIM, 5);
    const staged = new Float32Array(rows * cols).fill(-1);
    /** A pool thread's next claim, taken as workers/mine-worker.ts takes it. */
    const takeClaim = (): number => threadClaim(ctrl, owners, 5);
    /** The calling thread's part over these arrays, one claim of copy lead, blocks of 2 rows. */
    const run = (mine: CallerKernel | undefined, fault?: Uint8Array) =>
      copyAndMine({ loss, staged, owners, ctrl, cols, rows, claim, lead: 1, blockRows: 2, mine, fault });
    return { loss, ctrl, owners, staged, threadClaim: takeClaim, run };
  }

  it('the threads take the middle while the calling thread mines its first claim: it stops at their claim', () => {
    const { loss, ctrl, owners, staged, threadClaim, run } = setup();
    const mined: number[][] = [];
    const share = run((r, e) => {
      mined.push([r, e]);
      if (mined.length === 1) for (let c = 0; c < 4; c++) expect(threadClaim()).toBe(c);
      return -1;
    });
    // Claim 4 (rows 16..19) is the caller's; claims 0..3 the threads'; its next back claim (3) lost.
    expect(mined).toEqual([[16, 20]]);
    expect(share).toEqual({ nanAt: -1, rows: 4 });
    expect(Array.from(owners)).toEqual([1, 1, 1, 1, 2]);
    expect(threadClaim()).toBe(-1);
    // Every row the threads read is copied and published; the caller's rows are not copied.
    expect(Atomics.load(ctrl, CTRL_STAGED_ROWS)).toBe(16);
    expect(Array.from(staged.subarray(0, 16 * cols))).toEqual(Array.from(loss.subarray(0, 16 * cols)));
    expect(staged.subarray(16 * cols).every((v) => v === -1)).toBe(true);
  });

  it('with no thread claiming, the calling thread mines every claim from the back, copying only the lead', () => {
    const { ctrl, owners, threadClaim, run } = setup();
    const mined: number[][] = [];
    const share = run((r, e) => {
      mined.push([r, e]);
      return -1;
    });
    expect(mined).toEqual([
      [16, 20],
      [12, 16],
      [8, 12],
      [4, 8],
      [0, 4],
    ]);
    expect(share.rows).toBe(rows);
    expect(Array.from(owners)).toEqual([2, 2, 2, 2, 2]);
    expect(Atomics.load(ctrl, CTRL_STAGED_ROWS)).toBe(claim); // lead: one claim ahead of the front (0)
    expect(threadClaim()).toBe(-1);
  });

  it('a NaN the threads meet while it mines stops its claims, and it still copies every row below its own', () => {
    const { ctrl, threadClaim, run } = setup();
    const mined: number[][] = [];
    const share = run((r, e) => {
      mined.push([r, e]);
      // Meanwhile a thread wins claims 0 and 1, meets a NaN in claim 0, and holds claim 1 waiting for rows.
      expect(threadClaim()).toBe(0);
      expect(threadClaim()).toBe(1);
      Atomics.store(ctrl, CTRL_NAN_MET, 1);
      return -1;
    });
    expect(mined).toEqual([[16, 20]]);
    expect(share).toEqual({ nanAt: -1, rows: 4 });
    expect(Atomics.load(ctrl, CTRL_STAGED_ROWS)).toBe(16); // claim 1's rows (4..7) and up to its own
  });

  it('a NaN of its own stops its claims; a NaN the threads met stops them before they start', () => {
    let { ctrl, run } = setup();
    let share = run((r) => (r === 12 ? r * cols + 1 : -1));
    expect(share).toEqual({ nanAt: 12 * cols + 1, rows: 8 });
    expect(Atomics.load(ctrl, CTRL_STAGED_ROWS)).toBe(12);
    ({ ctrl, run } = setup());
    Atomics.store(ctrl, CTRL_NAN_MET, 1);
    share = run(() => -1);
    expect(share).toEqual({ nanAt: -1, rows: 0 });
    expect(Atomics.load(ctrl, CTRL_STAGED_ROWS)).toBe(rows);
  });

  it('faults in a fresh result (one store per 4 KiB page, the zero it holds) before its own first claim', () => {
    const { run } = setup();
    const fault = new Uint8Array(3 * 4096 + 100).fill(7); // 7s show which bytes it wrote
    const touched = (i: number) => i % 4096 === 0;
    let checked = false;
    run(() => {
      if (!checked) expect(fault.every((v, i) => v === (touched(i) ? 0 : 7))).toBe(true);
      checked = true;
      return -1;
    }, fault);
    expect(checked).toBe(true);
    expect(fault.every((v, i) => v === (touched(i) ? 0 : 7))).toBe(true);
  });

  it('without a kernel it only copies, block by block, every row', () => {
    const { loss, ctrl, staged, run } = setup();
    const share = run(undefined);
    expect(share).toEqual({ nanAt: -1, rows: 0 });
    expect(Array.from(staged)).toEqual(Array.from(loss));
    expect(Atomics.load(ctrl, CTRL_STAGED_ROWS)).toBe(rows);
  });
});

describe('options.out', () => {
  const cols = 30_000;
  const loss = expLoss(7, cols, 4, true);
  const counts = ssdCounts(7, 5).map((k) => k * 20);
  const expectedMask = hardNegativeMask(loss, cols, counts);

  it('writes a shared out in place (an offset view too) and resolves to it', async () => {
    const buffer = new SharedArrayBuffer(loss.length + 64);
    const out = new Uint8Array(buffer, 64, loss.length);
    out.fill(7);
    expect(await pooled.mask(loss, cols, counts, { out })).toBe(out);
    expect(firstDifference(out, expectedMask)).toBe(-1);
    expect(new Uint8Array(buffer, 0, 64).every((x) => x === 0)).toBe(true);
    const ranks = new Int32Array(new SharedArrayBuffer(loss.length * 4));
    expect(await pooled.rank(loss, cols, { out: ranks })).toBe(ranks);
    expect(firstDifference(ranks, rankDescending(loss, cols))).toBe(-1);
    const wide = new Uint8Array(new SharedArrayBuffer(loss.length));
    expect(await pooled.maskBatchWide(loss, cols, 5000, { out: wide })).toBe(wide);
    expect(wide.reduce((a, b) => a + b, 0)).toBe(5000);
  });

  it('copies into a plain out (staged in shared memory), inline and pooled', async () => {
    const out = new Uint8Array(loss.length);
    expect((await pooled.mask(loss, cols, counts, { out })) === out).toBe(true);
    expect(firstDifference(out, expectedMask)).toBe(-1);
    const ranks = new Int32Array(loss.length);
    expect((await pooled.rank(loss, cols, { out: ranks })) === ranks).toBe(true);
    expect(firstDifference(ranks, rankDescending(loss, cols))).toBe(-1);
    const small = new Float32Array([3, 1, 2, 2]);
    const inline = new HardNegativeMiner({ threads: 1 });
    const smallOut = new Uint8Array(4);
    expect(await inline.mask(small, 4, 2, { out: smallOut })).toBe(smallOut);
    expect([...smallOut]).toEqual([1, 0, 1, 0]);
  });

  it('rejects a bad out with the synchronous messages', async () => {
    const short = new Uint8Array(new SharedArrayBuffer(10));
    const expected = syncError(() => hardNegativeMask(loss, cols, counts, { out: short }));
    await expect(pooled.mask(loss, cols, counts, { out: short })).rejects.toThrow(expected);
    await expect(pooled.mask(loss, cols, counts, { out: new Int32Array(loss.length) })).rejects.toThrow(
      syncError(() => hardNegativeMask(loss, cols, counts, { out: new Int32Array(loss.length) as never })),
    );
    const wrongType = new Uint8Array(loss.length) as unknown as Int32Array;
    await expect(pooled.rank(loss, cols, { out: wrongType })).rejects.toThrow(
      syncError(() => rankDescending(loss, cols, { out: wrongType })),
    );
    expect(pooled.stats.active).toBe(0);
  });
});

describe('shared memory does not pile up in the workers', () => {
  it('fresh result buffers are released although the worker threads barely allocate', async () => {
    const cols = 1 << 16;
    const loss = expLoss(16, cols, 6, true);
    for (let i = 0; i < 4; i++) await pooled.mask(loss, cols, 1000);
    const before = await settledArrayBuffers();
    // 128 calls x 1 MiB of fresh results: without the workers' collections every one stays pinned.
    for (let i = 0; i < 128; i++) await pooled.mask(loss, cols, 1000);
    expect((await settledArrayBuffers()) - before).toBeLessThan(56 * 1024 * 1024);
  });

  it('fresh shared inputs call after call: the threads are replaced before they pin more than 256 MiB', async () => {
    const miner = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
    const cols = 1 << 16;
    const source = expLoss(8, cols, 8, false); // 2 MiB of losses
    const expected = hardNegativeMask(source, cols, 500);
    const fresh = () => {
      const loss = allocLoss(8, cols);
      loss.set(source);
      return loss;
    };
    expect(firstDifference(await miner.mask(fresh(), cols, 500), expected)).toBe(-1);
    const before = await settledArrayBuffers();
    // 160 distinct 2 MiB inputs (320 MiB), each handed to the workers and then dropped by the caller.
    for (let i = 0; i < 160; i++) {
      expect(firstDifference(await miner.mask(fresh(), cols, 500), expected)).toBe(-1);
    }
    expect(miner.stats.recycledPools).toBeGreaterThanOrEqual(1);
    expect(miner.stats.active).toBe(0);
    // Without the replacement all 320 MiB would stay pinned; with it, what the new threads saw.
    expect((await settledArrayBuffers()) - before).toBeLessThan(200 * 1024 * 1024);
    await miner.close();
    // Closed: no thread is left to pin anything.
    expect((await settledArrayBuffers()) - before).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('validation and NaN, as rejections with the synchronous messages', () => {
  const cases: [string, () => unknown[]][] = [
    ['a non-Float32Array loss', () => [new Float64Array(4), 2, 1]],
    ['cols not dividing the length', () => [new Float32Array(10), 3, 1]],
    ['cols zero', () => [new Float32Array(10), 0, 1]],
    ['a negative count', () => [new Float32Array(10), 5, -1]],
    ['a fractional count', () => [new Float32Array(10), 5, [1, 0.5]]],
    ['a count list of the wrong length', () => [new Float32Array(10), 5, [1, 2, 3]]],
    ['a bad nan option', () => [new Float32Array(10), 5, 1, { nan: 'smallest' }]],
  ];
  for (const [name, args] of cases) {
    it(`rejects ${name}`, async () => {
      const a = args() as Parameters<typeof hardNegativeMask>;
      let syncError: unknown;
      try {
        hardNegativeMask(...a);
      } catch (error) {
        syncError = error;
      }
      expect(syncError).toBeInstanceOf(Error);
      for (const miner of [pooled, new HardNegativeMiner({ threads: 1 })]) {
        let promise: Promise<unknown> | undefined;
        expect(() => {
          promise = miner.mask(...a);
        }).not.toThrow();
        await expect(promise).rejects.toThrow(syncError as Error);
        await expect(promise).rejects.toBeInstanceOf((syncError as Error).constructor);
      }
    });
  }

  it('rejects a signal that is not an AbortSignal', async () => {
    await expect(pooled.mask(new Float32Array(4), 2, 1, { signal: {} as AbortSignal })).rejects.toThrow(
      new TypeError('`options.signal` must be an AbortSignal, got object'),
    );
  });

  it("names the batch's first NaN (row and column), like the sync path, when it sits in a later task", async () => {
    const rows = 40;
    const loss = expLoss(rows, SSD_COLS, 1, true);
    loss[37 * SSD_COLS + 5] = Number.NaN;
    loss[21 * SSD_COLS + 8000] = Number.NaN;
    loss[21 * SSD_COLS + 9] = Number.NaN;
    let syncMessage = '';
    try {
      hardNegativeMask(loss, SSD_COLS, 10);
    } catch (error) {
      syncMessage = (error as Error).message;
    }
    expect(syncMessage).toMatch(/row 21, column 9;/);
    await expect(pooled.mask(loss, SSD_COLS, 10)).rejects.toThrow(new RangeError(syncMessage));
    await expect(pooled.mask(loss, SSD_COLS, 0)).rejects.toThrow(syncMessage);
    await expect(pooled.rank(loss, SSD_COLS)).rejects.toThrow(syncMessage);
    const small = new Float32Array([1, 2, Number.NaN, 4]);
    await expect(new HardNegativeMiner({ threads: 1 }).mask(small, 2, 1)).rejects.toThrow(/row 1, column 0;/);
  });
});

describe('faults', () => {
  // 64 rows: two tasks on one thread or two (planRanges), so a fault in task 1 leaves task 0 to
  // finish normally.
  const loss = expLoss(64, SSD_COLS, 11, true);
  const counts = ssdCounts(64, 12);
  const expected = hardNegativeMask(loss, SSD_COLS, counts);

  async function stillWorks(miner: HardNegativeMiner) {
    expect(firstDifference(await miner.mask(loss, SSD_COLS, counts), expected)).toBe(-1);
    expect(miner.stats.active).toBe(0);
  }

  it('an error thrown in a worker rejects that call only; the pool stays usable', async () => {
    const other = faulty.miner.mask(loss, SSD_COLS, counts);
    faulty.arm('throw', { task: 1 });
    await expect(faulty.miner.mask(loss, SSD_COLS, counts)).rejects.toThrow(
      'hard negative mining failed in a worker thread: injected fault',
    );
    expect(firstDifference(await other, expected)).toBe(-1);
    await stillWorks(faulty.miner);
  });

  it('rows are claimed: while one thread is held, the other (or, for a copied loss, the calling thread) computes every row', async () => {
    for (const shared of [true, false]) {
      const l = expLoss(64, SSD_COLS, 21, shared);
      const c = ssdCounts(64, 22);
      const want = hardNegativeMask(l, SSD_COLS, c);
      const out = new Uint8Array(new SharedArrayBuffer(want.length)).fill(7);
      // A copied loss gets one task fewer than threads: the calling thread mines in its place.
      const g = faulty.arm('none', { gated: true, task: shared ? 1 : 0 });
      const call = faulty.miner.mask(l, SSD_COLS, c, { out });
      await g.reached;
      // The held task's thread waits at the gate, before its first claim; the other side claims every row.
      for (let turns = 0; firstDifference(out, want) !== -1; turns++) {
        expect(turns).toBeLessThan(20_000);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await isSettled(call)).toBe(false); // the call still waits for task 1's answer
      g.release();
      expect(await call).toBe(out);
      expect(firstDifference(out, want)).toBe(-1);
    }
  });

  it('a worker that exits mid-task rejects its call; the pool replaces it and the next call succeeds', async () => {
    const g = faulty.arm('exit', { gated: true });
    const call = faulty.miner.mask(loss, SSD_COLS, counts);
    await g.reached;
    expect(await isSettled(call)).toBe(false);
    g.release();
    await expect(call).rejects.toThrow(/worker thread: worker exited with code: 70/);
    await stillWorks(faulty.miner);
    await stillWorks(faulty.miner);
  });

  it('a worker that crashes (uncaught exception) rejects its call; the next call succeeds', async () => {
    faulty.arm('crash', { task: 1 });
    await expect(faulty.miner.mask(loss, SSD_COLS, counts)).rejects.toThrow(/injected crash/);
    await stillWorks(faulty.miner);
  });

  it('workers that cannot start reject every call (never hang); the miner recovers once they can', async () => {
    const broken = faultyMiner({ threads: 2, inlineBelow: 0 });
    const { miner } = broken;
    broken.failLoad(true);
    try {
      for (let i = 0; i < 3; i++) {
        // (Under tsx, Piscina's fallback import of the .ts entry reports the file extension instead.)
        await expect(miner.mask(loss, SSD_COLS, counts)).rejects.toThrow(
          /^hard negative mining failed in a worker thread: /,
        );
      }
    } finally {
      broken.failLoad(false);
    }
    // Threads the failing pool started before the variable was removed may still fail (and take the
    // calls queued on them along); a few calls later a fresh pool serves them.
    let failures = 0;
    for (;;) {
      const mask = await miner.mask(loss, SSD_COLS, counts).catch(() => undefined);
      if (mask !== undefined) {
        expect(firstDifference(mask, expected)).toBe(-1);
        break;
      }
      expect(++failures).toBeLessThan(4);
    }
    await stillWorks(miner);
    await miner.close();
  });

  it('an aborted signal rejects before dispatch with an AbortError', async () => {
    const signal = AbortSignal.abort(new Error('stop'));
    for (const promise of [
      pooled.mask(loss, SSD_COLS, counts, { signal }),
      pooled.rank(loss, SSD_COLS, { signal }),
      pooled.maskBatchWide(loss, SSD_COLS, 1000, { signal }),
      new HardNegativeMiner({ threads: 1 }).mask(new Float32Array(8), 4, 1, { signal }),
    ]) {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DOMException);
      expect((error as DOMException).name).toBe('AbortError');
      expect((error as Error).cause).toBe(signal.reason);
    }
  });

  it('aborting after dispatch rejects at once with an AbortError and cancels the pending tasks', async () => {
    // One thread: its one claiming task blocks in the worker before it claims a row.
    const one = faultyMiner({ threads: 1, inlineBelow: 0 });
    await using miner = one.miner;
    await stillWorks(miner);
    const g = one.arm('none', { gated: true });
    const controller = new AbortController();
    const call = miner.mask(loss, SSD_COLS, counts, { signal: controller.signal });
    await g.reached;
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(miner.stats.active).toBe(0);
    const cancelled = miner.stats.cancelledTasks;
    g.release();
    await stillWorks(miner); // queued behind the aborted call's task
    expect(miner.stats.cancelledTasks - cancelled).toBe(1);
  });

  it('one signal shared by many calls aborts them all, without a listener warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const calls = Array.from({ length: 50 }, () =>
        pooled.mask(loss, SSD_COLS, counts, { signal: controller.signal }),
      );
      const done = await Promise.all(calls.slice(0, 2));
      for (const mask of done) expect(firstDifference(mask, expected)).toBe(-1);
      controller.abort();
      const results = await Promise.allSettled(calls);
      const aborted = results.filter((r) => r.status === 'rejected');
      expect(aborted.length).toBeGreaterThan(0);
      for (const r of aborted)
        expect((r as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings).toEqual([]);
      const reused = new AbortController();
      await Promise.all(
        calls.slice(0, 3).map(() => pooled.mask(loss, SSD_COLS, 5, { signal: reused.signal })),
      );
      expect(getEventListeners(reused.signal, 'abort')).toHaveLength(0);
      await stillWorks(pooled);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('aborting a batch-wide call between its phases rejects with an AbortError', async () => {
    const g = faulty.arm('none', { gated: true });
    const controller = new AbortController();
    const call = faulty.miner.maskBatchWide(loss, SSD_COLS, 5000, { signal: controller.signal });
    await g.reached;
    controller.abort();
    g.release();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    await stillWorks(faulty.miner);
  });

  it('close() while calls are pending settles every one, even with a worker blocked; later calls reject', async () => {
    // One thread, held mid-task by the gate: every later call waits behind it, so all are pending.
    const one = faultyMiner({ threads: 1, inlineBelow: 0 });
    const { miner } = one;
    await stillWorks(miner);
    const g = one.arm('none', { gated: true });
    const calls = [
      miner.mask(loss, SSD_COLS, counts),
      miner.mask(loss, SSD_COLS, counts),
      miner.rank(loss, SSD_COLS),
      miner.maskBatchWide(loss, SSD_COLS, 100),
    ];
    await g.reached;
    const closing = miner.close();
    expect(miner.closed).toBe(true);
    const results = await Promise.allSettled(calls);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(String((result as PromiseRejectedResult).reason)).toMatch(/HardNegativeMiner is closed/);
    }
    await closing; // terminates the blocked worker: no release needed
    await expect(miner.mask(loss, SSD_COLS, counts)).rejects.toThrow('this HardNegativeMiner is closed');
    await expect(miner.rank(new Float32Array(4), 2)).rejects.toThrow(/closed/);
    await expect(miner.close()).resolves.toBeUndefined();
  });

  it('await using closes the miner at the end of the scope', async () => {
    let escaped: HardNegativeMiner | undefined;
    {
      await using miner = new HardNegativeMiner({ threads: 1, inlineBelow: 0 });
      escaped = miner;
      expect(firstDifference(await miner.mask(loss, SSD_COLS, counts), expected)).toBe(-1);
    }
    expect(escaped.closed).toBe(true);
    await expect(escaped.mask(loss, SSD_COLS, counts)).rejects.toThrow(/closed/);
  });
});

describe('load', () => {
  it('10,000 concurrent small calls are all correct; memory does not grow with the number of calls', async () => {
    const random = prng(77);
    const inputs = Array.from({ length: 64 }, (_, i) => {
      const rows = 1 + (i % 3);
      const cols = 16 + ((i * 7) % 33);
      const loss = generate(rows, cols, () => Math.floor(random() * 6) - 2);
      const counts = Array.from({ length: rows }, () => Math.floor(random() * (cols + 2)));
      return { loss, cols, counts, expected: hardNegativeMask(loss, cols, counts) };
    });
    async function soak(): Promise<number> {
      const calls: Promise<Uint8Array>[] = [];
      for (let i = 0; i < 10_000; i++) {
        const input = inputs[i % inputs.length]!;
        calls.push(pooled.mask(input.loss, input.cols, input.counts));
      }
      const results = await Promise.all(calls);
      let wrong = 0;
      for (let i = 0; i < results.length; i++) {
        if (firstDifference(results[i]!, inputs[i % inputs.length]!.expected) !== -1) wrong++;
      }
      return wrong;
    }
    expect(await soak()).toBe(0);
    const buffers1 = await settledArrayBuffers();
    const after1 = process.memoryUsage();
    // Shared buffers are freed once the workers drop their handles too, which they do every 1024
    // tasks here (4096 by default), so what they still hold at a snapshot varies with timing
    // (measured 3-19 MiB). A leak grows with the calls; that does not: take the smaller of the
    // snapshots after 30,000 and 40,000 more calls.
    const growth: number[] = [];
    for (let soaks = 0; soaks < 4; soaks++) {
      expect(await soak()).toBe(0);
      growth.push((await settledArrayBuffers()) - buffers1);
    }
    const after4 = process.memoryUsage();
    expect(pooled.stats.active).toBe(0);
    expect(pooled.stats.stagingBuffers).toBeLessThanOrEqual(64);
    // 40,000 more calls may not leave more than a few MiB of heap behind (a leak of 100 bytes per
    // call would), nor 16 MiB of buffers (a leak of 400 bytes per call would).
    expect(after4.heapUsed - after1.heapUsed).toBeLessThan(4 * 1024 * 1024);
    expect(Math.min(growth[2]!, growth[3]!)).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('the measured inline decision', () => {
  const n = 1 << 20;
  const slot = shapeSlot(METHOD_MASK, n, true, true);

  it('is static and deterministic with an explicit threshold, whatever it records', () => {
    const fixed = new InlineDecision(1000, false);
    for (let i = 0; i < 600; i++) {
      fixed.record(slot, true, n, 1e6);
      expect(fixed.inline(slot, 999)).toBe(true);
      expect(fixed.inline(slot, n)).toBe(false);
    }
  });

  it('dispatches no call a pool cannot shorten by a round trip (minPooled)', () => {
    expect(minPooled(1)).toBe(2 * MIN_POOLED);
    expect(minPooled(2)).toBe(2 * MIN_POOLED);
    expect(minPooled(3)).toBe(1.5 * MIN_POOLED);
    expect(minPooled(16)).toBe(Math.ceil((16 / 15) * MIN_POOLED));
    const two = new InlineDecision(0, true, minPooled(2));
    const small = shapeSlot(METHOD_MASK, minPooled(2) - 1, true, true);
    for (let i = 0; i < 600; i++) {
      two.record(small, true, minPooled(2) - 1, 1e6);
      expect(two.inline(small, minPooled(2) - 1)).toBe(true);
    }
    expect(two.inline(shapeSlot(METHOD_MASK, minPooled(2), true, true), minPooled(2))).toBe(false);
  });

  it('keeps calls below MIN_POOLED inline, whatever it records', () => {
    const auto = new InlineDecision(0, true);
    const small = shapeSlot(METHOD_MASK, MIN_POOLED - 1, true, true);
    for (let i = 0; i < 600; i++) {
      auto.record(small, true, MIN_POOLED - 1, 1e6);
      expect(auto.inline(small, MIN_POOLED - 1)).toBe(true);
    }
  });

  it('takes the faster path per shape, probing the other with doubling gaps', () => {
    const auto = new InlineDecision(INLINE_BELOW, true);
    // Before any figure: the static threshold, with a probe of the other path on the fourth call.
    const picks: boolean[] = [];
    for (let i = 0; i < 40; i++) picks.push(auto.inline(slot, n));
    // A probe is a run of two calls of the other path.
    expect(picks.slice(0, 6)).toEqual([false, false, false, true, true, false]);
    // The pool measured 1.2x faster than inline: pooled, but for probes at doubling gaps. The first
    // call after the path changes is cold and not recorded: record each path twice.
    auto.record(slot, true, n, 1.2);
    auto.record(slot, true, n, 1.2);
    auto.record(slot, false, n, 1); // the first after a switch: not recorded
    auto.record(slot, false, n, 1);
    const probes: number[] = [];
    for (let i = 0; i < 2000; i++) if (auto.inline(slot, n)) probes.push(i);
    const starts = probes.filter((p, i) => i === 0 || probes[i - 1] !== p - 1);
    expect(probes.length).toBe(2 * starts.length); // every probe: two calls in a row
    const gaps = starts.slice(1).map((p, i) => p - starts[i]!);
    expect(gaps.length).toBeGreaterThan(3);
    expect(gaps.slice(-2)).toEqual([257, 257]);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(gaps[i - 1]!);
    // A slow first call after a switch is not recorded: a cold inline call changes nothing.
    auto.record(slot, true, n, 0.5);
    expect(auto.inline(slot, n)).toBe(false);
    // One fast inline call does not flip the decision: a path's figure is its second best time.
    auto.record(slot, true, n, 0.5);
    expect(auto.inline(slot, n)).toBe(false);
    // Inline now measures faster twice (load moved): inline is preferred at once, and the gap restarts.
    auto.record(slot, true, n, 0.5);
    const after: boolean[] = [];
    for (let i = 0; i < 9; i++) after.push(auto.inline(slot, n));
    expect(after.slice(0, 7).every((x) => x)).toBe(true);
    expect(after.slice(7)).toEqual([false, false]); // the probe run, FIRST_GAP calls later
    // The other path far slower (over 1.5x): its probes come every MAX_GAP calls at once.
    const far = new InlineDecision(INLINE_BELOW, true);
    const farSlot = shapeSlot(METHOD_MASK, n, false, true);
    far.record(farSlot, false, n, 1);
    far.record(farSlot, false, n, 1);
    far.record(farSlot, true, n, 3); // first after a switch: not recorded
    far.record(farSlot, true, n, 3);
    const farProbes: number[] = [];
    for (let i = 0; i < 1200; i++) if (far.inline(farSlot, n)) farProbes.push(i);
    const farStarts = farProbes.filter((p, i) => i === 0 || farProbes[i - 1] !== p - 1);
    const farGaps = farStarts.slice(1).map((p, i) => p - farStarts[i]!);
    expect(farGaps.length).toBeGreaterThan(2);
    expect(farGaps.every((g) => g === 257)).toBe(true);
    // Other shapes keep their own figures.
    const rank = shapeSlot(METHOD_RANK, n, true, true);
    expect(rank).not.toBe(slot);
    expect(shapeSlot(METHOD_MASK, n, false, true)).not.toBe(slot);
    expect(shapeSlot(METHOD_MASK, n, true, false)).not.toBe(slot);
    expect(shapeSlot(METHOD_MASK, 2 * n, true, true)).not.toBe(slot);
  });

  it('spaces the probes of a far slower path so that they cost about 1% of the time, up to 4096 calls', () => {
    for (const [probeCallMs, expectedGap] of [
      [20, 4001], // a probe run of 2 x 20 ms against 1 ms calls: 100 x 40 / 1 = 4000 calls apart
      [50, 4097], // 10000 calls apart by the same rule: capped
      [1.6, 321], // 100 x 3.2 / 1 = 320
    ] as const) {
      const d = new InlineDecision(INLINE_BELOW, true);
      const s = shapeSlot(METHOD_RANK, n, false, false);
      d.record(s, false, n, 3); // pooled: 3 ms a call
      d.record(s, false, n, 3);
      d.record(s, true, n, 1); // inline: 1 ms (the first after a switch is not recorded)
      d.record(s, true, n, 1);
      const starts: number[] = [];
      let previous = true;
      for (let i = 0; i < 13000; i++) {
        const inline = d.inline(s, n);
        if (!inline) {
          if (previous) starts.push(i);
          d.record(s, false, n, probeCallMs); // each probe call of the pool
        } else d.record(s, true, n, 1);
        previous = inline;
      }
      const gaps = starts.slice(1).map((p, i) => p - starts[i]!);
      // From the first probe run on: its cost spaces the next probe as soon as it is measured.
      expect(gaps.every((g) => g === expectedGap)).toBe(true);
      expect(gaps.length).toBeGreaterThan(2);
    }
  });

  it('a call timed at 0 ms spaces the probes of a far slower path as far as allowed, never at every call', () => {
    const d = new InlineDecision(INLINE_BELOW, true);
    const s = shapeSlot(METHOD_MASK, n, true, true);
    d.record(s, false, n, 3); // pooled: 3 ms
    d.record(s, false, n, 3);
    d.record(s, true, n, 0); // inline: below the clock's resolution (the first after a switch: not recorded)
    d.record(s, true, n, 0);
    const probes: number[] = [];
    for (let i = 0; i < 9000; i++) {
      const inline = d.inline(s, n);
      if (!inline) probes.push(i);
      // Its dispatched probes are not recorded (as when they overlap other calls): no probe cost known.
      else d.record(s, true, n, 0);
    }
    const starts = probes.filter((p, i) => i === 0 || probes[i - 1] !== p - 1);
    const gaps = starts.slice(1).map((p, i) => p - starts[i]!);
    expect(gaps.length).toBeGreaterThan(0);
    expect(gaps.every((g) => g >= 4096)).toBe(true);
  });

  it('a dispatched call recorded after the preference changed does not delay the early re-check', () => {
    const d = new InlineDecision(INLINE_BELOW, true);
    const s = shapeSlot(METHOD_MASK, n, true, true); // above the static threshold: pooled first
    d.record(s, false, n, 1);
    d.record(s, false, n, 1);
    const paths: boolean[] = [];
    for (let i = 0; i < 4; i++) paths.push(d.inline(s, n));
    expect(paths).toEqual([false, false, false, true]); // the probe run of the calling thread starts
    expect(d.inline(s, n)).toBe(true);
    d.record(s, true, n, 0.2); // the first after a switch: not recorded
    d.record(s, true, n, 0.2); // inline is 5x faster
    expect(d.inline(s, n)).toBe(true); // inline is now preferred
    d.record(s, false, n, 5); // a slow dispatched call that was still in flight
    const next: boolean[] = [];
    for (let i = 0; i < 12; i++) next.push(d.inline(s, n));
    // The pool's stale figure is re-checked FIRST_GAP calls after the switch, as usual.
    expect(next.indexOf(false)).toBe(6);
  });

  it('a new shape whose first probe measures the other path far slower is not probed again soon', () => {
    const d = new InlineDecision(INLINE_BELOW, true);
    const b16 = 16 * SSD_COLS; // below the static threshold: inline first
    const s = shapeSlot(METHOD_MASK, b16, true, true);
    const paths: boolean[] = [];
    for (let i = 0; i < 2000; i++) {
      const inline = d.inline(s, b16);
      paths.push(inline);
      d.record(s, inline, b16, inline ? 0.4 : 2.5); // dispatched calls ~6x slower, as at B = 16 here
    }
    const probes = paths.flatMap((inline, i) => (inline ? [] : [i]));
    expect(probes.slice(0, 2)).toEqual([3, 4]); // the first probe run, FIRST_GAP / 2 calls in
    // The next one is spaced by that run's cost (100 x 5 ms / 0.4 ms = 1250 calls), not 8 calls later.
    expect(probes[2]).toBeGreaterThanOrEqual(3 + 1250);
    expect(probes.length).toBe(4);
  });

  it('gives the same bytes as hardNegativeMask whichever path a default miner takes', async () => {
    await using miner = new HardNegativeMiner({ threads: 2 });
    const rows = 40; // above the static threshold: the first call dispatches, the second probes inline
    for (const shared of [true, false]) {
      const loss = expLoss(rows, SSD_COLS, 7, shared);
      const counts = ssdCounts(rows, 8);
      const expected = hardNegativeMask(loss, SSD_COLS, counts);
      for (let i = 0; i < 12; i++) {
        expect(firstDifference(await miner.mask(loss, SSD_COLS, counts), expected)).toBe(-1);
      }
      const ranks = rankDescending(loss, SSD_COLS);
      for (let i = 0; i < 6; i++) expect(firstDifference(await miner.rank(loss, SSD_COLS), ranks)).toBe(-1);
    }
  });
});
