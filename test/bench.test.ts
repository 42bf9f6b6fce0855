import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { certifyMask, compareMask } from '../src/bench/check.ts';
import type { BenchIo } from '../src/bench/command.ts';
import { benchCommand } from '../src/bench/command.ts';
import { makeBatch, mulberry32 } from '../src/bench/data.ts';
import type { Implementation } from '../src/bench/implementations.ts';
import { kernelImplementation, sortScatterImplementation } from '../src/bench/implementations.ts';
import type { BenchResult } from '../src/bench/run.ts';
import { rankResults, runSuite } from '../src/bench/run.ts';
import { escapeXml } from '../src/bench/svg.ts';
import { hardNegativeMask } from '../src/mask.ts';
import { referenceMask } from '../src/reference.ts';

const plugins = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));
const plugin = (name: string) => join(plugins, `${name}.mjs`);
const temp = mkdtempSync(join(tmpdir(), 'hnm-bench-test-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Captures what the command writes. */
function capture(isTTY = false): BenchIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY },
    out: () => out,
    err: () => err,
  };
}

/** A few rows of a few columns and a tiny time budget: the tests check behaviour, not speed. */
const FAST = ['--rows', '1,3', '--cols', '64', '--time', '2', '--threads', '1,2'];

interface JsonReport {
  machine: Record<string, unknown>;
  config: Record<string, unknown>;
  oracle: string;
  results: (BenchResult & { error?: string })[];
  skipped: { name: string; rows: number; reason: string }[];
  notes: string[];
}

async function runJson(args: string[]): Promise<{ code: number; report: JsonReport; err: string }> {
  const io = capture();
  const code = await benchCommand([...FAST, '--json', ...args], io);
  // The whole of stdout must be one JSON object: nothing else may be printed there.
  const report = JSON.parse(io.out()) as JsonReport;
  return { code, report, err: io.err() };
}

/**
 * A strict little XML well-formedness check (no DTDs): one root element, tags nest and close,
 * attributes are quoted and unique, `&` only starts a known or numeric entity, `<` never appears in
 * text or attribute values. Returns the root element's name; throws on the first fault.
 */
function parseXml(xml: string): string {
  let i = 0;
  const stack: string[] = [];
  let root: string | undefined;
  const name = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at offset ${i}: ${why}`);
  };
  const checkText = (text: string) => {
    if (text.includes('<')) fail('"<" in text');
    for (const m of text.matchAll(/&/g)) {
      const rest = text.slice(m.index);
      if (!/^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/.test(rest)) fail('bad entity');
    }
  };
  const readName = () => {
    name.lastIndex = i;
    const m = name.exec(xml);
    if (m === null) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const skipSpace = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    i = end + 2;
  }
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root element');
    checkText(text);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('</', i)) {
      i += 2;
      const tag = readName();
      skipSpace();
      if (xml[i] !== '>') fail('expected ">"');
      i++;
      if (stack.pop() !== tag) fail(`unexpected </${tag}>`);
    } else {
      i++;
      const tag = readName();
      if (stack.length === 0) {
        if (root !== undefined) fail('a second root element');
        root = tag;
      }
      const seen = new Set<string>();
      for (;;) {
        skipSpace();
        if (xml.startsWith('/>', i)) {
          i += 2;
          break;
        }
        if (xml[i] === '>') {
          i++;
          stack.push(tag);
          break;
        }
        const attr = readName();
        if (seen.has(attr)) fail(`duplicate attribute ${attr}`);
        seen.add(attr);
        skipSpace();
        if (xml[i] !== '=') fail('expected "="');
        i++;
        skipSpace();
        const quote = xml[i];
        if (quote !== '"' && quote !== "'") fail('unquoted attribute');
        const end = xml.indexOf(quote!, i + 1);
        if (end < 0) fail('unterminated attribute');
        checkText(xml.slice(i + 1, end));
        i = end + 1;
      }
    }
  }
  if (stack.length > 0) fail(`unclosed <${stack[stack.length - 1]}>`);
  if (root === undefined) fail('no root element');
  return root!;
}

describe('the XML checker itself', () => {
  it('accepts well-formed documents and rejects broken ones', () => {
    expect(parseXml('<?xml version="1.0"?>\n<a x="1"><b/><c y=\'&amp;\'>t &lt; u</c></a>\n')).toBe('a');
    for (const bad of [
      '<a><b></a></b>',
      '<a x=1/>',
      '<a>&nbsp;</a>',
      '<a></a><b/>',
      '<a x="1" x="2"/>',
      '<a>',
    ]) {
      expect(() => parseXml(bad), bad).toThrow(/not well-formed/);
    }
  });
});

describe('data', () => {
  it('is deterministic and seeded', () => {
    const a = makeBatch('exp', 3, 100, 7);
    const b = makeBatch('exp', 3, 100, 7);
    const c = makeBatch('exp', 3, 100, 8);
    expect(a.loss).toEqual(b.loss);
    expect(a.numNeg).toEqual(b.numNeg);
    expect(a.loss).not.toEqual(c.loss);
    const r = mulberry32(1);
    const xs = Array.from({ length: 1000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('gives each distribution its shape', () => {
    const exp = makeBatch('exp', 4, 2000);
    expect(exp.loss.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
    expect([...exp.numNeg].every((k) => k >= 0 && k <= 600)).toBe(true);
    const ties = makeBatch('ties', 4, 2000);
    expect(new Set(ties.loss).size).toBeLessThanOrEqual(16);
    expect(ties.loss.some((x) => Object.is(x, -0))).toBe(true);
    expect(ties.loss.some((x) => Object.is(x, 0))).toBe(true);
    const worst = makeBatch('worst', 4, 2000);
    expect([...worst.numNeg]).toEqual([1000, 1000, 1000, 1000]);
    expect(new Set(worst.loss).size).toBeLessThanOrEqual(4);
    expect(makeBatch('exp', 50, 10).numNeg.every((k) => k <= 9)).toBe(true);
  });

  it('uses the storage it is given', () => {
    const batch = makeBatch('ties', 2, 8, 1, (r, c) => new Float32Array(new SharedArrayBuffer(r * c * 4)));
    expect(batch.loss.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});

describe('checks', () => {
  it('certifies exact masks and rejects any other', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('exp', 'ties', 'worst'),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer(),
        (dist, rows, cols, seed) => {
          const batch = makeBatch(dist as 'exp', rows, cols, seed);
          const mask = referenceMask(batch.loss, cols, batch.numNeg);
          expect(certifyMask(batch.loss, cols, batch.numNeg, mask)).toBe(-1);
          expect(hardNegativeMask(batch.loss, cols, batch.numNeg)).toEqual(mask);
          // Moving one selected element to an unselected place breaks it (unless all or none are selected).
          const r = Math.abs(seed) % rows;
          const row = mask.subarray(r * cols, (r + 1) * cols);
          const on = row.indexOf(1);
          const off = row.indexOf(0);
          if (on >= 0 && off >= 0) {
            const broken = mask.slice();
            broken[r * cols + on] = 0;
            broken[r * cols + off] = 1;
            expect(certifyMask(batch.loss, cols, batch.numNeg, broken)).toBe(r);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('breaks ties by index and lets -0 tie +0', () => {
    const loss = new Float32Array([0, -0, 0, 1]);
    const k = new Int32Array([2]);
    expect(certifyMask(loss, 4, k, new Uint8Array([1, 0, 0, 1]))).toBe(-1);
    expect(certifyMask(loss, 4, k, new Uint8Array([0, 1, 0, 1]))).toBe(0);
    expect(certifyMask(loss, 4, k, new Uint8Array([1, 0, 0, 0]))).toBe(0);
    expect(certifyMask(loss, 4, k, new Uint8Array([2, 0, 0, 1]))).toBe(0);
  });

  it('names what is wrong with a result', () => {
    const expected = new Uint8Array([1, 0, 0, 1, 0, 0]);
    expect(compareMask(expected.slice(), expected, 3)).toEqual({ ok: true });
    expect(compareMask(Buffer.from(expected), expected, 3)).toEqual({ ok: true });
    const wrong = compareMask(new Uint8Array([1, 0, 0, 0, 1, 1]), expected, 3);
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.reason).toMatch(/row 1, column 0 is 0, expected 1 \(3 of 6 elements differ\)/);
    const short = compareMask(new Uint8Array(5), expected, 3);
    expect(!short.ok && short.reason).toMatch(/returned 5 elements, expected 6/);
    for (const [value, words] of [
      [[1, 0, 0, 1, 0, 0], 'an array'],
      [new Int32Array(6), 'Int32Array'],
      [undefined, 'undefined'],
      [null, 'null'],
      ['mask', '"mask"'],
      [new Proxy(new Uint8Array(6), {}), 'a Proxy'],
      [Object.create(Uint8Array.prototype), "an object with Uint8Array's prototype (not a typed array)"],
    ] as const) {
      const check = compareMask(value, expected, 3);
      expect(!check.ok && check.reason).toBe(`returned ${words}, expected a Uint8Array`);
    }
  });
});

describe('ranking', () => {
  const result = (name: string, rows: number, ns: number | null, exact = true): BenchResult => ({
    name,
    rows,
    cols: 10,
    threads: 1,
    builtin: !name.startsWith('mine'),
    status: ns === null ? 'failed' : 'timed',
    exact,
    median_ms: ns === null ? null : (ns * rows * 10) / 1e6,
    mean_ms: null,
    p99_ms: null,
    rme_percent: null,
    samples: 5,
    ns_per_element: ns,
    speedup_vs_seed: null,
    speedup_estimated: false,
    best: false,
    floor_ns_per_element: null,
    x_floor: null,
  });

  it('never makes an inexact implementation the winner, and estimates the seed where it did not run', () => {
    const results = [
      result('seed', 1, 500),
      result('kernel', 1, 2),
      result('mine-fast-but-wrong', 1, 0.5, false),
      result('kernel', 64, 1),
      result('mine-fast-but-wrong', 64, 0.25, false),
      result('mine-throws', 64, null, false),
    ];
    rankResults(results);
    expect(results.filter((r) => r.best).map((r) => `${r.name}@${r.rows}`)).toEqual([
      'kernel@1',
      'kernel@64',
    ]);
    expect(results[1]!.speedup_vs_seed).toBe(250);
    expect(results[1]!.speedup_estimated).toBe(false);
    expect(results[3]!.speedup_vs_seed).toBe(500);
    expect(results[3]!.speedup_estimated).toBe(true);
    expect(results[5]!.speedup_vs_seed).toBeNull();
  });
});

describe('runSuite', () => {
  it('reports an implementation that never answers, and one whose setup fails, then goes on', async () => {
    const hangs: Implementation = {
      name: 'hangs',
      threads: 1,
      builtin: false,
      maxElements: Number.POSITIVE_INFINITY,
      run: () => new Promise(() => {}),
    };
    const broken: Implementation = {
      ...hangs,
      name: 'broken',
      setup: () => Promise.reject(new Error('no GPU')),
    };
    let closed = 0;
    const kernel = { ...kernelImplementation(), close: async () => void closed++ };
    const suite = await runSuite({
      rows: [2],
      cols: 16,
      dist: 'worst',
      timeMs: 1,
      dataSeed: 3,
      implementations: [hangs, broken, kernel],
      checkTimeoutMs: 20,
    });
    expect(suite.results.map((r) => [r.name, r.status, r.exact, r.error])).toEqual([
      ['hangs', 'failed', false, 'its promise did not settle within 0.02 s'],
      ['broken', 'failed', false, 'setup failed: no GPU'],
      ['kernel', 'timed', true, undefined],
    ]);
    expect(suite.oracle).toBe('kernel, certified');
    expect(closed).toBe(1);
  });

  it('times the floor pass on every batch and gives each result its distance to it', async () => {
    const suite = await runSuite({
      rows: [1, 64],
      cols: 8732,
      dist: 'exp',
      timeMs: 20,
      dataSeed: 1,
      implementations: [kernelImplementation(), sortScatterImplementation()],
    });
    for (const rows of [1, 64]) {
      const mine = suite.results.filter((r) => r.rows === rows);
      expect(mine).toHaveLength(2);
      const floor = mine[0]!.floor_ns_per_element!;
      // One SIMD pass reading 4 bytes and writing 1 per element: well under a few ns per element,
      // and the same figure on every row of the batch.
      expect(floor).toBeGreaterThan(0);
      expect(floor).toBeLessThan(20);
      for (const r of mine) {
        expect(r.floor_ns_per_element).toBe(floor);
        expect(r.x_floor).toBeCloseTo(r.ns_per_element! / floor, 9);
      }
      // No exact mask pass beats the floor by a margin (sort+scatter, with a rank pass, never does).
      expect(mine.find((r) => r.name === 'sort+scatter')!.x_floor!).toBeGreaterThan(1);
    }
    const off = await runSuite({
      rows: [1],
      cols: 16,
      dist: 'exp',
      timeMs: 1,
      dataSeed: 1,
      floor: false,
      implementations: [kernelImplementation()],
    });
    expect(off.results[0]).toMatchObject({ floor_ns_per_element: null, x_floor: null });
  });
});

describe('hnm bench', () => {
  it('prints help and rejects bad usage with status 2', async () => {
    const help = capture();
    expect(await benchCommand(['--help'], help)).toBe(0);
    expect(help.out()).toMatch(/Usage: hnm bench/);
    expect(help.out()).toMatch(/--impl PATH/);
    for (const [args, words] of [
      [['--rows', '0'], '`--rows` must be a comma-separated list of integers >= 1, got "0"'],
      [['--rows', '1,x'], '`--rows`'],
      [['--cols', '0'], '`--cols` must be an integer >= 1'],
      [['--cols=-3'], '`--cols` must be an integer >= 1'],
      [['--dist', 'uniform'], '`--dist` must be one of exp, ties, worst, got "uniform"'],
      [['--threads', '0'], '`--threads`'],
      [['--time', '1.5'], '`--time`'],
      [['--builtin', 'gpu'], '`--builtin` must list names among'],
      [['--builtin', 'none'], 'nothing to time'],
      [['--frobnicate'], "Unknown option '--frobnicate'"],
      [['extra'], 'extra'],
    ] as const) {
      const io = capture();
      expect(await benchCommand([...args], io), args.join(' ')).toBe(2);
      expect(io.err()).toContain(words);
      expect(io.err()).toMatch(/Run 'hnm bench --help'/);
      expect(io.out()).toBe('');
    }
  });

  // One full run (every built-in, the pool at 1 and 2 threads, a wrong and a throwing plug-in) feeds
  // the JSON and SVG tests: starting pool workers from TypeScript sources takes seconds.
  const svgFile = join(temp, 'bench.svg');
  const full = (() => {
    let cached: Promise<{ code: number; report: JsonReport; err: string }> | undefined;
    return () =>
      (cached ??= runJson([
        '--dist',
        'ties',
        '--svg',
        svgFile,
        '--impl',
        plugin('wrong'),
        '--impl',
        plugin('throws'),
      ]));
  })();

  it('prints one JSON object of the documented shape, with every built-in exact', async () => {
    const { code, report, err } = await full();
    expect(code).toBe(1);
    expect(err).toMatch(
      /^hnm bench: not exact or failed: wrong, throws \(see the report\)\nhnm bench: wrote /,
    );
    expect(Object.keys(report)).toEqual(['machine', 'config', 'oracle', 'results', 'skipped', 'notes']);
    expect(report.machine).toMatchObject({
      cpus: expect.any(Number),
      model: expect.any(String),
      node: process.version,
      platform: process.platform,
      arch: process.arch,
    });
    expect(report.config).toMatchObject({
      dist: 'ties',
      rows: [1, 3],
      cols: 64,
      time_ms: 2,
      threads: [1, 2],
    });
    const names = ['seed', 'sort+scatter', 'kernel', 'pool@1', 'pool@2', 'wrong', 'throws'];
    expect(report.config.implementations).toEqual(names);
    expect(report.results.map((r) => `${r.name}@${r.rows}`)).toEqual([
      ...names.map((n) => `${n}@1`),
      ...names.map((n) => `${n}@3`),
    ]);
    for (const r of report.results) {
      expect(r).toMatchObject({
        name: expect.any(String),
        rows: expect.any(Number),
        cols: 64,
        threads: expect.any(Number),
        exact: expect.any(Boolean),
      });
      expect(r).not.toHaveProperty('tinybench');
      if (r.name === 'throws') {
        expect(r).toMatchObject({ status: 'failed', exact: false, median_ms: null, ns_per_element: null });
        continue;
      }
      expect(r).toMatchObject({
        status: 'timed',
        median_ms: expect.any(Number),
        ns_per_element: expect.any(Number),
      });
      expect(r.exact).toBe(r.name !== 'wrong');
      expect(r.ns_per_element).toBeCloseTo((r.median_ms! * 1e6) / (r.rows * 64), 6);
      expect(r.speedup_vs_seed).toEqual(expect.any(Number));
      expect(r.floor_ns_per_element).toEqual(expect.any(Number));
      expect(r.x_floor).toBeCloseTo(r.ns_per_element! / r.floor_ns_per_element!, 9);
    }
    expect(report.results.find((r) => r.name === 'pool@2')!.threads).toBe(2);
    for (const rows of [1, 3]) {
      const best = report.results.filter((r) => r.rows === rows && r.best);
      expect(best).toHaveLength(1);
      expect(best[0]!.exact).toBe(true);
    }
    expect(report.skipped).toEqual([]);
    expect(report.notes).toEqual([
      expect.stringMatching(/^pool@T: the miner runs calls under \d+ elements/),
      expect.stringMatching(/^plug-ins run in a worker thread of their own/),
    ]);
  });

  it('catches a wrong plug-in, reports throwing or malformed ones, and carries on', async () => {
    const { code, report, err } = await runJson([
      '--dist',
      'ties',
      '--builtin',
      'kernel',
      ...['correct', 'wrong', 'throws', 'wrong-length', 'wrong-type', 'mutates'].flatMap((n) => [
        '--impl',
        plugin(n),
      ]),
    ]);
    expect(code).toBe(1);
    expect(err).toMatch(/not exact or failed: wrong, throws, wrong-length, wrong-type, mutates/);
    const at = (name: string, rows: number) =>
      report.results.find((r) => r.name === name && r.rows === rows)!;
    for (const rows of [1, 3]) {
      expect(at('kernel', rows)).toMatchObject({ exact: true, status: 'timed' });
      expect(at('correct', rows)).toMatchObject({ exact: true, status: 'timed', builtin: false });
      const wrong = at('wrong', rows);
      expect(wrong).toMatchObject({ exact: false, best: false });
      expect(wrong.error).toMatch(
        /^wrong mask: row \d+, column \d+ is 1, expected 0 \(\d+ of \d+ elements differ\)$/,
      );
      expect(at('throws', rows)).toMatchObject({
        exact: false,
        status: 'failed',
        median_ms: null,
        ns_per_element: null,
        error: 'threw: boom from the plug-in',
      });
      expect(at('wrong-length', rows).error).toBe(
        `returned ${rows * 64 - 1} elements, expected ${rows * 64} (rows * cols)`,
      );
      expect(at('wrong-type', rows).error).toBe('returned an array, expected a Uint8Array');
      expect(at('mutates', rows).error).toMatch(/changed its input/);
      for (const r of report.results.filter((x) => x.rows === rows && x.best)) expect(r.exact).toBe(true);
    }
    // The mutating plug-in ran before others on the same batch: they still saw the pristine data.
    expect(at('kernel', 3).exact && at('correct', 3).exact).toBe(true);
  });

  it('prints a readable table with ns/element, the speed-up over seed and what went wrong', async () => {
    const io = capture();
    const code = await benchCommand(
      [
        ...FAST,
        '--seed-limit',
        '100',
        '--builtin',
        'seed,kernel',
        '--impl',
        plugin('wrong'),
        '--impl',
        plugin('throws'),
        '--svg',
        join(temp, 'limited.svg'),
      ],
      io,
    );
    expect(code).toBe(1);
    const text = io.out();
    const svg = readFileSync(join(temp, 'limited.svg'), 'utf8');
    expect(parseXml(svg)).toBe('svg');
    expect(svg).toMatch(
      /seed not timed above 100 elements per batch; failed \(not drawn\): throws; generated /,
    );
    expect(text).toMatch(/Task name +Rows +Threads +Latency avg \(ns\) +Latency med \(ns\)/);
    expect(text).toMatch(/ns\/element +x floor +vs seed +Exact/);
    expect(text).toMatch(/^kernel \* +3 +1 .* [\d.,]+x +~[\d.,]+x +yes$/m);
    expect(text).toMatch(
      /x floor: ns\/element over the floor pass's on the same batch.*Floor ns\/element: 1 rows [\d.]+, 3 rows [\d.]+\./,
    );
    expect(text).toMatch(/^seed +1 +1 .* 1\.00x +yes$/m);
    expect(text).toMatch(/^kernel \* +3 +1 .* ~[\d.,]+x +yes$/m);
    expect(text).toMatch(/^wrong +1 .* NO$/m);
    expect(text).toMatch(/^throws +1 .* FAILED$/m);
    expect(text).toMatch(/- seed skipped at rows 3: not timed above 100 elements per batch\./);
    expect(text).toMatch(/~ speed-up from the seed's ns\/element/);
    expect(text).toMatch(/NOT EXACT wrong \(rows 1\), never counted as fastest: wrong mask: row 0/);
    expect(text).toMatch(/FAILED throws \(rows 3\): threw: boom from the plug-in/);
    expect(io.err()).not.toMatch(/\r/);
  });

  it('writes a well-formed, self-contained SVG chart', async () => {
    await full();
    const svg = readFileSync(svgFile, 'utf8');
    expect(parseXml(svg)).toBe('svg');
    expect(svg).toMatch(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).not.toMatch(/<script|href=|@import|url\(/);
    for (const name of ['seed', 'sort+scatter', 'kernel', 'pool@1', 'pool@2', 'wrong (NOT exact)']) {
      expect(svg).toContain(`>${escapeXml(name)}</text>`);
    }
    expect(svg).toContain('>memory floor (1 thread)</text>');
    expect(svg).toContain('thread scaling');
    expect(svg).toContain('>1 row</text>');
    expect(svg).toContain('>3 rows</text>');
    expect(svg).toContain('failed (not drawn): throws');
  });

  it('shows progress on stderr only while it is a terminal', async () => {
    const tty = capture(true);
    await benchCommand([...FAST, '--rows', '1', '--builtin', 'kernel'], tty);
    expect(tty.err()).toContain('[0/1] kernel, 1 x 64');
    const quiet = capture(true);
    await benchCommand([...FAST, '--rows', '1', '--builtin', 'kernel', '--quiet'], quiet);
    expect(quiet.err()).toBe('');
    const pipe = capture(false);
    await benchCommand([...FAST, '--rows', '1', '--builtin', 'kernel'], pipe);
    expect(pipe.err()).toBe('');
  });

  it('reports a chart it cannot write', async () => {
    const io = capture();
    const code = await benchCommand(
      [...FAST, '--rows', '1', '--builtin', 'kernel', '--svg', join(temp, 'no', 'such', 'dir.svg')],
      io,
    );
    expect(code).toBe(1);
    expect(io.err()).toMatch(/cannot write .*dir\.svg/);
  });
});
