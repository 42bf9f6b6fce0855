import { read } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/**
 * Where a reader's bytes come from. A regular file is read by position in any order; a pipe, FIFO,
 * character device or stdin only front to back, so a {@link ByteSource} over one skips forward by
 * reading and discarding, and refuses to go back.
 */
export interface ByteSource {
  /** True when reads may go to any position (a regular file). */
  readonly seekable: boolean;
  /**
   * Fills `dst` with the bytes from `position` on; resolves to the number of bytes read, less than
   * `dst.length` only where the data ended. A sequential source requires `position` at or after the
   * end of its previous read.
   */
  read(dst: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/** One read call is limited to 2 GiB - 1; stay well below. */
const MAX_READ = 1 << 30;
/** Skipped bytes go through a small buffer: skipping never costs memory. */
const SKIP_BYTES = 1 << 20;

/** A regular file, read by position. */
export function fileSource(fh: FileHandle): ByteSource {
  return {
    seekable: true,
    async read(dst, position) {
      let done = 0;
      while (done < dst.length) {
        const length = Math.min(dst.length - done, MAX_READ);
        const { bytesRead } = await fh.read(dst, done, length, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
    close: () => fh.close().catch(() => undefined),
  };
}

/** Shared logic of the sequential sources: the position so far, skipping forward, refusing back. */
function sequential(pull: (dst: Uint8Array) => Promise<number>, close: () => Promise<void>): ByteSource {
  let at = 0;
  let skip: Uint8Array | undefined;
  const fill = async (dst: Uint8Array): Promise<number> => {
    let done = 0;
    while (done < dst.length) {
      const n = await pull(dst.subarray(done));
      if (n === 0) break;
      done += n;
    }
    at += done;
    return done;
  };
  return {
    seekable: false,
    async read(dst, position) {
      if (position < at) {
        throw new RangeError(`a stream cannot go back: read at byte ${position}, already at ${at}`);
      }
      while (at < position) {
        skip ??= new Uint8Array(SKIP_BYTES);
        const n = await fill(skip.subarray(0, Math.min(SKIP_BYTES, position - at)));
        if (n === 0) return 0;
      }
      return fill(dst);
    },
    close,
  };
}

/** A FIFO or character device opened by path: read front to back with blocking reads. */
export function fifoSource(fh: FileHandle): ByteSource {
  return sequential(
    async (dst) => (await fh.read(dst, 0, Math.min(dst.length, MAX_READ), null)).bytesRead,
    () => fh.close().catch(() => undefined),
  );
}

/** One `read(2)` on `fd` at its current position; resolves to the bytes read. */
function readFd(fd: number, dst: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, dst, 0, Math.min(dst.length, MAX_READ), null, (e, n) => (e ? reject(e) : resolve(n)));
  });
}

/**
 * An inherited descriptor (stdin: fd 0) read front to back straight into the caller's buffers, so
 * a stream costs no memory per chunk. A descriptor another process set non-blocking answers
 * `EAGAIN` when empty: then it is polled every millisecond until data or the end arrives.
 */
export function fdSource(fd: number): ByteSource {
  return sequential(
    async (dst) => {
      for (;;) {
        try {
          return await readFd(fd, dst);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
    },
    async () => {},
  );
}

/**
 * A Node.js `Readable` (stdin, a socket) read front to back. Memory: the stream's own buffer (its
 * high-water mark) plus at most one chunk it handed over and this reader has not copied out yet.
 */
export function streamSource(stream: Readable): ByteSource {
  let leftover: Uint8Array | undefined;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const onReadable = () => wake?.();
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (e: unknown) => {
    failure = e;
    wake?.();
  };
  stream.on('readable', onReadable);
  stream.on('end', onEnd);
  stream.on('error', onError);
  const pull = async (dst: Uint8Array): Promise<number> => {
    for (;;) {
      if (failure !== undefined) throw failure;
      if (leftover === undefined) {
        const chunk = stream.read() as Uint8Array | null;
        if (chunk !== null) leftover = chunk;
      }
      if (leftover !== undefined) {
        const n = Math.min(dst.length, leftover.length);
        dst.set(leftover.subarray(0, n));
        leftover = n === leftover.length ? undefined : leftover.subarray(n);
        return n;
      }
      if (ended) return 0;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  };
  return sequential(pull, async () => {
    stream.off('readable', onReadable);
    stream.off('end', onEnd);
    stream.off('error', onError);
    // Stop reading stdin so the process can exit even if the writer keeps the pipe open.
    stream.pause();
    if (stream !== process.stdin) stream.destroy();
    else (stream as Readable & { unref?: () => void }).unref?.();
  });
}
