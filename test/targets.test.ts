import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ImageTruths } from '../src/index.ts';
import { defaultBoxes, matchTargets, matchTargetsBatch, SSD300_CONFIG, TargetEncoder } from '../src/index.ts';
import { readNpy } from '../src/npy/small.ts';
import { settledArrayBuffers } from './support/memory.ts';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'tfjs');
const load = async (name: string) => (await readNpy(join(FIXTURES, name))).data;

/** Elementwise: |a - b| <= tol * max(1, |b|). Returns the first index that is off, or -1. */
function firstOff(a: Float32Array, b: Float32Array, tol: number): number {
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)))) return i;
  }
  return a.length === b.length ? -1 : b.length;
}

describe('defaultBoxes', () => {
  it('gives the 8732 SSD300 boxes of ssd.pytorch PriorBox, bit for bit', async () => {
    const expected = (await load('prior_boxes.npy')) as Float32Array;
    const boxes = defaultBoxes();
    expect(boxes.length).toBe(8732 * 4);
    expect(new Uint32Array(boxes.buffer)).toEqual(
      new Uint32Array(expected.buffer, expected.byteOffset, expected.length),
    );
  });

  it('builds a config of its own, unclipped, bit for bit', async () => {
    const expected = (await load('prior_boxes_small.npy')) as Float32Array;
    const boxes = defaultBoxes({
      imageSize: 64,
      featureMaps: [4, 2],
      steps: [16, 32],
      minSizes: [12, 30],
      maxSizes: [30, 60],
      aspectRatios: [[2, 3], [2]],
      clip: false,
    });
    expect(Array.from(boxes)).toEqual(Array.from(expected));
    expect(boxes.length).toBe((4 * 4 * 6 + 2 * 2 * 4) * 4);
  });

  it('rejects bad configs, naming the field', () => {
    expect(() => defaultBoxes({ ...SSD300_CONFIG, steps: [8] })).toThrow(
      /config\.steps.*one entry per feature map \(6\)/,
    );
    expect(() => defaultBoxes({ ...SSD300_CONFIG, featureMaps: [38, 19, 10, 5, 3, 0] })).toThrow(RangeError);
    expect(() => defaultBoxes({ ...SSD300_CONFIG, minSizes: [30, 60, -1, 162, 213, 264] })).toThrow(
      /config\.minSizes\[2\]/,
    );
    expect(() => defaultBoxes({ ...SSD300_CONFIG, clip: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => defaultBoxes(null as never)).toThrow(TypeError);
  });
});

describe('matchTargets', () => {
  it('equals ssd.pytorch match + encode (loc within 1e-6, conf identical)', async () => {
    const priors = defaultBoxes();
    const counts = (await load('match_counts.npy')) as Int32Array;
    const truths = (await load('match_truths.npy')) as Float32Array;
    const labels = (await load('match_labels.npy')) as Int32Array;
    const loc = (await load('match_loc.npy')) as Float32Array;
    const conf = (await load('match_conf.npy')) as Int32Array;
    let t = 0;
    let positives = 0;
    for (let img = 0; img < counts.length; img++) {
      const m = counts[img]!;
      const r = matchTargets({
        truths: truths.slice(t * 4, (t + m) * 4),
        labels: labels.slice(t, t + m),
        priors,
      });
      t += m;
      const n = priors.length / 4;
      expect(Array.from(r.conf)).toEqual(Array.from(conf.subarray(img * n, (img + 1) * n)));
      expect(firstOff(r.loc, loc.subarray(img * n * 4, (img + 1) * n * 4), 1e-6)).toBe(-1);
      for (const c of r.conf) if (c > 0) positives++;
    }
    expect(positives).toBeGreaterThan(counts.reduce((a, b) => a + b, 0));
  });

  it('takes a threshold and variances', async () => {
    const counts = (await load('match_counts.npy')) as Int32Array;
    const truths = (await load('match_truths.npy')) as Float32Array;
    const labels = (await load('match_labels.npy')) as Int32Array;
    const start = counts[0]! + counts[1]!;
    const m = counts[2]!;
    const r = matchTargets({
      truths: truths.slice(start * 4, (start + m) * 4),
      labels: labels.slice(start, start + m),
      priors: defaultBoxes(),
      threshold: 0.35,
      variances: [0.15, 0.25],
    });
    expect(Array.from(r.conf)).toEqual(Array.from((await load('match_conf_t035.npy')) as Int32Array));
    expect(firstOff(r.loc, (await load('match_loc_t035.npy')) as Float32Array, 1e-6)).toBe(-1);
  });

  it('forces each truth onto its best prior; a later truth wins a shared one', () => {
    // Two identical truths share every overlap: the second one wins their common best prior.
    const priors = new Float32Array([0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1]);
    const box = [0.4, 0.4, 0.6, 0.6];
    const r = matchTargets({
      truths: new Float32Array([...box, ...box]),
      labels: new Int32Array([3, 7]),
      priors,
    });
    expect(Array.from(r.conf)).toEqual([8, 0]);
    // A truth whose best overlap is below the threshold still gets its best prior.
    const far = matchTargets({
      truths: new Float32Array([0.02, 0.02, 0.08, 0.08]),
      labels: new Int32Array([0]),
      priors,
      threshold: 0.9,
    });
    expect(Array.from(far.conf)).toEqual([0, 1]);
    const expected = [
      (0.05 - 0.1) / (0.1 * 0.1),
      (0.05 - 0.1) / (0.1 * 0.1),
      Math.log(0.6) / 0.2,
      Math.log(0.6) / 0.2,
    ];
    far.loc.subarray(4).forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 5);
    });
  });

  it('makes every prior background when there is no truth', () => {
    const r = matchTargets({
      truths: new Float32Array(0),
      labels: new Int32Array(0),
      priors: defaultBoxes(),
    });
    expect(r.conf.every((c) => c === 0)).toBe(true);
    expect(r.loc.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad input, naming the argument', () => {
    const priors = defaultBoxes();
    const truths = new Float32Array([0.1, 0.1, 0.3, 0.3]);
    const labels = new Int32Array([1]);
    expect(() => matchTargets({ truths: [0.1] as never, labels, priors })).toThrow(
      /options\.truths.*Float32Array/,
    );
    expect(() => matchTargets({ truths: new Float32Array(3), labels, priors })).toThrow(
      /options\.truths.*M × 4/,
    );
    expect(() => matchTargets({ truths, labels: new Int32Array(2), priors })).toThrow(
      /options\.labels.*one label per truth \(1\)/,
    );
    expect(() => matchTargets({ truths, labels: new Int32Array([-1]), priors })).toThrow(
      /options\.labels\[0\]/,
    );
    expect(() => matchTargets({ truths, labels, priors: new Float32Array(6) })).toThrow(/options\.priors/);
    expect(() => matchTargets({ truths, labels, priors, threshold: 2 })).toThrow(/options\.threshold/);
    expect(() => matchTargets({ truths, labels, priors, variances: [0.1, 0] })).toThrow(
      /options\.variances\[1\]/,
    );
  });
});

describe('matchTargetsBatch and TargetEncoder', () => {
  const priors = defaultBoxes();
  const n = priors.length / 4;
  function images(count: number, seed: number): ImageTruths[] {
    let s = seed;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    return Array.from({ length: count }, (_, i) => {
      const m = i % 5; // includes images without objects
      const truths = new Float32Array(m * 4);
      for (let j = 0; j < m; j++) {
        const x = rand() * 0.7;
        const y = rand() * 0.7;
        truths.set([x, y, x + 0.05 + rand() * 0.25, y + 0.05 + rand() * 0.25], j * 4);
      }
      return { truths, labels: Int32Array.from({ length: m }, () => Math.floor(rand() * 20)) };
    });
  }

  it('stacks matchTargets per image', () => {
    const imgs = images(6, 7);
    const r = matchTargetsBatch({ images: imgs, priors, threshold: 0.45 });
    imgs.forEach((img, i) => {
      const one = matchTargets({ ...img, priors, threshold: 0.45 });
      expect(r.conf.subarray(i * n, (i + 1) * n)).toEqual(one.conf);
      expect(r.loc.subarray(i * n * 4, (i + 1) * n * 4)).toEqual(one.loc);
    });
    expect(() =>
      matchTargetsBatch({ images: [{ truths: new Float32Array(4), labels: new Int32Array(2) }], priors }),
    ).toThrow(/options\.images\[0\]\.labels/);
  });

  it('reads every array once: getters that hand back other arrays later cannot bypass the checks', () => {
    const one = Float32Array.from([0.1, 0.1, 0.4, 0.5]);
    const three = Float32Array.from([0.1, 0.1, 0.4, 0.5, 0.5, 0.5, 0.9, 0.8, 0.2, 0.2, 0.3, 0.3]);
    let truthReads = 0;
    const sneaky = {
      get truths() {
        return truthReads++ === 0 ? one : three;
      },
      labels: Int32Array.from([4]),
    };
    let priorReads = 0;
    const options = {
      images: [sneaky, { truths: one, labels: Int32Array.from([2]) }],
      get priors() {
        return priorReads++ === 0 ? priors : new Float32Array(8);
      },
    };
    const r = matchTargetsBatch(options);
    const expected = matchTargetsBatch({
      images: [
        { truths: one, labels: Int32Array.from([4]) },
        { truths: one, labels: Int32Array.from([2]) },
      ],
      priors,
    });
    expect(truthReads).toBe(1);
    expect(priorReads).toBe(1);
    expect(r.conf).toEqual(expected.conf);
    expect(r.loc).toEqual(expected.loc);
  });

  it('the pool gives the same targets as the calling thread, and closes', async () => {
    const imgs = images(24, 11);
    const expected = matchTargetsBatch({ images: imgs, priors });
    const encoder = new TargetEncoder({ threads: 2, inlineBelow: 0 });
    try {
      const r = await encoder.encode({ images: imgs, priors });
      // Copied out of the encoder's arena: plain arrays, as on the calling thread.
      expect(r.loc.buffer).toBeInstanceOf(ArrayBuffer);
      expect(r.conf.buffer).toBeInstanceOf(ArrayBuffer);
      expect(bytesOf(r.conf).equals(bytesOf(expected.conf))).toBe(true);
      expect(bytesOf(r.loc).equals(bytesOf(expected.loc))).toBe(true);
      await expect(encoder.encode({ images: imgs, priors: new Float32Array(3) })).rejects.toThrow(
        /options\.priors/,
      );
    } finally {
      await encoder.close();
    }
    await expect(encoder.encode({ images: imgs, priors })).rejects.toThrow(/closed/);
    expect(() => new TargetEncoder({ threads: 0 })).toThrow(RangeError);
    const tooMany = 4 * availableParallelism() + 1;
    expect(() => new TargetEncoder({ threads: tooMany })).toThrow(
      new RangeError(
        `\`options.threads\` must be at most ${tooMany - 1} (4 × os.availableParallelism()), got ${tooMany}`,
      ),
    );
  });
});

/** The bytes of a typed array, for bit-for-bit comparisons. */
function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

describe('TargetEncoder memory', () => {
  it('reuses its arena across batch sizes, and keeps no result pinned in its threads', async () => {
    const priors = defaultBoxes();
    const batchOf = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        truths: Float32Array.from([0.1, 0.1, 0.3 + (i % 4) * 0.1, 0.5, 0.5, 0.4, 0.9, 0.8]),
        labels: Int32Array.from([1 + (i % 3), 2]),
      }));
    const encoder = new TargetEncoder({ threads: 2, inlineBelow: 0 });
    try {
      // Larger, then smaller (the front of the same arena), then larger again (a new arena).
      for (const count of [12, 3, 20, 12]) {
        const images = batchOf(count);
        const r = await encoder.encode({ images, priors });
        const expected = matchTargetsBatch({ images, priors });
        // Bit for bit (and fast: toEqual walks half a million floats slowly).
        expect(bytesOf(r.conf).equals(bytesOf(expected.conf))).toBe(true);
        expect(bytesOf(r.loc).equals(bytesOf(expected.loc))).toBe(true);
      }
      const images = batchOf(16);
      const before = await settledArrayBuffers();
      // 40 calls x 2.8 MB of results: handed to the threads as fresh shared buffers, every one
      // would stay pinned in their heaps (they allocate too little to collect it): 290 MB for 100.
      for (let i = 0; i < 40; i++) await encoder.encode({ images, priors });
      expect((await settledArrayBuffers()) - before).toBeLessThan(48 * 1024 * 1024);
    } finally {
      await encoder.close();
    }
  });
});

describe('the main entry', () => {
  it('never imports tfjs (walking its static import graph from src/index.ts)', async () => {
    const { readFile } = await import('node:fs/promises');
    const { dirname, resolve } = await import('node:path');
    const root = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const seen = new Set<string>();
    const bare = new Set<string>();
    const queue = [root];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(
        /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
      )) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect([...seen].some((f) => f.includes('/tfjs/'))).toBe(false);
    expect([...bare].filter((s) => s.includes('tensorflow'))).toEqual([]);
    expect(bare.has('piscina')).toBe(true);
  });
});
