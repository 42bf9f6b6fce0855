/**
 * The error a synchronous call throws, for asserting on its type and message; fails the test when
 * the call returns instead. Costs one call of `run`.
 */
export function syncError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
