import { describe, expect, it } from 'vitest';
import { allocLoss, HardNegativeMiner, hardNegativeMask } from '../src/index.ts';
import { SharedStaging } from '../src/pool/shared-buffers.ts';
import { firstDifference, prng } from './support/adversarial.ts';
import { collectUnhandledRejections } from './support/unhandled.ts';

/**
 * Arguments whose getters run the caller's code in the middle of a pooled call (issue 16, item 3):
 * the miner reads every argument once, before it registers the call, so such code can neither leave
 * a call registered forever nor make the call use two different values of one argument.
 */

const COLS = 64;
const ROWS = 80;

function lossOf(rows: number, seed: number, into?: Float32Array): Float32Array {
  const random = prng(seed);
  const loss = into ?? new Float32Array(rows * COLS);
  for (let i = 0; i < loss.length; i++) loss[i] = random() < 0.2 ? Math.floor(random() * 3) : random() * 5;
  return loss;
}

/** An array-like of per-row counts whose entry 0 runs `effect` when read. */
function countsWithGetter(rows: number, k: number, effect: () => void): ArrayLike<number> {
  const counts: Record<number, number> & { length: number } = { length: rows };
  for (let r = 1; r < rows; r++) counts[r] = k;
  Object.defineProperty(counts, 0, {
    get() {
      effect();
      return k;
    },
  });
  return counts;
}

function detach(buffer: ArrayBuffer): void {
  structuredClone(buffer, { transfer: [buffer] });
}

interface ResizableBufferConstructor {
  new (bytes: number, options: { maxByteLength: number }): ArrayBuffer & { resize(bytes: number): void };
}

/** Every staging buffer acquired and released while `run` runs (the class is patched meanwhile). */
async function watchStaging(run: () => Promise<void>): Promise<{ acquired: number; released: number }> {
  const { acquire, release } = SharedStaging.prototype;
  const seen = { acquired: 0, released: 0 };
  SharedStaging.prototype.acquire = function (this: SharedStaging, bytes: number) {
    seen.acquired++;
    return acquire.call(this, bytes);
  };
  SharedStaging.prototype.release = function (this: SharedStaging, buffer: SharedArrayBuffer) {
    seen.released++;
    return release.call(this, buffer);
  };
  try {
    await run();
  } finally {
    SharedStaging.prototype.acquire = acquire;
    SharedStaging.prototype.release = release;
  }
  return seen;
}

const unhandled = collectUnhandledRejections();

// inlineBelow 0: dispatched to the workers; the default: run on the calling thread.
for (const inlineBelow of [0, undefined]) {
  const where = inlineBelow === 0 ? 'dispatched' : 'inline';
  describe(`getters that change the arguments mid-call (${where})`, () => {
    it('a count getter or an option getter that detaches the loss: a TypeError, nothing stays active, close() is clean', async () => {
      const miner = new HardNegativeMiner({
        threads: 2,
        ...(inlineBelow === undefined ? {} : { inlineBelow }),
      });
      const expected = hardNegativeMask(lossOf(ROWS, 1), COLS, 7);
      expect(firstDifference(await miner.mask(lossOf(ROWS, 1), COLS, 7), expected)).toBe(-1);
      const seen = await watchStaging(async () => {
        const a = lossOf(ROWS, 1);
        const byCount = miner.mask(
          a,
          COLS,
          countsWithGetter(ROWS, 7, () => detach(a.buffer as ArrayBuffer)),
        );
        await expect(byCount).rejects.toThrow(TypeError);
        await expect(byCount).rejects.toThrow(/`loss` changed while the call's arguments were read/);
        for (const key of ['nan', 'signal', 'out'] as const) {
          const b = lossOf(ROWS, 2);
          const options = Object.defineProperty({}, key, {
            get() {
              detach(b.buffer as ArrayBuffer);
              return undefined;
            },
          });
          await expect(miner.mask(b, COLS, 7, options)).rejects.toThrow(/`loss` changed/);
          const c = lossOf(ROWS, 3);
          const rankOptions = Object.defineProperty({}, key, {
            get() {
              detach(c.buffer as ArrayBuffer);
              return undefined;
            },
          });
          await expect(miner.rank(c, COLS, rankOptions)).rejects.toThrow(/`loss` changed/);
        }
        const d = lossOf(ROWS, 4);
        const k = { valueOf: () => 5 }; // not a number: rejected before any getter could matter
        await expect(miner.maskBatchWide(d, COLS, k as unknown as number)).rejects.toThrow(TypeError);
      });
      expect(miner.stats.active).toBe(0);
      // Every staging buffer taken was given back (none is taken before the arguments are read).
      expect(seen.released).toBe(seen.acquired);
      expect(firstDifference(await miner.mask(lossOf(ROWS, 1), COLS, 7), expected)).toBe(-1);
      await miner.close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    });

    it('a getter that flips `out` between a shared and a plain array: the result is the mask, in the array read', async () => {
      await using miner = new HardNegativeMiner({
        threads: 2,
        ...(inlineBelow === undefined ? {} : { inlineBelow }),
      });
      const loss = lossOf(ROWS, 5);
      const expected = hardNegativeMask(loss, COLS, 9);
      for (const firstShared of [true, false]) {
        let reads = 0;
        const options = {
          get out() {
            reads++;
            const shared = (reads % 2 === 1) === firstShared;
            return shared ? new Uint8Array(new SharedArrayBuffer(ROWS * COLS)) : new Uint8Array(ROWS * COLS);
          },
        };
        const mask = await miner.mask(loss, COLS, 9, options);
        expect(reads).toBe(1);
        expect(mask.buffer instanceof SharedArrayBuffer).toBe(firstShared);
        expect(firstDifference(mask, expected)).toBe(-1);
        reads = 0;
        const wide = await miner.maskBatchWide(loss, COLS, 300, options);
        expect(reads).toBe(1);
        expect(firstDifference(wide, hardNegativeMask(loss, loss.length, 300))).toBe(-1);
      }
    });

    it('a count getter that shrinks a resizable loss buffer: rejected, never a 2-row mask for an 80-row call', async () => {
      await using miner = new HardNegativeMiner({
        threads: 2,
        ...(inlineBelow === undefined ? {} : { inlineBelow }),
      });
      const Resizable = ArrayBuffer as unknown as ResizableBufferConstructor;
      const buffer = new Resizable(ROWS * COLS * 4, { maxByteLength: ROWS * COLS * 4 });
      const loss = lossOf(ROWS, 6, new Float32Array(buffer)); // length-tracking
      expect(loss.length).toBe(ROWS * COLS);
      const call = miner.mask(
        loss,
        COLS,
        countsWithGetter(ROWS, 5, () => buffer.resize(2 * COLS * 4)),
      );
      await expect(call).rejects.toThrow(
        new TypeError(
          `\`loss\` changed while the call's arguments were read (length ${ROWS * COLS}, now ${2 * COLS}): its buffer was detached or resized`,
        ),
      );
      expect(miner.stats.active).toBe(0);
      // A growable shared loss grown by a getter: the call still covers the rows it was given.
      const Growable = SharedArrayBuffer as unknown as {
        new (
          bytes: number,
          options: { maxByteLength: number },
        ): SharedArrayBuffer & { grow(bytes: number): void };
      };
      const growable = new Growable(ROWS * COLS * 4, { maxByteLength: 2 * ROWS * COLS * 4 });
      const shared = lossOf(ROWS, 7, new Float32Array(growable));
      const expected = hardNegativeMask(lossOf(ROWS, 7), COLS, 5);
      const grown = miner.mask(
        shared,
        COLS,
        countsWithGetter(ROWS, 5, () => growable.grow(2 * ROWS * COLS * 4)),
      );
      await expect(grown).rejects.toThrow(/`loss` changed/);
      expect(miner.stats.active).toBe(0);
      const fixed = allocLoss(ROWS, COLS);
      fixed.set(lossOf(ROWS, 7));
      expect(firstDifference(await miner.mask(fixed, COLS, 5), expected)).toBe(-1);
    });
  });
}
