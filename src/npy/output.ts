import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, readlink, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { encodeHeader } from './header.ts';
import { NpyWriter } from './writer.ts';

/** The name that writes to standard output. */
export const STDOUT = '-';

/**
 * Where a `.npy` array goes, written chunk by chunk: a regular file (atomic, see {@link NpyWriter})
 * or a stream. Writes of one output must not overlap in time; every data byte is written once.
 */
export interface NpyOutput {
  /** The path as the caller named it, or `'-'` for stdout. */
  readonly file: string;
  /**
   * `'file'`: written at any offset to a temporary file, renamed into place by `commit`. `'stream'`
   * (stdout, a FIFO, a character device, a socket): header first, then the data strictly in order;
   * bytes already written cannot be taken back, so a failure leaves the reader a short array.
   */
  readonly kind: 'file' | 'stream';
  write(bytes: Uint8Array, byteOffset: number): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Pieces a stream write is copied through (a shared-memory chunk may be reused once `write` resolves). */
const PIECE_BYTES = 1 << 20;

/** A sink that writes bytes front to back and resolves once the bytes have left the caller's buffer. */
interface Sink {
  put(bytes: Uint8Array): Promise<void>;
  end(): Promise<void>;
}

function handleSink(fh: FileHandle): Sink {
  return {
    async put(bytes) {
      let done = 0;
      while (done < bytes.length) {
        const length = Math.min(bytes.length - done, 1 << 30);
        const { bytesWritten } = await fh.write(bytes, done, length, null);
        done += bytesWritten;
      }
    },
    end: () => fh.close().catch(() => undefined),
  };
}

function writableSink(stream: Writable, closeAtEnd: boolean): Sink {
  let failure: unknown;
  const onError = (e: unknown) => {
    failure ??= e;
  };
  // Removed at the end of a long-lived stream (stdout), so many outputs leave no listener behind.
  stream.on('error', onError);
  // One piece buffer, reused: a write's callback runs once the stream is done with its chunk, and
  // the next piece is copied in only after that (the caller's buffer may be reused shared memory).
  let piece: Buffer | undefined;
  return {
    async put(bytes) {
      for (let done = 0; done < bytes.length; done += PIECE_BYTES) {
        if (failure !== undefined) throw failure;
        const n = Math.min(PIECE_BYTES, bytes.length - done);
        piece ??= Buffer.allocUnsafe(PIECE_BYTES);
        piece.set(bytes.subarray(done, done + n));
        await new Promise<void>((resolve, reject) => {
          stream.write(piece!.subarray(0, n), (e) => (e ? reject(e) : resolve()));
        });
      }
    },
    async end() {
      // A stream this sink closes keeps its listener (an error may still come while it closes).
      if (closeAtEnd) await new Promise<void>((resolve) => stream.end(resolve));
      else stream.off('error', onError);
    },
  };
}

class StreamOutput implements NpyOutput {
  readonly kind = 'stream';
  readonly file: string;
  readonly #sink: Sink;
  readonly #dataBytes: number;
  #written = 0;
  #done = false;

  constructor(file: string, sink: Sink, dataBytes: number) {
    this.file = file;
    this.#sink = sink;
    this.#dataBytes = dataBytes;
  }

  async write(bytes: Uint8Array, byteOffset: number): Promise<void> {
    if (this.#done) throw new Error(`${this.file}: write after commit or abort`);
    if (byteOffset !== this.#written || byteOffset + bytes.length > this.#dataBytes) {
      throw new RangeError(
        `${this.file} is a stream: the write at data byte ${byteOffset} must follow the ${this.#written} bytes written so far, within ${this.#dataBytes}`,
      );
    }
    await this.#sink.put(bytes);
    this.#written += bytes.length;
  }

  async commit(): Promise<void> {
    if (this.#done) throw new Error(`${this.file}: commit after commit or abort`);
    this.#done = true;
    await this.#sink.end();
    if (this.#written !== this.#dataBytes) {
      throw new Error(`${this.file}: ${this.#written} of ${this.#dataBytes} data bytes written`);
    }
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#sink.end().catch(() => undefined);
  }
}

/** This process's stdout or stderr named by path: `/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/2`, ... */
const OWN_FD = /^\/(?:dev\/fd\/([12])|dev\/std(out|err)|proc\/(?:self|(\d+))\/fd\/([12]))$/;

/**
 * A socket output. One reached through this process's own stdout or stderr (a link to
 * `/proc/self/fd/1`, say, when stdout is a socket, as under a process manager) cannot be opened by
 * path, so it is written through that stream; any other socket file is connected to.
 */
async function socketSink(file: string, options: NpyOutputOptions): Promise<Sink> {
  let path = resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    const m = OWN_FD.exec(path);
    if (m !== null && (m[3] === undefined || Number(m[3]) === process.pid)) {
      const fd = m[1] ?? m[4] ?? (m[2] === 'out' ? '1' : '2');
      return writableSink(fd === '1' ? (options.stdout ?? process.stdout) : process.stderr, false);
    }
    const target = await readlink(path).catch(() => undefined);
    if (target === undefined) break;
    path = resolve(dirname(path), target);
  }
  const socket = createConnection(resolve(file));
  await new Promise<void>((resolve_, reject) => {
    socket.once('connect', resolve_).once('error', reject);
  });
  return writableSink(socket, true);
}

/** Options of {@link openNpyOutput}. */
export interface NpyOutputOptions {
  /** The stream `'-'` writes to (default `process.stdout`); it is not closed at the end. */
  stdout?: Writable;
}

/**
 * Opens the output of a `.npy` array of `descr` and `shape`, by what `file` is:
 * - `'-'`: stdout, streamed (header first, data in order);
 * - a character device, FIFO or socket (after following links): streamed into it, never replaced;
 * - a folder: refused (`EISDIR`);
 * - a regular file, a link to one, or a new name: an {@link NpyWriter} (temporary file next to the
 *   final target, renamed onto it by `commit`).
 *
 * Opening a FIFO waits for its reader. Cost: a few `lstat`s, then as {@link NpyWriter.create}.
 * @throws the `fs` error (with its `code`) when the output cannot be opened.
 */
export async function openNpyOutput(
  file: string,
  descr: string,
  shape: readonly number[],
  itemSize: number,
  options: NpyOutputOptions = {},
): Promise<NpyOutput> {
  const dataBytes = shape.reduce((a, b) => a * b, 1) * itemSize;
  let sink: Sink;
  if (file === STDOUT) {
    sink = writableSink(options.stdout ?? process.stdout, false);
  } else {
    // `stat` follows every link, /proc's magic links to this process's open files included.
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || info.isFile() || info.isDirectory()) {
      return NpyWriter.create(file, descr, shape, itemSize);
    }
    if (info.isSocket()) {
      sink = await socketSink(file, options);
    } else {
      // A FIFO or character device. No O_CREAT or O_TRUNC: one that vanished must not become a
      // regular file.
      sink = handleSink(await open(file, constants.O_WRONLY));
    }
  }
  const out = new StreamOutput(file, sink, dataBytes);
  try {
    await sink.put(encodeHeader(descr, shape));
  } catch (e) {
    await out.abort();
    throw e;
  }
  return out;
}
