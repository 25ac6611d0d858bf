import { Schedule } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, StepTimeoutError, WorkflowFailed } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

describe("steps: retries and timeouts", () => {
  it("retries follow the policy: attempt count and delays on the virtual clock", async () => {
    const attempts: Array<{ attempt: number; at: number; key: string }> = []
    let t: Awaited<ReturnType<typeof testEngine>> | undefined
    const wf = defineWorkflow("flaky", async (ctx) =>
      ctx.step(
        "call",
        ({ attempt, idempotencyKey }) => {
          attempts.push({ attempt, at: t!.now().getTime(), key: idempotencyKey })
          if (attempt < 4) throw new Error(`fail ${attempt}`)
          return "ok"
        },
        { retry: { maxAttempts: 5, initialDelay: "1 second", backoff: 3, maxDelay: "5 seconds" } },
      ),
    )
    t = await testEngine({ workflows: [wf] })
    const start = t.now().getTime()
    const h = await t.start(wf, undefined)
    await t.settle()
    expect(attempts).toHaveLength(1)
    await t.advance("999 millis")
    expect(attempts).toHaveLength(1)
    await t.advance("1 millis")
    expect(attempts).toHaveLength(2)
    await t.advance("1 minute")
    expect(await h.result()).toBe("ok")
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4])
    // delays: 1 s, 3 s, then 9 s capped at 5 s
    expect(attempts.map((a) => a.at - start)).toEqual([0, 1000, 4000, 9000])
    expect(new Set(attempts.map((a) => a.key)).size).toBe(1)
  })

  it("after the last attempt the step fails with the last error, and every attempt's error is recorded", async () => {
    const wf = defineWorkflow("hopeless", async (ctx) =>
      ctx.step("call", ({ attempt }) => Promise.reject(new RangeError(`attempt ${attempt}`)), {
        retry: { maxAttempts: 3, initialDelay: 10 },
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("1 second")
    const o = await h.outcome()
    expect(o.status).toBe("ERROR")
    if (o.status === "ERROR") {
      expect(o.error).toBeInstanceOf(RangeError)
      expect((o.error as Error).message).toBe("attempt 3")
    }
    await expect(h.result()).rejects.toBeInstanceOf(WorkflowFailed)
    const { Effect } = await import("effect")
    const [cp] = await Effect.runPromise(t.store.loadCheckpoints(h.id))
    expect(cp!.attempts).toBe(3)
    const errors = (JSON.parse(cp!.attemptErrors!) as string[]).map((e) => (t.store.kind, JSON.parse(e)))
    expect(errors).toHaveLength(3)
  })

  it("retryIf stops retrying errors it rejects; default is no retry", async () => {
    let calls = 0
    const wf = defineWorkflow("selective", async (ctx) => {
      const a = await ctx
        .step("permanent", () => (calls++, Promise.reject(new Error("400"))), {
          retry: { maxAttempts: 5, initialDelay: 1 },
          retryIf: (e) => (e as Error).message !== "400",
        })
        .catch(() => "gave up")
      const b = await ctx.step("no-policy", () => (calls++, Promise.reject(new Error("x")))).catch(() => "once")
      return [a, b]
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("1 second")
    expect(await h.result()).toEqual(["gave up", "once"])
    expect(calls).toBe(2)
  })

  it("an Effect Schedule drives retries", async () => {
    const seen: number[] = []
    const wf = defineWorkflow("scheduled", async (ctx) =>
      ctx.step(
        "call",
        ({ attempt }) => {
          seen.push(attempt)
          if (attempt < 3) throw new Error("again")
          return attempt
        },
        { retry: Schedule.spaced("2 seconds").pipe(Schedule.upTo({ times: 5 })) },
      ),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("3 seconds")
    expect(seen).toEqual([1, 2])
    await t.advance("2 seconds")
    expect(await h.result()).toBe(3)
  })

  it("a retry delay survives a restart: the count is not reset and only the remainder is waited", async () => {
    const seen: number[] = []
    const wf = defineWorkflow("durable-retry", async (ctx) =>
      ctx.step(
        "call",
        ({ attempt }) => {
          seen.push(attempt)
          if (attempt < 3) throw new Error("again")
          return "done"
        },
        { retry: { maxAttempts: 3, initialDelay: "10 seconds", backoff: 1 } },
      ),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("4 seconds")
    expect(seen).toEqual([1])
    await t.restart()
    await t.advance("5 seconds")
    expect(seen).toEqual([1])
    await t.advance("1 second")
    expect(seen).toEqual([1, 2])
    await t.advance("10 seconds")
    expect(await h.result()).toBe("done")
    expect(seen).toEqual([1, 2, 3])
  })

  it("a timed-out attempt's signal aborts and its late result is discarded", async () => {
    let signal: AbortSignal | undefined
    let finishLate!: (v: string) => void
    const wf = defineWorkflow("slow", async (ctx) =>
      ctx
        .step(
          "slow",
          (info) => {
            signal = info.signal
            return new Promise<string>((r) => (finishLate = r))
          },
          { timeout: "5 seconds" },
        )
        .catch((e: unknown) => e),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.advance("5 seconds")
    const result = await h.result()
    expect(result).toBeInstanceOf(Error)
    expect((result as Error).name).toBe("StepTimeoutError")
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBeInstanceOf(StepTimeoutError)
    finishLate("too late")
    await t.settle()
    const { Effect } = await import("effect")
    const [cp] = await Effect.runPromise(t.store.loadCheckpoints(h.id))
    expect(cp!.output).toBeUndefined()
    expect(cp!.error).toContain("StepTimeoutError")
    expect(await h.result()).toEqual(result)
  })

  it("a workflow that throws an odd value fails with a readable WorkflowFailed message", async () => {
    // String() throws on a null-prototype object; reading the failure's message must never throw.
    const bare = Object.assign(Object.create(null) as object, { code: 7 })
    const wf = defineWorkflow("odd-throw", async (ctx) => {
      await ctx.step("noop", () => 1)
      throw bare
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    const failure = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(failure).toBeInstanceOf(WorkflowFailed)
    expect((failure as WorkflowFailed).message).toContain('"code":7')
    const hostile = {
      toString: () => {
        throw new Error("no")
      },
      toJSON: () => {
        throw new Error("no")
      },
    }
    expect(new WorkflowFailed({ workflowId: "w", workflowName: "n", cause: hostile }).message).toBe(
      "workflow n (w) failed: [object Object]",
    )
    expect(new WorkflowFailed({ workflowId: "w", workflowName: "n", cause: Object.create(null) }).message).toBe(
      "workflow n (w) failed: {}",
    )
  })
})
