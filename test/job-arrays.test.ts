import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../src/npy/codec.ts';
import { ensureBuilt, MAIN, ROOT } from './support/hnm.ts';

/**
 * Runs the recipes of docs/job-arrays.md as written: the Kubernetes Indexed Job's command and the
 * Slurm array script, once per index with the scheduler's variables in the environment, then the
 * documented `hnm merge`, and compares the merged mask with one `hnm mine` over the whole file.
 */
const DOC = readFileSync(join(ROOT, 'docs', 'job-arrays.md'), 'utf8');
const N = 4;
const ROWS = 103; // not a multiple of N: shards of 25 and 26 rows
const COLS = 37;

let dir = '';
let bin = '';

/** Runs `script` with `sh -c` (an `hnm` on PATH that runs the build under test); resolves to its result. */
function sh(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], {
      cwd: dir,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, DATA: dir, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** The fenced code block of the doc that contains `marker`. */
function block(marker: string): string {
  const blocks = [...DOC.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const found = blocks.find((b) => b.includes(marker));
  if (found === undefined) throw new Error(`docs/job-arrays.md has no code block with ${marker}`);
  return found;
}

/** The Indexed Job's shell command: the folded `args` scalar of the manifest, joined as YAML does. */
function kubernetesCommand(): string {
  const lines = block('completionMode: Indexed').split('\n');
  const start = lines.findIndex((l) => l.trim() === '- >-');
  const indent = lines[start + 1]!.search(/\S/);
  const folded: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.search(/\S/) < indent) break;
    folded.push(line.trim());
  }
  return folded.join(' ');
}

async function wholeRun(): Promise<Buffer> {
  const r = await sh(
    `hnm mine --loss "$DATA/loss.npy" --positives "$DATA/pos.npy" --preset ssd.pytorch --out "$DATA/whole.npy" --quiet`,
    {},
  );
  expect(r).toEqual({ code: 0, stderr: '' });
  return readFileSync(join(dir, 'whole.npy'));
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'hnm-jobs-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'hnm'), `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`);
  chmodSync(join(bin, 'hnm'), 0o755);
  const loss = Float32Array.from({ length: ROWS * COLS }, (_, i) => ((i * 2654435761) % 1000) / 250);
  const pos = Uint8Array.from({ length: ROWS * COLS }, (_, i) => (i % 17 === 3 ? 1 : 0));
  writeFileSync(join(dir, 'loss.npy'), encodeNpy(loss, [ROWS, COLS]));
  writeFileSync(join(dir, 'pos.npy'), encodeNpy(pos, [ROWS, COLS], { bool: true }));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('docs/job-arrays.md, run locally', () => {
  it('Kubernetes Indexed Job: N pods with JOB_COMPLETION_INDEX, then hnm merge, equal the whole run', async () => {
    const command = kubernetesCommand();
    expect(command).toContain('--shard "$JOB_COMPLETION_INDEX/$SHARDS"');
    const runs = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        sh(command, { JOB_COMPLETION_INDEX: String(i), SHARDS: String(N) }),
      ),
    );
    for (const r of runs) expect(r).toEqual({ code: 0, stderr: '' });
    // Shard I holds rows floor(I*B/N) .. floor((I+1)*B/N).
    for (let i = 0; i < N; i++) {
      const part = readFileSync(join(dir, `mask-${i}.npy`));
      const rows = Math.floor(((i + 1) * ROWS) / N) - Math.floor((i * ROWS) / N);
      expect(part.toString('latin1')).toContain(`'shape': (${rows}, ${COLS})`);
    }
    const merge = block('hnm merge --out "$DATA/mask.npy" "$DATA/mask-0.npy"').trim();
    const r = await sh(merge, {});
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'mask.npy'))).toEqual(await wholeRun());
  });

  it('Slurm array: the script once per SLURM_ARRAY_TASK_ID, then the merge, equal the whole run', async () => {
    rmSync(join(dir, 'mask.npy'), { force: true });
    for (let i = 0; i < N; i++) rmSync(join(dir, `mask-${i}.npy`), { force: true });
    const script = block('#SBATCH --array');
    expect(script).toContain('--shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"');
    const runs = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        sh(script, { SLURM_ARRAY_TASK_ID: String(i), SLURM_ARRAY_TASK_COUNT: String(N) }),
      ),
    );
    for (const r of runs) expect(r).toEqual({ code: 0, stderr: '' });
    // The --wrap command of the dependent job, as Slurm would run it.
    const wrap = /--wrap '([^']*)'/.exec(block('sbatch --dependency'))![1]!;
    const r = await sh(wrap, {});
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'mask.npy'))).toEqual(await wholeRun());
  });

  it('a missing part makes the merge fail (exit 1), leaving no merged file', async () => {
    rmSync(join(dir, 'mask.npy'), { force: true });
    rmSync(join(dir, 'mask-2.npy'), { force: true });
    const r = await sh(block('hnm merge --out "$DATA/mask.npy" "$DATA/mask-0.npy"').trim(), {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read .*mask-2\.npy: no such file or directory/);
    expect(() => readFileSync(join(dir, 'mask.npy'))).toThrow();
  });
});
