/**
 * Every entry point called with an output that shares memory with an input, run in a child process
 * of its own (test/hostile.test.ts spawns it with a timeout): before the overlap check, some of these
 * calls never returned (the select kept re-reading a row it was overwriting), so a regression must
 * not be able to hang the test runner. Prints one JSON line: for each case, the error it raised
 * (`{ type, message }`) or `{ returned: true }`, plus whether the control calls (an `out` in the same
 * buffer next to the input, not overlapping it) equal the reference.
 */
import {
  allocLoss,
  confidenceLoss,
  HardNegativeMiner,
  hardNegativeMask,
  hardNegativeMaskBatchWide,
  rankDescending,
  referenceMask,
  referenceRank,
  ssdNegatives,
} from '../../src/index.ts';
import { setWasmKernel } from '../../src/kernel/wasm-kernel.ts';

type Outcome = { type: string; message: string } | { returned: true };

async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    await run();
    return { returned: true };
  } catch (error) {
    const e = error as Error;
    return { type: e.constructor.name, message: e.message };
  }
}

/** The issue's reproduction: 4096 values in 1 .. 1.2, `out` over the loss's bytes 12288 .. 16383. */
function issueLoss(shared = false): Float32Array {
  const loss = shared ? allocLoss(1, 4096) : new Float32Array(4096);
  for (let i = 0; i < loss.length; i++) loss[i] = 1 + (i % 1000) / 5000;
  return loss;
}

const cases: Record<string, () => unknown> = {
  'hardNegativeMask wasm k=3500': () => {
    setWasmKernel(true);
    const loss = issueLoss();
    return hardNegativeMask(loss, 4096, 3500, { out: new Uint8Array(loss.buffer, 3 * 4096, 4096) });
  },
  'hardNegativeMask js k=3500': () => {
    setWasmKernel(false);
    try {
      const loss = issueLoss();
      return hardNegativeMask(loss, 4096, 3500, { out: new Uint8Array(loss.buffer, 3 * 4096, 4096) });
    } finally {
      setWasmKernel(true);
    }
  },
  'hardNegativeMask k=2048': () => {
    const loss = issueLoss();
    return hardNegativeMask(loss, 4096, 2048, { out: new Uint8Array(loss.buffer, 3 * 4096, 4096) });
  },
  'hardNegativeMask out over numNeg': () => {
    const buffer = new ArrayBuffer(64);
    const numNeg = new Int32Array(buffer, 0, 4);
    numNeg.set([1, 2, 3, 4]);
    return hardNegativeMask(new Float32Array(16), 4, numNeg, { out: new Uint8Array(buffer, 8, 16) });
  },
  rankDescending: () => {
    const loss = issueLoss();
    return rankDescending(loss, 4096, { out: new Int32Array(loss.buffer) });
  },
  hardNegativeMaskBatchWide: () => {
    const loss = issueLoss();
    return hardNegativeMaskBatchWide(loss, 4096, 2048, { out: new Uint8Array(loss.buffer, 1, 4096) });
  },
  'ssdNegatives out = positives': () => {
    const positives = new Uint8Array(16);
    positives[3] = 1;
    return ssdNegatives({ loss: new Float32Array(16).fill(1), positives, cols: 8, out: positives });
  },
  'ssdNegatives out over labels': () => {
    const labels = new Int32Array(16);
    return ssdNegatives({
      logits: new Float32Array(16 * 3),
      labels,
      classes: 3,
      cols: 8,
      out: new Uint8Array(labels.buffer, 48, 16),
    });
  },
  'confidenceLoss out over logits': () => {
    const logits = new Float32Array(4 * 2 * 3);
    return confidenceLoss(logits, new Int32Array(8), 4, 2, 3, new Float32Array(logits.buffer, 8, 8));
  },
};

const pooledCases = (miner: HardNegativeMiner, label: string): Record<string, () => unknown> => ({
  [`miner.mask ${label}`]: () => {
    const loss = issueLoss(true);
    return miner.mask(loss, 4096, 3500, { out: new Uint8Array(loss.buffer, 3 * 4096, 4096) });
  },
  [`miner.rank ${label}`]: () => {
    const loss = issueLoss(true);
    return miner.rank(loss, 4096, { out: new Int32Array(loss.buffer) });
  },
  [`miner.maskBatchWide ${label}`]: () => {
    const loss = issueLoss(true);
    return miner.maskBatchWide(loss, 4096, 2048, { out: new Uint8Array(loss.buffer, 4, 4096) });
  },
  [`miner.ssdNegatives ${label}`]: () => {
    const positives = new Uint8Array(4096);
    positives[7] = 1;
    return miner.ssdNegatives({ loss: issueLoss(), positives, cols: 4096, out: positives });
  },
});

/** Controls: `out` in the same buffer as the loss, right after it, must give the reference. */
async function controls(dispatch: HardNegativeMiner): Promise<boolean[]> {
  const make = () => {
    const buffer = new SharedArrayBuffer(4096 * 4 + 4096 * 4);
    const loss = new Float32Array(buffer, 0, 4096);
    loss.set(issueLoss());
    return { loss, buffer };
  };
  const expected = referenceMask(issueLoss(), 4096, 3500);
  const expectedRank = referenceRank(issueLoss(), 4096);
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
    a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);
  const results: boolean[] = [];
  {
    const { loss, buffer } = make();
    results.push(
      same(hardNegativeMask(loss, 4096, 3500, { out: new Uint8Array(buffer, 4096 * 4, 4096) }), expected),
    );
  }
  {
    const { loss, buffer } = make();
    results.push(
      same(rankDescending(loss, 4096, { out: new Int32Array(buffer, 4096 * 4, 4096) }), expectedRank),
    );
  }
  {
    const { loss, buffer } = make();
    const out = await dispatch.mask(loss, 4096, 3500, { out: new Uint8Array(buffer, 4096 * 4, 4096) });
    results.push(same(out, expected));
  }
  return results;
}

const inline = new HardNegativeMiner({ threads: 1 });
const dispatch = new HardNegativeMiner({ threads: 1, inlineBelow: 0 });
const all = { ...cases, ...pooledCases(inline, 'inline'), ...pooledCases(dispatch, 'dispatched') };
const report: Record<string, Outcome> = {};
for (const [name, run] of Object.entries(all)) report[name] = await outcome(run);
const control = await controls(dispatch);
await inline.close();
await dispatch.close();
process.stdout.write(`${JSON.stringify({ report, control })}\n`);
