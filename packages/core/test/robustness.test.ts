import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  defineWorkflow,
  Durably,
  InvalidContextUse,
  memoryStore,
  NonDeterminismError,
  PayloadTooLargeError,
  SerializationError,
  type LogEntry,
  type Store,
  type WorkflowContext,
} from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

describe("non-determinism", () => {
  it("a changed step sequence fails the workflow with a readable NonDeterminismError", async () => {
    let version = 1
    const wf = defineWorkflow("evolving", async (ctx) => {
      await ctx.step("reserve", () => 1)
      await ctx.sleep("1 minute")
      await ctx.step(version === 1 ? "charge" : "charge-v2", () => 2)
      return "done"
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("2 minutes")
    expect(await h.result()).toBe("done")

    // Same history, new code: replay diverges at operation #2.
    version = 2
    const report = await t.verifyReplay(h.id)
    expect(report.ok).toBe(false)
    const error = !report.ok ? report.error : undefined
    expect(error).toBeInstanceOf(NonDeterminismError)
    const message = (error as Error).message
    expect(message).toContain("operation #2")
    expect(message).toContain('step "charge"')
    expect(message).toContain('step "charge-v2"')
    expect(message).toMatch(/>\s+2\s+step "charge"\s+step "charge-v2"/)
  })

  it("divergence found while recovering fails the workflow", async () => {
    let version = 1
    const wf = defineWorkflow("drift", async (ctx) => {
      if (version === 1) await ctx.step("a", () => 1)
      else await ctx.sleep("1 second")
      await ctx.sleep("1 hour")
      return "x"
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    version = 2
    await t.restart()
    const o = await h.outcome()
    expect(o.status).toBe("ERROR")
    expect(o.status === "ERROR" && o.error).toBeInstanceOf(Error)
    expect(o.status === "ERROR" && (o.error as Error).name).toBe("NonDeterminismError")
  })

  it("a recorded operation the new code never calls is reported instead of hanging", async () => {
    let version = 1
    const wf = defineWorkflow("shrinking", async (ctx) => {
      const a = ctx.step("a", () => 1)
      const b = version === 1 ? ctx.step("b", () => 2) : Promise.resolve(0)
      await Promise.all([a, b])
      await ctx.sleep("1 hour")
      return "x"
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    version = 2
    await t.restart()
    const o = await h.outcome()
    expect(o.status === "ERROR" && (o.error as Error).name).toBe("NonDeterminismError")
  })

  it("verifyReplay confirms an unchanged workflow, running no step body", async () => {
    let runs = 0
    const wf = defineWorkflow("stable", async (ctx) => {
      const n = await ctx.random()
      const id = await ctx.uuid()
      const x = await ctx.step("x", () => ++runs)
      return { n, id, x }
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    const out = await h.result()
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
    expect(runs).toBe(1)
    expect(await h.result()).toEqual(out)
  })
})

describe("payloads", () => {
  it("an unserializable step result fails with SerializationError naming the workflow, step and path", async () => {
    const wf = defineWorkflow("fn-result", async (ctx) => ctx.step("make", () => ({ items: [{ cb: () => 1 }] })))
    const t = await testEngine({ workflows: [wf] })
    const o = await (await t.start(wf, undefined, { id: "wf-ser" })).outcome()
    expect(o.status).toBe("ERROR")
    const e = o.status === "ERROR" ? (o.error as SerializationError) : undefined
    expect(e?.name).toBe("SerializationError")
    expect(e?.message).toContain("wf-ser")
    expect(e?.message).toContain('step "make"')
    expect(e?.message).toContain("$.items[0].cb")
  })

  it("an oversized value fails with PayloadTooLargeError naming the step; an oversized input is refused", async () => {
    const wf = defineWorkflow("big", async (ctx) => ctx.step("blob", () => "x".repeat(10_000)))
    const t = await testEngine({ workflows: [wf], maxPayloadBytes: 1024 })
    const o = await (await t.start(wf, undefined)).outcome()
    expect(o.status === "ERROR" && (o.error as Error).name).toBe("PayloadTooLargeError")
    expect(o.status === "ERROR" && (o.error as Error).message).toMatch(/step "blob".*over maxPayloadBytes \(1024\)/)
    await expect(t.start(wf, "y".repeat(5000) as never)).rejects.toBeInstanceOf(PayloadTooLargeError)
  })

  it("cycles are named", async () => {
    const wf = defineWorkflow("cycle", async (ctx) =>
      ctx.step("loop", () => {
        const a: Record<string, unknown> = {}
        a["self"] = a
        return a
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const o = await (await t.start(wf, undefined)).outcome()
    expect(o.status === "ERROR" && (o.error as Error).message).toMatch(/circular/)
  })
})

describe("ctx misuse", () => {
  it("ctx inside a step body fails with a clear error", async () => {
    const wf = defineWorkflow("nested", async (ctx) => ctx.step("outer", () => ctx.step("inner", () => 1)))
    const t = await testEngine({ workflows: [wf] })
    const o = await (await t.start(wf, undefined)).outcome()
    expect(o.status === "ERROR" && o.error).toBeInstanceOf(Error)
    expect(o.status === "ERROR" && (o.error as Error).message).toMatch(
      /inside the body of step "outer".*steps do not nest/,
    )
  })

  it("ctx after the workflow finished fails with a clear error", async () => {
    let leaked: WorkflowContext | undefined
    const wf = defineWorkflow("leaky", async (ctx) => {
      leaked = ctx
      return 1
    })
    const t = await testEngine({ workflows: [wf] })
    await t.run(wf, undefined)
    await expect(leaked!.step("late", () => 1)).rejects.toBeInstanceOf(InvalidContextUse)
    await expect(leaked!.step("late", () => 1)).rejects.toThrow(/after workflow leaky .* finished/)
  })
})

describe("recovery", () => {
  it("a workflow that keeps crashing without progress becomes DEAD", async () => {
    const wf = defineWorkflow("crashy", async (ctx) => {
      await ctx.step("first", () => 1)
      await ctx.sleep("1 hour")
    })
    const t = await testEngine({ workflows: [wf], maxRecoveryAttempts: 3 })
    const h = await t.start(wf, undefined)
    await t.settle()
    for (let i = 0; i < 3; i++) await t.restart()
    expect((await h.status()).status).toBe("PENDING")
    await t.restart()
    const o = await h.outcome()
    expect(o.status).toBe("DEAD")
    await expect(h.result()).rejects.toThrow(/DEAD/)
  })

  it("an unknown workflow name is reported once, released, and does not stop the engine", async () => {
    const store = memoryStore()
    const legacy = defineWorkflow("legacy", async (ctx) => ctx.sleep("1 hour"))
    const current = defineWorkflow("current", async () => "ok")
    const a = await Durably.launch({ store, workflows: [legacy], logger: false })
    const h = await a.start(legacy, undefined)
    await new Promise((r) => setTimeout(r, 10))
    const logs: LogEntry[] = []
    const b = await Durably.launch({
      store,
      workflows: [current],
      logger: (e) => logs.push(e),
      executorId: a.executorId,
    })
    await b.recover()
    expect(logs.filter((l) => l.level === "warn" && l.workflowId === h.id)).toHaveLength(1)
    const rec = await Effect.runPromise(store.getWorkflow(h.id))
    expect(rec?.executorId).toBeUndefined()
    expect(await b.run(current, undefined)).toBe("ok")
    await b.shutdown()
    await a.shutdown()
  })

  it("two engines on one store: one shuts down, the other takes its workflows over", async () => {
    const store = memoryStore()
    let runs = 0
    const wf = defineWorkflow("handover", async (ctx) => {
      await ctx.step("one", () => ++runs)
      await ctx.sleep(50)
      await ctx.step("two", () => ++runs)
      return runs
    })
    const a = await Durably.launch({ store, workflows: [wf], executorId: "a", logger: false })
    const b = await Durably.launch({ store, workflows: [wf], executorId: "b", logger: false })
    const h = await a.start(wf, undefined)
    await new Promise((r) => setTimeout(r, 10))
    await a.shutdown()
    expect(await b.recover()).toBe(1)
    expect(await b.handle(h.id).result()).toBe(2)
    expect((await b.handle(h.id).status()).executorId).toBe("b")
    await b.shutdown()
  })

  it("shutdown lets a running step finish and checkpoint, then releases the workflow", async () => {
    const store = memoryStore()
    let finished = 0
    const wf = defineWorkflow("draining", async (ctx) => {
      await ctx.step("slow", () => new Promise((r) => setTimeout(() => r(++finished), 30)))
      await ctx.step("next", () => ++finished)
    })
    const a = await Durably.launch({ store, workflows: [wf], executorId: "a", logger: false })
    const h = await a.start(wf, undefined)
    await new Promise((r) => setTimeout(r, 5))
    await a.shutdown({ timeout: "5 seconds" })
    expect(finished).toBe(1)
    const cps = await Effect.runPromise(store.loadCheckpoints(h.id))
    expect(cps.map((c) => [c.name, c.state])).toEqual([["slow", "done"]])
    expect((await Effect.runPromise(store.getWorkflow(h.id)))?.executorId).toBeUndefined()
    const b = await Durably.launch({ store, workflows: [wf], executorId: "b", logger: false })
    await b.handle(h.id).result()
    expect(finished).toBe(2)
    await b.shutdown()
  })

  it("ctx.log is tagged and quiet while replaying, up to an operation that was in progress", async () => {
    const logs: LogEntry[] = []
    const wf = defineWorkflow("chatty", async (ctx) => {
      ctx.log.info("before")
      await ctx.step("s", () => ctx.log.info("inside"))
      ctx.log.info("about to sleep")
      await ctx.sleep("1 minute")
      ctx.log.info("after")
    })
    const t = await testEngine({ workflows: [wf], logger: (e) => logs.push(e) })
    const h = await t.start(wf, undefined)
    await t.settle()
    await t.restart()
    await t.advance("1 minute")
    await h.result()
    // ctx.log's entries only: lifecycle entries (workflow started, resumed …) carry an `event`.
    const own = logs.filter((l) => l.event === undefined)
    expect(own.map((l) => l.message)).toEqual(["before", "inside", "about to sleep", "after"])
    expect(own[1]).toMatchObject({ workflowId: h.id, workflowName: "chatty", step: "s" })
  })
})

describe("store fencing", () => {
  it("a write from a stale epoch is refused", async () => {
    const store: Store = memoryStore()
    const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
    await run(store.createWorkflow({ id: "w", name: "n", input: "1", appVersion: "1", executorId: "a" }))
    const claim = await run(store.claimWorkflow("w", "b", { countRecovery: true, maxRecoveryAttempts: 5 }))
    expect(claim._tag).toBe("Claimed")
    const cp = {
      stepId: 0,
      name: "s",
      kind: "step" as const,
      state: "done" as const,
      seq: 0,
      attempts: 1,
      output: "1",
      startedAt: 0,
    }
    await expect(run(store.writeCheckpoint("w", 1, cp))).rejects.toThrow(/refused/)
    await expect(run(store.writeCheckpoint("w", 2, cp))).resolves.toMatchObject({ stepId: 0 })
  })
})

describe("shared stores", () => {
  it("a store shared by two engines is closed when the last one shuts down", async () => {
    let closed = 0
    const base = memoryStore()
    const store: Store = { ...base, close: () => Effect.sync(() => void closed++) }
    const wf = defineWorkflow("shared", async (ctx, n: number) => ctx.step("double", () => n * 2))
    const a = await Durably.launch({ store, workflows: [wf], executorId: "a", logger: false, heartbeat: false })
    const b = await Durably.launch({ store, workflows: [wf], executorId: "b", logger: false, heartbeat: false })
    await a.shutdown()
    expect(closed).toBe(0)
    expect(await b.run(wf, 21)).toBe(42)
    await b.shutdown()
    expect(closed).toBe(1)
  })
})
