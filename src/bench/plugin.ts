import { createRequire } from 'node:module';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errorText } from '../validate.ts';
import type { Implementation } from './implementations.ts';
import { ReportedFailure } from './implementations.ts';
import type { PluginCall, PluginReply } from './plugin-protocol.ts';

/** Name of a plug-in in the results: its file name without the extension (`my-topk.mjs` → `my-topk`). */
export function pluginName(path: string): string {
  const base = basename(path);
  return basename(base, extname(base)) || base;
}

/** Default of `--impl-timeout`: how long one call (or the import) of a plug-in may take, in ms. */
export const PLUGIN_TIMEOUT_MS = 60_000;

/**
 * A plug-in module that cannot be used at all (it does not import, or exports no function): a usage
 * error of `hnm bench`, reported before anything is timed.
 */
export class PluginLoadError extends Error {}

const fromSource = import.meta.url.endsWith('.ts');

/**
 * The worker: compiled, `plugin-worker.js` next to this module. From TypeScript sources (vitest,
 * tsx) the worker must load `plugin-worker.ts`, and on Node 20 the hooks of `--import tsx` do not
 * reach a worker's modules, so a one-line bootstrap loads it through tsx's `tsImport` (tsx is a
 * devDependency; its CommonJS entry of that API is broken, hence the `.mjs`).
 */
function workerSource(): { entry: string | URL; eval: boolean } {
  if (!fromSource) return { entry: new URL('./plugin-worker.js', import.meta.url), eval: false };
  const entry = new URL('./plugin-worker.ts', import.meta.url).href;
  const api = createRequire(import.meta.url)
    .resolve('tsx/esm/api')
    .replace(/\.cjs$/, '.mjs');
  const code = `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`;
  return { entry: code, eval: true };
}

interface Pending {
  readonly resolve: (reply: PluginReply) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * A user's implementation from `--impl PATH`, run in a worker thread of its own, so nothing it does
 * can stop the run: a call (or the import) that takes longer than `timeoutMs` is reported as hung
 * and its thread terminated (a synchronous loop included, and the process still answers signals);
 * a thread that dies is reported; whatever it returns or throws becomes a report line. Later calls
 * after a termination fail at once with the reason.
 *
 * The batch is shared with the worker when it lives in a `SharedArrayBuffer` (as `hnm bench`
 * allocates it) and copied in and back otherwise, so a plug-in that writes to its input is still
 * caught. Each call costs a message round trip and one copy of the result on top of the plug-in's
 * own work (stated in the report's notes). Its result is never trusted: the harness checks it
 * against the exact mask on every batch before timing.
 */
export function pluginImplementation(
  path: string,
  name = pluginName(path),
  timeoutMs = PLUGIN_TIMEOUT_MS,
): Implementation {
  let worker: Worker | undefined;
  let loading: Promise<void> | undefined;
  let broken: string | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let onLoad: { resolve: () => void; reject: (error: Error) => void } | undefined;
  let io: SharedArrayBuffer | undefined;
  const seconds = `${timeoutMs / 1000} s`;

  const fail = (reason: string, error: Error = new ReportedFailure(reason)) => {
    broken ??= reason;
    const w = worker;
    worker = undefined;
    if (w !== undefined) void w.terminate();
    onLoad?.reject(error);
    onLoad = undefined;
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(new ReportedFailure(reason));
    }
  };

  const start = (): Promise<void> => {
    const url = pathToFileURL(resolve(path)).href;
    const source = workerSource();
    const w = new Worker(source.entry, { eval: source.eval, workerData: { url }, stdout: true });
    worker = w;
    // Whatever the plug-in prints goes to stderr: stdout may be carrying the JSON report.
    w.stdout.pipe(process.stderr, { end: false });
    w.on('message', (reply: PluginReply) => {
      if (reply.type === 'loaded') {
        onLoad?.resolve();
        onLoad = undefined;
      } else if (reply.type === 'load-error') {
        fail(`${path}: ${reply.message}`, new PluginLoadError(`${path}: ${reply.message}`));
      } else {
        const p = pending.get(reply.id);
        if (p === undefined) return;
        pending.delete(reply.id);
        clearTimeout(p.timer);
        p.resolve(reply);
      }
    });
    w.on('error', (error) => fail(`its worker thread failed: ${errorText(error)}`));
    w.on('exit', (code) => {
      if (worker !== w) return;
      // 13: the thread's event loop emptied while its module was still being evaluated.
      if (onLoad !== undefined && code === 13) {
        fail('did not finish loading (its top-level await never settles); its worker thread exited');
      } else {
        fail(`its worker thread exited (code ${code})`);
      }
    });
    return new Promise<void>((resolveLoad, rejectLoad) => {
      const timer = setTimeout(
        () =>
          fail(
            `did not finish loading within ${seconds} (its top-level code never settled); its worker thread was terminated`,
          ),
        timeoutMs,
      );
      onLoad = {
        resolve: () => {
          clearTimeout(timer);
          resolveLoad();
        },
        reject: (error) => {
          clearTimeout(timer);
          rejectLoad(error);
        },
      };
    });
  };

  const run = async (loss: Float32Array, cols: number, numNeg: Int32Array): Promise<Uint8Array> => {
    if (broken !== undefined) throw new ReportedFailure(`not run: ${broken}`);
    if (worker === undefined) throw new ReportedFailure(`${path} is not loaded`);
    const n = loss.length;
    const rows = numNeg.length;
    const shared = loss.buffer instanceof SharedArrayBuffer;
    const countsAt = 0;
    const outAt = rows * 4;
    const lossAt = shared ? 0 : (outAt + n + 3) & ~3;
    const bytes = shared ? outAt + n : lossAt + n * 4;
    if (io === undefined || io.byteLength < bytes) io = new SharedArrayBuffer(bytes);
    const counts = new Int32Array(io, countsAt, rows);
    counts.set(numNeg);
    const staged = shared ? undefined : new Float32Array(io, lossAt, n);
    staged?.set(loss);
    const id = nextId++;
    const task: PluginCall = {
      id,
      loss: shared ? (loss.buffer as SharedArrayBuffer) : io,
      lossAt: shared ? loss.byteOffset : lossAt,
      io,
      countsAt,
      outAt,
      length: n,
      rows,
      cols,
    };
    const w = worker;
    const reply = await new Promise<PluginReply>((resolveCall, rejectCall) => {
      const timer = setTimeout(
        () =>
          fail(
            `did not return within ${seconds} (hung or spinning; set the limit with --impl-timeout); its worker thread was terminated`,
          ),
        timeoutMs,
      );
      pending.set(id, { resolve: resolveCall, reject: rejectCall, timer });
      w.postMessage(task);
    });
    // What the plug-in did to its input comes back, so the harness sees it.
    numNeg.set(counts);
    if (staged !== undefined) loss.set(staged);
    if (reply.type === 'threw') throw new Error(reply.message);
    if (reply.type === 'failed') throw new ReportedFailure(reply.message);
    return new Uint8Array(io, outAt, n);
  };

  return {
    name,
    threads: 1,
    builtin: false,
    maxElements: Number.POSITIVE_INFINITY,
    async: true,
    note: 'plug-ins run in a worker thread of their own: each timed call includes a message round trip and a copy of the result',
    setup: () => {
      if (broken !== undefined) return Promise.reject(new ReportedFailure(broken));
      loading ??= start();
      return loading;
    },
    run,
    close: async () => {
      const w = worker;
      worker = undefined;
      broken ??= 'closed';
      if (w !== undefined) await w.terminate();
    },
  };
}
