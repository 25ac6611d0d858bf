import { Effect, Option, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  Durably as EffectDurably,
  Workflow,
  defineWorkflow as defineEffectWorkflow,
  type EffectWorkflowContext,
} from "../src/effect.ts"
import {
  InvalidArgument,
  PayloadTooLargeError,
  SchemaMismatchError,
  SerializationError,
  WorkflowNotFound,
  defineTopic,
  defineWorkflow,
  memoryStore,
  type Store,
} from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

const checkpoints = (store: Store, id: string) => Effect.runPromise(store.loadCheckpoints(id))

describe("messages: send and recv", () => {
  it("messages sent before recv wait for it, in order per topic", async () => {
    const wf = defineWorkflow("inbox", async (ctx) => {
      const b = await ctx.recv<string>("b")
      const a1 = await ctx.recv<string>("a")
      const a2 = await ctx.recv<string>("a")
      return [b, a1, a2]
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.send(h.id, "a", "first")
    await t.send(h.id, "a", "second")
    await t.send(h.id, "b", "other topic")
    expect(await h.result()).toEqual(["other topic", "first", "second"])
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("recv waits for a message sent later, and takes values of any serializable kind", async () => {
    const wf = defineWorkflow("later", async (ctx) => ctx.recv<{ at: Date; n: bigint }>("data"))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    expect((await h.status()).status).toBe("PENDING")
    await t.send(h.id, "data", { at: new Date(5), n: 7n })
    expect(await h.result()).toEqual({ at: new Date(5), n: 7n })
  })

  it("a recv timeout fires at once on advance, not before", async () => {
    const wf = defineWorkflow("timeout", async (ctx) => {
      const got = await ctx.recv("approval", { timeout: "1 hour" })
      return { got, at: (await ctx.now()).getTime() }
    })
    const t = await testEngine({ workflows: [wf] })
    const start = t.now().getTime()
    const h = await t.start(wf, undefined)
    await t.advance("59 minutes")
    expect((await h.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    expect(await h.result()).toEqual({ got: undefined, at: start + 3_600_000 })
    // A message sent afterwards stays for a later recv.
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("a message arriving before the timeout wins; the timeout is then forgotten", async () => {
    const wf = defineWorkflow("in-time", async (ctx) => ctx.recv<number>("n", { timeout: "1 hour" }))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("30 minutes")
    await t.send(h.id, "n", 0)
    expect(await h.result()).toBe(0)
    const [cp] = await checkpoints(t.store, h.id)
    expect(cp).toMatchObject({ kind: "recv", state: "done", output: "0" })
    expect(cp?.wakeAt).toBeUndefined()
  })

  it("the recv deadline is durable: after a restart only the remainder is waited", async () => {
    const wf = defineWorkflow("durable-timeout", async (ctx) => ctx.recv("never", { timeout: "1 hour" }))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("40 minutes")
    const [pending] = await checkpoints(t.store, h.id)
    expect(pending).toMatchObject({ kind: "recv", state: "pending", name: "never" })
    await t.restart()
    await t.advance("19 minutes")
    expect((await h.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    expect(await h.outcome()).toEqual({ status: "SUCCESS", value: undefined })
  })

  it("a message waiting already is received in one write, with no pending checkpoint", async () => {
    const wf = defineWorkflow("ready", async (ctx) => {
      await ctx.sleep("1 second")
      return ctx.recv("m", { timeout: "1 minute" })
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.send(h.id, "m", "here")
    await t.advance("1 second")
    expect(await h.result()).toBe("here")
    expect((await checkpoints(t.store, h.id)).map((c) => `${c.kind}:${c.state}`)).toEqual(["sleep:done", "recv:done"])
  })

  it("replay neither re-sends nor re-consumes", async () => {
    const receiver = defineWorkflow("receiver", async (ctx) => {
      const got: string[] = []
      for (let i = 0; i < 3; i++) got.push(await ctx.recv<string>("m"))
      return got
    })
    let sends = 0
    const sender = defineWorkflow("sender", async (ctx, to: string) => {
      await ctx.send(to, "m", "one")
      await ctx.step("count", () => void sends++)
      await ctx.sleep("1 minute")
      await ctx.send(to, "m", "two")
      return "sent"
    })
    const t = await testEngine({ workflows: [receiver, sender] })
    const r = await t.start(receiver, undefined, { id: "receiver" })
    const s = await t.start(sender, "receiver", { id: "sender" })
    await t.settle()
    // The receiver consumed "one"; both crash mid-way and come back from the store.
    await t.restart()
    await t.advance("1 minute")
    expect(await s.result()).toBe("sent")
    expect(sends).toBe(1)
    await t.send("receiver", "m", "three")
    expect(await r.result()).toEqual(["one", "two", "three"])
    expect(await t.verifyReplay(r.id)).toEqual({ ok: true })
    expect(await t.verifyReplay(s.id)).toEqual({ ok: true })
  })

  it("a recv still pending when the workflow returns (a lost Promise.race) consumes nothing", async () => {
    const inner = memoryStore()
    let onComplete: (() => Promise<void>) | undefined
    // A message arrives while the workflow's completion is being written, after its function returned.
    const store: Store = {
      ...inner,
      completeWorkflow: (id, epoch, completion) =>
        Effect.flatMap(
          Effect.promise(() => onComplete?.() ?? Promise.resolve()),
          () => inner.completeWorkflow(id, epoch, completion),
        ),
    }
    const wf = defineWorkflow("race", async (ctx) =>
      Promise.race([ctx.recv("slow"), ctx.sleep("1 minute").then(() => "slept")]),
    )
    const t = await testEngine({ workflows: [wf], store })
    const h = await t.start(wf, undefined)
    onComplete = async () => {
      await t.send(h.id, "slow", "too late")
      await new Promise((r) => setTimeout(r, 20))
    }
    await t.advance("1 minute")
    expect(await h.result()).toBe("slept")
    await t.settle()
    const cps = await checkpoints(t.store, h.id)
    expect(cps.map((c) => `${c.kind}:${c.state}`)).toEqual(["sleep:done"])
  })

  it("a waiting recv is woken by the store, not by polling it", async () => {
    const inner = memoryStore()
    let receives = 0
    const store: Store = {
      ...inner,
      receiveMessage: (...args) => {
        receives++
        return inner.receiveMessage(...args)
      },
    }
    const wf = defineWorkflow("quiet", async (ctx) => ctx.recv("m"))
    const t = await testEngine({ workflows: [wf], store })
    const h = await t.start(wf, undefined)
    await new Promise((r) => setTimeout(r, 300))
    expect(receives).toBe(1)
    await t.send(h.id, "m", 1)
    expect(await h.result()).toBe(1)
    expect(receives).toBe(2)
  })

  it("the same idempotency key delivers once", async () => {
    const wf = defineWorkflow("dedup", async (ctx) => [
      await ctx.recv("m"),
      await ctx.recv("m", { timeout: "1 second" }),
    ])
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.send(h.id, "m", "a", { idempotencyKey: "evt-17" })
    await t.send(h.id, "m", "b", { idempotencyKey: "evt-17" })
    await t.advance("1 second")
    expect(await h.result()).toEqual(["a", undefined])
  })

  it("no user key collides with the keys of ctx.send", async () => {
    const receiver = defineWorkflow("r", async (ctx) => [await ctx.recv("m"), await ctx.recv("m")])
    const sender = defineWorkflow("s", async (ctx) => ctx.send("r", "m", "from workflow"))
    const t = await testEngine({ workflows: [receiver, sender] })
    const h = await t.start(receiver, undefined, { id: "r" })
    // What the engine derives for the first send of "s" would be "s:0" in a naive scheme.
    await t.send("r", "m", "from outside", { idempotencyKey: "s:0" })
    await t.run(sender, undefined, { id: "s" })
    expect(await h.result()).toEqual(["from outside", "from workflow"])
  })

  it("sending to a workflow that does not exist fails with WorkflowNotFound, recorded for replay", async () => {
    const wf = defineWorkflow("lost", async (ctx) => {
      try {
        await ctx.send("nobody", "m", 1)
        return "sent"
      } catch (e) {
        return e instanceof WorkflowNotFound ? `not found: ${e.workflowId}` : "other"
      }
    })
    const t = await testEngine({ workflows: [wf] })
    await expect(t.send("nobody", "m", 1)).rejects.toBeInstanceOf(WorkflowNotFound)
    const h = await t.start(wf, undefined)
    expect(await h.result()).toBe("not found: nobody")
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })

  it("bad input is refused with a clear error", async () => {
    const wf = defineWorkflow("bad", async (ctx, which: string) => {
      switch (which) {
        case "undefined":
          return ctx.send(ctx.workflowId, "m", undefined)
        case "function":
          return ctx.send(ctx.workflowId, "m", { f: () => 1 })
        case "topic":
          return ctx.recv("")
        case "timeout":
          return ctx.recv("m", { timeout: -5 })
        default:
          return ctx.send(ctx.workflowId, "m", "x".repeat(2000))
      }
    })
    const t = await testEngine({ workflows: [wf], maxPayloadBytes: 1000 })
    // The workflow's failure, as revived from the store (its class is kept as `_tag`).
    const failure = async (which: string) => {
      const o = await t.run(wf, which).then(
        () => undefined,
        (e: { cause?: unknown }) => e.cause,
      )
      return o as Error & { _tag?: string }
    }
    const undef = await failure("undefined")
    expect(undef._tag).toBe("InvalidArgument")
    expect(undef.message).toMatch(/undefined is not a valid message/)
    const fn = await failure("function")
    expect(fn._tag).toBe("SerializationError")
    expect(fn.message).toMatch(/\$\.f/)
    expect((await failure("topic")).message).toMatch(/topic must be a non-empty string/)
    expect((await failure("timeout")).message).toMatch(/timeout must be a finite, non-negative duration/)
    expect((await failure("large"))._tag).toBe("PayloadTooLargeError")
    const h = await t.start(wf, "topic")
    await h.outcome()
    await expect(t.send(h.id, "m", undefined)).rejects.toBeInstanceOf(InvalidArgument)
    await expect(t.send(h.id, "m", Symbol("x"))).rejects.toBeInstanceOf(SerializationError)
    await expect(t.send(h.id, "", 1)).rejects.toBeInstanceOf(InvalidArgument)
    await expect(t.send(h.id, "m", "x".repeat(2000))).rejects.toBeInstanceOf(PayloadTooLargeError)
    await expect(t.send(h.id, "m", 1, { idempotencyKey: "" })).rejects.toBeInstanceOf(InvalidArgument)
  })

  it("a typed topic validates and decodes at both ends", async () => {
    class Approval extends Schema.Class<Approval>("Approval")({ by: Schema.String, at: Schema.DateFromString }) {}
    const approval = defineTopic("approval", Approval)
    const wf = defineWorkflow("typed", async (ctx) => {
      const a = await ctx.recv(approval)
      const b: Approval | undefined = await ctx.recv(approval, { timeout: "1 minute" })
      await ctx.send(ctx.workflowId, approval, new Approval({ by: "self", at: new Date(2) }))
      const c = await ctx.recv(approval)
      return [a instanceof Approval, a.at.getTime(), b, c.by]
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await expect(t.send(h.id, approval, { by: 1 } as never)).rejects.toBeInstanceOf(SchemaMismatchError)
    await t.send(h.id, approval, new Approval({ by: "alice", at: new Date(1) }))
    await t.advance("1 minute")
    expect(await h.result()).toEqual([true, 1, undefined, "self"])
    expect(await t.verifyReplay(h.id)).toEqual({ ok: true })
  })
})

describe("messages: Effect flavour", () => {
  it("recv with a timeout is an Option; send fails with WorkflowNotFound in the error channel", async () => {
    const wf = defineEffectWorkflow("effect-recv", (ctx: EffectWorkflowContext) =>
      Effect.gen(function* () {
        const first = yield* ctx.recv<number>("n")
        const second = yield* ctx.recv<number>("n", { timeout: "1 minute" })
        const third = yield* Workflow.recv<number>("n", { timeout: "1 minute" })
        const lost = yield* ctx
          .send("nobody", "n", 1)
          .pipe(Effect.catchTag("WorkflowNotFound", (e) => Effect.succeed(e.workflowId)))
        return { first, second: Option.getOrNull(second), third: Option.getOrNull(third), lost }
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.send(h.id, "n", 1)
    await t.send(h.id, "n", 2)
    await t.advance("1 minute")
    expect(await h.result()).toEqual({ first: 1, second: 2, third: null, lost: "nobody" })
  })

  it("interop: an Effect workflow and a Promise workflow exchange messages; the Durably service sends", async () => {
    const ping = defineWorkflow("ping", async (ctx, to: string) => {
      await ctx.send(to, "ping", "hello")
      return ctx.recv<string>("pong")
    })
    const pong = defineEffectWorkflow("pong", (ctx: EffectWorkflowContext, from: string) =>
      Effect.gen(function* () {
        const got = yield* ctx.recv<string>("ping")
        const extra = yield* ctx.recv<string>("extra")
        yield* Workflow.send(from, "pong", `${got} back`)
        return extra
      }),
    )
    const t = await testEngine({ workflows: [ping, pong] })
    const service = EffectDurably.fromPromise(t)
    const b = await t.start(pong, "ping-1", { id: "pong-1" })
    const a = await t.start(ping, "pong-1", { id: "ping-1" })
    await Effect.runPromise(service.send("pong-1", "extra", "via Effect"))
    const missing = await Effect.runPromise(Effect.flip(service.send("nobody", "extra", 1)))
    expect(missing).toBeInstanceOf(WorkflowNotFound)
    expect(await a.result()).toBe("hello back")
    expect(await b.result()).toBe("via Effect")
  })
})

describe("messages: cancellation and shutdown", () => {
  it("cancelling a workflow waiting in recv stops it at once; a later message is never consumed", async () => {
    const wf = defineWorkflow("cancelled-wait", async (ctx) => ctx.recv("m", { timeout: "1 day" }))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    await h.cancel()
    expect((await h.outcome()).status).toBe("CANCELLED")
    await t.send(h.id, "m", 1)
    await t.advance("1 day")
    const cps = await checkpoints(t.store, h.id)
    expect(cps.map((c) => `${c.kind}:${c.state}`)).toEqual(["recv:pending"])
  })

  it("an external getEvent waiting on a stopped engine rejects with EngineStopped", async () => {
    const wf = defineWorkflow("quiet", async (ctx) => ctx.recv("never"))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    const waiting = t.getEvent(h.id, "k")
    await t.settle()
    await t.shutdown()
    await expect(waiting).rejects.toMatchObject({ _tag: "EngineStopped" })
  })
})
