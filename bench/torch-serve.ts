/**
 * PyTorch in a child process for the benchmarks: bench/pytorch_compare.py in serve mode over the same
 * batch's bytes (needs Debian's python3-torch and python3-numpy; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
 * are unset for the child only).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** PyTorch in a child process (bench/pytorch_compare.py --serve) over the same batch's bytes. */
export class Torch {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #dir: string;

  constructor(loss: Float32Array, numNeg: Int32Array, cols: number, threads: number, clock: 'cpu' | 'wall') {
    this.#dir = mkdtempSync(join(tmpdir(), 'hnm-torch-'));
    writeFileSync(join(this.#dir, 'loss.f32'), loss);
    writeFileSync(join(this.#dir, 'num_neg.i32'), numNeg);
    const script = fileURLToPath(new URL('../../bench/pytorch_compare.py', import.meta.url));
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    this.#child = spawn(
      '/usr/bin/python3',
      [
        script,
        '--serve',
        this.#dir,
        '--rows',
        `${numNeg.length}`,
        '--cols',
        `${cols}`,
        '--threads',
        `${threads}`,
        '--clock',
        clock,
      ],
      { env },
    );
    this.#child.stderr.pipe(process.stderr);
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async #ask(line: string): Promise<string> {
    this.#child.stdin.write(`${line}\n`);
    const next = await this.#lines.next();
    if (next.done) throw new Error('pytorch_compare.py exited');
    return next.value;
  }

  async ready(): Promise<string> {
    const next = await this.#lines.next();
    if (next.done) throw new Error('pytorch_compare.py exited (is python3-torch installed?)');
    return next.value;
  }

  /** Milliseconds of one call, as timed by the child on the same kind of clock (no pipe round trip). */
  async time(name: 'double_sort' | 'topk'): Promise<number> {
    return Number(await this.#ask(name));
  }

  async mask(): Promise<Uint8Array> {
    await this.#ask('check');
    return new Uint8Array(readFileSync(join(this.#dir, 'mask.u8')));
  }

  close(): void {
    this.#child.stdin.end();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
