import type { NpyArray, NpyData, NpyWriteOptions } from './codec.ts';
import { checkShape, descrOf, typedArrayFor } from './codec.ts';
import { byteswap } from './convert.ts';
import { NpyReader } from './reader.ts';
import { NpyWriter } from './writer.ts';

export type { NpyArray, NpyData, NpyWriteOptions } from './codec.ts';
export { encodeNpy, parseNpy } from './codec.ts';

/**
 * Reads a whole `.npy` file (for small arrays; the `hnm` CLI streams large ones).
 * @throws {NpyFormatError} for a malformed file, or the `fs` error when it cannot be read.
 */
export async function readNpy(file: string): Promise<NpyArray> {
  const reader = await NpyReader.open(file);
  try {
    const { header } = reader;
    const buffer = new ArrayBuffer(header.dataBytes);
    const raw = new Uint8Array(buffer);
    await reader.readRaw(0, header.length, raw);
    if (header.dtype.bigEndian) byteswap(raw, header.dtype.size);
    return {
      dtype: header.dtype,
      shape: header.shape,
      fortranOrder: header.fortranOrder,
      data: typedArrayFor(header.dtype, buffer, header.length),
    };
  } finally {
    await reader.close();
  }
}

/**
 * Writes `data` with `shape` as a `.npy` file, atomically (temporary file renamed on success).
 * Same validation as `encodeNpy`; rejects with the `fs` error when the folder is not writable.
 */
export async function writeNpy(
  file: string,
  data: NpyData,
  shape: readonly number[],
  options?: NpyWriteOptions,
): Promise<void> {
  const descr = descrOf(data, options);
  checkShape(data, shape);
  const writer = await NpyWriter.create(file, descr, shape, data.BYTES_PER_ELEMENT);
  try {
    await writer.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 0);
    await writer.commit();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
