import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hardNegativeMask } from '../src/mask.ts';
import { encodeNpy, parseNpy } from '../src/npy/codec.ts';
import { NpyFormatError } from '../src/npy/errors.ts';
import { encodeHeader } from '../src/npy/header.ts';
import { readNpy, writeNpy } from '../src/npy/small.ts';
import {
  at,
  COLS,
  deadPid,
  drainFifo,
  expectedMask,
  feedFifo,
  leftovers,
  lossData,
  MINE,
  mkfifo,
  ROWS,
  save,
  T,
  useFilesFixture,
} from './support/files.ts';
import { hnm, STACK_TRACE } from './support/hnm.ts';

/**
 * Inputs on pipes (stdin, FIFOs, truncation), the smaller CLI promises (threads, float64, negative
 * counts, rows too wide for the chunk), hnm merge and hnm info, and the library's writeNpy/readNpy
 * file rules. End to end through child processes with timeouts; outputs: test/cli-files.test.ts.
 */
useFilesFixture();

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
    save('loss64.npy', Float64Array.from(lossData()), [ROWS, COLS]);
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
    // An ArrayBuffer is read as the file's bytes (here too short to be one); a non-buffer is a TypeError.
    expect(() => parseNpy(new ArrayBuffer(8))).toThrow(NpyFormatError);
    expect(() => parseNpy('f.npy' as unknown as Uint8Array)).toThrow(TypeError);
  });
});
