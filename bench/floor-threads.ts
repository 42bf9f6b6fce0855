/**
 * The floor pass (src/kernel/floor.ts) on several worker threads at once, each over its share of one
 * batch in the floor's shared memory: the floor of a pool with that many threads. A call posts one
 * message per thread and resolves when all have answered, as a pool call does.
 */
import { Worker } from 'node:worker_threads';
import type { FloorPass } from '../src/kernel/floor.ts';

const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const FLOOR_MODULE = new URL(`../src/kernel/floor.${extension}`, import.meta.url).href;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url).then(({ floorRunner }) => {
  const run = floorRunner(workerData.module, workerData.memory, workerData.length);
  parentPort.on('message', () => {
    run(workerData.start, workerData.end);
    parentPort.postMessage(0);
  });
  parentPort.postMessage(0);
});
`;

export class FloorThreads {
  readonly #workers: Worker[] = [];
  readonly #ready: Promise<unknown>;

  constructor(pass: FloorPass, threads: number) {
    const share = Math.ceil(pass.length / threads / 16) * 16;
    const ready: Promise<unknown>[] = [];
    for (let t = 0; t < threads; t++) {
      const start = Math.min(t * share, pass.length);
      const end = Math.min(start + share, pass.length);
      const worker = new Worker(WORKER, {
        eval: true,
        workerData: {
          url: FLOOR_MODULE,
          module: pass.module,
          memory: pass.memory,
          length: pass.length,
          start,
          end,
        },
      });
      ready.push(new Promise((resolve) => worker.once('message', resolve)));
      this.#workers.push(worker);
    }
    this.#ready = Promise.all(ready);
  }

  /** Resolves once every thread has instantiated the pass. */
  ready(): Promise<unknown> {
    return this.#ready;
  }

  /** One pass over the whole batch, the threads' shares at once. */
  run(): Promise<unknown> {
    return Promise.all(
      this.#workers.map(
        (worker) =>
          new Promise((resolve) => {
            worker.once('message', resolve);
            worker.postMessage(0);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}
