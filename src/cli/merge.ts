import { layoutMatters } from '../npy/codec.ts';
import { dtypeName } from '../npy/dtype.ts';
import { NpyFormatError } from '../npy/errors.ts';
import { formatShape } from '../npy/header.ts';
import type { NpyOutput } from '../npy/output.ts';
import { openNpyOutput } from '../npy/output.ts';
import type { NpyReader } from '../npy/reader.ts';
import type { OptionTable } from './args.ts';
import { parseWithPositionals, required } from './args.ts';
import { fileError, UsageError } from './errors.ts';
import type { NamedFile } from './files.ts';
import { refuseClobbering } from './files.ts';
import { openInput, readError } from './sources.ts';
import { MERGE_USAGE } from './usage.ts';

const OPTIONS: OptionTable = {
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Bytes copied per read: merging needs this much memory whatever the parts' sizes. */
const COPY_BYTES = 8 * 1024 * 1024;

/**
 * Checks that `part` can follow `first` along the rows: the same `descr` (byte order included),
 * the same trailing shape, C order (Fortran order would interleave the parts' columns).
 */
function checkPart(part: NpyReader, first: NpyReader, index: number): void {
  const a = first.header;
  const b = part.header;
  const where = `part ${index} (${part.file})`;
  if (b.shape.length === 0) {
    throw new NpyFormatError(
      part.file,
      'shape',
      `${where} is a 0-d array; parts are concatenated along their first axis`,
    );
  }
  if (b.fortranOrder && layoutMatters(b.shape)) {
    throw new NpyFormatError(
      part.file,
      'fortran_order',
      `${where} is in Fortran order; only C-order parts concatenate along rows (save it with np.ascontiguousarray)`,
    );
  }
  if (b.dtype.descr !== a.dtype.descr) {
    throw new NpyFormatError(
      part.file,
      'descr',
      `${where} has 'descr' ${dtypeName(b.dtype)}, part 0 (${first.file}) has ${dtypeName(a.dtype)}`,
    );
  }
  const tail = (s: readonly number[]) => s.slice(1).join(',');
  if (b.shape.length !== a.shape.length || tail(b.shape) !== tail(a.shape)) {
    throw new NpyFormatError(
      part.file,
      'shape',
      `${where} has 'shape' ${formatShape(b.shape)}, part 0 (${first.file}) has ${formatShape(a.shape)}; all but the first dimension must agree`,
    );
  }
}

/**
 * `hnm merge --out WHOLE.npy PART0.npy PART1.npy ...`: concatenates `.npy` parts along their first
 * axis (the shards of `hnm mine --shard`), streaming in 8 MiB pieces, into an output written like
 * every other (atomic for a file, streamed for `-` or a pipe). Checks every header before writing
 * anything, naming the part that does not agree with part 0.
 */
export async function mergeCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseWithPositionals(argv, OPTIONS, true);
  if (values.help === true) {
    process.stdout.write(MERGE_USAGE);
    return 0;
  }
  const out: NamedFile = { option: '--out', file: required(values, 'out', 'WHOLE.npy') };
  if (positionals.length === 0)
    throw new UsageError('missing the parts to merge: hnm merge --out WHOLE.npy PART0.npy PART1.npy ...');
  const inputs = positionals.map((file, i) => ({ option: `part ${i}`, file }));
  await refuseClobbering(inputs, [out]);
  const parts: NpyReader[] = [];
  let output: NpyOutput | undefined;
  try {
    for (const file of positionals) parts.push(await openInput(file));
    const first = parts[0]!;
    for (let i = 0; i < parts.length; i++) checkPart(parts[i]!, first, i);
    const rows = parts.reduce((sum, p) => sum + p.header.shape[0]!, 0);
    const shape = [rows, ...first.header.shape.slice(1)];
    try {
      output = await openNpyOutput(out.file, first.header.dtype.descr, shape, first.header.dtype.size);
    } catch (e) {
      throw fileError(e, 'write', out.file);
    }
    const size = first.header.dtype.size;
    const perRow = first.header.shape.slice(1).reduce((a, b) => a * b, 1);
    const piece = new Uint8Array(Math.max(size, COPY_BYTES - (COPY_BYTES % size)));
    let offset = 0;
    for (const part of parts) {
      const length = part.header.length;
      for (let at = 0; at < length; ) {
        const n = Math.min(length - at, piece.length / size);
        const bytes = piece.subarray(0, n * size);
        try {
          // As stored: every part has part 0's descr, so no conversion.
          await part.readRaw(at, n, bytes);
        } catch (e) {
          throw readError(e, part.file, perRow, part.header.shape[0]!);
        }
        try {
          await output.write(bytes, offset);
        } catch (e) {
          throw fileError(e, 'write', out.file);
        }
        offset += bytes.length;
        at += n;
      }
    }
    try {
      await output.commit();
    } catch (e) {
      throw fileError(e, 'write', out.file);
    }
    if (values.quiet !== true) {
      process.stderr.write(
        `merged ${parts.length} part${parts.length === 1 ? '' : 's'} into ${out.file === '-' ? 'stdout' : out.file}: ${formatShape(shape)} ${dtypeName(first.header.dtype)}\n`,
      );
    }
    return 0;
  } finally {
    await output?.abort();
    for (const part of parts) await part.close();
  }
}
