/**
 * The worker thread a `hnm bench --impl` plug-in runs in (see plugin.ts). It imports the module,
 * then answers one call at a time: the batch and the counts arrive in shared memory, the plug-in's
 * result is checked here (by brand, running none of its code) and copied into the shared result
 * area. Whatever the plug-in returns or throws becomes a message with the words of the report line;
 * nothing it does can throw out of this file. A plug-in that never returns is the host's business:
 * it terminates this thread.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { byteView, describe, errorText } from '../validate.ts';
import type { PluginCall, PluginReply } from './plugin-protocol.ts';

type MaskFn = (loss: Float32Array, cols: number, numNeg: Int32Array) => unknown;

const port = parentPort;
if (port === null) throw new Error('plugin-worker.ts runs only as a worker thread');

function post(reply: PluginReply): void {
  port!.postMessage(reply);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}

/**
 * Node 20 cannot import TypeScript, and the hooks `node --import tsx` registers do not reach worker
 * threads there, so a `.ts` plug-in is loaded through tsx's own API (`tsImport`) when Node refuses
 * it: the tsx installed next to hnm, or else in the plug-in's project. Node >= 22.18 strips types
 * itself and never gets here.
 */
async function importTypeScript(url: string, refused: unknown): Promise<{ default?: unknown }> {
  const candidates = [() => import('tsx/esm/api')];
  try {
    const cjs = createRequire(fileURLToPath(url)).resolve('tsx/esm/api');
    candidates.push(() => import(pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href));
  } catch {
    // No tsx in the plug-in's project.
  }
  for (const candidate of candidates) {
    let api: { tsImport?: unknown };
    try {
      api = (await candidate()) as { tsImport?: unknown };
    } catch {
      continue;
    }
    if (typeof api.tsImport !== 'function') continue;
    const module = (await api.tsImport(url, import.meta.url)) as { default?: unknown };
    // A file that tsx compiles as CommonJS (no "type": "module" above it) nests its ES exports.
    const inner = module.default as { default?: unknown } | undefined;
    if (typeof module.default !== 'function' && typeof inner?.default === 'function') return inner;
    return module;
  }
  throw new Error(
    `${errorText(refused)} (Node ${process.versions.node} cannot import TypeScript: install tsx next to the plug-in, or compile it to .js)`,
  );
}

async function load(url: string): Promise<MaskFn | undefined> {
  let module: { default?: unknown };
  try {
    try {
      module = (await import(url)) as { default?: unknown };
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[cm]?ts$/.test(url))
        throw error;
      module = await importTypeScript(url, error);
    }
  } catch (error) {
    post({ type: 'load-error', message: `cannot import it: ${errorText(error)}` });
    return undefined;
  }
  let fn: unknown;
  try {
    fn = module.default;
  } catch (error) {
    post({ type: 'load-error', message: `reading its default export threw: ${errorText(error)}` });
    return undefined;
  }
  if (typeof fn !== 'function') {
    const got = fn === undefined ? 'no default export' : describe(fn);
    post({
      type: 'load-error',
      message: `it must default-export a function (loss, cols, numNeg) => Uint8Array, got ${got}`,
    });
    return undefined;
  }
  return fn as MaskFn;
}

async function call(fn: MaskFn, task: PluginCall): Promise<PluginReply> {
  const loss = new Float32Array(task.loss, task.lossAt, task.length);
  const numNeg = new Int32Array(task.io, task.countsAt, task.rows);
  let result: unknown;
  try {
    result = fn(loss, task.cols, numNeg);
    if (isThenable(result)) result = await result;
  } catch (error) {
    return { type: 'threw', id: task.id, message: errorText(error) };
  }
  const bytes = byteView(result, 'Uint8Array');
  if (bytes === undefined) {
    return { type: 'failed', id: task.id, message: `returned ${describe(result)}, expected a Uint8Array` };
  }
  if (bytes.length !== task.length) {
    return {
      type: 'failed',
      id: task.id,
      message: `returned ${bytes.length} elements, expected ${task.length} (rows * cols)`,
    };
  }
  new Uint8Array(task.io, task.outAt, task.length).set(bytes);
  return { type: 'done', id: task.id };
}

const fn = await load((workerData as { url: string }).url);
if (fn !== undefined) {
  port.on('message', (task: PluginCall) => {
    call(fn, task).then(post, (error: unknown) =>
      post({ type: 'threw', id: task.id, message: errorText(error) }),
    );
  });
  post({ type: 'loaded' });
}
