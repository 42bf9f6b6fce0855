/**
 * Issue 16 "Also": resident memory over 12 rounds of 2000 concurrent pooled calls, and after
 * close(). Run: `node --expose-gc --import tsx test/support/rss-rounds.ts [rounds] [calls] [rows]`.
 * Prints one line per stage: RSS, V8 heap used/total, external and array-buffer bytes (MiB), after
 * full GCs.
 */
import { HardNegativeMiner } from '../../src/index.ts';

declare const gc: () => void;
const ROUNDS = Number(process.argv[2] ?? 12);
const CALLS = Number(process.argv[3] ?? 2000);
const ROWS = Number(process.argv[4] ?? 8);
const COLS = 8732;

const mib = (b: number) => Math.round(b / 104857.6) / 10;
async function report(stage: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  console.log(
    `${stage.padEnd(12)} rss ${mib(m.rss)}  heapUsed ${mib(m.heapUsed)}  heapTotal ${mib(m.heapTotal)}  external ${mib(m.external)}  arrayBuffers ${mib(m.arrayBuffers)}`,
  );
}

const loss = new Float32Array(ROWS * COLS).map((_, i) => ((i * 2654435761) % 1000003) / 1000003);
await report('start');
const miner = new HardNegativeMiner({ threads: 2, inlineBelow: 0 });
await miner.mask(loss, COLS, 100);
await report('warm');
for (let r = 1; r <= ROUNDS; r++) {
  await Promise.all(Array.from({ length: CALLS }, () => miner.mask(loss, COLS, 100)));
  if (r === 1 || r % 3 === 0) await report(`round ${r}`);
}
await miner.close();
await report('closed');
await new Promise((resolve) => setTimeout(resolve, 2000));
await report('closed+2s');
