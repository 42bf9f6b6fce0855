import type { Stats } from 'node:fs';
import { fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { finalTarget } from '../npy/writer.ts';
import { UsageError } from './errors.ts';

/** A file named on the command line, with the option that named it (for messages). */
export interface NamedFile {
  /** The option as typed, e.g. `--loss`, or `PART 2` for a positional argument. */
  readonly option: string;
  /** The path, or `'-'` for stdin (an input) or stdout (an output). */
  readonly file: string;
}

/** The file's device and inode after following links, or undefined when it does not exist. */
async function identity(file: string, fd: number): Promise<Stats | undefined> {
  try {
    return file === '-' ? fstatSync(fd) : await stat(file);
  } catch {
    return undefined;
  }
}

const shown = (f: NamedFile): string =>
  f.file === '-'
    ? `${f.option} - (${f.option.endsWith('out') ? 'stdout' : 'stdin'})`
    : `${f.option} ${f.file}`;

/**
 * Refuses (exit 2, nothing written) a command line that would destroy data or cannot work:
 * - an output that is the same file as an input, or as another output: compared by device and
 *   inode after following links (a link, a hard link or another spelling of the path is caught;
 *   `-` compares stdin's or stdout's file);
 * - more than one input reading stdin (`-`), or more than one output writing stdout.
 * Cost: one `stat` per file.
 */
export async function refuseClobbering(
  inputs: readonly NamedFile[],
  outputs: readonly NamedFile[],
): Promise<void> {
  const stdinReaders = inputs.filter((f) => f.file === '-');
  if (stdinReaders.length > 1) {
    throw new UsageError(
      `only one input can read stdin, but ${stdinReaders.map((f) => f.option).join(' and ')} are all '-'`,
    );
  }
  const stdoutWriters = outputs.filter((f) => f.file === '-');
  if (stdoutWriters.length > 1) {
    throw new UsageError(
      `only one output can write to stdout, but ${stdoutWriters.map((f) => f.option).join(' and ')} are all '-'`,
    );
  }
  const targets = await Promise.all(
    outputs.map((f) => (f.file === '-' ? undefined : finalTarget(f.file).catch(() => undefined))),
  );
  for (let o = 0; o < outputs.length; o++) {
    for (let p = 0; p < o; p++) {
      if (targets[o] !== undefined && targets[o] === targets[p]) {
        throw new UsageError(
          `${shown(outputs[o]!)} and ${shown(outputs[p]!)} are the same file; one would replace the other (choose two names)`,
        );
      }
    }
  }
  const ids = await Promise.all(inputs.map((f) => identity(f.file, 0)));
  const outIds = await Promise.all(outputs.map((f) => identity(f.file, 1)));
  for (let o = 0; o < outputs.length; o++) {
    const out = outIds[o];
    // A new file, or an output that is a pipe or device (it is streamed into, never replaced).
    if (out === undefined || !(out.isFile() || out.isDirectory())) continue;
    const same = (s: Stats | undefined) => s !== undefined && s.dev === out.dev && s.ino === out.ino;
    for (let i = 0; i < inputs.length; i++) {
      if (same(ids[i])) {
        throw new UsageError(
          `${shown(outputs[o]!)} is the same file as the input ${shown(inputs[i]!)}; writing it would destroy ` +
            'the input, so nothing was written (choose another output name)',
        );
      }
    }
    for (let p = 0; p < o; p++) {
      if (same(outIds[p])) {
        throw new UsageError(
          `${shown(outputs[o]!)} and ${shown(outputs[p]!)} are the same file; one would replace the other (choose two names)`,
        );
      }
    }
  }
}
