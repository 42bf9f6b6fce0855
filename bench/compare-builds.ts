/**
 * Side-by-side kernel timings of several builds of this package (for measuring one change at a time
 * on a shared machine): every build's `hardNegativeMask` and `rankDescending` run in the same
 * process, interleaved round by round with the floor pass, on the same batches, timed in CPU time.
 *
 * Run: build each version's `dist` (for a commit: `git archive C | tar -x -C DIR`, link
 * node_modules, `npx tsc -p tsconfig.build.json`), then
 * `node dist/bench/compare-builds.js [--rows 1024] [--rounds 15] DIR...`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeBatch } from '../src/bench/data.ts';
import { createFloorPass } from '../src/kernel/floor.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rows: { type: 'string', default: '1024' },
    cols: { type: 'string', default: '8732' },
    rounds: { type: 'string', default: '15' },
  },
});
const rows = Number(values.rows);
const cols = Number(values.cols);
const rounds = Number(values.rounds);

interface Api {
  hardNegativeMask(loss: Float32Array, cols: number, k: Int32Array, options: { out: Uint8Array }): Uint8Array;
  rankDescending(loss: Float32Array, cols: number, options: { out: Int32Array }): Int32Array;
}
const builds: [string, Api][] = [];
for (const dir of positionals) {
  builds.push([dir, (await import(pathToFileURL(resolve(dir, 'dist/src/index.js')).href)) as Api]);
}

const cpu = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
/** CPU milliseconds of the second of two back-to-back runs. */
const twice = (fn: () => unknown): number => {
  fn();
  const start = cpu();
  fn();
  return cpu() - start;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

for (const dist of ['exp', 'worst'] as const) {
  const batch = makeBatch(dist, rows, cols);
  const floor = createFloorPass(batch.loss)!;
  const out = new Uint8Array(rows * cols);
  const rank = new Int32Array(rows * cols);
  const expected = builds[0]![1].hardNegativeMask(batch.loss, cols, batch.numNeg, {
    out: new Uint8Array(rows * cols),
  });
  const tasks: [string, () => unknown][] = [['floor', () => floor.run()]];
  for (const [dir, api] of builds) {
    const mask = api.hardNegativeMask(batch.loss, cols, batch.numNeg, { out });
    if (mask.some((v, i) => v !== expected[i])) throw new Error(`${dir} differs from ${builds[0]![0]}`);
    tasks.push([`mask ${dir}`, () => api.hardNegativeMask(batch.loss, cols, batch.numNeg, { out })]);
    if (dist === 'exp')
      tasks.push([`rank ${dir}`, () => api.rankDescending(batch.loss, cols, { out: rank })]);
  }
  const ratios: number[][] = tasks.map(() => []);
  const times: number[][] = tasks.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const ms = tasks.map(([, fn]) => twice(fn));
    ms.forEach((v, t) => {
      times[t]!.push(v);
      ratios[t]!.push(v / ms[0]!);
    });
  }
  console.log(`${dist}: B = ${rows}, N = ${cols}, ${rounds} interleaved rounds, CPU time`);
  console.table(
    tasks.map(([name], t) => ({
      task: name,
      'ns/element': Number(((median(times[t]!) * 1e6) / (rows * cols)).toFixed(3)),
      'x floor': Number(median(ratios[t]!).toFixed(2)),
    })),
  );
}
