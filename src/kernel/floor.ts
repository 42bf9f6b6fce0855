/**
 * The memory floor of a mask pass (wasm/floor.wat): one WebAssembly SIMD pass that reads a float32
 * batch and writes one byte per element, 16 elements a step, and does nothing else. No mask kernel
 * can beat it on the same machine, so the benchmarks time it back to back with the kernel on a copy
 * of the same batch and give every figure as a ratio to it. Its memory is a shared
 * `WebAssembly.Memory`, so worker threads can run the same pass over parts of one batch (the floor
 * of a pool with that many threads): post them {@link FloorPass.module} and {@link FloorPass.memory}
 * and call {@link floorRunner}.
 */

import { FLOOR_WASM } from './wasm/modules.ts';
import { decodeBase64 } from './wasm-kernel.ts';

/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: {
    initial: number;
    maximum: number;
    shared: boolean;
  }) => { readonly buffer: ArrayBufferLike };
}

type FloorFn = (src: number, n: number, dst: number, threshold: number) => number;

/** A batch copied into the floor's memory, ready to be read. */
export interface FloorPass {
  /** The compiled floor module (a `WebAssembly.Module`: it can be posted to a worker). */
  readonly module: object;
  /** The shared `WebAssembly.Memory` holding the batch (it can be posted to a worker). */
  readonly memory: object;
  /** Elements of the batch, rounded up to a multiple of 16 (the padding reads as 0). */
  readonly length: number;
  /** The bytes written by the last pass, one per element. */
  readonly out: Uint8Array;
  /** One pass over elements `start .. end` (multiples of 16; the whole batch by default). */
  run(start?: number, end?: number): void;
}

const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
const PAGE_BYTES = 65536;
/** Any threshold: the pass costs the same whatever it compares with. */
const THRESHOLD = 1;
/** The bytes written start past the input, on a 64-byte line. */
const outAt = (length: number): number => length * 4;

let compiled: object | null = null;

/**
 * Copies `loss` into a new shared wasm memory and returns its floor pass, or `null` where the engine
 * has no WebAssembly SIMD or shared memory. Cost: O(n) for the copy, and 5 bytes per element.
 */
export function createFloorPass(loss: Float32Array): FloorPass | null {
  if (api === undefined) return null;
  try {
    compiled ??= new api.Module(decodeBase64(FLOOR_WASM));
    const length = (loss.length + 15) & ~15;
    const pages = Math.max(1, Math.ceil((length * 5) / PAGE_BYTES));
    const memory = new api.Memory({ initial: pages, maximum: pages, shared: true });
    new Float32Array(memory.buffer, 0, loss.length).set(loss);
    const floor = instantiate(compiled, memory);
    const out = new Uint8Array(memory.buffer, outAt(length), length);
    return {
      module: compiled,
      memory,
      length,
      out,
      run(start = 0, end = length) {
        floor(start * 4, end - start, outAt(length) + start, THRESHOLD);
      },
    };
  } catch {
    return null;
  }
}

function instantiate(module: object, memory: object): FloorFn {
  return new api!.Instance(module, { e: { m: memory } }).exports.floor as FloorFn;
}

/**
 * Runs the floor pass over elements `start .. end` (multiples of 16) of a batch of `length` elements
 * held in `memory`, for a thread that received `module` and `memory` from {@link createFloorPass}.
 * Returns a function that runs it again without re-instantiating.
 */
export function floorRunner(
  module: object,
  memory: object,
  length: number,
): (start: number, end: number) => void {
  const floor = instantiate(module, memory);
  return (start, end) => {
    floor(start * 4, end - start, outAt(length) + start, THRESHOLD);
  };
}
