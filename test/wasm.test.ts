import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, GENERATED, generatedSource, watFiles } from '../scripts/assemble-wasm.ts';
import { createFloorPass, floorRunner } from '../src/kernel/floor.ts';
import * as modules from '../src/kernel/wasm/modules.ts';
import {
  decodeBase64,
  setWasmKernel,
  wasmKernelAvailable,
  wasmKernelStatus,
} from '../src/kernel/wasm-kernel.ts';
import { prng } from './support/adversarial.ts';

const committed = modules as Record<string, string>;

/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM types). */
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      validate(bytes: Uint8Array): boolean;
      Module: {
        new (bytes: Uint8Array): object;
        customSections(module: object, name: string): ArrayBuffer[];
        exports(module: object): { name: string }[];
      };
    };
  }
).WebAssembly;

describe('the WebAssembly sources (src/kernel/wasm/*.wat)', () => {
  it('modules.ts holds exactly what the .wat files assemble to (run `npm run wasm` after an edit)', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(await generatedSource());
  });

  for (const { file, constant } of watFiles()) {
    it(`${file} validates, compiles and keeps its function names (name section)`, async () => {
      const bytes = decodeBase64(committed[constant]!);
      expect(bytes).toEqual(await assemble(file));
      expect(WebAssembly.validate(bytes)).toBe(true);
      const module = new WebAssembly.Module(bytes); // throws with the engine's reason if not
      const names = WebAssembly.Module.customSections(module, 'name');
      expect(names).toHaveLength(1);
      const text = new TextDecoder().decode(names[0]!);
      for (const { name } of WebAssembly.Module.exports(module)) expect(text).toContain(name);
    });
  }

  it('the wasm kernel is the one in use on this engine (Node 20 and 24 have WebAssembly SIMD)', () => {
    expect(wasmKernelStatus()).toEqual({ kernel: 'wasm' });
    expect(wasmKernelAvailable()).toBe(true);
    const was = setWasmKernel(false);
    expect(wasmKernelStatus()).toEqual({ kernel: 'js', reason: 'turned off' });
    setWasmKernel(was);
    expect(wasmKernelStatus()).toEqual({ kernel: 'wasm' });
  });
});

describe('the floor pass (floor.ts, wasm/floor.wat)', () => {
  /** The pass's contract: a byte per element, `loss > 1`; NaN compares false. */
  const expected = (loss: Float32Array, length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < loss.length; i++) out[i] = loss[i]! > 1 ? 1 : 0;
    return out;
  };

  it('writes one byte per element, for any length (padding reads as 0)', () => {
    const random = prng(5);
    for (const n of [0, 1, 15, 16, 17, 1000, 70001]) {
      const loss = Float32Array.from({ length: n }, (_, i) =>
        i % 97 === 0 ? Number.NaN : i % 89 === 0 ? Number.POSITIVE_INFINITY : -Math.log(random() + 1e-12),
      );
      const pass = createFloorPass(loss)!;
      expect(pass.length).toBe((n + 15) & ~15);
      pass.out.fill(7);
      pass.run();
      expect(pass.out).toEqual(expected(loss, pass.length));
    }
  });

  it('runs over a part of the batch from a second instance on the same shared memory (as a worker does)', () => {
    const random = prng(6);
    const loss = Float32Array.from({ length: 4096 }, () => random() * 2);
    const pass = createFloorPass(loss)!;
    pass.out.fill(7);
    const run = floorRunner(pass.module, pass.memory, pass.length);
    run(0, 2048);
    expect(pass.out.subarray(2048).every((v) => v === 7)).toBe(true);
    run(2048, 4096);
    expect(pass.out).toEqual(expected(loss, 4096));
  });
});
