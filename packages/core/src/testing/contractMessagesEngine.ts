/** Contract cases for messages, events and streams between engines sharing a store (as separate processes would). */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"

const launch = (store: Store, executorId: string, workflows: Parameters<typeof Durably.launch>[0]["workflows"]) =>
  Durably.launch({ store, workflows, executorId, logger: false })

const collect = async <A>(values: AsyncIterable<A>) => {
  const out: A[] = []
  for await (const v of values) out.push(v)
  return out
}

export const messagesEngineScenarios: Record<string, ContractTest> = {
  "send from one engine, recv in a workflow on another; ctx.send between workflows": async ({ store, id, another }) => {
    const waiter = defineWorkflow(id("waiter"), async (ctx) => {
      const first = await ctx.recv<string>("greeting")
      const second = await ctx.recv<string>("greeting")
      return `${first} ${second}`
    })
    const sender = defineWorkflow(id("sender"), async (ctx, to: string) => {
      await ctx.send(to, "greeting", "world")
      return "sent"
    })
    const a = await launch(store, id("a"), [waiter])
    const b = await launch(await another(), id("b"), [sender])
    try {
      const h = await a.start(waiter, undefined)
      await b.send(h.id, "greeting", "hello", { idempotencyKey: "once" })
      await b.send(h.id, "greeting", "hello", { idempotencyKey: "once" })
      assert.equal(await b.run(sender, h.id), "sent")
      assert.equal(await b.handle(h.id).result(), "hello world")
      await assert.rejects(b.send(id("absent"), "greeting", "x"), (e: unknown) => {
        assert.equal((e as { _tag?: string })._tag, "WorkflowNotFound")
        return true
      })
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "recv with a timeout returns undefined when nothing arrives": async ({ store, id }) => {
    const wf = defineWorkflow(id("timeout"), async (ctx) => {
      const got = await ctx.recv("never", { timeout: 50 })
      return got === undefined ? "timed out" : "got one"
    })
    const a = await launch(store, id("a"), [wf])
    try {
      assert.equal(await a.run(wf, undefined), "timed out")
    } finally {
      await a.shutdown()
    }
  },

  "getEvent from another engine waits until the workflow sets the event": async ({ store, id, another }) => {
    const wf = defineWorkflow(id("events"), async (ctx) => {
      await ctx.recv("go")
      await ctx.setEvent("status", { stage: "charged" })
      await ctx.setEvent("status", { stage: "shipped" })
      return "ok"
    })
    const a = await launch(store, id("a"), [wf])
    const b = await launch(await another(), id("b"), [])
    try {
      const h = await a.start(wf, undefined)
      assert.equal(await b.getEvent(h.id, "status", { timeout: 20 }), undefined)
      const waiting = b.getEvent(h.id, "status")
      await b.send(h.id, "go", true)
      const seen = (await waiting) as { stage: string }
      assert.ok(seen.stage === "charged" || seen.stage === "shipped")
      assert.equal(await b.handle(h.id).result(), "ok")
      assert.deepEqual(await b.getEvent(h.id, "status"), { stage: "shipped" })
      // Ended without ever setting it: no point waiting.
      assert.equal(await b.getEvent(h.id, "never"), undefined)
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "readStream from another engine yields values in order and ends at the close": async ({ store, id, another }) => {
    const wf = defineWorkflow(id("stream"), async (ctx) => {
      await ctx.writeStream("tokens", "a")
      await ctx.recv("more")
      await ctx.step("two", async () => {
        await ctx.writeStream("tokens", "b")
        await ctx.writeStream("tokens", "c")
      })
      await ctx.closeStream("tokens")
      await ctx.writeStream("open", 1)
      return "done"
    })
    const a = await launch(store, id("a"), [wf])
    const b = await launch(await another(), id("b"), [])
    try {
      const h = await a.start(wf, undefined)
      const reading = collect(b.readStream<string>(h.id, "tokens"))
      const fromOne = collect(b.readStream<string>(h.id, "tokens", { from: 1 }))
      await b.send(h.id, "more", null)
      assert.deepEqual(await reading, ["a", "b", "c"])
      assert.deepEqual(await fromOne, ["b", "c"])
      assert.equal(await b.handle(h.id).result(), "done")
      // Never closed: ends because the workflow has ended.
      assert.deepEqual(await collect(b.readStream(h.id, "open")), [1])
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "a step that writes to a stream and fails its first attempt publishes only the successful attempt": async ({
    store,
    id,
    another,
  }) => {
    const wf = defineWorkflow(id("retry"), async (ctx) => {
      await ctx.step(
        "produce",
        async ({ attempt }) => {
          await ctx.writeStream("out", `attempt ${attempt} a`)
          if (attempt === 1) throw new Error("first attempt fails")
          await ctx.writeStream("out", `attempt ${attempt} b`)
        },
        { retry: { maxAttempts: 2, initialDelay: 1 } },
      )
      await ctx.closeStream("out")
    })
    const a = await launch(store, id("a"), [wf])
    const b = await launch(await another(), id("b"), [])
    try {
      const h = await a.start(wf, undefined)
      assert.deepEqual(await collect(b.readStream(h.id, "out")), ["attempt 2 a", "attempt 2 b"])
      await b.handle(h.id).result()
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },
}
