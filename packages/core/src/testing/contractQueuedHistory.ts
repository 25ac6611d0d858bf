/**
 * Contract cases for a workflow that comes back to a queue (resumed after a cancellation or a timeout, or
 * forked onto a queue): a worker's claim replays its checkpoints instead of running its completed steps again,
 * and a timed-out one does not time out again. (The chaos soak found both: every queued fork re-ran the steps
 * before its fork point, since a queue claim loaded the history only of a workflow put back by a takeover; and
 * a resumed timed-out workflow timed out again, since its claim set a new deadline from its timeout.)
 */
import assert from "node:assert/strict"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"
import { launch, testQueue } from "./contractChildren.ts"
import { until } from "./until.ts"

export const queuedHistoryContract: Record<string, ContractTest> = {
  "a queued workflow resumed, and a fork put on a queue, replay their checkpoints instead of running them again":
    async (c) => {
      const ran: string[] = []
      const wf = defineWorkflow(c.id("wf"), async (ctx) => {
        const a = await ctx.step("a", () => (ran.push(`${ctx.workflowId} a`), "a"))
        const go = await ctx.recv<string>("go")
        const b = await ctx.step("b", () => (ran.push(`${ctx.workflowId} b`), "b"))
        return [a, go, b]
      })
      const q = testQueue(c.id("q"))
      const durably = await launch(c.store, c.id("exec"), [wf], [q])
      try {
        const h = await durably.enqueue(q, wf, undefined, { id: c.id("w") })
        await until(async () => (await durably.workflows.steps(h.id)).some((s) => s.name === "a"), "step a")
        await durably.workflows.cancel(h.id)
        assert.equal((await h.outcome()).status, "CANCELLED")
        // Back on its queue, claimed by this engine's dispatcher: step a is replayed, not run.
        await durably.workflows.resume(h.id)
        await durably.send(h.id, "go", "resumed")
        assert.deepEqual(await h.result(), ["a", "resumed", "b"])
        // A fork from b onto the queue: a and the message are the source's, only b runs.
        const fork = await durably.workflows.fork(h.id, { fromStep: "b", id: c.id("f"), queue: q.name })
        assert.deepEqual(await durably.handle(fork).result(), ["a", "resumed", "b"])
        assert.deepEqual(ran, [`${h.id} a`, `${h.id} b`, `${fork} b`])
      } finally {
        await durably.shutdown()
      }
    },

  "a queued workflow resumed after it timed out runs without its timeout (its next claim sets no deadline)": async (
    c,
  ) => {
    const wf = defineWorkflow(c.id("slow"), async (ctx) => {
      const go = await ctx.recv<string>("go")
      // Longer than its timeout: a claim that set a new deadline would time it out again.
      await ctx.sleep("600 millis")
      return go
    })
    const q = testQueue(c.id("q"))
    const durably = await launch(c.store, c.id("exec"), [wf], [q])
    try {
      const h = await durably.enqueue(q, wf, undefined, { id: c.id("w"), timeout: "200 millis" })
      assert.equal((await h.outcome()).status, "CANCELLED")
      assert.equal((await durably.workflows.get(h.id)).cancelReason, "timeout")
      await durably.workflows.resume(h.id)
      await durably.send(h.id, "go", "resumed")
      assert.deepEqual(await h.outcome(), { status: "SUCCESS", value: "resumed" })
    } finally {
      await durably.shutdown()
    }
  },
}
