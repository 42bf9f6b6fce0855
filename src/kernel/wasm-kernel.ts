/**
 * The mask kernel in WebAssembly: the sample, the gather (SIMD), the radix select over the
 * candidates and the mask row they mark, written as text in wasm/kernel.wat and run by
 * `select-rows.ts` over a copy of each row in this thread's wasm memory; the usual row runs whole in
 * one call (`mine`), and its mask row is copied out once ({@link copyMaskOut}).
 *
 * Why: in JavaScript every typed-array access in these loops re-checks the array's map, length and
 * data pointer, and every counter its int32 overflow (TurboFan does not hoist those checks across
 * the loops' stores; a loop marking `out[sel[j]] = 1` cost ~4 ns per mark). WebAssembly has none of
 * that, and the scan takes 16 elements a step. WebAssembly cannot read the caller's buffer, hence
 * the copy: one `TypedArray#set` per row (a memcpy), after which the row sits in L1/L2 for the steps
 * that follow. Every function computes exactly what the JavaScript fallback computes, so the bytes
 * are the same (every kernel test runs both ways). `npm run bench:kernel` shows the two side by side.
 *
 * One wasm memory per thread (module state), grown to the longest row seen (up to
 * {@link WASM_MAX_COLS}); it is only touched inside one synchronous kernel call, so the calling
 * thread and each worker thread own theirs. Engines without WebAssembly SIMD (or without
 * WebAssembly: `--jitless`) run the JavaScript kernel ({@link wasmKernelFor} returns `null`); on an
 * engine with SIMD, a module that does not compile is a bug, reported by {@link wasmKernelStatus}
 * (the tests require `'wasm'`) rather than thrown at import.
 *
 * (Past the ~400-line guideline on purpose: one idea, the bridge between the JavaScript kernel and
 * the wasm module: the per-thread memory layout, staging, and one wrapper per wasm function.)
 */
import { KERNEL_WASM, SIMD_PROBE_WASM } from './wasm/modules.ts';

import type {
  GatherFn,
  HistRowFn,
  MarkRowFn,
  MineFn,
  RankFn,
  SampleFn,
  SelectFn,
  WasmApi,
  WasmMemory,
} from './wasm-types.ts';

/** The base64 alphabet of the generated modules.ts (see decodeBase64). */
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A thread's wasm kernel: its memory views, valid until the next {@link wasmKernelFor} call. */
export interface WasmKernel {
  /** Longest row the views fit. */
  readonly capacity: number;
  /** Staging copy of the row (`capacity + 16` entries: the row, then padding to a multiple of 16). */
  readonly row: Int32Array;
  /** Candidate columns, in index order (`capacity + 16` entries: the gathers store 4 or 8 at a time). */
  readonly cand: Int32Array;
  /** The candidates' order keys (`-0` on `+0`), parallel to `cand`. */
  readonly candKeys: Int32Array;
  /** The rank's output row and the sample's keys. */
  readonly sel: Int32Array;
  readonly at: Layout;
  readonly gather: GatherFn;
  readonly select: SelectFn;
  readonly rank: RankFn;
  /** The whole-row path's interleaved top-11-bit histogram (2048 x 4 entries; zero between calls). */
  readonly hist: Int32Array;
  /** All of this thread's memory, as bytes and as 8-byte words (the mask row's copy out). */
  readonly bytes: Uint8Array;
  readonly words: Float64Array;
  /** The threshold-bucket keys and columns, and the select's scratch (`capacity + 16` entries each). */
  readonly workKeys: Int32Array;
  readonly workIdx: Int32Array;
  readonly histRow: HistRowFn;
  readonly markRow: MarkRowFn;
  readonly sample: SampleFn;
  readonly gatherPositive: GatherFn;
  readonly mine: MineFn;
  /** The select's 256 x 4 histogram (zero between calls). */
  readonly selectHist: Int32Array;
}

/** Byte offsets of the regions of a thread's memory. */
interface Layout {
  readonly row: number;
  /** `mine`'s 16-bit candidate columns. */
  readonly cols: number;
  readonly cand: number;
  readonly keys: number;
  readonly workKeys: number;
  readonly workIdx: number;
  readonly sel: number;
  /** The mask row (`capacity + 32` bytes: up to 7 of alignment, then the row and its padding). */
  readonly mask: number;
}

/**
 * Memory layout: the gather's 16 shuffle masks (16 bytes each), the select's 256 x 4 histogram,
 * the rank sort's four 256-entry histograms, the whole-row path's 2048 x 4 histogram, `mine`'s
 * 256-entry table of 16-bit lane numbers, then the regions (the rank sort's 8-byte pairs span two
 * adjacent regions: `cand` + `keys`, then `workKeys` + `workIdx`).
 */
const TABLE_AT = 0;
const HIST_AT = 256;
const RANK_HIST_AT = HIST_AT + 256 * 4 * 4;
const ROW_HIST_AT = RANK_HIST_AT + 4 * 256 * 4;
/** kernel.wat's `mine` reads this table at this literal offset (41216). */
export const TABLE16_AT = ROW_HIST_AT + 2048 * 4 * 4;
const ROW_AT = TABLE16_AT + 256 * 16;
const PAGE_BYTES = 65536;
/** Padding for the gather's last step: `-Inf` bits, never a candidate above `PIVOT_ALL` and not a NaN. */
const NEG_INF_BITS = -8388608;

/**
 * Longest row the wasm kernel takes: its memory only grows (never shrinks), so one huge row would
 * pin gigabytes per thread for good; longer rows run the JavaScript kernel (such rows are rare, and
 * their cost is dominated by the row's own memory traffic anyway). At most ~24 MiB per thread.
 */
export const WASM_MAX_COLS = 1 << 20;

interface Thread {
  readonly memory: WasmMemory;
  readonly gather: GatherFn;
  readonly select: SelectFn;
  readonly rank: RankFn;
  readonly histRow: HistRowFn;
  readonly markRow: MarkRowFn;
  readonly sample: SampleFn;
  readonly gatherPositive: GatherFn;
  readonly mine: MineFn;
  kernel: WasmKernel | null;
}

const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
/** Why this engine runs the JavaScript kernel, or `null` when it runs the wasm one. */
let unavailable: string | null = null;
/** The compiled module, or null where this engine has no WebAssembly SIMD. */
const compiled = compile();
let thread: Thread | null = null;
let enabled = true;

/**
 * Bytes of a base64 string (standard alphabet, `=` padding). Plain JavaScript rather than `atob`,
 * so the kernel loads in any JavaScript context, a bare `vm` context or a worklet included.
 */
export function decodeBase64(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61) end--; // '='
  const bytes = new Uint8Array((end * 3) >>> 2);
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < end; i++) {
    const digit = BASE64.indexOf(text.charAt(i));
    if (digit < 0) throw new RangeError(`not base64: ${JSON.stringify(text.charAt(i))} at ${i}`);
    acc = ((acc << 6) | digit) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[at++] = (acc >>> bits) & 0xff;
    }
  }
  return bytes;
}

function compile(): object | null {
  if (api === undefined) {
    unavailable = 'no WebAssembly';
    return null;
  }
  if (!api.validate(decodeBase64(SIMD_PROBE_WASM))) {
    unavailable = 'no WebAssembly SIMD';
    return null;
  }
  try {
    return new api.Module(decodeBase64(KERNEL_WASM));
  } catch (error) {
    unavailable = `kernel.wat does not compile: ${error instanceof Error ? error.message : String(error)}`;
    return null;
  }
}

/**
 * Which kernel this thread runs: `'wasm'`, or `'js'` with the reason (no WebAssembly, no SIMD, turned
 * off by {@link setWasmKernel}, or the module failing to compile, which is a bug).
 */
export function wasmKernelStatus():
  | { readonly kernel: 'wasm' }
  | { readonly kernel: 'js'; readonly reason: string } {
  if (unavailable !== null) return { kernel: 'js', reason: unavailable };
  if (!enabled) return { kernel: 'js', reason: 'turned off' };
  return { kernel: 'wasm' };
}

/**
 * This thread's wasm kernel with room for rows of `cols` elements, or `null` when WebAssembly SIMD
 * is unavailable or turned off ({@link setWasmKernel}), `cols` exceeds {@link WASM_MAX_COLS}, or the
 * memory cannot be had. Grows the memory when `cols` exceeds the capacity; earlier views are then
 * stale, so callers take the views afresh per kernel call. Cost: O(1) when it fits.
 */
export function wasmKernelFor(cols: number): WasmKernel | null {
  if (!enabled || compiled === null || api === undefined || cols > WASM_MAX_COLS) return null;
  const current = thread?.kernel ?? null;
  if (current !== null && current.capacity >= cols) return current;
  try {
    if (thread === null) {
      const memory = new api.Memory({ initial: 1 });
      const exports = new api.Instance(compiled, { e: { m: memory } }).exports;
      thread = {
        memory,
        gather: exports.gather as GatherFn,
        select: exports.select as SelectFn,
        rank: exports.rank as RankFn,
        histRow: exports.histRow as HistRowFn,
        markRow: exports.markRow as MarkRowFn,
        sample: exports.sample as SampleFn,
        gatherPositive: exports.gatherPositive as GatherFn,
        mine: exports.mine as MineFn,
        kernel: null,
      };
      writeShuffleTable(new Uint8Array(memory.buffer, TABLE_AT, 256));
      writeLaneTable(new Uint16Array(memory.buffer, TABLE16_AT, 256 * 8));
    }
    const grown = current === null ? 4096 : current.capacity * 2;
    // A multiple of 4, so that every region starts 16-byte aligned (the gather's stores are 16 bytes).
    const capacity = (Math.max(cols, Math.min(grown, WASM_MAX_COLS)) + 3) & ~3;
    const region = (capacity + 16) * 4;
    const at: Layout = {
      row: ROW_AT,
      cand: ROW_AT + region,
      keys: ROW_AT + 2 * region,
      workKeys: ROW_AT + 3 * region,
      workIdx: ROW_AT + 4 * region,
      sel: ROW_AT + 5 * region,
      cols: ROW_AT + 6 * region,
      mask: ROW_AT + 7 * region,
    };
    const bytes = ROW_AT + 8 * region;
    const have = thread.memory.buffer.byteLength;
    if (bytes > have) thread.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    const buffer = thread.memory.buffer;
    thread.kernel = {
      capacity,
      row: new Int32Array(buffer, at.row, capacity + 16),
      cand: new Int32Array(buffer, at.cand, capacity + 16),
      candKeys: new Int32Array(buffer, at.keys, capacity + 16),
      sel: new Int32Array(buffer, at.sel, capacity + 16),
      at,
      gather: thread.gather,
      select: thread.select,
      rank: thread.rank,
      hist: new Int32Array(buffer, ROW_HIST_AT, 2048 * 4),
      bytes: new Uint8Array(buffer),
      words: new Float64Array(buffer),
      workKeys: new Int32Array(buffer, at.workKeys, capacity + 16),
      workIdx: new Int32Array(buffer, at.workIdx, capacity + 16),
      histRow: thread.histRow,
      markRow: thread.markRow,
      sample: thread.sample,
      gatherPositive: thread.gatherPositive,
      mine: thread.mine,
      selectHist: new Int32Array(buffer, HIST_AT, 256 * 4),
    };
    return thread.kernel;
  } catch {
    // No wasm memory to be had (an address-space limit, say): the JavaScript kernel from now on.
    enabled = false;
    return null;
  }
}

/** Entry `m` lists the byte offsets of the lanes set in the 4-bit mask `m`, in lane order. */
function writeShuffleTable(table: Uint8Array): void {
  for (let m = 0; m < 16; m++) {
    let out = 0;
    for (let lane = 0; lane < 4; lane++) {
      if ((m & (1 << lane)) === 0) continue;
      for (let b = 0; b < 4; b++) table[m * 16 + out * 4 + b] = lane * 4 + b;
      out++;
    }
    table.fill(0x80, m * 16 + out * 4, m * 16 + 16); // out of range: lanes past the selected ones read 0
  }
}

/** Entry `m` (8 lanes of 16 bits) lists the lanes set in the 8-bit mask `m`, in lane order. */
function writeLaneTable(table: Uint16Array): void {
  for (let m = 0; m < 256; m++) {
    let out = 0;
    for (let lane = 0; lane < 8; lane++) if ((m & (1 << lane)) !== 0) table[m * 8 + out++] = lane;
  }
}

/**
 * Turns the wasm kernel on or off for this thread (tests and benchmarks compare both paths; the
 * results are identical). Returns the previous setting.
 */
export function setWasmKernel(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether this engine runs the wasm kernel (WebAssembly SIMD compiled and not turned off). */
export function wasmKernelAvailable(): boolean {
  return enabled && compiled !== null;
}

/**
 * Copies row `bits[base .. base + n)` into `w.row` and pads it with 15 `-Inf` (the gathers read up
 * to a multiple of 16). `n <= w.capacity`.
 */
export function stageRow(bits: Int32Array, base: number, n: number, w: WasmKernel): void {
  const row = w.row;
  row.set(bits.subarray(base, base + n));
  row.fill(NEG_INF_BITS, n, n + 15);
}

/** Longest row {@link mineStaged} takes: its columns are 16 bits, padding included. */
export const MINE_MAX_COLS = 65536 - 16;

/**
 * Where the mask row of `out[base ..]` is built in `w`'s memory: at the same offset modulo 8 as
 * that row in `out`'s buffer, so that {@link copyMaskOut} copies whole 8-byte words.
 */
export function maskRowAt(w: WasmKernel, out: Uint8Array, base: number): number {
  return w.at.mask + ((out.byteOffset + base) & 7);
}

/**
 * Copies the mask row built at byte `at` of `w`'s memory ({@link maskRowAt}) to
 * `out[base .. base + n)`: one `TypedArray#set` for a plain `out`; for a shared one, whose byte
 * copies go one relaxed store at a time, the 8-byte-aligned middle through `words` (`wordsOf(out)`:
 * 8-byte words over `out`'s buffer) and the few bytes around it one by one. Mask bytes are 0 or 1,
 * so no word read as a double is a NaN, whose bits a copy might not keep.
 */
export function copyMaskOut(
  w: WasmKernel,
  at: number,
  n: number,
  out: Uint8Array,
  words: Float64Array | null,
  base: number,
): void {
  const bytes = w.bytes;
  if (words === null) {
    out.set(bytes.subarray(at, at + n), base);
    return;
  }
  const start = out.byteOffset + base;
  const head = (8 - (start & 7)) & 7;
  const count = Math.floor((n - head) / 8);
  if (count <= 0) {
    for (let i = 0; i < n; i++) out[base + i] = bytes[at + i]!;
    return;
  }
  for (let i = 0; i < head; i++) out[base + i] = bytes[at + i]!;
  const from = (at + head) / 8;
  words.set(w.words.subarray(from, from + count), (start + head) / 8);
  for (let i = head + count * 8; i < n; i++) out[base + i] = bytes[at + i]!;
}

/**
 * The gather over the staged row (see {@link stageRow}): writes to `w.cand` the columns `i` of the
 * elements with `(key >> 13) >= pivot` (key without the `-0` fix), in increasing order, and to
 * `w.candKeys` their order keys; returns their count, or -1 if the row holds a NaN. Same
 * candidates as `gather` in select-rows.ts (which gives flat indices), and the keys
 * `keysAndTopHistogram` would compute.
 */
export function gatherStaged(w: WasmKernel, n: number, pivot: number): number {
  const at = w.at;
  let c =
    pivot > 0
      ? w.gatherPositive(at.row, (n + 7) & ~7, pivot << 13, at.cand, at.keys)
      : w.gather(at.row, (n + 3) & ~3, pivot << 13, at.cand, at.keys);
  if (c < 0) return -1;
  // The padding is -Inf: a candidate only under PIVOT_ALL; its columns come last.
  const cand = w.cand;
  while (c > 0 && cand[c - 1]! >= n) c--;
  return c;
}

/**
 * Marks in the mask row at byte `mask` of `w`'s memory the `k` of the `c` candidates in `w.cand`
 * (columns) / `w.candKeys` ranked first in stable descending order; the other candidates' bytes
 * are set to 0, and no other byte is touched. Any `k >= 0`.
 */
export function markSelected(w: WasmKernel, c: number, k: number, mask: number): void {
  const bytes = w.bytes;
  const cand = w.cand;
  if (k >= c) {
    for (let j = 0; j < c; j++) bytes[mask + cand[j]!] = 1;
    return;
  }
  if (k <= 0) return;
  const at = w.at;
  w.select(at.keys, at.cand, c, k, at.workKeys, at.workIdx, HIST_AT, mask);
}

/**
 * The usual row, whole, in wasm (kernel.wat's `mine`): the gather for a positive pivot
 * (`0 < pivot < PIVOT_WHOLE_ROW`) over the staged row of `n <= MINE_MAX_COLS` elements, then the
 * select of the `k > 0` ranked first, marked in a mask row it builds at byte `mask` of `w`'s memory
 * (`n` bytes, the rest zero). Returns 0 when it is written; 1 when fewer than `k` elements are
 * candidates, or -1 when the row holds a NaN (the caller then takes another path; the mask row is
 * zero).
 */
export function mineStaged(w: WasmKernel, n: number, pivot: number, k: number, mask: number): number {
  const at = w.at;
  return w.mine(at.row, (n + 15) & ~15, pivot << 13, k, at.cols, at.workKeys, at.workIdx, HIST_AT, mask);
}

/**
 * The seed's `idx_rank` of the staged row (see {@link stageRow}) of `n >= 1` elements, written to
 * `rank[base .. base + n)`; returns -1, or when a NaN is met and `nanLargest` is false, the column of
 * the first NaN (nothing is written). The same result as `rankRow` in rank-rows.ts.
 */
export function rankStaged(
  w: WasmKernel,
  n: number,
  rank: Int32Array,
  base: number,
  nanLargest: boolean,
): number {
  const at = w.at;
  const nanAt = w.rank(at.row, n, RANK_HIST_AT, at.cand, at.workKeys, at.sel, nanLargest ? 1 : 0);
  if (nanAt >= 0) return nanAt;
  rank.set(w.sel.subarray(0, n), base);
  return -1;
}

/**
 * The interleaved top-11-bit histogram of the staged row's `n >= 1` keys, added to `w.hist`
 * (`histogramRow` in select-rows.ts). Returns the highest bucket used, or -1 if the row holds a NaN;
 * `w.hist` is then dirty and must be zeroed by the caller.
 */
export function histogramStaged(w: WasmKernel, n: number): number {
  return w.histRow(w.at.row, n, ROW_HIST_AT);
}

/** {@link markStaged}'s second answer: how many elements lie above the bucket. */
export const markedAbove = new Int32Array(1);

/**
 * The whole-row mark over the staged row, into the mask row at byte `mask` of `w`'s memory:
 * `mask[i] = 1` where the key's top 11 bits exceed `dHi` (`>= -1020`, the bucket of `-Inf`), else
 * 0, for `i < n`; the keys and columns of the elements of bucket `dHi` go to `w.workKeys` /
 * `w.workIdx` in index order. Returns their count, and sets {@link markedAbove}; or returns -1 if
 * the row holds a NaN.
 */
export function markStaged(w: WasmKernel, n: number, dHi: number, mask: number): number {
  const at = w.at;
  let [m, above] = w.markRow(at.row, (n + 3) & ~3, dHi, mask, at.workKeys, at.workIdx);
  if (m < 0) return -1;
  markedAbove[0] = above;
  // The padding (-Inf) can fall in -Inf's bucket (never above it); its columns come last.
  const idx = w.workIdx;
  while (m > 0 && idx[m - 1]! >= n) m--;
  return m;
}

/**
 * Sets the mask row's byte (at byte `mask` of `w`'s memory) to 1 for the `need` entries of
 * `w.workKeys` / `w.workIdx` (`m` of them, columns in index order) ranked first in stable
 * descending order. `0 < need <= m`; the bucket's bytes must be 0.
 */
export function markBucketStaged(w: WasmKernel, m: number, need: number, mask: number): void {
  if (need >= m) {
    const bytes = w.bytes;
    const idx = w.workIdx;
    for (let j = 0; j < m; j++) bytes[mask + idx[j]!] = 1;
    return;
  }
  const at = w.at;
  w.select(at.workKeys, at.workIdx, m, need, at.cand, at.keys, HIST_AT, mask);
}

/**
 * `samplePivot`'s sample of the staged row of `n >= 2048` elements, in wasm: the pivot (`key >> 13`)
 * at the sample element of rank `need` (`1 <= need <= 64`), or `1 << 20` for the whole-row path when
 * ties put more than 64 sample elements at or above it. Same answer as the JavaScript sample.
 */
export function sampleStaged(w: WasmKernel, n: number, need: number): number {
  return w.sample(w.at.row, n, need, ROW_HIST_AT, w.at.sel);
}
