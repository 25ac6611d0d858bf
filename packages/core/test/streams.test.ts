import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Durably as EffectDurably, Workflow, defineWorkflow as defineEffectWorkflow } from "../src/effect.ts"
import { InvalidArgument, StreamClosedError, WorkflowNotFound, defineWorkflow, memoryStore } from "../src/index.ts"
import type { Store } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

const collect = async <A>(values: AsyncIterable<A>) => {
  const out: A[] = []
  for await (const v of values) out.push(v)
  return out
}

describe("streams", () => {
  it("values from workflow code and step bodies come in order; readers start at any offset and end at the close", async () => {
    const wf = defineWorkflow("tokens", async (ctx) => {
      await ctx.writeStream("tokens", "a")
      await ctx.step("generate", async () => {
        await ctx.writeStream("tokens", "b")
        await ctx.writeStream("tokens", { c: new Date(3) })
        return "generated"
      })
      await ctx.recv("finish")
      await ctx.closeStream("tokens")
      return "done"
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    const all = collect(t.readStream(h.id, "tokens"))
    const tail = collect(t.readStream(h.id, "tokens", { from: 2 }))
    await t.settle()
    await t.send(h.id, "finish", true)
    expect(await all).toEqual(["a", "b", { c: new Date(3) }])
    expect(await tail).toEqual([{ c: new Date(3) }])
    expect(await h.result()).toBe("done")
    expect(await collect(t.readStream(h.id, "tokens", { from: 10 }))).toEqual([])
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("a stream that is never closed ends when the workflow ends", async () => {
    const wf = defineWorkflow("open", async (ctx) => {
      await ctx.writeStream("s", 1)
      await ctx.sleep("1 minute")
      await ctx.writeStream("s", 2)
      throw new Error("failed after writing")
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    const reading = collect(t.readStream(h.id, "s"))
    await t.advance("1 minute")
    expect(await reading).toEqual([1, 2])
    expect((await h.outcome()).status).toBe("ERROR")
  })

  it("writes are exactly once across crashes and replays", async () => {
    let bodies = 0
    const wf = defineWorkflow("replayed", async (ctx) => {
      await ctx.writeStream("s", "one")
      await ctx.step("two", async () => {
        bodies++
        await ctx.writeStream("s", "two")
      })
      await ctx.sleep("1 minute")
      await ctx.writeStream("s", "three")
      await ctx.closeStream("s")
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    await t.crash()
    await t.restart()
    await t.advance("1 minute")
    await h.result()
    expect(await collect(t.readStream(h.id, "s"))).toEqual(["one", "two", "three"])
    expect(bodies).toBe(1)
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("a failed attempt publishes nothing; a timed-out attempt's late writes are refused", async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let late: Promise<unknown> | undefined
    const wf = defineWorkflow("attempts", async (ctx) => {
      await ctx.step(
        "flaky",
        async ({ attempt }) => {
          await ctx.writeStream("s", `attempt ${attempt}`)
          if (attempt === 1) throw new Error("fails")
          if (attempt === 2) {
            // Outlives its timeout, then tries to write.
            await gate
            late = ctx.writeStream("s", "late").catch((e: unknown) => e)
          }
          return attempt
        },
        { retry: { maxAttempts: 3, initialDelay: 1 }, timeout: "10 seconds" },
      )
      await ctx.closeStream("s")
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("1 minute")
    await h.result()
    release()
    await gate
    expect(((await late) as Error).message).toMatch(/after the attempt of step "flaky" ended/)
    expect(await collect(t.readStream(h.id, "s"))).toEqual(["attempt 3"])
  })

  it("writing to a closed stream fails with StreamClosedError, from workflow code and from a step", async () => {
    const wf = defineWorkflow("closed", async (ctx) => {
      await ctx.writeStream("s", 1)
      await ctx.closeStream("s")
      const fromWorkflow = await ctx.writeStream("s", 2).catch((e: unknown) => e)
      const twice = await ctx.closeStream("s").catch((e: unknown) => e)
      const fromStep = await ctx.step("late", () => ctx.writeStream("s", 3)).catch((e: unknown) => e)
      const inOneAttempt = await ctx
        .step("same attempt", async () => {
          await ctx.closeStream("t")
          await ctx.writeStream("t", 4)
        })
        .catch((e: unknown) => e)
      return [fromWorkflow, twice, fromStep, inOneAttempt].map((e) => e instanceof StreamClosedError)
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    expect(await h.result()).toEqual([true, true, true, true])
    expect(await collect(t.readStream(h.id, "s"))).toEqual([1])
    expect(await collect(t.readStream(h.id, "t"))).toEqual([])
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("a reader that stops iterating stops waiting at once", async () => {
    const inner = memoryStore()
    let subscribed = 0
    const store: Store = {
      ...inner,
      subscribe: (wake, listener) => {
        subscribed++
        const unsubscribe = inner.subscribe(wake, listener)
        return () => {
          subscribed--
          unsubscribe()
        }
      },
    }
    const wf = defineWorkflow("slow", async (ctx) => ctx.recv("never"))
    const t = await testEngine({ workflows: [wf], store })
    const h = await t.start(wf, undefined)
    await t.settle()
    const before = subscribed
    const iterator = t.readStream(h.id, "s")[Symbol.asyncIterator]()
    const next = iterator.next()
    await new Promise((r) => setTimeout(r, 10))
    expect(subscribed).toBe(before + 2)
    await iterator.return!()
    expect(await next).toEqual({ done: true, value: undefined })
    expect(subscribed).toBe(before)
  })

  it("bad input is refused with a clear error", async () => {
    const wf = defineWorkflow("bad", async (ctx, which: string) => {
      if (which === "key") await ctx.writeStream("", 1)
      if (which === "function") await ctx.writeStream("s", () => 1)
      return "ok"
    })
    const t = await testEngine({ workflows: [wf] })
    for (const [which, tag] of [
      ["key", "InvalidArgument"],
      ["function", "SerializationError"],
    ] as const) {
      const o = await t.run(wf, which).catch((e: { cause?: unknown }) => e.cause)
      expect(o).toMatchObject({ _tag: tag })
    }
    const h = await t.start(wf, "fine")
    await h.result()
    expect(() => t.readStream(h.id, "s", { from: -1 })).toThrow(InvalidArgument)
    expect(() => t.readStream(h.id, "")).toThrow(InvalidArgument)
    await expect(collect(t.readStream("nobody", "s"))).rejects.toBeInstanceOf(WorkflowNotFound)
  })

  it("Effect flavour: writeStream in a step body and in workflow code; readStream as a Stream", async () => {
    const wf = defineEffectWorkflow("effect-stream", (ctx) =>
      Effect.gen(function* () {
        yield* ctx.writeStream("s", 1)
        yield* ctx.step(
          "produce",
          Effect.gen(function* () {
            yield* ctx.writeStream("s", 2)
            yield* Workflow.writeStream("s", 3)
          }),
        )
        yield* Workflow.closeStream("s")
        return "done"
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    expect(await h.result()).toBe("done")
    const service = EffectDurably.fromPromise(t)
    expect(await Effect.runPromise(Stream.runCollect(service.readStream<number>(h.id, "s")))).toEqual([1, 2, 3])
    expect(await Effect.runPromise(Stream.runCollect(service.readStream<number>(h.id, "s", { from: 1 })))).toEqual([
      2, 3,
    ])
    const missing = await Effect.runPromise(Effect.flip(Stream.runCollect(service.readStream("nobody", "s"))))
    expect(missing).toBeInstanceOf(WorkflowNotFound)
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })
})
