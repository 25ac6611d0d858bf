/**
 * `pnpm example:hourly-report`, end to end: the script runs as a user runs it (its own process, the embedded
 * store) and must exit 0, which it does only when its own checks hold (backfilled hours once each, a second
 * backfill attaching, a triggered report, a runtime per-second schedule ticking once a second until paused).
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect, it } from "vitest"

it("the hourly-report example runs to the end on the embedded store and exits 0", async () => {
  const { DATABASE_URL: _, ...env } = process.env // the embedded store, whatever the shell says
  const child = spawn(
    process.execPath,
    ["--conditions=@durably/source", fileURLToPath(new URL("main.ts", import.meta.url))],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...env, NODE_NO_WARNINGS: "1" } },
  )
  let output = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
  expect(code, output).toBe(0)
  expect(output).toContain("Every report ran exactly once.")
  expect(output).not.toContain("FAILED")
}, 120_000)
