import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { hardNegativeMask } from '../../src/mask.ts';
import type { NpyData } from '../../src/npy/codec.ts';
import { encodeNpy } from '../../src/npy/codec.ts';
import { ensureBuilt } from './hnm.ts';

/**
 * The shared fixture of the file-safety and pipe tests: a temporary folder with a small loss,
 * counts, positives, logits and labels, and helpers for FIFOs and leftovers. No helper touches the
 * real /dev/stdout or /dev/null.
 */
let dir = '';
/** The test folder (valid inside tests). */
export const folder = (): string => dir;
export const at = (name: string): string => join(dir, name);
export const T = { timeoutMs: 60_000 };

export const ROWS = 29;
export const COLS = 41;
let loss = new Float32Array(0);
let counts = new Int32Array(0);
/** The loss of `loss.npy` (valid inside tests). */
export const lossData = (): Float32Array => loss;

export function save(name: string, data: NpyData, shape: number[], bool = false): string {
  writeFileSync(at(name), encodeNpy(data, shape, { bool }));
  return at(name);
}

/** Files named `prefix*` or `.prefix*` (outputs and temporaries) in the test folder. */
export function leftovers(prefix: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(prefix) || f.startsWith(`.${prefix}`));
}

/** The bytes `hnm mine --loss loss.npy --num-neg-file k.npy --rows start:end` must write. */
export function expectedMask(start = 0, end = ROWS): Buffer {
  const slice = loss.subarray(start * COLS, end * COLS);
  const mask = hardNegativeMask(slice, COLS, counts.subarray(start, end));
  return Buffer.from(encodeNpy(mask, [end - start, COLS], { bool: true }));
}

export const MINE = (): string[] => [
  'mine',
  '--loss',
  at('loss.npy'),
  '--num-neg-file',
  at('k.npy'),
  '--quiet',
];

/** Collects everything written into FIFO `path` (opening it for reading lets the writer in). */
export function drainFifo(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    createReadStream(path)
      .on('data', (d) => chunks.push(d as Buffer))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
}

/** Writes `bytes` into FIFO `path` once a reader opens it; errors (the reader left) are ignored. */
export function feedFifo(path: string, bytes: Uint8Array): void {
  const child = spawn('sh', ['-c', `cat > '${path}'`], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.on('error', () => {});
  child.stdin.end(bytes);
}

export function mkfifo(name: string): string {
  execFileSync('mkfifo', [at(name)]);
  return at(name);
}

/** A PID that is certainly dead: a child that has exited. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

/** Registers the fixture's setup and teardown in the calling test file. */
export function useFilesFixture(): void {
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hnm-files-'));
    loss = Float32Array.from(
      { length: ROWS * COLS },
      (_, i) => ((i * 7919) % 97) / 8 - (i % 5 === 0 ? 0 : 1),
    );
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
}
