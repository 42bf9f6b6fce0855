import { NAN_KEY } from './keys.ts';
import type { KernelScratch } from './scratch.ts';
import { BUCKETS, DIGIT_BITS } from './scratch.ts';
import { rankStaged, stageRow, wasmKernelFor } from './wasm-kernel.ts';

/**
 * The seed's `idx_rank` for rows `rowStart .. rowEnd - 1`: `rank[r * cols + i]` is the position of
 * element `i` in the stable descending order of its row. Exactly `loss.sort(desc, stable).indices
 * .sort().indices`, computed with one sort and one O(cols) scatter instead of two sorts:
 *
 * 1. An LSD radix sort (11-bit digits, at most three passes, stable) orders the column offsets by
 *    the bitwise complement of their order key, i.e. descending, ties keeping index order.
 * 2. Sorting that permutation again, as the seed does, only inverts it: `rank[perm[j]] = j`.
 *
 * A digit shared by every element of the row skips its pass. Returns -1, or (when a NaN is met and
 * `nanLargest` is false) the flat index of the first NaN; rows before it are written. Where the
 * engine has WebAssembly SIMD, the same sort runs in wasm over a copy of each row (kernel.wat `rank`,
 * whose last pass scatters the positions directly); the ranks are the same.
 */
export function rankRows(
  bits: Int32Array,
  cols: number,
  rowStart: number,
  rowEnd: number,
  rank: Int32Array,
  scratch: KernelScratch,
  nanLargest: boolean,
): number {
  const wasm = cols > 0 ? wasmKernelFor(cols) : null;
  if (wasm !== null) {
    for (let r = rowStart; r < rowEnd; r++) {
      stageRow(bits, r * cols, cols, wasm);
      const nanAt = rankStaged(wasm, cols, rank, r * cols, nanLargest);
      if (nanAt >= 0) return r * cols + nanAt;
    }
    return -1;
  }
  const hist = scratch.hist;
  for (let r = rowStart; r < rowEnd; r++) {
    const nanAt = rankRow(
      bits,
      r * cols,
      cols,
      rank,
      hist,
      scratch.candKeys,
      scratch.work,
      scratch.idxA,
      scratch.idxB,
      nanLargest,
    );
    if (nanAt >= 0) {
      hist.fill(0, 0, 3 * BUCKETS);
      return nanAt;
    }
  }
  // Leave the histograms zeroed, as every kernel does: the select kernel relies on it.
  hist.fill(0, 0, 3 * BUCKETS);
  return -1;
}

const PASSES = 3;

function rankRow(
  bits: Int32Array,
  base: number,
  n: number,
  rank: Int32Array,
  hist: Int32Array,
  keysA: Int32Array,
  keysB: Int32Array,
  idxA: Int32Array,
  idxB: Int32Array,
  nanLargest: boolean,
): number {
  hist.fill(0, 0, 3 * BUCKETS);
  for (let i = 0; i < n; i++) {
    const b = bits[base + i]!;
    let key: number;
    if ((b & 0x7fffffff) > 0x7f800000) {
      if (!nanLargest) return base + i;
      key = NAN_KEY;
    } else {
      key = (b ^ ((b >> 31) & 0x7fffffff)) - (b >> 31);
    }
    // Descending as unsigned ascending: complement the key, then flip the sign bit.
    // Literal constants: module bindings slow hot loops. Digits: bits 0-10, 11-21, 22-31.
    const u = ~key ^ -2147483648;
    keysA[i] = u;
    idxA[i] = i;
    hist[u & 2047]!++;
    hist[2048 + ((u >> 11) & 2047)]!++;
    hist[4096 + (u >>> 22)]!++;
  }
  let srcKeys = keysA;
  let srcIdx = idxA;
  let dstKeys = keysB;
  let dstIdx = idxB;
  for (let pass = 0; pass < PASSES; pass++) {
    const offset = (pass * BUCKETS) | 0;
    const shift = (pass * DIGIT_BITS) | 0;
    // A digit every element shares leaves the order as it is: skip the pass.
    const first = (((srcKeys[0]! >>> shift) & 2047) + offset) | 0;
    if (hist[first] === n) continue;
    let sum = 0;
    for (let d = offset, end = offset + 2048; d < end; d++) {
      const h = hist[d]!;
      hist[d] = sum;
      sum += h;
    }
    for (let j = 0; j < n; j++) {
      const u = srcKeys[j]!;
      const at = hist[offset + ((u >>> shift) & 2047)]!++;
      dstKeys[at] = u;
      dstIdx[at] = srcIdx[j]!;
    }
    const tk = srcKeys;
    srcKeys = dstKeys;
    dstKeys = tk;
    const ti = srcIdx;
    srcIdx = dstIdx;
    dstIdx = ti;
  }
  for (let j = 0; j < n; j++) rank[base + srcIdx[j]!] = j;
  return -1;
}
