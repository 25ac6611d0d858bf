/**
 * What every scenario shares: where the server is, how a measurement is taken and reported. A scenario
 * measures its subject and a reference in the same run, on the same pool (or database instance), interleaved
 * in rounds, and reports the ratio; absolute times are printed for context only.
 */
import { randomBytes } from "node:crypto"
import { userInfo } from "node:os"
import postgres from "postgres"

export interface BenchEnv {
  /** `BENCH_QUICK=1`: a few iterations, to prove the harness still runs (CI). */
  readonly quick: boolean
  /** A reachable Postgres server, or undefined (with `serverNote` saying why). */
  readonly serverUrl: string | undefined
  readonly serverNote: string | undefined
  /** Progress and notes, as the run goes. */
  readonly log: (line: string) => void
}

/** One measured series: `ops` operations in `totalMs`. */
export interface Series {
  readonly label: string
  readonly ops: number
  readonly totalMs: number
  readonly perOpMs: number
}

export interface Spread {
  readonly min: number
  readonly median: number
  readonly max: number
}

export type Row =
  | {
      readonly scenario: string
      readonly store: string
      readonly status: "ok"
      readonly measured: Series
      readonly reference: Series
      /** measured.perOpMs / reference.perOpMs */
      readonly ratio: number
      /** The ratio of each round alone: how stable the number is. */
      readonly roundRatios: Spread
      /** Scenario-specific facts (settings checked, statements per operation, …), for the JSON. */
      readonly details: Record<string, unknown>
      /** Lines printed under the table: where the time goes. */
      readonly notes: ReadonlyArray<string>
    }
  | {
      readonly scenario: string
      readonly store: string
      /** skipped: cannot run here (no server); failed: the harness broke (the run exits non-zero). */
      readonly status: "skipped" | "failed"
      readonly note: string
    }

export interface Scenario {
  readonly name: string
  /** One line: what is measured, against what. */
  readonly description: string
  readonly run: (env: BenchEnv) => Promise<ReadonlyArray<Row>>
}

/** Run one row; a harness failure becomes a "failed" row (printed, and the run exits non-zero) instead of ending the run. */
export const guarded = async (
  scenario: string,
  store: string,
  env: BenchEnv,
  run: () => Promise<Row>,
): Promise<Row> => {
  try {
    return await run()
  } catch (e) {
    env.log(`  FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    return { scenario, store, status: "failed", note: e instanceof Error ? e.message : String(e) }
  }
}

/** DATABASE_URL, else the PG* variables as psql reads them. */
export const serverUrlFromEnv = (): string => {
  const env = process.env
  if (env["DATABASE_URL"]) return env["DATABASE_URL"]
  const user = env["PGUSER"] ?? userInfo().username
  const host = env["PGHOST"] && !env["PGHOST"].startsWith("/") ? env["PGHOST"] : "localhost"
  const password = env["PGPASSWORD"] ? `:${encodeURIComponent(env["PGPASSWORD"])}` : ""
  return `postgres://${encodeURIComponent(user)}${password}@${host}:${env["PGPORT"] ?? "5432"}/${encodeURIComponent(env["PGDATABASE"] ?? user)}`
}

/** The URL without its password, for printing. */
export const redact = (url: string): string => url.replace(/:[^:@/]*@/, "@")

/** Undefined when the server answers, else why not. */
export const probeServer = async (url: string): Promise<string | undefined> => {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => undefined })
  try {
    await sql`SELECT 1`
    return undefined
  } catch (e) {
    return `no Postgres server answered at ${redact(url)} (${e instanceof Error ? e.message : String(e)}); set DATABASE_URL or PGHOST/PGPORT/PGUSER/PGDATABASE`
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** A schema name of our own, so a run never touches anyone else's tables. */
export const benchSchema = (): string => `bench_${randomBytes(5).toString("hex")}`

/** Milliseconds `fn` takes. */
export const timed = async (fn: () => Promise<void>): Promise<number> => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** `n` sequential calls of `fn(i)`, each awaited before the next starts. */
export const sequentially = async (n: number, fn: (i: number) => Promise<unknown>): Promise<void> => {
  for (let i = 0; i < n; i++) await fn(i)
}

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Measure a subject against a reference in `rounds` interleaved rounds (the order alternating, so drift in
 * the machine or the server falls on both), after one warm-up round of each.
 */
export const interleaved = async (spec: {
  readonly rounds: number
  readonly warmup: () => Promise<void>
  readonly subject: { readonly label: string; readonly opsPerRound: number; readonly run: () => Promise<void> }
  readonly reference: { readonly label: string; readonly opsPerRound: number; readonly run: () => Promise<void> }
}): Promise<{ measured: Series; reference: Series; ratio: number; roundRatios: Spread }> => {
  await spec.warmup()
  let subjectMs = 0
  let referenceMs = 0
  const ratios: number[] = []
  for (let round = 0; round < spec.rounds; round++) {
    let s = 0
    let r = 0
    if (round % 2 === 0) {
      s = await timed(spec.subject.run)
      r = await timed(spec.reference.run)
    } else {
      r = await timed(spec.reference.run)
      s = await timed(spec.subject.run)
    }
    subjectMs += s
    referenceMs += r
    ratios.push(s / spec.subject.opsPerRound / (r / spec.reference.opsPerRound))
  }
  const series = (label: string, opsPerRound: number, totalMs: number): Series => {
    const ops = opsPerRound * spec.rounds
    return { label, ops, totalMs, perOpMs: totalMs / ops }
  }
  const measured = series(spec.subject.label, spec.subject.opsPerRound, subjectMs)
  const reference = series(spec.reference.label, spec.reference.opsPerRound, referenceMs)
  return {
    measured,
    reference,
    ratio: measured.perOpMs / reference.perOpMs,
    roundRatios: { min: Math.min(...ratios), median: median(ratios), max: Math.max(...ratios) },
  }
}

const fmt = (n: number, digits = 3) => (Number.isFinite(n) ? n.toFixed(digits) : "-")

/** The table `pnpm bench` prints. */
export const formatTable = (rows: ReadonlyArray<Row>): string => {
  const header = ["scenario", "store", "measured", "ms/op", "reference", "ms/op", "ratio", "rounds min–med–max", "n"]
  const lines = rows.map((r) =>
    r.status !== "ok"
      ? [r.scenario, r.store, `${r.status}: ${r.note}`, "", "", "", "", "", ""]
      : [
          r.scenario,
          r.store,
          r.measured.label,
          fmt(r.measured.perOpMs),
          r.reference.label,
          fmt(r.reference.perOpMs),
          `${fmt(r.ratio, 2)}×`,
          `${fmt(r.roundRatios.min, 2)}–${fmt(r.roundRatios.median, 2)}–${fmt(r.roundRatios.max, 2)}`,
          `${r.measured.ops}/${r.reference.ops}`,
        ],
  )
  const widths = header.map((h, i) =>
    Math.max(h.length, ...lines.filter((l) => l[3] !== "").map((l) => (l[i] ?? "").length)),
  )
  const row = (cells: ReadonlyArray<string>) =>
    cells[3] === "" && cells[4] === ""
      ? `${cells
          .slice(0, 2)
          .map((c, i) => c.padEnd(widths[i]!))
          .join(" │ ")} │ ${cells[2]}`
      : cells.map((c, i) => (i >= 3 && i !== 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" │ ")
  const rule = widths.map((w) => "─".repeat(w)).join("─┼─")
  return [row(header), rule, ...lines.map(row)].join("\n")
}
