/**
 * SqlClient over postgres.js, with workarounds for three of its bugs (3.4.x; reported upstream as postgres.js
 * issues 1119, 1154, 1181, 1192, 1205, 1208 and 1223, unfixed in a release) that kill the process or corrupt
 * results when a connection drops:
 *
 * - a transaction whose connection closed still sends its ROLLBACK (or COMMIT) on that connection once its
 *   body settles, and writing to the closed socket throws a TypeError from a timer, where nobody can catch
 *   it; its later queries may even run on the connection reopened for someone else, outside the
 *   transaction. `guardedBegin` keeps every query of a lost transaction off the driver.
 * - a connection that opens fetches the server's array types, and a failure of that fetch is an unhandled
 *   rejection. Our pools never let the driver fetch them: the pool's first query reads them itself
 *   (arrayTypes.ts), so a connection lost then fails only that query.
 * - a result is filled from a row counter kept per connection and reset only when a query completes: a query
 *   that failed after some of its rows arrived (its backend killed while rows stream, an error on a later row)
 *   leaves it behind, and the next query on that connection resolves with holes before its rows. `dense`
 *   drops them (the rows themselves are intact, only shifted).
 */
import postgres from "postgres"
import { arrayTypesSql, registerArrayTypes } from "./arrayTypes.ts"
import type { Row, SqlClient } from "./client.ts"
import { failureKind } from "./errors.ts"
import { libpqQueryParameters } from "./urlParameters.ts"

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
    const { url: rest, options } = libpqQueryParameters(url)
    const u = new URL(rest)
    const database = options.database === undefined ? u.pathname || "/" : `/${options.database}`
    return `${options.host ?? (u.hostname || "localhost")}:${options.port ?? (u.port || "5432")}${database}`
  } catch {
    return "(an unparsable connection URL)"
  }
}

/**
 * Before the pool's first query: read and register the array types (once; a failed read is tried again by the
 * next query). Registered before any statement is prepared, so every statement's columns get their parsers.
 */
const arrayTypesLoader = (sql: Sql) => {
  let loading: Promise<void> | undefined
  let loaded = false
  // Undefined once loaded: every statement asks, and awaiting a settled promise would still cost it a turn.
  return (): Promise<void> | undefined =>
    loaded
      ? undefined
      : (loading ??= sql.unsafe(arrayTypesSql).then(
          (rows) => {
            registerArrayTypes(sql, dense(rows as unknown as Array<{ oid: number; typarray: number }>))
            loaded = true
          },
          (e: unknown) => {
            loading = undefined
            throw e
          },
        ))
}

/**
 * The rows of a result, without the leading holes a stale row counter leaves (see above). Holes are only ever
 * at the front, so a result whose first slot is filled is whole: the common case costs one check.
 */
export const dense = <R>(rows: R[]): R[] => (rows.length > 0 && !(0 in rows) ? rows.filter(() => true) : rows)

const isConnectionLoss = (e: unknown) => {
  const kind = failureKind(e)
  return kind === "connection" || kind === "shutdown"
}

/**
 * `root.begin(fn)`, except that once its connection is lost (a query of it failed so, or the driver gave up
 * the transaction) no query of it reaches the driver again, and its body's outcome is kept from the driver
 * too: the driver would answer it with a ROLLBACK or COMMIT on the dead connection. The caller sees the
 * connection error; the server rolls the transaction back when the connection closes.
 */
const guardedBegin = async <A>(root: Sql, describe: string, fn: (tx: SqlClient) => Promise<A>): Promise<A> => {
  let lost: unknown
  const guard = (tx: postgres.TransactionSql): SqlClient => {
    const inner = wrap(tx, describe, false, undefined)
    const checked =
      <T>(run: () => Promise<T>) =>
      async (): Promise<T> => {
        if (lost !== undefined) throw lost
        try {
          return await run()
        } catch (e) {
          if (isConnectionLoss(e)) lost ??= e
          throw e
        }
      }
    return {
      ...inner,
      query: <R extends Row = Row>(text: string, params?: ReadonlyArray<unknown>) =>
        checked(() => inner.query<R>(text, params))(),
      exec: (text) => checked(() => inner.exec(text))(),
    }
  }
  let abandon!: (e: unknown) => void
  const abandoned = new Promise<never>((_, reject) => {
    abandon = (e) => reject(e instanceof Error ? e : new Error(String(e)))
  })
  const begun = root.begin(
    (tx) =>
      new Promise<A>((resolve, reject) => {
        // Settled only while the connection lives: afterwards the driver must not be asked to end it, and the
        // caller hears of the loss here (in case the driver never says so itself).
        fn(guard(tx)).then(
          (value) => (lost === undefined ? resolve(value) : abandon(lost)),
          // The body's failure goes on as it was thrown, whatever it is.
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          (e: unknown) => (lost === undefined ? reject(e) : abandon(lost)),
        )
      }),
  )
  try {
    return (await Promise.race([begun, abandoned])) as A
  } catch (e) {
    if (isConnectionLoss(e)) lost ??= e
    throw e
  } finally {
    // Whichever lost the race settles later, or never: nobody waits for it.
    begun.catch(() => undefined)
    abandoned.catch(() => undefined)
  }
}

const wrap = (
  sql: Sql | postgres.TransactionSql,
  describe: string,
  owned: boolean,
  root: Sql | undefined,
  /** What must be done before the first statement (the array types of a pool we own); undefined once done. */
  ready?: () => Promise<void> | undefined,
): SqlClient => ({
  describe,
  query: async <R extends Row>(text: string, params: ReadonlyArray<unknown> = []) => {
    const pending = ready?.()
    if (pending) await pending
    return dense(
      (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
        prepare: true,
      })) as unknown as R[],
    )
  },
  exec: async (text) => {
    const pending = ready?.()
    if (pending) await pending
    await sql.unsafe(text)
  },
  transaction: async <A>(fn: (tx: SqlClient) => Promise<A>) => {
    if (!root) throw new Error("nested transactions are not supported")
    const pending = ready?.()
    if (pending) await pending
    return guardedBegin(root, describe, fn)
  },
  close: async () => {
    if (owned && root) await root.end({ timeout: 5 })
  },
})

export interface PgClientOptions {
  readonly url?: string
  readonly sql?: Sql
  readonly max?: number
  /**
   * Register the server's array types before the pool's first query (needed to send arrays as parameters and
   * read them in results). False for pools that never use arrays (heartbeats, migrations). The driver's own
   * fetch is never used (see arrayTypes.ts).
   */
  readonly fetchTypes?: boolean
}

/** A client on the user's postgres.js instance (never closed by us), or on a pool we open and own. */
export const pgClient = (options: PgClientOptions): PgClient => {
  if (options.sql) return { ...wrap(options.sql, "(your postgres.js instance)", false, options.sql), sql: options.sql }
  const { url, options: fromQuery } = libpqQueryParameters(options.url ?? "")
  const sql = postgres(url, {
    ...fromQuery,
    max: options.max ?? 10,
    onnotice: () => undefined,
    connect_timeout: 10,
    // Reconnect quickly once the server is back (the default waits up to 20 s, longer than a lease);
    // the engine retries failed statements with its own backoff on top.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
    // Checkpoints are small and many: keep the connections' prepared statements.
    prepare: true,
    fetch_types: false,
  })
  const ready = (options.fetchTypes ?? true) ? arrayTypesLoader(sql) : undefined
  return { ...wrap(sql, describeUrl(options.url), true, sql, ready), sql }
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
