import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@durably/source"] },
  ssr: { resolve: { conditions: ["@durably/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
