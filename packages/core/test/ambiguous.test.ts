import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore, StoreError, type Store } from "../src/index.ts"

const connectionLost = (operation: string) =>
  new StoreError({ operation, cause: new Error("connection reset"), retryable: true, kind: "connection" })

describe("ambiguous commits", () => {
  it("a create that committed but whose reply was lost is retried, found, claimed and run once", async () => {
    const base = memoryStore()
    let failed = false
    const store: Store = {
      ...base,
      createWorkflow: (init) =>
        Effect.flatMap(base.createWorkflow(init), (r) => {
          if (failed) return Effect.succeed(r)
          failed = true
          return Effect.fail(connectionLost("createWorkflow"))
        }),
    }
    let runs = 0
    const wf = defineWorkflow("lost-reply", async (ctx) => ctx.step("once", () => ++runs))
    const d = await Durably.launch({ store, workflows: [wf], logger: false, heartbeat: false })
    expect(await d.run(wf, undefined)).toBe(1)
    expect(runs).toBe(1)
    expect(failed).toBe(true)
    await d.shutdown()
  })

  it("a checkpoint write that committed but whose reply was lost reads back what won", async () => {
    const base = memoryStore()
    let lost = 0
    const store: Store = {
      ...base,
      writeCheckpoint: (id, epoch, cp) =>
        Effect.flatMap(base.writeCheckpoint(id, epoch, cp), (r) =>
          cp.name === "charge" && lost++ === 0 ? Effect.fail(connectionLost("writeCheckpoint")) : Effect.succeed(r),
        ),
    }
    let charges = 0
    const wf = defineWorkflow("lost-ack", async (ctx) => ctx.step("charge", () => ++charges))
    const d = await Durably.launch({ store, workflows: [wf], logger: false, heartbeat: false })
    expect(await d.run(wf, undefined)).toBe(1)
    expect(charges).toBe(1)
    expect(lost).toBe(2)
    await d.shutdown()
  })

  it("launch fails fast when the store cannot be reached", async () => {
    const base = memoryStore()
    const store: Store = { ...base, listWorkflows: () => Effect.fail(connectionLost("listWorkflows")) }
    await expect(Durably.launch({ store, workflows: [], logger: false, heartbeat: false })).rejects.toThrow(
      /listWorkflows failed: connection reset/,
    )
    const beating: Store = { ...base, heartbeat: () => Effect.fail(connectionLost("heartbeat")) }
    await expect(Durably.launch({ store: beating, workflows: [], logger: false })).rejects.toThrow(/heartbeat failed/)
  })
})
