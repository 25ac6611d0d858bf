/** Contract cases that run engines on the store: what users rely on, end to end. */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"
import { until } from "./until.ts"

const launch = (store: Store, executorId: string, workflows: Parameters<typeof Durably.launch>[0]["workflows"]) =>
  Durably.launch({ store, workflows, executorId, logger: false })

/** Counts step-body runs per name, across engines in this process. */
const ledger = () => {
  const runs = new Map<string, number>()
  return {
    run: (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1),
    count: (name: string) => runs.get(name) ?? 0,
  }
}

export const engineScenarios: Record<string, ContractTest> = {
  "a workflow runs to completion and its result is read back": async ({ store, id }) => {
    const wf = defineWorkflow(id("simple"), async (ctx, n: number) => {
      const a = await ctx.step("double", () => n * 2)
      const [b, c] = await Promise.all([ctx.step("inc", () => a + 1), ctx.step("date", () => new Date(0))])
      return { b, c }
    })
    const durably = await launch(store, id("exec"), [wf])
    try {
      const out = await durably.run(wf, 20)
      assert.equal(out.b, 41)
      assert.ok(out.c instanceof Date)
    } finally {
      await durably.shutdown()
    }
  },

  "after a crash, a restarted executor replays and does not re-run completed steps": async ({ store, id, another }) => {
    const l = ledger()
    let gate!: () => void
    const blocked = new Promise<void>((r) => (gate = r))
    const wf = defineWorkflow(id("replay"), async (ctx) => {
      await ctx.step("one", () => l.run("one"))
      await ctx.step("two", async () => {
        l.run("two")
        if (l.count("two") === 1) await blocked
      })
      await ctx.step("three", () => l.run("three"))
      return "done"
    })
    const exec = id("exec")
    const first = await launch(store, exec, [wf])
    const h = await first.start(wf, undefined)
    await until(() => l.count("two") === 1, "step two to start")
    // Simulate the process dying: a second engine with the same executor id takes the workflow back.
    const second = await launch(await another(), exec, [wf])
    try {
      assert.equal(await second.handle(h.id).result(), "done")
      gate()
      assert.equal(l.count("one"), 1)
      assert.equal(l.count("two"), 2)
      assert.equal(l.count("three"), 1)
    } finally {
      gate()
      await second.shutdown()
      await first.shutdown().catch(() => undefined)
    }
  },

  "the fenced (older) execution cannot record anything after a takeover": async ({ store, id, run, another }) => {
    let release!: () => void
    const blocked = new Promise<void>((r) => (release = r))
    let zombieRuns = 0
    const wf = defineWorkflow(id("zombie"), async (ctx) => {
      await ctx.step("slow", async () => {
        zombieRuns++
        if (zombieRuns === 1) await blocked
        return zombieRuns
      })
      return "ok"
    })
    const exec = id("exec")
    const zombie = await launch(store, exec, [wf])
    const h = await zombie.start(wf, undefined)
    await until(() => zombieRuns === 1, "the first attempt to start")
    const taker = await launch(await another(), exec, [wf])
    try {
      assert.equal(await taker.handle(h.id).result(), "ok")
      release()
      await new Promise((r) => setTimeout(r, 50))
      const cps = await run(store.loadCheckpoints(h.id))
      assert.equal(cps.length, 1)
      assert.equal(cps[0]?.output, "2")
    } finally {
      release()
      await taker.shutdown()
      await zombie.shutdown().catch(() => undefined)
    }
  },

  "two engines: one shuts down, the other takes its workflows over": async ({ store, id, another }) => {
    const l = ledger()
    const wf = defineWorkflow(id("handover"), async (ctx) => {
      await ctx.step("before", () => l.run("before"))
      await ctx.sleep(100)
      await ctx.step("after", () => l.run("after"))
      return "moved"
    })
    const a = await launch(store, id("a"), [wf])
    const b = await launch(await another(), id("b"), [wf])
    try {
      const hs = await Promise.all([1, 2, 3].map(() => a.start(wf, undefined)))
      await until(() => l.count("before") === 3, "the first steps")
      await a.shutdown()
      assert.equal(await b.recover(), 3)
      for (const h of hs) assert.equal(await b.handle(h.id).result(), "moved")
      assert.equal(l.count("before"), 3)
      assert.equal(l.count("after"), 3)
    } finally {
      await b.shutdown()
    }
  },

  "duplicate starts from two engines attach to one execution": async ({ store, id, another }) => {
    const l = ledger()
    const wf = defineWorkflow(id("dup"), async (ctx, n: number) => ctx.step("once", () => (l.run("once"), n)))
    const a = await launch(store, id("a"), [wf])
    const b = await launch(await another(), id("b"), [wf])
    try {
      const hs = await Promise.all([a.start(wf, 1, { id: id("order") }), b.start(wf, 2, { id: id("order") })])
      const results = await Promise.all(hs.map((h) => h.result()))
      assert.equal(results[0], results[1])
      assert.equal(l.count("once"), 1)
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "cancel from another engine stops a sleeping workflow": async ({ store, id, another }) => {
    const l = ledger()
    const wf = defineWorkflow(id("cancel"), async (ctx) => {
      await ctx.sleep("1 hour")
      l.run("after")
    })
    const a = await launch(store, id("a"), [wf])
    const b = await launch(await another(), id("b"), [wf])
    try {
      const h = await a.start(wf, undefined)
      await b.cancel(h.id)
      const o = await a.handle(h.id).outcome()
      assert.equal(o.status, "CANCELLED")
      assert.equal(l.count("after"), 0)
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },
}
