/**
 * Contract cases on liveness, with engines on the store: work that may run is not stalled by the engine's
 * own bookkeeping (recover() while workflows run here, or while they are being started).
 */
import assert from "node:assert/strict"
import { Effect } from "effect"
import { Durably } from "../Durably.ts"
import type { Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"

const launch = (store: Store, executorId: string, workflows: Parameters<typeof Durably.launch>[0]["workflows"]) =>
  Durably.launch({ store, workflows, executorId, logger: false })

const latch = () => {
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  return { open, opened }
}

export const livenessScenarios: Record<string, ContractTest> = {
  "recover() while a workflow runs here neither claims it nor stalls it": async ({ store, id }) => {
    const inStep = latch()
    const release = latch()
    let bodies = 0
    const wf = defineWorkflow(id("busy"), async (ctx) => {
      await ctx.step("hold", async () => {
        bodies++
        inStep.open()
        await release.opened
      })
      return ctx.step("after", () => "done")
    })
    const durably = await launch(store, id("exec"), [wf])
    try {
      const h = await durably.start(wf, undefined)
      await inStep.opened
      for (let i = 0; i < 3; i++) assert.equal(await durably.recover(), 0)
      release.open()
      assert.equal(await h.result(), "done")
      const status = await h.status()
      assert.equal(status.recoveryAttempts, 0)
      assert.equal(bodies, 1)
    } finally {
      release.open()
      await durably.shutdown()
    }
  },

  "recover() racing a start here (its create answered late) leaves the starting workflow to the start": async ({
    store,
    id,
  }) => {
    const created = latch()
    const answer = latch()
    let delay = false
    // The create commits, and its answer reaches the engine only when the test says so.
    const slow: Store = {
      ...store,
      createWorkflow: (init) =>
        Effect.tap(store.createWorkflow(init), () =>
          delay
            ? Effect.promise(async () => {
                created.open()
                await answer.opened
              })
            : Effect.void,
        ),
    }
    let bodies = 0
    const wf = defineWorkflow(id("starting"), async (ctx) => ctx.step("once", () => ++bodies))
    const durably = await launch(slow, id("exec"), [wf])
    try {
      delay = true
      const started = durably.start(wf, undefined, { id: id("late") })
      await created.opened
      assert.equal(await durably.recover(), 0)
      answer.open()
      const h = await started
      assert.equal(await h.result(), 1)
      assert.equal((await h.status()).recoveryAttempts, 0)
      assert.equal(bodies, 1)
    } finally {
      answer.open()
      await durably.shutdown()
    }
  },

  "a claim of a workflow that runs here under an older epoch replaces that execution, which would be fenced": async ({
    store,
    id,
  }) => {
    // A store that ignores which workflows run here: recover() claims the running one (epoch bumped).
    const blind: Store = {
      ...store,
      takeOver: (executorId, { exceptIds: _ignored, ...options }) => store.takeOver(executorId, options),
    }
    const inStep = latch()
    const release = latch()
    const wf = defineWorkflow(id("replaced"), async (ctx) => {
      await ctx.step("hold", async () => {
        inStep.open()
        await release.opened
      })
      return ctx.step("after", () => "done")
    })
    const durably = await launch(blind, id("exec"), [wf])
    try {
      const h = await durably.start(wf, undefined)
      await inStep.opened
      assert.equal(await durably.recover(), 1)
      release.open()
      // The old execution's writes are refused; the claim's execution replays and finishes the workflow.
      assert.equal(await h.result(), "done")
      assert.equal((await h.status()).status, "SUCCESS")
    } finally {
      release.open()
      await durably.shutdown()
    }
  },
}
