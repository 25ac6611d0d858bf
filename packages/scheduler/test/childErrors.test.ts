/** A refused ctx.enqueue is recorded: the workflow gets the same error class live and on replay. */
import { describe, expect, it } from "vitest"
import { defineWorkflow, DuplicateEnqueue, QueueFull } from "@durably/core"
import { testEngine } from "@durably/core/testing"
import { defineQueue } from "../src/index.ts"

describe("ctx.enqueue refusals", () => {
  it("QueueFull and DuplicateEnqueue reach workflow code as their classes, and replay the same", async () => {
    const small = defineQueue("tiny", { maxLength: 1 })
    const task = defineWorkflow("task", async (ctx) => ctx.recv("go"))
    const parent = defineWorkflow("parent", async (ctx) => {
      await ctx.enqueue(small, task, undefined, { deduplicationId: "d" })
      const seen: string[] = []
      try {
        await ctx.enqueue(small, task, undefined, { deduplicationId: "d" })
      } catch (e) {
        seen.push(e instanceof DuplicateEnqueue ? `duplicate of ${String(e.existingId)}` : String(e))
      }
      try {
        await ctx.enqueue(small, task, undefined)
      } catch (e) {
        seen.push(e instanceof QueueFull ? `full at ${e.maxLength}` : String(e))
      }
      return seen
    })
    const t = await testEngine({ workflows: [parent, task], queues: [small], serveQueues: false })
    const h = await t.start(parent, undefined, { id: "p" })
    expect(await h.result()).toEqual(["duplicate of @child:p:0", "full at 1"])
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
    await t.shutdown()
  })
})
