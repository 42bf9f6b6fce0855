/**
 * The fault board shared by the fault tests and test/fixtures/fault-worker.ts: int32 words of a
 * SharedArrayBuffer. Kept free of imports so the fixture worker loads nothing else.
 */

/** 1 = armed, 2 = claimed by a task, 0 = idle. */
export const ARMED = 0;
/** Index into {@link ACTIONS}. */
export const WHAT = 1;
/** The call number and task index the fault is for. */
export const CALL = 2;
export const TASK = 3;
/** 1 = handshake through {@link GATE} before acting. */
export const GATED = 4;
/** The gate word: 0 = not reached, 1 = the worker waits there, 2 = released. */
export const GATE = 5;
/** 1 = workers fail while loading. */
export const FAIL_LOAD = 6;
export const CLAIMED = 2;
export const BOARD_WORDS = 8;

export const ACTIONS = ['none', 'throw', 'exit', 'crash'] as const;
export type FaultAction = (typeof ACTIONS)[number];
