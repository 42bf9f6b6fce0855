/**
 * Signatures of kernel.wat's exports and the slice of the WebAssembly JS API the wasm kernel uses
 * (types only; see wasm-kernel.ts).
 */
/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}

/** kernel.wat: `gather(row, n4, limit, cand, keys) -> count or -1 (NaN)` (and `gatherPositive`). */
export type GatherFn = (row: number, n4: number, limit: number, cand: number, keys: number) => number;
/** kernel.wat: `select(keys, cand, c, k, wk, wi, hist, mask)`. */
export type SelectFn = (
  keys: number,
  cand: number,
  c: number,
  k: number,
  wk: number,
  wi: number,
  hist: number,
  mask: number,
) => void;
/** kernel.wat: `mine(row, n16, limit, k, cols, wk, wi, hist, mask) -> 0, 1 (too few) or -1 (NaN)`. */
export type MineFn = (
  row: number,
  n16: number,
  limit: number,
  k: number,
  cols: number,
  wk: number,
  wi: number,
  hist: number,
  mask: number,
) => number;
/** kernel.wat: `sample(row, n, need, hist, keys) -> pivot or 0x100000 (whole row)`. */
export type SampleFn = (row: number, n: number, need: number, hist: number, keys: number) => number;
/** kernel.wat: `histRow(row, n, hist) -> top bucket or -1 (NaN)`. */
export type HistRowFn = (row: number, n: number, hist: number) => number;
/** kernel.wat: `markRow(row, n4, dHi, mask, wk, wi) -> [m, above]` (`[-1, -1]`: NaN). */
export type MarkRowFn = (
  row: number,
  n4: number,
  dHi: number,
  mask: number,
  wk: number,
  wi: number,
) => [number, number];
/** kernel.wat: `rank(row, n, hist, a, b, out, nanLargest) -> -1 or NaN column`. */
export type RankFn = (
  row: number,
  n: number,
  hist: number,
  a: number,
  b: number,
  out: number,
  nanLargest: number,
) => number;
