/**
 * Queues on the Postgres server, with the scheduler's dispatcher: work enqueued through one store wakes a
 * worker on another (NOTIFY, not polling), completions free places across processes, and an idle worker
 * sends the server nothing.
 */
import { afterAll, describe, expect, it } from "vitest"
import { Durably, defineWorkflow } from "@durably/core"
import { defineQueue } from "@durably/scheduler"
import postgres from "postgres"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("queues")
afterAll(() => dropSchema(url, schema))

// Polling so slow that only a notification can explain a prompt wake-up.
const store = () => postgresStore({ url, schema, max: 4, pollInterval: 60_000 })

const task = defineWorkflow("pg-task", async (ctx, n: number) => ctx.step("work", () => n + 1))

describe("queues on Postgres", () => {
  it("an enqueue through another store wakes the worker at once, by NOTIFY", async () => {
    const q = defineQueue("pg-wake", { concurrency: 3 })
    const worker = await Durably.launch({
      store: store(),
      workflows: [task],
      queues: [q],
      executorId: "w",
      logger: false,
    })
    const client = await Durably.launch({
      store: store(),
      workflows: [task],
      queues: [q],
      serveQueues: false,
      executorId: "c",
      logger: false,
    })
    try {
      // Let the worker's LISTEN start before timing.
      await new Promise((r) => setTimeout(r, 200))
      const started = Date.now()
      const hs = await client.enqueueMany(q, task, [1, 2, 3, 4, 5, 6])
      expect(await Promise.all(hs.map((h) => h.result()))).toEqual([2, 3, 4, 5, 6, 7])
      expect(Date.now() - started).toBeLessThan(5_000)
      expect((await hs[0]!.status()).executorId).toBe("w")
    } finally {
      await client.shutdown()
      await worker.shutdown()
    }
  })

  it("a global limit holds across two workers, and completions on one free places for the other", async () => {
    const q = defineQueue("pg-shared", { concurrency: 2 })
    let running = 0
    let peak = 0
    const slow = defineWorkflow("pg-slow", async (ctx, n: number) =>
      ctx.step("work", async () => {
        peak = Math.max(peak, ++running)
        await new Promise((r) => setTimeout(r, 30))
        running--
        return n
      }),
    )
    const a = await Durably.launch({ store: store(), workflows: [slow], queues: [q], executorId: "a", logger: false })
    const b = await Durably.launch({ store: store(), workflows: [slow], queues: [q], executorId: "b", logger: false })
    try {
      const hs = await a.enqueueMany(
        q,
        slow,
        Array.from({ length: 20 }, (_, i) => i),
      )
      await Promise.all(hs.map((h) => h.result()))
      expect(peak).toBeLessThanOrEqual(2)
      const owners = new Set(await Promise.all(hs.map(async (h) => (await h.status()).executorId)))
      expect(owners).toEqual(new Set(["a", "b"]))
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  })

  it("an idle worker sends the server no statements", async () => {
    const q = defineQueue("pg-idle")
    const statements: string[] = []
    const sql = postgres(url, { max: 4, onnotice: () => undefined, debug: (_c, query) => void statements.push(query) })
    const worker = await Durably.launch({
      store: postgresStore({ sql, schema }),
      workflows: [task],
      queues: [q],
      executorId: "idle",
      heartbeat: false,
      logger: false,
    })
    try {
      await new Promise((r) => setTimeout(r, 300))
      const before = statements.length
      await new Promise((r) => setTimeout(r, 2_500))
      expect(statements.slice(before)).toEqual([])
      // And it is awake: work enqueued now runs.
      expect(await (await worker.enqueue(q, task, 1)).result()).toBe(2)
    } finally {
      await worker.shutdown()
      await sql.end({ timeout: 1 })
    }
  })
})
