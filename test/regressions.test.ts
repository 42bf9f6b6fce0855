import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/errors.ts';
import { planMine } from '../src/cli/mine.ts';
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
