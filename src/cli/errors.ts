import { NpyFormatError } from '../npy/errors.ts';

/** A command line the tool cannot run as given (unknown option, missing or malformed value): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Input data the tool cannot use, or an I/O failure: exit 1. The message names the file and field or row/column. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** Exit status of the CLI: success. */
export const EXIT_OK = 0;
/** Exit status of the CLI: bad data or I/O failure (and internal errors). */
export const EXIT_DATA = 1;
/** Exit status of the CLI: usage error. */
export const EXIT_USAGE = 2;

const FS_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a component of the path is not a folder',
  EISDIR: 'is a folder',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  EEXIST: 'already exists',
  EXDEV: 'crosses file systems',
  EIO: 'input/output error',
  EFBIG: 'file too large',
  EPIPE: 'the reading end of the pipe was closed',
  ENXIO: 'no reader or device at the other end',
  ELOOP: 'too many levels of symbolic links',
  EOF: 'the file ended early (was it changed while being read?)',
};

/** Whether `e` is a Node.js system error (it has a string `code` such as `ENOENT`). */
export function isSystemError(e: unknown): e is Error & { code: string } {
  if (!(e instanceof Error)) return false;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/**
 * Turns a failed file operation into a {@link DataError} that names the user's file and what went
 * wrong in words, e.g. "cannot read loss.npy: no such file or directory (ENOENT)". Other errors
 * pass through unchanged.
 */
export function fileError(e: unknown, verb: 'read' | 'write', file: string): unknown {
  if (!isSystemError(e)) return e;
  const words = FS_WORDS[e.code] ?? e.message;
  return new DataError(`cannot ${verb} ${file}: ${words} (${e.code})`);
}

/**
 * The exit status for an error thrown by a command and the text to print on stderr: usage errors
 * with a pointer to `--help`; data, format and I/O errors as one line; anything else is a bug in
 * this tool, printed with its stack so it can be reported.
 */
export function describeFailure(e: unknown, command: string): { code: number; text: string } {
  const prefix = command ? `hnm ${command}` : 'hnm';
  if (e instanceof UsageError) {
    return {
      code: EXIT_USAGE,
      text: `${prefix}: ${e.message}\nRun '${prefix} --help' for usage.`,
    };
  }
  if (e instanceof DataError || e instanceof NpyFormatError)
    return { code: EXIT_DATA, text: `${prefix}: ${e.message}` };
  if (isSystemError(e)) return { code: EXIT_DATA, text: `${prefix}: ${e.message}` };
  const detail = e instanceof Error ? (e.stack ?? String(e)) : String(e);
  return { code: EXIT_DATA, text: `${prefix}: internal error (please report it):\n${detail}` };
}
