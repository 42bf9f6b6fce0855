/**
 * `gather(row, n4, limit, cand, keys, base) -> count`, WebAssembly SIMD, four elements a step: the
 * candidate pass of the mask kernel over a staged row (see wasm-kernel.ts).
 *
 * For the `n4` int32 float bits at byte offset `row` (`n4` a multiple of 4), writes at `cand` the
 * flat indices `base + i`, in increasing order, of every element whose order key without the `-0`
 * fix (`b ^ ((b >> 31) & 0x7fffffff)`) is `>= limit`, and at `keys` their full order keys (`-0` on
 * `+0`); returns their count, or -1 if an element is a NaN (the kernel's probe:
 * `((b & 0x7fffffff) + 0x7fffff) < 0`). Per step: compare the four keys with the limit, take the
 * 4-bit lane mask, and store the four indices and the four keys shuffled by the 16-entry table at
 * byte 0 of the memory (entry `m`: the lanes set in `m` first), then advance the count by the mask's
 * popcount. Branch-free, like the JavaScript gather it replaces; each store writes 4 lanes, so
 * `cand` and `keys` need 3 entries of slack.
 */
import type { WasmFunction } from './encode.ts';
import {
  BR_IF,
  END,
  get,
  I8X16_SWIZZLE,
  I32,
  I32_ADD,
  I32_LT_U,
  I32_POPCNT,
  I32_SHL,
  I32X4_ADD,
  I32X4_BITMASK,
  I32X4_GE_S,
  I32X4_SHR_S,
  I32X4_SPLAT,
  I32X4_SUB,
  IF,
  i32,
  LOOP,
  lanes,
  mem,
  RETURN,
  set,
  simd,
  splat,
  tee,
  V128,
  V128_AND,
  V128_LOAD,
  V128_OR,
  V128_STORE,
  V128_XOR,
  VOID,
} from './encode.ts';

// Parameters 0-5, then locals: 6 end, 7 count, 8 lane mask (i32); 9 indices, 10 limits, 11 probe,
// 12 v, 13 v's sign (all ones where negative), 14 v's key without the -0 fix, 15 shuffle (v128).
const ROW = 0;
const N4 = 1;
const LIMIT = 2;
const CAND = 3;
const KEYS = 4;
const BASE = 5;
const ENDP = 6;
const COUNT = 7;
const MASK = 8;
const INDICES = 9;
const LIMITS = 10;
const PROBE = 11;
const V = 12;
const SIGN = 13;
const KX = 14;
const SHUFFLE = 15;

// biome-ignore format: a listing, one step of the algorithm per line
const BODY: number[] = [
  // end = row + n4 * 4; limits = splat(limit); indices = splat(base) + [0, 1, 2, 3]
  ...get(ROW), ...get(N4), ...i32(2), I32_SHL, I32_ADD, ...set(ENDP),
  ...get(LIMIT), ...simd(I32X4_SPLAT), ...set(LIMITS),
  ...get(BASE), ...simd(I32X4_SPLAT), ...lanes(0, 1, 2, 3), ...simd(I32X4_ADD), ...set(INDICES),
  LOOP, VOID,
  //   v = load(row); probe |= (v & 0x7fffffff) + 0x7fffff
  ...get(ROW), ...simd(V128_LOAD, ...mem(4)), ...tee(V),
  ...splat(0x7fffffff), ...simd(V128_AND), ...splat(0x7fffff), ...simd(I32X4_ADD),
  ...get(PROBE), ...simd(V128_OR), ...set(PROBE),
  //   sign = v >> 31; kx = v ^ (sign & 0x7fffffff); mask = bitmask(kx >= limits)
  ...get(V), ...get(V), ...i32(31), ...simd(I32X4_SHR_S), ...tee(SIGN), ...splat(0x7fffffff), ...simd(V128_AND),
  ...simd(V128_XOR), ...tee(KX), ...get(LIMITS), ...simd(I32X4_GE_S), ...simd(I32X4_BITMASK), ...set(MASK),
  //   shuffle = table[mask]: the selected lanes first
  ...get(MASK), ...i32(4), I32_SHL, ...simd(V128_LOAD, ...mem(4)), ...set(SHUFFLE),
  //   store(cand + count * 4, swizzle(indices, shuffle))
  ...get(CAND), ...get(COUNT), ...i32(2), I32_SHL, I32_ADD,
  ...get(INDICES), ...get(SHUFFLE), ...simd(I8X16_SWIZZLE), ...simd(V128_STORE, ...mem(2)),
  //   store(keys + count * 4, swizzle(kx - sign, shuffle)): the full key, -0 on +0
  ...get(KEYS), ...get(COUNT), ...i32(2), I32_SHL, I32_ADD,
  ...get(KX), ...get(SIGN), ...simd(I32X4_SUB), ...get(SHUFFLE), ...simd(I8X16_SWIZZLE),
  ...simd(V128_STORE, ...mem(2)),
  //   count += popcnt(mask); indices += 4; row += 16; continue while row < end
  ...get(COUNT), ...get(MASK), I32_POPCNT, I32_ADD, ...set(COUNT),
  ...get(INDICES), ...splat(4), ...simd(I32X4_ADD), ...set(INDICES),
  ...get(ROW), ...i32(16), I32_ADD, ...tee(ROW), ...get(ENDP), I32_LT_U, BR_IF, 0,
  END,
  // a NaN anywhere: -1, else the count
  ...get(PROBE), ...simd(I32X4_BITMASK), IF, VOID, ...i32(-1), RETURN, END,
  ...get(COUNT),
  END,
];

export const GATHER: WasmFunction = {
  name: 'gather',
  params: 6,
  locals: [
    [3, I32],
    [7, V128],
  ],
  body: BODY,
};
