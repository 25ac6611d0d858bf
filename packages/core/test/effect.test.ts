import { Context, Effect, Exit, Layer, Schedule, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  Durably,
  EngineStopped,
  WorkflowCtx,
  WorkflowFailed,
  Workflow,
  defineWorkflow,
  memoryStore,
  type LaunchOptions,
  type AnyWorkflow,
} from "../src/effect.ts"
import { Durably as PromiseDurably, defineWorkflow as definePromiseWorkflow } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", {
  reason: Schema.String,
  amount: Schema.Number,
}) {}

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { attempt: Schema.Number }) {}

class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => Effect.Effect<string> }>()(
  "test/Greeter",
) {}

/** Run `program` with a `Durably` engine on a fresh memory store, shut down afterwards. */
const withDurably = <A, E, W extends AnyWorkflow>(
  options: Omit<LaunchOptions<W>, "store">,
  program: Effect.Effect<A, E, Durably>,
): Promise<A> =>
  Effect.runPromise(
    program.pipe(
      Effect.provide(
        Durably.layer({ store: memoryStore(), logger: false, ...options }) as Layer.Layer<Durably, unknown>,
      ),
    ),
  )

describe("Effect workflows", () => {
  it("run steps and return the output, with the body running once per step", async () => {
    let calls = 0
    const wf = defineWorkflow("sum", (ctx, n: number) =>
      Effect.gen(function* () {
        const a = yield* ctx.step(
          "a",
          Effect.sync(() => (calls++, n + 1)),
        )
        const b = yield* ctx.step("b", ({ attempt, idempotencyKey }) =>
          Effect.succeed({ doubled: a * 2, attempt, idempotencyKey }),
        )
        yield* ctx.sleep(5)
        const at = yield* ctx.now
        const r = yield* ctx.random
        const id = yield* ctx.uuid
        return { a, b, at, r, id }
      }),
    )
    const out = await withDurably(
      { workflows: [wf] },
      Effect.gen(function* () {
        const durably = yield* Durably
        const handle = yield* durably.start(wf, 1, { id: "sum-1" })
        expect(handle.id).toBe("sum-1")
        const result = yield* handle.result
        const status = yield* handle.status
        return { result, status }
      }),
    )
    expect(out.result.a).toBe(2)
    expect(out.result.b).toEqual({ doubled: 4, attempt: 1, idempotencyKey: "sum-1:1" })
    expect(out.result.at).toBeInstanceOf(Date)
    expect(out.result.r).toBeGreaterThanOrEqual(0)
    expect(out.result.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(out.status.status).toBe("SUCCESS")
    expect(calls).toBe(1)
  })

  it("an Effect built once and run several times takes a new position each time", async () => {
    let calls = 0
    const wf = defineWorkflow("loop", (ctx) =>
      Effect.gen(function* () {
        const tick = ctx.step(
          "tick",
          Effect.sync(() => ++calls),
        )
        const seen: number[] = []
        for (let i = 0; i < 3; i++) seen.push(yield* tick)
        return seen
      }),
    )
    const out = await withDurably(
      { workflows: [wf] },
      Effect.flatMap(Durably, (d) => d.run(wf, undefined)),
    )
    expect(out).toEqual([1, 2, 3])
  })

  it("a declared Schema.TaggedError fails handle.result with the same class, in both APIs", async () => {
    const charge = defineWorkflow({
      name: "charge",
      input: Schema.Struct({ amount: Schema.Number }),
      output: Schema.String,
      error: PaymentDeclined,
      run: (_ctx, { amount }) =>
        amount > 100 ? Effect.fail(new PaymentDeclined({ reason: "limit", amount })) : Effect.succeed(`ok ${amount}`),
    })
    const out = await withDurably(
      { workflows: [charge] },
      Effect.gen(function* () {
        const durably = yield* Durably
        const ok = yield* durably.run(charge, { amount: 5 })
        const handle = yield* durably.start(charge, { amount: 500 })
        const failed = yield* Effect.flip(handle.result)
        const caught = yield* handle.result.pipe(
          Effect.catchTag("PaymentDeclined", (e) => Effect.succeed(`declined ${e.amount}`)),
        )
        const promiseError = yield* Effect.promise(() =>
          handle.promise.result().then(
            () => undefined,
            (e: unknown) => e,
          ),
        )
        // Without the definition the error is not typed: it arrives wrapped.
        const untyped = yield* Effect.flip((yield* durably.handle(handle.id)).result)
        return { ok, failed, caught, promiseError, untyped }
      }),
    )
    expect(out.ok).toBe("ok 5")
    expect(out.failed).toBeInstanceOf(PaymentDeclined)
    expect(out.failed).toMatchObject({ _tag: "PaymentDeclined", reason: "limit", amount: 500 })
    expect(out.caught).toBe("declined 500")
    expect(out.promiseError).toBeInstanceOf(WorkflowFailed)
    expect((out.promiseError as WorkflowFailed).cause).toBeInstanceOf(PaymentDeclined)
    expect(((out.promiseError as WorkflowFailed).cause as PaymentDeclined).amount).toBe(500)
    expect(out.untyped).toBeInstanceOf(WorkflowFailed)
  })

  it("a failure the error schema does not describe arrives as WorkflowFailed", async () => {
    const wf = defineWorkflow({
      name: "other",
      error: PaymentDeclined,
      run: () => Effect.fail(new Flaky({ attempt: 9 })),
    })
    const failed = await withDurably(
      { workflows: [wf] },
      Effect.flatMap(Durably, (d) => Effect.flip(d.run(wf, undefined))),
    )
    expect(failed).toBeInstanceOf(WorkflowFailed)
    expect((failed as WorkflowFailed).cause).toMatchObject({ _tag: "Flaky", attempt: 9 })
  })

  it("a step's typed failure is its decoded E, and Effect.catchTag handles it", async () => {
    const wf = defineWorkflow("declines", (ctx) =>
      Effect.gen(function* () {
        const typed = yield* Effect.flip(
          ctx.step("typed", Effect.fail(new PaymentDeclined({ reason: "card", amount: 3 })), {
            error: PaymentDeclined,
          }),
        )
        const recovered = yield* ctx
          .step("untyped", Effect.fail(new PaymentDeclined({ reason: "bank", amount: 4 })))
          .pipe(Effect.catchTag("PaymentDeclined", (e) => Effect.succeed(`${e.reason} ${e.amount}`)))
        return {
          typedIsClass: typed instanceof PaymentDeclined,
          typed: { reason: typed.reason, amount: typed.amount },
          recovered,
        }
      }),
    )
    const out = await withDurably(
      { workflows: [wf] },
      Effect.flatMap(Durably, (d) => d.run(wf, undefined)),
    )
    expect(out).toEqual({ typedIsClass: true, typed: { reason: "card", amount: 3 }, recovered: "bank 4" })
  })

  it("retries a typed failure with a Schedule: recurs(2) makes 3 attempts", async () => {
    const attempts: number[] = []
    const wf = defineWorkflow("retries", (ctx) =>
      Effect.gen(function* () {
        const failed = yield* Effect.flip(
          ctx.step(
            "always",
            ({ attempt }) =>
              Effect.sync(() => attempts.push(attempt)).pipe(Effect.andThen(Effect.fail(new Flaky({ attempt })))),
            {
              retry: Schedule.recurs(2),
              error: Flaky,
            },
          ),
        )
        const third = yield* ctx.step(
          "third time lucky",
          ({ attempt }) => (attempt < 3 ? Effect.fail(new Flaky({ attempt })) : Effect.succeed(attempt)),
          { retry: { maxAttempts: 5, initialDelay: 1 } },
        )
        return { failedIsClass: failed instanceof Flaky, failed, third }
      }),
    )
    const out = await withDurably(
      { workflows: [wf] },
      Effect.flatMap(Durably, (d) => d.run(wf, undefined)),
    )
    expect(attempts).toEqual([1, 2, 3])
    expect(out.failedIsClass).toBe(true)
    expect(out.failed.attempt).toBe(3)
    expect(out.third).toBe(3)
  })

  it("a defect in a step is not retried and dies with the defect; retryIf sees only typed failures", async () => {
    let runs = 0
    const seen: unknown[] = []
    const wf = defineWorkflow("defect", (ctx) =>
      ctx.step(
        "boom",
        Effect.sync(() => {
          runs++
          throw new TypeError("bad input")
        }),
        { retry: Schedule.recurs(5), retryIf: (e) => (seen.push(e), true) },
      ),
    )
    const failed = await withDurably(
      { workflows: [wf] },
      Effect.flatMap(Durably, (d) => Effect.flip(d.run(wf, undefined))),
    )
    expect(runs).toBe(1)
    expect(seen).toEqual([])
    expect(failed).toBeInstanceOf(WorkflowFailed)
    const cause = (failed as WorkflowFailed).cause
    expect(cause).toBeInstanceOf(TypeError)
    expect((cause as TypeError).message).toBe("bad input")
  })

  it("a ctx operation inside a step body is a defect (InvalidContextUse)", async () => {
    const wf = defineWorkflow("nested", (ctx) => ctx.step("outer", Workflow.step("inner", Effect.succeed(1))))
    const failed = await withDurably(
      { workflows: [wf] },
      Effect.flatMap(Durably, (d) => Effect.flip(d.run(wf, undefined))),
    )
    expect(failed).toBeInstanceOf(WorkflowFailed)
    expect((failed as WorkflowFailed).cause).toMatchObject({ name: "InvalidContextUse" })
  })

  it("helpers written with the Workflow accessors need WorkflowCtx, which only a workflow provides", async () => {
    const logs: string[] = []
    const double = (n: number): Effect.Effect<number, never, WorkflowCtx> =>
      Effect.gen(function* () {
        yield* Workflow.log.info(`doubling ${n}`)
        const id = yield* Workflow.workflowId
        const out = yield* Workflow.step(`double ${n}`, Effect.succeed(n * 2))
        yield* Workflow.sleep(1)
        yield* Workflow.sleepUntil(0)
        return out + id.length * 0
      })
    const wf = defineWorkflow("helpers", (_ctx, n: number) => double(n))
    const out = await withDurably(
      { workflows: [wf], logger: (e) => void logs.push(e.message) },
      Effect.flatMap(Durably, (d) => d.run(wf, 21)),
    )
    expect(out).toBe(42)
    expect(logs).toContain("doubling 21")

    const outside = double(1)
    // @ts-expect-error WorkflowCtx is provided only inside a workflow
    const runOutside = () => Effect.runPromiseExit(outside)
    const exit = await runOutside()
    expect(Exit.isFailure(exit)).toBe(true)
  })

  it("a workflow gets the services it requires from the layer", async () => {
    const greet = defineWorkflow("greet", (ctx, name: string) =>
      Effect.gen(function* () {
        const direct = yield* Greeter.use((g) => g.greet(name))
        const inStep = yield* ctx.step(
          "greet",
          Greeter.use((g) => g.greet(`${name}!`)),
        )
        return [direct, inStep]
      }),
    )
    const GreeterLive = Layer.succeed(Greeter, Greeter.of({ greet: (n) => Effect.succeed(`hello ${n}`) }))
    const layer = Durably.layer({ store: memoryStore(), workflows: [greet], logger: false }).pipe(
      Layer.provide(GreeterLive),
    )
    const out = await Effect.runPromise(Effect.flatMap(Durably, (d) => d.run(greet, "ada")).pipe(Effect.provide(layer)))
    expect(out).toEqual(["hello ada", "hello ada!"])

    const unprovided = Effect.flatMap(Durably, (d) => d.run(greet, "bob")).pipe(
      Effect.provide(Durably.layer({ store: memoryStore(), workflows: [greet], logger: false })),
    )
    // @ts-expect-error the layer needs Greeter, which nothing provides
    const runUnprovided = () => Effect.runPromiseExit(unprovided)
    expect(Exit.isFailure(await runUnprovided())).toBe(true)
  })

  it("the layer shuts its engine down when its scope closes", async () => {
    const wf = defineWorkflow("noop", () => Effect.succeed(1))
    const service = await withDurably({ workflows: [wf] }, Durably)
    const exit = await Effect.runPromiseExit(service.start(wf, undefined))
    expect(exit).toMatchObject({ _tag: "Failure" })
    const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
    expect(error).toMatchObject({ _tag: "Fail" })
    expect((error as { error: unknown }).error).toBeInstanceOf(EngineStopped)
  })

  it("interoperates: a Promise workflow from the Effect API, an Effect workflow from the Promise API", async () => {
    const promiseWf = definePromiseWorkflow("promise-wf", async (ctx, n: number) => ctx.step("inc", () => n + 1))
    const effectWf = defineWorkflow("effect-wf", (ctx, n: number) => ctx.step("dec", Effect.succeed(n - 1)))
    const durably = await PromiseDurably.launch({
      store: memoryStore(),
      workflows: [promiseWf, effectWf],
      logger: false,
    })
    try {
      expect(await durably.run(effectWf, 10)).toBe(9)
      const fromEffect = await Effect.runPromise(
        Effect.gen(function* () {
          const d = yield* Durably
          return yield* d.run(promiseWf, 10)
        }).pipe(Effect.provide(Durably.layerFromPromise(durably))),
      )
      expect(fromEffect).toBe(11)
    } finally {
      await durably.shutdown()
    }
  })

  it("a completed step is not run again after a crash and restart", async () => {
    const runs = { a: 0, b: 0 }
    const wf = defineWorkflow("restart", (ctx, n: number) =>
      Effect.gen(function* () {
        const a = yield* ctx.step(
          "a",
          Effect.sync(() => (runs.a++, n * 10)),
        )
        yield* ctx.sleep("1 hour")
        const b = yield* ctx.step(
          "b",
          Effect.sync(() => (runs.b++, a + 1)),
        )
        return b
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const handle = await Effect.runPromise(Durably.fromPromise(t).start(wf, 4, { id: "restart-1" }))
    await t.settle()
    expect(runs).toEqual({ a: 1, b: 0 })
    await t.crash()
    await t.restart()
    await t.advance("1 hour")
    expect(await t.handle(handle.id).result()).toBe(41)
    expect(runs).toEqual({ a: 1, b: 1 })
    expect(await t.verifyReplay(handle.id)).toEqual({ ok: true })
  })

  it("cancelling interrupts the workflow fiber, running its finalizers", async () => {
    let finalized = false
    const wf = defineWorkflow("cancel-me", (ctx) =>
      ctx.sleep("1 day").pipe(Effect.onInterrupt(() => Effect.sync(() => (finalized = true)))),
    )
    const t = await testEngine({ workflows: [wf] })
    const durably = Durably.fromPromise(t)
    const outcome = await Effect.runPromise(
      Effect.gen(function* () {
        const handle = yield* durably.start(wf, undefined)
        yield* Effect.promise(() => t.settle())
        yield* handle.cancel
        return yield* handle.outcome
      }),
    )
    expect(outcome.status).toBe("CANCELLED")
    await t.settle()
    expect(finalized).toBe(true)
  })
})
