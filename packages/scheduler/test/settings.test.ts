/** What the README promises about queue settings and dispatch, checked. */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, memoryStore, StoreError, type LogEntry, type Store } from "@durably/core"
import { testEngine } from "@durably/core/testing"
import { defineQueue, relookMs } from "../src/index.ts"

const quick = defineWorkflow("quick", async (ctx, n: number) => ctx.step("work", () => n))

describe("queue settings and dispatch", () => {
  it("enqueueing with a definition stores its settings when no launch has; by name it needs a launch", async () => {
    const q = defineQueue("adhoc", { maxLength: 1 })
    const t = await testEngine({ workflows: [quick] })
    await expect(t.enqueue("adhoc", quick, 1)).rejects.toThrow(/queue "adhoc" is not defined/)
    const h = await t.enqueue(q, quick, 1)
    expect((await h.status()).status).toBe("ENQUEUED")
    // The stored settings are the definition's: its maxLength of 1 holds, by name too.
    await expect(t.enqueue("adhoc", quick, 2)).rejects.toThrow(/is full/)
    await t.shutdown()
  })

  it("a launch with other settings replaces the stored ones, and says so", async () => {
    const store = memoryStore()
    const shared: Store = { ...store, close: () => Effect.void }
    const first = await testEngine({
      store: shared,
      workflows: [quick],
      queues: [defineQueue("q", { concurrency: 2 })],
    })
    const logs: LogEntry[] = []
    const second = await testEngine({
      store: shared,
      workflows: [quick],
      queues: [defineQueue("q", { concurrency: 5 })],
      logger: (e) => logs.push(e),
    })
    const warning = logs.find((l) => l.level === "warn" && l.message.includes("changed its stored settings"))
    expect(warning?.message).toMatch(/"concurrency":2.*"concurrency":5/)
    expect((await Effect.runPromise(store.registerQueue({ name: "q", priority: false }, "v")))?.concurrency).toBe(5)
    await second.shutdown()
    await first.shutdown()
  })

  it("a failed claim is retried with backoff, and the work still runs", async () => {
    const base = memoryStore()
    let failures = 2
    const flaky: Store = {
      ...base,
      claimQueue: (request) =>
        request.queue === "flaky" && failures-- > 0
          ? Effect.fail(new StoreError({ operation: "claimQueue", cause: new Error("down"), retryable: false }))
          : base.claimQueue(request),
    }
    const logs: LogEntry[] = []
    const q = defineQueue("flaky")
    const t = await testEngine({ store: flaky, workflows: [quick], queues: [q], logger: (e) => logs.push(e) })
    const h = await t.enqueue(q, quick, 7)
    await t.settle()
    expect((await h.status()).status).toBe("ENQUEUED")
    expect(logs.filter((l) => l.message.includes("claiming work failed")).length).toBeGreaterThanOrEqual(1)
    await t.advance("2 seconds")
    expect(await h.result()).toBe(7)
    await t.shutdown()
  })

  it("a claim that left startable work behind is followed by another within relookMs, with no wake-up", async () => {
    const base = memoryStore()
    let lose = 0
    // What a SQL claim reports when a row it picked changed under it: nothing taken, work left behind.
    const losing: Store = {
      ...base,
      claimQueue: (request) => (lose-- > 0 ? Effect.succeed({ claimed: [], waiting: true }) : base.claimQueue(request)),
    }
    const q = defineQueue("relook")
    const t = await testEngine({ store: losing, workflows: [quick], queues: [q] })
    await t.settle()
    lose = 1 // the claim the enqueue wakes
    const h = await t.enqueue(q, quick, 7)
    await t.settle()
    expect((await h.status()).status).toBe("ENQUEUED")
    await t.advance(relookMs - 1)
    expect((await h.status()).status).toBe("ENQUEUED")
    await t.advance(1)
    expect(await h.result()).toBe(7)
    await t.shutdown()
  })
})
