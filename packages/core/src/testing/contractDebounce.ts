/** Contract cases for debouncing: the store's join-or-add, with maxWait, across stores and racing callers. */
import assert from "node:assert/strict"
import { Durably } from "../Durably.ts"
import type { DebounceRequest, Store } from "../store/Store.ts"
import { defineWorkflow } from "../workflow.ts"
import type { ContractCase, ContractTest } from "./contract.ts"

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
