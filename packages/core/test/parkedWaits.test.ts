/**
 * Waits park their workflow once they have lasted `parkWaitsAfter`: out of memory while nothing happens,
 * replayed from the history when the message, the event or the child's end arrives, or the timeout passes.
 * An observer counts the executions that ended parked, and the workflow functions count their invocations.
 */
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, InvalidArgument, memoryStore, type Observer } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

const parkedCounter = () => {
  const parked = new Map<string, number>()
  const observer: Observer = {
    execution: (info) => ({
      end: (end) => {
        if (end.status === "STOPPED" && end.reason === "parked")
          parked.set(info.workflowId, (parked.get(info.workflowId) ?? 0) + 1)
      },
    }),
  }
  return { count: (id: string) => parked.get(id) ?? 0, observer }
}

describe("parking waits", () => {
  it("a recv parks after 10 seconds by default and wakes on its message; the steps before it ran once", async () => {
    const runs: string[] = []
    let invocations = 0
    const wf = defineWorkflow("inbox", async (ctx) => {
      invocations++
      await ctx.step("before", () => void runs.push("before"))
      const got = await ctx.recv<string>("go")
      return ctx.step("after", () => (runs.push("after"), got))
    })
    const { count, observer } = parkedCounter()
    const t = await testEngine({ workflows: [wf], observers: [observer] })
    const h = await t.start(wf, undefined)
    await t.advance("9 seconds")
    expect(count(h.id)).toBe(0)
    await t.advance("1 second")
    expect(count(h.id)).toBe(1)
    await t.send(h.id, "go", "hi")
    expect(await h.result()).toBe("hi")
    expect(runs).toEqual(["before", "after"])
    expect(invocations).toBe(2)
    expect((await t.verifyReplay(h.id)).ok).toBe(true)
    await t.shutdown()
  })

  it("messages in quick succession keep the workflow in memory; a wait beside other live work never parks", async () => {
    let invocations = 0
    const stream = defineWorkflow("stream", async (ctx) => {
      invocations++
      let sum = 0
      for (let k = 0; k < 5; k++) sum += await ctx.recv<number>("n")
      return sum
    })
    let busyInvocations = 0
    const busy = defineWorkflow("busy", async (ctx) => {
      busyInvocations++
      const [a] = await Promise.all([ctx.recv<number>("a"), ctx.sleep("1 minute")])
      return a
    })
    const { count, observer } = parkedCounter()
    const t = await testEngine({ workflows: [stream, busy], observers: [observer] })
    const h = await t.start(stream, undefined)
    const b = await t.start(busy, undefined)
    for (let k = 1; k <= 5; k++) {
      await t.advance("5 seconds")
      await t.send(h.id, "n", k)
    }
    expect(await h.result()).toBe(15)
    expect(invocations).toBe(1)
    await t.advance("30 seconds")
    expect(count(b.id)).toBe(0)
    await t.send(b.id, "a", 1)
    await t.advance("1 minute")
    expect(await b.result()).toBe(1)
    expect(busyInvocations).toBe(1)
    await t.shutdown()
  })

  it("a parked recv times out on time; a parked wait survives a crash; a workflow's timeout fires while parked", async () => {
    const timed = defineWorkflow(
      "timed",
      async (ctx) => (await ctx.recv<string>("go", { timeout: "1 hour" })) ?? "none",
    )
    const plain = defineWorkflow("plain", async (ctx) => ctx.recv<string>("go"))
    const { count, observer } = parkedCounter()
    const t = await testEngine({ workflows: [timed, plain], observers: [observer] })
    const a = await t.start(timed, undefined)
    const b = await t.start(plain, undefined)
    const c = await t.start(plain, undefined, { timeout: "2 hours" })
    await t.advance("1 minute")
    expect([count(a.id), count(b.id), count(c.id)]).toEqual([1, 1, 1])
    await t.advance("58 minutes")
    expect((await a.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    expect(await a.result()).toBe("none")
    await t.restart()
    await t.advance("1 minute")
    await t.send(b.id, "go", "after the crash")
    expect(await b.result()).toBe("after the crash")
    await t.advance("1 hour")
    const o = await c.outcome()
    expect(o.status === "CANCELLED" && o.reason).toBe("timeout")
    await t.shutdown()
  })

  it("a parked getEvent and a parked wait for a child wake when the event is set and the child ends", async () => {
    const publisher = defineWorkflow("publisher", async (ctx) => {
      await ctx.recv("publish")
      await ctx.setEvent("ready", 42)
    })
    const reader = defineWorkflow("reader", async (ctx, from: string) => ctx.getEvent<number>(from, "ready"))
    const child = defineWorkflow("child", async (ctx) => ctx.recv<string>("go"))
    const parent = defineWorkflow("parent", async (ctx) =>
      (await ctx.start(child, undefined, { id: "the-child" })).result(),
    )
    const { count, observer } = parkedCounter()
    const t = await testEngine({ workflows: [publisher, reader, child, parent], observers: [observer] })
    const p = await t.start(publisher, undefined)
    const r = await t.start(reader, p.id)
    const c = await t.start(parent, undefined)
    await t.advance("1 minute")
    expect([count(p.id), count(r.id), count(c.id), count("the-child")]).toEqual([1, 1, 1, 1])
    await t.send(p.id, "publish", true)
    expect(await r.result()).toBe(42)
    await t.send("the-child", "go", "done")
    expect(await c.result()).toBe("done")
    await t.shutdown()
  })

  it("a parkWaitsAfter that is not a duration is refused at launch, naming the option", async () => {
    for (const bad of [-1, Number.NaN, "soon"] as const) {
      const launched = Durably.launch({
        store: memoryStore(),
        workflows: [],
        logger: false,
        parkWaitsAfter: bad as never,
      })
      await expect(launched).rejects.toBeInstanceOf(InvalidArgument)
      await expect(launched).rejects.toThrow(/parkWaitsAfter/)
    }
  })

  it("parkWaitsAfter: false keeps waiting workflows in memory", async () => {
    let invocations = 0
    const wf = defineWorkflow("kept", async (ctx) => {
      invocations++
      return ctx.recv<string>("go")
    })
    const t = await testEngine({ workflows: [wf], parkWaitsAfter: false })
    const h = await t.start(wf, undefined)
    await t.advance("1 hour")
    await t.send(h.id, "go", "x")
    expect(await h.result()).toBe("x")
    expect(invocations).toBe(1)
    await t.shutdown()
  })
})
