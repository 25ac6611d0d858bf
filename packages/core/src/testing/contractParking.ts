/**
 * Contract cases for parked waits: a workflow waiting in `recv`, `getEvent` or on a child's result leaves
 * memory after `parkWaitsAfter`, and must run again when the message, the event or the child's end arrives
 * through the store (here from another engine, on another store on the same data where the store has one),
 * or when its timeout passes. A wake-up the parked workflow does not hear leaves it waiting forever, and the
 * case fails on its bound.
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ExecutionEndInfo, Observer } from "../observe/Observer.ts"
import type { ContractTest } from "./contract.ts"
import { until } from "./until.ts"

/** Counts, per workflow id, the executions here that ended parked. */
const parkedCounter = () => {
  const parked = new Map<string, number>()
  const observer: Observer = {
    execution: (info) => ({
      end: (end: ExecutionEndInfo) => {
        if (end.status === "STOPPED" && end.reason === "parked")
          parked.set(info.workflowId, (parked.get(info.workflowId) ?? 0) + 1)
      },
    }),
  }
  return { parked, observer }
}

const launchParking = (
  store: Store,
  executorId: string,
  workflows: Parameters<typeof Durably.launch>[0]["workflows"],
  observer: Observer,
) => Durably.launch({ store, workflows, executorId, logger: false, parkWaitsAfter: 30, observers: [observer] })

/** The workflow's result within a bound: a lost wake-up fails here instead of hanging the suite. */
const within = async <A>(what: string, p: Promise<A>, ms = 15_000): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms (a lost wake-up?)`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

export const parkingScenarios: Record<string, ContractTest> = {
  "parked recv, getEvent and child-result waits wake when another engine sends, sets, or the child ends": async ({
    store,
    id,
    another,
  }) => {
    const runs = { receiver: 0, reader: 0, parent: 0 }
    const receiver = defineWorkflow(id("receiver"), async (ctx) => {
      runs.receiver++
      const before = await ctx.step("before", () => "b")
      const got = await ctx.recv<string>("go")
      return `${before}:${got}`
    })
    const publisher = defineWorkflow(id("publisher"), async (ctx) => {
      await ctx.recv("publish")
      await ctx.setEvent("ready", "yes")
      return "published"
    })
    const reader = defineWorkflow(id("reader"), async (ctx, from: string) => {
      runs.reader++
      return ctx.getEvent<string>(from, "ready")
    })
    const child = defineWorkflow(id("child"), async (ctx) => `child:${String(await ctx.recv("go"))}`)
    const parent = defineWorkflow(id("parent"), async (ctx, childId: string) => {
      runs.parent++
      return (await ctx.start(child, undefined, { id: childId })).result()
    })
    const { parked, observer } = parkedCounter()
    const a = await launchParking(store, id("a"), [receiver, publisher, reader, child, parent], observer)
    const b = await Durably.launch({ store: await another(), workflows: [], executorId: id("b"), logger: false })
    try {
      const r = await a.start(receiver, undefined)
      const p = await a.start(publisher, undefined)
      const e = await a.start(reader, p.id)
      const childId = id("kid")
      const c = await a.start(parent, childId)
      await until(() => [r.id, p.id, e.id, c.id].every((x) => (parked.get(x) ?? 0) >= 1), "the four waiters to park")
      await until(() => (parked.get(childId) ?? 0) >= 1, "the child to park")
      assert.deepEqual(runs, { receiver: 1, reader: 1, parent: 1 })

      await b.send(r.id, "go", "hello")
      assert.equal(await within("the parked receiver", b.handle(r.id).result()), "b:hello")
      await b.send(p.id, "publish", true)
      assert.equal(await within("the parked reader", b.handle(e.id).result()), "yes")
      await b.send(childId, "go", 7)
      assert.equal(await within("the parked parent", b.handle(c.id).result()), "child:7")
      // Each ran again from its history once woken: the step before the wait ran once.
      assert.deepEqual(runs, { receiver: 2, reader: 2, parent: 2 })
      for (const x of [r.id, e.id, c.id]) assert.equal((await b.handle(x).status()).status, "SUCCESS")
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "a parked recv with a timeout returns undefined when it passes; a message sent while parked wakes it first": async ({
    store,
    id,
  }) => {
    const wf = defineWorkflow(id("timed"), async (ctx, ms: number) => {
      const got = await ctx.recv<string>("go", { timeout: ms })
      return got ?? "timed out"
    })
    const { parked, observer } = parkedCounter()
    const a = await launchParking(store, id("a"), [wf], observer)
    try {
      const late = await a.start(wf, 400)
      const early = await a.start(wf, 60_000)
      await until(() => (parked.get(late.id) ?? 0) >= 1 && (parked.get(early.id) ?? 0) >= 1, "both to park")
      assert.equal(await within("the parked timeout", late.result()), "timed out")
      await a.send(early.id, "go", "in time")
      assert.equal(await within("the parked recv", early.result()), "in time")
    } finally {
      await a.shutdown()
    }
  },

  "a workflow cancelled while its wait is parked stays cancelled and is not run again": async ({
    store,
    id,
    another,
  }) => {
    let runs = 0
    const wf = defineWorkflow(id("cancelled"), async (ctx) => {
      runs++
      await ctx.recv("go")
      return "ran"
    })
    const { parked, observer } = parkedCounter()
    const a = await launchParking(store, id("a"), [wf], observer)
    const b = await Durably.launch({ store: await another(), workflows: [], executorId: id("b"), logger: false })
    try {
      const h = await a.start(wf, undefined)
      await until(() => (parked.get(h.id) ?? 0) >= 1, "it to park")
      await b.cancel(h.id)
      await b.send(h.id, "go", 1).catch(() => undefined)
      const o = await within("the cancelled outcome", b.handle(h.id).outcome())
      assert.equal(o.status, "CANCELLED")
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(runs, 1)
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },
}
