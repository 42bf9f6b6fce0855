import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Implementation, MaskFn } from './implementations.ts';

/** Name of a plug-in in the results: its file name without the extension (`my-topk.mjs` → `my-topk`). */
export function pluginName(path: string): string {
  const base = basename(path);
  return basename(base, extname(base)) || base;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Imports a plug-in module and returns its default export, which must be a function
 * `(loss: Float32Array, cols: number, numNeg: Int32Array) => Uint8Array | Promise<Uint8Array>`.
 * Rejects with a message naming the file when the module cannot be imported or exports no function.
 */
export async function importPlugin(path: string): Promise<MaskFn> {
  const absolute = resolve(path);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  } catch (error) {
    const hint =
      extname(absolute) === '.ts'
        ? ' (Node before 22.18 cannot import .ts: compile it to .js, or run under tsx)'
        : '';
    throw new Error(`cannot import ${path}: ${errorText(error)}${hint}`);
  }
  const fn = module.default;
  if (typeof fn !== 'function') {
    throw new TypeError(
      `${path} must default-export a function (loss, cols, numNeg) => Uint8Array, got ${fn === undefined ? 'no default export' : typeof fn}`,
    );
  }
  return fn as MaskFn;
}

/**
 * A user's implementation from `--impl PATH`. The module is imported in `setup`, so a plug-in that
 * fails to load is reported like any other failing implementation and the run goes on. Its result
 * is never trusted: the harness checks it against the exact mask on every batch before timing.
 */
export function pluginImplementation(path: string, name = pluginName(path)): Implementation {
  let fn: MaskFn | undefined;
  return {
    name,
    threads: 1,
    builtin: false,
    maxElements: Number.POSITIVE_INFINITY,
    setup: async () => {
      fn = await importPlugin(path);
    },
    run: (loss, cols, numNeg) => {
      if (fn === undefined) throw new Error(`${path} is not loaded`);
      return fn(loss, cols, numNeg);
    },
  };
}
