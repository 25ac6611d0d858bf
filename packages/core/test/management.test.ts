/**
 * The management API beyond the store contract: retention on the engine clock, the Effect flavour, and a
 * client with no workflow code (enqueue by name, send, events, results).
 */
import { Effect, Exit, Layer, Option, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Durably as EffectDurably, WorkflowNotFound as EffectWorkflowNotFound } from "../src/effect.ts"
import {
  Durably,
  defineWorkflow,
  InvalidArgument,
  memoryStore,
  WorkflowNotFound,
  queueConfig,
  type DispatcherFactory,
  type QueueDefinition,
} from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

const greedy: DispatcherFactory = (host, queues) => {
  const claim = (q: string) => void host.claim(q, host.room()).catch(() => undefined)
  const offs = queues.map((q) => host.subscribe(q.name, () => claim(q.name)))
  for (const q of queues) claim(q.name)
  return { stop: async () => offs.forEach((o) => o()) }
}

describe("retention", () => {
  it("prunes finished workflows past olderThan every interval, on the engine clock", async () => {
    const wf = defineWorkflow("job", async (ctx, n: number) => ctx.step("s", () => n))
    const waits = defineWorkflow("waits", async (ctx) => ctx.recv("never"))
    const t = await testEngine({
      workflows: [wf, waits],
      retention: { olderThan: "1 day", interval: "1 hour", batchSize: 2 },
    })
    for (let i = 0; i < 5; i++) await t.run(wf, i, { id: `old-${i}` })
    await t.start(waits, undefined, { id: "pending" })
    await t.advance("23 hours")
    await t.run(wf, 9, { id: "recent" })
    expect(await t.workflows.count({ name: "job" })).toBe(6)
    await t.advance("2 hours") // the old ones are now past a day: the next round deletes them, two per batch
    expect((await t.workflows.list({ order: "asc" })).workflows.map((w) => w.id)).toEqual(["pending", "recent"])
    await t.shutdown()
  })

  it("refuses a retention without olderThan or with an unfinished status", async () => {
    await expect(
      Durably.launch({ store: memoryStore(), workflows: [], retention: {} as never, logger: false }),
    ).rejects.toBeInstanceOf(InvalidArgument)
    await expect(
      Durably.launch({
        store: memoryStore(),
        workflows: [],
        retention: { olderThan: "1 day", status: ["PENDING"] },
        logger: false,
      }),
    ).rejects.toThrow(/finished statuses/)
  })
})

describe("the Effect flavour", () => {
  it("offers the same management API with typed errors", async () => {
    const wf = defineWorkflow("job", async (ctx, n: number) => ctx.step("s", () => n * 2))
    const program = Effect.gen(function* () {
      const durably = yield* EffectDurably
      const h = yield* durably.start(wf, 21, { id: "a" })
      yield* h.result
      const page = yield* durably.workflows.list({ status: "SUCCESS", includeOutput: true })
      const missing = yield* Effect.exit(durably.workflows.get("nope"))
      return { page, missing }
    })
    const { page, missing } = await Effect.runPromise(
      program.pipe(
        Effect.provide(
          EffectDurably.layer({ store: memoryStore(), workflows: [wf], logger: false }) as Layer.Layer<
            EffectDurably,
            unknown
          >,
        ),
      ),
    )
    expect(page.workflows.map((w) => [w.id, w.output])).toEqual([["a", 42]])
    expect(Exit.isFailure(missing)).toBe(true)
    if (Exit.isFailure(missing)) expect(String(missing.cause)).toContain("nope")
    expect(EffectWorkflowNotFound).toBeDefined()
  })
})

describe("Durably.client in the Effect flavour", () => {
  it("is scoped, and offers management, send and handles as Effects", async () => {
    const store = memoryStore()
    const wf = defineWorkflow("waits", async (ctx) => ctx.recv<string>("go"))
    const worker = await Durably.launch({ store, workflows: [wf], logger: false })
    try {
      await worker.start(wf, undefined, { id: "w" })
      const out = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const client = yield* EffectDurably.client({ store, logger: false })
            yield* client.send("w", "go", "now")
            const h = yield* client.handle<string>("w")
            const result = yield* h.result
            const detail = yield* client.workflows.get("w")
            const missing = yield* Effect.flip(client.workflows.get("nope"))
            return { result, status: detail.status, missing: missing._tag }
          }),
        ),
      )
      expect(out).toEqual({ result: "now", status: "SUCCESS", missing: "WorkflowNotFound" })
    } finally {
      await worker.shutdown()
    }
  })
})

describe("Durably.client in the Effect flavour: reading and enqueueing", () => {
  it("reads a stream and an event, and enqueues many by name, all as Effects with typed errors", async () => {
    const store = memoryStore()
    const queue: QueueDefinition = {
      _tag: "QueueDefinition",
      name: "jobs",
      config: queueConfig("jobs", {}),
      dispatcher: greedy,
    }
    const publisher = defineWorkflow("publisher", async (ctx) => {
      for (const v of [1, 2, 3]) await ctx.writeStream("values", v)
      await ctx.setEvent("stage", "published")
      await ctx.closeStream("values")
    })
    const job = defineWorkflow("job", async (ctx, n: number) => ctx.step("double", () => n * 2))
    const worker = await Durably.launch({
      store,
      workflows: [publisher, job],
      queues: [queue],
      logger: false,
    })
    try {
      await worker.start(publisher, undefined, { id: "p" })
      const out = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const client = yield* EffectDurably.client({ store, logger: false })
            const values = yield* Stream.runCollect(client.readStream<number>("p", "values"))
            const stage = yield* client.getEvent<string>("p", "stage")
            const handles = yield* client.enqueueMany<number>("jobs", "job", [1, 2], {})
            const results = yield* Effect.all(handles.map((h) => h.result))
            const unknown = yield* Effect.flip(Stream.runCollect(client.readStream("nope", "values")))
            return { values: [...values], stage: Option.getOrUndefined(stage), results, unknown: unknown._tag }
          }),
        ),
      )
      expect(out).toEqual({ values: [1, 2, 3], stage: "published", results: [2, 4], unknown: "WorkflowNotFound" })
    } finally {
      await worker.shutdown()
    }
  })
})

describe("Durably.client", () => {
  it("needs no workflow code: enqueue by name, send, getEvent, readStream, results, management", async () => {
    const store = memoryStore()
    const queue: QueueDefinition = {
      _tag: "QueueDefinition",
      name: "emails",
      config: queueConfig("emails", { concurrency: 2 }),
      dispatcher: greedy,
    }
    const email = defineWorkflow("send-email", async (ctx, to: string) => {
      await ctx.writeStream("log", `drafted for ${to}`)
      await ctx.setEvent("status", "waiting for approval")
      const ok = await ctx.recv<boolean>("approve")
      await ctx.writeStream("log", ok ? "approved" : "rejected")
      await ctx.closeStream("log")
      return ok ? `sent to ${to}` : "dropped"
    })
    const worker = await Durably.launch({ store, workflows: [email], queues: [queue], logger: false })
    const client = await Durably.client({ store, logger: false })
    try {
      const h = await client.enqueue<string>("emails", "send-email", "ann@example.com", { id: "e1" })
      expect(await client.getEvent(h.id, "status", { timeout: "5 seconds" })).toBe("waiting for approval")
      await client.send(h.id, "approve", true)
      expect(await h.result()).toBe("sent to ann@example.com")
      const log: string[] = []
      for await (const line of client.readStream<string>(h.id, "log")) log.push(line)
      expect(log).toEqual(["drafted for ann@example.com", "approved"])
      const tail: string[] = []
      for await (const line of client.readStream<string>(h.id, "log", { from: 1 })) tail.push(line)
      expect(tail).toEqual(["approved"])
      await expect(
        (async () => {
          for await (const _ of client.readStream("nope", "log")) break
        })(),
      ).rejects.toBeInstanceOf(WorkflowNotFound)
      expect((await client.workflows.get("e1")).queue).toBe("emails")
      // The engine's own queues (names starting with "@", e.g. debouncing) are listed too.
      expect((await client.queues.list()).map((q) => q.name)).toContain("emails")
      await expect(client.enqueue("emails", "", 1)).rejects.toBeInstanceOf(InvalidArgument)
      expect("start" in client).toBe(false)
    } finally {
      await client.close()
      await worker.shutdown()
    }
  })
})
