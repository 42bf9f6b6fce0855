import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
 * Writes a C-order `.npy` array of known shape piece by piece, at any offsets, into a temporary file
 * in the target's folder (so the final rename stays on one filesystem and is atomic), and only
 * {@link NpyWriter.commit} makes it appear under the target name. {@link NpyWriter.abort}, a failure
 * in `commit`, or {@link removeTempFilesSync} removes it, so the target is never half-written.
 * The file is sized up front (sparse until written); memory use is O(1).
 */
export class NpyWriter {
  /** The final path. */
  readonly file: string;
  /** The temporary path data goes to until `commit`. */
  readonly tempFile: string;
  /** Byte offset of the data section (a multiple of 64). */
  readonly dataOffset: number;
  /** Bytes the data section must hold. */
  readonly dataBytes: number;
  readonly #fh: FileHandle;
  #written = 0;
  #done = false;

  private constructor(file: string, tempFile: string, fh: FileHandle, dataOffset: number, dataBytes: number) {
    this.file = file;
    this.tempFile = tempFile;
    this.#fh = fh;
    this.dataOffset = dataOffset;
    this.dataBytes = dataBytes;
  }

  /**
   * Creates the temporary file next to `file`, writes numpy's header for `descr` and `shape` (see
   * {@link encodeHeader}) and sizes the file.
   * @param itemSize bytes per element of `descr`.
   * @throws the `fs` error (with its `code`) when the folder is not writable; nothing is left behind.
   */
  static async create(
    file: string,
    descr: string,
    shape: readonly number[],
    itemSize: number,
  ): Promise<NpyWriter> {
    const tempFile = join(
      dirname(file),
      `.${basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
    );
    const header = encodeHeader(descr, shape);
    const dataBytes = shape.reduce((a, b) => a * b, 1) * itemSize;
    const fh = await open(tempFile, 'wx', 0o666);
    pending.add(tempFile);
    const writer = new NpyWriter(file, tempFile, fh, header.length, dataBytes);
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
   * Flushes the data to disk and renames the temporary file to the target (replacing it). On
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
      await rename(this.tempFile, this.file);
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
