/**
 * A `.npy` file that cannot be read as asked: a bad magic string, a header field that is malformed or
 * contradicts the file size, or a dtype/shape the caller does not accept. The message starts with the
 * file name and names the header field (`magic string`, `version`, `HEADER_LEN`, `descr`,
 * `fortran_order`, `shape`, `data`), so a user can fix the file without reading code.
 */
export class NpyFormatError extends Error {
  /** The file as the caller named it. */
  readonly file: string;
  /** The header field at fault. */
  readonly field: string;

  constructor(file: string, field: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'NpyFormatError';
    this.file = file;
    this.field = field;
  }
}
