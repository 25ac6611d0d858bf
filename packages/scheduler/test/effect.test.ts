/** Queues and child workflows in the Effect flavour: ctx.enqueue / ctx.run and the Durably service's enqueue. */
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Durably, QueueFull, WorkflowFailed, defineWorkflow, memoryStore } from "@durably/core/effect"
import { defineQueue } from "../src/index.ts"

const square = defineWorkflow("square", (ctx, n: number) =>
  ctx.step(
    "square",
    Effect.sync(() => n * n),
  ),
)
const fails = defineWorkflow("fails", (ctx) => ctx.step("boom", Effect.fail(new Error("no"))))
const work = defineQueue("effect-work", { concurrency: 2 })

const parent = defineWorkflow("fan", (ctx, n: number) =>
  Effect.gen(function* () {
    const handles = []
    for (let i = 1; i <= n; i++) handles.push(yield* ctx.enqueue(work, square, i))
    const squares = yield* Effect.all(handles.map((h) => h.result))
    const direct = yield* ctx.run(square, 10)
    const failed = yield* Effect.exit(ctx.run(fails, undefined))
    return { squares, direct, failedWith: Exit.isFailure(failed) ? "failure" : "success" }
  }),
)

const layer = (queues = [work]) =>
  Durably.layer({ store: memoryStore(), workflows: [parent, square, fails], queues, logger: false }) as Layer.Layer<
    Durably,
    unknown
  >

describe("Effect flavour: queues and children", () => {
  it("ctx.enqueue and ctx.run record children whose results come back typed", async () => {
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* Durably
        return yield* durably.run(parent, 4)
      }).pipe(Effect.provide(layer())),
    )
    expect(out).toEqual({ squares: [1, 4, 9, 16], direct: 100, failedWith: "failure" })
  })

  it("a failed child is a WorkflowFailed in the parent's error channel", async () => {
    const wf = defineWorkflow("catches", (ctx) =>
      Effect.catchTag(ctx.run(fails, undefined), "WorkflowFailed", (e) => Effect.succeed(e instanceof WorkflowFailed)),
    )
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        return yield* (yield* Durably).run(wf, undefined)
      }).pipe(
        Effect.provide(
          Durably.layer({ store: memoryStore(), workflows: [wf, fails], logger: false }) as Layer.Layer<
            Durably,
            unknown
          >,
        ),
      ),
    )
    expect(out).toBe(true)
  })

  it("the service's enqueue fails with QueueFull in the error channel", async () => {
    const small = defineQueue("effect-small", { maxLength: 1 })
    const error = await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* Durably
        yield* durably.enqueue(small, square, 1)
        yield* durably.enqueue(small, square, 2)
      }).pipe(
        Effect.flip,
        Effect.provide(
          Durably.layer({
            store: memoryStore(),
            workflows: [square],
            queues: [small],
            serveQueues: false,
            logger: false,
          }) as Layer.Layer<Durably, unknown>,
        ),
      ),
    )
    expect(error).toBeInstanceOf(QueueFull)
    expect((error as QueueFull).maxLength).toBe(1)
  })
})
