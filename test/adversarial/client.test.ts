// The client (`Durably.client`: a process that runs no workflow) fed the hostile names and durations of
// names.test.ts and durations.test.ts at each of its entry points, on the memory, embedded and Postgres
// stores: InvalidArgument at the call naming the argument, a short escaped echo, nothing stored, clean logs.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, type DurablyClient, type Store } from "@durably/core"
import { defineQueue } from "@durably/scheduler"
import {
  badDurations,
  captureLogs,
  echoesSafely,
  hostileStrings,
  logProblems,
  notStrings,
  rejection,
  storeKinds,
  tagOf,
  tracked,
  within,
  type Stored,
} from "./support.ts"

const hostile = [...hostileStrings, ...notStrings] as ReadonlyArray<readonly [string, unknown]>

const noop = defineWorkflow("adv-c-noop", async (_ctx, n: number) => n + 1)
const waiter = defineWorkflow("adv-c-waiter", async (ctx) => ctx.recv<number>("go"))
const plain = defineQueue("adv-c-plain")
const parted = defineQueue("adv-c-parted", { partition: {} })
const cron = "0 2 1 1 *"

describe.each(storeKinds)("the client on the $name store", (kind) => {
  let store: Store
  let cleanup: () => Promise<void>
  let secret: string | undefined
  let stored: () => Promise<Stored>
  let worker: Durably
  let client: DurablyClient
  const logs = captureLogs()
  let target: string

  beforeAll(async () => {
    ;({ store, cleanup, secret } = await kind.make())
    let engineStore: Store
    ;({ store: engineStore, stored } = tracked(store))
    // The worker declares the queues (the client cannot) and holds a workflow to send to.
    worker = await Durably.launch({
      store: engineStore,
      workflows: [noop, waiter],
      queues: [plain, parted],
      serveQueues: false,
      logger: logs.logger,
      heartbeat: false,
    })
    client = await Durably.client({ store: engineStore, logger: logs.logger })
    target = (await worker.start(waiter, undefined)).id
    await client.schedules.create("adv-c-schedule", { cron, workflow: "adv-c-noop", queue: plain.name, input: 1 })
  }, 60_000)
  afterAll(async () => {
    await client?.close()
    await worker?.shutdown({ timeout: "5 seconds" })
    await cleanup?.()
  })

  /** Each client call with the hostile value where a name goes, and the word its error must name. */
  const calls: ReadonlyArray<readonly [string, string, (v: never) => unknown]> = [
    ["enqueue workflow name", "workflow name", (v) => client.enqueue(plain, v, 1)],
    ["enqueue queue name", "queue", (v) => client.enqueue(v, "adv-c-noop", 1)],
    ["enqueue id", "id", (v) => client.enqueue("adv-c-plain", "adv-c-noop", 1, { id: v })],
    ["enqueue dedup", "deduplicationId", (v) => client.enqueue(plain, "adv-c-noop", 1, { deduplicationId: v })],
    ["enqueue partitionKey", "partitionKey", (v) => client.enqueue(parted, "adv-c-noop", 1, { partitionKey: v })],
    ["enqueueMany workflow name", "workflow name", (v) => client.enqueueMany(plain, v, [1, 2])],
    ["send id", "workflow id", (v) => client.send(v, "go", 1)],
    ["send topic", "topic", (v) => client.send(target, v, 1)],
    ["send idempotencyKey", "idempotencyKey", (v) => client.send(target, "go", 1, { idempotencyKey: v })],
    ["getEvent id", "workflow id", (v) => client.getEvent(v, "k", { timeout: 0 })],
    ["getEvent key", "key", (v) => client.getEvent(target, v, { timeout: 0 })],
    ["readStream id", "workflow id", (v) => client.readStream(v, "k")],
    ["readStream key", "key", (v) => client.readStream(target, v)],
    ["handle", "workflow id", (v) => client.handle(v)],
    ["workflows.get", "id", (v) => client.workflows.get(v)],
    ["workflows.resume", "id", (v) => client.workflows.resume(v)],
    ["workflows.cancel", "id", (v) => client.workflows.cancel(v)],
    ["workflows.steps", "id", (v) => client.workflows.steps(v)],
    ["workflows.fork", "id", (v) => client.workflows.fork(v, { fromStep: 0 })],
    ["workflows.delete", "id", (v) => client.workflows.delete(v)],
    ["workflows.list name", "name", (v) => client.workflows.list({ name: v })],
    ["workflows.count idPrefix", "idPrefix", (v) => client.workflows.count({ idPrefix: v })],
    ["schedules.create name", "schedule name", (v) => client.schedules.create(v, { cron, workflow: "adv-c-noop" })],
    ["schedules.create cron", "cron", (v) => client.schedules.create("adv-c-new", { cron: v, workflow: "w" })],
    ["schedules.get", "schedule name", (v) => client.schedules.get(v)],
    ["schedules.trigger", "schedule name", (v) => client.schedules.trigger(v)],
  ]

  it.each(hostile)("every client call refuses %s at the call and stores nothing", async (label, value) => {
    const before = await stored()
    for (const [what, argument, call] of calls) {
      const e = await rejection(() => call(value as never), `${kind.name}: client.${what} with ${label}`)
      try {
        expect(tagOf(e), String(e).slice(0, 300)).toBe("InvalidArgument")
        expect((e as Error).message).toContain(argument)
        expect(echoesSafely((e as Error).message), (e as Error).message.slice(0, 300)).toBe(true)
      } catch (failure) {
        throw new Error(`client.${what} with ${label}: ${(failure as Error).message}`)
      }
    }
    expect(await stored()).toEqual(before)
  })

  it.each(badDurations.map(([label], i) => [label, i] as const))(
    "every client call that takes a duration refuses %s",
    async (label, i) => {
      const d = badDurations[i]![1] as never
      const before = await stored()
      for (const [what, call] of [
        ["getEvent timeout", () => client.getEvent(target, "k", { timeout: d })],
        ["enqueue delay", () => client.enqueue(plain, "adv-c-noop", 1, { delay: d })],
        ["enqueue timeout", () => client.enqueue(plain, "adv-c-noop", 1, { timeout: d })],
        ["prune olderThan", () => client.workflows.prune({ olderThan: d })],
      ] as const) {
        const e = await rejection(call, `${kind.name}: client ${what} with ${label}`)
        expect(tagOf(e), `${what} with ${label}: ${String(e)}`).toBe("InvalidArgument")
        expect(echoesSafely((e as Error).message)).toBe(true)
      }
      expect(await stored()).toEqual(before)
    },
  )

  it("still works afterwards: enqueue by name, send, trigger", async () => {
    const queued = await client.enqueue("adv-c-plain", "adv-c-noop", 1, { id: "adv-c-\u00e9 line\nbreak" })
    expect((await queued.status())?.status).toBe("ENQUEUED")
    await client.send(target, "go", 41)
    expect(await within(worker.handle<number>(target).result(), `${kind.name}: target after send`)).toBe(41)
    expect((await (await client.schedules.trigger("adv-c-schedule")).status())?.status).toBe("ENQUEUED")
  })

  it("the logs hold no secret and only short, escaped echoes of what was refused", () => {
    expect(logs.entries.length).toBeGreaterThan(0)
    expect(logProblems(logs.entries, secret === undefined ? [] : [secret])).toEqual([])
  })
})
