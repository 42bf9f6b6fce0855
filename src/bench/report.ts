import type { MachineInfo } from './machine.ts';
import type { BenchResult, Skipped, SuiteResult } from './run.ts';

/** The run's settings, as echoed in the report and the JSON. */
export interface BenchConfig {
  readonly dist: string;
  readonly rows: readonly number[];
  readonly cols: number;
  readonly time_ms: number;
  readonly data_seed: number;
  readonly threads: readonly number[];
  readonly seed_max_elements: number;
  readonly implementations: readonly string[];
}

/** One JSON result: {@link BenchResult} without tinybench's formatted strings. */
export type JsonResult = Omit<BenchResult, 'tinybench'>;

/** The object `hnm bench --json` prints. */
export interface BenchReport {
  readonly machine: MachineInfo;
  readonly config: BenchConfig;
  /** Where each batch's exact mask came from. */
  readonly oracle: string;
  readonly results: JsonResult[];
  readonly skipped: Skipped[];
  readonly notes: string[];
}

/** Builds the `--json` object (plain data: numbers, strings, booleans, null). */
export function jsonReport(machine: MachineInfo, config: BenchConfig, suite: SuiteResult): BenchReport {
  const results = suite.results.map((r) => {
    const { tinybench: _tinybench, ...rest } = r;
    return rest;
  });
  return { machine, config, oracle: suite.oracle, results, skipped: suite.skipped, notes: suite.notes };
}

function fixed(x: number, digits: number): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** ns per element with three significant digits. */
export function formatNs(ns: number): string {
  return ns >= 100 ? fixed(ns, 0) : ns >= 10 ? fixed(ns, 1) : ns >= 1 ? fixed(ns, 2) : fixed(ns, 3);
}

function formatSpeedup(r: BenchResult): string {
  if (r.speedup_vs_seed === null) return '-';
  const x = r.speedup_vs_seed;
  return `${r.speedup_estimated ? '~' : ''}${x >= 100 ? fixed(x, 0) : x >= 10 ? fixed(x, 1) : fixed(x, 2)}x`;
}

/** Columns of tinybench's own table that the report keeps (throughput avg is 1 / latency avg). */
const TINYBENCH_COLUMNS = ['Latency avg (ns)', 'Latency med (ns)', 'Throughput med (ops/s)', 'Samples'];

const HEADER = [
  'Task name',
  'Rows',
  'Threads',
  ...TINYBENCH_COLUMNS,
  'ns/element',
  'x floor',
  'vs seed',
  'Exact',
];

/** The distance to the 1-thread floor pass on the same batch (`-` where it was not timed). */
function formatFloor(r: BenchResult): string {
  return r.x_floor === null ? '-' : `${fixed(r.x_floor, r.x_floor >= 100 ? 0 : 1)}x`;
}

/** Right-aligned except the first column; two spaces between columns. */
function renderTable(header: string[], body: (string[] | null)[]): string {
  const widths = header.map((h, c) =>
    Math.max(h.length, ...body.map((row) => (row === null ? 0 : (row[c] ?? '').length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map((row) => (row === null ? rule : line(row)))].join('\n');
}

function tableRow(r: BenchResult): string[] {
  const name = `${r.name}${r.best ? ' *' : ''}`;
  if (r.status === 'failed') {
    return [
      name,
      String(r.rows),
      String(r.threads),
      ...TINYBENCH_COLUMNS.map(() => '-'),
      '-',
      '-',
      '-',
      'FAILED',
    ];
  }
  const tb = r.tinybench ?? {};
  return [
    name,
    String(r.rows),
    String(r.threads),
    ...TINYBENCH_COLUMNS.map((c) => String(tb[c] ?? '-')),
    r.ns_per_element === null ? '-' : formatNs(r.ns_per_element),
    formatFloor(r),
    formatSpeedup(r),
    r.exact ? 'yes' : 'NO',
  ];
}

/**
 * The human-readable report: a header naming the machine and the settings, one table block per batch
 * size (tinybench's columns plus ns per element, speed-up over `seed` and exactness), then notes on
 * what was skipped, estimated, not exact or failed.
 */
export function textReport(machine: MachineInfo, config: BenchConfig, suite: SuiteResult): string {
  const out: string[] = [];
  out.push(
    `hnm bench: dist ${config.dist}, cols ${config.cols}, rows ${config.rows.join(',')}, ${config.time_ms} ms per task, data seed ${config.data_seed}`,
  );
  out.push(
    `machine: ${machine.model}, ${machine.cpus} CPUs, Node ${machine.node}, ${machine.platform}-${machine.arch}, load ${machine.loadavg.join(' ')}`,
  );
  out.push(`exact mask of each batch: ${suite.oracle}; every implementation is checked against it first`);
  out.push('');
  const body: (string[] | null)[] = [];
  let previous: number | undefined;
  for (const r of suite.results) {
    if (previous !== undefined && r.rows !== previous) body.push(null);
    previous = r.rows;
    body.push(tableRow(r));
  }
  out.push(renderTable(HEADER, body));
  out.push('');
  out.push('* fastest exact implementation for its batch size. Times are per call (the whole batch).');
  const floors = [...new Map(suite.results.map((r) => [r.rows, r.floor_ns_per_element])).entries()];
  if (floors.some(([, ns]) => ns !== null)) {
    const list = floors.map(([rows, ns]) => `${rows} rows ${ns === null ? '-' : formatNs(ns)}`);
    out.push(
      `x floor: ns/element over the floor pass's on the same batch, timed in this run on 1 thread (one wasm SIMD pass reading the batch and writing a byte per element; a pool's figure is against the 1-thread floor too). Floor ns/element: ${list.join(', ')}.`,
    );
  }
  if (suite.skipped.length > 0) {
    const names = [...new Set(suite.skipped.map((s) => s.name))];
    for (const name of names) {
      const rows = suite.skipped.filter((s) => s.name === name).map((s) => s.rows);
      const reason = suite.skipped.find((s) => s.name === name)!.reason.replace(/ \(.*\)$/, '');
      out.push(`- ${name} skipped at rows ${rows.join(', ')}: ${reason}.`);
    }
  }
  for (const note of suite.notes) out.push(`- ${note}.`);
  if (suite.results.some((r) => r.speedup_estimated)) {
    out.push(
      "~ speed-up from the seed's ns/element at the largest batch it was timed on (its cost per element does not depend on the row count).",
    );
  }
  for (const r of suite.results) {
    if (r.status === 'failed') out.push(`FAILED ${r.name} (rows ${r.rows}): ${r.error ?? 'unknown error'}`);
    else if (!r.exact)
      out.push(`NOT EXACT ${r.name} (rows ${r.rows}), never counted as fastest: ${r.error ?? ''}`);
  }
  return `${out.join('\n')}\n`;
}
