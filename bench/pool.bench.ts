/**
 * Pool benchmark (issue 3 targets, float32, N = 8732, SSD-typical `exp` losses, k uniform in 0..600):
 * - B = 1024: wall time <= 1.3 ns per element with 2 threads;
 * - B >= 256: 2 threads >= 1.7x faster than 1 thread;
 * - B = 1: a call answers in <= 50 us.
 * Side by side in one run: the synchronous `hardNegativeMask` on the calling thread, and
 * `HardNegativeMiner.mask` with 1 and 2 worker threads on an `allocLoss` batch (no copy), writing a
 * reused shared `out` or returning a fresh shared mask per call (see `scaling`). Every miner is created and warmed (threads started,
 * kernels JIT-compiled) before timing; start-up is never timed. A last table probes the inline
 * threshold: the same small batches on the calling thread and forced through the pool.
 *
 * Run: `npm run bench:pool` (builds, then `node dist/bench/pool.bench.js [--time MS]`). Medians, not
 * means: this 2-core machine is shared and noisy; run it twice.
 */
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { type Batch, makeBatch } from '../src/bench/data.ts';
import { allocLoss, HardNegativeMiner, hardNegativeMask } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '2000' },
    cols: { type: 'string', default: '8732' },
  },
});
const time = Number(values.time);
const cols = Number(values.cols);

const miners = {
  pool1: new HardNegativeMiner({ threads: 1 }),
  pool2: new HardNegativeMiner({ threads: 2 }),
  forced2: new HardNegativeMiner({ threads: 2, inlineBelow: 0 }),
};

function sharedBatch(rows: number): Batch {
  return makeBatch('exp', rows, cols, 1, allocLoss);
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Start every thread and JIT-warm the kernels on a batch large enough to reach all of them. */
async function warm(): Promise<void> {
  const batch = sharedBatch(64);
  const expected = hardNegativeMask(batch.loss, cols, batch.numNeg);
  for (const miner of Object.values(miners)) {
    for (let i = 0; i < 20; i++) {
      const mask = await miner.mask(batch.loss, cols, batch.numNeg);
      if (i === 0 && !same(mask, expected)) throw new Error('pool result differs from hardNegativeMask');
    }
  }
}

interface Row {
  section: string;
  task: string;
  rows: number;
  medianUs: number;
  nsPerElement: number;
}
const results: Row[] = [];

async function measure(section: string, rows: number, tasks: Record<string, () => unknown>): Promise<void> {
  const bench = new Bench({ time, warmupTime: 300 });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    const medianMs = result.latency.p50;
    results.push({
      section,
      task: task.name,
      rows,
      medianUs: medianMs * 1000,
      nsPerElement: (medianMs * 1e6) / (rows * cols),
    });
  }
}

/**
 * `(out)`: the result goes to one reused shared buffer (`options.out`), as a streaming caller does;
 * `(fresh)`: a new shared mask per call, the default. The difference is the first-touch cost of
 * fresh memory (page faults and zeroing), not the pool's.
 */
function scaling(rows: number): Record<string, () => unknown> {
  const batch = sharedBatch(rows);
  const out = new Uint8Array(new SharedArrayBuffer(rows * cols));
  return {
    'sync (out)': () => hardNegativeMask(batch.loss, cols, batch.numNeg, { out }),
    'sync (fresh)': () => hardNegativeMask(batch.loss, cols, batch.numNeg),
    'pool@1 (out)': () => miners.pool1.mask(batch.loss, cols, batch.numNeg, { out }),
    'pool@2 (out)': () => miners.pool2.mask(batch.loss, cols, batch.numNeg, { out }),
    'pool@2 (fresh)': () => miners.pool2.mask(batch.loss, cols, batch.numNeg),
  };
}

/**
 * 2 vs 1 thread, interleaved: one call on each miner per round, so both see the same moments of this
 * shared machine (tinybench times its tasks one after the other, and the load here changes within
 * seconds). Returns the median over rounds of pool@1's time over pool@2's.
 */
async function interleavedScaling(rows: number, rounds: number): Promise<number> {
  const batch = sharedBatch(rows);
  const out = new Uint8Array(new SharedArrayBuffer(rows * cols));
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let start = performance.now();
    await miners.pool1.mask(batch.loss, cols, batch.numNeg, { out });
    const one = performance.now() - start;
    start = performance.now();
    await miners.pool2.mask(batch.loss, cols, batch.numNeg, { out });
    ratios.push(one / (performance.now() - start));
  }
  ratios.sort((a, b) => a - b);
  return ratios[ratios.length >> 1]!;
}

await warm();
await measure('B=1024', 1024, scaling(1024));
await measure('B=256', 256, scaling(256));
const scaling1024 = await interleavedScaling(1024, 40);
const scaling256 = await interleavedScaling(256, 100);
{
  const batch = sharedBatch(1);
  await measure('B=1', 1, {
    sync: () => hardNegativeMask(batch.loss, cols, batch.numNeg),
    'pool@2 (inline)': () => miners.pool2.mask(batch.loss, cols, batch.numNeg),
    'pool@2 (dispatched)': () => miners.forced2.mask(batch.loss, cols, batch.numNeg),
  });
}
for (const rows of [16, 24, 32, 48, 64]) {
  const batch = sharedBatch(rows);
  await measure(`threshold B=${rows}`, rows, {
    'inline (sync)': () => hardNegativeMask(batch.loss, cols, batch.numNeg),
    'dispatched @2': () => miners.forced2.mask(batch.loss, cols, batch.numNeg),
  });
}
for (const miner of Object.values(miners)) await miner.close();

console.log(
  `pool benchmark: N = ${cols}, exp losses, Node ${process.version}, median of >= ${time} ms per task`,
);
console.table(
  results.map((r) => ({
    section: r.section,
    task: r.task,
    'median us': Number(r.medianUs.toFixed(1)),
    'ns/element': Number(r.nsPerElement.toFixed(3)),
  })),
);

const ns = (section: string, task: string) =>
  results.find((r) => r.section === section && r.task === task)!.nsPerElement;
const us = (section: string, task: string) =>
  results.find((r) => r.section === section && r.task === task)!.medianUs;
const targets: [string, number, boolean][] = [
  [
    'B=1024 pool@2 (out) <= 1.3 ns/element',
    ns('B=1024', 'pool@2 (out)'),
    ns('B=1024', 'pool@2 (out)') <= 1.3,
  ],
  [
    'B=1024 pool@2 (fresh) <= 1.3 ns/element',
    ns('B=1024', 'pool@2 (fresh)'),
    ns('B=1024', 'pool@2 (fresh)') <= 1.3,
  ],
  ['B=1024 pool@2 vs pool@1 >= 1.7x (interleaved)', scaling1024, scaling1024 >= 1.7],
  ['B=256 pool@2 vs pool@1 >= 1.7x (interleaved)', scaling256, scaling256 >= 1.7],
  ['B=1 latency <= 50 us', us('B=1', 'pool@2 (inline)'), us('B=1', 'pool@2 (inline)') <= 50],
];
for (const [what, value, met] of targets) {
  console.log(`${what.padEnd(48)} ${value.toFixed(2).padStart(8)}  ${met ? 'met' : 'MISSED'}`);
}
