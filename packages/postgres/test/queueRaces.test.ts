/**
 * Races on a queued workflow's row on the Postgres server: a send to a workflow right after enqueueing it
 * locks the row (FOR KEY SHARE) while a worker's claim may be picking it. The claim must take it anyway,
 * not pass over it and leave it ENQUEUED on an idle queue (which nothing would wake again).
 */
import { afterAll, describe, expect, it } from "vitest"
import { Durably, defineWorkflow } from "@durably/core"
import { defineQueue, relookMs } from "@durably/scheduler"
import postgres from "postgres"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { run, until } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("queue_races")
afterAll(() => dropSchema(url, schema))

// Polling so slow that it cannot rescue a stranded workflow within the test's bound.
const store = () => postgresStore({ url, schema, max: 4, pollInterval: 600_000 })

const greeted = defineWorkflow("race-greeted", async (ctx, n: number) => {
  const msg = await ctx.recv<string>("hello")
  return `${msg} ${n}`
})

/** A workflow that may start, starts within the dispatcher's safety-net bound, with room for a loaded machine. */
const boundMs = relookMs + 10_000

describe("queue claims racing other statements on Postgres", () => {
  it("enqueue then send at once, 200 rounds: every workflow starts, none stays ENQUEUED", async () => {
    const q = defineQueue("race-send")
    const worker = await Durably.launch({
      store: store(),
      workflows: [greeted],
      queues: [q],
      executorId: "race-worker",
      logger: false,
    })
    const client = await Durably.launch({
      store: store(),
      workflows: [greeted],
      queues: [q],
      serveQueues: false,
      executorId: "race-client",
      logger: false,
    })
    try {
      for (let round = 0; round < 200; round++) {
        const h = await client.enqueue(q, greeted, round)
        await client.send(h.id, "hello", "hi")
        // One at a time: no later enqueue may wake the queue and rescue a workflow the claim passed over.
        const outcome = await Promise.race([
          h.outcome(),
          new Promise<"stuck">((r) => setTimeout(() => r("stuck"), boundMs).unref()),
        ])
        if (outcome === "stuck") {
          const status = await h.status()
          expect.fail(`round ${round}: ${h.id} is still ${status.status} after ${boundMs} ms`)
        }
        expect(outcome).toEqual({ status: "SUCCESS", value: `hi ${round}` })
      }
    } finally {
      await client.shutdown()
      await worker.shutdown()
    }
  }, 600_000)

  /**
   * Claim once while a cancel of the first in line holds its row; `partitioned` picks without locking and
   * locks in its UPDATE, where a row that changed drops out without another taking its place.
   */
  const claimPastACancel = async (queue: string, partitioned: boolean) => {
    const s = store()
    const sql = postgres(url, { max: 2, onnotice: () => undefined })
    try {
      await run(s.registerQueue({ name: queue, priority: false, ...(partitioned ? { partition: {} } : {}) }, "1"))
      const items = ["a", "b"].map((id) => ({
        id: `${queue}-${id}`,
        name: "wf",
        input: "null",
        ...(partitioned ? { partitionKey: "k" } : {}),
      }))
      await run(s.enqueue({ queue, items, appVersion: "1" }))
      const claim = () => run(s.claimQueue({ queue, executorId: "x", max: 1, names: ["wf"], appVersion: "1" }))
      let locked!: () => void
      const holding = new Promise<void>((r) => (locked = r))
      const cancelled = sql.begin(async (tx) => {
        await tx.unsafe(`UPDATE "${schema}".workflows SET status = 'CANCELLED' WHERE id = '${queue}-a'`)
        locked()
        // Commit only once the claim waits for this row.
        await until(async () => {
          const [row] = await sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%claim_queue%'`
          return row!.n > 0
        })
      })
      await holding
      const [first] = await Promise.all([claim(), cancelled])
      const second = await claim()
      return { first, second }
    } finally {
      await sql.end()
      await run(s.close())
    }
  }

  it("a claim waits for a row another statement holds, and takes the next when that row drops out", async () => {
    const { first, second } = await claimPastACancel("race-lost", false)
    expect(first.claimed.map((w) => w.id)).toEqual(["race-lost-b"])
    expect(first.waiting).toBeUndefined()
    expect(second.claimed).toEqual([])
  })

  it("a partitioned claim that loses a row to a concurrent change says work is left, and the next takes it", async () => {
    const { first, second } = await claimPastACancel("race-lost-part", true)
    expect(first.claimed).toEqual([])
    expect(first.waiting).toBe(true)
    expect(second.claimed.map((w) => w.id)).toEqual(["race-lost-part-b"])
    expect(second.waiting).toBeUndefined()
  })
})
