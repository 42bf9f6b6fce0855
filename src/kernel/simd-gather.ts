/**
 * The candidate gather of `select-rows.ts` as a WebAssembly SIMD function, four elements a step.
 *
 * Why: the gather is the one pass of the mask kernel that touches every element. In JavaScript its
 * loop body re-checks both typed arrays' maps, lengths and data pointers and the int32 overflow of
 * both counters on every element (TurboFan cannot hoist those checks across the loop's stores), so
 * it costs ~1.5 ns per element; the same pass in wasm, over a copy of the row in the module's own
 * memory, costs ~0.7 including the copy (`npm run bench:kernel`, its `js` rows). WebAssembly cannot
 * read the caller's buffer, hence the copy: one `TypedArray#set` per row (a memcpy, ~0.3 ns per
 * element), after which the row also sits in L1/L2 for the candidate passes that follow.
 *
 * What the wasm function computes is exactly the JavaScript gather's result: the flat indices, in
 * increasing order, of every element whose order key without the `-0` fix (`b ^ ((b >> 31) &
 * 0x7fffffff)`) is `>= pivot << 13`, which is `(key >> 13) >= pivot`; or -1 when the row holds a NaN
 * (same probe, `((b & 0x7fffffff) + 0x7fffff) < 0`). Per step of four: compare the four keys with the
 * limit, take the 4-bit lane mask, and store the four indices, and the four full order keys,
 * shuffled by a 16-entry table so that the selected ones come first; the count advances by the mask's
 * popcount. Branch-free, like the JavaScript loop. Storing the keys spares the kernel's next pass a
 * random read and the key transform per candidate.
 *
 * One wasm memory per thread (module state), grown to the longest row seen (up to
 * {@link SIMD_MAX_COLS}); it is only touched inside one synchronous kernel call, so the calling
 * thread and each worker thread own theirs.
 * Engines without WebAssembly SIMD (or without WebAssembly: `--jitless`) get `null` from
 * {@link simdGatherFor} and the kernel runs its JavaScript gather, which gives the same bytes.
 */

/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}

/** `gather(rowAt, n4, limit, candAt, keysAt, base)`: see the file comment; `n4` is a multiple of 4. */
type GatherFn = (
  rowAt: number,
  n4: number,
  limit: number,
  candAt: number,
  keysAt: number,
  base: number,
) => number;

/** A thread's wasm gather: its memory views, valid until the next {@link simdGatherFor} call. */
export interface SimdGather {
  /** Longest row the views fit. */
  readonly capacity: number;
  /** Staging copy of the row (`capacity + 4` entries: the row, then padding to a multiple of 4). */
  readonly row: Int32Array;
  /** Candidate flat indices written by the gather (`capacity + 8` entries: each step stores 4). */
  readonly cand: Int32Array;
  /** The candidates' order keys (`-0` on `+0`), parallel to `cand`, also `capacity + 8` entries. */
  readonly candKeys: Int32Array;
  readonly rowAt: number;
  readonly candAt: number;
  readonly keysAt: number;
  readonly run: GatherFn;
}

/** Shared-memory layout: the 16 shuffle masks (16 bytes each), then the row, then the candidates. */
const TABLE_AT = 0;
const ROW_AT = 256;
const PAGE_BYTES = 65536;
/** Padding for the last step: `-Inf` bits, never a candidate above `PIVOT_ALL` and not a NaN. */
const NEG_INF_BITS = -8388608;

// Opcodes (WebAssembly core 2.0 binary format; SIMD instructions are 0xfd + a LEB128 number).
const I32 = 0x7f;
const V128 = 0x7b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_SHL = 0x74;
const I32_LT_U = 0x49;
const I32_POPCNT = 0x69;
const LOOP = 0x03;
const IF = 0x04;
const BR_IF = 0x0d;
const RETURN = 0x0f;
const END = 0x0b;
const VOID = 0x40;
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const V128_CONST = 0x0c;
const I8X16_SWIZZLE = 0x0e;
const I32X4_SPLAT = 0x11;
const I32X4_GE_S = 0x3f;
const V128_AND = 0x4e;
const V128_OR = 0x50;
const V128_XOR = 0x51;
const I32X4_BITMASK = 0xa4;
const I32X4_SHR_S = 0xac;
const I32X4_ADD = 0xae;
const I32X4_SUB = 0xb1;

function uleb(n: number): number[] {
  const bytes: number[] = [];
  do {
    let b = n & 127;
    n >>>= 7;
    if (n !== 0) b |= 128;
    bytes.push(b);
  } while (n !== 0);
  return bytes;
}

function sleb(n: number): number[] {
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

const simd = (op: number, ...immediates: number[]): number[] => [0xfd, ...uleb(op), ...immediates];
const get = (local: number): number[] => [LOCAL_GET, local];
const set = (local: number): number[] => [LOCAL_SET, local];
const tee = (local: number): number[] => [LOCAL_TEE, local];
const i32 = (value: number): number[] => [I32_CONST, ...sleb(value)];
/** `v128.const` with four equal i32 lanes. */
const splat = (value: number): number[] =>
  simd(V128_CONST, ...[0, 1, 2, 3].flatMap(() => [0, 8, 16, 24].map((s) => (value >>> s) & 255)));
const lanes = (a: number, b: number, c: number, d: number): number[] =>
  simd(V128_CONST, ...[a, b, c, d].flatMap((v) => [v, 0, 0, 0]));
/** memarg: log2 alignment, offset 0. */
const mem = (alignLog2: number): number[] => [alignLog2, 0];

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
const GATHER_BODY: number[] = [
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

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

const name = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]));

/** The module: imports memory `e.m`, exports `gather`. */
function moduleBytes(): Uint8Array {
  const locals = vec([
    [3, I32],
    [7, V128],
  ]);
  const code = [...locals, ...GATHER_BODY];
  const i32s = (count: number): number[][] => Array.from({ length: count }, () => [I32]);
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(i32s(6)), ...vec(i32s(1))]])), // type 0: (i32 x6) -> i32
    ...section(2, vec([[...name('e'), ...name('m'), 0x02, 0x00, 0x01]])), // import memory e.m, min 1 page
    ...section(3, vec([[0]])), // function 0 has type 0
    ...section(7, vec([[...name('gather'), 0x00, 0]])), // export it
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

interface Thread {
  readonly memory: WasmMemory;
  readonly run: GatherFn;
  gather: SimdGather | null;
}

const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
/** The compiled module, or null where this engine has no WebAssembly SIMD. */
const compiled = compile();
let thread: Thread | null = null;
let enabled = true;

function compile(): object | null {
  if (api === undefined) return null;
  try {
    const bytes = moduleBytes();
    return api.validate(bytes) ? new api.Module(bytes) : null;
  } catch {
    return null;
  }
}

/**
 * Longest row the wasm gather takes: its memory only grows (never shrinks), so one huge row would
 * pin gigabytes per thread for good; longer rows run the JavaScript gather (such rows are rare, and
 * their cost is dominated by the row's own memory traffic anyway). At most ~12 MiB per thread.
 */
export const SIMD_MAX_COLS = 1 << 20;

/**
 * This thread's wasm gather with room for rows of `cols` elements, or `null` when WebAssembly SIMD is
 * unavailable or turned off ({@link setSimdGather}), `cols` exceeds {@link SIMD_MAX_COLS}, or the
 * memory cannot be had. Grows the memory when `cols` exceeds the capacity; earlier views are then
 * stale, so callers take the views afresh per kernel call. Cost: O(1) when it fits.
 */
export function simdGatherFor(cols: number): SimdGather | null {
  if (!enabled || compiled === null || api === undefined || cols > SIMD_MAX_COLS) return null;
  const current = thread?.gather ?? null;
  if (current !== null && current.capacity >= cols) return current;
  try {
    if (thread === null) {
      const memory = new api.Memory({ initial: 1 });
      const exports = new api.Instance(compiled, { e: { m: memory } }).exports;
      thread = { memory, run: exports.gather as GatherFn, gather: null };
      writeShuffleTable(new Uint8Array(memory.buffer, TABLE_AT, 256));
    }
    const grown = current === null ? 4096 : current.capacity * 2;
    const capacity = Math.max(cols, Math.min(grown, SIMD_MAX_COLS));
    const candAt = ROW_AT + (((capacity + 4) * 4 + 15) & ~15);
    const keysAt = candAt + (capacity + 8) * 4;
    const bytes = keysAt + (capacity + 8) * 4;
    const have = thread.memory.buffer.byteLength;
    if (bytes > have) thread.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    const buffer = thread.memory.buffer;
    thread.gather = {
      capacity,
      row: new Int32Array(buffer, ROW_AT, capacity + 4),
      cand: new Int32Array(buffer, candAt, capacity + 8),
      candKeys: new Int32Array(buffer, keysAt, capacity + 8),
      rowAt: ROW_AT,
      candAt,
      keysAt,
      run: thread.run,
    };
    return thread.gather;
  } catch {
    // No wasm memory to be had (an address-space limit, say): the JavaScript gather from now on.
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

/**
 * Turns the wasm gather on or off for this thread (tests and benchmarks compare both paths; the
 * results are identical). Returns the previous setting.
 */
export function setSimdGather(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether this engine runs the wasm gather (WebAssembly SIMD compiled and not turned off). */
export function simdGatherAvailable(): boolean {
  return enabled && compiled !== null;
}

/**
 * Copies row `bits[base .. base + n)` into `g.row` and pads it to a multiple of 4 with `-Inf`.
 * `n <= g.capacity`.
 */
export function stageRow(bits: Int32Array, base: number, n: number, g: SimdGather): void {
  const row = g.row;
  row.set(bits.subarray(base, base + n));
  row[n] = NEG_INF_BITS;
  row[n + 1] = NEG_INF_BITS;
  row[n + 2] = NEG_INF_BITS;
}

/**
 * The gather over the staged row (see {@link stageRow}): writes to `g.cand` the flat indices
 * `base + i` of the elements with `(key >> 13) >= pivot` (key without the `-0` fix), in increasing
 * order, and to `g.candKeys` their order keys; returns their count, or -1 if the row holds a NaN.
 * Same candidates as `gather` in select-rows.ts, and the keys `keysAndTopHistogram` would compute.
 */
export function gatherStaged(g: SimdGather, base: number, n: number, pivot: number): number {
  let c = g.run(g.rowAt, (n + 3) & ~3, pivot << 13, g.candAt, g.keysAt, base);
  if (c < 0) return -1;
  // The padding is -Inf: a candidate only under PIVOT_ALL; its indices come last.
  const cand = g.cand;
  const end = base + n;
  while (c > 0 && cand[c - 1]! >= end) c--;
  return c;
}
