/**
 * Contract cases for child workflows and enqueueing, with engines on the store. Dispatching queued work is
 * the scheduler's (another package), so these cases plug in the smallest dispatcher the extension point
 * allows: claim whatever room there is whenever the store or the engine says something changed.
 */
import assert from "node:assert/strict"
import { Effect } from "effect"
import { Durably } from "../Durably.ts"
import { DuplicateEnqueue, InvalidArgument, QueueFull, WorkflowCancelled } from "../errors.ts"
import { queueConfig, type DispatcherFactory, type QueueDefinition, type QueueSettings } from "../queues.ts"
import type { Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractTest } from "./contract.ts"
import { until } from "./until.ts"

export const greedy: DispatcherFactory = (host, queues) => {
  const claim = (q: string) => void host.claim(q, host.room()).catch(() => undefined)
  const offs = queues.map((q) => host.subscribe(q.name, () => claim(q.name)))
  const off = host.onFreed((q) => q !== undefined && claim(q))
  for (const q of queues) claim(q.name)
  return {
    stop: async () => {
      offs.forEach((o) => o())
      off()
    },
  }
}

export const testQueue = (name: string, settings: QueueSettings = {}): QueueDefinition => ({
  _tag: "QueueDefinition",
  name,
  config: queueConfig(name, settings),
  dispatcher: greedy,
})

export const launch = (
  store: Store,
  executorId: string,
  workflows: Parameters<typeof Durably.launch>[0]["workflows"],
  queues: ReadonlyArray<QueueDefinition> = [],
) => Durably.launch({ store, workflows, executorId, queues, logger: false })

export const childrenScenarios: Record<string, ContractTest> = {
  "ctx.run starts a child with a derived id and returns its result": async ({ store, id, run }) => {
    const child = defineWorkflow(id("child"), async (ctx, n: number) => ctx.step("double", () => n * 2))
    const parent = defineWorkflow(id("parent"), async (ctx, n: number) => {
      const a = await ctx.run(child, n)
      const h = await ctx.start(child, a)
      return { a, b: await h.result(), childId: h.id }
    })
    const durably = await launch(store, id("exec"), [parent, child])
    try {
      const h = await durably.start(parent, 5, { id: id("p") })
      const out = await h.result()
      assert.equal(out.a, 10)
      assert.equal(out.b, 20)
      assert.equal(out.childId, `@child:${id("p")}:2`)
      const first = await run(store.getWorkflow(`@child:${id("p")}:0`))
      assert.equal(first?.status, "SUCCESS")
      assert.equal(first?.parentId, id("p"))
      assert.equal(first?.parentStep, 0)
    } finally {
      await durably.shutdown()
    }
  },

  "user ids may not take the engine's reserved form": async ({ store, id }) => {
    const wf = defineWorkflow(id("wf"), async () => 1)
    const durably = await launch(store, id("exec"), [wf])
    try {
      await assert.rejects(durably.start(wf, undefined, { id: "@child:x:1" }), InvalidArgument)
    } finally {
      await durably.shutdown()
    }
  },

  "a restarted parent neither starts its child again nor loses its result": async ({ store, id, run, another }) => {
    let childRuns = 0
    let release!: () => void
    const blocked = new Promise<void>((r) => (release = r))
    const child = defineWorkflow(id("child"), async (ctx) =>
      ctx.step("work", async () => {
        childRuns++
        if (childRuns === 1) await blocked
        return "made"
      }),
    )
    const parent = defineWorkflow(id("parent"), async (ctx) => `got ${await ctx.run(child, undefined)}`)
    const exec = id("exec")
    const first = await launch(store, exec, [parent, child])
    const h = await first.start(parent, undefined, { id: id("p") })
    await until(() => childRuns === 1, "the child to start")
    // As after a crash: an engine with the same executor id takes both back.
    const second = await launch(await another(), exec, [parent, child])
    try {
      assert.equal(await second.handle(h.id).result(), "got made")
      const steps = await run(store.loadCheckpoints(h.id))
      assert.deepEqual(
        steps.map((s) => s.kind),
        ["start", "result"],
      )
      const children = await run(store.listWorkflows({ name: id("child") }))
      assert.equal(children.length, 1)
    } finally {
      release()
      await second.shutdown()
      await first.shutdown().catch(() => undefined)
    }
  },

  "cancelling a parent cancels its children, except detached ones": async ({ store, id }) => {
    const waiter = defineWorkflow(id("waiter"), async (ctx) => ctx.recv("go"))
    const parent = defineWorkflow(id("parent"), async (ctx) => {
      await ctx.start(waiter, undefined)
      await ctx.start(waiter, undefined, { detached: true })
      await ctx.recv("never")
    })
    const durably = await launch(store, id("exec"), [parent, waiter])
    try {
      const h = await durably.start(parent, undefined, { id: id("p") })
      const attached = durably.handle(`@child:${id("p")}:0`)
      const detached = durably.handle(`@child:${id("p")}:1`)
      await until(async () => (await detached.status().catch(() => undefined)) !== undefined, "the children")
      await h.cancel()
      const o = await attached.outcome()
      assert.equal(o.status, "CANCELLED")
      assert.ok(o.status === "CANCELLED" && o.error instanceof WorkflowCancelled)
      assert.equal((await detached.status()).status, "PENDING")
      await durably.send(detached.id, "go", "free")
      assert.equal(await detached.result(), "free")
    } finally {
      await durably.shutdown()
    }
  },

  "ctx.enqueue fans out on a limited queue and gathers the results, once each": async ({ store, id, run }) => {
    let running = 0
    let peak = 0
    const task = defineWorkflow(id("task"), async (ctx, n: number) =>
      ctx.step("work", async () => {
        peak = Math.max(peak, ++running)
        await new Promise((r) => setTimeout(r, 10))
        running--
        return n * n
      }),
    )
    const q = testQueue(id("q"), { concurrency: 2 })
    const fanOut = defineWorkflow(id("fan"), async (ctx, n: number) => {
      const handles = []
      for (let i = 1; i <= n; i++) handles.push(await ctx.enqueue(q, task, i))
      return Promise.all(handles.map((h) => h.result()))
    })
    const durably = await launch(store, id("exec"), [fanOut, task], [q])
    try {
      assert.deepEqual(await durably.run(fanOut, 6, { id: id("f") }), [1, 4, 9, 16, 25, 36])
      assert.ok(peak <= 2, `peak ${peak}`)
      const children = await run(store.listWorkflows({ name: id("task") }))
      assert.equal(children.length, 6)
      assert.ok(children.every((c) => c.parentId === id("f") && c.queue === q.name))
    } finally {
      await durably.shutdown()
    }
  },

  "durably.enqueue: duplicates fail or attach, a full queue refuses, a partitioned one needs a key": async ({
    store,
    id,
    run,
  }) => {
    const task = defineWorkflow(id("task"), async (ctx) => ctx.recv("go"))
    const q = testQueue(id("q"), { maxLength: 2 })
    const parted = testQueue(id("parted"), { partition: { concurrency: 1 } })
    // Enqueue only: this process serves no queue, so the work stays queued.
    const durably = await Durably.launch({
      store,
      workflows: [task],
      executorId: id("exec"),
      queues: [q, parted],
      serveQueues: false,
      logger: false,
    })
    try {
      const a = await durably.enqueue(q, task, undefined, { deduplicationId: "d" })
      await assert.rejects(durably.enqueue(q, task, undefined, { deduplicationId: "d" }), (e: unknown) => {
        assert.ok(e instanceof DuplicateEnqueue)
        assert.equal(e.existingId, a.id)
        return true
      })
      const same = await durably.enqueue(q, task, undefined, { deduplicationId: "d", onDuplicate: "attach" })
      assert.equal(same.id, a.id)
      // A batch with a duplicate stores nothing at all.
      const before = (await run(store.listWorkflows({ name: id("task") }))).length
      await assert.rejects(
        durably.enqueueMany(q, task, [1, 2], (n) => (n === 2 ? { deduplicationId: "d" } : {})),
        DuplicateEnqueue,
      )
      assert.equal((await run(store.listWorkflows({ name: id("task") }))).length, before)
      await durably.enqueue(q, task, undefined)
      await assert.rejects(durably.enqueue(q, task, undefined), QueueFull)
      await assert.rejects(durably.enqueue(parted, task, undefined), /needs a partitionKey/)
      const many = await durably.enqueueMany(parted, task, [1, 2, 3], (n) => ({ partitionKey: `k${String(n)}` }))
      assert.equal(many.length, 3)
      assert.equal((await many[0]!.status()).status, "ENQUEUED")
    } finally {
      await durably.shutdown()
    }
  },

  "a child started or enqueued after its parent was cancelled elsewhere is CANCELLED, not run": async ({
    store,
    id,
    run,
    another,
  }) => {
    // The parent's cancellation commits (from another process) right after its step's checkpoint, before its
    // execution hears of it: its next operations create children, which the cancellation's cascade could not
    // reach. They must be created cancelled (detached ones excepted) and never run.
    const other = await another()
    const parentIds = new Set([id("started"), id("enqueued")])
    const racing: Store = {
      ...store,
      writeCheckpoint: (wid, epoch, cp) =>
        store
          .writeCheckpoint(wid, epoch, cp)
          .pipe(
            Effect.tap(() =>
              parentIds.has(wid) && cp.name === "before"
                ? Effect.asVoid(other.cancelWorkflow(wid, "cancelled"))
                : Effect.void,
            ),
          ),
    }
    let childRuns = 0
    const child = defineWorkflow(id("child"), async (ctx) => ctx.step("work", () => ++childRuns))
    const q = testQueue(id("q"))
    const starter = defineWorkflow(id("starter"), async (ctx) => {
      await ctx.step("before", () => 1)
      await ctx.start(child, undefined)
      await ctx.start(child, undefined, { detached: true })
    })
    const enqueuer = defineWorkflow(id("enqueuer"), async (ctx) => {
      await ctx.step("before", () => 1)
      await ctx.enqueue(q, child, undefined)
    })
    const durably = await launch(racing, id("exec"), [starter, enqueuer, child], [q])
    try {
      for (const [wf, parent] of [
        [starter, id("started")],
        [enqueuer, id("enqueued")],
      ] as const) {
        const h = await durably.start(wf, undefined, { id: parent })
        assert.equal((await h.outcome()).status, "CANCELLED")
        const attached = durably.handle(`@child:${parent}:1`)
        const detached = durably.handle(`@child:${parent}:2`)
        // The parent may have stopped before reaching the children; those it did create follow the rule.
        const a = await run(store.getWorkflow(attached.id))
        if (a) assert.equal((await attached.outcome()).status, "CANCELLED")
        const d = await run(store.getWorkflow(detached.id))
        if (d) assert.equal((await detached.outcome()).status, "SUCCESS")
      }
      const created = await run(store.listWorkflows({ name: id("child") }))
      const detachedCount = created.filter((c) => c.id.endsWith(":2")).length
      assert.equal(childRuns, detachedCount)
    } finally {
      await durably.shutdown()
    }
  },

  "the store creates a child of a cancelled parent cancelled, by start and by enqueue": async ({ store, id, run }) => {
    const base = { name: "wf", input: "1", appVersion: "1.0.0", executorId: "exec-a" }
    await run(store.createWorkflow({ ...base, id: id("p") }))
    await run(store.cancelWorkflow(id("p"), "timeout"))
    const parent = { id: id("p"), step: 0 }
    const started = await run(store.createWorkflow({ ...base, id: id("c1"), parent: { ...parent, detached: false } }))
    assert.equal(started.record.status, "CANCELLED")
    assert.equal(started.record.cancelReason, "timeout")
    const loose = await run(store.createWorkflow({ ...base, id: id("c2"), parent: { ...parent, detached: true } }))
    assert.equal(loose.record.status, "PENDING")
    const q = id("q")
    await run(store.registerQueue(queueConfig(q, {}), "1.0.0"))
    const enqueued = await run(
      store.enqueue({
        queue: q,
        appVersion: "1.0.0",
        parentId: id("p"),
        items: [
          { id: id("c3"), name: "wf", input: "1", parentStep: 1 },
          { id: id("c4"), name: "wf", input: "1", parentStep: 2, detached: true },
        ],
      }),
    )
    assert.equal(enqueued._tag, "Enqueued")
    assert.equal((await run(store.getWorkflow(id("c3"))))?.status, "CANCELLED")
    assert.equal((await run(store.getWorkflow(id("c4"))))?.status, "ENQUEUED")
    // A live parent's children are created as usual.
    await run(store.createWorkflow({ ...base, id: id("live") }))
    const normal = await run(
      store.createWorkflow({ ...base, id: id("c5"), parent: { id: id("live"), step: 0, detached: false } }),
    )
    assert.equal(normal.record.status, "PENDING")
  },
}
