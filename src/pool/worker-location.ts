/**
 * Where the pool's worker entry lives, and how to start it.
 *
 * By default it sits next to the coordinator's own module: `dist/workers/mine-worker.js` from the
 * compiled `dist/src/pool/…`, or `workers/mine-worker.ts` when this module runs from source (vitest,
 * tsx). A `.ts` entry is started with tsx's loader (a devDependency); Node 20 cannot load
 * TypeScript itself. A bundled application gives the location with the miner's `workerUrl` option,
 * since a bundler moves this module but not the worker file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A worker entry and the `execArgv` its threads need. */
export interface WorkerLocation {
  /** A `file:` URL. */
  readonly filename: string;
  readonly execArgv: string[] | undefined;
}

function locate(url: URL): WorkerLocation {
  if (!url.pathname.endsWith('.ts')) return { filename: url.href, execArgv: undefined };
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return { filename: url.href, execArgv: ['--import', pathToFileURL(tsx).href] };
}

/**
 * The package's worker entry `workers/NAME` (mine-worker by default; nms-worker and targets-worker
 * serve the SSD front end's own pools): `.js` next to the compiled modules, `.ts` through tsx when
 * running from source (see the file comment).
 */
export function defaultWorker(name = 'mine-worker'): WorkerLocation {
  const fromSource = import.meta.url.endsWith('.ts');
  return locate(new URL(`../../workers/${name}.${fromSource ? 'ts' : 'js'}`, import.meta.url));
}

/**
 * The entry named by the `workerUrl` option: a `URL` or a string holding a `file:` URL or an
 * absolute path, naming an existing file (the compiled `mine-worker.js`, or a wrapper of it).
 * @throws {TypeError} not a string or URL. @throws {RangeError} not a file, or no such file.
 */
export function workerAt(value: unknown): WorkerLocation {
  let url: URL;
  if (value instanceof URL) url = value;
  else if (typeof value === 'string') {
    if (value.startsWith('file:')) url = new URL(value);
    else if (value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value)) url = pathToFileURL(value);
    else
      throw new RangeError(
        `\`workerUrl\` must be a file: URL or an absolute path, got ${JSON.stringify(value)}`,
      );
  } else {
    throw new TypeError(
      `\`workerUrl\` must be a URL or a string, got ${value === null ? 'null' : typeof value}`,
    );
  }
  if (url.protocol !== 'file:') throw new RangeError(`\`workerUrl\` must be a file: URL, got ${url.href}`);
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new RangeError(`\`workerUrl\` names no file: ${path}`);
  return locate(url);
}
