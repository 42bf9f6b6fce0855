import { rename, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { errorText } from '../validate.ts';
import type { Dist } from './data.ts';
import { DISTS } from './data.ts';
import type { BuiltinName, Implementation } from './implementations.ts';
import {
  BUILTINS,
  kernelImplementation,
  SEED_MAX_ELEMENTS,
  seedImplementation,
  sortScatterImplementation,
} from './implementations.ts';
import { machineInfo } from './machine.ts';
import { PLUGIN_TIMEOUT_MS, PluginLoadError, pluginImplementation, pluginName } from './plugin.ts';
import { poolImplementation, sharedLoss } from './pool.ts';
import type { BenchConfig } from './report.ts';
import { jsonReport, textReport } from './report.ts';
import { runSuite } from './run.ts';
import { svgChart } from './svg.ts';

/** Where the command writes; the process streams by default (tests pass their own). */
export interface BenchIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
}

const HELP = `Usage: hnm bench [options]

Times hard negative mask implementations on the same deterministic batches, after checking
each one against the exact mask. Built-ins: seed (the literal double sort), sort+scatter (one
sort plus the inverse permutation), kernel (the O(N) select, one thread) and pool@T (the kernel
through the worker pool at T threads; started and warmed before timing).

Options:
  --rows LIST        batch sizes in rows (default 1,32,256,1024)
  --cols N           elements per row (default 8732, SSD300's boxes)
  --dist NAME        exp: SSD-like exponential losses, k uniform in 0..600 (default)
                     ties: heavy exact ties (-0 and +0 mixed), k uniform in 0..600
                     worst: four tied levels with k = cols/2
  --threads LIST     pool thread counts (default 1..${os.availableParallelism()}, this machine's CPUs)
  --time MS          tinybench time budget per task (default 1000)
  --impl PATH        also time your module (repeatable): its default export is
                     (loss: Float32Array, cols: number, numNeg: Int32Array)
                       => Uint8Array | Promise<Uint8Array>
                     and its name in the results is the file's base name. It runs in a
                     worker thread of its own; a module that cannot be imported or exports
                     no function is a usage error (exit 2) before anything is timed. For a
                     .ts plug-in on Node 20: node --import tsx $(which hnm) bench --impl x.ts
  --impl-timeout S   seconds one call (or the import) of a plug-in may take before its
                     thread is terminated and it is reported as hung (default ${PLUGIN_TIMEOUT_MS / 1000})
  --builtin LIST     built-ins to run (default seed,sort+scatter,kernel,pool; "none" for none)
  --seed-limit N     time seed only on batches of at most N elements (default ${SEED_MAX_ELEMENTS}:
                     it costs 300-900 ns per element); larger sizes show speed-ups estimated
                     from its ns/element at the largest size it ran
  --data-seed N      seed of the data generator (default 1)
  --json             print one JSON object on stdout instead of the table: { machine, config,
                     oracle, results: [{ name, rows, cols, threads, median_ms,
                     ns_per_element, exact, error?, ... }], skipped, notes }
  --svg FILE         also write a chart: ns/element by batch size, and thread scaling
  --quiet            no progress display on stderr (shown only while stderr is a terminal)
  -h, --help         this text

Exit status: 0 when every implementation was exact, 1 when one was not (or failed: threw,
returned the wrong type or length, changed its input) or the chart could not be written,
2 on a usage error. A failing implementation never stops the run: a plug-in that throws,
returns anything but a mask, hangs or spins is reported as failed and the others still run.
`;

class UsageError extends Error {}

function parseList(text: string, option: string, min: number): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p)) || values.some((v) => !Number.isSafeInteger(v) || v < min)) {
    throw new UsageError(
      `\`${option}\` must be a comma-separated list of integers >= ${min}, got ${JSON.stringify(text)}`,
    );
  }
  return [...new Set(values)];
}

function parseInteger(text: string, option: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`\`${option}\` must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseSeconds(text: string, option: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 86_400) {
    throw new UsageError(
      `\`${option}\` must be a number of seconds in (0, 86400], got ${JSON.stringify(text)}`,
    );
  }
  return Math.max(1, Math.round(value * 1000));
}

function parseBuiltins(text: string): BuiltinName[] {
  if (text.trim() === 'none' || text.trim() === '') return [];
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(BUILTINS as readonly string[]).includes(name)) {
      throw new UsageError(
        `\`--builtin\` must list names among ${BUILTINS.join(', ')}, got ${JSON.stringify(name)}`,
      );
    }
  }
  return BUILTINS.filter((b) => names.includes(b));
}

interface Parsed {
  readonly help: boolean;
  readonly config: BenchConfig;
  readonly builtins: BuiltinName[];
  readonly impls: string[];
  readonly implTimeoutMs: number;
  readonly json: boolean;
  readonly svg: string | undefined;
  readonly quiet: boolean;
}

function parse(argv: string[]): Parsed {
  let values: ReturnType<typeof parseOptions>['values'];
  try {
    values = parseOptions(argv).values;
  } catch (error) {
    throw new UsageError(errorText(error));
  }
  const dist = values.dist ?? 'exp';
  if (!(DISTS as readonly string[]).includes(dist)) {
    throw new UsageError(`\`--dist\` must be one of ${DISTS.join(', ')}, got ${JSON.stringify(dist)}`);
  }
  const cpus = os.availableParallelism();
  const builtins = parseBuiltins(values.builtin ?? BUILTINS.join(','));
  const impls = values.impl ?? [];
  if (builtins.length === 0 && impls.length === 0) {
    throw new UsageError('nothing to time: `--builtin none` needs at least one `--impl PATH`');
  }
  const threads =
    values.threads === undefined
      ? Array.from({ length: cpus }, (_, i) => i + 1)
      : parseList(values.threads, '--threads', 1);
  const config: BenchConfig = {
    dist: dist as Dist,
    rows: parseList(values.rows ?? '1,32,256,1024', '--rows', 1),
    cols: parseInteger(values.cols ?? '8732', '--cols', 1),
    time_ms: parseInteger(values.time ?? '1000', '--time', 1),
    data_seed: parseInteger(values['data-seed'] ?? '1', '--data-seed', 0),
    threads,
    seed_max_elements: parseInteger(values['seed-limit'] ?? String(SEED_MAX_ELEMENTS), '--seed-limit', 0),
    implementations: [],
  };
  return {
    help: values.help ?? false,
    config,
    builtins,
    impls,
    implTimeoutMs: parseSeconds(values['impl-timeout'] ?? String(PLUGIN_TIMEOUT_MS / 1000), '--impl-timeout'),
    json: values.json ?? false,
    svg: values.svg,
    quiet: values.quiet ?? false,
  };
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      rows: { type: 'string' },
      cols: { type: 'string' },
      dist: { type: 'string' },
      threads: { type: 'string' },
      time: { type: 'string' },
      impl: { type: 'string', multiple: true },
      'impl-timeout': { type: 'string' },
      builtin: { type: 'string' },
      'seed-limit': { type: 'string' },
      'data-seed': { type: 'string' },
      json: { type: 'boolean' },
      svg: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Built-ins first, then plug-ins; a name already taken gets `#2`, `#3`, ... appended. */
function implementationsFor(parsed: Parsed): Implementation[] {
  const list: Implementation[] = [];
  const { config } = parsed;
  for (const name of parsed.builtins) {
    if (name === 'seed') list.push(seedImplementation(config.seed_max_elements));
    else if (name === 'sort+scatter') list.push(sortScatterImplementation());
    else if (name === 'kernel') list.push(kernelImplementation());
    else for (const t of config.threads) list.push(poolImplementation(t));
  }
  const taken = new Set(list.map((i) => i.name));
  for (const path of parsed.impls) {
    const base = pluginName(path);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}#${n}`;
    taken.add(name);
    list.push(pluginImplementation(path, name, parsed.implTimeoutMs));
  }
  return list;
}

/**
 * Imports every plug-in before anything is timed: a missing file, or a module that does not import
 * or exports no function, is a usage error (returned, and every plug-in closed). A plug-in whose
 * import hangs is not: it is reported as failed in the results, like one that hangs when called.
 */
async function loadPlugins(parsed: Parsed, implementations: Implementation[]): Promise<string | undefined> {
  const plugins = implementations.filter((impl) => !impl.builtin);
  for (const path of parsed.impls) {
    try {
      const info = await stat(path);
      if (!info.isFile()) return `${path} is not a file`;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? `${path}: no such file` : `${path}: ${errorText(error)}`;
    }
  }
  for (const impl of plugins) {
    try {
      await impl.setup?.(parsed.config.cols);
    } catch (error) {
      if (error instanceof PluginLoadError) {
        for (const p of plugins) await p.close?.().catch(() => {});
        return error.message;
      }
    }
  }
  return undefined;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/**
 * `hnm bench`: parses `argv` (the arguments after `bench`), runs the suite and prints the table
 * (or, with `--json`, exactly one JSON object and nothing else on stdout); writes the chart with
 * `--svg`. Resolves to the exit status (0 all exact, 1 an implementation was not exact or failed,
 * or the chart could not be written, 2 usage error); never rejects for a user error.
 */
export async function benchCommand(
  argv: string[],
  io: BenchIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`hnm bench: ${error.message}\nRun 'hnm bench --help' for usage.\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const implementations = implementationsFor(parsed);
  const loadError = await loadPlugins(parsed, implementations);
  if (loadError !== undefined) {
    io.stderr.write(`hnm bench: \`--impl\` ${loadError}\nRun 'hnm bench --help' for usage.\n`);
    return 2;
  }
  const config: BenchConfig = { ...parsed.config, implementations: implementations.map((i) => i.name) };
  const machine = machineInfo();
  const progress = !parsed.quiet && io.stderr.isTTY === true;
  const suite = await runSuite({
    rows: config.rows,
    cols: config.cols,
    dist: config.dist as Dist,
    timeMs: config.time_ms,
    dataSeed: config.data_seed,
    implementations,
    alloc: sharedLoss,
    ...(progress
      ? {
          onProgress: (done: number, total: number, label: string) =>
            io.stderr.write(`\r\x1b[K[${done}/${total}] ${label}`),
        }
      : {}),
  });
  if (progress) io.stderr.write('\r\x1b[K');
  if (parsed.json) io.stdout.write(`${JSON.stringify(jsonReport(machine, config, suite), null, 2)}\n`);
  else io.stdout.write(textReport(machine, config, suite));
  let status = 0;
  const bad = suite.results.filter((r) => !r.exact);
  if (bad.length > 0) {
    const names = [...new Set(bad.map((r) => r.name))].join(', ');
    io.stderr.write(`hnm bench: not exact or failed: ${names} (see the report)\n`);
    status = 1;
  }
  if (parsed.svg !== undefined) {
    try {
      await writeAtomically(parsed.svg, svgChart(suite.results, config, machine, suite.skipped));
      if (!parsed.quiet) io.stderr.write(`hnm bench: wrote ${parsed.svg}\n`);
    } catch (error) {
      io.stderr.write(`hnm bench: cannot write ${parsed.svg}: ${errorText(error)}\n`);
      status = 1;
    }
  }
  return status;
}
