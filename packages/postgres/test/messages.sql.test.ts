/**
 * Messages, events and streams on Postgres, at the level of the Store port and its SQL: FIFO delivery under
 * concurrent senders, exactly once under retries and zombies, and what the rows say afterwards.
 */
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import { FencedError, StreamClosedError } from "@durably/core"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { done, failure, newWorkflow, run, storesOn } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("msg")
const stores = storesOn(url, schema)
const sql = postgres(url, { max: 2, onnotice: () => undefined })
afterAll(async () => {
  await stores.closeAll()
  await sql.end()
  await dropSchema(url, schema)
})
const store = stores.store()

describe("messages", () => {
  it("4 concurrent senders × 1,000 messages to one workflow: each received once, each sender's in order", async () => {
    const id = await newWorkflow(store)
    const senders = Array.from({ length: 4 }, () => stores.store())
    const perSender = 1000
    await Promise.all(
      senders.map(async (s, sender) => {
        for (let n = 0; n < perSender; n++) {
          const r = await run(s.sendMessage({ destination: id, topic: "jobs", payload: JSON.stringify({ sender, n }) }))
          expect(r._tag).toBe("Sent")
        }
      }),
    )
    const received: Array<{ sender: number; n: number }> = []
    for (let step = 0; ; step++) {
      const cp = await run(store.receiveMessage(id, 1, "jobs", done(step, "recv")))
      if (!cp) break
      received.push(JSON.parse(cp.output!) as { sender: number; n: number })
    }
    expect(received).toHaveLength(4 * perSender)
    for (let sender = 0; sender < 4; sender++)
      expect(received.filter((m) => m.sender === sender).map((m) => m.n)).toEqual(
        Array.from({ length: perSender }, (_, n) => n),
      )
    const [left] = await sql.unsafe(
      `SELECT count(*) FILTER (WHERE consumed_step IS NULL)::int AS waiting, count(DISTINCT consumed_step)::int AS steps
       FROM "${schema}".messages WHERE destination = $1`,
      [id],
    )
    expect(left).toEqual({ waiting: 0, steps: 4 * perSender })
  }, 120_000) // 8,000 round trips, slow when the machine is busy

  it("topics are separate queues; a message is consumed only with its checkpoint", async () => {
    const id = await newWorkflow(store)
    await run(store.sendMessage({ destination: id, topic: "a", payload: '"a1"' }))
    await run(store.sendMessage({ destination: id, topic: "b", payload: '"b1"' }))
    expect(await run(store.receiveMessage(id, 1, "c", done(0, "recv")))).toBeUndefined()
    const b = await run(store.receiveMessage(id, 1, "b", done(0, "recv")))
    expect(b).toMatchObject({ stepId: 0, kind: "recv", state: "done", output: '"b1"' })
    expect(await run(store.loadCheckpoints(id))).toEqual([b])
    // A retry of the same step (its reply was lost) returns what was written and consumes nothing more.
    await run(store.sendMessage({ destination: id, topic: "b", payload: '"b2"' }))
    expect(await run(store.receiveMessage(id, 1, "b", done(0, "recv")))).toEqual(b)
    expect((await run(store.receiveMessage(id, 1, "b", done(1, "recv"))))?.output).toBe('"b2"')
    expect((await run(store.receiveMessage(id, 1, "a", done(2, "recv"))))?.output).toBe('"a1"')
  })

  it("a pending checkpoint at the recv step (its timeout) is replaced by the received message", async () => {
    const id = await newWorkflow(store)
    await run(store.writeCheckpoint(id, 1, done(0, "recv", { state: "pending", wakeAt: 99_000 })))
    expect(await run(store.receiveMessage(id, 1, "t", done(0, "recv")))).toBeUndefined()
    await run(store.sendMessage({ destination: id, topic: "t", payload: "1" }))
    const cp = await run(store.receiveMessage(id, 1, "t", done(0, "recv")))
    expect(cp).toMatchObject({ state: "done", output: "1" })
    expect(await run(store.loadCheckpoints(id))).toEqual([cp])
  })

  it("a fenced receiver consumes nothing", async () => {
    const id = await newWorkflow(store)
    await run(store.sendMessage({ destination: id, topic: "t", payload: "1" }))
    await run(store.claimWorkflow(id, "exec-b", { countRecovery: true, maxRecoveryAttempts: 10 }))
    expect(await failure(store.receiveMessage(id, 1, "t", done(0, "recv")))).toBeInstanceOf(FencedError)
    await run(store.cancelWorkflow(id, "cancelled"))
    const cancelled = await failure(store.receiveMessage(id, 2, "t", done(0, "recv")))
    expect(cancelled).toMatchObject({ _tag: "FencedError", status: "CANCELLED" })
    const [row] = await sql.unsafe(`SELECT consumed_step FROM "${schema}".messages WHERE destination = $1`, [id])
    expect(row).toEqual({ consumed_step: null })
    expect(await run(store.loadCheckpoints(id))).toEqual([])
  })

  it("sendMessage: idempotency key per destination, NotFound for a missing workflow", async () => {
    const a = await newWorkflow(store)
    const b = await newWorkflow(store)
    const send = (destination: string, payload: string, idempotencyKey?: string) =>
      run(store.sendMessage({ destination, topic: "t", payload, ...(idempotencyKey ? { idempotencyKey } : {}) }))
    expect(await send(a, "1", "k")).toEqual({ _tag: "Sent" })
    expect(await send(a, "2", "k")).toEqual({ _tag: "Duplicate" })
    expect(await send(b, "3", "k")).toEqual({ _tag: "Sent" })
    expect(await send(a, "4")).toEqual({ _tag: "Sent" })
    expect(await send(a, "5")).toEqual({ _tag: "Sent" })
    expect(await send(`${a}-missing`, "6", "k")).toEqual({ _tag: "NotFound" })
    // Still a duplicate once delivered.
    expect((await run(store.receiveMessage(a, 1, "t", done(0, "recv"))))?.output).toBe("1")
    expect(await send(a, "7", "k")).toEqual({ _tag: "Duplicate" })
    const payloads = await sql.unsafe(`SELECT payload FROM "${schema}".messages WHERE destination = $1 ORDER BY seq`, [
      a,
    ])
    expect(payloads.map((r) => r["payload"])).toEqual(["1", "4", "5"])
    // Concurrent sends of one key from several stores: exactly one is Sent.
    const others = [store, stores.store(), stores.store()]
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        run(others[i % 3]!.sendMessage({ destination: b, topic: "t", payload: String(i), idempotencyKey: "race" })),
      ),
    )
    expect(results.filter((r) => r._tag === "Sent")).toHaveLength(1)
  })

  it("sendFromWorkflow: message and checkpoint together, once; fenced or NotFound writes nothing", async () => {
    const sender = await newWorkflow(store, "sender")
    const dest = await newWorkflow(store, "dest")
    const msg = { destination: dest, topic: "t", payload: '"hi"', idempotencyKey: `${sender}:0` }
    expect(await run(store.sendFromWorkflow(sender, 1, msg, done(0, "send")))).toEqual({ _tag: "Sent" })
    // The retry of a send whose reply was lost: the checkpoint stands, no second message.
    expect(await run(store.sendFromWorkflow(sender, 1, msg, done(0, "send")))).toEqual({ _tag: "Duplicate" })
    // A replay whose checkpoint was lost (same key, new step): the checkpoint is written, no second message.
    expect(await run(store.sendFromWorkflow(sender, 1, msg, done(1, "send")))).toEqual({ _tag: "Duplicate" })
    expect((await run(store.loadCheckpoints(sender))).map((c) => c.stepId)).toEqual([0, 1])
    const missing = { ...msg, destination: `${dest}-missing`, idempotencyKey: `${sender}:2` }
    expect(await run(store.sendFromWorkflow(sender, 1, missing, done(2, "send")))).toEqual({ _tag: "NotFound" })
    expect((await run(store.loadCheckpoints(sender))).map((c) => c.stepId)).toEqual([0, 1])
    const stale = { ...msg, idempotencyKey: `${sender}:3` }
    expect(await failure(store.sendFromWorkflow(sender, 2, stale, done(3, "send")))).toBeInstanceOf(FencedError)
    // To itself, too.
    const self = { ...msg, destination: sender, idempotencyKey: `${sender}:4` }
    expect(await run(store.sendFromWorkflow(sender, 1, self, done(4, "send")))).toEqual({ _tag: "Sent" })
    const [count] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".messages WHERE destination = $1`, [
      dest,
    ])
    expect(count).toEqual({ n: 1 })
  })
})

describe("events", () => {
  it("setEvent: last write wins, a history row per step, retries and zombies change nothing", async () => {
    const id = await newWorkflow(store)
    expect(await run(store.getEvent(id, "status"))).toBeUndefined()
    const first = done(0, "setEvent")
    expect(await run(store.setEvent(id, 1, "status", '"charged"', first))).toEqual(first)
    await run(store.setEvent(id, 1, "status", '"shipped"', done(1, "setEvent")))
    expect(await run(store.getEvent(id, "status"))).toBe('"shipped"')
    // A retry of step 0 after step 1 committed: the checkpoint stands and the value is not set back.
    expect(await run(store.setEvent(id, 1, "status", '"charged"', done(0, "setEvent", { name: "x" })))).toEqual(first)
    expect(await run(store.getEvent(id, "status"))).toBe('"shipped"')
    await run(store.claimWorkflow(id, "exec-b", { countRecovery: true, maxRecoveryAttempts: 10 }))
    expect(await failure(store.setEvent(id, 1, "status", '"zombie"', done(2, "setEvent")))).toBeInstanceOf(FencedError)
    expect(await run(store.getEvent(id, "status"))).toBe('"shipped"')
    const history = await sql.unsafe(
      `SELECT step_id, value FROM "${schema}".event_history WHERE workflow_id = $1 ORDER BY step_id`,
      [id],
    )
    expect(history).toEqual([
      { step_id: 0, value: '"charged"' },
      { step_id: 1, value: '"shipped"' },
    ])
  })
})

describe("streams", () => {
  it("appends get offsets 0, 1, 2 … per key; reads page from an offset; closed means everything was read", async () => {
    const id = await newWorkflow(store)
    const entries = [
      { key: "a", value: "a0" },
      { key: "b", value: "b0" },
      { key: "a", value: "a1" },
    ]
    await run(store.appendStream(id, 1, entries, done(0, "writeStream")))
    await run(
      store.appendStream(
        id,
        1,
        [
          { key: "a", value: "a2" },
          { key: "a", close: true },
        ],
        done(1, "step"),
      ),
    )
    const a = await run(store.readStream(id, "a", 0, 100))
    expect(a).toEqual({
      values: [
        { offset: 0, value: "a0" },
        { offset: 1, value: "a1" },
        { offset: 2, value: "a2" },
      ],
      closed: true,
    })
    expect(await run(store.readStream(id, "a", 1, 1))).toEqual({ values: [{ offset: 1, value: "a1" }], closed: false })
    expect(await run(store.readStream(id, "a", 2, 1))).toEqual({ values: [{ offset: 2, value: "a2" }], closed: true })
    expect(await run(store.readStream(id, "a", 3, 10))).toEqual({ values: [], closed: true })
    expect(await run(store.readStream(id, "b", 0, 10))).toEqual({ values: [{ offset: 0, value: "b0" }], closed: false })
    expect(await run(store.readStream(id, "none", 0, 10))).toEqual({ values: [], closed: false })
  })

  it("a retried append writes nothing twice; writing to a closed key is refused with its checkpoint", async () => {
    const id = await newWorkflow(store)
    const cp = done(0, "writeStream")
    await run(store.appendStream(id, 1, [{ key: "k", value: "v0" }], cp))
    expect(await run(store.appendStream(id, 1, [{ key: "k", value: "v0" }], cp))).toEqual(cp)
    await run(store.appendStream(id, 1, [{ key: "k", close: true }], done(1, "writeStream")))
    const refused = await failure(store.appendStream(id, 1, [{ key: "k", value: "late" }], done(2, "writeStream")))
    expect(refused).toEqual(new StreamClosedError({ workflowId: id, key: "k" }))
    expect((await run(store.loadCheckpoints(id))).map((c) => c.stepId)).toEqual([0, 1])
    expect((refused as Error).message).toMatch(/stream "k" of workflow .* is closed/)
    const inBatch = await failure(
      store.appendStream(
        id,
        1,
        [
          { key: "j", close: true },
          { key: "j", value: "x" },
        ],
        done(3, "writeStream"),
      ),
    )
    expect(inBatch).toEqual(new StreamClosedError({ workflowId: id, key: "j" }))
    // Closing again, and a key with quotes and colons in its name.
    const odd = 'a "key": with, things'
    await run(store.appendStream(id, 1, [{ key: odd, close: true }], done(3, "closeStream")))
    const again = await failure(
      store.appendStream(
        id,
        1,
        [
          { key: "ok", value: "1" },
          { key: odd, close: true },
        ],
        done(4, "step"),
      ),
    )
    expect(again).toEqual(new StreamClosedError({ workflowId: id, key: odd }))
    expect(await run(store.readStream(id, "ok", 0, 10))).toEqual({ values: [], closed: false })
    expect(await run(store.readStream(id, "k", 0, 10))).toEqual({ values: [{ offset: 0, value: "v0" }], closed: true })
    await run(store.claimWorkflow(id, "exec-b", { countRecovery: true, maxRecoveryAttempts: 10 }))
    expect(await failure(store.appendStream(id, 1, [{ key: "z", value: "x" }], done(5, "step")))).toBeInstanceOf(
      FencedError,
    )
    expect(await run(store.readStream(id, "z", 0, 10))).toEqual({ values: [], closed: false })
  })

  it("concurrent appends to one key (parallel branches, several stores) get consecutive offsets", async () => {
    const id = await newWorkflow(store)
    const writers = [store, stores.store(), stores.store()]
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        run(
          writers[i % 3]!.appendStream(
            id,
            1,
            [
              { key: "k", value: `v${i}` },
              { key: "k", value: `w${i}` },
            ],
            done(i, "step"),
          ),
        ),
      ),
    )
    const { values } = await run(store.readStream(id, "k", 0, 1000))
    expect(values.map((v) => v.offset)).toEqual(Array.from({ length: 120 }, (_, i) => i))
    // The two values of one append are adjacent, in order.
    for (let i = 0; i < 120; i += 2) expect(values[i + 1]!.value).toBe(values[i]!.value.replace("v", "w"))
  })
})
