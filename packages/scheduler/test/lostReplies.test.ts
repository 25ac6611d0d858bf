/**
 * A store call whose answer is lost (the connection dropped after the statement committed) is retried, and the
 * retry cannot tell what the first one did. A claim is such a call: what the lost one claimed is PENDING and
 * owned by this executor, which is alive, so no other executor takes it over. Found by the chaos soak
 * (workflows PENDING for good after dropped connections); the engine must find and run them.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore, StoreError, type Store } from "@durably/core"
import { defineQueue } from "../src/index.ts"

const quick = defineWorkflow("lost-reply-quick", async (ctx, n: number) => ctx.step("work", () => n * 2))

const lost = (operation: string) =>
  new StoreError({ operation, cause: new Error("connection lost after the statement committed"), retryable: true })

const within = <A>(p: Promise<A>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)),
  ])

describe("a claim whose answer was lost", () => {
  it("still runs what it claimed (a queue claim)", async () => {
    const inner = memoryStore()
    let toLose = 1
    const store: Store = {
      ...inner,
      claimQueue: (request) =>
        Effect.flatMap(inner.claimQueue(request), (claim) =>
          claim.claimed.length > 0 && toLose-- > 0 ? Effect.fail(lost("claimQueue")) : Effect.succeed(claim),
        ),
    }
    const q = defineQueue("lost-reply")
    const durably = await Durably.launch({ store, workflows: [quick], queues: [q], logger: false })
    try {
      const handles = [await durably.enqueue(q, quick, 1), await durably.enqueue(q, quick, 2)]
      const results = await within(
        Promise.all(handles.map((h) => h.result())),
        15_000,
        "the claimed workflows to finish",
      )
      expect(results).toEqual([2, 4])
      // The first claim that took anything had its answer lost (how many more claims it took is up to timing).
      expect(toLose).toBeLessThanOrEqual(0)
    } finally {
      await durably.shutdown()
    }
  })

  it("still runs what it took over (a takeover of a silent executor's workflow)", async () => {
    const inner = memoryStore()
    // A workflow owned by an executor that never heartbeats: the first takeover takes it.
    await Effect.runPromise(
      inner.createWorkflow({ id: "held", name: quick.name, input: "21", appVersion: "v1", executorId: "ghost" }),
    )
    let toLose = 1
    const store: Store = {
      ...inner,
      takeOver: (executorId, options) =>
        Effect.flatMap(inner.takeOver(executorId, options), (claimed) =>
          claimed.length > 0 && options.includeExpired && toLose-- > 0
            ? Effect.fail(lost("takeOver"))
            : Effect.succeed(claimed),
        ),
    }
    const durably = await Durably.launch({
      store,
      workflows: [quick],
      appVersion: "v1",
      heartbeat: { interval: 50, lease: 300 },
      logger: false,
    })
    try {
      expect(await within(durably.handle<number>("held").result(), 15_000, "the taken-over workflow to finish")).toBe(
        42,
      )
      expect(toLose).toBe(0) // its answer was lost once
    } finally {
      await durably.shutdown()
    }
  })

  it("an execution fenced by a claim of its own executor is run again, not left PENDING", async () => {
    const store = memoryStore()
    const waiter = defineWorkflow("lost-reply-self-fenced", async (ctx) => {
      const m = await ctx.recv<string>("go")
      return ctx.step("after", () => `got ${m}`)
    })
    const durably = await Durably.launch({ store, workflows: [waiter], executorId: "me", logger: false })
    try {
      const h = await durably.start(waiter, undefined, { id: "self" })
      // A second claim by the same executor (as a retried start or recover() makes): the epoch moves on under
      // the execution running here, whose next write is refused.
      const claim = await Effect.runPromise(
        store.claimWorkflow("self", "me", { countRecovery: false, maxRecoveryAttempts: 10 }),
      )
      expect(claim._tag).toBe("Claimed")
      await durably.send("self", "go", "x")
      expect(await within(h.result(), 15_000, "the self-fenced workflow to finish")).toBe("got x")
    } finally {
      await durably.shutdown()
    }
  })
})
