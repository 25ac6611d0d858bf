/**
 * Contract cases for what observers store: a workflow's trace context (Observer.carry) is kept with it and
 * comes back with every read and claim, so a trace follows it into whichever executor runs it.
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { ExecutionInfo, Observer } from "../observe/Observer.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"

const carried = "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/** An observer carrying `text` where workflows are created, and recording what each execution got. */
const recording = (text: () => string | undefined) => {
  const seen: ExecutionInfo[] = []
  const observer: Observer = { carry: text, execution: (info) => void seen.push(info) }
  return { seen, observer }
}

export const observeContract: Record<string, ContractTest> = {
  "a workflow's trace context is stored with it and returned by reads and claims": async ({ store, id, run }) => {
    const wid = id()
    const base = { name: "wf", input: "1", appVersion: "1", executorId: "a" }
    const created = await run(store.createWorkflow({ ...base, id: wid, traceContext: carried }))
    assert.equal(created.record.traceContext, carried)
    assert.equal((await run(store.getWorkflow(wid)))?.traceContext, carried)
    const claim = await run(store.claimWorkflow(wid, "b", { countRecovery: true, maxRecoveryAttempts: 5 }))
    assert.equal(claim._tag === "Claimed" && claim.record.traceContext, carried)
    assert.equal((await run(store.listWorkflows({ ids: [wid] })))[0]?.traceContext, carried)
    const plain = await run(store.createWorkflow({ ...base, id: id("plain") }))
    assert.equal(plain.record.traceContext, undefined)
  },

  "an enqueued workflow's trace context comes back with its claim": async ({ store, id, run }) => {
    const q = id("q")
    await run(store.registerQueue({ name: q, priority: false }, "v1"))
    const items = [
      { id: id("t1"), name: "task", input: "1", traceContext: carried },
      { id: id("t2"), name: "task", input: "2" },
    ]
    assert.equal((await run(store.enqueue({ queue: q, items, appVersion: "v1" })))._tag, "Enqueued")
    const claim = await run(store.claimQueue({ queue: q, executorId: "a", max: 5, names: ["task"], appVersion: "v1" }))
    const byId = new Map(claim.claimed.map((r) => [r.id, r.traceContext]))
    assert.deepEqual([byId.get(id("t1")), byId.get(id("t2"))], [carried, undefined])
  },

  "what an observer carries at start and at ctx.start reaches each execution": async ({ store, id }) => {
    let current = "from the caller"
    const child = defineWorkflow(id("child"), async () => "child done")
    const parent = defineWorkflow(id("parent"), async (ctx) => {
      current = "from the parent"
      return ctx.run(child, undefined)
    })
    const a = recording(() => current)
    const durably = await Durably.launch({ store, workflows: [parent, child], observers: [a.observer], logger: false })
    try {
      assert.equal(await durably.run(parent, undefined), "child done")
      const info = new Map(a.seen.map((s) => [s.workflowName, s.carried]))
      assert.deepEqual([info.get(parent.name), info.get(child.name)], ["from the caller", "from the parent"])
    } finally {
      await durably.shutdown()
    }
  },
}
