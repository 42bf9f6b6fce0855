import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Running the compiled `hnm` bin from tests. `npm test` builds before vitest; a test file run alone
 * rebuilds first when a source is newer than the bin (as test/cli.test.ts does).
 */
export const ROOT = join(import.meta.dirname, '..', '..');
export const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Rebuilds `dist` when the bin is missing or older than a source file. */
export function ensureBuilt(): void {
  const sources = Math.max(newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'workers')));
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= sources) return;
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
  } catch {
    // Type errors elsewhere still emit JavaScript; the tests tell whether the bin works.
  }
}

/** The result of one `hnm` run. */
export interface HnmRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as bytes (what `--out -` writes). */
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Runs `node dist/src/cli/main.js ...args` asynchronously (other tests' workers keep running) and
 * resolves when it exits; a run longer than `timeoutMs` is killed and reported as such (a hang).
 */
export function hnm(
  args: readonly string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    timeoutMs?: number;
    /** Bytes piped to stdin (then closed); without it stdin is /dev/null. */
    stdin?: Uint8Array;
  } = {},
): Promise<HnmRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.stdin !== undefined) {
      // hnm may stop reading early (an error): a closed pipe is not the test's failure.
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.stdin);
    }
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      chunks.push(d);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      stderr += `\n[test] hnm did not exit within ${options.timeoutMs ?? 60_000} ms: killed (a hang)`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(chunks);
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
    });
  });
}

/** A stack trace or an internal-error report in CLI output: a user error must never print one. */
export const STACK_TRACE = /internal error|\n\s+at |Error: .*\n\s+at /;
