/**
 * What a fresh result costs: allocating an 8.9 MB `SharedArrayBuffer` (B = 1024, N = 8732 mask bytes;
 * `--bytes N` for another size, `--kind plain` for an `ArrayBuffer`) and writing every byte once
 * (8-byte words, as the kernel's mask fill does), against writing the same buffer a second time. The difference is the first touch of fresh pages (page faults and the
 * kernel's zeroing). Wall and CPU time (user + system: page faults are system time); with `--keep N`,
 * the last N buffers stay referenced, so the allocator cannot hand the same pages back.
 *
 * Run: `npm run build --silent && node dist/bench/fresh-memory.js [--keep 4] [--rounds 41]
 * [--bytes 8941568] [--kind shared|plain]`.
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    keep: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '41' },
    bytes: { type: 'string', default: String(1024 * 8732) },
    kind: { type: 'string', default: 'shared' },
  },
});
const keepAlive = Number(values.keep);
const rounds = Number(values.rounds);
if (values.kind !== 'shared' && values.kind !== 'plain') throw new Error('--kind is shared or plain');
const shared = values.kind === 'shared';
const bytes = Math.ceil(Number(values.bytes) / 8) * 8;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const cpu = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const first = { wall: [] as number[], cpu: [] as number[] };
const second = { wall: [] as number[], cpu: [] as number[] };
const kept: Float64Array[] = [];
for (let round = 0; round < rounds; round++) {
  let wall = performance.now();
  let time = cpu();
  const words = new Float64Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  words.fill(1);
  first.wall.push(performance.now() - wall);
  first.cpu.push(cpu() - time);
  wall = performance.now();
  time = cpu();
  words.fill(2);
  second.wall.push(performance.now() - wall);
  second.cpu.push(cpu() - time);
  kept.push(words);
  if (kept.length > keepAlive) kept.shift();
}
const line = (what: string, ms: number[]): string =>
  `${what} ${median(ms).toFixed(2)} ms (${((median(ms) * 1e6) / bytes).toFixed(2)} ns/byte)`;
const what = shared ? 'SharedArrayBuffer' : 'ArrayBuffer';
console.log(
  `fresh ${(bytes / 1e6).toFixed(2)} MB ${what}, ${rounds} rounds, ${keepAlive} kept alive, medians:`,
);
console.log(`  allocate + first write: ${line('wall', first.wall)}, ${line('CPU', first.cpu)}`);
console.log(`  second write:           ${line('wall', second.wall)}, ${line('CPU', second.cpu)}`);
