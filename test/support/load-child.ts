/**
 * The soak of test/load.test.ts, run in a child process of its own (`node --expose-gc --import tsx`)
 * so that its resident memory is measured without the test runner's, and `gc()` is available.
 *
 * `CALLS` concurrent `miner.mask` calls of random small shapes (all issued at once), each checked
 * against `referenceMask` as it resolves; `ROUNDS` times. Prints one JSON line: mismatches per round,
 * the unhandled rejections seen, and RSS / heap after a full GC, for a warm baseline and after each
 * round. Argument 3: `dispatch` (every call sent to the pool, `inlineBelow: 0`) or `default` (the
 * default miner, which runs calls this small on the calling thread).
 */
import { HardNegativeMiner, referenceMask } from '../../src/index.ts';
import { firstDifference, prng } from './adversarial.ts';

declare const gc: (() => void) | undefined;

const CALLS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 2);
const MODE = process.argv[4] ?? 'dispatch';

let unhandled = 0;
process.on('unhandledRejection', () => {
  unhandled++;
});

interface Input {
  loss: Float32Array;
  cols: number;
  counts: number[];
  expected: Uint8Array;
}

/** Random small shapes (1..8 rows, 1..96 cols), values with ties and signed zeros; exact expectations. */
function makeInputs(seed: number, n: number): Input[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => {
    const rows = 1 + Math.floor(random() * 8);
    const cols = 1 + Math.floor(random() * 96);
    const loss = new Float32Array(rows * cols);
    for (let i = 0; i < loss.length; i++) {
      const u = random();
      loss[i] = u < 0.1 ? -0 : u < 0.5 ? Math.floor(random() * 5) : random() * 10;
    }
    const counts = Array.from({ length: rows }, () => Math.floor(random() * (cols + 3)));
    return { loss, cols, counts, expected: referenceMask(loss, cols, counts) };
  });
}

/**
 * Full GCs, then V8's last-resort one, which also returns the heap pages V8 keeps after a peak
 * (Node 24 otherwise keeps ~100 MiB of empty heap after 10,000 pending calls: not the library's).
 */
function fullGc(): void {
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  (gc as (options?: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

const miner = new HardNegativeMiner(MODE === 'dispatch' ? { threads: 2, inlineBelow: 0 } : { threads: 2 });
// A distinct input for every call of a round: the calls are not a few repeated ones.
const inputs = makeInputs(2024, CALLS);

/**
 * One round: every call issued at once, each result checked as it arrives (the harness keeps no
 * result, so what stays in memory afterwards is the library's, not the test's).
 */
async function round(batch: readonly Input[]): Promise<{ wrong: number; ms: number }> {
  const started = performance.now();
  let wrong = 0;
  await Promise.all(
    batch.map((input) =>
      miner.mask(input.loss, input.cols, input.counts).then((mask) => {
        if (firstDifference(mask, input.expected) !== -1) wrong++;
      }),
    ),
  );
  return { wrong, ms: performance.now() - started };
}

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;
function memory(): { rssMiB: number; heapMiB: number; heapTotalMiB: number; arrayBuffersMiB: number } {
  fullGc();
  const m = process.memoryUsage();
  return {
    rssMiB: mib(m.rss),
    heapMiB: mib(m.heapUsed),
    heapTotalMiB: mib(m.heapTotal),
    arrayBuffersMiB: mib(m.arrayBuffers),
  };
}

// Baseline: the pool started and warm (500 concurrent calls), after a full GC.
const warm = await round(inputs.slice(0, 500));
const baseline = memory();
const rounds: ({ wrong: number; ms: number } & ReturnType<typeof memory>)[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const { wrong, ms } = await round(inputs);
  rounds.push({ wrong, ms: Math.round(ms), ...memory() });
}
const stats = miner.stats;
await miner.close();
process.stdout.write(
  `${JSON.stringify({ mode: MODE, calls: CALLS, warmWrong: warm.wrong, baseline, rounds, unhandled, stats })}\n`,
);
