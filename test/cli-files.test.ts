import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  at,
  deadPid,
  drainFifo,
  expectedMask,
  folder,
  leftovers,
  MINE,
  mkfifo,
  ROWS,
  T,
  useFilesFixture,
} from './support/files.ts';
import { hnm, MAIN, STACK_TRACE } from './support/hnm.ts';

/**
 * Outputs that never destroy data, end to end through child processes (each with a timeout): an
 * output that is an input, links, FIFOs, stdout, devices, folders, stale temporary files, and a
 * property over a random mix of outputs. No test points the build at the real /dev/stdout or
 * /dev/null: stand-ins live in a temporary folder (a link to /proc/self/fd/1, FIFOs, a character
 * device made with mknod where permitted). Pipes as inputs: test/cli-pipes.test.ts.
 */
useFilesFixture();

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
    const r = await hnm(args, { ...T, cwd: folder() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${output} `);
    expect(r.stderr).toContain(`is the same file as the input ${input} `);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(snapshot()).toEqual(before);
    expect(readdirSync(folder()).filter((f) => f.endsWith('.tmp') || f === 'm.npy')).toEqual([]);
  });

  it('also through a symbolic link, a hard link, and stdin', async () => {
    symlinkSync(at('loss.npy'), at('loss-link.npy'));
    linkSync(at('loss.npy'), at('loss-hard.npy'));
    const before = snapshot();
    for (const out of ['loss-link.npy', 'loss-hard.npy']) {
      const r = await hnm(['mine', '--loss', 'loss.npy', '--num-neg', '3', '--out', out], {
        ...T,
        cwd: folder(),
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--out .* is the same file as the input --loss loss\.npy/);
    }
    // stdin redirected from the output file itself.
    const r = spawnSync(
      'sh',
      ['-c', `'${process.execPath}' '${MAIN}' mine --loss - --num-neg 3 --out loss.npy < loss.npy`],
      {
        cwd: folder(),
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
    const r = await hnm(['merge', '--out', 'k.npy', 'k.npy', 'k.npy'], { ...T, cwd: folder() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out k.npy is the same file as the input part 0 k.npy');
    expect(readFileSync(at('k.npy'))).toEqual(before);
  });

  it('--loss with --loss-out names the real mistake; two outputs on one file are refused', async () => {
    let r = await hnm(
      ['mine', '--loss', 'loss.npy', '--num-neg', '3', '--out', 'a.npy', '--loss-out', 'b.npy'],
      {
        ...T,
        cwd: folder(),
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
      { ...T, cwd: folder() },
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
    expect(readdirSync(folder()).filter((f) => f.endsWith('.tmp'))).toEqual([]);
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
        cwd: folder(),
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
    expect(readdirSync(folder()).filter((f) => f.startsWith('.null-standin'))).toEqual([]);
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
