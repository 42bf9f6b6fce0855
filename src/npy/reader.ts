import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { byteswap, float64ToFloat32, integersToCounts } from './convert.ts';
import { NpyFormatError } from './errors.ts';
import { dtypeError } from './expect.ts';
import type { NpyHeader } from './header.ts';
import { headerEnd, PREFIX_BYTES, parseHeader } from './header.ts';
import type { ByteSource } from './source.ts';
import { fdSource, fifoSource, fileSource, streamSource } from './source.ts';

/** The name that reads standard input. */
export const STDIN = '-';

/**
 * The error of a stream that ended before the data the header promised: `code` `'EOF'`, and
 * `element`, the index of the first element that did not arrive (callers turn it into a row).
 */
export interface EndOfDataError extends Error {
  readonly code: 'EOF';
  readonly element: number;
}

/**
 * A `.npy` file opened for streaming: the header is read and validated against the file size on
 * {@link NpyReader.open}, then any run of elements can be read by position, converted into the
 * caller's buffer. A pipe, FIFO, character device or stdin (`'-'`) is read front to back instead:
 * reads must go forward (skipped elements are read and discarded), and data that ends early is an
 * {@link EndOfDataError}. Memory: one staging buffer, grown to the largest read that needs conversion
 * (float64 or big-endian data), reused afterwards. Reads of one reader must not overlap in time.
 */
export class NpyReader {
  /** The path as the caller named it (used in messages). */
  readonly file: string;
  readonly header: NpyHeader;
  /** False for a pipe, FIFO, character device or stdin: reads must go front to back. */
  readonly seekable: boolean;
  readonly #source: ByteSource;
  #staging = new Uint8Array(0);

  private constructor(file: string, source: ByteSource, header: NpyHeader) {
    this.file = file;
    this.#source = source;
    this.seekable = source.seekable;
    this.header = header;
  }

  /**
   * Opens `file` (`'-'`: stdin) and validates its header. Cost: one `stat` and two small reads.
   * @throws {NpyFormatError} for a malformed header, or a folder or socket (the file is closed again).
   * @throws the `fs` error (with its `code`) when the file cannot be opened or read.
   */
  static async open(file: string): Promise<NpyReader> {
    if (file === STDIN) return NpyReader.#start(file, fdSource(0), Number.POSITIVE_INFINITY);
    const fh = await open(file, 'r');
    const stat = await fh.stat().catch(async (e: unknown) => {
      await fh.close();
      throw e;
    });
    if (stat.isFile()) return NpyReader.#start(file, fileSource(fh), stat.size);
    if (stat.isFIFO() || stat.isCharacterDevice()) {
      return NpyReader.#start(file, fifoSource(fh), Number.POSITIVE_INFINITY);
    }
    await fh.close();
    if (stat.isSocket()) {
      // A socket cannot be opened as a file; read it as a stream.
      return NpyReader.#start(file, streamSource(createReadStream(file)), Number.POSITIVE_INFINITY);
    }
    throw new NpyFormatError(
      file,
      'file',
      stat.isDirectory() ? 'is a folder, not a .npy file' : 'not a regular file',
    );
  }

  static async #start(file: string, source: ByteSource, size: number): Promise<NpyReader> {
    try {
      const prefix = new Uint8Array(Math.min(size, PREFIX_BYTES));
      const got = await source.read(prefix, 0);
      // A stream's size is known only when it ends inside the prefix.
      const known = got < prefix.length ? got : size;
      const end = headerEnd(prefix.subarray(0, got), known, file);
      const bytes = new Uint8Array(end);
      bytes.set(prefix.subarray(0, Math.min(got, end)));
      if (end > got) {
        const rest = await source.read(bytes.subarray(got), got);
        if (rest < end - got) {
          // headerEnd checked HEADER_LEN against a file's size; a stream ran out here.
          throw new NpyFormatError(
            file,
            'HEADER_LEN',
            `HEADER_LEN says the header ends at byte ${end}, but the stream ended at byte ${got + rest} (truncated?)`,
          );
        }
      }
      return new NpyReader(file, source, parseHeader(bytes, known, file));
    } catch (e) {
      await source.close();
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
    const want = count * size;
    const got = await this.#source.read(dst.subarray(0, want), this.header.dataOffset + start * size);
    if (got < want) {
      const element = start + Math.floor(got / size);
      throw Object.assign(
        new Error(
          `the data ended early, at element ${element} of ${this.header.length} (byte ${this.header.dataOffset + start * size + got}; truncated, or changed while being read?)`,
        ),
        { code: 'EOF' as const, element },
      ) satisfies EndOfDataError;
    }
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
    return dtypeError(this.file, this.header, expected);
  }

  /** Closes the file; safe to call twice. */
  async close(): Promise<void> {
    await this.#source.close();
  }

  #stage(bytes: number): Uint8Array {
    // Whole multiples of 8 keep every typed view of the staging buffer aligned.
    if (this.#staging.length < bytes) this.#staging = new Uint8Array(Math.ceil(bytes / 8) * 8);
    return this.#staging.subarray(0, bytes);
  }
}
