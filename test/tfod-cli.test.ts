import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceTfod } from '../src/index.ts';
import { readNpy, writeNpy } from '../src/npy/small.ts';
import { ensureBuilt, hnm } from './support/hnm.ts';

/** `hnm mine --preset tf_object_detection` end to end, through the compiled bin in a child process. */

const FIX = fileURLToPath(new URL('./fixtures/tfod/', import.meta.url));
const fx = (name: string) => join(FIX, name);

let dir: string;
beforeAll(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'hnm-tfod-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let serial = 0;
const outFile = () => join(dir, `out-${serial++}.npy`);

async function bytes(file: string): Promise<number[]> {
  const array = await readNpy(file);
  expect(array.dtype.kind).toBe('b');
  return [...(array.data as Uint8Array)];
}

/** The ssd-config fixture: TF's SSD pipeline settings (3000, 0.99, cls, ratio 3, min 3). */
const SSD_CONFIG = [
  '--preset',
  'tf_object_detection',
  '--loss',
  fx('ssd-config.loss.npy'),
  '--positives',
  fx('ssd-config.pos.npy'),
  '--ignored',
  fx('ssd-config.ign.npy'),
  '--boxes',
  fx('ssd-config.boxes.npy'),
  '--loc-loss',
  fx('ssd-config.loc.npy'),
  '--num-hard-examples',
  '3000',
  '--iou-threshold',
  '0.99',
  '--loss-type',
  'cls',
  '--max-neg-per-pos',
  '3',
  '--min-neg',
  '3',
];

describe('hnm mine --preset tf_object_detection', () => {
  it('writes the fixture’s kept selection, the negatives, and --json totals', async () => {
    const out = outFile();
    const neg = outFile();
    const run = await hnm([
      'mine',
      ...SSD_CONFIG,
      '--out',
      out,
      '--negatives-out',
      neg,
      '--json',
      '--threads',
      '2',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const kept = await bytes(out);
    expect(kept).toEqual(await bytes(fx('ssd-config.kept.npy')));
    const positives = (await readNpy(fx('ssd-config.pos.npy'))).data as Uint8Array;
    expect(await bytes(neg)).toEqual(kept.map((k, i) => k & (positives[i]! ^ 1)));
    const summary = JSON.parse(run.stdout) as Record<string, number>;
    const meta = (await import(fx('meta.json'), { with: { type: 'json' } })).default.cases['ssd-config'];
    expect(summary.positives).toBe(meta.positives_per_row.reduce((a: number, b: number) => a + b, 0));
    expect(summary.negatives).toBe(meta.negatives_per_row.reduce((a: number, b: number) => a + b, 0));
    expect(summary.cls_loss_sum).toBe(meta.cls_loss_sum);
    expect(summary.loc_loss_sum).toBe(meta.loc_loss_sum);
    expect(summary.rows).toBe(3);
  });

  it('--rows shards and one-row chunks give the same bytes as the whole run', async () => {
    const whole = outFile();
    const a = outFile();
    const b = outFile();
    expect((await hnm(['mine', ...SSD_CONFIG, '--out', whole, '--quiet'])).code).toBe(0);
    const env = { HNM_CHUNK_ROWS: '1' };
    expect((await hnm(['mine', ...SSD_CONFIG, '--out', a, '--rows', ':1', '--quiet'], { env })).code).toBe(0);
    expect((await hnm(['mine', ...SSD_CONFIG, '--out', b, '--rows', '1:', '--quiet'], { env })).code).toBe(0);
    expect([...(await bytes(a)), ...(await bytes(b))]).toEqual(await bytes(whole));
  });

  it('matches the literal reference on the defaults (loss type both, 64 boxes, IoU 0.7)', async () => {
    const out = outFile();
    const args = ['--loss', fx('defaults.loss.npy'), '--positives', fx('defaults.pos.npy')];
    args.push('--boxes', fx('defaults.boxes.npy'), '--loc-loss', fx('defaults.loc.npy'));
    const run = await hnm(['mine', '--preset', 'tf_object_detection', ...args, '--out', out, '--quiet']);
    expect(run.code).toBe(0);
    const load = async (f: string) => (await readNpy(fx(f))).data;
    const expected = referenceTfod({
      preset: 'tf_object_detection',
      cols: 300,
      loss: (await load('defaults.loss.npy')) as Float32Array,
      locLoss: (await load('defaults.loc.npy')) as Float32Array,
      boxes: (await load('defaults.boxes.npy')) as Float32Array,
      positives: (await load('defaults.pos.npy')) as Uint8Array,
    });
    expect(await bytes(out)).toEqual([...expected.selected]);
  });

  it('usage errors exit 2 naming the option; data errors exit 1 naming file, row and column; nothing is left behind', async () => {
    const base = ['mine', '--preset', 'tf_object_detection', '--loss', fx('defaults.loss.npy')];
    base.push('--positives', fx('defaults.pos.npy'), '--boxes', fx('defaults.boxes.npy'));
    const out = outFile();
    let run = await hnm([...base, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--loss-type both \(the default\) needs --loc-loss LOC.npy/);
    for (const [flag, value, message] of [
      ['--iou-threshold', '1.5', /--iou-threshold must be a number in \[0, 1\]/],
      ['--num-hard-examples', '2.5', /--num-hard-examples must be a whole number/],
      ['--max-neg-per-pos', 'lots', /--max-neg-per-pos must be a number >= 0 or 'none'/],
      ['--loss-type', 'focal', /--loss-type must be cls, loc or both/],
      ['--nan', 'largest', /--nan must be 'error'/],
      ['--ratio', '3', /Unknown option '--ratio'/],
    ] as const) {
      run = await hnm([...base, '--loss-type', 'cls', '--out', out, flag, value]);
      expect(run.code, `${flag} ${value}`).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    run = await hnm([...base, '--loss-type', 'cls', '--out', fx('defaults.loss.npy')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--out .* is the same file as the input --loss /);

    const loss = (await readNpy(fx('defaults.loss.npy'))).data as Float32Array;
    const nan = loss.slice();
    nan[300 + 17] = Number.NaN;
    const nanFile = join(dir, 'nan.npy');
    await writeNpy(nanFile, nan, [2, 300]);
    run = await hnm([
      ...base.slice(0, 3),
      '--loss',
      nanFile,
      ...base.slice(5),
      '--loss-type',
      'cls',
      '--out',
      out,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/nan\.npy: loss is NaN at row 1, column 17/);
    expect(run.stderr).not.toMatch(/\n\s+at /);

    const flat = join(dir, 'flat-boxes.npy');
    await writeNpy(flat, new Float32Array(2 * 300 * 4), [2, 1200]);
    run = await hnm([...base.slice(0, 7), '--boxes', flat, '--loss-type', 'cls', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /flat-boxes\.npy: header field 'shape' is \(2, 1200\); expected \(2, 300, 4\)/,
    );
    expect(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp') || f === 'out-' + String(serial - 1)),
    ).toEqual([]);
  });

  it('--help describes the preset', async () => {
    const run = await hnm(['mine', '--preset', 'tf_object_detection', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/HardExampleMiner/);
    expect((await hnm(['mine', '--help'])).stdout).toMatch(/tf_object_detection/);
  });
});
