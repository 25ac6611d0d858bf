/** The dispatcher on the test kit: virtual time drives rate limits and delays, so every timing is exact. */
import { describe, expect, it } from "vitest"
import { defineWorkflow, type WorkflowStatus } from "@durably/core"
import { testEngine, type TestEngine } from "@durably/core/testing"
import { defineQueue } from "../src/index.ts"

const quick = defineWorkflow("quick", async (ctx, n: number) => ctx.step("work", () => n))
const slow = defineWorkflow("slow", async (ctx, n: number) => {
  await ctx.sleep("1 minute")
  return n
})

const statuses = async (t: TestEngine, ids: ReadonlyArray<string>) => {
  const out: Partial<Record<WorkflowStatus, number>> = {}
  for (const id of ids) {
    const s = (await t.handle(id).status()).status
    out[s] = (out[s] ?? 0) + 1
  }
  return out
}

describe("queue dispatch on the test kit", () => {
  it("a rate limit lets `limit` start per window, and the next ones exactly when the window moves", async () => {
    const q = defineQueue("rated", { rateLimit: { limit: 2, period: "1 minute" } })
    const t = await testEngine({ workflows: [quick], queues: [q] })
    const hs = await t.enqueueMany(q, quick, [1, 2, 3, 4, 5])
    await t.settle()
    const ids = hs.map((h) => h.id)
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 2, ENQUEUED: 3 })
    await t.advance("59 seconds")
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 2, ENQUEUED: 3 })
    await t.advance("1 second")
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 4, ENQUEUED: 1 })
    await t.advance("1 minute")
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 5 })
    await t.shutdown()
  })

  it("a delayed workflow is DELAYED until due, then runs", async () => {
    const q = defineQueue("delays")
    const t = await testEngine({ workflows: [quick], queues: [q] })
    const h = await t.enqueue(q, quick, 7, { delay: "10 minutes" })
    await t.settle()
    expect((await h.status()).status).toBe("DELAYED")
    await t.advance("9 minutes")
    expect((await h.status()).status).toBe("DELAYED")
    await t.advance("1 minute")
    expect(await h.result()).toBe(7)
    await t.shutdown()
  })

  it("workerConcurrency holds in one process; finishing work lets the next start", async () => {
    const q = defineQueue("limited", { workerConcurrency: 2 })
    const t = await testEngine({ workflows: [slow], queues: [q] })
    const ids = (await t.enqueueMany(q, slow, [1, 2, 3, 4, 5])).map((h) => h.id)
    await t.settle()
    expect(await statuses(t, ids)).toEqual({ PENDING: 2, ENQUEUED: 3 })
    await t.advance("1 minute")
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 2, PENDING: 2, ENQUEUED: 1 })
    await t.advance("2 minutes")
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 5 })
    await t.shutdown()
  })

  it("when the process is full, freed room goes to the queues in turn (a busy queue does not starve another)", async () => {
    const a = defineQueue("busy")
    const b = defineQueue("quiet")
    // Parked sleepers leave room in memory: keep them in to test how room is shared.
    const t = await testEngine({
      workflows: [slow],
      queues: [a, b],
      maxRunningWorkflows: 2,
      parkSleepsLongerThan: false,
    })
    const busy = (
      await t.enqueueMany(
        a,
        slow,
        Array.from({ length: 10 }, (_, i) => i),
      )
    ).map((h) => h.id)
    await t.settle()
    const quiet = (await t.enqueueMany(b, slow, [1, 2])).map((h) => h.id)
    await t.advance("1 minute")
    await t.advance("1 minute")
    // The quiet queue got its turn as soon as a place freed, not whatever was left after the busy one.
    expect((await statuses(t, quiet)).SUCCESS).toBe(1)
    await t.advance("1 minute")
    expect(await statuses(t, quiet)).toEqual({ SUCCESS: 2 })
    expect((await statuses(t, busy)).ENQUEUED).toBeGreaterThanOrEqual(4)
    await t.advance("10 minutes")
    expect(await statuses(t, [...busy, ...quiet])).toEqual({ SUCCESS: 12 })
    await t.shutdown()
  })

  it("an idle dispatcher holds no timer, and a process that serves no queue claims nothing", async () => {
    const q = defineQueue("idle", { rateLimit: { limit: 100, period: "1 second" } })
    const worker = await testEngine({ workflows: [quick], queues: [q] })
    await worker.settle()
    expect(worker.clock.nextTimer()).toBeUndefined()
    const client = await testEngine({ workflows: [quick], queues: [q], serveQueues: false, store: worker.store })
    const h = await client.enqueue(q, quick, 1)
    expect(await h.result()).toBe(1)
    expect((await h.status()).executorId).toBe(worker.executorId)
    await client.shutdown()
    await worker.shutdown()
  })

  it("queued work survives a crash: a claimed workflow is recovered, queued ones are claimed after restart", async () => {
    const q = defineQueue("crashy", { workerConcurrency: 1 })
    const t = await testEngine({ workflows: [slow], queues: [q] })
    const ids = (await t.enqueueMany(q, slow, [1, 2, 3])).map((h) => h.id)
    await t.settle()
    expect(await statuses(t, ids)).toEqual({ PENDING: 1, ENQUEUED: 2 })
    await t.restart()
    await t.advance("5 minutes")
    expect(await statuses(t, ids)).toEqual({ SUCCESS: 3 })
    await t.shutdown()
  })

  it("defineQueue rejects bad settings with a clear message", () => {
    expect(() => defineQueue("bad", { concurrency: 0 })).toThrow(/concurrency must be a whole number from 1 to/)
    expect(() => defineQueue("bad", { rateLimit: { limit: 5, period: "soon" as never } })).toThrow(/rateLimit.period/)
    expect(() => defineQueue("bad", { concurrancy: 3 } as never)).toThrow(/unknown setting "concurrancy"/)
    expect(() => defineQueue("", {})).toThrow(/queue name/)
  })
})
