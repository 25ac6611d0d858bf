import { Effect, Option } from "effect"
import { describe, expect, it } from "vitest"
import { Durably as EffectDurably, Workflow, defineWorkflow as defineEffectWorkflow } from "../src/effect.ts"
import { InvalidArgument, WorkflowNotFound, defineWorkflow } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

describe("events", () => {
  it("getEvent waits until the key is set; the last write wins", async () => {
    const wf = defineWorkflow("publisher", async (ctx) => {
      await ctx.recv("go")
      await ctx.setEvent("status", "charged")
      await ctx.setEvent("progress", { done: 1, of: 2 })
      await ctx.recv("go")
      await ctx.setEvent("status", "shipped")
      return "ok"
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    const waiting = t.getEvent<string>(h.id, "status")
    await t.settle()
    await t.send(h.id, "go", 1)
    expect(await waiting).toBe("charged")
    expect(await t.getEvent(h.id, "progress")).toEqual({ done: 1, of: 2 })
    await t.send(h.id, "go", 2)
    expect(await h.result()).toBe("ok")
    expect(await t.getEvent(h.id, "status")).toBe("shipped")
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("a getEvent timeout fires at once on advance; a finished workflow's missing key is undefined at once", async () => {
    const wf = defineWorkflow("silent", async (ctx) => ctx.recv("stop"))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    let settled = false
    const waiting = t.getEvent(h.id, "never", { timeout: "10 minutes" }).finally(() => (settled = true))
    await t.advance("9 minutes")
    expect(settled).toBe(false)
    await t.advance("1 minute")
    expect(await waiting).toBeUndefined()
    await t.send(h.id, "stop", null)
    await h.result()
    expect(await t.getEvent(h.id, "never")).toBeUndefined()
  })

  it("ctx.getEvent is recorded: replay returns what was read, even after the event changed", async () => {
    const source = defineWorkflow("source", async (ctx) => {
      await ctx.setEvent("v", 1)
      await ctx.recv("next")
      await ctx.setEvent("v", 2)
    })
    const reader = defineWorkflow("reader", async (ctx, from: string) => {
      const v = await ctx.getEvent<number>(from, "v")
      await ctx.sleep("1 minute")
      return v
    })
    const t = await testEngine({ workflows: [source, reader] })
    const s = await t.start(source, undefined, { id: "source" })
    const r = await t.start(reader, "source")
    await t.settle()
    await t.send("source", "next", true)
    await s.result()
    await t.restart()
    await t.advance("1 minute")
    expect(await r.result()).toBe(1)
    expect(await t.verifyReplay(r.id)).toEqual({ ok: true })
  })

  it("the ctx.getEvent deadline is durable across a restart", async () => {
    const quiet = defineWorkflow("quiet", async (ctx) => ctx.recv("never"))
    const reader = defineWorkflow("reader", async (ctx, from: string) =>
      ctx.getEvent(from, "status", { timeout: "1 hour" }),
    )
    const t = await testEngine({ workflows: [quiet, reader] })
    await t.start(quiet, undefined, { id: "quiet" })
    const r = await t.start(reader, "quiet")
    await t.advance("45 minutes")
    await t.restart()
    await t.advance("14 minutes")
    expect((await r.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    expect(await r.outcome()).toEqual({ status: "SUCCESS", value: undefined })
  })

  it("getEvent of a workflow that does not exist fails with WorkflowNotFound (recorded in a workflow)", async () => {
    const reader = defineWorkflow("reader", async (ctx) =>
      ctx.getEvent("nobody", "k").catch((e: unknown) => (e instanceof WorkflowNotFound ? "not found" : "other")),
    )
    const t = await testEngine({ workflows: [reader] })
    await expect(t.getEvent("nobody", "k")).rejects.toBeInstanceOf(WorkflowNotFound)
    const h = await t.start(reader, undefined)
    expect(await h.result()).toBe("not found")
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("bad input is refused with InvalidArgument", async () => {
    const wf = defineWorkflow("bad", async (ctx, which: string) => {
      if (which === "undefined") await ctx.setEvent("k", undefined)
      if (which === "key") await ctx.setEvent("", 1)
      if (which === "function") await ctx.setEvent("k", () => 1)
      return "unreachable"
    })
    const t = await testEngine({ workflows: [wf] })
    for (const [which, tag] of [
      ["undefined", "InvalidArgument"],
      ["key", "InvalidArgument"],
      ["function", "SerializationError"],
    ] as const) {
      const o = await t.run(wf, which).catch((e: { cause?: { _tag?: string; message: string } }) => e.cause)
      expect(o).toMatchObject({ _tag: tag })
    }
    const h = await t.start(wf, "undefined")
    await h.outcome()
    await expect(t.getEvent(h.id, "")).rejects.toBeInstanceOf(InvalidArgument)
    await expect(t.getEvent(h.id, "k", { timeout: -1 })).rejects.toBeInstanceOf(InvalidArgument)
    await expect(t.getEvent(h.id, "k", { timeout: "soon" as never })).rejects.toBeInstanceOf(InvalidArgument)
  })

  it("Effect flavour: getEvent is an Option, on the ctx and on the Durably service", async () => {
    const wf = defineEffectWorkflow("effect-events", (ctx) =>
      Effect.gen(function* () {
        yield* ctx.setEvent("stage", "one")
        const own = yield* ctx.getEvent<string>(ctx.workflowId, "stage")
        const missing = yield* Workflow.getEvent("effect-events-1", "nothing", { timeout: "1 second" })
        yield* Workflow.setEvent("stage", "two")
        return { own: Option.getOrNull(own), missing: Option.isNone(missing) }
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined, { id: "effect-events-1" })
    await t.advance("1 second")
    expect(await h.result()).toEqual({ own: "one", missing: true })
    const service = EffectDurably.fromPromise(t)
    expect(await Effect.runPromise(service.getEvent(h.id, "stage"))).toEqual(Option.some("two"))
    expect(await Effect.runPromise(service.getEvent(h.id, "nothing"))).toEqual(Option.none())
    const error = await Effect.runPromise(Effect.flip(service.getEvent("nobody", "stage")))
    expect(error).toBeInstanceOf(WorkflowNotFound)
  })
})
