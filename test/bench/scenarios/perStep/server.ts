/**
 * Per-step cost on the Postgres server store, against a single-row INSERT round trip on the same postgres.js
 * pool. The store's statements go through the same pool, timed by kind, so the report says where the time
 * goes. synchronous_commit and fsync are checked and printed; every table is checked to be logged.
 */
import { Effect } from "effect"
import postgres from "postgres"
import { uuidv7, type Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { benchSchema, interleaved, type BenchEnv, type Row } from "../../harness.ts"
import { launch, payload, sizes, STEPS, tenSteps, withCpu } from "./common.ts"

/** Which store statement a query is, by its text (the hot path is one statement per store operation). */
export const statementKind = (text: string): string => {
  const t = text.replace(/\s+/g, " ").trim()
  if (/^INSERT INTO \S+\.workflows\b/.test(t)) return "createWorkflow"
  if (/^WITH owner AS/.test(t)) return "writeCheckpoint"
  if (/^UPDATE \S+\.workflows w SET status = c\.status/.test(t)) return "completeWorkflow"
  if (/^UPDATE \S+\.workflows SET status = \$3/.test(t)) return "completeWorkflow"
  if (/^SELECT id, name, status, .* FROM \S+\.workflows WHERE id = \$1$/.test(t)) return "getWorkflow"
  if (/^SELECT w\.status, w\.epoch/.test(t)) return "checkpointConflict"
  if (/^UPDATE \S+\.workflows w SET/.test(t)) return "claimWorkflow"
  if (/^WITH prev AS/.test(t)) return "heartbeat"
  if (/^WITH candidates AS/.test(t)) return "takeOver"
  if (/^SELECT id, status FROM/.test(t)) return "statuses (watch poll)"
  return t.split(" ").slice(0, 4).join(" ")
}

type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

/** Per statement kind: how many were sent and how long they took, from the call to the result. */
export type StatementStats = Map<string, { count: number; ms: number }>

const record = (stats: StatementStats, kind: string, ms: number) => {
  const s = stats.get(kind)
  if (s) {
    s.count++
    s.ms += ms
  } else stats.set(kind, { count: 1, ms })
}

const merge = (into: StatementStats, from: StatementStats) => {
  for (const [k, s] of from) {
    const t = into.get(k)
    if (t) {
      t.count += s.count
      t.ms += s.ms
    } else into.set(k, { ...s })
  }
}

/** The same pool, with each statement the store sends timed by kind (the reference INSERT bypasses it). */
const instrumented = (sql: Sql, stats: StatementStats): Sql =>
  new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "unsafe")
        return async (text: string, ...rest: unknown[]) => {
          const kind = statementKind(text)
          const start = performance.now()
          try {
            return await (target.unsafe as (...a: unknown[]) => Promise<unknown>)(text, ...rest)
          } finally {
            record(stats, kind, performance.now() - start)
          }
        }
      if (prop === "begin") record(stats, "BEGIN (transaction)", 0)
      return Reflect.get(target, prop, receiver) as unknown
    },
  })

/** Per kind, statements and milliseconds per workflow (over the measured workflows), most time first. */
export const perWorkflow = (stats: StatementStats, workflows: number) =>
  Object.fromEntries(
    [...stats]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, s]) => [k, { count: s.count / workflows, ms: s.ms / workflows }]),
  )

export const serverRow = async (env: BenchEnv, url: string): Promise<Row> => {
  const size = sizes(env.quick)
  const schema = benchSchema()
  // One pool for both sides, with the store's own defaults (10 connections, prepared statements).
  const sql: Sql = postgres(url, { max: 10, prepare: true, onnotice: () => undefined, connect_timeout: 10 })
  const stats: StatementStats = new Map()
  const store = postgresStore({ sql: instrumented(sql, stats), schema })
  let durably: Durably | undefined
  try {
    const setting = async (name: string) =>
      (await sql.unsafe<{ v: string }[]>(`SELECT current_setting($1) AS v`, [name]))[0]?.v ?? "?"
    const settings = {
      serverVersion: await setting("server_version"),
      synchronousCommit: await setting("synchronous_commit"),
      fsync: await setting("fsync"),
      walSyncMethod: await setting("wal_sync_method"),
    }
    env.log(
      `  postgres ${settings.serverVersion}: synchronous_commit = ${settings.synchronousCommit}, fsync = ${settings.fsync}, wal_sync_method = ${settings.walSyncMethod}`,
    )
    if (settings.synchronousCommit !== "on" || settings.fsync !== "on")
      env.log(
        "  WARNING: commits are acknowledged before they are flushed to disk; both sides are faster than in production",
      )

    durably = await launch(store) // migrates the fresh schema
    await sql.unsafe(`CREATE TABLE "${schema}".insert_ref (id text PRIMARY KEY, payload text NOT NULL)`)
    const tables = await sql<{ relname: string; relpersistence: string }[]>`
      SELECT c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${schema} AND c.relkind = 'r' ORDER BY c.relname`
    const unlogged = tables.filter((t) => t.relpersistence !== "p").map((t) => t.relname)
    if (unlogged.length > 0) throw new Error(`not every table is logged: ${unlogged.join(", ")}`)
    env.log(`  tables (all logged): ${tables.map((t) => t.relname).join(", ")}`)

    const engine = durably
    const insertText = `INSERT INTO "${schema}".insert_ref (id, payload) VALUES ($1, $2)`
    const inserts = async (n: number) => {
      for (let i = 0; i < n; i++) await sql.unsafe(insertText, [uuidv7(), payload], { prepare: true })
    }
    const workflows = async (n: number) => {
      for (let i = 0; i < n; i++) await engine.run(tenSteps, i)
    }
    // Only the measured workflows' statements count (heartbeats that fall inside them are listed apart).
    const measuredStats: StatementStats = new Map()
    const cpu = { subject: { ms: 0 }, reference: { ms: 0 } }
    const opsPerRound = size.workflowsPerRound * STEPS
    const result = await interleaved({
      rounds: size.rounds,
      warmup: async () => {
        await workflows(size.warmupWorkflows)
        await inserts(size.warmupWorkflows * STEPS)
      },
      subject: {
        label: `${STEPS}-step workflow, per step`,
        opsPerRound,
        run: async () => {
          stats.clear()
          await withCpu(cpu.subject, () => workflows(size.workflowsPerRound))
          merge(measuredStats, stats)
        },
      },
      reference: {
        label: "INSERT round trip",
        opsPerRound,
        run: () => withCpu(cpu.reference, () => inserts(opsPerRound)),
      },
    })
    const measuredWorkflows = size.rounds * size.workflowsPerRound
    const statements = perWorkflow(measuredStats, measuredWorkflows)
    const statementMs = Object.values(statements).reduce((sum, s) => sum + s.ms, 0)
    const [{ n: checkpointRows } = { n: 0 }] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM ${sql(schema)}.steps`
    const expectedCheckpointRows = (measuredWorkflows + size.warmupWorkflows) * STEPS
    const ops = result.measured.ops
    const perWf = result.measured.totalMs / measuredWorkflows
    const cpuPerOp = { measured: cpu.subject.ms / ops, reference: cpu.reference.ms / result.reference.ops }
    const notes = [
      `statements per workflow (count × mean ms): ${Object.entries(statements)
        .map(([k, s]) => `${k} ${s.count.toFixed(2)} × ${(s.ms / s.count).toFixed(3)}`)
        .join(", ")}`,
      `per workflow: ${perWf.toFixed(2)} ms = ${statementMs.toFixed(2)} ms waiting on statements + ${(perWf - statementMs).toFixed(2)} ms outside them; ` +
        `${STEPS} INSERTs take ${(result.reference.perOpMs * STEPS).toFixed(2)} ms`,
      `client CPU per op: ${cpuPerOp.measured.toFixed(3)} ms per step, ${cpuPerOp.reference.toFixed(3)} ms per INSERT`,
      `checkpoint rows: ${checkpointRows} (expected ${expectedCheckpointRows})${checkpointRows === expectedCheckpointRows ? "" : " MISMATCH"}`,
    ]
    return {
      scenario: "per-step cost",
      store: "postgres (server)",
      status: "ok",
      ...result,
      details: {
        ...settings,
        pool: { max: 10, prepare: true },
        payloadBytes: Buffer.byteLength(payload),
        workflows: measuredWorkflows,
        checkpointRows,
        expectedCheckpointRows,
        statementsPerWorkflow: statements,
        perWorkflowMs: { total: perWf, inStatements: statementMs, outsideStatements: perWf - statementMs },
        clientCpuMsPerOp: cpuPerOp,
      },
      notes,
    }
  } finally {
    await durably?.shutdown().catch((e: unknown) => env.log(`  shutdown failed: ${String(e)}`))
    if (!durably) await Effect.runPromise(store.close())
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 5 })
  }
}
