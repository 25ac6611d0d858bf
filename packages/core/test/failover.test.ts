import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore, StoreError, type LogEntry, type Store } from "../src/index.ts"

const heartbeat = { interval: 20, lease: 120 }

/** A view of a shared store whose heartbeats can be cut, as if this process lost its connection or froze. */
const cuttable = (base: Store) => {
  let cut = false
  const store: Store = {
    ...base,
    heartbeat: (beat) =>
      cut
        ? Effect.fail(new StoreError({ operation: "heartbeat", cause: new Error("cut"), retryable: true }))
        : base.heartbeat(beat),
    // Closing one engine must not close the shared store.
    close: () => Effect.void,
  }
  return { store, cut: () => (cut = true) }
}

const until = async (check: () => boolean | Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached")
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe("failover", () => {
  it("a takeover keeps taking batches while they come back full: 1,200 workflows move within one heartbeat", async () => {
    const shared = memoryStore()
    const a = cuttable(shared)
    const wf = defineWorkflow("nap", async (ctx) => {
      await ctx.sleep("1 hour")
    })
    const slow = { interval: 20, lease: 120 }
    const ea = await Durably.launch({
      store: a.store,
      workflows: [wf],
      executorId: "a",
      heartbeat: slow,
      logger: false,
    })
    const hs = await Promise.all(Array.from({ length: 1200 }, () => ea.start(wf, undefined)))
    a.cut()
    // b's heartbeats are far apart: batches of 500 one per heartbeat would take two more heartbeats.
    const eb = await Durably.launch({
      store: shared,
      workflows: [wf],
      executorId: "b",
      heartbeat: { interval: 1_000, lease: 1_200 },
      maxRunningWorkflows: 2_000,
      logger: false,
    })
    const owners = async () =>
      new Set(await Promise.all(hs.map(async (h) => (await eb.handle(h.id).status()).executorId)))
    // Taking over starts one lease after b's first heartbeat, at its second heartbeat (t ≈ 2 s).
    await until(async () => (await owners()).has("b"), 5_000)
    await new Promise((r) => setTimeout(r, 300))
    expect(await owners()).toEqual(new Set(["b"]))
    await eb.shutdown()
    await ea.shutdown().catch(() => undefined)
  }, 15_000)

  it("work nobody owns (resumed by a client) is taken at the next heartbeat, not one lease after launch", async () => {
    const store = memoryStore()
    const wf = defineWorkflow("waits", async (ctx) => ctx.recv<string>("go"))
    // A lease far longer than the test: judging other executors' leases waits that long after launch.
    const worker = await Durably.launch({
      store,
      workflows: [wf],
      executorId: "worker",
      heartbeat: { interval: 20, lease: 60_000 },
      logger: false,
    })
    const client = await Durably.client({ store, logger: false })
    try {
      const h = await worker.start(wf, undefined, { id: "w" })
      await client.workflows.cancel(h.id)
      expect((await h.outcome()).status).toBe("CANCELLED")
      // The client runs nothing: the resumed workflow is PENDING with no owner until a worker takes it.
      await client.workflows.resume(h.id)
      await until(async () => (await client.workflows.get(h.id)).executorId === "worker", 10_000)
      await client.send(h.id, "go", "taken")
      expect(await client.handle(h.id).result()).toBe("taken")
    } finally {
      await client.close()
      await worker.shutdown()
    }
  })

  it("a silent executor's workflows are taken over after its lease; it starts no new step meanwhile", async () => {
    const shared = memoryStore()
    const a = cuttable(shared)
    const ran: Array<[string, string]> = []
    const wf = defineWorkflow("relay", async (ctx, n: number) => {
      for (let i = 0; i < n; i++) {
        await ctx.step(`s${i}`, () => void ran.push([`s${i}`, ctx.workflowId]))
        await ctx.sleep(30)
      }
      return "done"
    })
    const logs: LogEntry[] = []
    const ea = await Durably.launch({ store: a.store, workflows: [wf], executorId: "a", heartbeat, logger: false })
    const eb = await Durably.launch({
      store: shared,
      workflows: [wf],
      executorId: "b",
      heartbeat,
      logger: (e) => logs.push(e),
    })
    const h = await ea.start(wf, 6)
    await until(() => ran.length >= 1)
    a.cut()
    expect(await eb.handle(h.id).result()).toBe("done")
    expect((await eb.handle(h.id).status()).executorId).toBe("b")
    // Every step ran once: a, cut off, started nothing after its lease ran out; b resumed where a stopped.
    expect(ran.map(([s]) => s)).toEqual(["s0", "s1", "s2", "s3", "s4", "s5"])
    await eb.shutdown()
    await ea.shutdown().catch(() => undefined)
  })

  it("two live processes with one executor id are reported loudly", async () => {
    const shared = memoryStore()
    const logs: LogEntry[] = []
    const logger = (e: LogEntry) => logs.push(e)
    const open = { ...shared, close: () => Effect.void }
    const one = await Durably.launch({ store: open, workflows: [], executorId: "same", heartbeat, logger })
    const two = await Durably.launch({ store: open, workflows: [], executorId: "same", heartbeat, logger })
    await until(() =>
      logs.some((l) => l.level === "error" && /another live process is using executor id "same"/.test(l.message)),
    )
    await one.shutdown()
    await two.shutdown()
  })

  it("the running cap bounds how many workflows one executor takes over", async () => {
    const shared = memoryStore()
    const a = cuttable(shared)
    const wf = defineWorkflow("napper", async (ctx) => {
      await ctx.sleep(60_000)
    })
    const ea = await Durably.launch({ store: a.store, workflows: [wf], executorId: "a", heartbeat, logger: false })
    for (let i = 0; i < 5; i++) await ea.start(wf, undefined)
    const eb = await Durably.launch({
      store: { ...shared, close: () => Effect.void },
      workflows: [wf],
      executorId: "b",
      heartbeat,
      logger: false,
      maxRunningWorkflows: 3,
    })
    a.cut()
    await until(async () => (await Effect.runPromise(shared.listWorkflows({ executorId: "b" }))).length === 3)
    await new Promise((r) => setTimeout(r, 300))
    expect((await Effect.runPromise(shared.listWorkflows({ executorId: "b" }))).length).toBe(3)
    await eb.shutdown()
    await ea.shutdown().catch(() => undefined)
  })
})
