/**
 * The Store port's schedule operations on SQL (table `schedules`, sql/0005_schedules.sql). Every change to a
 * definition NOTIFYs in its own statement, so every process's schedule runner looks again; a tick's progress
 * (`advanceSchedule`) notifies nobody.
 */
import type { Effect } from "effect"
import type { CatchUp, ScheduleOrigin, ScheduleRecord, Store, StoreError, Wake } from "@durably/core"
import type { Row, SqlClient } from "./client.ts"
import { notifySql } from "./notify.ts"
import { schemaIdent } from "./queries.ts"

type ScheduleOps = Pick<
  Store,
  "putSchedule" | "getSchedule" | "listSchedules" | "updateSchedule" | "deleteSchedule" | "advanceSchedule"
>

export interface ScheduleOpsDeps {
  readonly client: SqlClient
  readonly schema: string
  readonly channel: string | undefined
  readonly op: <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, StoreError>
  /** A committed write this process made (for subscribers here, when no notification will tell them). */
  readonly wrote: (wake: Wake) => void
}

const columns =
  "name, workflow_name, cron, timezone, catch_up, max_catch_up, queue, input, origin, paused, last_tick_ms, created_ms, updated_ms"

const toSchedule = (r: Row): ScheduleRecord => ({
  name: r["name"] as string,
  workflowName: r["workflow_name"] as string,
  cron: r["cron"] as string,
  timezone: r["timezone"] as string,
  catchUp: r["catch_up"] as CatchUp,
  maxCatchUp: Number(r["max_catch_up"]),
  ...(r["queue"] === null || r["queue"] === undefined ? {} : { queue: r["queue"] as string }),
  ...(r["input"] === null || r["input"] === undefined ? {} : { input: r["input"] as string }),
  origin: r["origin"] as ScheduleOrigin,
  paused: r["paused"] === true,
  lastTick: Number(r["last_tick_ms"]),
  createdAt: Number(r["created_ms"]),
  updatedAt: Number(r["updated_ms"]),
})

export const makeScheduleOps = (deps: ScheduleOpsDeps): ScheduleOps => {
  const s = schemaIdent(deps.schema)
  const T = `${s}.schedules`
  const { client } = deps
  const notify = notifySql(deps.channel, "c", "''", "''")
  const specParams = "$1, $2, $3, $4, $5, $6, $7, $8, $9"
  // Code: insert, or replace the definition keeping paused and progress; the row it replaced comes back.
  const defineSql = `WITH prev AS (SELECT ${columns} FROM ${T} WHERE name = $1)
    INSERT INTO ${T} AS t (name, workflow_name, cron, timezone, catch_up, max_catch_up, queue, input, origin,
        last_tick_ms, created_ms, updated_ms)
      VALUES (${specParams}, $10, $10, $10)
      ON CONFLICT (name) DO UPDATE SET workflow_name = EXCLUDED.workflow_name, cron = EXCLUDED.cron,
        timezone = EXCLUDED.timezone, catch_up = EXCLUDED.catch_up, max_catch_up = EXCLUDED.max_catch_up,
        queue = EXCLUDED.queue, input = EXCLUDED.input, origin = EXCLUDED.origin, updated_ms = EXCLUDED.updated_ms
      RETURNING ${columns.replace(/(^|, )/g, "$1t.")}, (SELECT row_to_json(prev)::text FROM prev) AS previous, ${notify} AS notified`
  const createSql = `INSERT INTO ${T} (name, workflow_name, cron, timezone, catch_up, max_catch_up, queue, input, origin,
        last_tick_ms, created_ms, updated_ms)
      VALUES (${specParams}, $10, $10, $10)
      ON CONFLICT (name) DO NOTHING
      RETURNING ${columns}, ${notify} AS notified`
  const getSql = `SELECT ${columns} FROM ${T} WHERE name = $1`
  const updateSql = `UPDATE ${T} SET
      workflow_name = coalesce($2, workflow_name), cron = coalesce($3, cron), timezone = coalesce($4, timezone),
      catch_up = coalesce($5, catch_up), max_catch_up = coalesce($6, max_catch_up),
      queue = CASE WHEN $7::boolean THEN $8::text ELSE queue END, input = CASE WHEN $9::boolean THEN $10::text ELSE input END,
      paused = coalesce($11::boolean, paused), last_tick_ms = coalesce($12::bigint, last_tick_ms), updated_ms = $13
    WHERE name = $1
    RETURNING ${columns}, ${notify} AS notified`

  const wrote = () => deps.wrote({ kind: "schedules" })

  return {
    putSchedule: (spec, origin) =>
      deps.op("putSchedule", async (now) => {
        const params = [
          spec.name,
          spec.workflowName,
          spec.cron,
          spec.timezone,
          spec.catchUp,
          spec.maxCatchUp,
          spec.queue ?? null,
          spec.input ?? null,
          origin,
          now,
        ]
        if (origin === "code") {
          const [row] = await client.query(defineSql, params)
          wrote()
          const record = toSchedule(row!)
          const previous = row!["previous"] as string | null
          return previous
            ? { _tag: "Replaced" as const, record, previous: toSchedule(JSON.parse(previous) as Row) }
            : { _tag: "Created" as const, record }
        }
        const [row] = await client.query(createSql, params)
        if (row) {
          wrote()
          return { _tag: "Created" as const, record: toSchedule(row) }
        }
        const [existing] = await client.query(getSql, [spec.name])
        return { _tag: "Exists" as const, existing: toSchedule(existing!) }
      }),
    getSchedule: (name) =>
      deps.op("getSchedule", async () => {
        const [row] = await client.query(getSql, [name])
        return row ? toSchedule(row) : undefined
      }),
    listSchedules: () =>
      deps.op("listSchedules", async () =>
        (await client.query(`SELECT ${columns} FROM ${T} ORDER BY name`)).map(toSchedule),
      ),
    updateSchedule: (name, p) =>
      deps.op("updateSchedule", async (now) => {
        const [row] = await client.query(updateSql, [
          name,
          p.workflowName ?? null,
          p.cron ?? null,
          p.timezone ?? null,
          p.catchUp ?? null,
          p.maxCatchUp ?? null,
          p.queue !== undefined,
          p.queue ?? null,
          p.input !== undefined,
          p.input ?? null,
          p.paused ?? null,
          p.lastTick ?? null,
          now,
        ])
        if (!row) return undefined
        wrote()
        return toSchedule(row)
      }),
    deleteSchedule: (name) =>
      deps.op("deleteSchedule", async () => {
        const rows = await client.query(`DELETE FROM ${T} WHERE name = $1 RETURNING ${notify} AS notified`, [name])
        if (rows.length > 0) wrote()
        return rows.length > 0
      }),
    advanceSchedule: (name, tick) =>
      deps.op("advanceSchedule", async () => {
        await client.query(`UPDATE ${T} SET last_tick_ms = $2 WHERE name = $1 AND last_tick_ms < $2`, [name, tick])
      }),
  }
}
