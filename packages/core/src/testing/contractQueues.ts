/** Contract cases for queues at the port: enqueue refusals and outcomes, and the claim's limits. */
import assert from "node:assert/strict"
import type { NewQueued, QueueConfig, Store } from "../store/Store.ts"
import type { ContractCase, ContractTest } from "./contract.ts"

const item = (id: string, over: Partial<NewQueued> = {}): NewQueued => ({ id, name: "task", input: "1", ...over })
const claimFor = (queue: string, executorId: string, max: number) => ({
  queue,
  executorId,
  max,
  names: ["task"],
  appVersion: "v2",
})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A queue with these settings, registered; returns its name. */
let queues = 0
const queue = async (
  c: ContractCase,
  settings: Omit<QueueConfig, "name" | "priority"> & { priority?: boolean } = {},
) => {
  const name = c.id(`q${++queues}`)
  await c.run(c.store.registerQueue({ priority: false, ...settings, name }, "v1"))
  return name
}

const enqueue = async (c: ContractCase, q: string, items: ReadonlyArray<NewQueued>, store: Store = c.store) =>
  c.run(store.enqueue({ queue: q, items, appVersion: "v1" }))

const enqueued = async (
  c: ContractCase,
  q: string,
  n: number,
  over: (i: number) => Partial<NewQueued> = () => ({}),
) => {
  const r = await enqueue(
    c,
    q,
    Array.from({ length: n }, (_, i) => item(c.id(`t${i}`), over(i))),
  )
  assert.equal(r._tag, "Enqueued")
}

const claimIds = async (c: ContractCase, q: string, executor: string, max: number, store: Store = c.store) =>
  (await c.run(store.claimQueue(claimFor(q, executor, max)))).claimed.map((r) => r.id)

const finish = (c: ContractCase, id: string, epoch = 2) =>
  c.run(c.store.completeWorkflow(id, epoch, { status: "SUCCESS", output: "1" }))

export const queuesContract: Record<string, ContractTest> = {
  "registerQueue stores settings and returns the ones it replaced": async (c) => {
    const name = c.id("q")
    const first = await c.run(c.store.registerQueue({ name, priority: false, concurrency: 3 }, "v1"))
    assert.equal(first, undefined)
    const second = await c.run(
      c.store.registerQueue(
        { name, priority: true, rateLimit: { limit: 5, periodMs: 60_000 }, partition: { concurrency: 1 } },
        "v2",
      ),
    )
    assert.deepEqual(second, { name, priority: false, concurrency: 3 })
    const third = await c.run(c.store.registerQueue({ name, priority: false }, "v3"))
    assert.deepEqual(third, {
      name,
      priority: true,
      rateLimit: { limit: 5, periodMs: 60_000 },
      partition: { concurrency: 1 },
    })
  },

  "enqueue refuses unknown queues, missing or stray partition keys, and priorities the queue does not allow": async (
    c,
  ) => {
    const plain = await queue(c)
    const parted = await queue(c, { partition: {} })
    const refused = async (q: string, items: NewQueued[], reason: string) => {
      const r = await enqueue(c, q, items)
      assert.deepEqual(r, { _tag: "Refused", reason })
    }
    await refused(c.id("nope"), [item(c.id("a"))], "unknown_queue")
    await refused(parted, [item(c.id("b"), { partitionKey: "k" }), item(c.id("c"))], "partition_required")
    await refused(plain, [item(c.id("d"), { partitionKey: "k" })], "partition_not_allowed")
    await refused(plain, [item(c.id("e"), { priority: 3 })], "priority_disabled")
    // Nothing of a refused batch was stored.
    assert.equal(await c.run(c.store.getWorkflow(c.id("b"))), undefined)
  },

  "enqueue answers per item: created, existing id (attach), duplicate deduplication id": async (c) => {
    const q = await queue(c)
    const first = await enqueue(c, q, [item(c.id("a"), { deduplicationId: "d1" })])
    assert.deepEqual(first, { _tag: "Enqueued", outcomes: [{ _tag: "Created", id: c.id("a") }] })
    const r = await enqueue(c, q, [
      item(c.id("a"), { input: "changed" }),
      item(c.id("b"), { deduplicationId: "d1" }),
      item(c.id("c"), { deduplicationId: "d2" }),
      item(c.id("d"), { deduplicationId: "d2" }),
    ])
    assert.deepEqual(r, {
      _tag: "Enqueued",
      outcomes: [
        { _tag: "Existing", id: c.id("a"), name: "task" },
        { _tag: "Duplicate", id: c.id("b"), existingId: c.id("a") },
        { _tag: "Created", id: c.id("c") },
        { _tag: "Duplicate", id: c.id("d"), existingId: c.id("c") },
      ],
    })
    const a = await c.run(c.store.getWorkflow(c.id("a")))
    assert.equal(a?.status, "ENQUEUED")
    assert.equal(a?.input, "1")
    assert.equal(a?.queue, q)
    // Once the holder has finished, the deduplication id is free again.
    assert.deepEqual(await claimIds(c, q, "x", 1), [c.id("a")])
    await finish(c, c.id("a"))
    const again = await enqueue(c, q, [item(c.id("e"), { deduplicationId: "d1" })])
    assert.deepEqual(again, { _tag: "Enqueued", outcomes: [{ _tag: "Created", id: c.id("e") }] })
  },

  "a refused duplicate or an id of another workflow rejects the whole batch, storing nothing": async (c) => {
    const q = await queue(c)
    await enqueue(c, q, [item(c.id("holder"), { deduplicationId: "d" }), item(c.id("other"), { name: "other" })])
    const dup = await enqueue(c, q, [item(c.id("a")), item(c.id("b"), { deduplicationId: "d", failOnDuplicate: true })])
    assert.equal(dup._tag, "Rejected")
    assert.deepEqual(dup._tag === "Rejected" ? dup.outcomes[1] : undefined, {
      _tag: "Duplicate",
      id: c.id("b"),
      existingId: c.id("holder"),
    })
    const conflict = await enqueue(c, q, [item(c.id("c")), item(c.id("other"))])
    assert.equal(conflict._tag, "Rejected")
    for (const id of ["a", "b", "c"]) assert.equal(await c.run(c.store.getWorkflow(c.id(id))), undefined)
  },

  "first in, first out: a batch in input order, then later enqueues": async (c) => {
    const q = await queue(c)
    const ids = Array.from({ length: 30 }, (_, i) => c.id(`f${i}`))
    await enqueue(
      c,
      q,
      ids.slice(0, 20).map((id) => item(id)),
    )
    for (const id of ids.slice(20)) await enqueue(c, q, [item(id)])
    assert.deepEqual(await claimIds(c, q, "x", 30), ids)
  },

  "a claim makes workflows PENDING for the claimer, bumps the epoch and stamps its version": async (c) => {
    const q = await queue(c)
    await enqueued(c, q, 3)
    const claim = await c.run(c.store.claimQueue(claimFor(q, "exec-a", 2)))
    assert.deepEqual(
      claim.claimed.map((r) => [r.id, r.status, r.executorId, r.epoch, r.appVersion]),
      [
        [c.id("t0"), "PENDING", "exec-a", 2, "v2"],
        [c.id("t1"), "PENDING", "exec-a", 2, "v2"],
      ],
    )
    assert.deepEqual(await claimIds(c, q, "exec-b", 5), [c.id("t2")])
    assert.deepEqual(await claimIds(c, q, "exec-b", 5), [])
    // Only workflows the claimer has code for.
    await enqueue(c, q, [item(c.id("other"), { name: "unknown" })])
    assert.deepEqual(await claimIds(c, q, "exec-b", 5), [])
  },

  "global concurrency holds across executors; a completion frees a place": async (c) => {
    const q = await queue(c, { concurrency: 3 })
    await enqueued(c, q, 6)
    assert.equal((await claimIds(c, q, "a", 2)).length, 2)
    assert.equal((await claimIds(c, q, "b", 5)).length, 1)
    assert.equal((await claimIds(c, q, "c", 5)).length, 0)
    await finish(c, c.id("t0"))
    assert.deepEqual(await claimIds(c, q, "c", 5), [c.id("t3")])
  },

  "worker concurrency holds per executor": async (c) => {
    const q = await queue(c, { workerConcurrency: 2 })
    await enqueued(c, q, 6)
    assert.equal((await claimIds(c, q, "a", 5)).length, 2)
    assert.equal((await claimIds(c, q, "a", 5)).length, 0)
    assert.equal((await claimIds(c, q, "b", 5)).length, 2)
  },

  "racing claims from several stores never exceed the global limit": async (c) => {
    const q = await queue(c, { concurrency: 5 })
    await enqueued(c, q, 40)
    const stores = [c.store, await c.another(), await c.another(), await c.another()]
    const claims = await Promise.all(
      Array.from({ length: 12 }, (_, i) => claimIds(c, q, `exec-${i}`, 3, stores[i % stores.length])),
    )
    const all = claims.flat()
    assert.equal(all.length, 5)
    assert.equal(new Set(all).size, 5)
  },

  "the rate limit counts starts in a sliding window and says when the next may start": async (c) => {
    const q = await queue(c, { rateLimit: { limit: 3, periodMs: 400 } })
    await enqueued(c, q, 8)
    const first = await c.run(c.store.claimQueue(claimFor(q, "a", 10)))
    assert.equal(first.claimed.length, 3)
    assert.ok(first.retryAt !== undefined)
    const blocked = await c.run(c.store.claimQueue(claimFor(q, "b", 10)))
    assert.equal(blocked.claimed.length, 0)
    assert.ok(blocked.retryAt !== undefined && blocked.retryAt > Date.now() - 50)
    // Completions do not give rate back: only time does.
    for (const r of first.claimed) await finish(c, r.id)
    assert.equal((await claimIds(c, q, "b", 10)).length, 0)
    await sleep(Math.max(0, blocked.retryAt - Date.now()) + 30)
    assert.equal((await claimIds(c, q, "b", 10)).length, 3)
  },

  "priorities: lower first, then oldest first": async (c) => {
    const q = await queue(c, { priority: true })
    for (const [name, priority] of [
      ["low", 5],
      ["none", 0],
      ["high", -1],
      ["mid", 2],
    ] as const) {
      await enqueue(c, q, [item(c.id(name), { priority })])
      await sleep(2)
    }
    assert.deepEqual(await claimIds(c, q, "a", 10), [c.id("high"), c.id("none"), c.id("mid"), c.id("low")])
  },

  "partitions: limits per key, served round-robin": async (c) => {
    const q = await queue(c, { partition: { concurrency: 2 } })
    for (let i = 0; i < 4; i++) {
      await enqueued(c, q, 1, () => ({ partitionKey: "a", id: c.id(`a${i}`) }))
      await sleep(1)
    }
    for (let i = 0; i < 4; i++) {
      await enqueued(c, q, 1, () => ({ partitionKey: "b", id: c.id(`b${i}`) }))
      await sleep(1)
    }
    // Round-robin: a's first, b's first, then the seconds; never more than 2 per key.
    const claimed = await claimIds(c, q, "x", 3)
    assert.deepEqual(claimed.sort(), [c.id("a0"), c.id("a1"), c.id("b0")].sort())
    assert.deepEqual(await claimIds(c, q, "x", 10), [c.id("b1")])
    await finish(c, c.id("a0"))
    assert.deepEqual(await claimIds(c, q, "x", 10), [c.id("a2")])
  },

  "partitions take turns across claims: the one served longest ago goes first": async (c) => {
    const q = await queue(c, { partition: { concurrency: 1 } })
    for (const key of ["a", "b", "c"])
      await enqueue(
        c,
        q,
        [1, 2, 3].map((n) => item(c.id(`${key}${n}`), { partitionKey: key })),
      )
    const order: string[] = []
    let running: string | undefined
    for (let i = 0; i < 9; i++) {
      if (running) await finish(c, running)
      const [next] = await claimIds(c, q, "x", 1)
      running = next
      order.push(next!.slice(-2))
    }
    assert.deepEqual(order, ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"])
  },

  "a partition rate limit holds per key": async (c) => {
    const q = await queue(c, { partition: { rateLimit: { limit: 1, periodMs: 300 } } })
    for (const key of ["a", "a", "b", "b"]) {
      await enqueued(c, q, 1, () => ({ partitionKey: key, id: c.id(`${key}${Math.random()}`) }))
    }
    const first = await c.run(c.store.claimQueue(claimFor(q, "x", 10)))
    assert.deepEqual(first.claimed.map((r) => r.partitionKey).sort(), ["a", "b"])
    const blocked = await c.run(c.store.claimQueue(claimFor(q, "x", 10)))
    assert.equal(blocked.claimed.length, 0)
    assert.ok(blocked.retryAt !== undefined)
    await sleep(Math.max(0, blocked.retryAt - Date.now()) + 30)
    assert.equal((await claimIds(c, q, "x", 10)).length, 2)
  },

  "a delayed workflow is DELAYED until due, and the claim says when that is": async (c) => {
    const q = await queue(c)
    const due = Date.now() + 300
    await enqueue(c, q, [item(c.id("later"), { delayUntil: due }), item(c.id("now"))])
    assert.equal((await c.run(c.store.getWorkflow(c.id("later"))))?.status, "DELAYED")
    const first = await c.run(c.store.claimQueue(claimFor(q, "x", 10)))
    assert.deepEqual(
      first.claimed.map((r) => r.id),
      [c.id("now")],
    )
    assert.equal(first.retryAt, due)
    await sleep(due - Date.now() + 20)
    assert.deepEqual(await claimIds(c, q, "x", 10), [c.id("later")])
  },

  "maxLength refuses a batch that would overflow, all or nothing": async (c) => {
    const q = await queue(c, { maxLength: 3 })
    await enqueued(c, q, 2)
    const full = await enqueue(c, q, [item(c.id("x")), item(c.id("y"))])
    assert.deepEqual(full, { _tag: "QueueFull", waiting: 2, maxLength: 3 })
    assert.equal(await c.run(c.store.getWorkflow(c.id("x"))), undefined)
    assert.equal((await enqueue(c, q, [item(c.id("z"))]))._tag, "Enqueued")
    // Running work is not waiting: claiming makes room.
    await claimIds(c, q, "e", 2)
    assert.equal((await enqueue(c, q, [item(c.id("v")), item(c.id("w"))]))._tag, "Enqueued")
  },

  "a claimed workflow's timeout starts at the claim": async (c) => {
    const q = await queue(c)
    await enqueue(c, q, [item(c.id("t"), { timeoutMs: 60_000 })])
    assert.equal((await c.run(c.store.getWorkflow(c.id("t"))))?.deadline, undefined)
    const [r] = (await c.run(c.store.claimQueue(claimFor(q, "x", 1)))).claimed
    assert.ok(r?.deadline !== undefined && Math.abs(r.deadline - (Date.now() + 60_000)) < 5_000)
  },

  "a takeover puts another executor's queued workflows back on the queue, fenced, for the queue to place": async (
    c,
  ) => {
    // Its own workflow name, so that other tests' workflows on a shared store are not taken over here.
    const name = c.id("requeued")
    const q = await queue(c, { workerConcurrency: 1 })
    await enqueue(c, q, [item(c.id("t"), { name })])
    const claim = (executorId: string) => c.run(c.store.claimQueue({ ...claimFor(q, executorId, 1), names: [name] }))
    const [mine] = (await claim(c.id("dead"))).claimed
    await c.run(
      c.store.writeCheckpoint(mine!.id, mine!.epoch, {
        stepId: 0,
        name: "s",
        kind: "step",
        state: "done",
        seq: 0,
        attempts: 1,
        output: "1",
        startedAt: 1,
        completedAt: 2,
      }),
    )
    // "dead" never heartbeat: its lease counts as expired.
    const taken = await c.run(
      c.store.takeOver(c.id("taker"), {
        appVersion: "v2",
        names: [name],
        limit: 10,
        includeOwn: false,
        includeExpired: true,
        maxRecoveryAttempts: 10,
      }),
    )
    const mineTaken = taken.find((t) => t.record?.id === mine!.id)
    assert.equal(mineTaken?._tag, "NotClaimable")
    assert.equal(mineTaken?.record?.status, "ENQUEUED")
    assert.equal(mineTaken?.record?.executorId, undefined)
    assert.ok(mineTaken.record.epoch > mine!.epoch)
    await assert.rejects(
      c.run(c.store.completeWorkflow(mine!.id, mine!.epoch, { status: "SUCCESS", output: "1" })),
      (e: unknown) => (e as { _tag?: string })._tag === "FencedError",
    )
    const [again] = (await claim(c.id("taker"))).claimed
    assert.equal(again?.id, mine!.id)
    assert.ok(again.recoveryAttempts > 0, "a requeued workflow is a recovery: its history must be loaded")
    assert.equal((await c.run(c.store.loadCheckpoints(mine!.id))).length, 1)
  },

  "cancelling a parent cancels its children, transitively, but not detached ones": async (c) => {
    const q = await queue(c)
    const mk = (id: string, parent?: string, detached = false) =>
      c.run(
        c.store.createWorkflow({
          id,
          name: "task",
          input: "1",
          appVersion: "v1",
          executorId: "x",
          ...(parent ? { parent: { id: parent, step: 0, detached } } : {}),
        }),
      )
    await mk(c.id("root"))
    await mk(c.id("child"), c.id("root"))
    await mk(c.id("grandchild"), c.id("child"))
    await mk(c.id("detached"), c.id("root"), true)
    await c.run(
      c.store.enqueue({
        queue: q,
        items: [item(c.id("queued"), { parentStep: 3 })],
        appVersion: "v1",
        parentId: c.id("root"),
      }),
    )
    const root = await c.run(c.store.cancelWorkflow(c.id("root"), "cancelled"))
    assert.equal(root?.status, "CANCELLED")
    const status = async (s: string) => (await c.run(c.store.getWorkflow(c.id(s))))?.status
    assert.equal(await status("child"), "CANCELLED")
    assert.equal(await status("grandchild"), "CANCELLED")
    assert.equal(await status("queued"), "CANCELLED")
    assert.equal(await status("detached"), "PENDING")
    const child = await c.run(c.store.getWorkflow(c.id("queued")))
    assert.equal(child?.parentId, c.id("root"))
    assert.equal(child?.parentStep, 3)
  },
}
