/**
 * `select(keys, cand, c, k, wk, wi, hist, sel) -> count`, scalar WebAssembly: the radix select of
 * the mask kernel over the `c` candidates the gather left (see wasm-kernel.ts). For `0 < k < c`:
 * writes at `sel` the flat indices of the `k` candidates ranked first in stable descending order
 * (larger key first, equal keys by index) and returns `k`; as a set: `sel` holds the entries above
 * the threshold level by level (each level in index order), then the first ties. `keys`/`cand` hold
 * the candidates' order keys and flat indices in index order; `wk`/`wi` (`c` entries each) and
 * `sel` (`k` entries) are scratch; `hist` (256 i32) must be zero, and is left zero.
 *
 * The same select as the JavaScript `resolveBucket`, run from the first level: each level takes the
 * highest 8 bits where the kept keys differ (keys read in unsigned order, `key ^ 0x80000000`),
 * histograms that digit, finds the digit holding the need-th largest, appends every kept entry of a
 * higher digit to `sel` and keeps those of that digit, in index order. It stops once the kept keys
 * are all equal (they are the threshold `T`) or all needed, and appends the first `need` of them:
 * the stable tie-break. Each level narrows the kept keys' range, so there are at most four.
 * Appends are branch-free (always store, advance by the comparison).
 */
import type { WasmFunction } from './encode.ts';
import {
  at,
  BLOCK,
  BR,
  BR_IF,
  END,
  get,
  I32,
  I32_ADD,
  I32_AND,
  I32_CLZ,
  I32_EQ,
  I32_GE_U,
  I32_GT_S,
  I32_GT_U,
  I32_LOAD,
  I32_LT_U,
  I32_OR,
  I32_SHL,
  I32_SHR_U,
  I32_SUB,
  I32_XOR,
  i32,
  LOAD,
  LOOP,
  MEMORY_FILL,
  mem,
  SELECT,
  STORE,
  set,
  tee,
  VOID,
} from './encode.ts';

// Parameters 0-7, then i32 locals 8-23.
const KEYS = 0;
const CAND = 1;
const C = 2;
const K = 3;
const WK = 4;
const WI = 5;
const HIST = 6;
const SEL = 7;
const SRC_K = 8; // the kept entries: the candidates at first, then wk / wi
const SRC_I = 9;
const M = 10; // how many are kept
const NEED = 11; // how many of them are still to take
const S = 12; // entries appended to sel
const J = 13;
const LO = 14; // smallest and largest kept key, unsigned order
const HI = 15;
const SHIFT = 16;
const DIGIT = 17;
const KEPT = 18;
const U = 19;
const D = 20;
const IDX = 21;
const LO_D = 22;
const HI_D = 23;

const SIGN_BIT = 0x80000000 | 0;
/** `j++; continue while j < limit` at the end of a do-while loop over `j`. */
const nextJ = (limit: number): number[] => [
  ...get(J),
  ...i32(1),
  I32_ADD,
  ...tee(J),
  ...get(limit),
  I32_LT_U,
  BR_IF,
  0,
];

// biome-ignore format: a listing, one step of the algorithm per line
const BODY: number[] = [
  ...get(KEYS), ...set(SRC_K), ...get(CAND), ...set(SRC_I), ...get(C), ...set(M), ...get(K), ...set(NEED),
  BLOCK, VOID, // $done
  LOOP, VOID, // $level (m >= need >= 1 here)
  //   lo, hi = min, max of the kept keys (unsigned order)
  ...i32(-1), ...set(LO), ...i32(0), ...set(HI), ...i32(0), ...set(J),
  LOOP, VOID,
  ...at(SRC_K, J), ...LOAD, ...i32(SIGN_BIT), I32_XOR, ...set(U),
  ...get(U), ...get(LO), ...get(U), ...get(LO), I32_LT_U, SELECT, ...set(LO),
  ...get(U), ...get(HI), ...get(U), ...get(HI), I32_GT_U, SELECT, ...set(HI),
  ...nextJ(M),
  END,
  //   all equal (they are T), or all needed: done
  ...get(LO), ...get(HI), I32_EQ, ...get(NEED), ...get(M), I32_EQ, I32_OR, BR_IF, 1,
  //   shift = max(width - 8, 0), width = 32 - clz(lo ^ hi): the highest 8 bits where they differ
  ...i32(24), ...get(LO), ...get(HI), I32_XOR, I32_CLZ, I32_SUB, ...tee(SHIFT),
  ...i32(0), ...get(SHIFT), ...i32(0), I32_GT_S, SELECT, ...set(SHIFT),
  //   hist[digit(key)]++ for every kept key
  ...i32(0), ...set(J),
  LOOP, VOID,
  ...at(SRC_K, J), ...LOAD, ...i32(SIGN_BIT), I32_XOR, ...get(SHIFT), I32_SHR_U, ...i32(255), I32_AND,
  ...i32(2), I32_SHL, ...get(HIST), I32_ADD, ...tee(D), ...get(D), I32_LOAD, ...mem(2), ...i32(1), I32_ADD, ...STORE,
  ...nextJ(M),
  END,
  //   digit = the one holding the need-th largest, scanning down from hi's
  ...get(LO), ...get(SHIFT), I32_SHR_U, ...i32(255), I32_AND, ...set(LO_D),
  ...get(HI), ...get(SHIFT), I32_SHR_U, ...i32(255), I32_AND, ...tee(HI_D), ...set(DIGIT),
  BLOCK, VOID, // $found
  LOOP, VOID, // $scan
  ...get(HIST), ...get(DIGIT), ...i32(2), I32_SHL, I32_ADD, ...LOAD, ...tee(U),
  ...get(NEED), I32_GE_U, BR_IF, 1,
  ...get(NEED), ...get(U), I32_SUB, ...set(NEED),
  ...get(DIGIT), ...i32(1), I32_SUB, ...set(DIGIT),
  BR, 0,
  END,
  END,
  //   hist[lo's digit .. hi's digit] = 0
  ...get(HIST), ...get(LO_D), ...i32(2), I32_SHL, I32_ADD, ...i32(0),
  ...get(HI_D), ...get(LO_D), I32_SUB, ...i32(1), I32_ADD, ...i32(2), I32_SHL, ...MEMORY_FILL,
  //   higher digits go to sel, this digit's entries are kept (in wk / wi, in index order)
  ...i32(0), ...set(KEPT), ...i32(0), ...set(J),
  LOOP, VOID,
  ...at(SRC_K, J), ...LOAD, ...set(U),
  ...at(SRC_I, J), ...LOAD, ...set(IDX),
  ...get(U), ...i32(SIGN_BIT), I32_XOR, ...get(SHIFT), I32_SHR_U, ...i32(255), I32_AND, ...set(D),
  ...at(SEL, S), ...get(IDX), ...STORE,
  ...get(S), ...get(D), ...get(DIGIT), I32_GT_U, I32_ADD, ...set(S),
  ...at(WK, KEPT), ...get(U), ...STORE,
  ...at(WI, KEPT), ...get(IDX), ...STORE,
  ...get(KEPT), ...get(D), ...get(DIGIT), I32_EQ, I32_ADD, ...set(KEPT),
  ...nextJ(M),
  END,
  ...get(KEPT), ...set(M), ...get(WK), ...set(SRC_K), ...get(WI), ...set(SRC_I),
  BR, 0, // next level
  END,
  END,
  // the first `need` kept entries, in index order
  ...i32(0), ...set(J),
  LOOP, VOID,
  ...at(SEL, S), ...at(SRC_I, J), ...LOAD, ...STORE,
  ...get(S), ...i32(1), I32_ADD, ...set(S),
  ...nextJ(NEED),
  END,
  ...get(S),
  END,
];

export const SELECT_FUNCTION: WasmFunction = {
  name: 'select',
  params: 8,
  locals: [[16, I32]],
  body: BODY,
};
