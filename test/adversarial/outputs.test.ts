// What comes back out: a write the database refuses fails the workflow with a typed error instead of wedging
// it PENDING; StoreErrors carry no statement parameters; QueueFull's fields come from the store; deep values
// are a SerializationError; the default logger cannot be made to forge a line.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { Effect } from "effect"
import { consoleLogger, defineWorkflow, Durably, StoreError, type Store } from "@durably/core"
import { Durably as EffectDurably } from "@durably/core/effect"
import { defineQueue } from "@durably/scheduler"
import { captureLogs, logProblems, tracked, type Stored, rejection, storeKinds, tagOf, within } from "./support.ts"

const deep = (levels: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = { v }
  return v
}

/** The real store, except that writes for steps named "poison" carry a value Postgres refuses (a fraction in a bigint column). */
const poisoning = (store: Store): Store => ({
  ...store,
  writeCheckpoint: (id, epoch, cp) =>
    store.writeCheckpoint(id, epoch, cp.name === "poison" ? { ...cp, completedAt: 1.5 } : cp),
  // A NUL in the output text of a workflow whose result says "poison-output" (Postgres cannot store NUL).
  completeWorkflow: (id, epoch, c) =>
    store.completeWorkflow(
      id,
      epoch,
      c.status === "SUCCESS" && c.output?.includes("poison-output") === true
        ? { ...c, output: `${c.output}\u0000` }
        : c,
    ),
})

const poisonedStep = defineWorkflow("adv-o-step", async (ctx) => {
  await ctx.step("poison", () => 1)
  return "unreachable"
})
const caught = defineWorkflow("adv-o-caught", async (ctx) => {
  try {
    await ctx.step("poison", () => 1)
  } catch (e) {
    return { tag: tagOf(e), kind: (e as StoreError).kind }
  }
  return "no error"
})
const poisonedEnd = defineWorkflow("adv-o-end", async () => "poison-output")
const plain = defineWorkflow("adv-o-plain", async (ctx, v: unknown) => ctx.step("echo", () => v))
const waiter = defineWorkflow("adv-o-waiter", async (ctx) => {
  await ctx.recv("never")
})
/** Each call a workflow makes with a value nested 100,000 levels deep, and how it was refused. */
const deepInside = defineWorkflow("adv-o-deep", async (ctx) => {
  const calls: ReadonlyArray<() => Promise<unknown>> = [
    () => ctx.setEvent("k", deep(100_000)),
    () => ctx.writeStream("s", deep(100_000)),
    () => ctx.send(ctx.workflowId, "t", deep(100_000)),
    () => ctx.step("s", () => deep(100_000)),
  ]
  const out: Array<string | undefined> = []
  for (const call of calls)
    out.push(
      await call().then(
        () => "accepted",
        (e: unknown) => tagOf(e),
      ),
    )
  return out
})
const tiny = defineQueue("adv-o: at most 99 \u2028 queue", { maxLength: 2 })

describe.each(storeKinds)("outputs on the $name store", (kind) => {
  // Refusals by the database: the memory store keeps any value, so these cases exist only for the SQL stores.
  const sqlOnly: (name: string, fn: () => Promise<void>) => void = (name, fn) => {
    if (kind.name !== "memory") it(name, fn)
  }
  let store: Store
  let cleanup: () => Promise<void>
  let secret: string | undefined
  let stored: () => Promise<Stored>
  /** What the engines use: the store, counting the messages it accepts (see tracked). */
  let engineStore: Store
  let durably: Durably
  const logs = captureLogs()

  beforeAll(async () => {
    ;({ store, cleanup, secret } = await kind.make())
    ;({ store: engineStore, stored } = tracked(store))
    durably = await Durably.launch({
      store: kind.name === "memory" ? engineStore : poisoning(engineStore),
      workflows: [poisonedStep, caught, poisonedEnd, plain, waiter, deepInside],
      queues: [tiny],
      serveQueues: false,
      logger: logs.logger,
      heartbeat: false,
    })
  }, 60_000)
  afterAll(async () => {
    await durably?.shutdown({ timeout: "5 seconds" })
    await cleanup?.()
  })

  sqlOnly(
    "a write the database refuses fails the operation with a typed StoreError, never a PENDING workflow",
    async () => {
      const h = await durably.start(poisonedStep, undefined)
      const e = await rejection(h.result(), `${kind.name}: poisoned step`)
      expect(tagOf(e)).toBe("WorkflowFailed")
      expect(tagOf((e as { cause?: unknown }).cause)).toBe("StoreError")
      expect((await h.status())?.status).toBe("ERROR")
      expect(await within(durably.run(caught, undefined), "caught")).toEqual({
        tag: "StoreError",
        kind: "invalid-data",
      })
    },
  )

  sqlOnly(
    "a completion the database refuses is recorded as the workflow's ERROR, with the typed StoreError",
    async () => {
      const h = await durably.start(poisonedEnd, undefined)
      const e = await rejection(h.result(), `${kind.name}: poisoned completion`)
      expect(tagOf(e)).toBe("WorkflowFailed")
      expect(tagOf((e as { cause?: unknown }).cause)).toBe("StoreError")
      expect((await h.status())?.status).toBe("ERROR")
      // The failure's log line names what refused it.
      const failed = logs.entries.find((l) => l.workflowId === h.id && l.message.startsWith("workflow failed"))
      expect(failed?.message).toMatch(/^workflow failed: StoreError: store operation completeWorkflow failed: /)
    },
  )

  sqlOnly("a refused StoreError carries no statement text or parameters (they hold whole payloads)", async () => {
    const secretPayload = "payload-that-must-not-leak"
    const refused = await rejection(
      Effect.runPromise(
        store.writeCheckpoint("nobody", 1, {
          stepId: 0,
          name: secretPayload,
          kind: "step",
          state: "done",
          seq: 0,
          attempts: 1,
          output: JSON.stringify(secretPayload),
          startedAt: 0.5,
          completedAt: 1,
        }),
      ),
      "raw refused write",
    )
    expect(refused).toBeInstanceOf(StoreError)
    expect((refused as StoreError).kind).toBe("invalid-data")
    const cause = (refused as StoreError).cause as Record<string, unknown>
    expect(cause["parameters"]).toBeUndefined()
    expect(cause["query"]).toBeUndefined()
    expect(JSON.stringify(cause) + String((refused as Error).message)).not.toContain(secretPayload)
  })

  it("QueueFull's maxLength comes from the store, whatever the queue's name says", async () => {
    await durably.enqueueMany(tiny, plain, [1, 2])
    const e = await rejection(durably.enqueue(tiny, plain, 3), "full queue")
    expect(e).toMatchObject({ _tag: "QueueFull", maxLength: 2, waiting: 2 })
  })

  it("a value nested 100,000 levels deep is a SerializationError at every call, not a stack overflow", async () => {
    const target = await durably.start(waiter, undefined)
    const source = await durably.start(plain, 1)
    await within(source.result(), "source workflow")
    const before = await stored()
    const service = EffectDurably.fromPromise(durably)
    for (const [what, call] of [
      ["start input", () => durably.start(plain, deep(100_000))],
      ["send", () => durably.send(target.id, "t", deep(100_000))],
      ["fork input", () => durably.workflows.fork(source.id, { fromStep: 0, input: deep(100_000) })],
      // In the error channel, not a defect: flip rejects on a defect.
      [
        "Effect send",
        () =>
          Effect.runPromise(Effect.flip(service.send(target.id, "t", deep(100_000)))).then((e) => Promise.reject(e)),
      ],
    ] as const) {
      const e = await rejection(call, `${kind.name}: deep ${what}`)
      expect(tagOf(e), `${what}: ${String(e).slice(0, 200)}`).toBe("SerializationError")
      expect((e as Error).message).toMatch(/nested (too deeply|deeper than)/)
    }
    expect(await stored()).toEqual(before)
    expect(await within(durably.run(deepInside, undefined), "deep values inside a workflow")).toEqual([
      "SerializationError",
      "SerializationError",
      "SerializationError",
      "SerializationError",
    ])
    expect(await within(durably.run(plain, deep(900)), "900 levels")).toEqual(deep(900))
  })

  it("the logs hold no secret and only short, escaped echoes of what was refused", () => {
    expect(logs.entries.length).toBeGreaterThan(0)
    expect(logProblems(logs.entries, secret === undefined ? [] : [secret])).toEqual([])
  })
})

describe("the default logger", () => {
  const written: string[] = []
  afterEach(() => {
    vi.restoreAllMocks()
    written.length = 0
  })

  it("escapes control characters, so an id with a newline cannot forge a line", () => {
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    consoleLogger()({
      level: "error",
      message: "step failed\nsecond line",
      workflowId: "x\n[durably] ERROR forged\r\u001b[2J",
      step: "s\u2028t",
      fields: { f: "a\u0000b\u0085" },
    })
    const text = written.join("")
    const lines = text.split("\n").filter((l) => l !== "")
    expect(lines).toHaveLength(2)
    expect(lines[0]!.startsWith("[durably] ERROR step failed")).toBe(true)
    expect(lines[1]!.startsWith("    second line")).toBe(true)
    // eslint-disable-next-line no-control-regex
    expect(text.replace(/\n$/, "").replace("\n    ", " ")).not.toMatch(/[\u0000-\u001f\u0085\u2028]/)
  })
})
