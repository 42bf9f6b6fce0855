import type { MineOptions } from '../../src/pool/miner.ts';
import type { TestFault, TestFaultAction } from '../../src/pool/protocol.ts';
import { kTestFault } from '../../src/pool/protocol.ts';

/**
 * Injected worker faults (see TestFault in src/pool/protocol.ts) and the Atomics gate that holds a
 * worker mid-task, so that concurrency tests need no sleeps. Workers honour faults only when
 * `HNM_TEST_FAULTS=1` was set before they started.
 */

interface AtomicsWaitAsync {
  waitAsync(
    array: Int32Array,
    index: number,
    value: number,
  ): { async: boolean; value: Promise<string> | string };
}

/**
 * A gate for a fault: the worker stores 1 when it reaches the faulty task and waits until released.
 * `reached` settles once the worker has stored 1 (at once if it already has); `release` stores 2 and
 * wakes the worker. Costs one 4-byte SharedArrayBuffer; use each gate for one task.
 */
export function gate(): { buffer: SharedArrayBuffer; reached: Promise<unknown>; release: () => void } {
  const buffer = new SharedArrayBuffer(4);
  const word = new Int32Array(buffer);
  // Atomics.waitAsync is ES2024 (Node >= 16); this project compiles against the ES2023 lib.
  const wait = (Atomics as unknown as AtomicsWaitAsync).waitAsync(word, 0, 0);
  return {
    buffer,
    reached: Promise.resolve(wait.value),
    release: () => {
      Atomics.store(word, 0, 2);
      Atomics.notify(word, 0);
    },
  };
}

/**
 * `options` with a fault injected into task `task` of the call: `action` runs there, after waiting
 * on the gate `buffer` when one is given. O(1); the options object is copied, not changed.
 */
export function withFault(
  action: TestFaultAction,
  buffer: SharedArrayBuffer | null,
  options: MineOptions = {},
  task = 0,
): MineOptions {
  const fault: TestFault = { action, gate: buffer };
  return { ...options, [kTestFault]: { fault, task } } as MineOptions;
}
