/**
 * Hooks for the project's own tests, not part of the public API (not exported from the package):
 * the miner's `[kWorkerData]` option hands a value to the workers as Piscina's `workerData` (the
 * fault-injecting fixture worker of test/fixtures/ reads its fault board there), and
 * `miner[kNextCallId]` is the number the miner's next dispatched call will carry in its tasks.
 */
export const kWorkerData: unique symbol = Symbol('hard-negative-mining.workerData');
export const kNextCallId: unique symbol = Symbol('hard-negative-mining.nextCallId');
