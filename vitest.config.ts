import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@durably/source"] },
  ssr: { resolve: { conditions: ["@durably/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    // Hooks start stores and worker processes: PGlite's start and migrations alone took over 60 s at a load of
    // 20 on 2 cores.
    hookTimeout: 120_000,
  },
})
