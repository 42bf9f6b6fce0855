import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: the pool tests start worker threads of their own, so test files run one at a time.
    fileParallelism: false,
  },
});
