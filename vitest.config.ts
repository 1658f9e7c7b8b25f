import { defineConfig } from 'vitest/config';

// Integration tests share the machine's network namespaces and CPU: run files one at a time
// so a lab's timing is not distorted by another file's lab.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
