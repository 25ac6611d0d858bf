/**
 * Connections killed under a running engine (`pg_terminate_backend`, as a failover, an admin or a crashed
 * backend would): the process survives every failure the driver reports, and the work completes exactly once.
 */
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably } from "@durably/core"
import { postgresStore, transaction } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { until } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("connloss")
const app = `app_${schema}`
const sql = postgres(url, { max: 2, onnotice: () => undefined })
const table = `"${schema}_ledger"`

/** Errors nobody caught: each one would have killed a worker process. */
const escaped: unknown[] = []
const onEscape = (e: unknown) => void escaped.push(e)

beforeAll(async () => {
  process.on("uncaughtException", onEscape)
  process.on("unhandledRejection", onEscape)
  await sql.unsafe(`CREATE TABLE ${table} (id text PRIMARY KEY, n int NOT NULL)`)
})
afterAll(async () => {
  process.off("uncaughtException", onEscape)
  process.off("unhandledRejection", onEscape)
  await sql.unsafe(`DROP TABLE IF EXISTS ${table}`)
  await sql.end()
  await dropSchema(url, schema)
})

/** Terminate the backends of this test's stores whose current query matches `like`; how many. */
const terminate = async (like: string) => {
  const rows = await sql<Array<{ ok: boolean }>>`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
    WHERE application_name = ${app} AND query LIKE ${like} AND pid <> pg_backend_pid()`
  return rows.length
}

const store = () =>
  postgresStore({ url: `${url}${url.includes("?") ? "&" : "?"}application_name=${app}`, schema, max: 4 })

describe("connections killed under a running engine", () => {
  it("a connection lost inside transaction(ctx, …) is retried: the process lives, the write happens once", async () => {
    let bodies = 0
    const wf = defineWorkflow("connloss-tx", async (ctx, id: string) =>
      transaction(ctx, "pay", async (tx) => {
        bodies++
        await tx.query(`INSERT INTO ${table} VALUES ($1, 1)`, [id])
        // The first attempt waits here until its connection is killed.
        if (bodies === 1) await tx.query("SELECT pg_sleep(30) /* connloss-wait */")
        return id
      }),
    )
    const durably = await Durably.launch({ store: store(), workflows: [wf], executorId: "connloss-a", logger: false })
    try {
      const h = await durably.start(wf, "tx-1")
      await until(async () => (await terminate("%connloss-wait%")) > 0)
      expect(await h.result()).toBe("tx-1")
      expect(bodies).toBe(2)
      expect(await sql.unsafe(`SELECT id, n FROM ${table} WHERE id = 'tx-1'`)).toEqual([{ id: "tx-1", n: 1 }])
      expect(escaped).toEqual([])
    } finally {
      await durably.shutdown()
    }
  }, 60_000)

  it("a body that catches the loss and queries on cannot reach the driver: no crash, no write outside the transaction", async () => {
    let bodies = 0
    const wf = defineWorkflow("connloss-tx-on", async (ctx, id: string) =>
      transaction(ctx, "pay", async (tx) => {
        const attempt = ++bodies
        if (attempt === 1) {
          try {
            await tx.query("SELECT pg_sleep(30) /* connloss-on */")
          } catch {
            // A careless body: it carries on after its connection died.
          }
        }
        await tx.query(`INSERT INTO ${table} VALUES ($1, $2)`, [`${id}-${attempt}`, attempt])
        return id
      }),
    )
    const durably = await Durably.launch({ store: store(), workflows: [wf], executorId: "connloss-b", logger: false })
    try {
      const h = await durably.start(wf, "on")
      await until(async () => (await terminate("%connloss-on%")) > 0)
      expect(await h.result()).toBe("on")
      // Only the attempt that committed wrote: the first one's INSERT never ran outside its transaction.
      expect(await sql.unsafe(`SELECT id FROM ${table} WHERE id LIKE 'on-%' ORDER BY id`)).toEqual([{ id: "on-2" }])
      expect(escaped).toEqual([])
    } finally {
      await durably.shutdown()
    }
  }, 60_000)

  it("every connection killed again and again (also while it starts): workers live, each workflow completes once", async () => {
    const runs = new Map<string, number>()
    const wf = defineWorkflow("connloss-many", async (ctx, n: number) => {
      let total = 0
      for (let i = 0; i < 10; i++) total += await ctx.step(`s${i}`, () => i)
      await transaction(ctx, "record", async (tx) => {
        runs.set(ctx.workflowId, (runs.get(ctx.workflowId) ?? 0) + 1)
        await tx.query(`INSERT INTO ${table} VALUES ($1, $2)`, [`many-${n}`, total])
      })
      return total
    })
    const durably = await Durably.launch({ store: store(), workflows: [wf], executorId: "connloss-c", logger: false })
    let killing = true
    const killer = (async () => {
      let kills = 0
      while (killing) {
        const rows = await sql<Array<{ ok: boolean }>>`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE application_name = ${app} AND pid <> pg_backend_pid()`
        kills += rows.length
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80))
      }
      return kills
    })()
    try {
      const hs = await Promise.all(Array.from({ length: 10 }, (_, n) => durably.start(wf, n)))
      const results = await Promise.all(hs.map((h) => h.result()))
      killing = false
      expect(await killer).toBeGreaterThan(0)
      expect(results).toEqual(hs.map(() => 45))
      const written = await sql.unsafe(`SELECT id, n FROM ${table} WHERE id LIKE 'many-%' ORDER BY id`)
      expect(written).toHaveLength(10)
      expect(escaped).toEqual([])
    } finally {
      killing = false
      await killer
      await durably.shutdown()
    }
  }, 120_000)
})
