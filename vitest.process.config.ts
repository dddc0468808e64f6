import { defineConfig } from "vitest/config"

/**
 * Suites that start several real server processes. They run one file at a
 * time, after the in-process suites, so the processes have the cores.
 */
export default defineConfig({
  test: {
    include: ["apps/*/test/**/*.process.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false
  }
})
