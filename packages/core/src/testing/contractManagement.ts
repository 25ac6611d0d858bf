/**
 * Contract cases for the management plane, through the public API (`durably.workflows`, a client) so that
 * the port, its revival of values and its bad-input errors are all covered on every store.
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import { InvalidArgument, WorkflowNotFound } from "../errors.ts"
import { queueConfig } from "../queues.ts"
import type { NewQueued, Store } from "../store/Store.ts"
import { defineWorkflow, type WorkflowDefinition } from "../workflow.ts"

type Wf = WorkflowDefinition<any, any, any, never>
import type { ContractCase, ContractTest } from "./contract.ts"
import { until } from "./until.ts"

const launch = (store: Store, executorId: string, workflows: ReadonlyArray<Wf>, appVersion = "v1") =>
  Durably.launch({ store, workflows, executorId, appVersion, logger: false })

const rejectsWith = async (p: Promise<unknown>, cls: abstract new (...a: any) => unknown, text?: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`)
    if (text) assert.match((e as Error).message, text)
    return true
  })

/** A queue that no dispatcher serves: enqueued work stays put (listing fodder). */
const parkedQueue = async (c: ContractCase, name: string) => {
  await c.run(c.store.registerQueue(queueConfig(name, {}), "v1"))
  return name
}

const enqueueRows = async (c: ContractCase, queue: string, items: ReadonlyArray<NewQueued>) => {
  const r = await c.run(c.store.enqueue({ queue, items, appVersion: "v1" }))
  assert.equal(r._tag, "Enqueued")
}

export const managementContract: Record<string, ContractTest> = {
  "list pages by keyset over 10,000 workflows while others are inserted, in both orders": async (c) => {
    const queue = await parkedQueue(c, c.id("q"))
    const prefix = c.id("k-")
    const total = 10_000
    for (let b = 0; b < total; b += 1000)
      await enqueueRows(
        c,
        queue,
        Array.from({ length: 1000 }, (_, i) => ({
          id: `${prefix}${String(b + i).padStart(5, "0")}`,
          name: "task",
          input: "1",
        })),
      )
    const client = await Durably.client({ store: c.store, logger: false })
    let racing = 0
    try {
      for (const order of ["asc", "desc"] as const) {
        const seen: string[] = []
        let cursor: string | undefined
        do {
          const page = await client.workflows.list({
            idPrefix: prefix,
            queue,
            order,
            limit: 700,
            ...(cursor ? { cursor } : {}),
          })
          seen.push(...page.workflows.map((w) => w.id))
          cursor = page.nextCursor
          // Inserts race the listing: new rows land after the last page (asc) or before the first (desc).
          await enqueueRows(c, queue, [{ id: `${prefix}x-${order}-${racing++}`, name: "task", input: "1" }])
        } while (cursor)
        const original = seen.filter((id) => !id.includes("x-"))
        assert.equal(new Set(seen).size, seen.length, "no workflow is listed twice")
        assert.equal(original.length, total, "every workflow that existed is listed")
        const sorted = [...original].sort()
        assert.deepEqual(original, order === "asc" ? sorted : sorted.reverse())
      }
      assert.equal(await client.workflows.count({ idPrefix: prefix, status: "ENQUEUED" }), total + racing)
    } finally {
      await client.close()
    }
  },

  "list filters by status, name, time, version, parent and owner; count agrees; bad filters are refused": async (c) => {
    const ok = defineWorkflow(c.id("ok"), async (ctx, n: number) => ctx.step("double", () => n * 2))
    const bad = defineWorkflow(c.id("bad"), async (ctx) => {
      await ctx.step("fail", () => {
        throw new Error("boom")
      })
    })
    const durably = await launch(c.store, c.id("exec"), [ok, bad])
    try {
      const t0 = Date.now() - 1
      await durably.run(ok, 1, { id: c.id("a") })
      await (await durably.start(bad, undefined, { id: c.id("b") })).outcome()
      await durably.run(ok, 2, { id: c.id("c") })
      const prefix = c.id("")
      const errors = await durably.workflows.list({ idPrefix: prefix, status: "ERROR", includeOutput: true })
      assert.deepEqual(
        errors.workflows.map((w) => w.id),
        [c.id("b")],
      )
      assert.equal((errors.workflows[0]!.error as Error).message, "boom")
      const oks = await durably.workflows.list({
        idPrefix: prefix,
        name: ok.name,
        order: "asc",
        includeInput: true,
        includeOutput: true,
      })
      assert.deepEqual(
        oks.workflows.map((w) => [w.id, w.input, w.output]),
        [
          [c.id("a"), 1, 2],
          [c.id("c"), 2, 4],
        ],
      )
      assert.equal(oks.workflows[0]!.appVersion, "v1")
      assert.equal(oks.nextCursor, undefined)
      const plain = await durably.workflows.list({ idPrefix: prefix, limit: 1 })
      assert.equal(plain.workflows[0]!.input, undefined, "inputs only when asked for")
      assert.equal(plain.workflows[0]!.id, c.id("c"), "newest first by default")
      assert.equal(await durably.workflows.count({ idPrefix: prefix, createdAfter: t0, appVersion: "v1" }), 3)
      assert.equal(await durably.workflows.count({ idPrefix: prefix, createdBefore: t0 }), 0)
      assert.equal(await durably.workflows.count({ idPrefix: prefix, appVersion: "v0" }), 0)
      assert.equal(await durably.workflows.count({ idPrefix: prefix, parentId: c.id("a") }), 0)
      assert.equal(await durably.workflows.count({ idPrefix: prefix, executorId: null }), 0)
      assert.equal(await durably.workflows.count({ idPrefix: prefix, name: [ok.name, bad.name] }), 3)
      await rejectsWith(durably.workflows.list({ status: "FINISHED" as never }), InvalidArgument, /status/)
      await rejectsWith(durably.workflows.list({ limit: 0 }), InvalidArgument, /limit/)
      await rejectsWith(durably.workflows.count({ stauts: "ERROR" } as never), InvalidArgument, /stauts/)
      await rejectsWith(
        durably.workflows.list({ idPrefix: prefix, cursor: plain.nextCursor!, status: "ERROR" }),
        InvalidArgument,
        /cursor/,
      )
      await rejectsWith(durably.workflows.list({ cursor: "nonsense" }), InvalidArgument, /cursor/)
    } finally {
      await durably.shutdown()
    }
  },

  "get and steps show everything recorded: attempts with their errors, events, stream values, children": async (c) => {
    const child = defineWorkflow(c.id("child"), async () => "kid")
    let failures = 1
    const wf = defineWorkflow(c.id("wf"), async (ctx, n: number) => {
      const a = await ctx.step(
        "flaky",
        () => {
          if (failures-- > 0) throw new Error("first attempt fails")
          return n + 1
        },
        { retry: { maxAttempts: 3, initialDelay: 1 } },
      )
      await ctx.setEvent("stage", "half")
      await ctx.writeStream("log", "line 1")
      await ctx.closeStream("log")
      const kid = await ctx.run(child, undefined)
      return { a, kid }
    })
    const durably = await launch(c.store, c.id("exec"), [wf, child])
    try {
      await durably.run(wf, 41, { id: c.id("w") })
      const detail = await durably.workflows.get(c.id("w"))
      assert.equal(detail.status, "SUCCESS")
      assert.equal(detail.input, 41)
      assert.deepEqual(detail.output, { a: 42, kid: "kid" })
      assert.equal(detail.name, wf.name)
      assert.ok(detail.completedAt instanceof Date)
      const steps = await durably.workflows.steps(c.id("w"))
      assert.deepEqual(
        steps.map((s) => [s.stepId, s.name, s.kind, s.state]),
        [
          [0, "flaky", "step", "done"],
          [1, "stage", "setEvent", "done"],
          [2, "log", "writeStream", "done"],
          [3, "log", "closeStream", "done"],
          [4, child.name, "start", "done"],
          [5, `@child:${c.id("w")}:4`, "result", "done"],
        ],
      )
      assert.equal(steps[0]!.attempts, 2)
      assert.equal((steps[0]!.attemptErrors[0] as Error).message, "first attempt fails")
      assert.equal(steps[0]!.output, 42)
      assert.deepEqual(steps[1]!.events, [{ key: "stage", value: "half" }])
      assert.deepEqual(steps[2]!.streamValues, [{ key: "log", offset: 0, value: "line 1" }])
      assert.deepEqual(steps[3]!.streamsClosed, ["log"])
      assert.equal(steps[4]!.childId, `@child:${c.id("w")}:4`)
      const kid = await durably.workflows.get(steps[4]!.childId)
      assert.equal(kid.parentId, c.id("w"))
      assert.equal(kid.parentStep, 4)
      await rejectsWith(durably.workflows.get(c.id("none")), WorkflowNotFound)
      await rejectsWith(durably.workflows.steps(c.id("none")), WorkflowNotFound)
      // The handle's status is the same surface.
      assert.deepEqual(await durably.handle(c.id("w")).status(), detail)
    } finally {
      await durably.shutdown()
    }
  },

  "cancel: with children by default, only the one with children: false, many by filter": async (c) => {
    const child = defineWorkflow(c.id("child"), async (ctx) => ctx.recv("never"))
    const parent = defineWorkflow(c.id("parent"), async (ctx) => {
      await ctx.start(child, undefined)
      return ctx.recv("never")
    })
    const durably = await launch(c.store, c.id("exec"), [parent, child])
    try {
      const kidOf = (p: string) => `@child:${p}:0`
      for (const p of ["p1", "p2", "p3", "p4"]) await durably.start(parent, undefined, { id: c.id(p) })
      await until(
        async () => (await durably.workflows.count({ idPrefix: "@child:" + c.id(""), status: "PENDING" })) === 4,
        "children started",
      )
      await durably.workflows.cancel(c.id("p1"), { children: false })
      assert.equal((await durably.workflows.get(c.id("p1"))).status, "CANCELLED")
      assert.equal((await durably.workflows.get(kidOf(c.id("p1")))).status, "PENDING")
      await durably.workflows.cancel(c.id("p2"))
      assert.equal((await durably.workflows.get(kidOf(c.id("p2")))).status, "CANCELLED")
      const many = await durably.workflows.cancelMany({ name: parent.name, idPrefix: c.id(""), status: "PENDING" })
      assert.deepEqual([...many.ids].sort(), [c.id("p3"), c.id("p4")])
      for (const p of ["p3", "p4"]) assert.equal((await durably.workflows.get(kidOf(c.id(p)))).status, "CANCELLED")
      await durably.workflows.cancel(c.id("p3")) // finished: a no-op
      await rejectsWith(durably.workflows.cancel(c.id("none")), WorkflowNotFound)
      await rejectsWith(durably.workflows.cancel(c.id("p1"), { children: "yes" as never }), InvalidArgument, /children/)
      await durably.workflows.cancel(kidOf(c.id("p1")))
    } finally {
      await durably.shutdown()
    }
  },

  "resume runs a CANCELLED, ERROR or DEAD workflow again from its checkpoints; not a running or successful one": async (
    c,
  ) => {
    let calls = 0
    let fail = true
    const wf = defineWorkflow(c.id("wf"), async (ctx) => {
      const once = await ctx.step("once", () => ++calls)
      const answer = await ctx.recv<string>("go")
      if (fail && answer === "fail") throw new Error("asked to fail")
      return { once, answer }
    })
    // DEAD: one engine starts it and lets go of it (shutdown); a claimer that keeps crashing (claims through the
    // port, as recovery does) drives it past the recovery limit. The client keeps the store open in between.
    const client = await Durably.client({ store: c.store, logger: false })
    const first = await launch(c.store, c.id("exec"), [wf])
    const dead = await first.start(wf, undefined, { id: c.id("d") })
    await until(async () => (await first.workflows.steps(dead.id)).length >= 1, "first step of the one to die")
    await first.shutdown()
    const limit = { countRecovery: true, maxRecoveryAttempts: 1 }
    assert.equal((await c.run(c.store.claimWorkflow(dead.id, c.id("crasher"), limit)))._tag, "Claimed")
    assert.equal((await c.run(c.store.claimWorkflow(dead.id, c.id("crasher"), limit)))._tag, "Dead")
    assert.equal((await client.workflows.get(dead.id)).status, "DEAD")
    assert.equal(calls, 1)
    const durably = await launch(c.store, c.id("exec"), [wf])
    try {
      await durably.workflows.resume(dead.id)
      assert.equal((await durably.workflows.get(dead.id)).recoveryAttempts, 0, "a resume starts the count afresh")
      await durably.send(dead.id, "go", "revived")
      assert.deepEqual(await durably.handle(dead.id).result(), { once: 1, answer: "revived" })
      assert.equal(calls, 1, "the DEAD workflow's step was not run again")
      const h = await durably.start(wf, undefined, { id: c.id("w") })
      await until(async () => (await durably.workflows.steps(h.id)).length >= 1, "first step")
      await rejectsWith(durably.workflows.resume(h.id), InvalidArgument, /PENDING/)
      await durably.workflows.cancel(h.id)
      assert.equal((await h.outcome()).status, "CANCELLED")
      await durably.workflows.resume(h.id)
      await durably.send(h.id, "go", "fail")
      assert.equal((await h.outcome()).status, "ERROR")
      fail = false
      // ERROR: the failure came from workflow code, which replays; the message it consumed is recorded.
      await durably.workflows.resume(h.id)
      assert.deepEqual(await h.result(), { once: 2, answer: "fail" })
      assert.equal(calls, 2, "each workflow's step ran once across the resumes")
      await rejectsWith(durably.workflows.resume(h.id), InvalidArgument, /succeeded/)
      await rejectsWith(durably.workflows.resume(c.id("none")), WorkflowNotFound)
      const detail = await durably.workflows.get(h.id)
      assert.equal(detail.recoveryAttempts, 0)
    } finally {
      await durably.shutdown()
      await client.close()
    }
  },

  "resume with appVersion moves a workflow stranded on another version; stranded() reports it": async (c) => {
    const wf = defineWorkflow(c.id("wf"), async (ctx) => {
      const a = await ctx.step("a", () => "from v1")
      return [a, await ctx.recv<string>("go")]
    })
    // The client keeps the store open across the old engine's shutdown (an engine closes its store when it is the last user).
    const client = await Durably.client({ store: c.store, logger: false })
    const v1 = await launch(c.store, c.id("old"), [wf], c.id("v1"))
    const h = await v1.start(wf, undefined, { id: c.id("w") })
    await until(async () => (await v1.workflows.steps(h.id)).length >= 1, "first step")
    await v1.shutdown() // releases it: PENDING, owned by nobody, recorded under v1
    const v2 = await launch(c.store, c.id("new"), [wf], c.id("v2"))
    try {
      assert.equal((await v2.workflows.get(h.id)).status, "PENDING")
      const stranded = await v2.workflows.stranded()
      assert.deepEqual(
        stranded.filter((s) => s.appVersion === c.id("v1")),
        [{ appVersion: c.id("v1"), count: 1 }],
      )
      const moved = await v2.workflows.resumeMany(
        { status: "PENDING", appVersion: c.id("v1"), idPrefix: c.id("") },
        { appVersion: c.id("v2") },
      )
      assert.deepEqual(moved.ids, [h.id])
      await v2.send(h.id, "go", "done")
      assert.deepEqual(await v2.handle(h.id).result(), ["from v1", "done"])
      assert.equal((await client.workflows.get(h.id)).appVersion, c.id("v2"))
    } finally {
      await v2.shutdown()
      await client.close()
    }
  },

  "fork reuses the checkpoints before a step, with events and stream values as they stood, and runs live from there":
    async (c) => {
      const charged: string[] = []
      let providerUp = false
      const wf = defineWorkflow(c.id("checkout"), async (ctx, order: string) => {
        await ctx.setEvent("stage", "reserved")
        await ctx.writeStream("log", "reserved")
        const hold = await ctx.step("reserve", () => `hold-${order}-${charged.length}`)
        await ctx.setEvent("stage", "paying")
        const receipt = await ctx.step("pay", () => {
          if (!providerUp) throw new Error("provider down")
          charged.push(order)
          return `paid-${order}`
        })
        await ctx.setEvent("stage", "paid")
        return { hold, receipt }
      })
      const durably = await launch(c.store, c.id("exec"), [wf])
      try {
        const h = await durably.start(wf, "o1", { id: c.id("w") })
        assert.equal((await h.outcome()).status, "ERROR")
        const steps = await durably.workflows.steps(h.id)
        const pay = steps.find((s) => s.name === "pay")!
        assert.equal(pay.stepId, 4)
        providerUp = true
        const forkId = await durably.workflows.fork(h.id, { fromStep: "pay", id: c.id("f") })
        assert.equal(forkId, c.id("f"))
        // As it stood at the payment step: the event was "paying", the stream had its one value.
        assert.deepEqual(await durably.handle(forkId).result(), { hold: "hold-o1-0", receipt: "paid-o1" })
        assert.deepEqual(charged, ["o1"])
        const forkSteps = await durably.workflows.steps(forkId)
        assert.deepEqual(
          forkSteps.map((s) => s.name),
          ["stage", "log", "reserve", "stage", "pay", "stage"],
        )
        assert.equal(await durably.getEvent(forkId, "stage"), "paid")
        const detail = await durably.workflows.get(forkId)
        assert.equal(detail.forkedFrom, h.id)
        assert.equal((await durably.workflows.get(h.id)).status, "ERROR", "the source is untouched")
        // Events as of the step: a fork from step 3 sees "reserved", not the later "paying".
        providerUp = false
        const early = await durably.workflows.fork(h.id, { fromStep: 3, id: c.id("g") })
        assert.equal((await durably.handle(early).outcome()).status, "ERROR")
        const earlySteps = await durably.workflows.steps(early)
        assert.deepEqual(earlySteps[0]!.events, [{ key: "stage", value: "reserved" }])
        const values: unknown[] = []
        for await (const v of durably.readStream(early, "log", { from: 0 })) values.push(v)
        assert.deepEqual(values, ["reserved"])
        // A new input, and a fork from scratch.
        providerUp = true
        const fresh = await durably.workflows.fork(h.id, { fromStep: 0, input: "o2" })
        assert.deepEqual(await durably.handle(fresh).result(), { hold: "hold-o2-1", receipt: "paid-o2" })
        await rejectsWith(durably.workflows.fork(h.id, { fromStep: 9 }), InvalidArgument, /steps are 0 to 4/)
        await rejectsWith(durably.workflows.fork(h.id, { fromStep: "refund" }), InvalidArgument, /refund/)
        await rejectsWith(durably.workflows.fork(h.id, { fromStep: -1 }), InvalidArgument, /fromStep/)
        await rejectsWith(durably.workflows.fork(h.id, { fromStep: 0, id: c.id("f") }), InvalidArgument, /taken/)
        await rejectsWith(durably.workflows.fork(c.id("none"), { fromStep: 0 }), WorkflowNotFound)
        assert.equal(await durably.workflows.count({ idPrefix: c.id("") }), 3, "refused forks stored nothing")
      } finally {
        await durably.shutdown()
      }
    },

  "delete and prune leave no row behind: checkpoints, messages, events, streams, children": async (c) => {
    const child = defineWorkflow(c.id("child"), async (ctx) => {
      await ctx.setEvent("k", "v")
      return "kid"
    })
    const wf = defineWorkflow(c.id("wf"), async (ctx) => {
      await ctx.setEvent("k", "v")
      await ctx.writeStream("s", 1)
      await ctx.closeStream("s")
      const m = await ctx.recv<string>("m")
      await ctx.run(child, undefined)
      return m
    })
    const durably = await launch(c.store, c.id("exec"), [wf, child])
    try {
      const ids = ["d1", "p1", "p2", "keep"].map((s) => c.id(s))
      for (const id of ids) {
        await durably.start(wf, undefined, { id })
        await durably.send(id, "m", "hello")
        await durably.send(id, "unread", "left in the inbox")
        await durably.handle(id).result()
      }
      const gone = async (id: string) => {
        await rejectsWith(durably.workflows.get(id), WorkflowNotFound)
        const h = await c.run(c.store.management.history(id))
        assert.deepEqual(h, { checkpoints: [], events: [], streamValues: [], streamCloses: [] })
        assert.equal(await c.run(c.store.getEvent(id, "k")), undefined)
        assert.deepEqual(await c.run(c.store.readStream(id, "s", 0, 10)), { values: [], closed: false })
        assert.deepEqual(await c.run(c.store.loadCheckpoints(id)), [])
        assert.deepEqual(await c.run(c.store.sendMessage({ destination: id, topic: "m", payload: "1" })), {
          _tag: "NotFound",
        })
      }
      await durably.workflows.delete(c.id("d1"))
      await gone(c.id("d1"))
      await gone(`@child:${c.id("d1")}:4`)
      await rejectsWith(durably.workflows.delete(c.id("d1")), WorkflowNotFound)
      const running = await durably.start(wf, undefined, { id: c.id("running") })
      await rejectsWith(durably.workflows.delete(running.id), InvalidArgument, /cancel it first/)
      await durably.workflows.cancel(running.id)
      // Prune: everything finished before "now" of the status asked for, in batches of 1.
      await new Promise((r) => setTimeout(r, 5))
      await rejectsWith(durably.workflows.prune({} as never), InvalidArgument, /olderThan/)
      await rejectsWith(durably.workflows.prune({ olderThan: "1 day", status: "PENDING" }), InvalidArgument, /PENDING/)
      const before = await durably.workflows.count({ idPrefix: c.id(""), status: "SUCCESS" })
      assert.equal(before, 3)
      assert.equal(await durably.workflows.prune({ olderThan: "1 hour" }), 0, "nothing that old")
      const pruned = await durably.workflows.prune({ olderThan: 0, status: ["SUCCESS"], batchSize: 1 })
      assert.ok(pruned >= 6, `pruned ${pruned}`) // three parents and their three children, at least (shared stores hold more)
      for (const id of [c.id("p1"), c.id("p2"), c.id("keep")]) await gone(id)
      assert.equal((await durably.workflows.get(running.id)).status, "CANCELLED", "other statuses stay")
    } finally {
      await durably.shutdown()
    }
  },
}
