/**
 * ctx.patched: histories recorded before a patch replay the old path, new executions (and old ones that
 * reach the patch live) take the new one; verifyReplay holds for both; deprecatePatch accepts both. The same
 * through the Effect flavour's Workflow.patched and Workflow.deprecatePatch.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow as defineEffectWorkflow, Workflow } from "../src/effect.ts"
import { defineWorkflow, memoryStore, NonDeterminismError } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

const store = () => memoryStore()

const v1 = defineWorkflow("order", async (ctx, n: number) => {
  const a = await ctx.step("charge", () => n)
  await ctx.recv("ship")
  await ctx.recv("deliver")
  return { a, path: "old" }
})

const v2 = defineWorkflow("order", async (ctx, n: number) => {
  const a = await ctx.step("charge", () => n)
  if (await ctx.patched("fraud-check")) {
    const score = await ctx.step("fraud check", () => 0.1)
    await ctx.recv("ship")
    await ctx.recv("deliver")
    return { a, path: "new", score }
  }
  await ctx.recv("ship")
  await ctx.recv("deliver")
  return { a, path: "old" }
})

const v3 = defineWorkflow("order", async (ctx, n: number) => {
  const a = await ctx.step("charge", () => n)
  await ctx.deprecatePatch("fraud-check")
  const score = await ctx.step("fraud check", () => 0.1)
  await ctx.recv("ship")
  await ctx.recv("deliver")
  return { a, path: "new", score }
})

const deliver = async (t: { send: (id: string, topic: string, m: unknown) => Promise<void> }, id: string) => {
  await t.send(id, "ship", true)
  await t.send(id, "deliver", true)
}

describe("ctx.patched", () => {
  it("old histories replay the old path, new executions record the patch and take the new one", async () => {
    const s = store()
    const old = await testEngine({ store: s, workflows: [v1] })
    const finished = await old.start(v1, 1, { id: "finished-on-v1" })
    await deliver(old, finished.id)
    const waiting = await old.start(v1, 2, { id: "waiting-on-v1" })
    await old.send(waiting.id, "ship", true) // its history goes past the patch point when the deploy happens
    await old.settle()
    expect(await finished.result()).toEqual({ a: 1, path: "old" })
    // Without the patch, v2's new step at position 1 would not match v1's histories:
    const unpatched = defineWorkflow("order", async (ctx, n: number) => {
      await ctx.step("charge", () => n)
      await ctx.step("fraud check", () => 0.1)
      return await ctx.recv("ship")
    })
    const strict = await testEngine({ store: s, workflows: [unpatched], recover: false })
    const report = await strict.verifyReplay("finished-on-v1")
    expect(report.ok).toBe(false)
    if (!report.ok) {
      expect(report.error).toBeInstanceOf(NonDeterminismError)
      expect(report.error.message).toMatch(/ctx\.patched/)
    }
    await strict.shutdown()
    await old.crash()

    const t = await testEngine({ store: s, workflows: [v2] })
    expect(await t.verifyReplay("finished-on-v1")).toEqual({ ok: true })
    await t.send("waiting-on-v1", "deliver", true)
    expect(await t.handle("waiting-on-v1").result()).toEqual({ a: 2, path: "old" })
    const fresh = await t.start(v2, 3, { id: "new-on-v2" })
    await deliver(t, fresh.id)
    expect(await fresh.result()).toEqual({ a: 3, path: "new", score: 0.1 })
    expect(await t.verifyReplay(fresh.id)).toEqual({ ok: true })
    expect((await t.workflows.steps(fresh.id)).map((s) => [s.kind, s.name])).toEqual([
      ["step", "charge"],
      ["patch", "fraud-check"],
      ["step", "fraud check"],
      ["recv", "ship"],
      ["recv", "deliver"],
    ])
    await t.shutdown()
  })

  it("an old execution that reaches the patch live takes the new path", async () => {
    const s = store()
    const early = defineWorkflow("order", async (ctx, n: number) => {
      await ctx.sleep("1 hour")
      return n
    })
    const later = defineWorkflow("order", async (ctx, n: number) => {
      await ctx.sleep("1 hour")
      return (await ctx.patched("double")) ? n * 2 : n
    })
    const old = await testEngine({ store: s, workflows: [early] })
    await old.start(early, 21, { id: "sleeping" })
    await old.settle()
    await old.crash()
    const t = await testEngine({ store: s, workflows: [later], startAt: old.now() })
    await t.advance("1 hour")
    expect(await t.handle("sleeping").result()).toBe(42)
    await t.shutdown()
  })

  it("deprecatePatch replays histories recorded with the patch and without it, and records nothing new", async () => {
    const s = store()
    const a = await testEngine({ store: s, workflows: [v2] })
    const withPatch = await a.start(v2, 1, { id: "with-patch" })
    await deliver(a, withPatch.id)
    await withPatch.result()
    await a.crash()
    const t = await testEngine({ store: s, workflows: [v3] })
    expect(await t.verifyReplay("with-patch")).toEqual({ ok: true })
    const fresh = await t.start(v3, 2, { id: "after-retirement" })
    await deliver(t, fresh.id)
    expect(await fresh.result()).toEqual({ a: 2, path: "new", score: 0.1 })
    expect((await t.workflows.steps(fresh.id)).some((s) => s.kind === "patch")).toBe(false)
    expect(await t.verifyReplay(fresh.id)).toEqual({ ok: true })
    await t.shutdown()
  })
})

describe("Workflow.patched and Workflow.deprecatePatch (Effect workflows)", () => {
  // The new code lives in a helper outside the workflow function, as Effect code is usually written: it reads
  // the patch through the WorkflowCtx service.
  const fraudCheck = Effect.gen(function* () {
    if (!(yield* Workflow.patched("fraud-check"))) return undefined
    return yield* Workflow.step("fraud check", Effect.succeed(0.1))
  })
  const ship = Effect.andThen(Workflow.recv("ship"), Workflow.recv("deliver"))

  const e1 = defineEffectWorkflow("effect-order", (ctx, n: number) =>
    Effect.gen(function* () {
      const a = yield* ctx.step("charge", Effect.succeed(n))
      yield* ship
      return { a, path: "old" }
    }),
  )
  const e2 = defineEffectWorkflow("effect-order", (ctx, n: number) =>
    Effect.gen(function* () {
      const a = yield* ctx.step("charge", Effect.succeed(n))
      const score = yield* fraudCheck
      yield* ship
      return score === undefined ? { a, path: "old" } : { a, path: "new", score }
    }),
  )
  const e3 = defineEffectWorkflow("effect-order", (ctx, n: number) =>
    Effect.gen(function* () {
      const a = yield* ctx.step("charge", Effect.succeed(n))
      yield* Workflow.deprecatePatch("fraud-check")
      const score = yield* Workflow.step("fraud check", Effect.succeed(0.1))
      yield* ship
      return { a, path: "new", score }
    }),
  )

  it("keep old histories on the old path, record the patch on new ones, and retire it", async () => {
    const s = store()
    const old = await testEngine({ store: s, workflows: [e1] })
    const finished = await old.start(e1, 1, { id: "finished-on-e1" })
    await deliver(old, finished.id)
    expect(await finished.result()).toEqual({ a: 1, path: "old" })
    const waiting = await old.start(e1, 2, { id: "waiting-on-e1" })
    await old.send(waiting.id, "ship", true)
    await old.settle()
    await old.crash()

    const t = await testEngine({ store: s, workflows: [e2] })
    expect(await t.verifyReplay("finished-on-e1")).toEqual({ ok: true })
    await t.send("waiting-on-e1", "deliver", true)
    expect(await t.handle("waiting-on-e1").result()).toEqual({ a: 2, path: "old" })
    const fresh = await t.start(e2, 3, { id: "new-on-e2" })
    await deliver(t, fresh.id)
    expect(await fresh.result()).toEqual({ a: 3, path: "new", score: 0.1 })
    expect((await t.workflows.steps(fresh.id)).map((s) => [s.kind, s.name])).toEqual([
      ["step", "charge"],
      ["patch", "fraud-check"],
      ["step", "fraud check"],
      ["recv", "ship"],
      ["recv", "deliver"],
    ])
    expect(await t.verifyReplay(fresh.id)).toEqual({ ok: true })
    await t.crash()

    // Retired: the history with the patch replays, the history without it is refused (its old path is gone).
    const r = await testEngine({ store: s, workflows: [e3], recover: false })
    expect(await r.verifyReplay(fresh.id)).toEqual({ ok: true })
    const stale = await r.verifyReplay("finished-on-e1")
    expect(stale.ok).toBe(false)
    const retired = await r.start(e3, 4, { id: "after-retirement" })
    await deliver(r, retired.id)
    expect(await retired.result()).toEqual({ a: 4, path: "new", score: 0.1 })
    expect((await r.workflows.steps(retired.id)).some((s) => s.kind === "patch")).toBe(false)
    expect(await r.verifyReplay(retired.id)).toEqual({ ok: true })
    await r.shutdown()
  })
})
