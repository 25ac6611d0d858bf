/** SqlClient over postgres.js. */
import postgres from "postgres"
import type { Row, SqlClient } from "./client.ts"

export type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

/** A SqlClient and the postgres.js instance under it (for the LISTEN connection, built from its options). */
export type PgClient = SqlClient & { readonly sql: Sql }

/** Where a URL points, without the password. */
export const describeUrl = (url: string | undefined): string => {
  if (!url) {
    const env = process.env
    return `${env["PGHOST"] ?? "localhost"}:${env["PGPORT"] ?? "5432"}/${env["PGDATABASE"] ?? env["PGUSER"] ?? env["USER"] ?? ""} (from PG* environment defaults)`
  }
  try {
    const u = new URL(url)
    return `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname || "/"}`
  } catch {
    return "(an unparsable connection URL)"
  }
}

const wrap = (
  sql: Sql | postgres.TransactionSql,
  describe: string,
  owned: boolean,
  root: Sql | undefined,
): SqlClient => ({
  describe,
  query: async <R extends Row>(text: string, params: ReadonlyArray<unknown> = []) =>
    (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as R[],
  exec: async (text) => {
    await sql.unsafe(text)
  },
  transaction: async <A>(fn: (tx: SqlClient) => Promise<A>) => {
    if (!root) throw new Error("nested transactions are not supported")
    return (await root.begin((tx) => fn(wrap(tx, describe, false, undefined)))) as A
  },
  close: async () => {
    if (owned && root) await root.end({ timeout: 5 })
  },
})

export interface PgClientOptions {
  readonly url?: string
  readonly sql?: Sql
  readonly max?: number
}

/** A client on the user's postgres.js instance (never closed by us), or on a pool we open and own. */
export const pgClient = (options: PgClientOptions): PgClient => {
  if (options.sql) return { ...wrap(options.sql, "(your postgres.js instance)", false, options.sql), sql: options.sql }
  const sql = postgres(options.url ?? "", {
    max: options.max ?? 10,
    onnotice: () => undefined,
    connect_timeout: 10,
    // Reconnect quickly once the server is back (the default waits up to 20 s, longer than a lease);
    // the engine retries failed statements with its own backoff on top.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
    // Checkpoints are small and many: keep the connections' prepared statements.
    prepare: true,
  })
  return { ...wrap(sql, describeUrl(options.url), true, sql), sql }
}

/**
 * A pool that can be dropped and reopened, for heartbeats: on a one-connection pool, a query hung on a dead
 * connection would hold up every later heartbeat.
 */
export const resettablePgClient = (options: PgClientOptions): SqlClient => {
  let current = pgClient(options)
  return {
    describe: current.describe,
    query: (text, params) => current.query(text, params),
    exec: (text) => current.exec(text),
    transaction: (fn) => current.transaction(fn),
    close: () => current.close(),
    reset: () => {
      const old = current
      current = pgClient(options)
      old.sql.end({ timeout: 0 }).catch(() => undefined)
    },
  }
}
