import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/errors.ts';
import { planMine } from '../src/cli/mine.ts';
import { hardNegativeMask, rankDescending, referenceMask, referenceRank } from '../src/index.ts';
import { createScratch, scratchFor } from '../src/kernel/scratch.ts';
import { encodeNpy } from '../src/npy/small.ts';
import { ensureBuilt, hnm, STACK_TRACE } from './support/hnm.ts';

/**
 * Regression tests for defects the hardening found outside the fuzzed paths (the malformed-header
 * ones live in test/npy-fuzz.test.ts). Each names the defect it pins down.
 */

describe('hnm mine --loss-out X --out X', () => {
  let dir = '';
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hnm-regressions-'));
    writeFileSync(
      join(dir, 'logits.npy'),
      encodeNpy(
        Float32Array.from({ length: 24 }, (_, i) => i % 5),
        [3, 4, 2],
      ),
    );
    writeFileSync(
      join(dir, 'labels.npy'),
      encodeNpy(Int32Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1), [3, 4]),
    );
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a usage error (it used to exit 0 with the float32 loss renamed over the mask)', async () => {
    const base = { logits: 'l.npy', labels: 'b.npy' };
    expect(() => planMine({ ...base, out: 'same.npy', 'loss-out': 'same.npy' })).toThrow(UsageError);
    expect(() => planMine({ ...base, out: 'same.npy', 'loss-out': './same.npy' })).toThrow(
      '--loss-out and --out must be different files',
    );
    expect(() => planMine({ ...base, out: 'mask.npy', 'loss-out': 'loss.npy' })).not.toThrow();
    const run = await hnm(
      [
        'mine',
        '--logits',
        'logits.npy',
        '--labels',
        'labels.npy',
        '--loss-out',
        'same.npy',
        '--out',
        './same.npy',
      ],
      { cwd: dir },
    );
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/--loss-out and --out must be different files/);
    expect(run.stderr).not.toMatch(STACK_TRACE);
    expect(readdirSync(dir).sort()).toEqual(['labels.npy', 'logits.npy']);
  });
});

describe('kernel scratch across column counts', () => {
  it('keeps its 32 KiB histogram when the column count changes (a fresh one per call cost ~110 MiB RSS for 10,000 calls on Node 24)', () => {
    const first = createScratch(5);
    const second = scratchFor(first, 7);
    expect(second.cols).toBe(7);
    expect(second.cand.length).toBe(8);
    expect(second.hist).toBe(first.hist);
    expect(scratchFor(second, 7)).toBe(second);
    expect(scratchFor(undefined, 3).hist.length).toBe(first.hist.length);
  });

  it('calls alternating column counts stay exact (mask and rank, whose histogram states differ)', () => {
    for (let i = 0; i < 100; i++) {
      const cols = 1 + ((i * 37) % 61);
      const loss = Float32Array.from(
        { length: 2 * cols },
        (_, j) => ((j * 7 + i) % 5) - 2 + (j % 3 === 0 ? -0 : 0),
      );
      const k = [i % (cols + 2), (i * 3) % (cols + 2)];
      expect([...hardNegativeMask(loss, cols, k)]).toEqual([...referenceMask(loss, cols, k)]);
      expect([...rankDescending(loss, cols)]).toEqual([...referenceRank(loss, cols)]);
    }
  });
});
