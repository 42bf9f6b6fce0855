/**
 * Where the wasm mask kernel spends its time on the usual row (`exp`: SSD-typical losses, k uniform
 * in 0..600, B = 1024, N = 8732, one thread): the row's steps run cumulatively over the whole batch,
 * each prefix timed twice back to back like the floor pass (the second run timed, CPU time), the
 * tasks interleaved round by round, so each phase is the difference between two prefixes in the
 * same rounds:
 * - `stage`: the copy of each row into the thread's wasm memory;
 * - `+ sample`: the pivot sample over the staged copy;
 * - `+ scan`: `mine` with k past the candidate count, so it stops after the scan (mask row zeroing
 *   included) and reports too few candidates;
 * - `+ select`: `mine` whole (the select's passes over the candidates and the marks);
 * - `+ copy out`: the mask row copied into `out`;
 * - `hardNegativeMask`: the whole call (validation, the rows of k = 0 or N, the rare other paths).
 * Rows with k = 0 or k = N take the mask fill only, at every level. The last column is the median
 * over rounds of each task over that round's floor pass (src/kernel/floor.ts).
 *
 * Run: `npm run build --silent && node dist/bench/kernel-phases.js [--rounds 40]`.
 */
import { parseArgs } from 'node:util';
import { makeBatch } from '../src/bench/data.ts';
import { hardNegativeMask } from '../src/index.ts';
import { createFloorPass } from '../src/kernel/floor.ts';
import { sampleNeed } from '../src/kernel/sample.ts';
import {
  copyMaskOut,
  maskRowAt,
  mineStaged,
  sampleStaged,
  stageRow,
  wasmKernelFor,
  wasmKernelStatus,
} from '../src/kernel/wasm-kernel.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '40' } } });
const rounds = Number(values.rounds);
const rows = 1024;
const cols = 8732;

const status = wasmKernelStatus();
if (status.kernel !== 'wasm') throw new Error(`the wasm kernel is not in use: ${status.reason}`);
const batch = makeBatch('exp', rows, cols);
const bits = new Int32Array(batch.loss.buffer, batch.loss.byteOffset, batch.loss.length);
const counts = Int32Array.from(batch.numNeg, (k) => Math.min(Math.max(k, 0), cols));
const out = new Uint8Array(rows * cols);
const floor = createFloorPass(batch.loss);
const w = wasmKernelFor(cols);
if (floor === null || w === null) throw new Error('no floor pass or wasm kernel on this engine');

const STAGE = 0;
const SAMPLE = 1;
const SCAN = 2;
const SELECT = 3;
const COPY = 4;

/** The usual row's steps up to `level`, over every row. */
function prefix(level: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const k = counts[r]!;
    stageRow(bits, base, cols, w!);
    if (k <= 0 || k >= cols) {
      out.fill(k <= 0 ? 0 : 1, base, base + cols);
      continue;
    }
    if (level === STAGE) continue;
    const pivot = sampleStaged(w!, cols, sampleNeed(cols, k));
    if (level === SAMPLE || pivot <= 0 || pivot >= 1 << 20) continue;
    const mask = maskRowAt(w!, out, base);
    mineStaged(w!, cols, pivot, level === SCAN ? cols - 1 : k, mask);
    if (level === COPY) copyMaskOut(w!, mask, cols, out, null, base);
  }
}

const cpu = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const tasks: [string, () => unknown][] = [
  ['floor', () => floor.run()],
  ['stage', () => prefix(STAGE)],
  ['+ sample', () => prefix(SAMPLE)],
  ['+ scan', () => prefix(SCAN)],
  ['+ select', () => prefix(SELECT)],
  ['+ copy out', () => prefix(COPY)],
  ['hardNegativeMask', () => hardNegativeMask(batch.loss, cols, batch.numNeg, { out })],
];
const times: number[][] = tasks.map(() => []);
const ratios: number[][] = tasks.map(() => []);
for (let round = 0; round < rounds; round++) {
  const ms = tasks.map(([, fn]) => {
    fn();
    const start = cpu();
    fn();
    return cpu() - start;
  });
  ms.forEach((v, t) => {
    times[t]!.push(v);
    ratios[t]!.push(v / ms[0]!);
  });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `kernel phases: exp, B = ${rows}, N = ${cols}, one thread, ${rounds} interleaved rounds, CPU time`,
);
console.table(
  tasks.map(([name], t) => ({
    task: name,
    'ns/element': Number(((median(times[t]!) * 1e6) / (rows * cols)).toFixed(3)),
    'x floor': Number(median(ratios[t]!).toFixed(2)),
  })),
);
