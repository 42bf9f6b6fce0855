import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteswap, float64ToFloat32, integersToCounts } from '../src/npy/convert.ts';
import { parseDescr } from '../src/npy/dtype.ts';
import { NpyFormatError } from '../src/npy/errors.ts';
import { encodeHeader, formatShape, parseHeader } from '../src/npy/header.ts';
import { parsePyLiteral } from '../src/npy/literal.ts';
import { NpyReader } from '../src/npy/reader.ts';
import type { NpyData } from '../src/npy/small.ts';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../src/npy/small.ts';
import { NpyWriter, removeTempFilesSync } from '../src/npy/writer.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'npy');
const fixture = (name: string): string => join(FIXTURES, `${name}.npy`);
const fixtureBytes = async (name: string): Promise<Uint8Array> =>
  new Uint8Array(await readFile(fixture(name)));

/** `np.arange(12).reshape(3, 4) * 0.5 - 2`, the fixtures' loss. */
const LOSS = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2);
/** The fixtures' float64 loss: not float32 values, an overflow, -0, a denormal. */
const F8 = [0.1, 1 / 3, -2.5, 1e-40, 1e39, -0, 3.0, 7.000000001];

/** A `.npy` file with a hand-written header dict, for malformed-header tests. */
function rawNpy(
  dict: string,
  data: Uint8Array,
  options: { major?: number; align?: number } = {},
): Uint8Array {
  const major = options.major ?? 1;
  const prefix = major === 1 ? 10 : 12;
  const align = options.align ?? 64;
  const dictBytes = new TextEncoder().encode(dict);
  let pad = 0;
  while ((prefix + dictBytes.length + pad + 1) % align !== 0) pad++;
  const header = new Uint8Array(dictBytes.length + pad + 1);
  header.set(dictBytes);
  header.fill(0x20, dictBytes.length, header.length - 1);
  header[header.length - 1] = 0x0a;
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, prefix);
  out.set(data, prefix + header.length);
  return out;
}

/** The field named by the NpyFormatError `fn` throws. */
function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NpyFormatError);
    return (e as NpyFormatError).field;
  }
  throw new Error('expected an NpyFormatError');
}

const f4 = (n: number) => new Uint8Array(n * 4);

describe('header parsing: numpy-written files', () => {
  it('reads a version 1.0 float32 file: shape, dtype, data offset aligned to 64', async () => {
    const bytes = await fixtureBytes('loss_f4');
    const header = parseHeader(bytes, bytes.length, 'loss_f4.npy');
    expect(header).toMatchObject({
      version: '1.0',
      fortranOrder: false,
      shape: [3, 4],
      length: 12,
      dataBytes: 48,
    });
    expect(header.dtype).toEqual({ descr: '<f4', kind: 'f', size: 4, bigEndian: false });
    expect(header.dataOffset % 64).toBe(0);
    expect(parseNpy(bytes).data).toEqual(LOSS);
  });

  it.each([
    ['loss_f4_v2', '2.0'],
    ['loss_f4_v3', '3.0'],
  ])('reads %s (format %s, 4-byte HEADER_LEN)', async (name, version) => {
    const bytes = await fixtureBytes(name);
    const array = parseNpy(bytes, name);
    expect(parseHeader(bytes, bytes.length, name).version).toBe(version);
    expect(array.shape).toEqual([3, 4]);
    expect(array.data).toEqual(LOSS);
  });

  it('reads a version 3.0 header with UTF-8 text', () => {
    const bytes = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } # é", f4(1), {
      major: 3,
    });
    // A comment is not Python literal syntax: the parser must reject it, naming the header.
    expect(fieldOf(() => parseNpy(bytes))).toBe('header');
    const ok = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'é': 1}", f4(1), { major: 3 });
    expect(fieldOf(() => parseNpy(ok))).toBe('é');
  });

  it('accepts old 16-byte-aligned headers and Python 2 long integers', () => {
    const bytes = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}", f4(6), { align: 16 });
    const header = parseHeader(bytes, bytes.length, 'old.npy');
    expect(header.shape).toEqual([2, 3]);
    expect(header.dataOffset % 16).toBe(0);
  });

  it('accepts double quotes, key order and missing trailing comma', () => {
    const bytes = rawNpy('{"shape": (2,), "descr": "<f4", "fortran_order": False}', f4(2));
    expect(parseNpy(bytes).shape).toEqual([2]);
  });

  it('returns Fortran-order arrays in C order (or as stored, when asked), and 0-d and empty arrays', async () => {
    // numpy wrote the same (3, 4) array in both orders: by default both read back row-major.
    const fortran = parseNpy(await fixtureBytes('loss_f4_fortran'));
    const c = parseNpy(await fixtureBytes('loss_f4'));
    expect(fortran.fortranOrder).toBe(false);
    expect(fortran.data).toEqual(c.data);
    const raw = parseNpy(await fixtureBytes('loss_f4_fortran'), 'f.npy', { keepFortranOrder: true });
    expect(raw.fortranOrder).toBe(true);
    expect([...raw.data.subarray(0, 5)]).toEqual([-2, 0, 2, -1.5, 0.5]); // numpy's ravel(order='F')
    expect((await readNpy(join(FIXTURES, 'loss_f4_fortran.npy'))).data).toEqual(c.data);
    expect(parseNpy(await fixtureBytes('loss_f4_empty')).shape).toEqual([0, 4]);
    const scalar = rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", new Uint8Array(8));
    expect(parseNpy(scalar).data).toEqual(new Float64Array([0]));
  });

  it('reads 3-D and structured arrays only as far as the header (callers reject them)', async () => {
    expect(parseNpy(await fixtureBytes('loss_f4_3d')).shape).toEqual([2, 3, 4]);
    const bytes = await fixtureBytes('structured');
    expect(fieldOf(() => parseNpy(bytes))).toBe('descr');
  });
});

describe('header validation: every field against the file size', () => {
  const good = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4(6));

  it('an empty file, garbage and a wrong magic string name the magic string', () => {
    expect(fieldOf(() => parseNpy(new Uint8Array(0)))).toBe('magic string');
    expect(fieldOf(() => parseNpy(new TextEncoder().encode('hello, world\n')))).toBe('magic string');
    const bad = good.slice();
    bad[1] = 0x4f;
    expect(fieldOf(() => parseNpy(bad))).toBe('magic string');
  });

  it('unknown versions and a file cut in the prefix name version / HEADER_LEN', () => {
    for (const [major, minor] of [
      [0, 0],
      [4, 0],
      [1, 1],
    ]) {
      const bad = good.slice();
      bad[6] = major!;
      bad[7] = minor!;
      expect(fieldOf(() => parseNpy(bad))).toBe('version');
    }
    expect(fieldOf(() => parseNpy(good.subarray(0, 7)))).toBe('version');
    expect(fieldOf(() => parseNpy(good.subarray(0, 9)))).toBe('HEADER_LEN');
  });

  it('a HEADER_LEN beyond the end of the file (truncated header) names HEADER_LEN', () => {
    expect(fieldOf(() => parseNpy(good.subarray(0, 40)))).toBe('HEADER_LEN');
    const lying = good.slice();
    new DataView(lying.buffer).setUint16(8, 60000, true);
    expect(fieldOf(() => parseNpy(lying))).toBe('HEADER_LEN');
    const huge = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f4(1), { major: 2 });
    new DataView(huge.buffer).setUint32(8, 0xfffffff0, true);
    expect(fieldOf(() => parseNpy(huge))).toBe('HEADER_LEN');
  });

  it('truncated data, or a shape that lies either way, names shape', () => {
    expect(fieldOf(() => parseNpy(good.subarray(0, good.length - 1)))).toBe('shape');
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expect(fieldOf(() => parseNpy(longer))).toBe('shape');
    const lies = rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (20000, 8732), }", f4(6));
    expect(() => parseNpy(lies, 'lies.npy')).toThrow(
      /lies\.npy: .*'shape' \(20000, 8732\).*698,560,000 bytes/,
    );
  });

  it('names each malformed field', () => {
    const cases: [string, string][] = [
      ["{'descr': '<f4', 'fortran_order': False}", 'shape'],
      ["{'fortran_order': False, 'shape': (6,)}", 'descr'],
      ["{'descr': '<f4', 'shape': (6,)}", 'fortran_order'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", 'extra'],
      ["{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", 'descr'],
      ["{'descr': '|O', 'fortran_order': False, 'shape': (6,)}", 'descr'],
      ["{'descr': '<U1', 'fortran_order': False, 'shape': (6,)}", 'descr'],
      ["{'descr': 4, 'fortran_order': False, 'shape': (6,)}", 'descr'],
      ["{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", 'fortran_order'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': 6}", 'shape'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", 'shape'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", 'shape'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': ('6',)}", 'shape'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 'shape'],
      ["['descr', '<f4']", 'header'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", 'header'],
      ["{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", 'header'],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk", 'header'],
      ['{1: 2}', 'header'],
      [`${'('.repeat(100)}`, 'header'],
    ];
    for (const [dict, field] of cases) {
      expect([dict, fieldOf(() => parseNpy(rawNpy(dict, f4(6)), 'x.npy'))]).toEqual([dict, field]);
    }
  });

  it('messages start with the file name', () => {
    expect(() => parseNpy(new Uint8Array(3), 'my/loss.npy')).toThrow(/^my\/loss\.npy: /);
  });
});

describe('parsePyLiteral', () => {
  it('parses tuples as Python does: (3) is an int, (3,) a 1-tuple, () empty', () => {
    expect(parsePyLiteral('(3)')).toEqual({ kind: 'int', value: 3n });
    expect(parsePyLiteral('(3,)')).toEqual({ kind: 'tuple', items: [{ kind: 'int', value: 3n }] });
    expect(parsePyLiteral(' ( ) ')).toEqual({ kind: 'tuple', items: [] });
  });

  it('parses strings with escapes, booleans, None and lists', () => {
    expect(parsePyLiteral(String.raw`'it\'s'`)).toEqual({ kind: 'str', value: "it's" });
    expect(parsePyLiteral('[True, None]')).toEqual({
      kind: 'list',
      items: [{ kind: 'bool', value: true }, { kind: 'none' }],
    });
  });

  it('rejects what ast.literal_eval would not take here', () => {
    for (const text of ['', 'foo', '01', "'open", '(1 2)', '{1: }', '1.5']) {
      expect(() => parsePyLiteral(text)).toThrow();
    }
  });
});

describe('dtypes', () => {
  it('parses byte order, kind and size', () => {
    expect(parseDescr('>i8', 'f')).toEqual({ descr: '>i8', kind: 'i', size: 8, bigEndian: true });
    expect(parseDescr('|b1', 'f')).toEqual({ descr: '|b1', kind: 'b', size: 1, bigEndian: false });
    expect(parseDescr('>u1', 'f').bigEndian).toBe(false);
    expect(parseDescr('=f4', 'f').bigEndian).toBe(false);
    expect(parseDescr('?', 'f').kind).toBe('b');
    for (const bad of ['<f16', '<i3', '<b2', '<c8', '<M8', 'f4x', '']) {
      expect(() => parseDescr(bad, 'f')).toThrow(NpyFormatError);
    }
  });
});

describe('conversions', () => {
  it('byteswap reverses each element', () => {
    const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    byteswap(raw, 4);
    expect([...raw]).toEqual([4, 3, 2, 1, 8, 7, 6, 5]);
    byteswap(raw, 8);
    expect([...raw]).toEqual([5, 6, 7, 8, 1, 2, 3, 4]);
    byteswap(raw, 2);
    expect([...raw]).toEqual([6, 5, 8, 7, 2, 1, 4, 3]);
  });

  it('float64 to float32 rounds to nearest, keeps -0, overflows to Infinity', () => {
    const src = new Float64Array(F8);
    const dst = new Float32Array(F8.length);
    float64ToFloat32(new Uint8Array(src.buffer), F8.length, dst);
    expect([...dst]).toEqual(F8.map(Math.fround));
    expect(Object.is(dst[5], -0)).toBe(true);
    expect(dst[4]).toBe(Number.POSITIVE_INFINITY);
  });

  it('integer counts clamp to the cap and report the first negative', () => {
    const dst = new Int32Array(4);
    const i64 = new BigInt64Array([3n, 2n ** 40n, 0n, -1n]);
    expect(integersToCounts(new Uint8Array(i64.buffer), 'i', 8, 4, dst, 10)).toBe(3);
    expect([...dst.subarray(0, 3)]).toEqual([3, 10, 0]);
    const u64 = new BigUint64Array([2n ** 64n - 1n, 5n, 2n ** 32n, 4294967295n]);
    expect(integersToCounts(new Uint8Array(u64.buffer), 'u', 8, 4, dst, 7)).toBe(-1);
    expect([...dst]).toEqual([7, 5, 7, 7]);
    const i1 = new Int8Array([5, -128]);
    expect(integersToCounts(new Uint8Array(i1.buffer), 'i', 1, 2, dst, 100)).toBe(1);
    const u4 = new Uint32Array([4294967295]);
    expect(integersToCounts(new Uint8Array(u4.buffer), 'u', 4, 1, dst, 9)).toBe(-1);
    expect(dst[0]).toBe(9);
  });
});

describe('NpyReader on numpy fixtures', () => {
  async function withReader<T>(name: string, fn: (r: NpyReader) => Promise<T>): Promise<T> {
    const reader = await NpyReader.open(fixture(name));
    try {
      return await fn(reader);
    } finally {
      await reader.close();
    }
  }

  it.each(['loss_f4', 'loss_f4_be', 'loss_f4_v2', 'loss_f4_v3'])(
    '%s reads as float32, any part',
    async (name) => {
      await withReader(name, async (r) => {
        const all = new Float32Array(12);
        await r.readFloat32(0, 12, all);
        expect(all).toEqual(LOSS);
        const part = new Float32Array(new SharedArrayBuffer(5 * 4));
        await r.readFloat32(4, 5, part);
        expect([...part]).toEqual([...LOSS.subarray(4, 9)]);
      });
    },
  );

  it.each(['loss_f8', 'loss_f8_be'])('%s converts float64 to float32', async (name) => {
    await withReader(name, async (r) => {
      const dst = new Float32Array(8);
      await r.readFloat32(0, 8, dst);
      expect([...dst]).toEqual(F8.map(Math.fround));
      const tail = new Float32Array(3);
      await r.readFloat32(5, 3, tail);
      expect([...tail]).toEqual(F8.slice(5).map(Math.fround));
    });
  });

  const INT_CODES = ['i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8'];
  const INT_FIXTURES = [
    ...INT_CODES.map((c) => `counts_${c}`),
    ...INT_CODES.filter((c) => c[1] !== '1').map((c) => `counts_${c}_be`),
    'counts_i4_col',
  ];

  it.each(INT_FIXTURES)('%s reads as counts [0, 1, 2, 127], clamped to the cap', async (name) => {
    await withReader(name, async (r) => {
      const dst = new Int32Array(4);
      expect(await r.readCounts(0, 4, dst, 1000)).toBe(-1);
      expect([...dst]).toEqual([0, 1, 2, 127]);
      expect(await r.readCounts(1, 3, dst, 2)).toBe(-1);
      expect([...dst.subarray(0, 3)]).toEqual([1, 2, 2]);
    });
  });

  it('refuses float data as counts and integer data as float, naming descr', async () => {
    await withReader('loss_f4', async (r) => {
      await expect(r.readCounts(0, 1, new Int32Array(1), 5)).rejects.toMatchObject({ field: 'descr' });
    });
    await withReader('counts_i4', async (r) => {
      await expect(r.readFloat32(0, 1, new Float32Array(1))).rejects.toThrow(/'descr' is '<i4' \(int32\)/);
    });
  });

  it('reads raw bool and uint8 bytes', async () => {
    for (const name of ['positives_b1', 'positives_u1']) {
      await withReader(name, async (r) => {
        const dst = new Uint8Array(12);
        await r.readRaw(0, 12, dst);
        expect([...dst]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1]);
      });
    }
  });

  it('rejects reads outside the array', async () => {
    await withReader('loss_f4', async (r) => {
      await expect(r.readRaw(10, 3, new Uint8Array(12))).rejects.toThrow(RangeError);
    });
  });

  it('open fails with the fs error for a missing file, NpyFormatError for a folder', async () => {
    await expect(NpyReader.open(join(FIXTURES, 'missing.npy'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(NpyReader.open(FIXTURES)).rejects.toBeInstanceOf(NpyFormatError);
  });
});

describe('writing: byte-identical to np.save', () => {
  it.each([
    ['mask_b1', () => encodeNpy(new Uint8Array(12), [3, 4], { bool: true })],
    ['rank_i4', () => encodeNpy(new Int32Array(12), [3, 4])],
    ['loss_f4', () => encodeNpy(LOSS, [3, 4])],
    ['counts_i4_col', () => encodeNpy(new Int32Array([0, 1, 2, 127]), [4, 1])],
    ['counts_u8', () => encodeNpy(new BigUint64Array([0n, 1n, 2n, 127n]), [4])],
    ['counts_i1', () => encodeNpy(new Int8Array([0, 1, 2, 127]), [4])],
  ])('%s', async (name, make) => {
    expect(Buffer.from(make()).equals(Buffer.from(await fixtureBytes(name)))).toBe(true);
  });

  it('headers align the data to 64 bytes for any shape, and parse back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 12 }), (shape) => {
        const header = encodeHeader('<f4', shape);
        expect(header.length % 64).toBe(0);
        expect(header[header.length - 1]).toBe(0x0a);
        const length = shape.reduce((a, b) => a * b, 1);
        if (!Number.isSafeInteger(length * 4)) return;
        // Parsing only needs the size, not the bytes: pass a size that matches.
        const parsed = parseHeader(header, header.length + length * 4, 'x');
        expect(parsed.shape).toEqual(shape);
        expect(parsed.dataOffset).toBe(header.length);
      }),
    );
  });

  it('switches to format 2.0 for a header longer than 65535 bytes', () => {
    const shape = Array.from({ length: 25000 }, () => 1);
    const header = encodeHeader('<f4', shape);
    expect(header[6]).toBe(2);
    expect(header.length % 64).toBe(0);
    expect(parseHeader(header, header.length + 4, 'x').shape).toEqual(shape);
  });

  it('formatShape prints shapes as Python does', () => {
    expect(formatShape([])).toBe('()');
    expect(formatShape([5])).toBe('(5,)');
    expect(formatShape([2, 3])).toBe('(2, 3)');
  });

  it('encode/parse round-trips every typed array', () => {
    const arrays: NpyData[] = [
      new Uint8Array([1, 255]),
      new Int8Array([-1, 2]),
      new Int16Array([-300, 2]),
      new Int32Array([-70000, 2]),
      new BigInt64Array([-(2n ** 62n), 2n]),
      new Uint16Array([65535, 2]),
      new Uint32Array([2 ** 32 - 1, 2]),
      new BigUint64Array([2n ** 64n - 1n, 2n]),
      new Float32Array([-0, Number.NaN]),
      new Float64Array([1e300, -1e-300]),
    ];
    for (const data of arrays) {
      const back = parseNpy(encodeNpy(data, [2, 1]));
      expect(back.shape).toEqual([2, 1]);
      expect(back.data).toEqual(data);
    }
  });

  it('encodeNpy rejects a shape that does not fit the data', () => {
    expect(() => encodeNpy(new Float32Array(6), [2, 2])).toThrow(RangeError);
    expect(() => encodeNpy(new Float32Array(6), [-6])).toThrow(TypeError);
  });
});

describe('NpyWriter and the file helpers', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hnm-npy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes chunks at their offsets in any order, then renames into place', async () => {
    const file = join(dir, 'chunks.npy');
    const writer = await NpyWriter.create(file, '<f4', [3, 4], 4);
    expect(writer.dataOffset).toBe(128);
    const bytes = new Uint8Array(LOSS.buffer);
    await writer.write(bytes.subarray(32, 48), 32);
    await writer.write(bytes.subarray(0, 32), 0);
    expect(await readdir(dir)).toEqual([expect.stringMatching(/^\.chunks\.npy\..*\.tmp$/)]);
    await writer.commit();
    expect(await readdir(dir)).toEqual(['chunks.npy']);
    expect(Buffer.from(await readFile(file)).equals(Buffer.from(await fixtureBytes('loss_f4')))).toBe(true);
  });

  it('abort removes the temporary file and leaves an existing target untouched', async () => {
    const file = join(dir, 'kept.npy');
    await writeFile(file, 'old contents');
    const writer = await NpyWriter.create(file, '|b1', [2, 2], 1);
    await writer.write(new Uint8Array(2), 0);
    await writer.abort();
    await writer.abort();
    expect(await readFile(file, 'utf8')).toBe('old contents');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('commit refuses an incompletely written file and removes it', async () => {
    const file = join(dir, 'partial.npy');
    const writer = await NpyWriter.create(file, '|b1', [2, 2], 1);
    await writer.write(new Uint8Array(2), 0);
    await expect(writer.commit()).rejects.toThrow(/2 of 4 data bytes written/);
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('rejects writes outside the data', async () => {
    const writer = await NpyWriter.create(join(dir, 'outside.npy'), '|b1', [2, 2], 1);
    await expect(writer.write(new Uint8Array(2), 3)).rejects.toThrow(RangeError);
    await writer.abort();
  });

  it('removeTempFilesSync removes every open temporary file', async () => {
    const writer = await NpyWriter.create(join(dir, 'signal.npy'), '|b1', [2, 2], 1);
    removeTempFilesSync();
    expect((await readdir(dir)).filter((f) => f.includes('signal'))).toEqual([]);
    await writer.abort();
  });

  it('create fails with the fs error for a missing folder and leaves nothing', async () => {
    await expect(NpyWriter.create(join(dir, 'no', 'x.npy'), '|b1', [1], 1)).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('writeNpy/readNpy round-trip, big-endian files come back in native order', async () => {
    const file = join(dir, 'round.npy');
    await writeNpy(file, new Uint8Array([1, 0, 1]), [3], { bool: true });
    const back = await readNpy(file);
    expect(back.dtype.descr).toBe('|b1');
    expect([...back.data]).toEqual([1, 0, 1]);
    const be = await readNpy(fixture('counts_i8_be'));
    expect(be.dtype.bigEndian).toBe(true);
    expect([...(be.data as BigInt64Array)]).toEqual([0n, 1n, 2n, 127n]);
    expect((await readNpy(fixture('loss_f8_be'))).data).toEqual(new Float64Array(F8));
  });
});

describe('the in-memory codec runs anywhere', () => {
  it('src/npy/codec.ts imports no Node.js API or package, directly or indirectly', async () => {
    const seen = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*'([^']+)'/g)) {
        const spec = m[1]!;
        expect(spec.startsWith('.'), `${file} imports '${spec}'`).toBe(true);
        await visit(join(file, '..', spec));
      }
      expect(text, file).not.toMatch(/\bprocess\.|\brequire\(|import\(/);
    };
    await visit(join(import.meta.dirname, '..', 'src', 'npy', 'codec.ts'));
    expect(seen.size).toBeGreaterThanOrEqual(5); // codec, convert, dtype, header, literal, errors
  });
});
