/**
 * A minimal WebAssembly binary encoder for the kernel's two hand-written functions (gather.ts,
 * select.ts): opcode names, LEB128, and a module with one imported memory. The listings stay
 * readable (one step per line, with its meaning in a comment) and the module is built when the
 * kernel loads, so there is no generated binary and no toolchain to install.
 *
 * Reference: the WebAssembly core specification 2.0, "Binary Format" (SIMD instructions are the
 * prefix 0xfd plus a LEB128 number; bulk-memory ones 0xfc plus one).
 */

export const I32 = 0x7f;
export const V128 = 0x7b;

// Control
export const BLOCK = 0x02;
export const LOOP = 0x03;
export const IF = 0x04;
export const BR = 0x0c;
export const BR_IF = 0x0d;
export const RETURN = 0x0f;
export const END = 0x0b;
/** Block type of a block, loop or if that leaves nothing on the stack. */
export const VOID = 0x40;
export const SELECT = 0x1b;

// i32
export const I32_LOAD = 0x28;
export const I32_STORE = 0x36;
export const I32_CONST = 0x41;
export const I32_EQ = 0x46;
export const I32_LT_U = 0x49;
export const I32_GT_S = 0x4a;
export const I32_GT_U = 0x4b;
export const I32_GE_U = 0x4f;
export const I32_CLZ = 0x67;
export const I32_POPCNT = 0x69;
export const I32_ADD = 0x6a;
export const I32_SUB = 0x6b;
export const I32_AND = 0x71;
export const I32_OR = 0x72;
export const I32_XOR = 0x73;
export const I32_SHL = 0x74;
export const I32_SHR_U = 0x76;

// SIMD (after the 0xfd prefix)
export const V128_LOAD = 0x00;
export const V128_STORE = 0x0b;
export const V128_CONST = 0x0c;
export const I8X16_SWIZZLE = 0x0e;
export const I32X4_SPLAT = 0x11;
export const I32X4_GE_S = 0x3f;
export const V128_AND = 0x4e;
export const V128_OR = 0x50;
export const V128_XOR = 0x51;
export const I32X4_BITMASK = 0xa4;
export const I32X4_SHR_S = 0xac;
export const I32X4_ADD = 0xae;
export const I32X4_SUB = 0xb1;

export function uleb(n: number): number[] {
  const bytes: number[] = [];
  do {
    let b = n & 127;
    n >>>= 7;
    if (n !== 0) b |= 128;
    bytes.push(b);
  } while (n !== 0);
  return bytes;
}

export function sleb(n: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const b = n & 127;
    n >>= 7;
    if ((n === 0 && (b & 64) === 0) || (n === -1 && (b & 64) !== 0)) {
      bytes.push(b);
      return bytes;
    }
    bytes.push(b | 128);
  }
}

export const simd = (op: number, ...immediates: number[]): number[] => [0xfd, ...uleb(op), ...immediates];
export const get = (local: number): number[] => [0x20, ...uleb(local)];
export const set = (local: number): number[] => [0x21, ...uleb(local)];
export const tee = (local: number): number[] => [0x22, ...uleb(local)];
export const i32 = (value: number): number[] => [I32_CONST, ...sleb(value | 0)];
/** `memory.fill(dest, value, bytes)` on memory 0 (bulk memory). */
export const MEMORY_FILL: number[] = [0xfc, ...uleb(11), 0x00];
/** `v128.const` with four equal i32 lanes. */
export const splat = (value: number): number[] =>
  simd(V128_CONST, ...[0, 1, 2, 3].flatMap(() => [0, 8, 16, 24].map((s) => (value >>> s) & 255)));
/** `v128.const` with the four i32 lanes given (each 0..255). */
export const lanes = (a: number, b: number, c: number, d: number): number[] =>
  simd(V128_CONST, ...[a, b, c, d].flatMap((v) => [v, 0, 0, 0]));
/** memarg: log2 of the alignment, offset 0. */
export const mem = (alignLog2: number): number[] => [alignLog2, 0];
/** Address of i32 element `index` (a local) of the array at byte offset `base` (a local). */
export const at = (base: number, index: number): number[] => [
  ...get(base),
  ...get(index),
  ...i32(2),
  I32_SHL,
  I32_ADD,
];
/** `i32.load` / `i32.store` of an aligned i32. */
export const LOAD: number[] = [I32_LOAD, ...mem(2)];
export const STORE: number[] = [I32_STORE, ...mem(2)];

/** One function of a module: its name, i32 parameters, extra locals by type, and its body. */
export interface WasmFunction {
  readonly name: string;
  readonly params: number;
  readonly locals: readonly (readonly [count: number, type: number])[];
  readonly body: readonly number[];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

const name = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]));

/**
 * A module that imports its memory as `e.m` and exports `functions` by name; every function takes
 * i32 parameters and returns one i32.
 */
export function moduleBytes(functions: readonly WasmFunction[]): Uint8Array {
  const i32s = (count: number): number[][] => Array.from({ length: count }, () => [I32]);
  const types = functions.map((f) => [0x60, ...vec(i32s(f.params)), ...vec(i32s(1))]);
  const codes = functions.map((f) => {
    const code = [...vec(f.locals.map(([count, type]) => [...uleb(count), type])), ...f.body];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])), // memory e.m, min 1 page
    ...section(3, vec(functions.map((_, index) => uleb(index)))),
    ...section(7, vec(functions.map((f, index) => [...name(f.name), 0x00, ...uleb(index)]))),
    ...section(10, vec(codes)),
  ]);
}
