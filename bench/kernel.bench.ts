/**
 * Single-thread kernel benchmark (issue targets, one thread, B = 1024, N = 8732, float32):
 * - `exp` (SSD-typical, k uniform in 0..600): <= 2.5 ns per element;
 * - `worst` (k = N/2 inside a large tie group): <= 8 ns per element;
 * - at least 100x faster than the literal double sort (`referenceMask`) in the same run.
 *
 * `kernel-js` is the same kernel with its JavaScript gather instead of the WebAssembly SIMD one
 * (the fallback for engines without wasm SIMD; same bytes), to show what the wasm pass buys.
 *
 * Run: `npm run bench:kernel` (builds, then `node dist/bench/kernel.bench.js [--time MS]`).
 * The seed's double sort is timed on 16 rows (a full batch takes seconds per iteration) and
 * compared per element. Medians, not means: this 2-core machine is shared and noisy.
 */
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { type Dist, makeBatch } from '../src/bench/data.ts';
import { hardNegativeMask, rankDescending, referenceMask } from '../src/index.ts';
import { setWasmKernel } from '../src/kernel/wasm-kernel.ts';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '3000' },
    rows: { type: 'string', default: '1024' },
    cols: { type: 'string', default: '8732' },
  },
});
const time = Number(values.time);
const rows = Number(values.rows);
const cols = Number(values.cols);
const seedRows = Math.min(16, rows);

interface Row {
  dist: Dist;
  name: string;
  rows: number;
  medianMs: number;
  nsPerElement: number;
}

const results: Row[] = [];
for (const dist of ['exp', 'ties', 'worst'] as const) {
  const batch = makeBatch(dist, rows, cols);
  const seedBatch = {
    loss: batch.loss.subarray(0, seedRows * cols),
    numNeg: batch.numNeg.subarray(0, seedRows),
  };
  const out = new Uint8Array(rows * cols);
  const rank = new Int32Array(rows * cols);
  // Exactness before speed: the kernel must equal the literal double sort on the rows both run.
  const expected = referenceMask(seedBatch.loss, cols, seedBatch.numNeg);
  const actual = hardNegativeMask(seedBatch.loss, cols, seedBatch.numNeg);
  if (expected.some((v, i) => v !== actual[i]))
    throw new Error(`kernel differs from referenceMask on ${dist}`);

  const bench = new Bench({ time, warmupTime: 500 });
  bench.add(`kernel ${dist}`, () => {
    hardNegativeMask(batch.loss, cols, batch.numNeg, { out });
  });
  bench.add(
    `kernel-js ${dist}`,
    () => {
      hardNegativeMask(batch.loss, cols, batch.numNeg, { out });
    },
    { beforeAll: () => void setWasmKernel(false), afterAll: () => void setWasmKernel(true) },
  );
  bench.add(`sort+scatter ${dist}`, () => {
    rankDescending(batch.loss, cols, { out: rank });
  });
  bench.add(`seed ${dist} (${seedRows} rows)`, () => {
    referenceMask(seedBatch.loss, cols, seedBatch.numNeg);
  });
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    const taskRows = task.name.startsWith('seed') ? seedRows : rows;
    const medianMs = result.latency.p50;
    results.push({
      dist,
      name: task.name.split(' ')[0]!,
      rows: taskRows,
      medianMs,
      nsPerElement: (medianMs * 1e6) / (taskRows * cols),
    });
  }
}

console.log(
  `kernel benchmark: one thread, N = ${cols}, Node ${process.version}, median of >= ${time} ms per task`,
);
console.table(
  results.map((r) => ({
    task: r.name,
    dist: r.dist,
    rows: r.rows,
    'median ms': Number(r.medianMs.toFixed(3)),
    'ns/element': Number(r.nsPerElement.toFixed(3)),
  })),
);
const ns = (name: string, dist: Dist) =>
  results.find((r) => r.name === name && r.dist === dist)!.nsPerElement;
const targets: [string, number, string][] = [
  ['kernel exp <= 2.5 ns/element', ns('kernel', 'exp'), ns('kernel', 'exp') <= 2.5 ? 'met' : 'MISSED'],
  ['kernel worst <= 8 ns/element', ns('kernel', 'worst'), ns('kernel', 'worst') <= 8 ? 'met' : 'MISSED'],
];
for (const dist of ['exp', 'ties', 'worst'] as const) {
  const speedup = ns('seed', dist) / ns('kernel', dist);
  targets.push([`kernel vs seed (${dist}) >= 100x`, speedup, speedup >= 100 ? 'met' : 'MISSED']);
}
for (const [what, value, verdict] of targets)
  console.log(`${what.padEnd(34)} ${value.toFixed(2).padStart(8)}  ${verdict}`);
