import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { HardNegativeMiner } from '../src/index.ts';

/**
 * `hard-negative-mining/core` runs anywhere: its import graph holds no Node module, and a browser
 * bundle of it computes exact masks in a bare `node:vm` context (no `require`, no `process`). And the
 * pool survives bundling: a Node app bundled with esbuild, shipping the worker file beside its bundle
 * and naming it with `workerUrl`, mines end to end.
 */

const ROOT = join(import.meta.dirname, '..');
const CORE = join(ROOT, 'src', 'core.ts');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hnm-bundle-'));
  dirs.push(dir);
  return dir;
}

describe('the core entry', () => {
  it('imports no Node module anywhere in its import graph', async () => {
    // Bundled for Node with a metafile: every import of every module in the graph is listed, Node
    // built-ins included (they stay external there).
    const result = await build({
      entryPoints: [CORE],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((file) => file.endsWith('src/mask.ts'))).toBe(true);
    expect(inputs.some((file) => file.endsWith('src/npy/codec.ts'))).toBe(true);
    const builtins = new Set(builtinModules);
    const nodeImports = Object.entries(result.metafile.inputs).flatMap(([file, input]) =>
      input.imports
        .filter((i) => i.path.startsWith('node:') || builtins.has(i.path) || i.external)
        .map((i) => `${file} -> ${i.path}`),
    );
    expect(nodeImports).toEqual([]);
    // Nor does it pull in the pool, the file I/O or the CLI.
    expect(
      inputs.filter((file) => /src\/(pool|cli|bench)\/|npy\/(reader|writer|small)\.ts/.test(file)),
    ).toEqual([]);
  });

  it('bundled for the browser, runs in a bare vm context: masks equal referenceMask, .npy round-trips', async () => {
    const result = await build({
      entryPoints: [CORE],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'hnm',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    // Nothing but the language's own globals (WebAssembly included), plus TextDecoder, a web
    // platform API every browser has, which parseNpy uses for the header.
    const context = createContext({ TextDecoder });
    runInContext(code, context);
    const report = runInContext(
      `(() => {
        const cols = 1000, rows = 6;
        let seed = 7;
        const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
        const loss = new Float32Array(rows * cols);
        for (let i = 0; i < loss.length; i++) loss[i] = random() < 0.2 ? Math.floor(random() * 3) : -Math.log(1 - random());
        const counts = [0, 1, 37, 500, 999, 1005];
        const mask = hnm.hardNegativeMask(loss, cols, counts);
        const reference = hnm.referenceMask(loss, cols, counts);
        let diff = 0;
        for (let i = 0; i < mask.length; i++) if (mask[i] !== reference[i]) diff++;
        const rank = hnm.rankDescending(loss, cols);
        const refRank = hnm.referenceRank(loss, cols);
        let rankDiff = 0;
        for (let i = 0; i < rank.length; i++) if (rank[i] !== refRank[i]) rankDiff++;
        const npy = hnm.parseNpy(hnm.encodeNpy(mask, [rows, cols], { bool: true }));
        let npyDiff = 0;
        for (let i = 0; i < mask.length; i++) if (npy.data[i] !== mask[i]) npyDiff++;
        const positives = new Uint8Array(loss.length).map((_, i) => (i % 97 === 0 ? 1 : 0));
        const ssd = hnm.ssdNegatives({ loss, positives, cols, preset: 'mmdet' });
        const refSsd = hnm.referenceSsdNegatives({ loss, positives, cols, preset: 'mmdet' });
        let ssdDiff = 0;
        for (let i = 0; i < mask.length; i++) if (ssd.negatives[i] !== refSsd[i]) ssdDiff++;
        return JSON.stringify({
          diff, rankDiff, npyDiff, ssdDiff, marked: mask.reduce((a, b) => a + b, 0),
          shape: npy.shape, dtype: npy.dtype.descr ?? null,
          require: typeof require, process: typeof process, wasm: typeof WebAssembly,
        });
      })()`,
      context,
    ) as string;
    const r = JSON.parse(report) as Record<string, unknown>;
    expect(r).toMatchObject({ diff: 0, rankDiff: 0, npyDiff: 0, ssdDiff: 0, shape: [6, 1000] });
    expect(r.marked).toBe(0 + 1 + 37 + 500 + 999 + 1000);
    expect(r).toMatchObject({ require: 'undefined', process: 'undefined', wasm: 'object' });
  });
});

describe('a Node app bundled with esbuild, the worker file shipped beside it', () => {
  it('mines through the pool with `workerUrl`; the result equals the sync mask', async () => {
    const dir = tempDir();
    const app = join(dir, 'app.ts');
    writeFileSync(
      app,
      `import { HardNegativeMiner, allocLoss, hardNegativeMask, ssdNegatives } from ${JSON.stringify(join(ROOT, 'src', 'index.ts'))};
const cols = 8732, rows = 40;
const loss = allocLoss(rows, cols);
for (let i = 0; i < loss.length; i++) loss[i] = ((i * 2654435761) % 1000003) / 1000003;
const counts = Array.from({ length: rows }, (_, r) => (r * 37) % 700);
const miner = new HardNegativeMiner({ threads: 2, inlineBelow: 0, workerUrl: new URL('./mine-worker.mjs', import.meta.url) });
const mask = await miner.mask(loss, cols, counts);
const expected = hardNegativeMask(loss, cols, counts);
const positives = new Uint8Array(loss.length).map((_, i) => (i % 101 === 0 ? 1 : 0));
const pooled = await miner.ssdNegatives({ loss, positives, cols, preset: 'mmdet' });
const sync = ssdNegatives({ loss, positives, cols, preset: 'mmdet' });
let diff = 0;
for (let i = 0; i < mask.length; i++) if (mask[i] !== expected[i] || pooled.negatives[i] !== sync.negatives[i]) diff++;
console.log(JSON.stringify({ diff, marked: mask.reduce((a, b) => a + b, 0), threads: miner.threads }));
await miner.close();
`,
    );
    // Piscina stays external: it starts threads from its own worker file, next to its own module.
    const common = { bundle: true, platform: 'node', format: 'esm', logLevel: 'silent' } as const;
    await build({ ...common, entryPoints: [app], outfile: join(dir, 'app.mjs'), external: ['piscina'] });
    await build({
      ...common,
      entryPoints: [join(ROOT, 'workers', 'mine-worker.ts')],
      outfile: join(dir, 'mine-worker.mjs'),
    });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    // Plain node: no tsx, no source tree; the bundle is all there is.
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'app.mjs')], {
      cwd: dir,
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim()) as { diff: number; marked: number; threads: number };
    expect(result.diff).toBe(0);
    expect(result.marked).toBeGreaterThan(0);
    expect(result.threads).toBe(2);
  });

  it('`workerUrl` is validated when the miner is constructed, the message naming the option', () => {
    expect(() => new HardNegativeMiner({ workerUrl: 'workers/mine-worker.js' })).toThrow(
      new RangeError('`workerUrl` must be a file: URL or an absolute path, got "workers/mine-worker.js"'),
    );
    expect(() => new HardNegativeMiner({ workerUrl: 42 as unknown as string })).toThrow(
      new TypeError('`workerUrl` must be a URL or a string, got number'),
    );
    expect(() => new HardNegativeMiner({ workerUrl: 'https://example.com/w.js' })).toThrow(
      new RangeError('`workerUrl` must be a file: URL or an absolute path, got "https://example.com/w.js"'),
    );
    const missing = join(tmpdir(), 'hnm-no-such-worker.js');
    expect(() => new HardNegativeMiner({ workerUrl: missing })).toThrow(
      new RangeError(`\`workerUrl\` names no file: ${missing}`),
    );
    expect(() => new HardNegativeMiner({ workerUrl: pathToFileURL(missing) })).toThrow(
      /`workerUrl` names no file/,
    );
    expect(
      new HardNegativeMiner({ workerUrl: join(ROOT, 'workers', 'mine-worker.ts') }).threads,
    ).toBeGreaterThan(0);
  });
});
