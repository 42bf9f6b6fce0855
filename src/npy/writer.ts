import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lstat, open, readdir, readlink, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { encodeHeader } from './header.ts';

/**
 * Temporary files of writers not yet committed or aborted, for {@link removeTempFilesSync}: a signal
 * or exit handler can remove them even while async work is pending.
 */
const pending = new Set<string>();

/**
 * Removes the temporary file of every open {@link NpyWriter}, synchronously (safe in `exit` and
 * signal handlers). Cost: one `unlink` per open writer.
 */
export function removeTempFilesSync(): void {
  for (const path of pending) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  pending.clear();
}

/**
 * The path a write to `file` must land on: `file` itself, or, when it is a symbolic link, the final
 * target of its chain of links (which may not exist yet), so the link survives and the data lands
 * where it points. Cost: one `lstat` (and `readlink`) per link.
 * @throws an `ELOOP` error for a chain of more than 40 links.
 */
export async function finalTarget(file: string): Promise<string> {
  let path = resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    const info = await lstat(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (info === undefined || !info.isSymbolicLink()) return path;
    path = resolve(dirname(path), await readlink(path));
  }
  throw Object.assign(new Error(`${file}: too many levels of symbolic links`), { code: 'ELOOP' });
}

const TEMP_NAME = /^\.(.+)\.(\d+)-[0-9a-f]{8}\.tmp$/;

/** The hidden temporary name of a write to `target` by this process. */
function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** Whether process `pid` is alive on this machine (`EPERM`: alive, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files a killed writer (SIGKILL, power loss) left for `target`: hidden
 * `.NAME.PID-XXXXXXXX.tmp` files next to it whose PID is no longer alive. Only files of this target
 * name are touched, so concurrent jobs writing other files into a shared folder (from other
 * machines, whose PIDs mean nothing here) are never disturbed. Errors are ignored: cleanup is best
 * effort. Cost: one `readdir` of the folder.
 */
export async function removeStaleTempFiles(target: string): Promise<string[]> {
  const folder = dirname(target);
  const name = basename(target);
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const m = TEMP_NAME.exec(entry);
    if (m === null || m[1] !== name || alive(Number(m[2]))) continue;
    try {
      await unlink(join(folder, entry));
      removed.push(join(folder, entry));
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/**
 * Writes a C-order `.npy` array of known shape piece by piece, at any offsets, into a temporary file
 * in the target's folder (so the final rename stays on one filesystem and is atomic), and only
 * {@link NpyWriter.commit} makes it appear under the target name. {@link NpyWriter.abort}, a failure
 * in `commit`, or {@link removeTempFilesSync} removes it, so the target is never half-written.
 * The file is sized up front (sparse until written); memory use is O(1). A symbolic link is written
 * through: the temporary file goes next to the link's final target and is renamed onto it.
 * Streams (pipes, devices, stdout) are `output.ts`'s job: {@link NpyWriter.create} refuses them.
 */
export class NpyWriter {
  /** Written at offsets into a temporary file, renamed into place (see `NpyOutput.kind`). */
  readonly kind = 'file';
  /** The path as the caller named it (used in messages). */
  readonly file: string;
  /** Where the data lands: `file`, or the final target of the link `file` is. */
  readonly target: string;
  /** The temporary path data goes to until `commit`. */
  readonly tempFile: string;
  /** Byte offset of the data section (a multiple of 64). */
  readonly dataOffset: number;
  /** Bytes the data section must hold. */
  readonly dataBytes: number;
  readonly #fh: FileHandle;
  #written = 0;
  #done = false;

  private constructor(
    file: string,
    target: string,
    tempFile: string,
    fh: FileHandle,
    dataOffset: number,
    dataBytes: number,
  ) {
    this.file = file;
    this.target = target;
    this.tempFile = tempFile;
    this.#fh = fh;
    this.dataOffset = dataOffset;
    this.dataBytes = dataBytes;
  }

  /**
   * Creates the temporary file next to `file` (or next to the final target of the link `file` is),
   * writes numpy's header for `descr` and `shape` (see {@link encodeHeader}) and sizes the file.
   * Removes stale temporary files of the same target left by killed writers first.
   * @param itemSize bytes per element of `descr`.
   * @throws the `fs` error (with its `code`) when the folder is not writable, `EISDIR` when the
   *   target is a folder and `ESPIPE` when it is a pipe, device or socket (those are streamed, not
   *   renamed over: see `openNpyOutput`); nothing is left behind.
   */
  static async create(
    file: string,
    descr: string,
    shape: readonly number[],
    itemSize: number,
  ): Promise<NpyWriter> {
    const target = await finalTarget(file);
    const info = await lstat(target).catch(() => undefined);
    if (info?.isDirectory()) throw Object.assign(new Error(`${file}: is a folder`), { code: 'EISDIR' });
    if (info !== undefined && !info.isFile()) {
      throw Object.assign(new Error(`${file}: a pipe, device or socket cannot be replaced by a file`), {
        code: 'ESPIPE',
      });
    }
    await removeStaleTempFiles(target);
    const tempFile = tempNameFor(target);
    const header = encodeHeader(descr, shape);
    const dataBytes = shape.reduce((a, b) => a * b, 1) * itemSize;
    const fh = await open(tempFile, 'wx', 0o666);
    pending.add(tempFile);
    const writer = new NpyWriter(file, target, tempFile, fh, header.length, dataBytes);
    try {
      await writeFully(fh, header, 0);
      await fh.truncate(header.length + dataBytes);
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return writer;
  }

  /**
   * Writes `bytes` at `byteOffset` of the data section. Writes of one writer must not overlap in
   * time. The caller writes every byte exactly once; `commit` checks the total.
   */
  async write(bytes: Uint8Array, byteOffset: number): Promise<void> {
    if (this.#done) throw new Error(`${this.file}: write after commit or abort`);
    if (byteOffset < 0 || byteOffset + bytes.length > this.dataBytes) {
      throw new RangeError(
        `write of ${bytes.length} bytes at ${byteOffset} is outside the ${this.dataBytes}-byte data`,
      );
    }
    await writeFully(this.#fh, bytes, this.dataOffset + byteOffset);
    this.#written += bytes.length;
  }

  /**
   * Flushes the data to disk and renames the temporary file to the target (replacing it; a link
   * `file` stays a link to it). On
   * failure the temporary file is removed and the error rethrown.
   */
  async commit(): Promise<void> {
    if (this.#done) throw new Error(`${this.file}: commit after commit or abort`);
    try {
      if (this.#written !== this.dataBytes) {
        throw new Error(`${this.file}: ${this.#written} of ${this.dataBytes} data bytes written`);
      }
      await this.#fh.datasync();
      await this.#fh.close();
      this.#done = true;
      await rename(this.tempFile, this.target);
      pending.delete(this.tempFile);
    } catch (e) {
      this.#done = false;
      await this.abort();
      throw e;
    }
  }

  /** Closes and removes the temporary file; the target is untouched. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#fh.close();
    } catch {
      // already closed
    }
    try {
      await unlink(this.tempFile);
    } catch {
      // already gone
    }
    pending.delete(this.tempFile);
  }
}

async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(bytes.length - done, 1 << 30);
    const { bytesWritten } = await fh.write(bytes, done, length, position + done);
    done += bytesWritten;
  }
}
