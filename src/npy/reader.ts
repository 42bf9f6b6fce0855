import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { byteswap, float64ToFloat32, integersToCounts } from './convert.ts';
import { dtypeName } from './dtype.ts';
import { NpyFormatError } from './errors.ts';
import type { NpyHeader } from './header.ts';
import { headerEnd, PREFIX_BYTES, parseHeader } from './header.ts';

/**
 * A `.npy` file opened for streaming: the header is read and validated against the file size on
 * {@link NpyReader.open}, then any run of elements can be read by position, converted into the
 * caller's buffer. Memory: one staging buffer, grown to the largest read that needs conversion
 * (float64 or big-endian data), reused afterwards. Reads of one reader must not overlap in time.
 */
export class NpyReader {
  /** The path as the caller named it (used in messages). */
  readonly file: string;
  readonly header: NpyHeader;
  readonly #fh: FileHandle;
  #staging = new Uint8Array(0);

  private constructor(file: string, fh: FileHandle, header: NpyHeader) {
    this.file = file;
    this.#fh = fh;
    this.header = header;
  }

  /**
   * Opens `file` and validates its header. Cost: one `stat` and two small reads.
   * @throws {NpyFormatError} for a malformed header (the file is closed again).
   * @throws the `fs` error (with its `code`) when the file cannot be opened or read.
   */
  static async open(file: string): Promise<NpyReader> {
    const fh = await open(file, 'r');
    try {
      const stat = await fh.stat();
      if (!stat.isFile()) throw new NpyFormatError(file, 'file', 'not a regular file');
      const size = stat.size;
      const prefix = new Uint8Array(Math.min(size, PREFIX_BYTES));
      await readFully(fh, prefix, 0);
      const end = headerEnd(prefix, size, file);
      const bytes = new Uint8Array(end);
      await readFully(fh, bytes, 0);
      return new NpyReader(file, fh, parseHeader(bytes, size, file));
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Copies elements `start .. start + count - 1` as stored (no byte swap) into `dst`. */
  async readRaw(start: number, count: number, dst: Uint8Array): Promise<void> {
    const size = this.header.dtype.size;
    if (start < 0 || count < 0 || start + count > this.header.length) {
      throw new RangeError(
        `elements ${start}..${start + count} are outside ${this.file} (${this.header.length})`,
      );
    }
    if (dst.length < count * size) throw new RangeError('`dst` is too small');
    await readFully(this.#fh, dst.subarray(0, count * size), this.header.dataOffset + start * size);
  }

  /**
   * Reads `count` elements from `start` as float32 into `dst` (which may live in a
   * `SharedArrayBuffer`): `<f4` straight into `dst`, `>f4` swapped in place, `<f8`/`>f8` through the
   * staging buffer and rounded to the nearest float32 (as `np.float32(x)` does).
   * @throws {NpyFormatError} naming `descr` for any other dtype.
   */
  async readFloat32(start: number, count: number, dst: Float32Array): Promise<void> {
    const { kind, size, bigEndian } = this.header.dtype;
    if (kind === 'f' && size === 4) {
      const bytes = new Uint8Array(dst.buffer, dst.byteOffset, count * 4);
      await this.readRaw(start, count, bytes);
      if (bigEndian) byteswap(bytes, 4);
      return;
    }
    if (kind === 'f' && size === 8) {
      const raw = this.#stage(count * 8);
      await this.readRaw(start, count, raw);
      if (bigEndian) byteswap(raw, 8);
      float64ToFloat32(raw, count, dst);
      return;
    }
    throw this.dtypeError('float32 or float64');
  }

  /**
   * Reads `count` integer elements from `start` into `dst` as counts clamped to `0 .. cap`; any
   * integer dtype, either byte order. Returns -1, or the element index (from `start`) of the first
   * negative value.
   * @throws {NpyFormatError} naming `descr` for a non-integer dtype.
   */
  async readCounts(start: number, count: number, dst: Int32Array, cap: number): Promise<number> {
    const { kind, size, bigEndian } = this.header.dtype;
    if (kind !== 'i' && kind !== 'u') throw this.dtypeError('an integer type');
    const raw = this.#stage(count * size);
    await this.readRaw(start, count, raw);
    if (bigEndian) byteswap(raw, size);
    return integersToCounts(raw, kind, size, count, dst, cap);
  }

  /** The error for a dtype this read does not accept, naming the file, `descr` and what is expected. */
  dtypeError(expected: string): NpyFormatError {
    return new NpyFormatError(
      this.file,
      'descr',
      `header field 'descr' is ${dtypeName(this.header.dtype)}; expected ${expected}`,
    );
  }

  /** Closes the file; safe to call twice. */
  async close(): Promise<void> {
    try {
      await this.#fh.close();
    } catch {
      // already closed
    }
  }

  #stage(bytes: number): Uint8Array {
    // Whole multiples of 8 keep every typed view of the staging buffer aligned.
    if (this.#staging.length < bytes) this.#staging = new Uint8Array(Math.ceil(bytes / 8) * 8);
    return this.#staging.subarray(0, bytes);
  }
}

/** `read` until `dst` is full: one call may return fewer bytes (large reads, pipes, some filesystems). */
async function readFully(fh: FileHandle, dst: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    // One read call is limited to 2 GiB - 1; stay well below.
    const length = Math.min(dst.length - done, 1 << 30);
    const { bytesRead } = await fh.read(dst, done, length, position + done);
    if (bytesRead === 0) {
      throw Object.assign(new Error(`unexpected end of file at byte ${position + done}`), { code: 'EOF' });
    }
    done += bytesRead;
  }
}
