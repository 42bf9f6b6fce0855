import type { NpyArray, NpyData, NpyReadOptions, NpyWriteOptions } from './codec.ts';
import { arrayOf, checkShape, descrOf } from './codec.ts';
import { byteswap } from './convert.ts';
import { openNpyOutput } from './output.ts';
import { NpyReader } from './reader.ts';

export type { NpyArray, NpyData, NpyReadOptions, NpyWriteOptions } from './codec.ts';
export { encodeNpy, parseNpy } from './codec.ts';

/**
 * Reads a whole `.npy` file (for small arrays; the CLI streams large ones), in C order unless
 * `options.keepFortranOrder` (see {@link NpyReadOptions}). A FIFO or character device is read
 * front to back.
 * @throws {NpyFormatError} for a malformed file, or the `fs` error when it cannot be read.
 */
export async function readNpy(file: string, options?: NpyReadOptions): Promise<NpyArray> {
  // '-' is a file name here, not stdin (that is the CLI's convention).
  const reader = await NpyReader.open(file === '-' ? './-' : file);
  try {
    const { header } = reader;
    const buffer = new ArrayBuffer(header.dataBytes);
    const raw = new Uint8Array(buffer);
    await reader.readRaw(0, header.length, raw);
    if (header.dtype.bigEndian) byteswap(raw, header.dtype.size);
    return arrayOf(header, buffer, options);
  } finally {
    await reader.close();
  }
}

/**
 * Writes `data` with `shape` as a `.npy` file. A regular file (or a new name) is written atomically:
 * a temporary file next to it, renamed on success, never a half-written file. A symbolic link is
 * written through (its final target is replaced, the link kept); a FIFO, character device or
 * socket is streamed into, never replaced; a folder is refused with `EISDIR`. Same validation as
 * {@link encodeNpy}; rejects with the `fs` error when the output cannot be written.
 */
export async function writeNpy(
  file: string,
  data: NpyData,
  shape: readonly number[],
  options?: NpyWriteOptions,
): Promise<void> {
  const descr = descrOf(data, options);
  checkShape(data, shape);
  const out = await openNpyOutput(file === '-' ? './-' : file, descr, shape, data.BYTES_PER_ELEMENT);
  try {
    await out.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 0);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}
