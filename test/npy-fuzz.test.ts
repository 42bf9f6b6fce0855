import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpyFormatError } from '../src/npy/errors.ts';
import { parseHeader } from '../src/npy/header.ts';
import type { NpyData } from '../src/npy/small.ts';
import { encodeNpy, parseNpy } from '../src/npy/small.ts';
import { FUZZ_RUNS } from './support/fuzz-cases.ts';
import { ensureBuilt, hnm, STACK_TRACE } from './support/hnm.ts';

/**
 * Malformed `.npy` files: random bytes, every truncation of real files, and headers that lie about
 * their version, HEADER_LEN, descr, fortran_order or shape. Thousands of cases go through the codec's
 * parser in-process (each must parse consistently or throw an `NpyFormatError` naming its field);
 * a representative subset goes through the `hnm` bin as every kind of input (each must exit 1 with
 * a message naming the file and the field: no crash, hang, stack trace or output file).
 */

const FIELDS = new Set([
  'magic string',
  'version',
  'HEADER_LEN',
  'header',
  'descr',
  'fortran_order',
  'shape',
  'file',
]);
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const runs = (share: number, min: number): number => Math.max(min, Math.round(FUZZ_RUNS * share));

/** Parses `bytes`; returns the header, or the NpyFormatError. Any other exception fails the test. */
function parseOrFormatError(bytes: Uint8Array, file = 'fuzz.npy') {
  try {
    return parseNpy(bytes, file);
  } catch (e) {
    if (!(e instanceof NpyFormatError)) {
      throw new Error(`not an NpyFormatError for ${bytes.length} bytes: ${String(e)}`, { cause: e });
    }
    if (!FIELDS.has(e.field)) expect(e.message).toContain('unexpected header field');
    expect(e.message.startsWith(`${file}: `)).toBe(true);
    expect(e.file).toBe(file);
    return e;
  }
}

/** A consistent parse: the data section is exactly the shape's elements times the item size. */
function expectConsistent(parsed: ReturnType<typeof parseNpy>, bytes: Uint8Array): void {
  const length = parsed.shape.reduce((a, b) => a * b, 1);
  expect(parsed.data.length).toBe(length);
  const header = parseHeader(bytes, bytes.length, 'x');
  expect(header.dataOffset + header.dataBytes).toBe(bytes.length);
}

/** A `.npy` file with `dict` as its header text, `HEADER_LEN` as given (or right), and `data`. */
function npyFile(
  dict: string,
  data: Uint8Array,
  options: { version?: 1 | 2 | 3; headerLen?: number; pad?: boolean; magic?: number[] } = {},
): Uint8Array {
  const version = options.version ?? 1;
  const prefix = version === 1 ? 10 : 12;
  let text = dict;
  if (options.pad !== false) {
    const total = Math.ceil((prefix + text.length + 1) / 64) * 64;
    text = `${text}${' '.repeat(total - prefix - text.length - 1)}\n`;
  }
  const encoded =
    version === 3 ? new TextEncoder().encode(text) : Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  const out = new Uint8Array(prefix + encoded.length + data.length);
  out.set(options.magic ?? MAGIC);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  const headerLen = options.headerLen ?? encoded.length;
  if (version === 1) view.setUint16(8, headerLen & 0xffff, true);
  else view.setUint32(8, headerLen >>> 0, true);
  out.set(encoded, prefix);
  out.set(data, prefix + encoded.length);
  return out;
}

const dict = (descr: string, fortran: string, shape: string, extra = ''): string =>
  `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, ${extra}}`;

/** Real files of every kind the tool reads (numpy-made fixtures and our own writer). */
function realFiles(): { name: string; bytes: Uint8Array }[] {
  const fixtures = join(import.meta.dirname, 'fixtures', 'npy');
  const files: { name: string; bytes: Uint8Array }[] = readdirSync(fixtures)
    .filter((f) => f.endsWith('.npy'))
    .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(fixtures, f))) }));
  const ours: [string, NpyData, number[]][] = [
    ['ours_f4.npy', Float32Array.from({ length: 12 }, (_, i) => i / 3), [3, 4]],
    ['ours_b1.npy', Uint8Array.from({ length: 10 }, (_, i) => i & 1), [2, 5]],
    ['ours_i8.npy', BigInt64Array.from({ length: 3 }, (_, i) => BigInt(i)), [3]],
  ];
  for (const [name, data, shape] of ours) files.push({ name, bytes: encodeNpy(data, shape) });
  return files;
}

describe('the .npy parser on malformed input (in-process)', () => {
  it('random bytes, and random bytes after the magic string, throw NpyFormatError (never anything else)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .record({ version: fc.constantFrom(1, 2, 3, 0, 4, 255), rest: fc.uint8Array({ maxLength: 300 }) })
            .map(({ version, rest }) => Uint8Array.from([...MAGIC, version, 0, ...rest])),
        ),
        (bytes) => {
          const parsed = parseOrFormatError(bytes);
          if (!(parsed instanceof NpyFormatError)) expectConsistent(parsed, bytes);
        },
      ),
      { numRuns: runs(0.02, 1500) },
    );
  });

  it('every truncation of every real file (each header offset, and into the data) names its field', () => {
    let cases = 0;
    for (const { name, bytes } of realFiles()) {
      for (let end = 0; end < bytes.length; end++) {
        const cut = bytes.subarray(0, end);
        const parsed = parseOrFormatError(cut, name);
        // A prefix of a file is never a valid file, except a cut after an empty array's header.
        if (!(parsed instanceof NpyFormatError)) expect(parsed.data.length).toBe(0);
        cases++;
      }
      // Trailing bytes: a header that says less than the file holds.
      expect(parseOrFormatError(Uint8Array.from([...bytes, 0]), name)).toBeInstanceOf(NpyFormatError);
    }
    expect(cases).toBeGreaterThan(2000);
  });

  it('single-byte corruptions of real files parse consistently or name their field', () => {
    const files = realFiles();
    fc.assert(
      fc.property(
        fc.nat({ max: files.length - 1 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (f, at, value) => {
          const bytes = files[f]!.bytes.slice();
          // Mostly inside the header (where the structure is), sometimes in the data.
          const headerEnd = Math.min(bytes.length, 128);
          bytes[at % (at & 1 ? bytes.length : headerEnd)] = value;
          const parsed = parseOrFormatError(bytes, files[f]!.name);
          if (!(parsed instanceof NpyFormatError)) expectConsistent(parsed, bytes);
        },
      ),
      { numRuns: runs(0.02, 2000) },
    );
  });

  /** Header pieces that lie, or are simply wrong. */
  const descrArb = fc.oneof(
    fc.constantFrom(
      "'<f4'",
      "'<f8'",
      "'>f4'",
      "'|b1'",
      "'|u1'",
      "'<i8'",
      "'>u2'",
      "'<f2'",
      "'<c8'",
      "'|O'",
      "'<U3'",
      "'f4'",
      "'=f4'",
      "'<f16'",
      "'<f0'",
      "''",
      "'?'",
      "[('a', '<f4')]",
      '4',
      'None',
      "'<f4",
      "b'<f4'",
      "'\\u00e9'",
    ),
    fc.string({ maxLength: 6 }).map((s) => `'${s.replace(/[\\']/g, '')}'`),
  );
  const fortranArb = fc.constantFrom('False', 'True', "'False'", '0', '1', 'None', 'false', 'Tru');
  const dimArb = fc.constantFrom(
    '0',
    '1',
    '2',
    '3',
    '8732',
    '2147483647',
    '2147483648',
    '9007199254740991',
    '9007199254740992',
    '18446744073709551616',
    '-1',
    '3L',
    '2.5',
    "'3'",
    '007',
    `1${'0'.repeat(80)}`,
  );
  const shapeArb = fc.oneof(
    fc
      .array(dimArb, { maxLength: 4 })
      .map((dims) => (dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`)),
    fc.constantFrom(
      '(3)',
      '[2, 3]',
      '3',
      'None',
      '()',
      '(,)',
      '((2, 3),)',
      `${'('.repeat(40)}${')'.repeat(40)}`,
      '(2, 3',
    ),
  );
  const extraArb = fc.constantFrom(
    '',
    '',
    '',
    "'extra': 1, ",
    "'descr': '<f4', ",
    "'shape': (1,), ",
    '1: 2, ',
    '"x": [], ',
  );
  const headerArb = fc.record({
    descr: descrArb,
    fortran: fortranArb,
    shape: shapeArb,
    extra: extraArb,
    drop: fc.constantFrom(-1, -1, -1, 0, 1, 2),
    quote: fc.boolean(),
    version: fc.constantFrom<1 | 2 | 3>(1, 1, 2, 3),
    headerLenDelta: fc.oneof(
      { weight: 8, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.integer({ min: -70, max: 70 }) },
      { weight: 1, arbitrary: fc.constantFrom(65535, 1 << 20, 0x7fffffff, -1000000) },
    ),
    pad: fc.boolean(),
    dataDelta: fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.integer({ min: -9, max: 9 }) },
    ),
  });

  /** Builds the file a header case describes: data sized as the header says (if it can be read), +/- a few bytes. */
  function headerCase(h: typeof headerArb extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
    const entries = [`'descr': ${h.descr}`, `'fortran_order': ${h.fortran}`, `'shape': ${h.shape}`].filter(
      (_, i) => i !== h.drop,
    );
    let text = `{${entries.join(', ')}, ${h.extra}}`;
    if (h.quote) text = text.replace(/'(descr|fortran_order|shape)'/g, '"$1"');
    // Data as the header would describe it, when it describes a small array; else a few bytes.
    const size = Number(/(\d+)'?$/.exec(h.descr.replace(/'$/, ''))?.[1] ?? 4) || 4;
    const dims = /^\(([\d, ]*)\)$/
      .exec(h.shape)?.[1]
      ?.split(',')
      .filter((d) => d.trim() !== '')
      .map(Number) ?? [1];
    const elements = dims.reduce((a, b) => a * b, 1);
    const bytes = Number.isSafeInteger(elements) && elements * size <= 4096 ? elements * size : 8;
    const data = new Uint8Array(Math.max(0, bytes + h.dataDelta)).fill(0x3f);
    const prefix = h.version === 1 ? 10 : 12;
    const total = h.pad ? Math.ceil((prefix + text.length + 1) / 64) * 64 - prefix : text.length;
    return npyFile(text, data, {
      version: h.version,
      headerLen: Math.max(0, total + h.headerLenDelta),
      pad: h.pad,
    });
  }

  it('headers that lie about version, HEADER_LEN, descr, fortran_order or shape name their field', () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const bytes = headerCase(h);
        const parsed = parseOrFormatError(bytes);
        if (!(parsed instanceof NpyFormatError)) expectConsistent(parsed, bytes);
      }),
      { numRuns: runs(0.03, 3000) },
    );
  });

  it('deeply nested and very long headers are refused without a stack overflow or a hang', () => {
    const deep = dict("'<f4'", 'False', `${'('.repeat(5000)}${')'.repeat(5000)}`);
    expect(parseOrFormatError(npyFile(deep, new Uint8Array(0), { version: 2 }))).toMatchObject({
      field: 'header',
    });
    const long = dict("'<f4'", 'False', `(${'1, '.repeat(30000)})`);
    expect(parseOrFormatError(npyFile(long, new Uint8Array(0), { version: 2 }))).toBeInstanceOf(
      NpyFormatError,
    );
    const huge = npyFile(dict("'<f4'", 'False', '(1,)'), new Uint8Array(4), {
      version: 2,
      headerLen: 2 ** 31,
    });
    expect(parseOrFormatError(huge)).toMatchObject({ field: 'HEADER_LEN' });
  });
});

describe('malformed .npy files through the hnm bin (exit 1, file and field named, nothing written)', () => {
  let dir = '';
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hnm-npy-fuzz-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const good = {
    loss: encodeNpy(
      Float32Array.from({ length: 12 }, (_, i) => (i * 7) % 5),
      [3, 4],
    ),
    counts: encodeNpy(Int32Array.of(1, 2, 3), [3]),
    positives: encodeNpy(Uint8Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1), [3, 4], { bool: true }),
    logits: encodeNpy(
      Float32Array.from({ length: 24 }, (_, i) => i % 3),
      [3, 4, 2],
    ),
    labels: encodeNpy(Int32Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1), [3, 4]),
  };

  /** One representative file per kind of damage (named for the failure message). */
  function malformed(): [string, Uint8Array][] {
    const loss = good.loss;
    const f4 = (shape: string, data = new Uint8Array(48), extra = '') =>
      npyFile(dict("'<f4'", 'False', shape, extra), data);
    return [
      ['empty', new Uint8Array(0)],
      ['random', Uint8Array.from({ length: 200 }, (_, i) => (i * 193 + 71) & 255)],
      ['text', new TextEncoder().encode('descr,fortran_order,shape\n1,2,3\n')],
      ['magic_only', Uint8Array.from(MAGIC)],
      ['cut_version', loss.subarray(0, 7)],
      ['cut_headerlen', loss.subarray(0, 9)],
      ['cut_header', loss.subarray(0, 40)],
      ['cut_before_newline', loss.subarray(0, 63)],
      ['cut_data', loss.subarray(0, loss.length - 1)],
      ['trailing', Uint8Array.from([...loss, 0, 0, 0, 0])],
      ['version_4', Uint8Array.from([...loss.subarray(0, 6), 4, 0, ...loss.subarray(8)])],
      ['version_1_1', Uint8Array.from([...loss.subarray(0, 6), 1, 1, ...loss.subarray(8)])],
      ['headerlen_short', npyFile(dict("'<f4'", 'False', '(3, 4)'), new Uint8Array(48), { headerLen: 30 })],
      ['headerlen_long', npyFile(dict("'<f4'", 'False', '(3, 4)'), new Uint8Array(48), { headerLen: 5000 })],
      [
        'headerlen_huge',
        npyFile(dict("'<f4'", 'False', '(3, 4)'), new Uint8Array(48), { version: 2, headerLen: 2 ** 31 }),
      ],
      ['not_dict', npyFile("['<f4', False, (3, 4)]", new Uint8Array(48))],
      [
        'bad_literal',
        npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4}", new Uint8Array(48)),
      ],
      [
        'unterminated',
        npyFile("{'descr': '<f4, 'fortran_order': False, 'shape': (3, 4), }", new Uint8Array(48)),
      ],
      ['extra_key', f4('(3, 4)', new Uint8Array(48), "'extra': 1, ")],
      ['no_shape', npyFile("{'descr': '<f4', 'fortran_order': False, }", new Uint8Array(48))],
      ['no_descr', npyFile("{'fortran_order': False, 'shape': (3, 4), }", new Uint8Array(48))],
      ['descr_complex', npyFile(dict("'<c8'", 'False', '(3, 4)'), new Uint8Array(96))],
      ['descr_object', npyFile(dict("'|O'", 'False', '(3, 4)'), new Uint8Array(96))],
      ['descr_record', npyFile(dict("[('a', '<f4')]", 'False', '(3, 4)'), new Uint8Array(48))],
      ['descr_lies_size', npyFile(dict("'<f8'", 'False', '(3, 4)'), new Uint8Array(48))],
      ['descr_f2', npyFile(dict("'<f2'", 'False', '(3, 4)'), new Uint8Array(24))],
      ['fortran_string', npyFile(dict("'<f4'", "'yes'", '(3, 4)'), new Uint8Array(48))],
      ['fortran_true', npyFile(dict("'<f4'", 'True', '(3, 4)'), new Uint8Array(48))],
      ['shape_more', f4('(4, 4)')],
      ['shape_less', f4('(2, 4)')],
      ['shape_3d', f4('(3, 2, 2)')],
      ['shape_1d', f4('(12,)')],
      ['shape_0d', npyFile(dict("'<f4'", 'False', '()'), new Uint8Array(4))],
      ['shape_negative', f4('(-3, -4)')],
      ['shape_float', f4('(3.0, 4)')],
      ['shape_list', f4('[3, 4]')],
      ['shape_overflow', f4('(18446744073709551616, 0)', new Uint8Array(0))],
      ['shape_product_overflow', f4('(4294967296, 4294967296)')],
      ['empty_rows_huge_cols', f4('(0, 9007199254740991)', new Uint8Array(0))],
      ['empty_rows_int32_cols', f4('(0, 2147483648)', new Uint8Array(0))],
      ['zero_cols', f4('(3, 0)', new Uint8Array(0))],
      ['logits_row_too_long', npyFile(dict("'<f4'", 'False', '(0, 1073741824, 4)'), new Uint8Array(0))],
      [
        'latin1_v3',
        npyFile(dict("'<f4'", 'False', '(3, 4)', "'\xe9': 1, "), new Uint8Array(48), { version: 3 }).map(
          (b, i, a) => (i > 12 && i < a.length - 48 && b === 0xc3 ? 0xe9 : b),
        ),
      ],
    ];
  }

  /** How each malformed file is given to the bin: the loss of mine and rank, or one of mine's other inputs. */
  const ROLES = ['loss', 'rank', 'counts', 'positives', 'logits', 'labels'] as const;

  function argsFor(role: (typeof ROLES)[number], bad: string, out: string): string[] {
    const file = (name: keyof typeof good) => join(dir, `good_${name}.npy`);
    switch (role) {
      case 'loss':
        return ['mine', '--loss', bad, '--num-neg', '2', '--out', out];
      case 'rank':
        return ['rank', '--loss', bad, '--out', out];
      case 'counts':
        return ['mine', '--loss', file('loss'), '--num-neg-file', bad, '--out', out];
      case 'positives':
        return ['mine', '--loss', file('loss'), '--positives', bad, '--out', out];
      case 'logits':
        return ['mine', '--logits', bad, '--labels', file('labels'), '--out', out];
      case 'labels':
        return ['mine', '--logits', file('logits'), '--labels', bad, '--out', out];
    }
  }

  it('a batch-wide preset over more than 2^31 - 1 elements (sparse 8 GiB file) exits 1 naming shape', async () => {
    // Valid files, just too big to rank at once (it used to end in an internal error with a stack trace).
    const big = (name: string, descr: string, itemSize: number): string => {
      const path = join(dir, name);
      const header = npyFile(dict(`'${descr}'`, 'False', '(2, 1073741824)'), new Uint8Array(0));
      writeFileSync(path, header);
      truncateSync(path, header.length + 2 * 1073741824 * itemSize); // sparse: no disk used
      return path;
    };
    const loss = big('big_loss.npy', '<f4', 4);
    const positives = big('big_pos.npy', '|b1', 1);
    const out = join(dir, 'out_big.npy');
    const run = await hnm(
      ['mine', '--loss', loss, '--positives', positives, '--preset', 'ssd_keras', '--out', out],
      {
        cwd: dir,
      },
    );
    rmSync(loss);
    rmSync(positives);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /big_loss\.npy: header field 'shape' is \(2, 1073741824\); a batch-wide preset/,
    );
    expect(run.stderr).not.toMatch(STACK_TRACE);
    expect(readdirSync(dir).filter((f) => f.includes('out_big'))).toEqual([]);
  });

  it('each damaged file, as each kind of input, exits 1 naming the file and the field', async () => {
    for (const [name, bytes] of Object.entries(good)) writeFileSync(join(dir, `good_${name}.npy`), bytes);
    const cases = malformed();
    const jobs: { label: string; args: string[]; bad: string; out: string }[] = [];
    cases.forEach(([name, bytes], i) => {
      const bad = join(dir, `bad_${name}.npy`);
      writeFileSync(bad, bytes);
      // `npm test`: each file in one role, in turn (files named for a role get it, empty-rows ones are
      // losses). `npm run fuzz`: every file in every role.
      const fixed =
        ROLES.find((role) => name.startsWith(`${role}_`)) ??
        (name.startsWith('empty_rows') ? 'loss' : undefined);
      const roles = FUZZ_RUNS >= 10_000 ? ROLES : [fixed ?? ROLES[i % ROLES.length]!];
      for (const role of roles) {
        const out = join(dir, `out_${name}_${role}.npy`);
        jobs.push({ label: `${name} as ${role}`, args: argsFor(role, bad, out), bad, out });
      }
    });
    const failures: string[] = [];
    // Four processes at a time: each run is mostly process start-up.
    for (let at = 0; at < jobs.length; at += 4) {
      const batch = jobs.slice(at, at + 4);
      const runs = await Promise.all(batch.map((job) => hnm(job.args, { cwd: dir, timeoutMs: 30_000 })));
      runs.forEach((run, j) => {
        const job = batch[j]!;
        const problems: string[] = [];
        if (run.code !== 1) problems.push(`exit ${run.code} (signal ${run.signal})`);
        if (STACK_TRACE.test(run.stderr)) problems.push('stack trace');
        if (!run.stderr.includes(job.bad)) problems.push('file not named');
        if (
          !/magic string|version|HEADER_LEN|'descr'|'fortran_order'|'shape'|header|empty/.test(run.stderr)
        ) {
          problems.push('field not named');
        }
        if (run.stdout !== '') problems.push('stdout not empty');
        if (problems.length > 0)
          failures.push(
            `${job.label}: ${problems.join(', ')}\n  ${run.stderr.trim().split('\n').join('\n  ')}`,
          );
      });
    }
    const leftovers = readdirSync(dir).filter((f) => f.startsWith('out_') || f.startsWith('.out_'));
    expect(failures).toEqual([]);
    expect(leftovers).toEqual([]);
    expect(jobs.length).toBeGreaterThanOrEqual(cases.length);
  }, 300_000);
});
