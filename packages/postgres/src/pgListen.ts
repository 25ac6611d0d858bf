/**
 * The store's one LISTEN connection on Postgres, through postgres.js: a pool of one connection of its own
 * (so the main pool's connections stay free and a busy pool cannot delay notifications), built from the
 * main pool's options as postgres.js's own `sql.listen` does, but with the connection's loss reported so
 * that the store polls until it listens again. Re-LISTEN is tried after 1 s, then backing off to 30 s.
 *
 * A LISTEN that succeeds may still hear nothing (a pooler in transaction mode hands the session's server
 * connection to others), so listening counts only once a probe NOTIFY, sent through the main pool, has
 * come back on this connection; until then, and if it never does, the store keeps polling.
 */
import { randomUUID } from "node:crypto"
import postgres from "postgres"
import type { ListenHandlers, ListenSource } from "./wakeups.ts"

type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

export interface ListenTimings {
  /** Wait before the first re-LISTEN; doubles up to 30 s. Default 1 s. */
  readonly retryMs?: number
  /** How long the probe may take to come back. Default 5 s. */
  readonly probeTimeoutMs?: number
}

const maxRetryMs = 30_000

export const pgListen = (source: Sql, channel: string, timings: ListenTimings = {}): ListenSource => {
  const firstRetryMs = timings.retryMs ?? 1000
  const probeTimeoutMs = timings.probeTimeoutMs ?? 5000
  let sql: Sql | undefined
  let handlers: ListenHandlers | undefined
  let state: "idle" | "starting" | "probing" | "up" | "waiting" | "closed" = "idle"
  let probe = ""
  let timer: NodeJS.Timeout | undefined
  let delay = firstRetryMs
  // Connections closed so far: a LISTEN that succeeded on a connection that closed before we heard of it
  // does not count.
  let closes = 0

  const retryLater = () => {
    if (state === "closed") return
    state = "waiting"
    clearTimeout(timer)
    timer = setTimeout(attempt, delay)
    timer.unref()
    delay = Math.min(delay * 2, maxRetryMs)
  }

  const connection = (): Sql => {
    if (sql) return sql
    const options = {
      ...source.options,
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      // Not in postgres.js's option types, but what its own `listen` uses: every notification, any channel.
      onnotify: (ch: string, payload: string) => {
        if (ch !== channel) return
        if (state === "probing" && payload === probe) {
          clearTimeout(timer)
          state = "up"
          delay = firstRetryMs
          handlers?.up()
        } else if (state === "up" || state === "probing") handlers?.payload(payload)
      },
      onclose: () => {
        closes++
        if (state === "probing") retryLater()
        if (state !== "up") return
        handlers?.down()
        retryLater()
      },
    }
    return (sql = postgres(options as unknown as postgres.Options<Record<string, postgres.PostgresType>>))
  }

  function attempt() {
    timer = undefined
    if (state === "closed") return
    state = "starting"
    const before = closes
    connection()
      .unsafe(`LISTEN "${channel}"`)
      .then(
        () => {
          if (state !== "starting") return
          if (closes !== before) return retryLater()
          state = "probing"
          probe = JSON.stringify(["probe", randomUUID(), ""])
          timer = setTimeout(retryLater, probeTimeoutMs)
          timer.unref()
          source.unsafe("SELECT pg_notify($1, $2)", [channel, probe]).catch(() => {
            if (state === "probing") retryLater()
          })
        },
        () => {
          if (state === "starting") retryLater()
        },
      )
  }

  return {
    start: (h) => {
      handlers = h
      if (state === "idle") attempt()
    },
    close: async () => {
      state = "closed"
      clearTimeout(timer)
      await sql?.end({ timeout: 0 })
    },
  }
}
