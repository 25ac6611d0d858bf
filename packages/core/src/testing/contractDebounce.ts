/**
 * Contract cases for debouncing: the store's join-or-add, with maxWait, across stores and racing callers;
 * `ctx.debounce`'s call written with the caller's checkpoint; engines running debounced runs.
 */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { Checkpoint, DebounceRequest, Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import { expectFenced, type ContractCase, type ContractTest } from "./contract.ts"
import { until } from "./until.ts"

const request = (c: ContractCase, over: Partial<DebounceRequest> = {}): DebounceRequest => ({
  id: c.id(`run-${Math.random().toString(36).slice(2, 8)}`),
  name: c.id("wf"),
  key: "k",
  input: '"x"',
  appVersion: "v1",
  delayMs: 60_000,
  ...over,
})

const get = async (c: ContractCase, id: string, store: Store = c.store) => c.run(store.getWorkflow(id))

const debounceDone = (stepId: number): Checkpoint => ({
  stepId,
  name: `wf:k`,
  kind: "debounce",
  state: "done",
  seq: stepId,
  attempts: 1,
  startedAt: 1_000 + stepId,
  completedAt: 2_000 + stepId,
})

/** A PENDING caller at epoch 1, owned by exec-a. */
const caller = async (c: ContractCase, suffix: string) =>
  (
    await c.run(
      c.store.createWorkflow({
        id: c.id(suffix),
        name: "caller",
        input: "null",
        appVersion: "v1",
        executorId: "exec-a",
      }),
    )
  ).record.id

export const debounceContract: Record<string, ContractTest> = {
  "calls with one key join the waiting run: one DELAYED workflow on @debounce with the latest input": async (c) => {
    const first = await c.run(c.store.debounce(request(c, { input: '"a"' })))
    const second = await c.run(c.store.debounce(request(c, { input: '"b"' })))
    const other = await c.run(c.store.debounce(request(c, { key: "other" })))
    assert.equal(first.created, true)
    assert.deepEqual(second, { id: first.id, created: false })
    assert.notEqual(other.id, first.id)
    const w = await get(c, first.id)
    assert.equal(w?.status, "DELAYED")
    assert.equal(w?.queue, "@debounce")
    assert.equal(w?.input, '"b"')
  },

  "a call with no delay left makes the run startable; a claimed run is not joined, the next call starts anew": async (
    c,
  ) => {
    await c.run(c.store.registerQueue({ name: "@debounce", priority: false }, "v1"))
    const name = c.id("wf")
    const first = await c.run(c.store.debounce(request(c, { name, delayMs: 0 })))
    assert.equal((await get(c, first.id))?.status, "ENQUEUED")
    const claim = await c.run(
      c.store.claimQueue({ queue: "@debounce", executorId: c.id("e"), max: 10, names: [name], appVersion: "v1" }),
    )
    assert.deepEqual(
      claim.claimed.map((r) => r.id),
      [first.id],
    )
    const next = await c.run(c.store.debounce(request(c, { name })))
    assert.equal(next.created, true)
    assert.notEqual(next.id, first.id)
  },

  "maxWait caps how far calls move the start": async (c) => {
    await c.run(c.store.registerQueue({ name: "@debounce", priority: false }, "v1"))
    const name = c.id("wf")
    const first = await c.run(c.store.debounce(request(c, { name, delayMs: 60_000, maxWaitMs: 0 })))
    // maxWait 0: startable at once, and a second call cannot push it out.
    const again = await c.run(c.store.debounce(request(c, { name, delayMs: 60_000, maxWaitMs: 0 })))
    assert.equal(again.id, first.id)
    const claim = await c.run(
      c.store.claimQueue({ queue: "@debounce", executorId: c.id("e"), max: 10, names: [name], appVersion: "v1" }),
    )
    assert.deepEqual(
      claim.claimed.map((r) => r.id),
      [first.id],
    )
  },

  "racing calls from two stores make one waiting run": async (c) => {
    const other = await c.another()
    const name = c.id("wf")
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        c.run((i % 2 ? other : c.store).debounce(request(c, { name, input: String(i) }))),
      ),
    )
    assert.equal(new Set(results.map((r) => r.id)).size, 1)
    assert.equal(results.filter((r) => r.created).length, 1)
  },

  "debounceFromWorkflow joins or adds the run and writes the caller's checkpoint (the run's id) with it": async (c) => {
    const [a, b] = [await caller(c, "a"), await caller(c, "b")]
    const name = c.id("wf")
    const first = await c.run(c.store.debounceFromWorkflow(a, 1, request(c, { name, input: '"a"' }), debounceDone(0)))
    const runId = JSON.parse(first.output!) as string
    assert.equal(first.kind, "debounce")
    assert.equal((await get(c, runId))?.status, "DELAYED")
    const second = await c.run(c.store.debounceFromWorkflow(b, 1, request(c, { name, input: '"b"' }), debounceDone(0)))
    assert.equal(JSON.parse(second.output!), runId)
    assert.equal((await get(c, runId))?.input, '"b"')
    for (const w of [a, b]) {
      const [cp] = await c.run(c.store.loadCheckpoints(w))
      assert.equal(cp?.state, "done")
      assert.equal(JSON.parse(cp.output!), runId)
    }
  },

  "debounceFromWorkflow: a done checkpoint at the step stands and nothing is debounced; a fenced caller debounces nothing":
    async (c) => {
      await c.run(c.store.registerQueue({ name: "@debounce", priority: false }, "v1"))
      const a = await caller(c, "a")
      const name = c.id("wf")
      const first = await c.run(c.store.debounceFromWorkflow(a, 1, request(c, { name, input: '"a"' }), debounceDone(0)))
      const runId = JSON.parse(first.output!) as string
      // The run starts; the same call again (a retried write whose reply was lost) must not start a new burst.
      await c.run(c.store.debounce(request(c, { name, delayMs: 0 })))
      const claim = await c.run(
        c.store.claimQueue({ queue: "@debounce", executorId: c.id("e"), max: 10, names: [name], appVersion: "v1" }),
      )
      assert.deepEqual(
        claim.claimed.map((r) => r.id),
        [runId],
      )
      const again = await c.run(c.store.debounceFromWorkflow(a, 1, request(c, { name, input: '"x"' }), debounceDone(0)))
      assert.deepEqual(again, first)
      const byName = async () => (await c.run(c.store.listWorkflows({ name }))).map((r) => r.id)
      assert.deepEqual(await byName(), [runId])
      // Claimed by another executor (epoch 2): the old epoch's call is refused and adds no run.
      await c.run(c.store.claimWorkflow(a, "exec-b", { countRecovery: false, maxRecoveryAttempts: 10 }))
      await expectFenced(c.run(c.store.debounceFromWorkflow(a, 1, request(c, { name }), debounceDone(1))))
      assert.deepEqual(await byName(), [runId])
      assert.deepEqual(
        (await c.run(c.store.loadCheckpoints(a))).map((cp) => cp.stepId),
        [0],
      )
    },

  "ctx.debounce from workflows on two engines collapses into one run; each caller gets its result": async (c) => {
    let ran = 0
    const target = defineWorkflow(c.id("digest"), async (ctx, text: string) => {
      await ctx.step("send", () => void ran++)
      return text
    })
    // An hour's delay, so the run cannot start between the calls however slow the machine; a last call from
    // outside with no delay then starts it.
    const calling = defineWorkflow(c.id("caller"), async (ctx, text: string) => {
      const h = await ctx.debounce(target, "k", text, { delay: "1 hour" })
      return { id: h.id, result: await h.result() }
    })
    const other = await c.another()
    const options = { workflows: [target, calling], logger: false } as const
    const a = await Durably.launch({ ...options, store: c.store, executorId: c.id("a") })
    const b = await Durably.launch({ ...options, store: other, executorId: c.id("b") })
    try {
      const h1 = await a.start(calling, "one")
      const h2 = await b.start(calling, "two")
      const recorded = async (id: string) =>
        (await c.run(c.store.loadCheckpoints(id))).some((cp) => cp.kind === "debounce" && cp.state === "done")
      await until(async () => (await recorded(h1.id)) && (await recorded(h2.id)), "both callers' debounce records")
      const waiting = await c.run(c.store.listWorkflows({ name: target.name }))
      assert.equal(waiting.length, 1)
      assert.equal(waiting[0]?.status, "DELAYED")
      const now = await a.debounce(target, "k", "last", { delay: 0 })
      assert.equal(now.id, waiting[0]?.id)
      const expected = { id: now.id, result: "last" }
      assert.deepEqual(await h1.result(), expected)
      assert.deepEqual(await h2.result(), expected)
      assert.equal(ran, 1)
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },

  "an engine starts a debounced run when it is due, once, whichever engine was called": async (c) => {
    let ran = 0
    const wf = defineWorkflow(c.id("debounced"), async (ctx, text: string) => {
      await ctx.step("send", () => void ran++)
      return text
    })
    const other = await c.another()
    const a = await Durably.launch({ store: c.store, workflows: [wf], executorId: c.id("a"), logger: false })
    const b = await Durably.launch({ store: other, workflows: [wf], executorId: c.id("b"), logger: false })
    try {
      const h1 = await a.debounce(wf, "k", "one", { delay: "300 millis" })
      const h2 = await b.debounce(wf, "k", "two", { delay: "300 millis" })
      assert.equal(h2.id, h1.id)
      assert.equal(await h1.result(), "two")
      assert.equal(ran, 1)
    } finally {
      await a.shutdown()
      await b.shutdown()
    }
  },
}
