/**
 * Inline-decision and input-kind benchmark (issue 13):
 * - for B in 1..4096 (N = 8732, SSD-typical `exp` losses, k uniform in 0..600), a default
 *   `HardNegativeMiner` (default options: threads, `inlineBelow`, fresh result) against
 *   `hardNegativeMask` on the calling thread, on an `allocLoss` batch and on a plain `Float32Array`
 *   holding the same values. Target: the miner never more than 10% slower (ratio <= 1.10);
 * - a plain `Float32Array` through the pool (2 threads, dispatched, reused `out`) against the same
 *   batch from `allocLoss`. Target: <= 1.25x.
 *
 * Every comparison is interleaved: each round times both contenders back to back, in alternating
 * order, each over enough calls to last a few milliseconds; the ratio is the median over rounds of
 * the per-round ratio, so both see the same moments of a shared machine.
 *
 * `--results reused` gives both contenders one reused shared `out` instead of a fresh result per
 * call (a fresh `SharedArrayBuffer` costs page faults on every call here; see bench/fresh-memory.ts).
 *
 * Run: `npm run build --silent && node dist/bench/crossover.bench.js [--rounds R] [--sizes 1,2,...]
 * [--results fresh|reused]`.
 */
import { parseArgs } from 'node:util';
import { makeBatch } from '../src/bench/data.ts';
import { allocLoss, HardNegativeMiner, hardNegativeMask } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    cols: { type: 'string', default: '8732' },
    sizes: { type: 'string', default: '1,2,4,8,16,32,64,128,256,512,1024,2048,4096' },
    plain: { type: 'string', default: '256,1024' },
    results: { type: 'string', default: 'fresh' },
  },
});
if (values.results !== 'fresh' && values.results !== 'reused')
  throw new Error('--results is fresh or reused');
/** Whether both contenders write into one reused shared `out` (else each returns a fresh result). */
const reused = values.results === 'reused';
const rounds = Number(values.rounds);
const cols = Number(values.cols);
const sizes = values.sizes.split(',').map(Number);
const plainSizes = values.plain.split(',').map(Number);

const miner = new HardNegativeMiner();
const forced = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });

/** Milliseconds for `reps` calls of `fn`, awaited one after the other. */
async function timeReps(fn: () => unknown, reps: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return performance.now() - start;
}

/** Calls per timed sample so a sample of `fn` lasts about `ms`. */
async function calibrate(fn: () => unknown, ms: number): Promise<number> {
  let reps = 1;
  for (;;) {
    const t = await timeReps(fn, reps);
    if (t >= ms / 4 || reps >= 1 << 16) return Math.max(1, Math.round((reps * ms) / Math.max(t, 1e-3)));
    reps *= 4;
  }
}

interface Pair {
  a: number;
  b: number;
  ratio: number;
}

/** Median per-call times (us) of `a` and `b` and the median over rounds of time(a) / time(b). */
async function interleave(a: () => unknown, b: () => unknown): Promise<Pair> {
  // Warm both up (their code optimised, their buffers faulted in) for ~20 ms each before timing.
  for (const fn of [a, b]) for (const start = performance.now(); performance.now() - start < 20; ) await fn();
  const reps = Math.min(await calibrate(a, 4), await calibrate(b, 4));
  const ta: number[] = [];
  const tb: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let x: number;
    let y: number;
    if (round % 2 === 0) {
      x = await timeReps(a, reps);
      y = await timeReps(b, reps);
    } else {
      y = await timeReps(b, reps);
      x = await timeReps(a, reps);
    }
    ta.push((x * 1000) / reps);
    tb.push((y * 1000) / reps);
    ratios.push(x / y);
  }
  const median = (xs: number[]) => xs.sort((p, q) => p - q)[xs.length >> 1]!;
  return { a: median(ta), b: median(tb), ratio: median(ratios) };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// Start and warm the default miner's threads before any timing (start-up is not timed): a batch
// above the static threshold is dispatched from its first call. Without this, the threads started
// inside the first size the miner probes (B = 16), whose calibration then saw a ~100 ms call.
{
  const warm = makeBatch('exp', 64, cols, 1, allocLoss);
  for (let i = 0; i < 20; i++) await miner.mask(warm.loss, cols, warm.numNeg);
}

const rows: Record<string, string | number>[] = [];
let worst = 0;
for (const b of sizes) {
  const shared = makeBatch('exp', b, cols, 1, allocLoss);
  const plain = Float32Array.from(shared.loss);
  for (const [kind, loss] of [
    ['allocLoss', shared.loss],
    ['plain', plain],
  ] as const) {
    const expected = hardNegativeMask(loss, cols, shared.numNeg);
    if (!same(await miner.mask(loss, cols, shared.numNeg), expected)) throw new Error('miner differs');
    const out = reused ? { out: new Uint8Array(new SharedArrayBuffer(b * cols)) } : undefined;
    const r = await interleave(
      () => miner.mask(loss, cols, shared.numNeg, out),
      () => hardNegativeMask(loss, cols, shared.numNeg, out),
    );
    worst = Math.max(worst, r.ratio);
    rows.push({
      B: b,
      input: kind,
      'static path': b * cols < miner.inlineBelow ? 'inline' : 'pool',
      'miner us': Number(r.a.toFixed(1)),
      'sync us': Number(r.b.toFixed(1)),
      'miner / sync': Number(r.ratio.toFixed(3)),
    });
  }
}
console.log(
  `default HardNegativeMiner (threads ${miner.threads}, inlineBelow ${miner.inlineBelow}) vs hardNegativeMask, ` +
    `N = ${cols}, exp losses, Node ${process.version}, ${reused ? 'one reused shared out' : 'fresh results'}, ` +
    `median of ${rounds} interleaved rounds (static path: where the fixed threshold would send the call; ` +
    'the default miner decides from its own measurements)',
);
console.table(rows);
console.log(`worst miner / sync ${worst.toFixed(3)}  ${worst <= 1.1 ? 'met' : 'MISSED'} (target <= 1.10)`);

const plainRows: Record<string, string | number>[] = [];
for (const b of plainSizes) {
  const shared = makeBatch('exp', b, cols, 1, allocLoss);
  const plain = Float32Array.from(shared.loss);
  const out = new Uint8Array(new SharedArrayBuffer(b * cols));
  for (const fresh of [false, true]) {
    const opts = fresh ? undefined : { out };
    const r = await interleave(
      () => forced.mask(plain, cols, shared.numNeg, opts),
      () => forced.mask(shared.loss, cols, shared.numNeg, opts),
    );
    plainRows.push({
      B: b,
      result: fresh ? 'fresh' : 'reused out',
      'plain us': Number(r.a.toFixed(1)),
      'allocLoss us': Number(r.b.toFixed(1)),
      'plain / allocLoss': Number(r.ratio.toFixed(3)),
      target: r.ratio <= 1.25 ? 'met' : 'MISSED',
    });
  }
}
console.log('pool@2 (dispatched): plain Float32Array vs allocLoss input (target <= 1.25x)');
console.table(plainRows);
await miner.close();
await forced.close();
