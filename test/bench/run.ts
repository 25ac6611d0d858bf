/**
 * `pnpm bench`: runs every scenario, prints a table of ratios against references measured in the same run,
 * and writes the full results to bench-results/<timestamp>.json at the repository root.
 *
 * `BENCH_QUICK=1 pnpm bench` runs a few iterations only (CI: the harness must not rot). The Postgres server
 * is found through DATABASE_URL or the PG* variables; without one, server rows are skipped with a note.
 * Benchmarks are a harness, not tests: nothing here passes or fails on time.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import {
  formatTable,
  probeServer,
  redact,
  serverUrlFromEnv,
  type BenchEnv,
  type Row,
  type Scenario,
} from "./harness.ts"
import { latency } from "./scenarios/latency.ts"
import { perStep } from "./scenarios/perStep.ts"
import { queue } from "./scenarios/queue.ts"
import { memory } from "./scenarios/memory.ts"
import { recovery } from "./scenarios/recovery.ts"
import { scaling } from "./scenarios/scaling.ts"
import { tracing } from "./scenarios/tracing.ts"
import { management } from "./scenarios/management.ts"

/** One module per scenario under ./scenarios; add new ones here. */
// tracing last: it registers (then unregisters) a global OpenTelemetry context manager for its SDK rows.
const all: Record<string, Scenario> = { perStep, latency, queue, recovery, memory, scaling, management, tracing }
/** `pnpm bench queue latency`: only the scenarios with these keys (default: all). */
const only = process.argv.slice(2)
for (const key of only) if (!(key in all)) throw new Error(`no scenario ${key}; known: ${Object.keys(all).join(", ")}`)
const scenarios = Object.entries(all).flatMap(([key, s]) => (only.length === 0 || only.includes(key) ? [s] : []))

const repoRoot = fileURLToPath(new URL("../../", import.meta.url))
const quick = ["1", "true", "yes"].includes((process.env["BENCH_QUICK"] ?? "").toLowerCase())
const log = (line: string) => process.stdout.write(`${line}\n`)

const commit = (): string | undefined => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim()
  } catch {
    return undefined
  }
}

const main = async () => {
  const url = serverUrlFromEnv()
  const serverNote = await probeServer(url)
  const env: BenchEnv = { quick, serverUrl: serverNote ? undefined : url, serverNote, log }
  const startedAt = new Date()
  log(
    `durably bench${quick ? " (quick)" : ""}: node ${process.version}, ${cpus().length} CPUs, ` +
      (serverNote ? `no server (${serverNote})` : `server ${redact(url)}`),
  )
  const rows: Row[] = []
  for (const scenario of scenarios) {
    log(`\n${scenario.name}: ${scenario.description}`)
    rows.push(...(await scenario.run(env)))
  }
  log(`\n${formatTable(rows)}\n`)
  for (const row of rows)
    if (row.status === "ok" && row.notes.length > 0) {
      log(`${row.scenario}, ${row.store}:`)
      for (const note of row.notes) log(`  ${note}`)
    }

  const dir = `${repoRoot}bench-results`
  mkdirSync(dir, { recursive: true })
  const file = `${dir}/${startedAt.toISOString().replace(/[:.]/g, "-")}.json`
  const report = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    quick,
    commit: commit(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    server: serverNote ? { skipped: serverNote } : { url: redact(url) },
    rows,
  }
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  log(`\nwrote ${file}`)
  if (rows.some((r) => r.status === "failed")) process.exitCode = 1
}

await main()
