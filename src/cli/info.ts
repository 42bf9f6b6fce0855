import { dtypeName } from '../npy/dtype.ts';
import { formatShape } from '../npy/header.ts';
import type { OptionTable } from './args.ts';
import { parseWithPositionals } from './args.ts';
import { UsageError } from './errors.ts';
import { openInput } from './sources.ts';
import { INFO_USAGE } from './usage.ts';

const OPTIONS: OptionTable = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** What `hnm info --json` prints per file (one object per line). */
export interface NpyInfo {
  file: string;
  descr: string;
  dtype: string;
  shape: number[];
  order: 'C' | 'F';
  version: string;
  header_bytes: number;
  data_bytes: number;
}

/**
 * `hnm info FILE.npy ...`: each file's dtype, shape, order, header version and data bytes, read from
 * the header alone (validated against the file size, so a truncated file is reported, exit 1).
 * `--json`: one object per file, one per line.
 */
export async function infoCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseWithPositionals(argv, OPTIONS, true);
  if (values.help === true) {
    process.stdout.write(INFO_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('missing the files: hnm info FILE.npy ...');
  if (positionals.filter((f) => f === '-').length > 1)
    throw new UsageError("only one file can be '-' (stdin)");
  for (const file of positionals) {
    const reader = await openInput(file);
    const { header } = reader;
    await reader.close();
    const info: NpyInfo = {
      file,
      descr: header.dtype.descr,
      dtype: dtypeName(header.dtype).replace(/^'[^']*' \((.*)\)$/, '$1'),
      shape: [...header.shape],
      order: header.fortranOrder ? 'F' : 'C',
      version: header.version,
      header_bytes: header.dataOffset,
      data_bytes: header.dataBytes,
    };
    process.stdout.write(
      values.json === true
        ? `${JSON.stringify(info)}\n`
        : `${file}: ${dtypeName(header.dtype)}, shape ${formatShape(header.shape)}, ${info.order} order, ` +
            `format ${info.version}, ${info.data_bytes.toLocaleString('en-US')} data bytes after a ${info.header_bytes}-byte header\n`,
    );
  }
  return 0;
}
