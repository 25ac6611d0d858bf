import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  defineWorkflow,
  Durably,
  memoryStore,
  StoreError,
  structuredLogger,
  type LogEntry,
  type Store,
} from "../../src/index.ts"
import { testEngine } from "../../src/testing.ts"

const SECRET_IN = "card-4242-4242"
const SECRET_OUT = "receipt-for-alice"

const capture = () => {
  const entries: LogEntry[] = []
  return { entries, logger: (e: LogEntry) => void entries.push(e) }
}

/** The lifecycle entries only (ctx.log entries carry no `event`). */
const lifecycle = (entries: LogEntry[]) =>
  entries.filter((e) => e.event !== undefined).map((e) => ({ level: e.level, event: e.event }))

const base = { executorId: "local", appVersion: "7.1.0" }

describe("lifecycle logs", () => {
  it("a workflow that completes: started and completed at debug, with its executor and version, no payload", async () => {
    const wf = defineWorkflow("checkout", async (ctx, card: string) => {
      await ctx.step("charge", () => `charged ${card}`)
      return SECRET_OUT
    })
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, appVersion: "7.1.0" })
    const h = await t.start(wf, SECRET_IN)
    await h.result()
    expect(entries).toEqual([
      {
        level: "debug",
        event: "workflow.started",
        message: "workflow started",
        workflowId: h.id,
        workflowName: "checkout",
        fields: { ...base, origin: "start" },
      },
      {
        level: "debug",
        event: "workflow.completed",
        message: "workflow completed",
        workflowId: h.id,
        workflowName: "checkout",
        fields: base,
      },
    ])
    expect(JSON.stringify(entries)).not.toContain(SECRET_IN)
    expect(JSON.stringify(entries)).not.toContain(SECRET_OUT)
  })

  it("payloads are logged only when asked for", async () => {
    const wf = defineWorkflow("checkout", async (_ctx, card: string) => `${SECRET_OUT} ${card}`)
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, appVersion: "7.1.0", logging: { payloads: true } })
    await t.run(wf, SECRET_IN)
    expect(entries[0]?.fields).toEqual({ ...base, origin: "start", input: JSON.stringify(SECRET_IN) })
    expect(entries[1]?.fields).toEqual({ ...base, output: JSON.stringify(`${SECRET_OUT} ${SECRET_IN}`) })
  })

  it("a workflow that throws: one warning with the error's name and message", async () => {
    const wf = defineWorkflow("ranges", async () => {
      throw new RangeError("quantity must be positive")
    })
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, appVersion: "7.1.0" })
    const h = await t.start(wf, undefined)
    await h.outcome()
    expect(entries[1]).toEqual({
      level: "warn",
      event: "workflow.failed",
      message: "workflow failed: RangeError: quantity must be positive",
      workflowId: h.id,
      workflowName: "ranges",
      fields: { ...base, errorName: "RangeError", errorMessage: "quantity must be positive" },
    })
  })

  it("a step attempt that fails and is retried: info with the attempt and the delay before the next", async () => {
    let calls = 0
    const wf = defineWorkflow("flaky", async (ctx) =>
      ctx.step(
        "call api",
        () => {
          if (++calls < 3) throw new TypeError(`fetch failed (${calls})`)
          return "ok"
        },
        { retry: { maxAttempts: 3, initialDelay: "2 seconds", backoff: 3 } },
      ),
    )
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, appVersion: "7.1.0" })
    const h = await t.start(wf, undefined)
    await t.advance("2 seconds")
    await t.advance("6 seconds")
    expect(await h.result()).toBe("ok")
    const retries = entries.filter((e) => e.event === "step.retrying")
    expect(retries).toEqual(
      [1, 2].map((attempt) => ({
        level: "info",
        event: "step.retrying",
        message: `step attempt ${attempt} failed; retrying in ${attempt === 1 ? 2000 : 6000} ms`,
        workflowId: h.id,
        workflowName: "flaky",
        step: "call api",
        fields: {
          ...base,
          attempt,
          retryInMs: attempt === 1 ? 2000 : 6000,
          errorName: "TypeError",
          errorMessage: `fetch failed (${attempt})`,
        },
      })),
    )
    expect(lifecycle(entries).at(-1)).toEqual({ level: "debug", event: "workflow.completed" })
  })

  it("cancelled and timed out: info", async () => {
    const wf = defineWorkflow("waits", async (ctx) => ctx.sleep("1 day"))
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, parkSleepsLongerThan: false })
    const cancelled = await t.start(wf, undefined)
    const timed = await t.start(wf, undefined, { timeout: "1 hour" })
    await t.settle()
    await cancelled.cancel()
    await t.advance("1 hour")
    await timed.outcome()
    const ends = entries.filter((e) => e.event === "workflow.cancelled" || e.event === "workflow.timedOut")
    expect(ends.map((e) => [e.level, e.event, e.message, e.workflowId])).toEqual([
      ["info", "workflow.cancelled", "workflow cancelled", cancelled.id],
      ["info", "workflow.timedOut", "workflow timed out", timed.id],
    ])
  })

  it("a NonDeterminismError after a code change is a failure warning naming it", async () => {
    let stepName = "reserve"
    const wf = defineWorkflow("changing", async (ctx) => {
      await ctx.step(stepName, () => 1)
      await ctx.sleep("1 hour")
    })
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger })
    const h = await t.start(wf, undefined)
    await t.settle()
    await t.crash()
    stepName = "hold"
    await t.restart()
    await h.outcome()
    const failed = entries.find((e) => e.event === "workflow.failed")
    expect(failed?.level).toBe("warn")
    expect(failed?.fields?.["errorName"]).toBe("NonDeterminismError")
    expect(failed?.message).toMatch(/^workflow failed: NonDeterminismError: /)
  })

  it("recovery: an info line with the count, and the execution logged as resumed", async () => {
    const wf = defineWorkflow("long", async (ctx) => {
      await ctx.step("first", () => 1)
      await ctx.sleep("1 hour")
    })
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, parkSleepsLongerThan: false })
    const a = await t.start(wf, undefined)
    const b = await t.start(wf, undefined)
    await t.settle()
    await t.crash()
    entries.length = 0
    await t.restart()
    expect(entries.find((e) => e.event === "executor.recovered")).toEqual({
      level: "info",
      event: "executor.recovered",
      message: "recovered 2 workflows",
      fields: { executorId: "local", appVersion: expect.any(String), count: 2 },
    })
    const resumed = entries.filter((e) => e.event === "workflow.started")
    expect(resumed.map((e) => [e.message, e.workflowId, e.fields?.["origin"], e.fields?.["recordedSteps"]])).toEqual([
      ["workflow resumed", a.id, "recovery", 2],
      ["workflow resumed", b.id, "recovery", 2],
    ])
  })

  it("a workflow that keeps crashing without progress: DEAD is an error", async () => {
    const wf = defineWorkflow("crashy", async (ctx) => {
      await ctx.step("first", () => 1)
      await ctx.sleep("1 hour")
    })
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, maxRecoveryAttempts: 2, parkSleepsLongerThan: false })
    const h = await t.start(wf, undefined)
    await t.settle()
    for (let i = 0; i < 3; i++) await t.restart()
    expect((await h.outcome()).status).toBe("DEAD")
    expect(entries.filter((e) => e.event === "workflow.dead")).toEqual([
      {
        level: "error",
        event: "workflow.dead",
        message: "workflow marked DEAD after 2 recoveries without progress; resume it once the cause is fixed",
        workflowId: h.id,
        workflowName: "crashy",
        fields: { executorId: "local", appVersion: expect.any(String), recoveryAttempts: 2 },
      },
    ])
  })

  it("a write fenced because another executor claimed the workflow: a warning", async () => {
    const store = memoryStore()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const wf = defineWorkflow("contested", async (ctx) => ctx.step("slow", () => gate))
    const { entries, logger } = capture()
    const durably = await Durably.launch({ store, workflows: [wf], logger, heartbeat: false, executorId: "a" })
    const h = await durably.start(wf, undefined)
    // Another executor claims it (as a takeover would): the epoch moves on, and a's checkpoint is refused.
    await Effect.runPromise(store.claimWorkflow(h.id, "b", { countRecovery: true, maxRecoveryAttempts: 5 }))
    release()
    await expect
      .poll(() => entries.find((e) => e.event === "workflow.fenced"))
      .toMatchObject({
        level: "warn",
        workflowId: h.id,
        workflowName: "contested",
        fields: { executorId: "a" },
      })
    await durably.shutdown()
  })

  it("store calls that keep failing: one warning after 10 s of retries, and one line when they succeed again", async () => {
    const shared = memoryStore()
    let down = false
    let failed = 0
    const store: Store = {
      ...shared,
      // Decided at each run of the call, as a store's own calls are: a retry runs it again.
      writeCheckpoint: (id, epoch, checkpoint) =>
        Effect.suspend(() =>
          down
            ? Effect.fail(
                new StoreError({
                  operation: "writeCheckpoint",
                  cause: new Error("connection refused"),
                  retryable: true,
                }),
              ).pipe(Effect.tapError(() => Effect.sync(() => void failed++)))
            : shared.writeCheckpoint(id, epoch, checkpoint),
        ),
    }
    const wf = defineWorkflow("through-an-outage", async (ctx) => ctx.step("s", () => "kept"))
    const { entries, logger } = capture()
    const t = await testEngine({ workflows: [wf], logger, store, appVersion: "7.1.0" })
    down = true
    const h = await t.start(wf, undefined)
    await t.advance(5_000)
    expect(failed).toBeGreaterThan(1)
    // Retried, but not yet long enough to be worth a line: a blip says nothing.
    expect(entries.filter((e) => e.event?.startsWith("store."))).toEqual([])
    await t.advance(10_000)
    const failing = entries.filter((e) => e.event === "store.failing")
    expect(failing).toHaveLength(1)
    expect(failing[0]).toMatchObject({
      level: "warn",
      fields: { ...base, operation: "writeCheckpoint", errorName: "StoreError" },
    })
    expect(failing[0]!.fields!["failingForMs"]).toBeGreaterThanOrEqual(10_000)
    // Still failing: no second warning within 30 s of the first.
    const failedBefore = failed
    await t.advance(20_000)
    expect(failed).toBeGreaterThan(failedBefore)
    expect(entries.filter((e) => e.event === "store.failing")).toHaveLength(1)
    down = false
    await t.advance(6_000)
    expect(await h.result()).toBe("kept")
    const recovered = entries.filter((e) => e.event === "store.recovered")
    expect(recovered).toHaveLength(1)
    expect(recovered[0]).toMatchObject({ level: "info", fields: { ...base, operation: "writeCheckpoint" } })
  })

  it("the redaction hook sees every entry, engine's and ctx.log's, and may rewrite or drop it", async () => {
    const wf = defineWorkflow("signup", async (ctx, email: string) => {
      ctx.log.info("welcome mail queued", { email })
      ctx.log.debug("internal detail")
      throw new Error(`bounced: ${email}`)
    })
    const { entries, logger } = capture()
    const mask = (text: string) => text.replace(/[\w.]+@[\w.]+/g, "<email>")
    const t = await testEngine({
      workflows: [wf],
      logger,
      logging: {
        redact: (e) =>
          e.level === "debug" && e.event === undefined
            ? undefined
            : {
                ...e,
                message: mask(e.message),
                ...(e.fields
                  ? {
                      fields: Object.fromEntries(
                        Object.entries(e.fields).map(([k, v]) => [k, typeof v === "string" ? mask(v) : v]),
                      ),
                    }
                  : {}),
              },
      },
    })
    await (await t.start(wf, "alice@example.com")).outcome()
    expect(JSON.stringify(entries)).not.toContain("alice@example.com")
    expect(entries.map((e) => e.message)).toEqual([
      "workflow started",
      "welcome mail queued",
      "workflow failed: Error: bounced: <email>",
    ])
    expect(entries[1]?.fields).toEqual({ email: "<email>" })
  })

  it("a redaction hook that throws drops the entry and says so", async () => {
    const wf = defineWorkflow("quiet", async () => 1)
    const { entries, logger } = capture()
    const t = await testEngine({
      workflows: [wf],
      logger,
      logging: {
        redact: () => {
          throw new Error("oops")
        },
      },
    })
    await t.run(wf, undefined)
    expect(entries.map((e) => [e.level, e.message])).toEqual([
      ["error", "logging.redact threw; an entry was dropped: Error: oops"],
      ["error", "logging.redact threw; an entry was dropped: Error: oops"],
    ])
  })

  it("structuredLogger: entries reach a (fields, message) logger such as pino, with tags flattened", async () => {
    const lines: Array<[string, Record<string, unknown>, string]> = []
    const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
      lines.push([level, fields, message])
    const wf = defineWorkflow("greet", async (ctx) => {
      await ctx.step("hello", () => ctx.log.warn("inside", { n: 1 }))
    })
    const t = await testEngine({
      workflows: [wf],
      appVersion: "7.1.0",
      logger: structuredLogger({ debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }),
    })
    const h = await t.start(wf, undefined)
    await h.result()
    expect(lines).toEqual([
      [
        "debug",
        { event: "workflow.started", workflowId: h.id, workflowName: "greet", ...base, origin: "start" },
        "workflow started",
      ],
      ["warn", { workflowId: h.id, workflowName: "greet", step: "hello", n: 1 }, "inside"],
      [
        "debug",
        { event: "workflow.completed", workflowId: h.id, workflowName: "greet", ...base },
        "workflow completed",
      ],
    ])
  })
})
