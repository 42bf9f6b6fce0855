import { afterAll, beforeAll } from 'vitest';

/**
 * Collects the process's unhandled rejections while the calling test file runs (registered in its
 * `beforeAll`, removed in its `afterAll`); the returned array fills as they arrive, for the tests to
 * assert on.
 */
export function collectUnhandledRejections(): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  return unhandled;
}
