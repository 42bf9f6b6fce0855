/**
 * The `tf_object_detection` preset's cost: greedy NMS over SSD300's 8732 decoded boxes per image, with
 * TensorFlow's SSD pipeline settings (`num_hard_examples: 3000, iou_threshold: 0.99, loss_type:
 * CLASSIFICATION, max_negatives_per_positive: 3, min_negatives_per_image: 3`), on one thread:
 * - `grid`: the library's NMS (sort once, selected boxes indexed by their lower corner);
 * - `plain`: a straightforward O(N * S) NMS (each candidate against every selected box), the same
 *   row kernel otherwise; checked to give the same selection first;
 * - `pool`: the library's pooled call (`tfodNegativesPooled`, every thread of the machine).
 *
 * Run: `npm run bench:nms` (builds, then `node dist/bench/nms.bench.js [--time MS] [--rows 32,256]`);
 * the plain path runs once per batch size (about a minute at B = 256).
 * Boxes: the SSD300 priors (feature maps 38, 19, 10, 5, 3, 1; PriorBox sizes) with small random
 * offsets, as decoded predictions are; losses exponential; 0.4% positives. Medians; this 2-core
 * machine is shared and noisy.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { mulberry32 } from '../src/bench/data.ts';
import { HardNegativeMiner, tfodNegativesPooled } from '../src/index.ts';
import type { TfodRowsOutput } from '../src/ssd/tfod.ts';
import { mineTfodRows } from '../src/ssd/tfod.ts';
import type { TfodOptions } from '../src/ssd/tfod-options.ts';
import { planTfod } from '../src/ssd/tfod-options.ts';

const { values } = parseArgs({
  options: {
    time: { type: 'string', default: '2000' },
    rows: { type: 'string', default: '32,256' },
  },
});
const time = Number(values.time);
const batches = values.rows.split(',').map(Number);

/** SSD300's 8732 priors as (cy, cx, h, w), ssd.pytorch's PriorBox configuration. */
function priors(): number[][] {
  const maps = [38, 19, 10, 5, 3, 1];
  const steps = [8, 16, 32, 64, 100, 300];
  const minSizes = [30, 60, 111, 162, 213, 264];
  const maxSizes = [60, 111, 162, 213, 264, 315];
  const ratios = [[2], [2, 3], [2, 3], [2, 3], [2], [2]];
  const out: number[][] = [];
  maps.forEach((f, k) => {
    for (let i = 0; i < f; i++) {
      for (let j = 0; j < f; j++) {
        const fk = 300 / steps[k]!;
        const cx = (j + 0.5) / fk;
        const cy = (i + 0.5) / fk;
        const s = minSizes[k]! / 300;
        const s2 = Math.sqrt(s * (maxSizes[k]! / 300));
        out.push([cy, cx, s, s], [cy, cx, s2, s2]);
        for (const ar of ratios[k]!) {
          const r = Math.sqrt(ar);
          out.push([cy, cx, s / r, s * r], [cy, cx, s * r, s / r]);
        }
      }
    }
  });
  return out;
}

function makeInputs(rows: number): TfodOptions {
  const p = priors();
  const cols = p.length;
  const rand = mulberry32(rows);
  const boxes = new Float32Array(rows * cols * 4);
  const loss = new Float32Array(rows * cols);
  const positives = new Uint8Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    const [cy, cx, h, w] = p[i % cols]!;
    // Decoded predictions: the prior moved by a fraction of its size (variances 0.1 / 0.2).
    const y = cy! + (rand() - 0.5) * 0.1 * h!;
    const x = cx! + (rand() - 0.5) * 0.1 * w!;
    const hh = h! * Math.exp((rand() - 0.5) * 0.2);
    const ww = w! * Math.exp((rand() - 0.5) * 0.2);
    boxes.set([y - hh / 2, x - ww / 2, y + hh / 2, x + ww / 2], 4 * i);
    loss[i] = -Math.log(1 - rand());
    positives[i] = rand() < 0.004 ? 1 : 0;
  }
  return {
    preset: 'tf_object_detection',
    cols,
    loss,
    positives,
    boxes,
    numHardExamples: 3000,
    iouThreshold: 0.99,
    lossType: 'cls',
    maxNegativesPerPositive: 3,
    minNegativesPerImage: 3,
  };
}

const threads = availableParallelism();
await using miner = new HardNegativeMiner({ threads });
const table: Record<string, unknown>[] = [];
for (const rows of batches) {
  const options = makeInputs(rows);
  const plan = planTfod(options);
  const output = (): TfodRowsOutput => ({
    selected: new Uint8Array(rows * plan.cols),
    positivesPerRow: new Int32Array(rows),
    negativesPerRow: new Int32Array(rows),
    clsSums: new Float64Array(rows),
    locSums: new Float64Array(rows),
  });
  const grid = output();
  const plain = output();
  // The same selection first (on the first 8 rows: the plain path takes seconds per batch).
  const check = Math.min(rows, 8);
  mineTfodRows(plan, 0, check, grid);
  mineTfodRows(plan, 0, check, plain, true);
  if (grid.selected.some((v, i) => v !== plain.selected[i])) throw new Error('grid and plain NMS differ');
  // The plain path takes a minute per B = 256 batch: one timed run, no warm-up (it is all one loop).
  const slow = new Bench({ time: 0, warmupTime: 0, iterations: 1, warmupIterations: 0 });
  slow.add(`plain B=${rows}`, () => mineTfodRows(plan, 0, rows, plain, true));
  const fast = new Bench({ time, warmupTime: 0, iterations: 5, warmupIterations: 5 });
  fast.add(`grid B=${rows}`, () => mineTfodRows(plan, 0, rows, grid));
  fast.add(`pool B=${rows}`, async () => {
    await tfodNegativesPooled(miner, options);
  });
  await fast.run();
  await slow.run();
  for (const task of [...fast.tasks, ...slow.tasks]) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    table.push({
      task: task.name,
      'median ms': Number(result.latency.p50.toFixed(1)),
      'ms/image': Number((result.latency.p50 / rows).toFixed(3)),
      samples: result.latency.samplesCount,
    });
  }
}
console.log(
  `NMS benchmark (tf_object_detection, SSD config): N = 8732, Node ${process.version}, one thread ` +
    `(pool: ${threads} threads), grid and pool: 5 warm-up runs, then the median of >= ${time} ms and 5 runs; plain: one run`,
);
console.table(table);
