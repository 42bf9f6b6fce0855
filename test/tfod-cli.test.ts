import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceTfod } from '../src/index.ts';
import { parseNpy } from '../src/npy/codec.ts';
import { readNpy, writeNpy } from '../src/npy/small.ts';
import { drainFifo, feedFifo } from './support/files.ts';
import { ensureBuilt, hnm, MAIN, STACK_TRACE } from './support/hnm.ts';

/**
 * `hnm mine --preset tf_object_detection` end to end, through the compiled bin in a child process
 * (each run with a timeout): the preset's results, then the file promises every `hnm mine` keeps
 * (outputs never replace an input, links written through, FIFOs and stdout streamed, stdin and FIFO
 * inputs, --shard, --rows and --threads bounds). No test touches the real /dev/stdout or /dev/null:
 * stand-ins (a link to /proc/self/fd/1, FIFOs) live in a temporary folder.
 */

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
      (await readdir(dir)).filter((f) => f.endsWith('.tmp') || f === `out-${String(serial - 1)}`),
    ).toEqual([]);
  });

  it('--help describes the preset', async () => {
    const run = await hnm(['mine', '--preset', 'tf_object_detection', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/HardExampleMiner/);
    expect((await hnm(['mine', '--help'])).stdout).toMatch(/tf_object_detection/);
  });
});

describe('tf_object_detection keeps the file promises of hnm mine', () => {
  const T = { timeoutMs: 60_000 };
  const INPUTS = [
    ['--loss', 'loss.npy', 'ssd-config.loss.npy'],
    ['--positives', 'pos.npy', 'ssd-config.pos.npy'],
    ['--boxes', 'boxes.npy', 'ssd-config.boxes.npy'],
    ['--ignored', 'ign.npy', 'ssd-config.ign.npy'],
    ['--loc-loss', 'loc.npy', 'ssd-config.loc.npy'],
  ] as const;
  let work = '';
  const at = (name: string) => join(work, name);
  /** SSD_CONFIG on copies of the fixture in the work folder (outputs may be pointed at them). */
  const args = (): string[] => {
    const a = SSD_CONFIG.slice();
    for (const [, name, fixture] of INPUTS) a[a.indexOf(fx(fixture))] = at(name);
    return ['mine', ...a, '--quiet'];
  };
  const withInput = (option: string, file: string) => {
    const a = args();
    a[a.indexOf(option) + 1] = file;
    return a;
  };
  const snapshot = () => INPUTS.map(([, name]) => readFileSync(at(name)));
  const leftovers = () => readdirSync(work).filter((f) => f.endsWith('.tmp'));
  const mkfifo = (name: string) => {
    execFileSync('mkfifo', [at(name)]);
    return at(name);
  };
  /** The kept selection and the negatives of a whole run to regular files, and their bytes. */
  let kept = Buffer.alloc(0);
  let negatives = Buffer.alloc(0);
  const data = (npy: Buffer) => [...(parseNpy(npy).data as Uint8Array)];

  beforeAll(async () => {
    work = join(dir, 'promises');
    mkdirSync(work);
    for (const [, name, fixture] of INPUTS) copyFileSync(fx(fixture), at(name));
    const r = await hnm([...args(), '--out', at('kept.npy'), '--negatives-out', at('neg.npy')], T);
    expect(r.code).toBe(0);
    kept = readFileSync(at('kept.npy'));
    negatives = readFileSync(at('neg.npy'));
    expect(data(kept)).toEqual(await bytes(fx('ssd-config.kept.npy')));
  });

  it.each(
    INPUTS.flatMap(([input, name]) => [
      ['--out', input, name],
      ['--negatives-out', input, name],
    ]),
  )('%s that is the input %s is refused (exit 2), nothing written', async (output, input, name) => {
    const before = snapshot();
    const a = [...args(), '--out', at('o.npy'), '--negatives-out', at('n.npy')];
    a[a.indexOf(output) + 1] = at(name);
    const r = await hnm(a, T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${output} ${at(name)} is the same file as the input ${input} ${at(name)}`);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(snapshot()).toEqual(before);
    expect(readdirSync(work).filter((f) => f === 'o.npy' || f === 'n.npy')).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('also through a symbolic link, a hard link, stdin, and --out equal to --negatives-out', async () => {
    symlinkSync(at('boxes.npy'), at('boxes-link.npy'));
    linkSync(at('loc.npy'), at('loc-hard.npy'));
    const before = snapshot();
    for (const [out, input] of [
      ['boxes-link.npy', '--boxes'],
      ['loc-hard.npy', '--loc-loss'],
    ] as const) {
      const r = await hnm([...args(), '--out', at(out)], T);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--out ${at(out)} is the same file as the input ${input} `);
    }
    // stdin redirected from the output file itself.
    const a = withInput('--positives', '-').map((x) => `'${x}'`);
    const sh = spawnSync(
      'sh',
      ['-c', `'${process.execPath}' '${MAIN}' ${a.join(' ')} --out pos.npy < pos.npy`],
      {
        cwd: work,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(sh.status).toBe(2);
    expect(sh.stderr).toContain('--out pos.npy is the same file as the input --positives - (stdin)');
    symlinkSync(at('both.npy'), at('both-link.npy'));
    const r = await hnm([...args(), '--out', at('both.npy'), '--negatives-out', at('both-link.npy')], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--negatives-out .*both-link\.npy and --out .*both\.npy are the same file/);
    expect(snapshot()).toEqual(before);
    expect(readdirSync(work).filter((f) => f.startsWith('both') && f !== 'both-link.npy')).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('writes through symbolic links (a chain, a dangling one) and keeps them', async () => {
    symlinkSync('real.npy', at('l1.npy'));
    symlinkSync('l1.npy', at('l2.npy'));
    symlinkSync('missing-neg.npy', at('dangling.npy'));
    const r = await hnm([...args(), '--out', at('l2.npy'), '--negatives-out', at('dangling.npy')], T);
    expect(r.code).toBe(0);
    expect(readFileSync(at('real.npy'))).toEqual(kept);
    expect(readFileSync(at('missing-neg.npy'))).toEqual(negatives);
    expect(readlinkSync(at('l2.npy'))).toBe('l1.npy');
    expect(lstatSync(at('dangling.npy')).isSymbolicLink()).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('streams into two FIFOs, one row a chunk, and leaves them FIFOs', async () => {
    const [a, b] = [mkfifo('kept.fifo'), mkfifo('neg.fifo')];
    const [gotA, gotB, r] = await Promise.all([
      drainFifo(a),
      drainFifo(b),
      hnm([...args(), '--out', a, '--negatives-out', b], { ...T, env: { HNM_CHUNK_ROWS: '1' } }),
    ]);
    expect(r.code).toBe(0);
    expect(gotA).toEqual(kept);
    expect(gotB).toEqual(negatives);
    expect(statSync(a).isFIFO() && statSync(b).isFIFO()).toBe(true);
  });

  it('streams into a character device made with mknod, which stays a device', async (ctx) => {
    const node = at('null-standin');
    const made = spawnSync('mknod', [node, 'c', '1', '3']);
    if (made.status !== 0) {
      ctx.skip(`mknod is not permitted here: ${String(made.stderr).trim()}`);
      return;
    }
    const r = await hnm([...args(), '--out', at('dev-kept.npy'), '--negatives-out', node], T);
    expect(r.code).toBe(0);
    expect(readFileSync(at('dev-kept.npy'))).toEqual(kept);
    expect(statSync(node).isCharacterDevice()).toBe(true);
    expect(readdirSync(work).filter((f) => f.startsWith('.null-standin'))).toEqual([]);
  });

  it('--out - writes stdout (summary on stderr); a link to /proc/self/fd/1 too; --json with --out - is exit 2', async () => {
    let r = await hnm([...args().filter((x) => x !== '--quiet'), '--out', '-'], {
      ...T,
      env: { HNM_CHUNK_ROWS: '2' },
    });
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(kept);
    expect(r.stderr).toMatch(/mined 3 x 400 \(tf_object_detection\): .* written to stdout/);
    symlinkSync('/proc/self/fd/1', at('stdout-link'));
    r = await hnm([...args(), '--out', at('k.npy'), '--negatives-out', at('stdout-link')], T);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(negatives);
    expect(readFileSync(at('k.npy'))).toEqual(kept);
    expect(lstatSync(at('stdout-link')).isSymbolicLink()).toBe(true);
    r = await hnm([...args(), '--out', at('j.npy'), '--negatives-out', '-', '--json'], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--json and --negatives-out - would both write to stdout');
    expect(r.stdout).toBe('');
    r = await hnm([...args(), '--out', '-', '--negatives-out', '-'], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('only one output can write to stdout');
  });

  it.each(INPUTS.map(([option]) => [option]))(
    '%s - reads stdin, also with --rows skipping a row',
    async (option) => {
      const name = INPUTS.find(([o]) => o === option)![1];
      const stdin = readFileSync(at(name));
      let r = await hnm([...withInput(option, '-'), '--out', '-'], {
        ...T,
        stdin,
        env: { HNM_CHUNK_ROWS: '1' },
      });
      expect(r.code).toBe(0);
      expect(r.stdoutBytes).toEqual(kept);
      r = await hnm([...withInput(option, '-'), '--rows', '1:3', '--out', '-'], { ...T, stdin });
      expect(r.code).toBe(0);
      expect(data(r.stdoutBytes)).toEqual(data(kept).slice(400));
    },
  );

  it('reads a FIFO input; two inputs on stdin are refused', async () => {
    const fifo = mkfifo('boxes.fifo');
    feedFifo(fifo, readFileSync(at('boxes.npy')));
    let r = await hnm([...withInput('--boxes', fifo), '--out', at('from-fifo.npy')], T);
    expect(r.code).toBe(0);
    expect(readFileSync(at('from-fifo.npy'))).toEqual(kept);
    const two = withInput('--loss', '-');
    two[two.indexOf('--ignored') + 1] = '-';
    r = await hnm([...two, '--out', at('two.npy')], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('only one input can read stdin, but --loss and --ignored');
  });

  it('truncated input on a pipe or FIFO: exit 1 naming the row where the data ended, nothing left', async () => {
    const boxes = readFileSync(at('boxes.npy'));
    const header = boxes.length - 3 * 400 * 4 * 4;
    const cut = boxes.subarray(0, header + (2 * 400 * 4 + 5) * 4); // ends inside row 2
    let r = await hnm([...withInput('--boxes', '-'), '--out', at('cut.npy')], {
      ...T,
      stdin: cut,
      env: { HNM_CHUNK_ROWS: '1' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('-: the data ended early, in row 2 of the 3');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const loss = readFileSync(at('loss.npy'));
    const fifo = mkfifo('cut.fifo');
    feedFifo(fifo, loss.subarray(0, loss.length - 400 * 4 + 3));
    r = await hnm([...withInput('--loss', fifo), '--out', at('cut2.npy')], T);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${fifo}: the data ended early, in row 2 of the 3`);
    expect(readdirSync(work).filter((f) => f.includes('cut') && !f.endsWith('.fifo'))).toEqual([]);
  });

  it('--shard I/N: the shards concatenate to the whole run; --rows or --shard out of range is exit 2', async () => {
    const parts: number[] = [];
    for (const i of [0, 1, 2, 3]) {
      const r = await hnm([...args(), '--shard', `${i}/4`, '--out', at(`shard${i}.npy`)], T);
      expect(r.code).toBe(0);
      parts.push(...data(readFileSync(at(`shard${i}.npy`))));
    }
    expect(parts).toEqual(data(kept));
    for (const [flag, value, message] of [
      ['--rows', '0:4', '--rows 0:4 is beyond the 3 rows of'],
      ['--rows', '5:', 'is beyond the 3 rows of'],
      ['--shard', '4/4', '--shard must be I/N with whole numbers 0 <= I < N'],
    ] as const) {
      const r = await hnm([...args(), flag, value, '--out', at('range.npy')], T);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const both = await hnm([...args(), '--rows', '0:1', '--shard', '0/2', '--out', at('range.npy')], T);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give --rows START:END or --shard I/N, not both');
    expect(readdirSync(work).filter((f) => f.startsWith('range') || f.startsWith('.range'))).toEqual([]);
  });

  it('--threads above the CPU count warns, above 4x is refused; a folder output is refused; float64 gets a notice', async () => {
    const cpus = availableParallelism();
    const loud = args().filter((x) => x !== '--quiet');
    let r = await hnm([...loud, '--threads', String(cpus + 1), '--out', at('t.npy')], T);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`--threads ${cpus + 1} is more than the ${cpus} CPUs here`);
    r = await hnm([...args(), '--threads', String(4 * cpus + 1), '--out', at('t.npy')], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`from 1 to ${4 * cpus} (4x the ${cpus} CPUs here)`);
    mkdirSync(at('folder.npy'));
    r = await hnm([...args(), '--out', at('k2.npy'), '--negatives-out', at('folder.npy')], T);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write .*folder\.npy: is a folder/);
    expect(readdirSync(at('folder.npy'))).toEqual([]);
    expect(readdirSync(work).filter((f) => f.includes('k2.npy'))).toEqual([]);
    const boxes = (await readNpy(at('boxes.npy'))).data as Float32Array;
    await writeNpy(at('boxes64.npy'), Float64Array.from(boxes), [3, 400, 4]);
    const f8 = withInput('--boxes', at('boxes64.npy'));
    r = await hnm([...f8.filter((x) => x !== '--quiet'), '--out', at('b64.npy')], T);
    expect(r.code).toBe(0);
    expect(
      r.stderr.match(/boxes64\.npy is float64 \('<f8'\); values are used after rounding to float32/g),
    ).toHaveLength(1);
    expect(readFileSync(at('b64.npy'))).toEqual(kept);
    expect((await hnm([...f8, '--out', at('b64q.npy')], T)).stderr).toBe('');
    r = await hnm([...f8, '--json', '--out', at('b64j.npy')], T);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).converted_from).toEqual({ boxes: '<f8' });
    r = await hnm([...args(), '--json', '--out', at('f4j.npy')], T);
    expect(JSON.parse(r.stdout)).not.toHaveProperty('converted_from');
  });
});
