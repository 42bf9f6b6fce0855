import type { MachineInfo } from './machine.ts';
import type { BenchConfig } from './report.ts';
import { formatNs } from './report.ts';
import type { BenchResult, Skipped } from './run.ts';

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const r1 = (x: number) => (Math.round(x * 10) / 10).toString();

/** Fixed colours for the built-ins, so charts of different runs read alike. */
const BUILTIN_COLOURS: Record<string, string> = {
  seed: '#d62728',
  'sort+scatter': '#ff7f0e',
  kernel: '#1f77b4',
};
const POOL_COLOURS = ['#2ca02c', '#17becf', '#006d2c', '#74c476', '#0b6e75', '#a1d99b'];
const OTHER_COLOURS = ['#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#7f7f7f', '#393b79'];
const SIZE_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

interface Series {
  readonly name: string;
  readonly colour: string;
  readonly dashed: boolean;
  readonly label: string;
  readonly points: { x: number; y: number }[];
}

/** A log10 axis spanning whole decades around `[lo, hi]`. */
function logAxis(lo: number, hi: number): { min: number; max: number } {
  let min = Math.floor(Math.log10(lo));
  let max = Math.ceil(Math.log10(hi));
  if (max === min) max = min + 1;
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  return { min, max };
}

function tickLabel(x: number): string {
  if (x >= 1) return x.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return String(Number(x.toPrecision(1)));
}

interface Box {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

function frame(box: Box): string {
  return `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" fill="none" stroke="#444" stroke-width="1"/>`;
}

function polyline(
  series: Series,
  px: (x: number) => number,
  py: (y: number) => number,
  tip: (p: { x: number; y: number }) => string,
): string {
  const pts = series.points.map((p) => `${r1(px(p.x))},${r1(py(p.y))}`);
  const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
  const parts = [];
  if (pts.length > 1) {
    parts.push(
      `<polyline points="${pts.join(' ')}" fill="none" stroke="${series.colour}" stroke-width="2"${dash}/>`,
    );
  }
  for (const p of series.points) {
    parts.push(
      `<circle cx="${r1(px(p.x))}" cy="${r1(py(p.y))}" r="3.5" fill="${series.colour}"><title>${escapeXml(`${series.name}: ${tip(p)}`)}</title></circle>`,
    );
  }
  return `<g>${parts.join('')}</g>`;
}

function legend(series: Series[], left: number, top: number): string {
  return series
    .map((s, i) => {
      const y = top + i * 20;
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      return (
        `<line x1="${left}" y1="${y}" x2="${left + 26}" y2="${y}" stroke="${s.colour}" stroke-width="2.5"${dash}/>` +
        `<circle cx="${left + 13}" cy="${y}" r="3.5" fill="${s.colour}"/>` +
        `<text x="${left + 34}" y="${y + 4}" font-size="13">${escapeXml(s.label)}</text>`
      );
    })
    .join('\n');
}

/** Panel 1: ns per element (log) against rows per batch (log), one line per implementation. */
function sizePanel(results: readonly BenchResult[], box: Box): string {
  const timed = results.filter((r) => r.ns_per_element !== null && r.ns_per_element > 0);
  const names = [...new Set(timed.map((r) => r.name))];
  let pool = 0;
  let other = 0;
  const series: Series[] = names.map((name) => {
    const mine = timed.filter((r) => r.name === name).sort((a, b) => a.rows - b.rows);
    const exact = mine.every((r) => r.exact);
    const colour = !exact
      ? '#999999'
      : (BUILTIN_COLOURS[name] ??
        (name.startsWith('pool@') && mine[0]!.builtin
          ? POOL_COLOURS[pool++ % POOL_COLOURS.length]!
          : OTHER_COLOURS[other++ % OTHER_COLOURS.length]!));
    return {
      name,
      colour,
      dashed: !exact,
      label: exact ? name : `${name} (NOT exact)`,
      points: mine.map((r) => ({ x: r.rows, y: r.ns_per_element! })),
    };
  });
  const parts: string[] = [frame(box)];
  parts.push(
    `<text x="${box.left + box.width / 2}" y="${box.top - 12}" text-anchor="middle" font-size="15" font-weight="bold">ns per element by batch size (log scale, lower is better)</text>`,
  );
  if (series.length === 0) {
    parts.push(
      `<text x="${box.left + box.width / 2}" y="${box.top + box.height / 2}" text-anchor="middle" font-size="14">no timed results</text>`,
    );
    return parts.join('\n');
  }
  // The floor pass on each batch (run.ts), so every line reads as a distance to what memory allows.
  const floors = new Map<number, number>();
  for (const r of results) if (r.floor_ns_per_element !== null) floors.set(r.rows, r.floor_ns_per_element);
  if (floors.size > 0) {
    series.push({
      name: 'floor',
      colour: '#000000',
      dashed: true,
      label: 'memory floor (1 thread)',
      points: [...floors.entries()].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y })),
    });
  }
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const rowsList = [...new Set(timed.map((r) => r.rows))].sort((a, b) => a - b);
  const yAxis = logAxis(Math.min(...ys), Math.max(...ys));
  const xLo = Math.log10(rowsList[0]!);
  const xHi = Math.log10(rowsList[rowsList.length - 1]!);
  const pad = 0.06 * box.width;
  const px = (x: number) =>
    xHi === xLo
      ? box.left + box.width / 2
      : box.left + pad + ((Math.log10(x) - xLo) / (xHi - xLo)) * (box.width - 2 * pad);
  const py = (y: number) =>
    box.top + box.height - ((Math.log10(y) - yAxis.min) / (yAxis.max - yAxis.min)) * box.height;
  for (let e = yAxis.min; e <= yAxis.max; e++) {
    for (const m of e < yAxis.max ? [1, 2, 5] : [1]) {
      const v = m * 10 ** e;
      const y = r1(py(v));
      const major = m === 1;
      parts.push(
        `<line x1="${box.left}" y1="${y}" x2="${box.left + box.width}" y2="${y}" stroke="${major ? '#ccc' : '#eee'}" stroke-width="1"/>`,
      );
      parts.push(
        `<text x="${box.left - 6}" y="${Number(y) + 4}" text-anchor="end" font-size="12" fill="${major ? '#000' : '#777'}">${tickLabel(v)}</text>`,
      );
    }
  }
  for (const rows of rowsList) {
    const x = r1(px(rows));
    parts.push(
      `<line x1="${x}" y1="${box.top}" x2="${x}" y2="${box.top + box.height}" stroke="#eee" stroke-width="1"/>`,
    );
    parts.push(
      `<text x="${x}" y="${box.top + box.height + 18}" text-anchor="middle" font-size="12">${rows}</text>`,
    );
  }
  parts.push(
    `<text x="${box.left + box.width / 2}" y="${box.top + box.height + 40}" text-anchor="middle" font-size="13">rows per batch</text>`,
  );
  parts.push(
    `<text transform="translate(${box.left - 52} ${box.top + box.height / 2}) rotate(-90)" text-anchor="middle" font-size="13">ns per element (median)</text>`,
  );
  for (const s of series) parts.push(polyline(s, px, py, (p) => `${p.x} rows, ${formatNs(p.y)} ns/element`));
  parts.push(legend(series, box.left + box.width + 18, box.top + 10));
  return parts.join('\n');
}

/**
 * Panel 2: the pool's speed-up over its 1-thread run, against threads, one line per batch size,
 * with the ideal (linear) scaling dashed.
 */
function threadPanel(results: readonly BenchResult[], box: Box): string {
  const pool = results.filter(
    (r) => r.builtin && r.name.startsWith('pool@') && r.exact && r.ns_per_element !== null,
  );
  const parts: string[] = [frame(box)];
  parts.push(
    `<text x="${box.left + box.width / 2}" y="${box.top - 12}" text-anchor="middle" font-size="15" font-weight="bold">thread scaling of the pool (speed-up over 1 thread)</text>`,
  );
  const threadsList = [...new Set(pool.map((r) => r.threads))].sort((a, b) => a - b);
  const rowsList = [...new Set(pool.map((r) => r.rows))].sort((a, b) => a - b);
  const series: Series[] = [];
  rowsList.forEach((rows, i) => {
    const one = pool.find((r) => r.rows === rows && r.threads === 1);
    if (one === undefined) return;
    const points = pool
      .filter((r) => r.rows === rows)
      .sort((a, b) => a.threads - b.threads)
      .map((r) => ({ x: r.threads, y: one.ns_per_element! / r.ns_per_element! }));
    series.push({
      name: `${rows} ${rows === 1 ? 'row' : 'rows'}`,
      colour: SIZE_COLOURS[i % SIZE_COLOURS.length]!,
      dashed: false,
      label: `${rows} ${rows === 1 ? 'row' : 'rows'}`,
      points,
    });
  });
  if (series.length === 0 || threadsList.length < 2) {
    parts.push(
      `<text x="${box.left + box.width / 2}" y="${box.top + box.height / 2}" text-anchor="middle" font-size="14">no exact pool results at 1 and 2+ threads</text>`,
    );
    return parts.join('\n');
  }
  const tMax = threadsList[threadsList.length - 1]!;
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const yMax = Math.max(tMax, ...ys) * 1.1;
  const pad = 0.06 * box.width;
  const px = (t: number) => box.left + pad + ((t - 1) / (tMax - 1)) * (box.width - 2 * pad);
  const py = (y: number) => box.top + box.height - (y / yMax) * box.height;
  const step = yMax > 12 ? Math.ceil(yMax / 8) : yMax > 4 ? 1 : 0.5;
  for (let v = 0; v <= yMax; v += step) {
    const y = r1(py(v));
    parts.push(
      `<line x1="${box.left}" y1="${y}" x2="${box.left + box.width}" y2="${y}" stroke="#ddd" stroke-width="1"/>`,
    );
    parts.push(
      `<text x="${box.left - 6}" y="${Number(y) + 4}" text-anchor="end" font-size="12">${v}x</text>`,
    );
  }
  for (const t of threadsList) {
    parts.push(
      `<text x="${r1(px(t))}" y="${box.top + box.height + 18}" text-anchor="middle" font-size="12">${t}</text>`,
    );
  }
  parts.push(
    `<line x1="${r1(px(1))}" y1="${r1(py(1))}" x2="${r1(px(tMax))}" y2="${r1(py(tMax))}" stroke="#888" stroke-width="1.5" stroke-dasharray="4 4"/>`,
  );
  parts.push(
    `<text x="${box.left + box.width / 2}" y="${box.top + box.height + 40}" text-anchor="middle" font-size="13">worker threads</text>`,
  );
  for (const s of series) parts.push(polyline(s, px, py, (p) => `${p.x} threads, ${p.y.toFixed(2)}x`));
  const legendSeries: Series[] = [
    ...series,
    { name: 'ideal', colour: '#888', dashed: true, label: 'ideal (linear)', points: [] },
  ];
  parts.push(legend(legendSeries, box.left + 16, box.top + 20));
  return parts.join('\n');
}

/**
 * The benchmark chart as a self-contained SVG document (no scripts, fonts or external references;
 * opens in any browser): ns per element by batch size on log scales, one line per implementation
 * (one that is not exact is grey and dashed), and the pool's thread scaling as a second panel.
 */
export function svgChart(
  results: readonly BenchResult[],
  config: BenchConfig,
  machine: MachineInfo,
  skipped: readonly Skipped[] = [],
): string {
  const width = 1280;
  const height = 560;
  const sizeBox: Box = { left: 80, top: 90, width: 500, height: 360 };
  const threadBox: Box = { left: 860, top: 90, width: 380, height: 360 };
  const failures = results.filter((r) => r.status === 'failed');
  const failedNames = [...new Set(failures.map((r) => r.name))];
  const title = `hnm bench: hard negative masks, dist ${config.dist}, ${config.cols} columns`;
  const subtitle = `${machine.model}, ${machine.cpus} CPUs, Node ${machine.node}, load ${machine.loadavg[0]} at start, ${config.time_ms} ms per task; every point checked exact before timing`;
  const notes: string[] = [];
  for (const name of new Set(skipped.map((s) => s.name))) {
    const reason = skipped.find((s) => s.name === name)!.reason.replace(/ \(.*\)$/, '');
    notes.push(`${name} ${reason}`);
  }
  if (failedNames.length > 0) notes.push(`failed (not drawn): ${failedNames.join(', ')}`);
  notes.push(`generated ${machine.date}`);
  const footer = notes.join('; ');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${width / 2}" y="50" text-anchor="middle" font-size="13" fill="#444">${escapeXml(subtitle)}</text>`,
    sizePanel(results, sizeBox),
    threadPanel(results, threadBox),
    `<text x="${width / 2}" y="${height - 14}" text-anchor="middle" font-size="12" fill="#666">${escapeXml(footer)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
