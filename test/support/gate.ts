import { fileURLToPath } from 'node:url';
import { HardNegativeMiner } from '../../src/index.ts';
import { kNextCallId, kWorkerData } from '../../src/pool/internal.ts';
import type { MinerOptions } from '../../src/pool/miner.ts';
import type { FaultAction } from './board.ts';
import { ACTIONS, ARMED, BOARD_WORDS, CALL, FAIL_LOAD, GATE, GATED, TASK, WHAT } from './board.ts';

/**
 * Injected worker faults and the Atomics gate that holds a worker mid-task, so that concurrency tests
 * need no sleeps. A faulty miner runs the fixture worker test/fixtures/fault-worker.ts (chosen with
 * the miner's `workerUrl` option, its fault board handed over as Piscina's `workerData`); the real
 * worker and its task messages carry no test hooks.
 */

const FAULT_WORKER = fileURLToPath(new URL('../fixtures/fault-worker.ts', import.meta.url));

interface AtomicsWaitAsync {
  waitAsync(
    array: Int32Array,
    index: number,
    value: number,
  ): { async: boolean; value: Promise<string> | string };
}

/** A gate armed on the board: `reached` settles once the worker waits there; `release` lets it go. */
export interface Gate {
  reached: Promise<unknown>;
  release: () => void;
}

/** A miner on the fault-injecting fixture worker, and its board. */
export interface FaultyMiner {
  miner: HardNegativeMiner;
  /**
   * Arms a fault for task `task` (dispatch order, first round) of the miner's NEXT call: `action`
   * runs there, after waiting on a gate when `gated`. Make that call right after arming.
   */
  arm(action: FaultAction, options?: { gated?: boolean; task?: number }): Gate;
  /** Makes workers started from now on fail while loading (or load normally again). */
  failLoad(on: boolean): void;
}

export function faultyMiner(options: MinerOptions = {}): FaultyMiner {
  const buffer = new SharedArrayBuffer(BOARD_WORDS * 4);
  const board = new Int32Array(buffer);
  const miner = new HardNegativeMiner({
    ...options,
    workerUrl: FAULT_WORKER,
    [kWorkerData]: buffer,
  } as MinerOptions);
  return {
    miner,
    arm(action, { gated = false, task = 0 } = {}) {
      Atomics.store(board, ARMED, 0);
      Atomics.store(board, WHAT, ACTIONS.indexOf(action));
      Atomics.store(board, CALL, miner[kNextCallId]);
      Atomics.store(board, TASK, task);
      Atomics.store(board, GATED, gated ? 1 : 0);
      Atomics.store(board, GATE, 0);
      // Atomics.waitAsync is ES2024 (Node >= 16); this project compiles against the ES2023 lib.
      const wait = (Atomics as unknown as AtomicsWaitAsync).waitAsync(board, GATE, 0);
      Atomics.store(board, ARMED, 1);
      return {
        reached: Promise.resolve(wait.value),
        release: () => {
          Atomics.store(board, GATE, 2);
          Atomics.notify(board, GATE);
        },
      };
    },
    failLoad(on) {
      Atomics.store(board, FAIL_LOAD, on ? 1 : 0);
    },
  };
}
