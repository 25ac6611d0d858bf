// Every public entry point that takes a name, key, id or topic, fed strings no store can keep as they are (NUL,
// lone surrogates), too long (201 characters, 1 MB), empty or blank, and values that are not strings, on the
// memory, embedded and Postgres stores. Each must fail at the call with InvalidArgument naming the argument,
// echo at most a short escaped prefix, store nothing and hang nothing; the engine works afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Cause, Effect, Exit } from "effect"
import {
  ConflictingWorkflowError,
  defineTopic,
  defineWorkflow,
  Durably,
  WorkflowNotFound,
  type Store,
  type WorkflowContext,
} from "@durably/core"
import { Durably as EffectDurably, defineWorkflow as defineEffectWorkflow } from "@durably/core/effect"
import { defineQueue } from "@durably/scheduler"
import { transaction } from "@durably/postgres"
import {
  captureLogs,
  logProblems,
  tracked,
  type Stored,
  echoesSafely,
  hostileStrings,
  notStrings,
  rejection,
  storeKinds,
  tagOf,
  within,
} from "./support.ts"

const hostile = [...hostileStrings, ...notStrings] as ReadonlyArray<readonly [string, unknown]>

const noop = defineWorkflow("adv-noop", async (_ctx, n: number) => n + 1)
const waiter = defineWorkflow("adv-waiter", async (ctx) => {
  await ctx.recv("never")
})
const plain = defineQueue("adv-plain")
/** A cron that fires once a year (2 a.m. on January 1st, UTC): not while the suite runs, but for a day that Jan 1. */
const cron = "0 2 1 1 *"
const parted = defineQueue("adv-parted", { partition: {} })

/** Each ctx operation with the hostile value `v` where a name goes, and the word its error must name. */
const ctxCalls: ReadonlyArray<readonly [op: string, names: string, call: (ctx: WorkflowContext, v: never) => unknown]> =
  [
    ["ctx.step", "step name", (ctx, v) => ctx.step(v, () => 1)],
    ["ctx.setEvent", "key", (ctx, v) => ctx.setEvent(v, 1)],
    ["ctx.getEvent id", "workflow id", (ctx, v) => ctx.getEvent(v, "k", { timeout: 0 })],
    ["ctx.getEvent key", "key", (ctx, v) => ctx.getEvent(ctx.workflowId, v, { timeout: 0 })],
    ["ctx.writeStream", "key", (ctx, v) => ctx.writeStream(v, 1)],
    ["ctx.closeStream", "key", (ctx, v) => ctx.closeStream(v)],
    ["ctx.recv", "topic", (ctx, v) => ctx.recv(v, { timeout: 0 })],
    ["ctx.send id", "workflow id", (ctx, v) => ctx.send(v, "t", 1)],
    ["ctx.send topic", "topic", (ctx, v) => ctx.send(ctx.workflowId, v, 1)],
    ["ctx.start id", "id", (ctx, v) => ctx.start(noop, 1, { id: v })],
    ["ctx.enqueue dedup", "deduplicationId", (ctx, v) => ctx.enqueue(plain, noop, 1, { deduplicationId: v })],
    ["ctx.enqueue queue", "queue", (ctx, v) => ctx.enqueue(v, noop, 1)],
    ["ctx.patched", "patch name", (ctx, v) => ctx.patched(v)],
    ["ctx.deprecatePatch", "patch name", (ctx, v) => ctx.deprecatePatch(v)],
    ["ctx.enqueue id", "id", (ctx, v) => ctx.enqueue(plain, noop, 1, { id: v })],
    ["ctx.enqueue partitionKey", "partitionKey", (ctx, v) => ctx.enqueue(parted, noop, 1, { partitionKey: v })],
    ["transaction", "name", (ctx, v) => transaction(ctx, v, async () => 1)],
  ]

interface Refusal {
  readonly op: string
  readonly tag: string | undefined
  readonly message: string
}

/** Tries every ctx call with the hostile value it is given as input; returns how each was refused. */
const prober = defineWorkflow("adv-prober", async (ctx, v: unknown): Promise<Refusal[]> => {
  const out: Refusal[] = []
  for (const [op, , call] of ctxCalls) {
    try {
      await call(ctx, v as never)
      out.push({ op, tag: "accepted", message: "" })
    } catch (e) {
      out.push({ op, tag: tagOf(e), message: String((e as Error).message) })
    }
  }
  return out
})

const effectProber = defineEffectWorkflow("adv-effect-prober", (ctx, v: string) =>
  Effect.gen(function* () {
    const step = yield* Effect.exit(ctx.step(v, Effect.succeed(1)))
    const event = yield* Effect.exit(ctx.setEvent(v, 1))
    const exits: ReadonlyArray<Exit.Exit<unknown>> = [step, event]
    return exits.map((e) => (Exit.isFailure(e) ? tagOf(squash(e.cause)) : "ok"))
  }),
)
const squash = (cause: Cause.Cause<unknown>): unknown => Cause.squash(cause)

const expectRefused = (e: unknown, argument: string) => {
  expect(tagOf(e), String(e)).toBe("InvalidArgument")
  const message = (e as Error).message
  expect(message).toContain(argument)
  expect(echoesSafely(message), message.slice(0, 300)).toBe(true)
}

describe.each(storeKinds)("names, keys, ids and topics on the $name store", (kind) => {
  let store: Store
  let cleanup: () => Promise<void>
  let secret: string | undefined
  let stored: () => Promise<Stored>
  /** What the engines use: the store, counting the messages it accepts (see tracked). */
  let engineStore: Store
  let durably: Durably
  const logs = captureLogs()
  let target: string

  beforeAll(async () => {
    ;({ store, cleanup, secret } = await kind.make())
    ;({ store: engineStore, stored } = tracked(store))
    durably = await Durably.launch({
      store: engineStore,
      workflows: [noop, waiter, prober, effectProber],
      queues: [plain, parted],
      serveQueues: false,
      logger: logs.logger,
      heartbeat: false,
    })
    target = (await durably.start(waiter, undefined, { id: "adv-target" })).id
    await durably.schedules.create("adv-schedule", { cron, workflow: noop, queue: plain, input: 1 })
  }, 60_000)
  afterAll(async () => {
    await durably?.shutdown({ timeout: "5 seconds" })
    await cleanup?.()
  })

  /** Calls from outside a workflow: the value where a name goes, and the word the error must name. */
  const outside: ReadonlyArray<readonly [string, string, (v: never) => unknown]> = [
    ["start id", "workflow id", (v) => durably.start(noop, 1, { id: v })],
    ["handle", "workflow id", (v) => durably.handle(v)],
    ["cancel", "workflow id", (v) => durably.cancel(v)],
    ["send id", "workflow id", (v) => durably.send(v, "t", 1)],
    ["send topic", "topic", (v) => durably.send(target, v, 1)],
    ["send idempotencyKey", "idempotencyKey", (v) => durably.send(target, "t", 1, { idempotencyKey: v })],
    ["getEvent id", "workflow id", (v) => durably.getEvent(v, "k", { timeout: 0 })],
    ["getEvent key", "key", (v) => durably.getEvent(target, v, { timeout: 0 })],
    ["readStream id", "workflow id", (v) => durably.readStream(v, "k")],
    ["readStream key", "key", (v) => durably.readStream(target, v)],
    ["enqueue queue", "queue", (v) => durably.enqueue(v, noop, 1)],
    ["enqueue id", "id", (v) => durably.enqueue(plain, noop, 1, { id: v })],
    ["enqueue dedup", "deduplicationId", (v) => durably.enqueue(plain, noop, 1, { deduplicationId: v })],
    ["enqueue partitionKey", "partitionKey", (v) => durably.enqueue(parted, noop, 1, { partitionKey: v })],
    ["enqueueMany id", "id", (v) => durably.enqueueMany(plain, noop, [1, 2], (_i, n) => (n === 1 ? { id: v } : {}))],
    ["workflows.get", "id", (v) => durably.workflows.get(v)],
    ["workflows.cancel", "id", (v) => durably.workflows.cancel(v)],
    ["workflows.resume", "id", (v) => durably.workflows.resume(v)],
    ["workflows.resume appVersion", "appVersion", (v) => durably.workflows.resume(target, { appVersion: v })],
    ["workflows.steps", "id", (v) => durably.workflows.steps(v)],
    ["workflows.fork", "id", (v) => durably.workflows.fork(v, { fromStep: 0 })],
    ["workflows.fork new id", "id", (v) => durably.workflows.fork(target, { fromStep: 0, id: v })],
    ["workflows.fork queue", "queue", (v) => durably.workflows.fork(target, { fromStep: 0, queue: v })],
    ["workflows.delete", "id", (v) => durably.workflows.delete(v)],
    ["workflows.count filter", "idPrefix", (v) => durably.workflows.count({ idPrefix: v })],
    ["workflows.cancelMany filter", "name", (v) => durably.workflows.cancelMany({ name: v })],
    ["workflows.resumeMany filter", "queue", (v) => durably.workflows.resumeMany({ queue: v })],
    ["workflows.prune status", "status", (v) => durably.workflows.prune({ olderThan: "1 day", status: v })],
    ["debounce key", "key", (v) => durably.debounce(noop, v, 1, { delay: "1 hour" })],
    ["schedules.create name", "schedule name", (v) => durably.schedules.create(v, { cron, workflow: noop })],
    ["schedules.create cron", "cron", (v) => durably.schedules.create("adv-new", { cron: v, workflow: noop })],
    [
      "schedules.create timezone",
      "timezone",
      (v) => durably.schedules.create("adv-new", { cron, timezone: v, workflow: noop }),
    ],
    ["schedules.create workflow", "workflow", (v) => durably.schedules.create("adv-new", { cron, workflow: v })],
    ["schedules.create queue", "queue", (v) => durably.schedules.create("adv-new", { cron, workflow: noop, queue: v })],
    ["schedules.get", "schedule name", (v) => durably.schedules.get(v)],
    ["schedules.update name", "schedule name", (v) => durably.schedules.update(v, { cron })],
    ["schedules.update cron", "cron", (v) => durably.schedules.update("adv-schedule", { cron: v })],
    ["schedules.pause", "schedule name", (v) => durably.schedules.pause(v)],
    ["schedules.resume", "schedule name", (v) => durably.schedules.resume(v)],
    ["schedules.delete", "schedule name", (v) => durably.schedules.delete(v)],
    ["schedules.trigger", "schedule name", (v) => durably.schedules.trigger(v)],
    ["schedules.backfill", "schedule name", (v) => durably.schedules.backfill(v, new Date(0), new Date(1))],
    ["workflows.list name", "name", (v) => durably.workflows.list({ name: v })],
    ["defineWorkflow", "defineWorkflow", (v) => defineWorkflow(v, async () => 1)],
    ["defineTopic", "topic name", (v) => defineTopic(v)],
    ["defineQueue", "queue name", (v) => defineQueue(v)],
    [
      "launch executorId",
      "executorId",
      (v) => Durably.launch({ store: engineStore, workflows: [noop], executorId: v }),
    ],
    [
      "launch appVersion",
      "appVersion",
      (v) => Durably.launch({ store: engineStore, workflows: [noop], appVersion: v }),
    ],
  ]

  it.each(hostile)("every call from outside refuses %s at the call and stores nothing", async (label, value) => {
    const before = await stored()
    for (const [what, argument, call] of outside) {
      const e = await rejection(() => call(value as never), `${kind.name}: ${what} with ${label}`)
      try {
        expectRefused(e, argument)
      } catch (failure) {
        throw new Error(`${what} with ${label}: ${(failure as Error).message}`)
      }
    }
    expect(await stored()).toEqual(before)
  })

  it.each(hostile)("every ctx call refuses %s at the call; the workflow goes on and ends", async (label, value) => {
    // A value that is not a string travels as the input too (JSON has no NUL or lone surrogate problem).
    const refusals = await within(durably.run(prober, value), `${kind.name}: prober with ${label}`, 60_000)
    expect(refusals.map((r) => r.op)).toEqual(ctxCalls.map(([op]) => op))
    for (const [i, r] of refusals.entries()) {
      try {
        expectRefused(Object.assign(new Error(r.message), { _tag: r.tag }), ctxCalls[i]![1])
      } catch (failure) {
        throw new Error(`${r.op} with ${label}: ${(failure as Error).message}`)
      }
    }
  })

  it("the Effect flavour refuses the same values in its error channel", async () => {
    const service = EffectDurably.fromPromise(durably)
    for (const [label, value] of hostileStrings) {
      const exit = await within(
        Effect.runPromise(Effect.exit(service.start(noop, 1, { id: value }))),
        `${kind.name}: effect start with ${label}`,
      )
      expect(Exit.isFailure(exit) && tagOf(squash(exit.cause))).toBe("InvalidArgument")
      const sent = await within(
        Effect.runPromise(Effect.exit(service.send(target, value, 1))),
        `${kind.name}: effect send with ${label}`,
      )
      expect(Exit.isFailure(sent) && tagOf(squash(sent.cause))).toBe("InvalidArgument")
      // In the error channel, not a defect: flip rejects on a defect.
      const cancelled = await within(
        Effect.runPromise(Effect.flip(service.cancel(value))),
        `${kind.name}: effect cancel with ${label}`,
      )
      expect(tagOf(cancelled)).toBe("InvalidArgument")
      const inside = await within(durably.run(effectProber, value), `${kind.name}: effect prober with ${label}`)
      expect(inside).toEqual(["InvalidArgument", "InvalidArgument"])
    }
  })

  it("two ids that differ only in a lone surrogate never become one workflow", async () => {
    // Postgres would store both as U+FFFD: the second start would attach to the first and get its result.
    const first = await durably.run(noop, 1, { id: "adv-\ufffd" })
    expect(first).toBe(2)
    expect(tagOf(await rejection(() => durably.start(noop, 41, { id: "adv-\ud800" }), "surrogate id"))).toBe(
      "InvalidArgument",
    )
  })

  it("a cron Postgres cannot hold, or a huge one, is refused and echoed short", async () => {
    const before = await stored()
    for (const bad of ["0 2 * * *\u0000", "0 2 * * \ud800", "@hourly\u0000", `0 2 * * ${"1,".repeat(500_000)}1`]) {
      for (const call of [
        () => durably.schedules.create("adv-cron", { cron: bad, workflow: noop }),
        () => durably.schedules.update("adv-schedule", { cron: bad }),
      ])
        expectRefused(await rejection(call, `${kind.name}: cron ${JSON.stringify(bad.slice(0, 20))}`), "cron")
    }
    expect(await stored()).toEqual(before)
    expect((await durably.schedules.get("adv-schedule"))?.cron).toBe(cron)
  })

  it("resume never reaches another workflow through a lone surrogate", async () => {
    // Postgres would look up "victim-\ufffd" for "victim-\ud800" and move that CANCELLED workflow back to PENDING.
    const victim = await durably.start(waiter, undefined, { id: "victim-\ufffd" })
    await durably.workflows.cancel(victim.id)
    for (const id of ["victim-\ud800", "victim-\u0000"]) {
      const e = await rejection(() => durably.workflows.resume(id), `${kind.name}: resume ${JSON.stringify(id)}`)
      expectRefused(e, "workflows.resume: id")
    }
    expect((await victim.status())?.status).toBe("CANCELLED")
  })

  it("still works afterwards, and ids of 200 characters and any well-formed Unicode round-trip", async () => {
    for (const id of [
      "z".repeat(200),
      "emoji 👩‍👩‍👧 é 中文",
      "quote ' \" back\\slash; DROP TABLE x; --",
      "line\nbreak\ttab",
    ]) {
      const h = await durably.start(noop, 1, { id })
      expect(await within(h.result(), `result of ${JSON.stringify(id.slice(0, 20))}`)).toBe(2)
      expect((await durably.handle(id).status())?.id).toBe(id)
    }
  })

  it("the logs hold no secret and only short, escaped echoes of what was refused", () => {
    expect(logs.entries.length).toBeGreaterThan(0)
    expect(logProblems(logs.entries, secret === undefined ? [] : [secret])).toEqual([])
  })
})

describe("errors that name a workflow id", () => {
  it("echo a short escaped prefix of it, however long or hostile", () => {
    const id = `line\nforged ${"y".repeat(1_000_000)}`
    for (const e of [
      new WorkflowNotFound({ workflowId: id }),
      new ConflictingWorkflowError({ workflowId: id, existingName: "a", requestedName: "b" }),
    ]) {
      expect(echoesSafely(e.message), e.message.slice(0, 300)).toBe(true)
      expect(e.message.length).toBeLessThan(300)
      expect(e.message).toContain("line\\nforged")
    }
  })
})
