import { defineConfig } from 'vitest/config';

// vitest 5's reporter calls Map.groupBy (Node >= 21) when it prints a failed test; on Node 20 it
// would crash instead of showing the failure. This file runs in vitest's main process.
if (typeof (Map as any).groupBy !== 'function') {
  (Map as any).groupBy = <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, V[]> => {
    const groups = new Map<K, V[]>();
    let i = 0;
    for (const item of items) {
      const k = key(item, i++);
      const group = groups.get(k);
      if (group) group.push(item);
      else groups.set(k, [item]);
    }
    return groups;
  };
}

// Integration tests share the machine's network namespaces and CPU: run files one at a time
// so a lab's timing is not distorted by another file's lab.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
