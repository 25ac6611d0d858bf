/**
 * What the DBOS measurements share inside the child process: launching DBOS Transact with its defaults, the
 * statements it sends (timed by kind, as ../perStep/server.ts times Durably's), and checks on the server.
 */
import { createRequire } from "node:module"
import { DBOS, type DBOSConfig } from "@dbos-inc/dbos-sdk"
import postgres from "postgres"
import { APP_NAME, APP_VERSION, SYSTEM_SCHEMA } from "./common.ts"

export type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

/**
 * `DBOS.setConfig` + `DBOS.launch`, with DBOS's defaults (system database pool of 10, LISTEN/NOTIFY on, queue
 * polling from 1 s) except: a fixed application version (so an enqueuing process and a worker agree, as
 * Durably's `appVersion: "bench"`), and warnings and errors only in the log (as Durably's quiet logger).
 */
export const launchDbos = async (
  systemDatabaseUrl: string,
  extra: Pick<DBOSConfig, "listenQueues"> = {},
): Promise<void> => {
  DBOS.setConfig({
    name: APP_NAME,
    systemDatabaseUrl,
    applicationVersion: APP_VERSION,
    logLevel: "warn",
    ...extra,
  })
  await DBOS.launch()
}

export const settingsOf = async (sql: Sql) => {
  const setting = async (name: string) =>
    (await sql.unsafe<{ v: string }[]>(`SELECT current_setting($1) AS v`, [name]))[0]?.v ?? "?"
  return {
    serverVersion: await setting("server_version"),
    synchronousCommit: await setting("synchronous_commit"),
    fsync: await setting("fsync"),
  }
}

/** The tables of DBOS's schema in its system database; fails if one is not logged. */
export const assertDbosTablesLogged = async (system: Sql): Promise<string[]> => {
  const tables = await system.unsafe<{ relname: string; relpersistence: string }[]>(
    `SELECT c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname`,
    [SYSTEM_SCHEMA],
  )
  const unlogged = tables.filter((t) => t.relpersistence !== "p").map((t) => t.relname)
  if (unlogged.length > 0) throw new Error(`not every DBOS table is logged: ${unlogged.join(", ")}`)
  if (tables.length === 0) throw new Error(`no DBOS tables in schema ${SYSTEM_SCHEMA}`)
  return tables.map((t) => t.relname)
}

/** Which statement DBOS sent, by its text: the verb and the table. */
export const statementKind = (text: string): string => {
  const t = text.replace(/\s+/g, " ").replaceAll(`"${SYSTEM_SCHEMA}".`, "").replaceAll('"', "").trim()
  const verb = /^(BEGIN|COMMIT|ROLLBACK)\b/i.exec(t)
  if (verb) return verb[1]!.toUpperCase()
  const write = /^(INSERT INTO|UPDATE|DELETE FROM) (\w+)/i.exec(t)
  if (write) return `${write[1]!.toUpperCase()} ${write[2]}`
  const read = /^SELECT (.+?) FROM (\w+)/i.exec(t)
  if (read) {
    const columns = read[1]!.split(",")
    return `SELECT ${columns[0]!.trim()}${columns.length > 1 ? ", …" : ""} FROM ${read[2]}${/ FOR (NO KEY )?UPDATE\b/i.test(t) ? " FOR UPDATE" : ""}`
  }
  return t.split(" ").slice(0, 3).join(" ")
}

/** Per statement kind: how many were sent and how long they took, from the call to the result. */
export type StatementStats = Map<string, { count: number; ms: number }>

const record = (stats: StatementStats, kind: string, ms: number) => {
  const s = stats.get(kind)
  if (s) {
    s.count++
    s.ms += ms
  } else stats.set(kind, { count: 1, ms })
}

export const merge = (into: StatementStats, from: StatementStats) => {
  for (const [k, s] of from) {
    const t = into.get(k)
    if (t) {
      t.count += s.count
      t.ms += s.ms
    } else into.set(k, { ...s })
  }
}

/** Per kind, statements and milliseconds per workflow, most time first. */
export const perWorkflow = (stats: StatementStats, workflows: number) =>
  Object.fromEntries(
    [...stats]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, s]) => [k, { count: s.count / workflows, ms: s.ms / workflows }]),
  )

/** `kind count × mean ms` for the `limit` kinds that took most time, then how many statements the rest were. */
export const describeStatements = (statements: ReturnType<typeof perWorkflow>, limit = Infinity): string => {
  const entries = Object.entries(statements)
  const shown = entries.slice(0, limit).map(([k, s]) => `${k} ${s.count.toFixed(2)} × ${(s.ms / s.count).toFixed(3)}`)
  const rest = entries.slice(limit)
  if (rest.length > 0)
    shown.push(
      `${rest.length} other kinds ${rest.reduce((a, [, s]) => a + s.count, 0).toFixed(2)} × (migrations, queue reconciliation, LISTEN, …)`,
    )
  return shown.join(", ")
}

type Query = (this: unknown, ...args: unknown[]) => unknown

/**
 * Time every statement DBOS sends, by kind, into the returned map: the `query` method of node-postgres's
 * Client (the module instance DBOS itself loads) is wrapped, in this child process only. The wrapper costs a
 * clock read and a map update per statement; DBOS's settings are untouched. Cursors and other submittables
 * are counted, not timed.
 */
export const instrumentPg = (): StatementStats => {
  const stats: StatementStats = new Map()
  const pg = createRequire(import.meta.resolve("@dbos-inc/dbos-sdk"))("pg") as {
    Client: { prototype: { query: Query } }
  }
  const original = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0] as { text?: unknown; submit?: unknown } | string | undefined
    const text = typeof config === "string" ? config : typeof config?.text === "string" ? config.text : undefined
    if (text === undefined) return original.apply(this, args)
    const kind = statementKind(text)
    if (typeof config === "object" && typeof config.submit === "function") {
      record(stats, kind, 0)
      return original.apply(this, args)
    }
    const start = performance.now()
    const done = () => record(stats, kind, performance.now() - start)
    const cbAt = typeof args[2] === "function" ? 2 : typeof args[1] === "function" ? 1 : -1
    if (cbAt >= 0) {
      const callback = args[cbAt] as (...a: unknown[]) => unknown
      args[cbAt] = (...a: unknown[]) => {
        done()
        return callback(...a)
      }
      return original.apply(this, args)
    }
    const result = original.apply(this, args)
    if (result instanceof Promise) result.then(done, done)
    return result
  }
  return stats
}

export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `promise`, or a rejection naming `what` after `ms`; the timer never outlives the race. */
export const within = async <A>(ms: number, what: string, promise: Promise<A>): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer after ${ms} ms: ${what}`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Workflows of the DBOS application by status, in its system database. */
export const statusCounts = async (system: Sql, queue?: string): Promise<Record<string, number>> => {
  const rows = await system.unsafe<{ status: string; n: number }[]>(
    queue === undefined
      ? `SELECT status, count(*)::int AS n FROM "${SYSTEM_SCHEMA}".workflow_status GROUP BY status`
      : `SELECT status, count(*)::int AS n FROM "${SYSTEM_SCHEMA}".workflow_status WHERE queue_name = $1 GROUP BY status`,
    queue === undefined ? [] : [queue],
  )
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}
