import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardNegativeMask } from '../src/mask.ts';
import type { NpyData } from '../src/npy/codec.ts';
import { encodeNpy, parseNpy } from '../src/npy/codec.ts';
import { encodeHeader } from '../src/npy/header.ts';
import { readNpy, writeNpy } from '../src/npy/small.ts';
import { ensureBuilt, hnm, MAIN, STACK_TRACE } from './support/hnm.ts';

/**
 * Outputs that never destroy data, inputs and outputs on pipes, and shards: end to end through
 * child processes (each with a timeout), plus the library's `writeNpy`/`readNpy`. No test points
 * the build at the real /dev/stdout or /dev/null: stand-ins live in a temporary folder (a link to
 * /proc/self/fd/1, FIFOs, a character device made with mknod where permitted).
 */
let dir = '';
const at = (name: string): string => join(dir, name);
const T = { timeoutMs: 60_000 };

const ROWS = 29;
const COLS = 41;
let loss = new Float32Array(0);
let counts = new Int32Array(0);

function save(name: string, data: NpyData, shape: number[], bool = false): string {
  writeFileSync(at(name), encodeNpy(data, shape, { bool }));
  return at(name);
}

/** Files named `prefix*` or `.prefix*` (outputs and temporaries) in the test folder. */
function leftovers(prefix: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(prefix) || f.startsWith(`.${prefix}`));
}

/** The bytes `hnm mine --loss loss.npy --num-neg-file k.npy --rows start:end` must write. */
function expectedMask(start = 0, end = ROWS): Buffer {
  const slice = loss.subarray(start * COLS, end * COLS);
  const mask = hardNegativeMask(slice, COLS, counts.subarray(start, end));
  return Buffer.from(encodeNpy(mask, [end - start, COLS], { bool: true }));
}

const MINE = (): string[] => ['mine', '--loss', at('loss.npy'), '--num-neg-file', at('k.npy'), '--quiet'];

/** Collects everything written into FIFO `path` (opening it for reading lets the writer in). */
function drainFifo(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    createReadStream(path)
      .on('data', (d) => chunks.push(d as Buffer))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
}

/** Writes `bytes` into FIFO `path` once a reader opens it; errors (the reader left) are ignored. */
function feedFifo(path: string, bytes: Uint8Array): void {
  const child = spawn('sh', ['-c', `cat > '${path}'`], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.on('error', () => {});
  child.stdin.end(bytes);
}

function mkfifo(name: string): string {
  execFileSync('mkfifo', [at(name)]);
  return at(name);
}

/** A PID that is certainly dead: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'hnm-files-'));
  loss = Float32Array.from({ length: ROWS * COLS }, (_, i) => ((i * 7919) % 97) / 8 - (i % 5 === 0 ? 0 : 1));
  counts = Int32Array.from({ length: ROWS }, (_, r) => (r * 13) % (COLS + 3));
  save('loss.npy', loss, [ROWS, COLS]);
  save('k.npy', counts, [ROWS]);
  save(
    'pos.npy',
    Uint8Array.from({ length: ROWS * COLS }, (_, i) => (i % 11 === 0 ? 1 : 0)),
    [ROWS, COLS],
    true,
  );
  save(
    'logits.npy',
    Float32Array.from({ length: ROWS * COLS * 3 }, (_, i) => Math.sin(i)),
    [ROWS, COLS, 3],
  );
  save(
    'labels.npy',
    Int32Array.from({ length: ROWS * COLS }, (_, i) => i % 3),
    [ROWS, COLS],
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('an output that is an input is refused (exit 2), every input byte-identical', () => {
  const inputs = ['loss.npy', 'k.npy', 'pos.npy', 'logits.npy', 'labels.npy'];
  const snapshot = () => inputs.map((f) => readFileSync(at(f)));

  it.each([
    ['--out', '--loss', ['mine', '--loss', 'loss.npy', '--num-neg', '3', '--out', 'loss.npy']],
    ['--out', '--num-neg-file', ['mine', '--loss', 'loss.npy', '--num-neg-file', 'k.npy', '--out', 'k.npy']],
    ['--out', '--positives', ['mine', '--loss', 'loss.npy', '--positives', 'pos.npy', '--out', 'pos.npy']],
    [
      '--out',
      '--logits',
      ['mine', '--logits', 'logits.npy', '--labels', 'labels.npy', '--out', 'logits.npy'],
    ],
    [
      '--out',
      '--labels',
      ['mine', '--logits', 'logits.npy', '--labels', 'labels.npy', '--out', 'labels.npy'],
    ],
    [
      '--loss-out',
      '--logits',
      [
        'mine',
        '--logits',
        'logits.npy',
        '--labels',
        'labels.npy',
        '--out',
        'm.npy',
        '--loss-out',
        'logits.npy',
      ],
    ],
    [
      '--loss-out',
      '--labels',
      [
        'mine',
        '--logits',
        'logits.npy',
        '--labels',
        'labels.npy',
        '--out',
        'm.npy',
        '--loss-out',
        './labels.npy',
      ],
    ],
    ['--out', '--loss', ['rank', '--loss', 'loss.npy', '--out', 'loss.npy']],
  ])('%s naming %s', async (output, input, args) => {
    const before = snapshot();
    const r = await hnm(args, { ...T, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${output} `);
    expect(r.stderr).toContain(`is the same file as the input ${input} `);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(snapshot()).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f === 'm.npy')).toEqual([]);
  });

  it('also through a symbolic link, a hard link, and stdin', async () => {
    symlinkSync(at('loss.npy'), at('loss-link.npy'));
    linkSync(at('loss.npy'), at('loss-hard.npy'));
    const before = snapshot();
    for (const out of ['loss-link.npy', 'loss-hard.npy']) {
      const r = await hnm(['mine', '--loss', 'loss.npy', '--num-neg', '3', '--out', out], { ...T, cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--out .* is the same file as the input --loss loss\.npy/);
    }
    // stdin redirected from the output file itself.
    const r = spawnSync(
      'sh',
      ['-c', `'${process.execPath}' '${MAIN}' mine --loss - --num-neg 3 --out loss.npy < loss.npy`],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is the same file as the input --loss - (stdin)');
    expect(snapshot()).toEqual(before);
  });

  it('hnm merge refuses an output that is one of its parts', async () => {
    const before = readFileSync(at('k.npy'));
    const r = await hnm(['merge', '--out', 'k.npy', 'k.npy', 'k.npy'], { ...T, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out k.npy is the same file as the input part 0 k.npy');
    expect(readFileSync(at('k.npy'))).toEqual(before);
  });

  it('--loss with --loss-out names the real mistake; two outputs on one file are refused', async () => {
    let r = await hnm(
      ['mine', '--loss', 'loss.npy', '--num-neg', '3', '--out', 'a.npy', '--loss-out', 'b.npy'],
      {
        ...T,
        cwd: dir,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--loss-out writes the loss computed from --logits');
    expect(r.stderr).not.toContain('not both');
    symlinkSync(at('both.npy'), at('both-link.npy'));
    r = await hnm(
      [
        'mine',
        '--logits',
        'logits.npy',
        '--labels',
        'labels.npy',
        '--out',
        'both.npy',
        '--loss-out',
        'both-link.npy',
      ],
      { ...T, cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--loss-out both-link\.npy and --out both\.npy are the same file/);
    expect(leftovers('both.npy')).toEqual([]);
  });
});

describe('links, pipes, devices and folders as outputs', () => {
  it('writes through a symbolic link (also a chain, also dangling) and keeps the link', async () => {
    writeFileSync(at('real.npy'), '');
    symlinkSync('real.npy', at('link1.npy'));
    symlinkSync('link1.npy', at('link2.npy'));
    symlinkSync('sub-missing.npy', at('dangling.npy'));
    for (const [out, target] of [
      ['link2.npy', 'real.npy'],
      ['dangling.npy', 'sub-missing.npy'],
    ] as const) {
      const r = await hnm([...MINE(), '--out', at(out)], T);
      expect(r.code).toBe(0);
      expect(lstatSync(at(out)).isSymbolicLink()).toBe(true);
      expect(readFileSync(at(target))).toEqual(expectedMask());
    }
    expect(readlinkSync(at('link2.npy'))).toBe('link1.npy');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('streams into a FIFO, header first, rows in order, and leaves it a FIFO', async () => {
    const fifo = mkfifo('out.fifo');
    const [got, r] = await Promise.all([
      drainFifo(fifo),
      hnm([...MINE(), '--out', fifo], { ...T, env: { HNM_CHUNK_ROWS: '4' } }),
    ]);
    expect(r.code).toBe(0);
    expect(got).toEqual(expectedMask());
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('writes to stdout with --out - and through a link to /proc/self/fd/1 (a socket and a pipe)', async () => {
    let r = await hnm([...MINE(), '--out', '-'], { ...T, env: { HNM_CHUNK_ROWS: '3' } });
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(expectedMask());
    // Node's child stdout is a socket pair: the link resolves to hnm's own stdout.
    symlinkSync('/proc/self/fd/1', at('stdout-link'));
    r = await hnm([...MINE(), '--out', at('stdout-link')], T);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(expectedMask());
    // A shell pipeline: a real pipe.
    const sh = spawnSync(
      'sh',
      ['-c', `'${process.execPath}' '${MAIN}' ${MINE().join(' ')} --out stdout-link | cat > piped.npy`],
      {
        cwd: dir,
        timeout: 60_000,
      },
    );
    expect(sh.status).toBe(0);
    expect(readFileSync(at('piped.npy'))).toEqual(expectedMask());
    expect(lstatSync(at('stdout-link')).isSymbolicLink()).toBe(true);
  });

  it('--json with --out - is a usage error (both would write to stdout)', async () => {
    const r = await hnm([...MINE(), '--out', '-', '--json'], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--json and --out - would both write to stdout');
    expect(r.stdout).toBe('');
  });

  it('streams into a character device made with mknod, which stays a device', async (ctx) => {
    const node = at('null-standin');
    const made = spawnSync('mknod', [node, 'c', '1', '3']);
    if (made.status !== 0) {
      ctx.skip(`mknod is not permitted here: ${String(made.stderr).trim()}`);
      return;
    }
    const r = await hnm([...MINE(), '--out', node], T);
    expect(r.code).toBe(0);
    expect(statSync(node).isCharacterDevice()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('.null-standin'))).toEqual([]);
  });

  it('a folder is refused, naming it', async () => {
    execFileSync('mkdir', [at('folder.npy')]);
    const r = await hnm([...MINE(), '--out', at('folder.npy')], T);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write .*folder\.npy: is a folder/);
    expect(readdirSync(at('folder.npy'))).toEqual([]);
  });

  it("removes a killed run's temporary file of the same output when its PID is dead, never a live one's", async () => {
    const dead = at(`.stale.npy.${deadPid()}-0badf00d.tmp`);
    const live = at(`.stale.npy.${process.pid}-0badf00d.tmp`);
    const other = at(`.other.npy.${deadPid()}-0badf00d.tmp`);
    for (const f of [dead, live, other]) writeFileSync(f, 'partial');
    const r = await hnm([...MINE(), '--out', at('stale.npy')], T);
    expect(r.code).toBe(0);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
  });

  it('property: a random mix of file, link, FIFO and stdout outputs gives the regular-file bytes', async () => {
    const regular = new Map<string, Buffer>();
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('file', 'link', 'fifo', 'stdout'),
        fc.constantFrom('mine', 'rank'),
        fc.integer({ min: 0, max: ROWS }),
        fc.integer({ min: 0, max: ROWS }),
        fc.constantFrom('1', '4', '64'),
        async (kind, command, a, b, chunk) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          const base = command === 'mine' ? MINE() : ['rank', '--loss', at('loss.npy'), '--quiet'];
          const args = [...base, '--rows', `${start}:${end}`];
          const env = { HNM_CHUNK_ROWS: chunk };
          const key = `${command} ${start}:${end}`;
          if (!regular.has(key)) {
            const file = at(`regular-${serial++}.npy`);
            expect((await hnm([...args, '--out', file], { ...T, env })).code).toBe(0);
            regular.set(key, readFileSync(file));
          }
          let got: Buffer;
          const n = serial++;
          if (kind === 'stdout') {
            const r = await hnm([...args, '--out', '-'], { ...T, env });
            expect(r.code).toBe(0);
            got = r.stdoutBytes;
          } else if (kind === 'fifo') {
            const fifo = mkfifo(`mix-${n}.fifo`);
            const [bytes, r] = await Promise.all([
              drainFifo(fifo),
              hnm([...args, '--out', fifo], { ...T, env }),
            ]);
            expect(r.code).toBe(0);
            got = bytes;
          } else {
            const target = at(`mix-${n}.npy`);
            const out = kind === 'link' ? at(`mix-${n}.link`) : target;
            if (kind === 'link') symlinkSync(target, out);
            expect((await hnm([...args, '--out', out], { ...T, env })).code).toBe(0);
            got = readFileSync(target);
          }
          expect(got).toEqual(regular.get(key));
          if (command === 'mine' && start === 0 && end === ROWS) expect(got).toEqual(expectedMask());
        },
      ),
      { numRuns: Number(process.env.HNM_FILES_RUNS ?? 10) },
    );
  });
});

describe('inputs on pipes', () => {
  it('--loss - reads stdin, streaming, with --rows skipping rows', async () => {
    const bytes = readFileSync(at('loss.npy'));
    let r = await hnm([...MINE().map((a) => (a === at('loss.npy') ? '-' : a)), '--out', '-'], {
      ...T,
      stdin: bytes,
      env: { HNM_CHUNK_ROWS: '5' },
    });
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(expectedMask());
    r = await hnm(
      ['mine', '--loss', '-', '--num-neg-file', at('k.npy'), '--rows', '7:20', '--out', '-', '--quiet'],
      {
        ...T,
        stdin: bytes,
        env: { HNM_CHUNK_ROWS: '4' },
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdoutBytes).toEqual(expectedMask(7, 20));
  });

  it('any one input may be -; two are refused', async () => {
    const r = await hnm(
      ['mine', '--loss', at('loss.npy'), '--num-neg-file', '-', '--out', at('stdin-k.npy'), '--quiet'],
      {
        ...T,
        stdin: readFileSync(at('k.npy')),
      },
    );
    expect(r.code).toBe(0);
    expect(readFileSync(at('stdin-k.npy'))).toEqual(expectedMask());
    const two = await hnm(['mine', '--loss', '-', '--num-neg-file', '-', '--out', at('x.npy')], T);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('only one input can read stdin, but --loss and --num-neg-file');
  });

  it('reads a FIFO input', async () => {
    const fifo = mkfifo('in.fifo');
    feedFifo(fifo, readFileSync(at('loss.npy')));
    const r = await hnm(
      ['mine', '--loss', fifo, '--num-neg-file', at('k.npy'), '--out', at('from-fifo.npy')],
      T,
    );
    expect(r.code).toBe(0);
    expect(readFileSync(at('from-fifo.npy'))).toEqual(expectedMask());
  });

  it('truncated input on a pipe or FIFO: exit 1 naming the row where data ran out, nothing left', async () => {
    const bytes = readFileSync(at('loss.npy'));
    const cut = bytes.subarray(0, 128 + (20 * COLS + 7) * 4); // ends inside row 20
    const r = await hnm(['mine', '--loss', '-', '--num-neg', '3', '--out', at('cut.npy')], {
      ...T,
      stdin: cut,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('-: the data ended early, in row 20 of the 29');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(leftovers('cut.npy')).toEqual([]);
    const fifo = mkfifo('cut.fifo');
    feedFifo(fifo, cut);
    const f = await hnm(['rank', '--loss', fifo, '--out', at('cut2.npy')], {
      ...T,
      env: { HNM_CHUNK_ROWS: '6' },
    });
    expect(f.code).toBe(1);
    expect(f.stderr).toContain('in row 20 of the 29');
    expect(leftovers('cut2.npy')).toEqual([]);
    // A header cut short on a pipe names HEADER_LEN.
    const h = await hnm(['info', '-'], { ...T, stdin: bytes.subarray(0, 40) });
    expect(h.code).toBe(1);
    expect(h.stderr).toMatch(/HEADER_LEN .*stream ended at byte 40/);
  });
});

describe('smaller CLI promises', () => {
  it('--threads above the CPU count warns, above 4x is refused', async () => {
    const cpus = availableParallelism();
    let r = await hnm(
      [...MINE().filter((a) => a !== '--quiet'), '--threads', String(cpus + 1), '--out', at('t.npy')],
      T,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`--threads ${cpus + 1} is more than the ${cpus} CPUs here`);
    r = await hnm([...MINE(), '--threads', String(4 * cpus + 1), '--out', at('t.npy')], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`from 1 to ${4 * cpus} (4x the ${cpus} CPUs here)`);
  });

  it('float64 input: one notice on stderr (none with --quiet), converted_from in --json', async () => {
    save('loss64.npy', Float64Array.from(loss), [ROWS, COLS]);
    const args = ['mine', '--loss', at('loss64.npy'), '--num-neg-file', at('k.npy'), '--out', at('m64.npy')];
    let r = await hnm([...args, '--json'], T);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).converted_from).toBe('<f8');
    expect(r.stderr.match(/float64 \('<f8'\); values are ranked after rounding to float32/g)).toHaveLength(1);
    r = await hnm([...args, '--quiet'], T);
    expect(r.stderr).toBe('');
    expect(readFileSync(at('m64.npy'))).toEqual(expectedMask());
  });

  it("--num-neg -3 gets the tool's own message", async () => {
    const r = await hnm([...MINE().slice(0, 3), '--num-neg', '-3', '--out', at('n.npy')], T);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--num-neg must be a whole number >= 0, got '-3'");
  });

  it('rows wider than the 32 MiB chunk are refused up front (exit 2, saying why)', async () => {
    const cols = 2 ** 23 + 1; // one float32 row: 32 MiB + 4 bytes
    const header = encodeHeader('<f4', [1, cols]);
    writeFileSync(at('wide.npy'), header);
    truncateSync(at('wide.npy'), header.length + cols * 4); // sparse: nothing is read anyway
    const r = await hnm(
      ['mine', '--loss', at('wide.npy'), '--num-neg', '3', '--out', at('wide-mask.npy')],
      T,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/one row of 8,388,609 columns takes 32 MiB to read, more than the 32 MiB chunk/);
    expect(leftovers('wide-mask')).toEqual([]);
  });
});

describe('hnm merge and hnm info', () => {
  it('merge checks dtype, trailing shape and order, naming the part', async () => {
    save('p-f4.npy', new Float32Array(6), [2, 3]);
    save('p-f8.npy', new Float64Array(6), [2, 3]);
    save('p-cols.npy', new Float32Array(8), [2, 4]);
    const fortran = encodeNpy(new Float32Array(6), [2, 3]);
    const text = Buffer.from(fortran)
      .toString('latin1')
      .replace("'fortran_order': False", "'fortran_order': True ");
    writeFileSync(at('p-fortran.npy'), Buffer.from(text, 'latin1'));
    for (const [part, field] of [
      ['p-f8.npy', "has 'descr' '<f8' (float64), part 0"],
      ['p-cols.npy', "has 'shape' (2, 4), part 0"],
      ['p-fortran.npy', 'is in Fortran order'],
    ] as const) {
      const r = await hnm(['merge', '--out', at('merged.npy'), at('p-f4.npy'), at(part)], T);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`part 1 (${at(part)}) ${field}`);
      expect(leftovers('merged')).toEqual([]);
    }
  });

  it('info prints dtype, shape, order, version and data bytes; --json as objects', async () => {
    let r = await hnm(['info', at('loss.npy'), at('k.npy')], T);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `loss.npy: '<f4' (float32), shape (29, 41), C order, format 1.0, 4,756 data bytes`,
    );
    r = await hnm(['info', '--json', at('loss.npy'), at('p-fortran.npy')], T);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({
      file: at('loss.npy'),
      descr: '<f4',
      dtype: 'float32',
      shape: [29, 41],
      order: 'C',
      version: '1.0',
      header_bytes: 128,
      data_bytes: 4756,
    });
    expect(lines[1].order).toBe('F');
  });
});

describe('library: writeNpy and readNpy never destroy data', () => {
  const data = Float32Array.of(1, 2, 3, 4, 5, 6);
  const bytes = () => Buffer.from(encodeNpy(data, [2, 3]));

  it('writes through a symbolic link, keeping it', async () => {
    writeFileSync(at('lib-real.npy'), 'old');
    symlinkSync('lib-real.npy', at('lib-link.npy'));
    await writeNpy(at('lib-link.npy'), data, [2, 3]);
    expect(lstatSync(at('lib-link.npy')).isSymbolicLink()).toBe(true);
    expect(readFileSync(at('lib-real.npy'))).toEqual(bytes());
  });

  it('streams into a FIFO, refuses a folder, removes dead temporaries', async () => {
    const fifo = mkfifo('lib.fifo');
    const [got] = await Promise.all([drainFifo(fifo), writeNpy(fifo, data, [2, 3])]);
    expect(got).toEqual(bytes());
    expect(statSync(fifo).isFIFO()).toBe(true);
    execFileSync('mkdir', [at('lib-dir.npy')]);
    await expect(writeNpy(at('lib-dir.npy'), data, [2, 3])).rejects.toMatchObject({ code: 'EISDIR' });
    const stale = at(`.lib-new.npy.${deadPid()}-12345678.tmp`);
    writeFileSync(stale, 'x');
    await writeNpy(at('lib-new.npy'), data, [2, 3]);
    expect(existsSync(stale)).toBe(false);
    expect((await readNpy(at('lib-new.npy'))).data).toEqual(data);
  });

  it('readNpy and parseNpy give C order for Fortran files; a kernel then reads the right rows', async () => {
    // (2, 3) [[0, 5, 1], [4, 2, 3]] stored column-major: 0 4 5 2 1 3.
    const f = Buffer.from(encodeNpy(Float32Array.of(0, 4, 5, 2, 1, 3), [2, 3])).toString('latin1');
    writeFileSync(
      at('lib-f.npy'),
      Buffer.from(f.replace("'fortran_order': False", "'fortran_order': True "), 'latin1'),
    );
    const a = await readNpy(at('lib-f.npy'));
    expect([...a.data]).toEqual([0, 5, 1, 4, 2, 3]);
    expect(a.fortranOrder).toBe(false);
    expect([...hardNegativeMask(a.data as Float32Array, 3, 1)]).toEqual([0, 1, 0, 1, 0, 0]);
    const raw = parseNpy(readFileSync(at('lib-f.npy')), 'f', { keepFortranOrder: true });
    expect(raw.fortranOrder).toBe(true);
    expect([...raw.data]).toEqual([0, 4, 5, 2, 1, 3]);
    expect(() => parseNpy(new ArrayBuffer(8) as unknown as Uint8Array)).toThrow(TypeError);
  });
});
