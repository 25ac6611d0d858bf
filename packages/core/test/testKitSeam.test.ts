/**
 * The test kit watches its engine through the observer seam only: settle() counts store calls, operations
 * (replayed ones too) and waits as any observer sees them, and verifyReplay refuses live operations from an
 * observer, on a scratch store.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  defineWorkflow,
  memoryStore,
  NonDeterminismError,
  StoreError,
  type Observer,
  type OperationInfo,
  type Store,
} from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

/** A memory store whose writes of checkpoints, messages received and completions fail while refused. */
const flaky = () => {
  const shared = memoryStore()
  const refused = new Set<string>()
  const failed = new Map<string, number>()
  // Decided at each run of the call, as a store's own calls are: a retry runs it again.
  const unless = <A, E>(operation: string, call: () => Effect.Effect<A, E>): Effect.Effect<A, E | StoreError> =>
    Effect.suspend((): Effect.Effect<A, E | StoreError> => {
      if (!refused.has(operation)) return call()
      failed.set(operation, (failed.get(operation) ?? 0) + 1)
      return Effect.fail(new StoreError({ operation, cause: new Error("connection refused"), retryable: true }))
    })
  const store: Store = {
    ...shared,
    writeCheckpoint: (id, epoch, c) => unless("writeCheckpoint", () => shared.writeCheckpoint(id, epoch, c)),
    receiveMessage: (id, epoch, topic, c) => unless("receiveMessage", () => shared.receiveMessage(id, epoch, topic, c)),
    completeWorkflow: (id, epoch, outcome) =>
      unless("completeWorkflow", () => shared.completeWorkflow(id, epoch, outcome)),
  }
  return { store, refused, failed: (operation: string) => failed.get(operation) ?? 0 }
}

describe("the test kit on the observer seam", () => {
  it("advance() moves time through a store outage: calls waiting to retry wait on time, like a sleep", async () => {
    const wf = defineWorkflow("through-outages", async (ctx) => {
      const a = await ctx.step("a", () => "a")
      const msg = await ctx.recv<string>("go")
      return `${a}-${msg}`
    })
    const { store, refused, failed } = flaky()
    const t = await testEngine({ workflows: [wf], store })
    const status = async (id: string) => (await t.workflows.get(id))?.status
    // The step's checkpoint is refused: it is retried, with backoff, at virtual times.
    refused.add("writeCheckpoint")
    const h = await t.start(wf, undefined)
    await t.advance("20 seconds")
    expect(failed("writeCheckpoint")).toBeGreaterThan(3)
    expect(await t.workflows.steps(h.id)).toEqual([])
    refused.delete("writeCheckpoint")
    await t.advance("10 seconds")
    expect((await t.workflows.steps(h.id)).map((s) => s.name)).toEqual(["a"])
    // The message is there, but taking it is refused (a read during a wait), and then so is the completion.
    refused.add("receiveMessage")
    refused.add("completeWorkflow")
    await t.send(h.id, "go", "now")
    await t.advance("20 seconds")
    expect(failed("receiveMessage")).toBeGreaterThan(3)
    refused.delete("receiveMessage")
    await t.advance("20 seconds")
    expect(failed("completeWorkflow")).toBeGreaterThan(3)
    expect(await status(h.id)).toBe("PENDING")
    refused.delete("completeWorkflow")
    await t.advance("10 seconds")
    expect(await status(h.id)).toBe("SUCCESS")
    expect(await h.result()).toBe("a-now")
  })

  it("settle() after a restart waits for a long replay to reach the live sleep", async () => {
    const steps = 60
    const wf = defineWorkflow("long-history", async (ctx) => {
      let sum = 0
      for (let i = 0; i < steps; i++) sum += await ctx.step(`s${i}`, () => i)
      await ctx.sleep("1 hour")
      return sum
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    expect(t.clock.nextTimer()).toBeDefined()
    await t.restart()
    await t.settle()
    // The replayed execution is at its sleep again: its timer is set, so advance() fires it.
    expect(t.clock.nextTimer()).toBeDefined()
    await t.advance("1 hour")
    expect(await h.result()).toBe((steps * (steps - 1)) / 2)
  })

  it("verifyReplay reports code that runs past its recorded end, runs no body, and leaves the store alone", async () => {
    let version = 1
    let extraRuns = 0
    const wf = defineWorkflow("growing", async (ctx) => {
      const a = await ctx.step("a", () => 1)
      if (version === 2) await ctx.step("b", () => ++extraRuns)
      return a
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    expect(await h.result()).toBe(1)
    const before = await Effect.runPromise(t.store.getWorkflow(h.id))
    const checkpoints = await Effect.runPromise(t.store.loadCheckpoints(h.id))

    version = 2
    const report = await t.verifyReplay(h.id)
    expect(report.ok).toBe(false)
    const error = report.ok ? undefined : report.error
    expect(error).toBeInstanceOf(NonDeterminismError)
    expect((error as Error).message).toContain("never reached it")
    expect(extraRuns).toBe(0)
    expect(await Effect.runPromise(t.store.getWorkflow(h.id))).toEqual(before)
    expect(await Effect.runPromise(t.store.loadCheckpoints(h.id))).toEqual(checkpoints)
  })

  it("a user's observer sees replayed operations flagged, and step attempts apart from the step", async () => {
    const seen: OperationInfo[] = []
    const watcher: Observer = {
      execution: () => ({
        operation: (op) => {
          seen.push(op)
          return undefined
        },
        end: () => undefined,
      }),
    }
    const wf = defineWorkflow("watched", async (ctx) => {
      await ctx.step("a", () => 1)
      await ctx.sleep("1 minute")
      return "ok"
    })
    const t = await testEngine({ workflows: [wf], observers: [watcher] })
    const h = await t.start(wf, undefined)
    await t.settle()
    await t.restart()
    await t.advance("1 minute")
    expect(await h.result()).toBe("ok")
    const brief = seen.map((op) => `${op.kind} ${op.name} ${op.attempt ?? "-"} ${op.replayed === true ? "r" : ""}`)
    expect(brief).toEqual([
      "step a - ",
      "step a 1 ",
      "sleep sleep - ",
      // after the restart: the step's result comes from the history; the sleep is live (and parks) …
      "step a - r",
      "sleep sleep - ",
      // … and the execution that runs it again when it is due replays the step once more
      "step a - r",
      "sleep sleep - ",
    ])
  })
})
