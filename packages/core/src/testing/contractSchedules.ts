/**
 * Contract cases for schedules: the port (put, get, list, update, delete, progress) and, with engines, the
 * guarantees users rely on: a tick runs once however many engines fire it, and a schedule created through
 * one store is fired by an engine on another (the change wakes it; nothing polls).
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { ScheduledRun } from "../schedules/define.ts"
import type { ScheduleSpec } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractCase, ContractTest } from "./contract.ts"
import { until } from "./until.ts"

const spec = (name: string, over: Partial<ScheduleSpec> = {}): ScheduleSpec => ({
  name,
  workflowName: "report",
  cron: "0 * * * *",
  timezone: "UTC",
  catchUp: "none",
  maxCatchUp: 100,
  ...over,
})

const mine = async (c: ContractCase) =>
  (await c.run(c.store.listSchedules())).filter((s) => s.name.startsWith(c.id("")))

export const schedulesContract: Record<string, ContractTest> = {
  "putSchedule runtime inserts once; a second one with the name is Exists and changes nothing": async (c) => {
    const name = c.id("s")
    const created = await c.run(c.store.putSchedule(spec(name, { queue: "q", input: '{"a":1}' }), "runtime"))
    assert.equal(created._tag, "Created")
    if (created._tag !== "Created") return
    assert.equal(created.record.origin, "runtime")
    assert.equal(created.record.paused, false)
    assert.equal(created.record.queue, "q")
    assert.equal(created.record.input, '{"a":1}')
    assert.ok(created.record.lastTick > 0 && created.record.lastTick === created.record.createdAt)
    const again = await c.run(c.store.putSchedule(spec(name, { cron: "5 * * * *" }), "runtime"))
    assert.equal(again._tag, "Exists")
    assert.equal((await c.run(c.store.getSchedule(name)))?.cron, "0 * * * *")
  },

  "putSchedule code replaces the definition, keeps paused and progress, and returns what it replaced": async (c) => {
    const name = c.id("s")
    await c.run(c.store.putSchedule(spec(name, { queue: "q" }), "runtime"))
    await c.run(c.store.updateSchedule(name, { paused: true, lastTick: 1_000 }))
    const put = await c.run(c.store.putSchedule(spec(name, { cron: "*/5 * * * *", catchUp: "all" }), "code"))
    assert.equal(put._tag, "Replaced")
    if (put._tag !== "Replaced") return
    assert.equal(put.previous.origin, "runtime")
    assert.equal(put.previous.cron, "0 * * * *")
    assert.deepEqual(
      { cron: put.record.cron, catchUp: put.record.catchUp, origin: put.record.origin, queue: put.record.queue },
      { cron: "*/5 * * * *", catchUp: "all", origin: "code", queue: undefined },
    )
    assert.equal(put.record.paused, true)
    assert.equal(put.record.lastTick, 1_000)
    const fresh = await c.run(c.store.putSchedule(spec(c.id("t")), "code"))
    assert.equal(fresh._tag, "Created")
  },

  "updateSchedule changes only what it names, clears queue and input with null, and is undefined for none": async (
    c,
  ) => {
    const name = c.id("s")
    await c.run(c.store.putSchedule(spec(name, { queue: "q", input: "1" }), "runtime"))
    const u = await c.run(c.store.updateSchedule(name, { timezone: "Europe/Paris", maxCatchUp: 7 }))
    assert.equal(u?.timezone, "Europe/Paris")
    assert.equal(u?.maxCatchUp, 7)
    assert.equal(u?.queue, "q")
    assert.equal(u?.input, "1")
    const cleared = await c.run(c.store.updateSchedule(name, { queue: null, input: null, workflowName: "other" }))
    assert.equal(cleared?.queue, undefined)
    assert.equal(cleared?.input, undefined)
    assert.equal(cleared?.workflowName, "other")
    assert.equal(cleared?.cron, "0 * * * *")
    assert.equal(await c.run(c.store.updateSchedule(c.id("none"), { paused: true })), undefined)
  },

  "advanceSchedule never moves progress back; delete removes; list is by name": async (c) => {
    const [a, b] = [c.id("a"), c.id("b")]
    await c.run(c.store.putSchedule(spec(b), "runtime"))
    await c.run(c.store.putSchedule(spec(a), "code"))
    const start = (await c.run(c.store.getSchedule(a)))!.lastTick
    await c.run(c.store.advanceSchedule(a, start + 5_000))
    await c.run(c.store.advanceSchedule(a, start + 1_000))
    assert.equal((await c.run(c.store.getSchedule(a)))?.lastTick, start + 5_000)
    assert.deepEqual(
      (await mine(c)).map((s) => s.name),
      [a, b],
    )
    assert.equal(await c.run(c.store.deleteSchedule(a)), true)
    assert.equal(await c.run(c.store.deleteSchedule(a)), false)
    assert.equal(await c.run(c.store.getSchedule(a)), undefined)
    assert.deepEqual(
      (await mine(c)).map((s) => s.name),
      [b],
    )
  },

  "a change wakes subscribers of schedules; progress does not": async (c) => {
    const other = await c.another()
    let wakes = 0
    const unsubscribe = other.subscribe({ kind: "schedules" }, () => void wakes++)
    try {
      // LISTEN may take a moment to start on a fresh store: keep changing until one is heard.
      const name = c.id("s")
      await c.run(c.store.putSchedule(spec(name), "runtime"))
      await until(async () => {
        if (wakes > 0) return true
        await c.run(c.store.updateSchedule(name, { maxCatchUp: 2 }))
        return false
      }, "a wake-up for a schedule change")
      await new Promise((r) => setTimeout(r, 300))
      const before = wakes
      await c.run(c.store.advanceSchedule(name, Date.now() + 60_000))
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(wakes, before)
    } finally {
      unsubscribe()
    }
  },

  "two engines firing one per-second schedule run each tick once, with no tick missing": async (c) => {
    const seen = new Map<string, number>()
    const wf = defineWorkflow(c.id("tick"), async (ctx, run: ScheduledRun) => {
      await ctx.step("count", () => {
        const k = run.scheduledAt.toISOString()
        seen.set(k, (seen.get(k) ?? 0) + 1)
      })
    })
    const name = c.id("every-second")
    const other = await c.another()
    const a = await Durably.launch({ store: c.store, workflows: [wf], executorId: c.id("a"), logger: false })
    const b = await Durably.launch({ store: other, workflows: [wf], executorId: c.id("b"), logger: false })
    try {
      await a.schedules.create(name, { cron: "* * * * * *", workflow: wf })
      await until(() => seen.size >= 4, "four ticks")
      await a.schedules.pause(name)
      const ticks = [...seen.keys()].sort().map((k) => Date.parse(k))
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, 1000, "no tick missing")
      assert.ok(
        [...seen.values()].every((n) => n === 1),
        `each tick ran once: ${JSON.stringify([...seen])}`,
      )
      const runs = (await c.run(c.store.listWorkflows({ name: wf.name, limit: 1000 }))).map((r) => r.id)
      assert.equal(new Set(runs).size, runs.length)
      assert.ok(runs.every((id) => id.startsWith(`@schedule:${name}:`)))
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "a schedule created through one store is fired by an idle engine on another": async (c) => {
    let ran = 0
    const wf = defineWorkflow(c.id("woken"), async (ctx, _run: ScheduledRun) => ctx.step("run", () => ++ran))
    const other = await c.another()
    // Only `b` has the workflow's code, so only it can fire the schedule; it has no timer until it is woken.
    const b = await Durably.launch({ store: other, workflows: [wf], executorId: c.id("b"), logger: false })
    try {
      await c.run(c.store.putSchedule(spec(c.id("remote"), { workflowName: wf.name, cron: "* * * * * *" }), "runtime"))
      await until(() => ran >= 1, "a tick fired by the other engine")
    } finally {
      await b.shutdown()
    }
  },
}
