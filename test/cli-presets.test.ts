import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../src/cli/errors.ts';
import { mineCommand } from '../src/cli/mine.ts';
import type { SsdPreset } from '../src/index.ts';
import { confidenceLoss, PRESET_NAMES, referenceSsdNegatives, ssdNegatives } from '../src/index.ts';
import type { NpyData } from '../src/npy/small.ts';
import { readNpy, writeNpy } from '../src/npy/small.ts';
import { prng } from './support/adversarial.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hnm-cli-presets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.HNM_CHUNK_ROWS;
});

let serial = 0;
async function npy(data: NpyData, shape: number[], bool = false): Promise<string> {
  const file = join(dir, `in-${serial++}.npy`);
  await writeNpy(file, data, shape, { bool });
  return file;
}
const outFile = () => join(dir, `out-${serial++}.npy`);

async function mine(args: string[]): Promise<void> {
  expect(await mineCommand([...args, '--quiet'])).toBe(0);
}

/** What `mineCommand` throws, and the exit status and message `main` would print for it. */
async function failure(args: string[]): Promise<{ code: number; text: string }> {
  try {
    await mineCommand([...args, '--quiet']);
  } catch (e) {
    return describeFailure(e, 'mine');
  }
  throw new Error('expected the command to fail');
}

async function maskOf(file: string): Promise<number[]> {
  const array = await readNpy(file);
  expect(array.dtype.kind).toBe('b');
  return [...(array.data as Uint8Array)];
}

/** A batch with ties, zeros, -Inf and some all-positive / positive-free rows. */
function batch(rows: number, cols: number, seed: number) {
  const rand = prng(seed);
  const values = [0, 0, 0.5, 1, 1, 2, 3, 7, Number.NEGATIVE_INFINITY];
  const loss = Float32Array.from({ length: rows * cols }, () => values[Math.floor(rand() * values.length)]!);
  const positives = Uint8Array.from(loss, (_, i) => {
    const r = Math.floor(i / cols);
    return r === 0 ? 0 : r === 1 ? 1 : rand() < 0.2 ? 1 : 0;
  });
  return { loss, positives };
}

describe('hnm mine --positives --preset', () => {
  const rows = 6;
  const cols = 11;
  const { loss, positives } = batch(rows, cols, 42);

  it('writes each preset’s mask, identical to the library and the framework transcription, across chunks', async () => {
    const lossFile = await npy(loss, [rows, cols]);
    const posFile = await npy(positives, [rows, cols], true);
    process.env.HNM_CHUNK_ROWS = '2';
    for (const preset of PRESET_NAMES) {
      for (const [ratio, minNeg] of [
        ['3', '0'],
        ['1', '4'],
        ['2', '0'],
      ] as const) {
        const out = outFile();
        await mine([
          '--loss',
          lossFile,
          '--positives',
          posFile,
          '--preset',
          preset,
          '--ratio',
          ratio,
          '--min-neg',
          minNeg,
          '--out',
          out,
        ]);
        const options = { loss, cols, positives, preset, ratio: Number(ratio), minNegatives: Number(minNeg) };
        expect(await maskOf(out)).toEqual([...ssdNegatives(options).negatives]);
        expect(await maskOf(out)).toEqual([...referenceSsdNegatives(options)]);
      }
    }
  });

  it('takes a fractional ratio for the PyTorch presets (rank < k rounds up) and uint8 positives', async () => {
    const lossFile = await npy(loss, [rows, cols]);
    const posFile = await npy(positives, [rows, cols]);
    for (const preset of ['ssd.pytorch', 'pytorch_advanced', 'torchvision'] as const) {
      const out = outFile();
      await mine([
        '--loss',
        lossFile,
        '--positives',
        posFile,
        '--preset',
        preset,
        '--ratio',
        '0.5',
        '--out',
        out,
      ]);
      expect(await maskOf(out)).toEqual([
        ...ssdNegatives({ loss, cols, positives, preset, ratio: 0.5 }).negatives,
      ]);
    }
  });

  it('--rows mines just those rows with a per-image preset', async () => {
    const lossFile = await npy(loss, [rows, cols]);
    const posFile = await npy(positives, [rows, cols], true);
    const out = outFile();
    await mine([
      '--loss',
      lossFile,
      '--positives',
      posFile,
      '--preset',
      'mmdet',
      '--rows',
      '2:5',
      '--out',
      out,
    ]);
    const whole = ssdNegatives({ loss, cols, positives, preset: 'mmdet' }).negatives;
    expect(await maskOf(out)).toEqual([...whole.subarray(2 * cols, 5 * cols)]);
  });

  it('reports the summary count: the batch count for ssd_keras', async () => {
    const lossFile = await npy(loss, [rows, cols]);
    const posFile = await npy(positives, [rows, cols], true);
    const out = outFile();
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(
        await mineCommand([
          '--loss',
          lossFile,
          '--positives',
          posFile,
          '--preset',
          'ssd_keras',
          '--json',
          '--out',
          out,
        ]),
      ).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const expected = ssdNegatives({ loss, cols, positives, preset: 'ssd_keras' });
    expect(JSON.parse(printed).negatives).toBe(expected.numNegatives);
  });

  it('mines ssd_keras over a batch big enough for the worker pool (one batch-wide top-k)', async () => {
    const big = batch(40, 3000, 9);
    const lossFile = await npy(big.loss, [40, 3000]);
    const posFile = await npy(big.positives, [40, 3000], true);
    process.env.HNM_CHUNK_ROWS = '7';
    for (const threads of ['2', '1']) {
      const out = outFile();
      await mine([
        '--loss',
        lossFile,
        '--positives',
        posFile,
        '--preset',
        'ssd_keras',
        '--threads',
        threads,
        '--out',
        out,
      ]);
      const expected = ssdNegatives({
        loss: big.loss,
        cols: 3000,
        positives: big.positives,
        preset: 'ssd_keras',
      });
      expect(await maskOf(out)).toEqual([...expected.negatives]);
    }
  });

  it('refuses ssd_keras with --rows, and a fractional ratio for mmdet and ssd_keras (exit 2)', async () => {
    const lossFile = await npy(loss, [rows, cols]);
    const posFile = await npy(positives, [rows, cols], true);
    const base = ['--loss', lossFile, '--positives', posFile, '--out', outFile()];
    const rowsFailure = await failure([...base, '--preset', 'ssd_keras', '--rows', '0:3']);
    expect(rowsFailure.code).toBe(2);
    expect(rowsFailure.text).toMatch(/ssd_keras mines one top-k over the whole batch/);
    for (const preset of ['mmdet', 'ssd_keras']) {
      const f = await failure([...base, '--preset', preset, '--ratio', '2.5']);
      expect(f.code).toBe(2);
      expect(f.text).toMatch(/--ratio must be a whole number/);
    }
    expect((await failure([...base, '--preset', 'keras'])).text).toMatch(
      /--preset must be one of ssd\.pytorch/,
    );
  });

  it('names the row and column of a positive that is not 0/1 (exit 1)', async () => {
    const lossFile = await npy(loss, [rows, cols]);
    const bad = positives.slice();
    bad[4 * cols + 3] = 2;
    const posFile = await npy(bad, [rows, cols]);
    const f = await failure([
      '--loss',
      lossFile,
      '--positives',
      posFile,
      '--preset',
      'torchvision',
      '--out',
      outFile(),
    ]);
    expect(f.code).toBe(1);
    expect(f.text).toContain(posFile);
    expect(f.text).toMatch(/row 4, column 3 is 2; positives must be 0 or 1/);
  });
});

describe('hnm mine --logits --labels', () => {
  const rows = 5;
  const cols = 9;
  const classes = 4;
  const rand = prng(2024);
  const logits = Float32Array.from({ length: rows * cols * classes }, () => (rand() - 0.5) * 12);
  const labels = Int32Array.from({ length: rows * cols }, () =>
    rand() < 0.25 ? 1 + Math.floor(rand() * 3) : 0,
  );

  it('mines the loss computed from logits, with every preset, and writes it with --loss-out', async () => {
    const logitsFile = await npy(logits, [rows, cols, classes]);
    const labelsFile = await npy(
      BigInt64Array.from(labels, (l) => BigInt(l)),
      [rows, cols],
    );
    const loss = confidenceLoss(logits, labels, rows, cols, classes);
    process.env.HNM_CHUNK_ROWS = '2';
    for (const preset of PRESET_NAMES) {
      const out = outFile();
      const lossOut = outFile();
      await mine([
        '--logits',
        logitsFile,
        '--labels',
        labelsFile,
        '--preset',
        preset,
        '--out',
        out,
        '--loss-out',
        lossOut,
      ]);
      const expected = ssdNegatives({ logits, labels, classes, cols, preset });
      expect(await maskOf(out)).toEqual([...expected.negatives]);
      const written = await readNpy(lossOut);
      expect(written.dtype).toMatchObject({ kind: 'f', size: 4 });
      expect(written.shape).toEqual([rows, cols]);
      expect([...(written.data as Float32Array)]).toEqual([...loss]);
    }
  });

  it('--rows computes and mines just those rows; uint8 labels work', async () => {
    const logitsFile = await npy(logits, [rows, cols, classes]);
    const labelsFile = await npy(Uint8Array.from(labels), [rows, cols]);
    const out = outFile();
    const lossOut = outFile();
    await mine([
      '--logits',
      logitsFile,
      '--labels',
      labelsFile,
      '--rows',
      '1:3',
      '--out',
      out,
      '--loss-out',
      lossOut,
    ]);
    const sub = logits.slice(cols * classes, 3 * cols * classes);
    const subLabels = labels.slice(cols, 3 * cols);
    expect(await maskOf(out)).toEqual([
      ...ssdNegatives({ logits: sub, labels: subLabels, classes, cols }).negatives,
    ]);
    expect((await readNpy(lossOut)).shape).toEqual([2, cols]);
  });

  it('leaves no temporary file behind, on success or failure', async () => {
    const sub = await mkdtemp(join(dir, 'clean-'));
    const logitsFile = await npy(logits, [rows, cols, classes]);
    const labelsFile = await npy(labels, [rows, cols]);
    await mine(['--logits', logitsFile, '--labels', labelsFile, '--out', join(sub, 'mask.npy')]);
    expect(await readdir(sub)).toEqual(['mask.npy']);
    const bad = labels.slice();
    bad[7] = classes;
    const badLabels = await npy(bad, [rows, cols]);
    await failure([
      '--logits',
      logitsFile,
      '--labels',
      badLabels,
      '--out',
      join(sub, 'm2.npy'),
      '--loss-out',
      join(sub, 'l2.npy'),
    ]);
    expect(await readdir(sub)).toEqual(['mask.npy']);
  });

  it('names the file, row and column of a label out of range (exit 1)', async () => {
    const logitsFile = await npy(logits, [rows, cols, classes]);
    for (const [value, words] of [
      [classes, `is ${classes} or more`],
      [-1, 'is negative'],
    ] as const) {
      const bad = labels.slice();
      bad[3 * cols + 5] = value;
      const labelsFile = await npy(bad, [rows, cols]);
      const f = await failure(['--logits', logitsFile, '--labels', labelsFile, '--out', outFile()]);
      expect(f.code).toBe(1);
      expect(f.text).toContain(labelsFile);
      expect(f.text).toContain(`the label at row 3, column 5 ${words}`);
    }
  });

  it('reports a NaN loss from a NaN logit by row and column, unless --nan largest', async () => {
    const bad = logits.slice();
    bad[(2 * cols + 6) * classes + 1] = Number.NaN;
    const logitsFile = await npy(bad, [rows, cols, classes]);
    const labelsFile = await npy(labels, [rows, cols]);
    const f = await failure(['--logits', logitsFile, '--labels', labelsFile, '--out', outFile()]);
    expect(f.code).toBe(1);
    expect(f.text).toContain(`${logitsFile}: the loss computed from the logits is NaN at row 2, column 6`);
    const out = outFile();
    await mine(['--logits', logitsFile, '--labels', labelsFile, '--nan', 'largest', '--out', out]);
    expect(await maskOf(out)).toEqual([
      ...ssdNegatives({ logits: bad, labels, classes, cols, nan: 'largest' }).negatives,
    ]);
  });

  it('checks the shapes and dtypes of LOGITS and LABELS', async () => {
    const logitsFile = await npy(logits, [rows, cols, classes]);
    const flat = await npy(logits, [rows, cols * classes]);
    const labelsFile = await npy(labels, [rows, cols]);
    const wrongLabels = await npy(labels.slice(0, (rows - 1) * cols), [rows - 1, cols]);
    const floatLabels = await npy(Float32Array.from(labels), [rows, cols]);
    const cases: [string[], RegExp][] = [
      [['--logits', flat, '--labels', labelsFile], /3-D array \(B, N, C\)/],
      [['--logits', logitsFile, '--labels', wrongLabels], /expected \(5, 9\), the first two dimensions/],
      [['--logits', logitsFile, '--labels', floatLabels], /expected an integer type/],
      [['--logits', logitsFile], /--logits needs --labels/],
      [
        ['--logits', logitsFile, '--labels', labelsFile, '--positives', labelsFile],
        /does not apply with --logits/,
      ],
    ];
    for (const [args, message] of cases) {
      const f = await failure([...args, '--out', outFile()]);
      expect(f.text).toMatch(message);
    }
  });
});

describe('the hnm binary', () => {
  it('exits 0 with --logits and 2 for ssd_keras with --rows', async () => {
    const rows = 2;
    const cols = 5;
    const logits = Float32Array.from({ length: rows * cols * 3 }, (_, i) => Math.sin(i));
    const labels = Int32Array.from({ length: rows * cols }, (_, i) => (i % 4 === 0 ? 2 : 0));
    const logitsFile = await npy(logits, [rows, cols, 3]);
    const labelsFile = await npy(labels, [rows, cols]);
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', tsx, 'src/cli/main.ts', 'mine', ...args], {
        encoding: 'utf8',
      });
    const out = outFile();
    const ok = run(
      '--logits',
      logitsFile,
      '--labels',
      labelsFile,
      '--preset',
      'ssd_keras',
      '--out',
      out,
      '--quiet',
    );
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(await maskOf(out)).toEqual([
      ...ssdNegatives({ logits, labels, classes: 3, cols, preset: 'ssd_keras' as SsdPreset }).negatives,
    ]);
    const usage = run(
      '--logits',
      logitsFile,
      '--labels',
      labelsFile,
      '--preset',
      'ssd_keras',
      '--rows',
      '0:1',
      '--out',
      out,
    );
    expect(usage.status).toBe(2);
  });
});
