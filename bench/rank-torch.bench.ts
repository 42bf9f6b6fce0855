/**
 * `miner.rank` on 2 worker threads against PyTorch's stable double sort on 2 threads (issue 13
 * target: >= 10x faster), on the same bytes: B = 1024, N = 8732, SSD-typical `exp` losses. Torch
 * runs in a child process (bench/torch-serve.ts) and times each call itself (wall clock, no pipe
 * round trip); each round times one torch call and one `miner.rank` call (an `allocLoss` batch, a
 * reused shared `out`, and a fresh result), so all see the same moments of a shared machine. The
 * ratio is the median over rounds of torch's time over the miner's. The miner's ranks are checked
 * against `rankDescending` first.
 *
 * Run: `npm run build --silent && node dist/bench/rank-torch.bench.js [--rows B] [--rounds R]`.
 */
import { parseArgs } from 'node:util';
import { makeBatch } from '../src/bench/data.ts';
import { allocLoss, HardNegativeMiner, rankDescending } from '../src/index.ts';
import { Torch } from './torch-serve.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1024' },
    cols: { type: 'string', default: '8732' },
    rounds: { type: 'string', default: '15' },
  },
});
const rows = Number(values.rows);
const cols = Number(values.cols);
const rounds = Number(values.rounds);

const batch = makeBatch('exp', rows, cols, 1, allocLoss);
const miner = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
const out = new Int32Array(new SharedArrayBuffer(rows * cols * 4));
const expected = rankDescending(batch.loss, cols);
const got = await miner.rank(batch.loss, cols);
for (let i = 0; i < expected.length; i++) {
  if (got[i] !== expected[i]) throw new Error(`miner.rank differs from rankDescending at ${i}`);
}
const torch = new Torch(batch.loss, batch.numNeg, cols, 2, 'wall');
const version = await torch.ready();
const mask = await torch.mask();
for (let i = 0; i < mask.length; i++) {
  const row = Math.floor(i / cols);
  if (mask[i] !== (expected[i]! < batch.numNeg[row]! ? 1 : 0))
    throw new Error(`torch's mask differs at ${i}`);
}
for (let i = 0; i < 3; i++) await miner.rank(batch.loss, cols, { out });

const timeIt = async (fn: () => Promise<unknown>): Promise<number> => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};
const torchMs: number[] = [];
const reusedMs: number[] = [];
const freshMs: number[] = [];
const vsReused: number[] = [];
const vsFresh: number[] = [];
for (let round = 0; round < rounds; round++) {
  const t = await torch.time('double_sort');
  const r = await timeIt(() => miner.rank(batch.loss, cols, { out }));
  const f = await timeIt(() => miner.rank(batch.loss, cols));
  torchMs.push(t);
  reusedMs.push(r);
  freshMs.push(f);
  vsReused.push(t / r);
  vsFresh.push(t / f);
}
torch.close();
await miner.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ns = (ms: number) => ((ms * 1e6) / (rows * cols)).toFixed(2);
console.log(
  `rank: B = ${rows}, N = ${cols}, exp losses, Node ${process.version}, ${version.replace('ready ', '')} (2 threads), median of ${rounds} interleaved rounds, wall clock`,
);
console.table([
  {
    task: 'torch stable double sort @2',
    'median ms': median(torchMs).toFixed(1),
    'ns/element': ns(median(torchMs)),
  },
  {
    task: 'miner.rank @2 (reused out)',
    'median ms': median(reusedMs).toFixed(1),
    'ns/element': ns(median(reusedMs)),
  },
  {
    task: 'miner.rank @2 (fresh)',
    'median ms': median(freshMs).toFixed(1),
    'ns/element': ns(median(freshMs)),
  },
]);
for (const [what, ratios] of [
  ['torch / miner.rank (reused out)', vsReused],
  ['torch / miner.rank (fresh)', vsFresh],
] as const) {
  const m = median(ratios);
  console.log(
    `${what.padEnd(34)} ${m.toFixed(2).padStart(7)}x  ${m >= 10 ? 'met' : 'MISSED'} (target >= 10x)`,
  );
}
