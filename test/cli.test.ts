import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, createSyncEngine } from '../src/cli/engine.ts';
import { Prng } from '../src/cli/prng.ts';
import { formatProgress } from '../src/cli/progress.ts';
import { hardNegativeMask } from '../src/mask.ts';
import type { NpyData } from '../src/npy/small.ts';
import { encodeNpy, parseNpy } from '../src/npy/small.ts';
import { rankDescending } from '../src/rank.ts';
import { referenceMask, referenceRank } from '../src/reference.ts';
import { ensureBuilt, MAIN, ROOT } from './support/hnm.ts';

/**
 * End-to-end tests of the `hnm` bin: every run spawns `node dist/src/cli/main.js` on temporary
 * files, as a user would. `npm test` builds first; when run alone, the build is redone here if any
 * source is newer than the compiled bin.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures', 'npy');

let dir = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'hnm-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function hnm(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const at = (name: string): string => join(dir, name);
const fixture = (name: string): string => join(FIXTURES, `${name}.npy`);

function save(name: string, data: NpyData, shape: number[], bool = false): string {
  writeFileSync(at(name), encodeNpy(data, shape, { bool }));
  return at(name);
}

function load(path: string) {
  return parseNpy(new Uint8Array(readFileSync(path)), path);
}

/** The data section of a `.npy` file (what shards must concatenate to). */
function dataOf(path: string): Buffer {
  const bytes = readFileSync(path);
  const headerLen = bytes.readUInt16LE(8);
  return bytes.subarray(10 + headerLen);
}

/** SSD-like losses with heavy ties (a few levels, -0 and +0 mixed) and some hard values. */
function randomLoss(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Prng(seed);
  const levels = [-0, 0, 0.5, 1, 2, Number.POSITIVE_INFINITY, -1];
  const loss = new Float32Array(rows * cols);
  for (let i = 0; i < loss.length; i++) {
    loss[i] = rng.next() < 0.5 ? levels[rng.nextUint32() % levels.length]! : -Math.log(1 - rng.next());
  }
  return loss;
}

function randomCounts(rows: number, cols: number, seed: number): Int32Array {
  const rng = new Prng(seed);
  return Int32Array.from({ length: rows }, () => rng.nextUint32() % (cols + 3));
}

/** Files in the temp folder other than the inputs a test made: outputs and leftover temporaries. */
function leftovers(prefix: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(prefix) || f.startsWith(`.${prefix}`));
}

const ROWS = 37;
const COLS = 53;
let lossFile = '';
let loss: Float32Array = new Float32Array(0);
let counts: Int32Array = new Int32Array(0);

beforeAll(() => {
  loss = randomLoss(ROWS, COLS, 11);
  counts = randomCounts(ROWS, COLS, 12);
  lossFile = save('loss.npy', loss, [ROWS, COLS]);
  save('counts.npy', counts, [ROWS]);
});

describe('hnm (top level)', () => {
  it('--help lists the commands, exit 0', () => {
    const r = hnm(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['mine', 'rank', 'bench', 'demo']) expect(r.stdout).toContain(`  ${name} `);
  });

  it('--version prints the package version', () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    expect(hnm(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(hnm(['-v']).stdout).toBe(`${version}\n`);
  });

  it('no command prints the help (exit 2); an unknown command is a usage error (exit 2)', () => {
    const bare = hnm([]);
    expect(bare).toMatchObject({ code: 2, stdout: '' });
    expect(bare.stderr).toContain('Usage: hnm <command>');
    expect(bare.stderr).toContain('Examples:');
    const r = hnm(['mien']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'mien'");
    expect(r.stderr).not.toContain('    at ');
  });

  it.each(['mine', 'rank', 'demo'])('%s --help, -h and help <command> print the usage, exit 0', (name) => {
    const r = hnm([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`hnm ${name}`);
    expect(hnm(['help', name]).stdout).toBe(r.stdout);
    expect(hnm([name, '-h']).stdout).toBe(r.stdout);
  });

  it('bench is in the command table and never fails with an internal error', () => {
    const r = hnm(['bench', '--help']);
    expect([0, 2]).toContain(r.code);
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('packaging', () => {
  it('LICENSE matches package.json; every shipped source map carries its sources', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(pkg.files).toContain('LICENSE');
    const maps: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.js.map')) maps.push(join(d, e.name));
      }
    };
    for (const shipped of ['dist/src', 'dist/workers']) walk(join(ROOT, shipped));
    expect(maps.length).toBeGreaterThan(20);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      // A stale output of a source deleted since (a clean build does not make it).
      if (!existsSync(join(dirname(file), map.sources[0]!))) continue;
      // src/ is not shipped, so a map resolves only with its sources inlined.
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(
        map.sourcesContent!.every((c) => typeof c === 'string' && c.length > 0),
        file,
      ).toBe(true);
    }
  });
});

describe('hnm mine', () => {
  it('--num-neg: the mask equals referenceMask, as numpy bool (B, N)', () => {
    const r = hnm(['mine', '--loss', lossFile, '--num-neg', '7', '--out', at('m7.npy')]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^mined 37 x 53: 259 negatives kept, written to .*m7\.npy/);
    const mask = load(at('m7.npy'));
    expect(mask.dtype.descr).toBe('|b1');
    expect(mask.shape).toEqual([ROWS, COLS]);
    expect(mask.data).toEqual(referenceMask(loss, COLS, 7));
  });

  it('--num-neg-file: per-row counts of any integer dtype, (B,) or (B, 1)', () => {
    const expected = referenceMask(loss, COLS, counts);
    const variants: [string, NpyData, number[]][] = [
      ['k_i8.npy', BigInt64Array.from(counts, (c) => BigInt(c)), [ROWS]],
      ['k_u1.npy', Uint8Array.from(counts), [ROWS, 1]],
      ['k_i2.npy', Int16Array.from(counts), [ROWS]],
    ];
    for (const [name, data, shape] of variants) {
      save(name, data, shape);
      const r = hnm([
        'mine',
        '--loss',
        lossFile,
        '--num-neg-file',
        at(name),
        '--out',
        at('mk.npy'),
        '--quiet',
      ]);
      expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect(load(at('mk.npy')).data).toEqual(expected);
    }
  });

  it('is byte-identical to the file numpy writes for the seed double sort (ties, -0 and +0)', () => {
    const r = hnm([
      'mine',
      '--loss',
      fixture('ties_loss'),
      '--num-neg-file',
      fixture('ties_counts'),
      '--out',
      at('ties_mask.npy'),
    ]);
    expect(r.code).toBe(0);
    expect(readFileSync(at('ties_mask.npy')).equals(readFileSync(fixture('ties_mask')))).toBe(true);
  });

  it('reads float64 and big-endian losses, converted to float32', () => {
    save('loss_f8.npy', Float64Array.from(loss), [ROWS, COLS]);
    const be = Buffer.from(encodeNpy(loss, [ROWS, COLS]));
    const headerEnd = 10 + be.readUInt16LE(8);
    be.subarray(headerEnd).swap32();
    writeFileSync(at('loss_be.npy'), Buffer.from(be.toString('latin1').replace("'<f4'", "'>f4'"), 'latin1'));
    const expected = referenceMask(loss, COLS, counts);
    for (const name of ['loss_f8.npy', 'loss_be.npy']) {
      const r = hnm(['mine', '--loss', at(name), '--num-neg-file', at('counts.npy'), '--out', at('mf.npy')]);
      expect(r.code).toBe(0);
      expect(load(at('mf.npy')).data).toEqual(expected);
    }
  });

  it('gives the same bytes whatever the chunk size', () => {
    hnm(['mine', '--loss', lossFile, '--num-neg-file', at('counts.npy'), '--out', at('whole.npy')]);
    for (const rows of ['1', '5', '36', '100']) {
      const r = hnm(['mine', '--loss', lossFile, '--num-neg-file', at('counts.npy'), '--out', at('c.npy')], {
        HNM_CHUNK_ROWS: rows,
      });
      expect(r.code).toBe(0);
      expect(readFileSync(at('c.npy')).equals(readFileSync(at('whole.npy')))).toBe(true);
    }
  });

  it('--rows shards concatenate to the whole run, byte for byte', () => {
    const args = ['mine', '--loss', lossFile, '--num-neg-file', at('counts.npy')];
    expect(hnm([...args, '--out', at('all.npy')]).code).toBe(0);
    const shards = ['0:10', '10:11', '11:30', '30:37'];
    const parts = shards.map((rows, i) => {
      const r = hnm([...args, '--rows', rows, '--out', at(`shard${i}.npy`)], { HNM_CHUNK_ROWS: '4' });
      expect(r.code).toBe(0);
      return dataOf(at(`shard${i}.npy`));
    });
    expect(Buffer.concat(parts).equals(dataOf(at('all.npy')))).toBe(true);
    expect(load(at('shard1.npy')).shape).toEqual([1, COLS]);
    expect(load(at('shard3.npy')).shape).toEqual([7, COLS]);
    // Omitted bounds as in Python; an explicit empty slice is legal; beyond the row count is exit 2.
    expect(dataOf(at('all.npy')).equals(dataOf(hnmOut([...args, '--rows', ':'])))).toBe(true);
    expect(load(hnmOut([...args, '--rows', `${ROWS}:`])).shape).toEqual([0, COLS]);
    expect(load(hnmOut([...args, '--rows', '5:5'])).shape).toEqual([0, COLS]);
    for (const rows of ['40:', '30:1000', ':38']) {
      const r = hnm([...args, '--rows', rows, '--out', at('beyond.npy')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`beyond the ${ROWS} rows of ${lossFile}`);
      expect(leftovers('beyond')).toEqual([]);
    }
  });

  /** Runs `args --out tmp` and returns the output path. */
  function hnmOut(args: string[]): string {
    const out = at('tmp_out.npy');
    expect(hnm([...args, '--out', out]).code).toBe(0);
    return out;
  }

  it('--positives (ssd.pytorch): positives zeroed, k = min(max(ceil(ratio P), min-neg), N - 1)', () => {
    const rng = new Prng(5);
    const pos = Uint8Array.from({ length: ROWS * COLS }, () => (rng.next() < 0.05 ? 1 : 0));
    for (let c = 0; c < COLS; c++) pos[3 * COLS + c] = 1; // a row of positives only
    for (let c = 0; c < COLS; c++) pos[4 * COLS + c] = 0; // a row without positives
    save('pos_b1.npy', pos, [ROWS, COLS], true);
    save('pos_u1.npy', pos, [ROWS, COLS]);
    for (const [ratio, minNeg] of [
      [3, 0],
      [1.5, 4],
    ] as const) {
      const zeroed = loss.map((v, i) => (pos[i] ? 0 : v));
      const k = Array.from({ length: ROWS }, (_, r) => {
        let p = 0;
        for (let c = 0; c < COLS; c++) p += pos[r * COLS + c]!;
        return Math.min(Math.max(Math.ceil(ratio * p), minNeg), COLS - 1);
      });
      const expected = referenceMask(zeroed, COLS, k);
      for (const file of ['pos_b1.npy', 'pos_u1.npy']) {
        const r = hnm([
          'mine',
          '--loss',
          lossFile,
          '--positives',
          at(file),
          '--ratio',
          String(ratio),
          '--min-neg',
          String(minNeg),
          '--out',
          at('mp.npy'),
          '--json',
        ]);
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
        expect(JSON.parse(r.stdout).negatives).toBe(k.reduce((a, b) => a + b, 0));
        expect(load(at('mp.npy')).data).toEqual(expected);
      }
    }
  });

  it('--json prints exactly one summary object on stdout', () => {
    const r = hnm(['mine', '--loss', lossFile, '--num-neg', '3', '--out', at('j.npy'), '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(r.stdout);
    expect(Object.keys(summary).sort()).toEqual([
      'cols',
      'negatives',
      'ns_per_element',
      'rows',
      'seconds',
      'threads',
    ]);
    expect(summary).toMatchObject({ rows: ROWS, cols: COLS, negatives: 3 * ROWS });
    expect(summary.threads).toBeGreaterThanOrEqual(1);
  });

  it('--threads 1 and 2 give the same bytes', () => {
    const base = ['mine', '--loss', lossFile, '--num-neg-file', at('counts.npy'), '--quiet'];
    expect(hnm([...base, '--threads', '1', '--out', at('t1.npy')]).code).toBe(0);
    expect(hnm([...base, '--threads', '2', '--out', at('t2.npy')]).code).toBe(0);
    expect(readFileSync(at('t1.npy')).equals(readFileSync(at('t2.npy')))).toBe(true);
  });

  it('--nan largest ranks NaN above +Inf, as PyTorch', () => {
    const withNan = loss.slice();
    withNan[5 * COLS + 9] = Number.NaN;
    save('nan.npy', withNan, [ROWS, COLS]);
    const r = hnm([
      'mine',
      '--loss',
      at('nan.npy'),
      '--num-neg',
      '4',
      '--nan',
      'largest',
      '--out',
      at('mn.npy'),
    ]);
    expect(r.code).toBe(0);
    expect(load(at('mn.npy')).data).toEqual(referenceMask(withNan, COLS, 4, { nan: 'largest' }));
  });

  it('replaces an existing output on success', () => {
    writeFileSync(at('existing.npy'), 'old');
    expect(hnm(['mine', '--loss', lossFile, '--num-neg', '1', '--out', at('existing.npy')]).code).toBe(0);
    expect(load(at('existing.npy')).shape).toEqual([ROWS, COLS]);
  });
});

describe('hnm rank', () => {
  it('writes idx_rank as <i4, equal to referenceRank, in any chunking and shards', () => {
    const r = hnm(['rank', '--loss', lossFile, '--out', at('rank.npy')]);
    expect(r.code).toBe(0);
    const rank = load(at('rank.npy'));
    expect(rank.dtype.descr).toBe('<i4');
    expect(rank.data).toEqual(referenceRank(loss, COLS));
    const a = hnm(['rank', '--loss', lossFile, '--rows', ':20', '--out', at('ra.npy')], {
      HNM_CHUNK_ROWS: '3',
    });
    const b = hnm(['rank', '--loss', lossFile, '--rows', '20:', '--out', at('rb.npy')], {
      HNM_CHUNK_ROWS: '7',
    });
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(Buffer.concat([dataOf(at('ra.npy')), dataOf(at('rb.npy'))]).equals(dataOf(at('rank.npy')))).toBe(
      true,
    );
  });

  it('is byte-identical to numpy stable argsort of argsort', () => {
    expect(hnm(['rank', '--loss', fixture('ties_loss'), '--out', at('ties_rank.npy')]).code).toBe(0);
    expect(readFileSync(at('ties_rank.npy')).equals(readFileSync(fixture('ties_rank')))).toBe(true);
  });

  it('--json has no negatives', () => {
    const r = hnm(['rank', '--loss', lossFile, '--out', at('rj.npy'), '--json']);
    expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual([
      'cols',
      'ns_per_element',
      'rows',
      'seconds',
      'threads',
    ]);
  });

  it('rejects mine-only options', () => {
    expect(hnm(['rank', '--loss', lossFile, '--out', at('rx.npy'), '--num-neg', '3']).code).toBe(2);
    expect(leftovers('rx.npy')).toEqual([]);
  });
});

describe('hnm demo', () => {
  it('mines the synthetic SSD300 batch and checks sampled rows against referenceMask', () => {
    const r = hnm(['demo', '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ rows: 512, cols: 8732, exact: true });
    expect(summary.checked_rows).toHaveLength(4);
    // About 0.4% positives, three negatives each (a row never takes more than N - 1).
    expect(summary.positives / (512 * 8732)).toBeCloseTo(0.004, 3);
    expect(summary.negatives).toBe(3 * summary.positives);
    expect(
      hnm(['demo', '--json']).stdout.replace(
        /"(seconds|ns_per_element|seed_seconds_estimate|speedup)":[\d.e+-]+/g,
        '',
      ),
    ).toBe(r.stdout.replace(/"(seconds|ns_per_element|seed_seconds_estimate|speedup)":[\d.e+-]+/g, ''));
  });

  it('prints a readable summary', () => {
    const r = hnm(['demo', '--seed', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/512 images x 8,732 default boxes \(seed 3\)/);
    expect(r.stdout).toMatch(/seed algorithm\s+~[\d.]+ s .*extrapolated/);
    expect(r.stdout).toMatch(/identical to referenceMask/);
  });
});

describe('errors: exit status, message, and no output left behind', () => {
  /** Runs `mine` with `args` writing to `out.npy` and checks exit code, message and leftovers. */
  function fails(args: string[], code: 1 | 2, message: RegExp, out = 'out.npy'): Run {
    const r = hnm(['mine', ...args, '--out', at(out)]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code, stderr: expect.stringMatching(message) });
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.stdout).toBe('');
    expect(leftovers(out)).toEqual([]);
    return r;
  }

  it('missing input file (1, names it)', () => {
    fails(
      ['--loss', at('nope.npy'), '--num-neg', '1'],
      1,
      /cannot read .*nope\.npy: no such file or directory/,
    );
    fails(['--loss', lossFile, '--num-neg-file', at('nope.npy')], 1, /cannot read .*nope\.npy/);
  });

  it('garbage and empty files (1, magic string)', () => {
    writeFileSync(at('garbage.npy'), 'this is not numpy\n');
    fails(['--loss', at('garbage.npy'), '--num-neg', '1'], 1, /garbage\.npy: not a \.npy file.*magic string/);
    writeFileSync(at('empty.npy'), '');
    fails(['--loss', at('empty.npy'), '--num-neg', '1'], 1, /empty\.npy: the file is empty/);
  });

  it('truncated files (1, names HEADER_LEN or shape)', () => {
    const whole = readFileSync(lossFile);
    writeFileSync(at('trunc_header.npy'), whole.subarray(0, 50));
    fails(['--loss', at('trunc_header.npy'), '--num-neg', '1'], 1, /trunc_header\.npy: HEADER_LEN/);
    writeFileSync(at('trunc_data.npy'), whole.subarray(0, whole.length - 100));
    fails(
      ['--loss', at('trunc_data.npy'), '--num-neg', '1'],
      1,
      /trunc_data\.npy: header fields 'shape' \(37, 53\) and 'descr' '<f4' \(float32\) describe 7,844 bytes .*truncated/,
    );
  });

  it('a 3-D or 1-D loss (1, shape)', () => {
    fails(
      ['--loss', fixture('loss_f4_3d'), '--num-neg', '1'],
      1,
      /'shape' is \(2, 3, 4\); the loss must be a 2-D array/,
    );
    save('loss_1d.npy', new Float32Array(5), [5]);
    fails(['--loss', at('loss_1d.npy'), '--num-neg', '1'], 1, /'shape' is \(5,\)/);
  });

  it('wrong dtypes (1, descr)', () => {
    fails(['--loss', fixture('rank_i4'), '--num-neg', '1'], 1, /rank_i4\.npy: header field 'descr' is '<i4'/);
    fails(['--loss', fixture('loss_f2'), '--num-neg', '1'], 1, /'descr' is '<f2' \(float16\)/);
    fails(['--loss', fixture('structured'), '--num-neg', '1'], 1, /structured \(record\) dtype/);
    save('k_f4.npy', new Float32Array(ROWS), [ROWS]);
    fails(
      ['--loss', lossFile, '--num-neg-file', at('k_f4.npy')],
      1,
      /k_f4\.npy: header field 'descr' .*integer/,
    );
    save('pos_i4.npy', new Int32Array(ROWS * COLS), [ROWS, COLS]);
    fails(['--loss', lossFile, '--positives', at('pos_i4.npy')], 1, /pos_i4\.npy: .*bool/);
  });

  it('Fortran order (1, fortran_order)', () => {
    fails(['--loss', fixture('loss_f4_fortran'), '--num-neg', '1'], 1, /'fortran_order' is True/);
  });

  it('counts of the wrong length, negative counts, positives of the wrong shape (1)', () => {
    save('k_short.npy', new Int32Array(ROWS - 1), [ROWS - 1]);
    fails(
      ['--loss', lossFile, '--num-neg-file', at('k_short.npy')],
      1,
      /k_short\.npy: header field 'shape' is \(36,\); expected \(37,\) or \(37, 1\)/,
    );
    save('k_2d.npy', new Int32Array(ROWS * 2), [ROWS, 2]);
    fails(['--loss', lossFile, '--num-neg-file', at('k_2d.npy')], 1, /'shape' is \(37, 2\)/);
    const negative = Int32Array.from(counts);
    negative[17] = -2;
    save('k_neg.npy', negative, [ROWS]);
    fails(
      ['--loss', lossFile, '--num-neg-file', at('k_neg.npy')],
      1,
      /k_neg\.npy: the count at row 17 is negative/,
    );
    save('pos_small.npy', new Uint8Array(ROWS * 2), [ROWS, 2], true);
    fails(['--loss', lossFile, '--positives', at('pos_small.npy')], 1, /expected \(37, 53\)/);
  });

  it('NaN loss (1, row and column in the file, also in --rows slices, chunks, rank and positives)', () => {
    const withNan = loss.slice();
    withNan[23 * COLS + 41] = Number.NaN;
    withNan[30 * COLS + 2] = Number.NaN;
    save('nan2.npy', withNan, [ROWS, COLS]);
    const message = /nan2\.npy: loss is NaN at row 23, column 41; pass --nan largest/;
    fails(['--loss', at('nan2.npy'), '--num-neg', '3'], 1, message);
    fails(['--loss', at('nan2.npy'), '--num-neg', '3', '--rows', '20:25'], 1, message);
    fails(['--loss', at('nan2.npy'), '--num-neg', '3', '--rows', '24:'], 1, /row 30, column 2/);
    save('pos0.npy', new Uint8Array(ROWS * COLS), [ROWS, COLS], true);
    fails(['--loss', at('nan2.npy'), '--positives', at('pos0.npy')], 1, message);
    const r = hnm(['rank', '--loss', at('nan2.npy'), '--out', at('rnan.npy')], { HNM_CHUNK_ROWS: '5' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(leftovers('rnan.npy')).toEqual([]);
  });

  it('negative or fractional --num-neg (2)', () => {
    fails(['--loss', lossFile, '--num-neg=-1'], 2, /--num-neg must be a whole number >= 0, got '-1'/);
    fails(['--loss', lossFile, '--num-neg', '-1'], 2, /--num-neg/);
    fails(['--loss', lossFile, '--num-neg', '2.5'], 2, /--num-neg must be a whole number >= 0, got '2.5'/);
    fails(['--loss', lossFile, '--num-neg', '1e3'], 2, /--num-neg/);
  });

  it('unknown option, missing value, missing or duplicate count source (2)', () => {
    fails(
      ['--loss', lossFile, '--num-neg', '1', '--bogus'],
      2,
      /Unknown option '--bogus'.*\n.*hnm mine --help/,
    );
    fails(['--loss', lossFile, '--num-neg'], 2, /--num-neg/);
    fails(['--loss', lossFile], 2, /missing count source/);
    fails(
      ['--loss', lossFile, '--num-neg', '1', '--num-neg-file', at('counts.npy')],
      2,
      /exactly one count source/,
    );
    fails(['--num-neg', '1'], 2, /missing --loss/);
    const r = hnm(['mine', '--loss', lossFile, '--num-neg', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing --out/);
  });

  it('bad option values (2)', () => {
    const base = ['--loss', lossFile, '--num-neg', '1'];
    fails([...base, '--threads', '0'], 2, /--threads must be a whole number from 1/);
    fails([...base, '--nan', 'ignore'], 2, /--nan must be 'error' or 'largest'/);
    fails([...base, '--rows', '5'], 2, /--rows must be START:END/);
    fails([...base, '--rows', '9:3'], 2, /START \(9\) is after END \(3\)/);
    fails([...base, '--rows', '-1:3'], 2, /--rows/);
    fails([...base, '--ratio', '2'], 2, /--ratio applies only with --positives/);
    const pos = ['--loss', lossFile, '--positives', fixture('positives_b1')];
    fails([...pos, '--ratio', '0'], 2, /--ratio must be a positive number/);
    fails([...pos, '--preset', 'yolo'], 2, /--preset must be one of ssd\.pytorch/);
    fails([...pos, '--preset', 'mmdet', '--ratio', '2.5'], 2, /whole number for --preset mmdet/);
    fails(['--logits', lossFile], 2, /--logits needs --labels/);
    fails(['--loss', lossFile, '--logits', lossFile, '--labels', lossFile], 2, /either --loss, or --logits/);
  });

  it('unwritable output (1, names the output)', () => {
    fails(
      ['--loss', lossFile, '--num-neg', '1'],
      1,
      /cannot write .*no_dir.*no such file or directory/,
      'no_dir/out.npy',
    );
    writeFileSync(at('plainfile'), '');
    fails(
      ['--loss', lossFile, '--num-neg', '1'],
      1,
      /cannot write .*plainfile.*not a folder/,
      'plainfile/out.npy',
    );
    mkdirSync(at('adir.npy'));
    const r = hnm(['mine', '--loss', lossFile, '--num-neg', '1', '--out', at('adir.npy')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write .*adir\.npy: is a folder/);
    expect(readdirSync(at('adir.npy'))).toEqual([]);
    expect(leftovers('.adir.npy')).toEqual([]);
    if (process.getuid?.() !== 0) {
      mkdirSync(at('readonly'));
      chmodSync(at('readonly'), 0o555);
      fails(
        ['--loss', lossFile, '--num-neg', '1'],
        1,
        /cannot write .*permission denied/,
        'readonly/out.npy',
      );
    }
  });

  it('a failed run leaves an existing output untouched', () => {
    writeFileSync(at('precious.npy'), 'precious');
    const r = hnm(['mine', '--loss', at('nan2.npy'), '--num-neg', '1', '--out', at('precious.npy')]);
    expect(r.code).toBe(1);
    expect(readFileSync(at('precious.npy'), 'utf8')).toBe('precious');
    expect(readdirSync(dir).filter((f) => f.startsWith('.precious'))).toEqual([]);
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s mid-run removes the temporary output and exits %i', async (signal, code) => {
    const out = `signal_${signal}.npy`;
    const child = spawn(
      process.execPath,
      [MAIN, 'mine', '--loss', lossFile, '--num-neg', '2', '--out', at(out)],
      {
        cwd: dir,
        env: { ...process.env, HNM_CHUNK_ROWS: '4', HNM_TEST_STALL: '1' },
      },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('stalled after the first chunk')) resolve();
      });
    });
    expect(leftovers(out)).toHaveLength(1); // the temporary file, mid-run
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(leftovers(out)).toEqual([]);
  });
});

describe('progress bar', () => {
  it('shows percentage, rows/s and ETA, fitted to the width', () => {
    const line = formatProgress('mine', 5000, 20000, 2, 100);
    expect(line).toMatch(/^mine \[#+\.+\] +25\.0% {2}5,000\/20,000 rows {2}2,500 rows\/s {2}ETA 6s$/);
    expect(line.length).toBeLessThanOrEqual(100);
    expect(formatProgress('mine', 0, 10, 0, 100)).toContain('ETA --');
    expect(formatProgress('mine', 1, 10, 1, 30).length).toBeLessThan(30);
  });

  it('is not drawn when stderr is not a TTY', () => {
    const r = hnm(['mine', '--loss', lossFile, '--num-neg', '1', '--out', at('p.npy')], {
      HNM_CHUNK_ROWS: '1',
    });
    expect(r.stderr).toBe('');
  });
});

describe('engine (in process)', () => {
  const cols = 8192;
  const chunk = (rows: number, seed: number, into: Float32Array): Float32Array => {
    into.set(randomLoss(rows, cols, seed));
    return into;
  };

  it('streams chunks into two shared buffers used in turn on the pool', async () => {
    const engine = await createEngine(2);
    try {
      const masks = new Set<ArrayBufferLike>();
      const ranks = new Set<ArrayBufferLike>();
      const buffer = engine.allocLoss(12, cols);
      for (const rows of [12, 12, 5]) {
        const loss = chunk(rows, rows * 7 + masks.size, buffer.subarray(0, rows * cols));
        const counts = randomCounts(rows, cols, rows);
        const mask = await engine.mask(loss, cols, counts, 'error');
        expect(mask).toEqual(hardNegativeMask(loss, cols, counts));
        masks.add(mask.buffer);
        const rank = await engine.rank(loss, cols, 'error');
        expect(rank).toEqual(rankDescending(loss, cols));
        ranks.add(rank.buffer);
      }
      // Results alternate between two shared buffers: memory does not grow with the chunks.
      expect(masks.size).toBe(2);
      expect(ranks.size).toBe(2);
    } finally {
      await engine.close();
    }
  });

  it('the sync engine reuses two buffers in turn and reports NaN like the library', async () => {
    const engine = createSyncEngine();
    const loss = randomLoss(3, 10, 1);
    const a = await engine.mask(loss, 10, new Int32Array([1, 2, 3]), 'error');
    const b = await engine.mask(loss.subarray(0, 20), 10, new Int32Array([4, 5]), 'error');
    const c = await engine.mask(loss.subarray(0, 10), 10, new Int32Array([6]), 'error');
    expect(b.buffer).not.toBe(a.buffer);
    expect(c.buffer).toBe(a.buffer);
    loss[13] = Number.NaN;
    await expect(engine.rank(loss, 10, 'error')).rejects.toThrow(/row 1, column 3/);
    await engine.close();
  });
});
