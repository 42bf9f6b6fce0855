import type { SpawnSyncReturns } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  confidenceLoss,
  encodeNpy,
  HardNegativeMiner,
  hardNegativeMask,
  hardNegativeMaskBatchWide,
  parseNpy,
  rankDescending,
  referenceMask,
  referenceRank,
  ssdNegatives,
} from '../src/index.ts';
import { ssdKerasTfReference } from '../src/ssd/reference-presets.ts';
import { describe as describeValue, errorText } from '../src/validate.ts';
import { syncError } from './support/sync-error.ts';

/**
 * Hostile inputs to the library (issue 16): outputs that overlap inputs, values that only look like
 * typed arrays, detached buffers, and the messages they get.
 */

const ROOT = join(import.meta.dirname, '..');

function detached(length: number): Float32Array {
  const loss = new Float32Array(length);
  structuredClone(loss.buffer, { transfer: [loss.buffer] });
  return loss;
}

describe('an output overlapping an input (run in a child process: before the check some calls never returned)', () => {
  let child: SpawnSyncReturns<string> | undefined;
  const parsed = (): {
    report: Record<string, { type?: string; message?: string; returned?: true }>;
    control: boolean[];
  } => {
    child ??= spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test', 'support', 'overlap-child.ts')],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' },
    );
    expect(child.signal, `the child was killed (hung?): ${child.stderr}`).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    return JSON.parse(child.stdout);
  };
  const overlap = (output: string, input: string) =>
    new RegExp(
      `^\`${output}\` overlaps \`${input.replace('.', '\\.')}\` \\(both use bytes \\d+ \\.\\. \\d+ of the same buffer\\); an output must not share memory with an input$`,
    );

  it.each([
    ['hardNegativeMask wasm k=3500', 'options.out', 'loss'],
    ['hardNegativeMask js k=3500', 'options.out', 'loss'],
    ['hardNegativeMask k=2048', 'options.out', 'loss'],
    ['hardNegativeMask out over numNeg', 'options.out', 'numNeg'],
    ['rankDescending', 'options.out', 'loss'],
    ['hardNegativeMaskBatchWide', 'options.out', 'loss'],
    ['ssdNegatives out = positives', 'options.out', 'options.positives'],
    ['ssdNegatives out over labels', 'options.out', 'options.labels'],
    ['confidenceLoss out over logits', 'out', 'logits'],
    ...['inline', 'dispatched'].flatMap((mode) => [
      [`miner.mask ${mode}`, 'options.out', 'loss'],
      [`miner.rank ${mode}`, 'options.out', 'loss'],
      [`miner.maskBatchWide ${mode}`, 'options.out', 'loss'],
      [`miner.ssdNegatives ${mode}`, 'options.out', 'options.positives'],
    ]),
  ])('%s: RangeError naming %s and %s', (name, output, input) => {
    const got = parsed().report[name];
    expect(got).toBeDefined();
    expect(got!.type).toBe('RangeError');
    expect(got!.message).toMatch(overlap(output, input));
  });

  it('an out in the same buffer right after the input is fine and exact (sync mask, sync rank, pool)', () => {
    expect(parsed().control).toEqual([true, true, true]);
  });
});

describe('values that only look like a Float32Array', () => {
  const real = new Float32Array([3, 1, 2, 5, 4, 0]);
  const proxy = new Proxy(real, {});
  const inherits = Object.create(Float32Array.prototype) as Float32Array;
  const swapped = new Uint8Array(24);
  Object.setPrototypeOf(swapped, Float32Array.prototype);
  const renamed = new Float32Array(6);
  Object.setPrototypeOf(renamed, Uint8Array.prototype);
  const cases = [
    ['a Proxy', proxy, '`loss` must be a Float32Array, got a Proxy'],
    [
      'Object.create(Float32Array.prototype)',
      inherits,
      "`loss` must be a Float32Array, got an object with Float32Array's prototype (not a typed array)",
    ],
    [
      'a Uint8Array with Float32Array.prototype',
      swapped,
      "`loss` must be a Float32Array, got Uint8Array with Float32Array's prototype",
    ],
    [
      'a Float32Array with Uint8Array.prototype',
      renamed,
      '`loss` must be a plain Float32Array, got one whose prototype was replaced',
    ],
  ] as const;
  const syncCalls = [
    ['hardNegativeMask', (loss: unknown) => hardNegativeMask(loss as Float32Array, 3, 1)],
    ['rankDescending', (loss: unknown) => rankDescending(loss as Float32Array, 3)],
    ['referenceMask', (loss: unknown) => referenceMask(loss as Float32Array, 3, 1)],
    ['referenceRank', (loss: unknown) => referenceRank(loss as Float32Array, 3)],
    ['hardNegativeMaskBatchWide', (loss: unknown) => hardNegativeMaskBatchWide(loss as Float32Array, 3, 1)],
  ] as const;

  for (const [what, value, message] of cases) {
    it.each(syncCalls)(`%s: ${what} is a TypeError naming \`loss\``, (_name, call) => {
      const error = syncError(() => call(value));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(message);
    });
  }

  const miner = new HardNegativeMiner({ threads: 1, inlineBelow: 0 });
  afterAll(() => miner.close());
  it.each(cases)(
    'pooled: %s rejects with the same TypeError (a swapped Uint8Array was mined as 24 values)',
    async (_what, value, message) => {
      await expect(miner.mask(value as Float32Array, 3, 1)).rejects.toThrow(new TypeError(message));
      await expect(miner.rank(value as Float32Array, 3)).rejects.toThrow(new TypeError(message));
      await expect(miner.maskBatchWide(value as Float32Array, 3, 1)).rejects.toThrow(new TypeError(message));
    },
  );

  it('ssdNegatives names options.loss; confidenceLoss names logits', () => {
    expect(() => ssdNegatives({ loss: proxy, positives: new Uint8Array(6), cols: 3 })).toThrow(
      new TypeError('`options.loss` must be a Float32Array, got a Proxy'),
    );
    expect(() => confidenceLoss(proxy, new Int32Array(3), 1, 3, 2)).toThrow(
      new TypeError('`logits` must be a Float32Array, got a Proxy'),
    );
  });

  it('a real Float32Array subclass is accepted and mined exactly', () => {
    class Losses extends Float32Array {}
    const loss = Losses.from([3, 1, 2, 5, 4, 0]) as Float32Array;
    expect(Array.from(hardNegativeMask(loss, 3, 1))).toEqual([1, 0, 0, 1, 0, 0]);
  });
});

describe('detached buffers are a TypeError naming the argument', () => {
  const message =
    '`loss` is detached (its buffer was transferred); pass a Float32Array whose buffer is attached';

  it('loss: hardNegativeMask (was the engine error), referenceMask (was an empty mask), per-row k', () => {
    expect(() => hardNegativeMask(detached(8), 4, 1)).toThrow(new TypeError(message));
    expect(() => referenceMask(detached(8), 4, 1)).toThrow(new TypeError(message));
    expect(() => hardNegativeMask(detached(8), 4, [1, 2])).toThrow(new TypeError(message));
    expect(() => rankDescending(detached(8), 4)).toThrow(new TypeError(message));
    expect(() => hardNegativeMaskBatchWide(detached(8), 4, 1)).toThrow(new TypeError(message));
  });

  it('pooled calls reject with it', async () => {
    await using miner = new HardNegativeMiner({ threads: 1 });
    await expect(miner.mask(detached(8), 4, 1)).rejects.toThrow(new TypeError(message));
  });

  it('numNeg and options.out', () => {
    const counts = new Int32Array(2);
    structuredClone(counts.buffer, { transfer: [counts.buffer] });
    expect(() => hardNegativeMask(new Float32Array(8), 4, counts)).toThrow(
      new TypeError(
        '`numNeg` is detached (its buffer was transferred); pass counts whose buffer is attached',
      ),
    );
    const out = new Uint8Array(8);
    structuredClone(out.buffer, { transfer: [out.buffer] });
    expect(() => hardNegativeMask(new Float32Array(8), 4, 1, { out })).toThrow(
      new TypeError(
        '`options.out` is detached (its buffer was transferred); pass a Uint8Array whose buffer is attached',
      ),
    );
  });

  it('ssdNegatives positives', () => {
    const positives = new Uint8Array(8);
    structuredClone(positives.buffer, { transfer: [positives.buffer] });
    expect(() => ssdNegatives({ loss: new Float32Array(8), positives, cols: 4 })).toThrow(
      new TypeError(
        '`options.positives` is detached (its buffer was transferred); pass a Uint8Array whose buffer is attached',
      ),
    );
  });
});

describe('messages show the value as given', () => {
  it('positives given as strings', () => {
    expect(() =>
      ssdNegatives({
        loss: new Float32Array(4),
        positives: ['0', '1', '0', '0'] as unknown as number[],
        cols: 2,
      }),
    ).toThrow(new RangeError('`options.positives` at row 0, column 0 must be 0, 1 or a boolean, got "0"'));
  });

  it('labels given as strings', () => {
    expect(() => confidenceLoss(new Float32Array(4), ['1', 0] as unknown as number[], 1, 2, 2)).toThrow(
      new RangeError('`labels` at row 0, column 0 must be an integer class in 0 .. 1, got "1"'),
    );
  });

  it('describe and errorText never throw and run no user code', () => {
    let touched = 0;
    const trap = new Proxy(
      {},
      {
        get: () => {
          touched++;
          throw new Error('trap');
        },
        getPrototypeOf: () => {
          touched++;
          throw new Error('trap');
        },
      },
    );
    const revocable = Proxy.revocable([], {});
    revocable.revoke();
    const hostileError = new Error('boom');
    Object.defineProperty(hostileError, 'message', {
      get() {
        throw new Error('no');
      },
    });
    const badToString = {
      toString() {
        touched++;
        throw new Error('no');
      },
    };
    for (const value of [
      trap,
      Object.create(trap),
      revocable.proxy,
      badToString,
      Symbol('s'),
      10n,
      () => 1,
    ]) {
      expect(typeof describeValue(value)).toBe('string');
      expect(typeof errorText(value)).toBe('string');
    }
    expect(errorText(hostileError)).toBe('an error whose message cannot be read');
    expect(errorText(trap)).toBe('a Proxy');
    expect(errorText(badToString)).toBe('object');
    expect(touched).toBe(0);
  });
});

describe('parseNpy input', () => {
  const bytes = encodeNpy(Float32Array.of(1, 2, 3), [3]);

  it('accepts an ArrayBuffer (it used to say "not a .npy file ... magic")', () => {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    expect(Array.from(parseNpy(buffer).data as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(parseNpy(new DataView(buffer)).data as Float32Array)).toEqual([1, 2, 3]);
  });

  it('anything else is a TypeError saying what it accepts', () => {
    const message =
      '`bytes` must be a Uint8Array, an ArrayBuffer or another ArrayBufferView holding a .npy file, got ';
    expect(() => (parseNpy as (x?: unknown) => unknown)()).toThrow(new TypeError(`${message}undefined`));
    expect(() => parseNpy('x.npy' as unknown as Uint8Array)).toThrow(new TypeError(`${message}"x.npy"`));
  });
});

describe('threads is bounded in the library', () => {
  it(`refuses more than 4 x os.availableParallelism() (${4 * availableParallelism()}), naming the bound`, () => {
    const bound = 4 * availableParallelism();
    expect(() => new HardNegativeMiner({ threads: bound + 1 })).toThrow(
      new RangeError(
        `\`threads\` must be at most ${bound} (4 × os.availableParallelism()), got ${bound + 1}`,
      ),
    );
    expect(() => new HardNegativeMiner({ threads: 100_000 })).toThrow(RangeError);
    expect(new HardNegativeMiner({ threads: bound }).threads).toBe(bound);
  });
});

describe('ssd_keras with negative or -Inf losses (the README states the difference)', () => {
  it('the preset never picks a positive; the TensorFlow code word for word ranks a zeroed positive above a negative loss', () => {
    // One image of 4 boxes, box 0 positive. Losses below 0 are not a cross-entropy, but nothing stops them.
    const loss = Float32Array.of(2, -1, -3, -0.5);
    const positives = Uint8Array.of(1, 0, 0, 0);
    const ours = ssdNegatives({ loss, positives, cols: 4, preset: 'ssd_keras', ratio: 2 }).negatives;
    const tf = ssdKerasTfReference(loss, positives, 2, 0);
    expect(Array.from(ours)).toEqual([0, 1, 0, 1]); // the two largest negative losses
    expect(Array.from(tf)).toEqual([1, 0, 0, 1]); // 2 * 0 = 0 ranks above -0.5 and -1
  });

  it('a -Inf loss on a positive becomes NaN in the TensorFlow code (-Inf * 0); the preset ignores it', () => {
    const loss = Float32Array.of(Number.NEGATIVE_INFINITY, 1, 2, 3);
    const positives = Uint8Array.of(1, 0, 0, 0);
    const ours = ssdNegatives({ loss, positives, cols: 4, preset: 'ssd_keras', ratio: 1 }).negatives;
    expect(Array.from(ours)).toEqual([0, 0, 0, 1]);
    expect(Number.isNaN(loss[0]! * 0)).toBe(true);
  });

  it('for losses >= 0 both agree', () => {
    const loss = Float32Array.of(0, 1, 2, 0, 3, 0.5);
    const positives = Uint8Array.of(1, 0, 0, 0, 0, 1);
    const ours = ssdNegatives({ loss, positives, cols: 3, preset: 'ssd_keras', ratio: 1 }).negatives;
    expect(Array.from(ours)).toEqual(Array.from(ssdKerasTfReference(loss, positives, 1, 0)));
  });
});
