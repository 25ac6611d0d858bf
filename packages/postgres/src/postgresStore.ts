/** The Store on a Postgres server, through postgres.js. */
import { InvalidArgument, type Store } from "@durably/core"
import type postgres from "postgres"
import { migrateWith } from "./migrate.ts"
import { channelOf } from "./notify.ts"
import { pgClient, resettablePgClient } from "./pgClient.ts"
import { pgListen } from "./pgListen.ts"
import { integerOption, optionsObject, validateSchema, validateUrl } from "./options.ts"
import { makeSqlStore } from "./sqlStore.ts"

export interface PostgresStoreOptions {
  /** A connection URL; without one (and without `sql`), postgres.js uses the PG* environment variables. */
  readonly url?: string
  /** Your own postgres.js instance instead of a URL; Durably never closes it. */
  readonly sql?: postgres.Sql<Record<string, postgres.PostgresType>>
  /** The system schema. Default "durably". */
  readonly schema?: string
  /** Pool size when Durably opens the pool. Default 10. */
  readonly max?: number
  /** Apply migrations before first use (under an advisory lock). Default true. */
  readonly migrate?: boolean
  /**
   * Wake-ups through LISTEN/NOTIFY: every write that can wake a waiter (message, event, stream, a workflow
   * finishing, cancelled or dead) sends a NOTIFY in its own transaction, and the store holds one extra
   * connection that LISTENs (opened on the first wait, kept until close). Default true. Set it to false for
   * poolers that cannot LISTEN (PgBouncer and the like in transaction mode): waiters then poll every
   * `pollInterval`, and still wake at once on writes made through this same store.
   */
  readonly notifications?: boolean
  /**
   * How often waiters poll while notifications are not heard (disabled, or the LISTEN connection lost and
   * not yet back). Default 1 second. Nothing is polled while nothing waits.
   */
  readonly pollInterval?: number
}

/** `postgresStore({ url: process.env.DATABASE_URL })` */
export const postgresStore = (given?: PostgresStoreOptions): Store => {
  const options = optionsObject(given, "postgresStore")
  const schema = validateSchema(options.schema ?? "durably")
  validateUrl(options.url, "postgresStore")
  if (options.sql !== undefined && typeof options.sql !== "function")
    throw new InvalidArgument({ reason: "postgresStore: sql must be a postgres.js instance (made by postgres(…))" })
  const max = integerOption(options.max, "postgresStore: max", 1, 10_000, 10)
  // Waiters poll at this pace while notifications are not heard: under 10 ms it is a busy loop on the server.
  const pollMs = integerOption(options.pollInterval, "postgresStore: pollInterval", 10, 2 ** 31 - 1, 1000)
  const client = pgClient({
    ...(options.url === undefined ? {} : { url: options.url }),
    ...(options.sql === undefined ? {} : { sql: options.sql }),
    max,
  })
  // Heartbeats get their own connection so a saturated pool cannot make a live executor look dead.
  const heartbeatClient = options.sql
    ? client
    : resettablePgClient({ ...(options.url === undefined ? {} : { url: options.url }), max: 1, fetchTypes: false })
  let ready: Promise<void> | undefined
  return makeSqlStore({
    kind: "postgres",
    client,
    heartbeatClient,
    schema,
    // Memoized while it works; a failure (the server was down) is forgotten so the next call tries again.
    ready: () =>
      (ready ??=
        options.migrate === false
          ? Promise.resolve()
          : migrateWith(client, schema).then(
              () => undefined,
              (e: unknown) => {
                ready = undefined
                throw e
              },
            )),
    notifications: {
      channel: channelOf(schema),
      ...(options.notifications === false ? {} : { listen: pgListen(client.sql, channelOf(schema)) }),
    },
    pollMs,
    onClose: async () => {
      await client.close()
      if (heartbeatClient !== client) await heartbeatClient.close()
    },
  })
}
