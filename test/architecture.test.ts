import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The module structure: no import circles in `src/` and `workers/`, the pool layer knows nothing of
 * the SSD front end, the CLI or TensorFlow.js, and the main entry never reaches `@tensorflow`.
 * The graph comes from esbuild's metafile (every source file an entry point, bundled so imports are
 * resolved, packages left external), so it is the graph the bundlers and Node actually follow.
 */

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(ROOT, dir, file));
}

/** file (relative to the root) -> the files and packages it imports (static and dynamic). */
type Graph = Map<string, string[]>;

async function importGraph(entryPoints: string[]): Promise<Graph> {
  const result = await build({
    entryPoints,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    outdir: join(ROOT, 'out-not-written'),
    metafile: true,
    logLevel: 'silent',
  });
  const graph: Graph = new Map();
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    graph.set(
      relative(ROOT, join(ROOT, file)),
      input.imports.map((i) => (i.external ? i.path : relative(ROOT, join(ROOT, i.path)))),
    );
  }
  return graph;
}

/** Every circle, each as the path of files from its first file back to it (depth-first search). */
function circles(graph: Graph): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      const seen = state.get(next);
      if (seen === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return found;
}

/** Everything reachable from `entry`, files and packages. */
function reach(graph: Graph, entry: string): Set<string> {
  const seen = new Set<string>([entry]);
  const todo = [entry];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    for (const next of graph.get(file) ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      todo.push(next);
    }
  }
  return seen;
}

describe('the import graph of src/ and workers/', () => {
  let graph: Graph;
  beforeAll(async () => {
    graph = await importGraph([...sources('src'), ...sources('workers')]);
  }, 60_000);

  it('covers every source file', () => {
    expect(graph.has('src/index.ts')).toBe(true);
    expect(graph.has('src/pool/miner.ts')).toBe(true);
    expect(graph.has('workers/mine-worker.ts')).toBe(true);
    expect(graph.size).toBeGreaterThanOrEqual(sources('src').length + sources('workers').length);
  });

  it('has no import circles', () => {
    expect(circles(graph).map((path) => path.join(' -> '))).toEqual([]);
  });

  it('finds a circle when there is one (the search itself is tested)', () => {
    const toy: Graph = new Map([
      ['a.ts', ['b.ts', 'pkg']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(circles(toy)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('src/pool/ imports nothing from src/ssd/, src/cli/ or src/tfjs/', () => {
    const wrong = [...graph]
      .filter(([file]) => file.startsWith('src/pool/'))
      .flatMap(([file, imports]) =>
        imports.filter((i) => /^src\/(ssd|cli|tfjs)\//.test(i)).map((i) => `${file} -> ${i}`),
      );
    expect(wrong).toEqual([]);
  });

  it('the main entry (src/index.ts) and the core entry never reach @tensorflow', () => {
    for (const entry of ['src/index.ts', 'src/core.ts']) {
      const reached = [...reach(graph, entry)];
      expect(reached).toContain('src/mask.ts');
      expect(reached.filter((i) => i.startsWith('@tensorflow') || i.startsWith('src/tfjs/'))).toEqual([]);
    }
    // While the tfjs entry does (so the check above can fail).
    expect([...reach(graph, 'src/tfjs/index.ts')].some((i) => i.startsWith('@tensorflow/'))).toBe(true);
  });
});
