import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../src/bench/run.ts';
import type { HnmRun } from './support/hnm.ts';
import { ensureBuilt, hnm, MAIN, ROOT, STACK_TRACE } from './support/hnm.ts';

/**
 * `hnm bench` with hostile plug-ins (issue 16, item 2; issue 11's `--impl` usage errors), end to end
 * through the built bin in a child process with a timeout, so a regression that hangs the harness
 * fails these tests instead of hanging the suite.
 */

const plugins = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));
const plugin = (name: string) => join(plugins, `${name}.mjs`);
const FAST = ['--rows', '1,3', '--cols', '64', '--time', '2', '--builtin', 'kernel'];
let temp = '';

beforeAll(() => {
  ensureBuilt();
  temp = mkdtempSync(join(tmpdir(), 'hnm-bench-isolation-'));
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('hostile plug-ins are reported and the run finishes with every other result', () => {
  let run: Promise<HnmRun> | undefined;
  const hostile = () =>
    (run ??= hnm(
      [
        'bench',
        ...FAST,
        '--json',
        '--impl-timeout',
        '2',
        ...[
          'hangs-later',
          'spins',
          'never-loads',
          'spins-on-import',
          'returns-proxy',
          'constructor-getter',
          'throws-hostile',
          'exits',
          'correct',
        ].flatMap((n) => ['--impl', plugin(n)]),
      ],
      { timeoutMs: 90_000 },
    ));
  const results = async () => {
    const { code, signal, stdout, stderr } = await hostile();
    expect(signal, stderr).toBeNull();
    expect(code, stderr).toBe(1);
    expect(stderr).not.toMatch(STACK_TRACE);
    return (JSON.parse(stdout) as { results: BenchResult[] }).results;
  };
  const at = async (name: string, rows: number) =>
    (await results()).find((r) => r.name === name && r.rows === rows);

  it('the built-in and the correct plug-in are timed and exact on every size', async () => {
    for (const rows of [1, 3]) {
      expect(await at('kernel', rows)).toMatchObject({ status: 'timed', exact: true });
      expect(await at('correct', rows)).toMatchObject({ status: 'timed', exact: true });
    }
  });

  it('a plug-in that stops settling after its first call is reported as hung (it used to exit 13 with no output)', async () => {
    expect((await at('hangs-later', 1))?.error).toBe(
      'while being timed: did not return within 2 s (hung or spinning; set the limit with --impl-timeout); its worker thread was terminated',
    );
    expect((await at('hangs-later', 3))?.error).toMatch(/^not run: did not return within 2 s/);
  });

  it('a plug-in stuck in a synchronous loop is terminated and reported', async () => {
    expect((await at('spins', 1))?.error).toBe(
      'did not return within 2 s (hung or spinning; set the limit with --impl-timeout); its worker thread was terminated',
    );
    expect(await at('spins', 3)).toMatchObject({ status: 'failed', exact: false });
  });

  it('a module whose top-level await never settles is reported on every size', async () => {
    for (const rows of [1, 3]) {
      expect((await at('never-loads', rows))?.error).toBe(
        'setup failed: did not finish loading (its top-level await never settles); its worker thread exited',
      );
      expect((await at('spins-on-import', rows))?.error).toBe(
        'setup failed: did not finish loading within 2 s (its top-level code never settled); its worker thread was terminated',
      );
    }
  });

  it('odd return values and throws become failure lines, never an internal error', async () => {
    for (const rows of [1, 3]) {
      expect((await at('returns-proxy', rows))?.error).toBe('returned a Proxy, expected a Uint8Array');
      expect((await at('constructor-getter', rows))?.error).toBe(
        'returned Float64Array, expected a Uint8Array',
      );
      expect((await at('throws-hostile', rows))?.error).toBe('threw: object');
    }
    expect((await at('exits', 1))?.error).toBe('its worker thread exited (code 7)');
    expect((await at('exits', 3))?.error).toBe('not run: its worker thread exited (code 7)');
  });

  it('the text report shows them as FAILED lines', async () => {
    const { code, stdout, stderr } = await hnm(
      ['bench', ...FAST, '--impl-timeout', '1', '--impl', plugin('returns-proxy'), '--impl', plugin('spins')],
      { timeoutMs: 60_000 },
    );
    expect(code, stderr).toBe(1);
    expect(stdout).toContain('FAILED returns-proxy (rows 1): returned a Proxy, expected a Uint8Array');
    expect(stdout).toContain('FAILED spins (rows 1): did not return within 1 s');
    expect(stderr).not.toMatch(STACK_TRACE);
  });
});

describe('signals work while a plug-in spins (it needed SIGKILL after 358 s)', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('%s ends the run promptly', async (name, code) => {
    const child = spawn(
      process.execPath,
      [MAIN, 'bench', ...FAST, '--impl-timeout', '600', '--impl', plugin('spins')],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Give the plug-in time to load and start spinning (the loop starts with the first call).
    await new Promise((r) => setTimeout(r, 4000));
    const sent = Date.now();
    child.kill(name);
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>(
      (resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('close', (c, s) => {
          clearTimeout(timer);
          resolve({ code: c, signal: s, ms: Date.now() - sent });
        });
      },
    );
    expect(ended.signal).not.toBe('SIGKILL');
    expect(ended.code).toBe(code);
    expect(ended.ms).toBeLessThan(10_000);
  });
});

describe('--impl that cannot be used is a usage error before anything is timed (issue 11)', () => {
  it.each([
    ['a missing file', () => join(temp, 'missing.mjs'), /`--impl` .*missing\.mjs: no such file/],
    [
      'a module with a syntax error',
      () => {
        const path = join(temp, 'broken.mjs');
        writeFileSync(path, 'export default function (loss {\n');
        return path;
      },
      /`--impl` .*broken\.mjs: cannot import it: /,
    ],
    [
      'a module without a default export',
      () => plugin('no-default'),
      /`--impl` .*no-default\.mjs: it must default-export a function \(loss, cols, numNeg\) => Uint8Array, got no default export/,
    ],
    ['a directory', () => temp, /`--impl` .* is not a file/],
  ])('%s: exit 2, nothing on stdout', async (_what, make, message) => {
    const { code, stdout, stderr } = await hnm(['bench', ...FAST, '--json', '--impl', make()], {
      timeoutMs: 60_000,
    });
    expect(code, stderr).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/Run 'hnm bench --help'/);
    expect(stderr).not.toMatch(STACK_TRACE);
  });

  it('a bad --impl-timeout is a usage error', async () => {
    const { code, stderr } = await hnm(['bench', ...FAST, '--impl-timeout', '0'], { timeoutMs: 60_000 });
    expect(code).toBe(2);
    expect(stderr).toContain('`--impl-timeout` must be a number of seconds in (0, 86400], got "0"');
  });
});

describe('a .ts plug-in on Node 20', () => {
  it.each([
    ['plain node', []],
    ['node --import tsx', ['--import', 'tsx']],
  ])(
    'runs under %s (hnm loads it through tsx: Node 20 workers do not get --import hooks)',
    async (_how, flags) => {
      const path = join(temp, 'typed.ts');
      writeFileSync(
        path,
        [
          'export default function typed(loss: Float32Array, cols: number, numNeg: Int32Array): Uint8Array {',
          '  const out = new Uint8Array(loss.length);',
          '  for (let r = 0; r < numNeg.length; r++) {',
          '    const order = Array.from({ length: cols }, (_, i: number) => i);',
          '    order.sort((a, b) => loss[r * cols + b]! - loss[r * cols + a]! || a - b);',
          '    for (let j = 0; j < Math.min(numNeg[r]!, cols); j++) out[r * cols + order[j]!] = 1;',
          '  }',
          '  return out;',
          '}',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [...flags, MAIN, 'bench', ...FAST, '--json', '--impl', path], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('close', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code, stderr).toBe(0);
      const results = (JSON.parse(stdout) as { results: BenchResult[] }).results;
      expect(results.filter((r) => r.name === 'typed').map((r) => r.exact)).toEqual([true, true]);
    },
  );
});
