/**
 * Side-by-side pool timings of several builds of this package (for measuring one pool change at a
 * time on a shared machine): for each build, a `HardNegativeMiner` forced through the pool
 * (`inlineBelow: 0`) and a default one, 2 threads, all in one process, writing one reused shared
 * `out` (or, with `--results fresh`, returning a fresh result per call), interleaved round by round
 * (the order rotates each round), wall time. Every miner is warmed first (30 calls, 5 for rank);
 * start-up is never timed. Medians of per-round means, ns per element.
 *
 * Run: build each version's `dist` (for a commit: `git archive C | tar -x -C DIR`, link
 * node_modules, `npx tsc -p tsconfig.build.json`), then
 * `node dist/bench/compare-pool-builds.js [--rows 64,256,1024] [--input shared|plain]
 * [--results reused|fresh] [--method mask|rank] [--rounds 15] DIR...`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeBatch } from '../src/bench/data.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rows: { type: 'string', default: '64,256,1024' },
    cols: { type: 'string', default: '8732' },
    rounds: { type: 'string', default: '15' },
    input: { type: 'string', default: 'shared' },
    results: { type: 'string', default: 'reused' },
    method: { type: 'string', default: 'mask' },
  },
});
if (values.input !== 'shared' && values.input !== 'plain') throw new Error('--input is shared or plain');
if (values.results !== 'reused' && values.results !== 'fresh')
  throw new Error('--results is reused or fresh');
if (values.method !== 'mask' && values.method !== 'rank') throw new Error('--method is mask or rank');
/** Whether each call returns a fresh result (else all write one reused shared `out`). */
const fresh = values.results === 'fresh';
const ranks = values.method === 'rank';
const cols = Number(values.cols);
const rounds = Number(values.rounds);

interface Miner {
  mask(loss: Float32Array, cols: number, k: Int32Array, options?: { out: Uint8Array }): Promise<Uint8Array>;
  rank(loss: Float32Array, cols: number, options?: { out: Int32Array }): Promise<Int32Array>;
  close(): Promise<void>;
}
interface Api {
  allocLoss(rows: number, cols: number): Float32Array;
  HardNegativeMiner: new (options: { threads: number; inlineBelow?: number }) => Miner;
}
const builds: [string, Api][] = [];
for (const dir of positionals) {
  builds.push([dir, (await import(pathToFileURL(resolve(dir, 'dist/src/index.js')).href)) as Api]);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const table: Record<string, string | number>[] = [];
for (const rows of values.rows.split(',').map(Number)) {
  const batch = makeBatch('exp', rows, cols, 1, builds[0]![1].allocLoss);
  const loss = values.input === 'shared' ? batch.loss : Float32Array.from(batch.loss);
  const out = new Uint8Array(new SharedArrayBuffer(rows * cols));
  const rankOut = new Int32Array(new SharedArrayBuffer(rows * cols * 4));
  const call = (miner: Miner): Promise<unknown> =>
    ranks
      ? miner.rank(loss, cols, fresh ? undefined : { out: rankOut })
      : miner.mask(loss, cols, batch.numNeg, fresh ? undefined : { out });
  const miners = builds.flatMap(([dir, api]) => [
    { name: `${dir} forced`, miner: new api.HardNegativeMiner({ threads: 2, inlineBelow: 0 }) },
    { name: `${dir} default`, miner: new api.HardNegativeMiner({ threads: 2 }) },
  ]);
  for (const { miner } of miners) for (let i = 0; i < (ranks ? 5 : 30); i++) await call(miner);
  const reps = Math.max(ranks ? 1 : 3, Math.round((ranks ? 2e6 : 2e7) / (rows * cols)));
  const times: number[][] = miners.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < miners.length; j++) {
      const at = (j + round) % miners.length;
      const start = performance.now();
      for (let i = 0; i < reps; i++) await call(miners[at]!.miner);
      times[at]!.push((performance.now() - start) / reps);
    }
  }
  for (let j = 0; j < miners.length; j++) {
    table.push({
      B: rows,
      build: miners[j]!.name,
      'ns/element': Number(((median(times[j]!) * 1e6) / (rows * cols)).toFixed(3)),
    });
  }
  for (const { miner } of miners) await miner.close();
}
console.log(
  `pool builds side by side: ${values.method}, ${values.input} input, N = ${cols}, 2 threads, ` +
    `${fresh ? 'a fresh result per call' : 'reused shared out'}, ${rounds} interleaved rounds, wall time`,
);
console.table(table);
