import { describe, expect, it } from 'vitest';
import { hardNegativeMask, rankDescending, referenceMask, referenceRank } from '../src/index.ts';

const loss = new Float32Array([1, 2, 3, 4, 5, 6]);

/** Every public entry point must report the same mistake with the same error. */
const maskEntryPoints = [
  ['hardNegativeMask', hardNegativeMask],
  ['referenceMask', referenceMask],
] as const;
const rankEntryPoints = [
  ['rankDescending', rankDescending],
  ['referenceRank', referenceRank],
] as const;

describe.each(maskEntryPoints)('%s validation', (_name, mask) => {
  const call =
    (...args: unknown[]) =>
    () =>
      (mask as (...a: unknown[]) => unknown)(...args);

  it('rejects a loss that is not a Float32Array with TypeError', () => {
    expect(call([1, 2, 3], 3, 1)).toThrow(new TypeError('`loss` must be a Float32Array, got an array'));
    expect(call(new Float64Array(3), 3, 1)).toThrow(
      new TypeError('`loss` must be a Float32Array, got Float64Array'),
    );
    expect(call(null, 3, 1)).toThrow(new TypeError('`loss` must be a Float32Array, got null'));
  });

  it('rejects a bad cols', () => {
    expect(call(loss, '3', 1)).toThrow(new TypeError('`cols` must be a number, got "3"'));
    expect(call(loss, 0, 1)).toThrow(new RangeError('`cols` must be a positive integer, got 0'));
    expect(call(loss, 1.5, 1)).toThrow(new RangeError('`cols` must be a positive integer, got 1.5'));
    expect(call(loss, Number.NaN, 1)).toThrow(new RangeError('`cols` must be a positive integer, got NaN'));
    expect(call(loss, 4, 1)).toThrow(new RangeError('`cols` (4) must divide `loss.length` (6)'));
  });

  it('rejects negative, fractional, NaN and infinite counts with RangeError', () => {
    expect(call(loss, 3, -1)).toThrow(new RangeError('`numNeg` must be a finite integer >= 0, got -1'));
    expect(call(loss, 3, 0.5)).toThrow(new RangeError('`numNeg` must be a finite integer >= 0, got 0.5'));
    expect(call(loss, 3, Number.NaN)).toThrow(
      new RangeError('`numNeg` must be a finite integer >= 0, got NaN'),
    );
    expect(call(loss, 3, Number.POSITIVE_INFINITY)).toThrow(
      new RangeError('`numNeg` must be a finite integer >= 0, got Infinity'),
    );
    expect(call(loss, 3, [1, -2])).toThrow(
      new RangeError('`numNeg[1]` must be a finite integer >= 0, got -2'),
    );
    expect(call(loss, 3, new Float64Array([1.25, 1]))).toThrow(
      new RangeError('`numNeg[0]` must be a finite integer >= 0, got 1.25'),
    );
  });

  it('rejects counts of the wrong type or length', () => {
    expect(call(loss, 3, '2')).toThrow(
      new TypeError('`numNeg` must be a number or an array-like of numbers, got "2"'),
    );
    expect(call(loss, 3, undefined)).toThrow(
      new TypeError('`numNeg` must be a number or an array-like of numbers, got undefined'),
    );
    expect(call(loss, 3, [1, '2'])).toThrow(new TypeError('`numNeg[1]` must be a number, got "2"'));
    expect(call(loss, 3, [1n, 2n])).toThrow(new TypeError('`numNeg[0]` must be a number, got 1n'));
    expect(call(loss, 3, [1, 2, 3])).toThrow(
      new RangeError('`numNeg` must have one entry per row (2), got 3'),
    );
  });

  it('rejects a bad nan option', () => {
    expect(call(loss, 3, 1, { nan: 'ignore' })).toThrow(
      new TypeError("`options.nan` must be 'error' or 'largest', got \"ignore\""),
    );
    expect(call(loss, 3, 1, 'largest')).toThrow(new TypeError('`options` must be an object, got "largest"'));
  });

  it('names the row and column of a NaN loss (0-based)', () => {
    const withNan = new Float32Array([1, 2, 3, 4, Number.NaN, 6]);
    expect(call(withNan, 3, 1)).toThrow(
      new RangeError(
        "loss is NaN at row 1, column 1; pass `nan: 'largest'` to rank NaN above +Inf as PyTorch does",
      ),
    );
  });

  it('rejects a NaN loss even when the count selects nothing or everything', () => {
    const withNan = new Float32Array([1, 2, 3, 4, Number.NaN, 6]);
    expect(call(withNan, 3, 0)).toThrow(/row 1, column 1/);
    expect(call(withNan, 3, 3)).toThrow(/row 1, column 1/);
  });
});

describe('hardNegativeMask options.out', () => {
  it('must be a Uint8Array of rows * cols bytes', () => {
    expect(() => hardNegativeMask(loss, 3, 1, { out: new Int8Array(6) as unknown as Uint8Array })).toThrow(
      new TypeError('`options.out` must be a Uint8Array, got Int8Array'),
    );
    expect(() => hardNegativeMask(loss, 3, 1, { out: new Uint8Array(5) })).toThrow(
      new RangeError('`options.out` must have 6 elements (rows * cols), got 5'),
    );
  });
});

describe.each(rankEntryPoints)('%s validation', (_name, rank) => {
  const call =
    (...args: unknown[]) =>
    () =>
      (rank as (...a: unknown[]) => unknown)(...args);

  it('checks loss, cols, options and NaN like the mask', () => {
    expect(call(new Uint8Array(3), 3)).toThrow(
      new TypeError('`loss` must be a Float32Array, got Uint8Array'),
    );
    expect(call(loss, -3)).toThrow(new RangeError('`cols` must be a positive integer, got -3'));
    expect(call(loss, 3, { nan: 1 })).toThrow(
      new TypeError("`options.nan` must be 'error' or 'largest', got 1"),
    );
    expect(call(new Float32Array([0, Number.NaN]), 2)).toThrow(/row 0, column 1/);
  });
});

describe('rankDescending options.out', () => {
  it('must be an Int32Array of rows * cols elements', () => {
    expect(() => rankDescending(loss, 3, { out: new Uint32Array(6) as unknown as Int32Array })).toThrow(
      new TypeError('`options.out` must be an Int32Array, got Uint32Array'),
    );
    expect(() => rankDescending(loss, 3, { out: new Int32Array(7) })).toThrow(
      new RangeError('`options.out` must have 6 elements (rows * cols), got 7'),
    );
  });
});
