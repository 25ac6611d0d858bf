/**
 * Contract cases for where work stands and runs: queues and executors as the management plane reports them,
 * and a fork moved onto another app version (it runs on an executor of that version, not on the caller).
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import { queueConfig, type QueueDefinition } from "../queues.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"
import { testQueue } from "./contractChildren.ts"
import { until } from "./until.ts"

export const placementContract: Record<string, ContractTest> = {
  "queues.list and executors.list: work per queue and partition with its settings; executors with what they own":
    async (c) => {
      const name = c.id("q")
      const queue: QueueDefinition = {
        _tag: "QueueDefinition",
        name,
        config: queueConfig(name, { concurrency: 3, partition: { concurrency: 1 } }),
        dispatcher: () => ({ stop: async () => undefined }),
      }
      const served = testQueue(c.id("served"))
      const wf = defineWorkflow(c.id("wf"), async (ctx) => ctx.recv("never"))
      const durably = await Durably.launch({
        store: c.store,
        workflows: [wf],
        executorId: c.id("exec"),
        appVersion: "v1",
        queues: [queue, served],
        logger: false,
      })
      try {
        await durably.enqueue(queue, wf, undefined, { partitionKey: "a" })
        await durably.enqueue(queue, wf, undefined, { partitionKey: "a" })
        await durably.enqueue(queue, wf, undefined, { partitionKey: "b", delay: "1 hour" })
        await durably.start(wf, undefined, { id: c.id("mine") })
        const queues = (await durably.queues.list()).filter((q) => q.name === name)
        assert.deepEqual(
          queues.map((q) => [q.partitionKey, q.enqueued, q.delayed, q.running]),
          [
            ["a", 2, 0, 0],
            ["b", 0, 1, 0],
          ],
        )
        // A queued workflow that a worker claimed and runs (waiting for a message) counts as running, not waiting.
        const runs = await durably.enqueue(served, wf, undefined, { id: c.id("runs") })
        await until(async () => (await durably.workflows.get(runs.id)).status === "PENDING", "the queued one runs")
        assert.deepEqual(
          (await durably.queues.list())
            .filter((q) => q.name === served.name)
            .map((q) => [q.enqueued, q.delayed, q.running]),
          [[0, 0, 1]],
        )
        assert.equal(queues[0]!.settings?.concurrency, 3)
        assert.deepEqual(queues[0]!.settings?.partition, { concurrency: 1 })
        const me = (await durably.executors.list()).find((e) => e.executorId === c.id("exec"))
        assert.ok(me, "the executor is listed")
        assert.equal(me.appVersion, "v1")
        assert.equal(me.alive, true)
        assert.ok(me.workflowsOwned >= 1)
        assert.ok(me.lastHeartbeat instanceof Date)
        await durably.workflows.cancelMany({ queue: name })
        await durably.workflows.cancel(c.id("mine"))
        await durably.workflows.cancel(runs.id)
      } finally {
        await durably.shutdown()
      }
    },

  "fork with appVersion records that version and runs on an executor of it, not on the caller": async (c) => {
    const ran: string[] = []
    const name = c.id("wf")
    const [v1, v2] = [c.id("v1"), c.id("v2")]
    // One workflow name, two versions of its code: v1 has the bug, v2 the fix.
    const buggy = defineWorkflow(name, async (ctx, n: number) => {
      const a = await ctx.step("a", () => (ran.push("v1 a"), n))
      return ctx.step("b", () => {
        ran.push("v1 b")
        throw new Error(`bug in v1 with ${a}`)
      })
    })
    const fixed = defineWorkflow(name, async (ctx, n: number) => {
      const a = await ctx.step("a", () => (ran.push("v2 a"), n))
      return ctx.step("b", () => (ran.push("v2 b"), `fixed ${a}`))
    })
    const old = await Durably.launch({
      store: c.store,
      workflows: [buggy],
      executorId: c.id("old"),
      appVersion: v1,
      logger: false,
    })
    // Short heartbeats: an executor takes work nobody owns (this fork, once made) at its next heartbeat.
    const next = await Durably.launch({
      store: await c.another(),
      workflows: [fixed],
      executorId: c.id("new"),
      appVersion: v2,
      heartbeat: { interval: "50 millis", lease: "1 second" },
      logger: false,
    })
    try {
      const h = await old.start(buggy, 7, { id: c.id("w") })
      assert.equal((await h.outcome()).status, "ERROR")
      const forkId = await old.workflows.fork(h.id, { fromStep: "b", appVersion: v2 })
      assert.equal((await old.workflows.get(forkId)).appVersion, v2, "the fork records the version given")
      assert.equal(await old.handle(forkId).result(), "fixed 7")
      const fork = await old.workflows.get(forkId)
      assert.equal(fork.appVersion, v2)
      assert.equal(fork.executorId, c.id("new"), "an executor of that version ran it")
      assert.deepEqual(ran, ["v1 a", "v1 b", "v2 b"], "step a came from the checkpoint; b ran once, on v2")
      assert.equal((await old.workflows.get(h.id)).appVersion, v1, "the source keeps its version")
    } finally {
      await next.shutdown()
      await old.shutdown()
    }
  },
}
