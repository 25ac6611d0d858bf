/**
 * Contract cases for the port methods of messages, events and streams: ordering, idempotency, fencing, the
 * atomicity of each write with its checkpoint, and wake-ups. Engines using them: contractMessagesEngine.ts.
 */
import assert from "node:assert/strict"
import type { Effect } from "effect"
import type { Checkpoint, NewWorkflow, Store, Wake } from "../store/Store.ts"
import { expectFenced, type ContractTest } from "./contract.ts"

const newWorkflow = (id: string, over: Partial<NewWorkflow> = {}): NewWorkflow => ({
  id,
  name: "wf",
  input: "null",
  appVersion: "1.0.0",
  executorId: "exec-a",
  ...over,
})

const done = (stepId: number, kind: Checkpoint["kind"], over: Partial<Checkpoint> = {}): Checkpoint => ({
  stepId,
  name: `op${stepId}`,
  kind,
  state: "done",
  seq: stepId,
  attempts: 1,
  startedAt: 1_000 + stepId,
  completedAt: 2_000 + stepId,
  ...over,
})

const claimOpts = { countRecovery: false, maxRecoveryAttempts: 10 }

/** Resolves at the first wake-up, or rejects after `ms`. */
const nextWake = (store: Store, wake: Wake, ms = 5000) => {
  let unsubscribe = () => undefined as void
  const woken = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${wake.kind} wake-up within ${ms} ms`)), ms)
    unsubscribe = store.subscribe(wake, () => {
      clearTimeout(timer)
      resolve()
    })
  })
  return { woken: woken.finally(() => unsubscribe()), unsubscribe: () => unsubscribe() }
}

type Run = <A, E>(effect: Effect.Effect<A, E>) => Promise<A>

/** Receive at `stepId` (epoch 1) and return the payload, or undefined. */
const receive = async (run: Run, store: Store, id: string, topic: string, stepId: number) =>
  (await run(store.receiveMessage(id, 1, topic, done(stepId, "recv"))))?.output

export const messagesContract: Record<string, ContractTest> = {
  "sendMessage delivers per topic in FIFO order; receiveMessage consumes with its checkpoint": async ({
    store,
    id,
    run,
  }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    for (const [topic, payload] of [
      ["a", '"a1"'],
      ["b", '"b1"'],
      ["a", '"a2"'],
    ] as const)
      assert.deepEqual(await run(store.sendMessage({ destination: id(), topic, payload })), { _tag: "Sent" })
    const first = await run(store.receiveMessage(id(), 1, "a", done(0, "recv")))
    assert.equal(first?.output, '"a1"')
    assert.equal(first?.stepId, 0)
    assert.equal(first?.state, "done")
    assert.equal(await receive(run, store, id(), "a", 1), '"a2"')
    assert.equal(await receive(run, store, id(), "a", 2), undefined)
    assert.equal(await receive(run, store, id(), "b", 3), '"b1"')
    // Consumed only together with the checkpoint, and nothing written when nothing was there.
    const cps = await run(store.loadCheckpoints(id()))
    assert.deepEqual(
      cps.map((c) => [c.stepId, c.output]),
      [
        [0, '"a1"'],
        [1, '"a2"'],
        [3, '"b1"'],
      ],
    )
  },

  "sendMessage: NotFound for an unknown workflow; an idempotency key delivers once per destination": async ({
    store,
    id,
    run,
  }) => {
    assert.deepEqual(await run(store.sendMessage({ destination: id("absent"), topic: "t", payload: "1" })), {
      _tag: "NotFound",
    })
    await run(store.createWorkflow(newWorkflow(id("x"))))
    await run(store.createWorkflow(newWorkflow(id("y"))))
    const msg = (destination: string, payload: string) => ({ destination, topic: "t", payload, idempotencyKey: "k" })
    assert.equal((await run(store.sendMessage(msg(id("x"), "1"))))._tag, "Sent")
    assert.equal((await run(store.sendMessage(msg(id("x"), "2"))))._tag, "Duplicate")
    assert.equal((await run(store.sendMessage(msg(id("y"), "3"))))._tag, "Sent")
    assert.equal(await receive(run, store, id("x"), "t", 0), "1")
    assert.equal(await receive(run, store, id("x"), "t", 1), undefined)
    // Still a duplicate after the first one was consumed.
    assert.equal((await run(store.sendMessage(msg(id("x"), "4"))))._tag, "Duplicate")
    assert.equal(await receive(run, store, id("y"), "t", 0), "3")
  },

  "a fenced zombie cannot consume a message: it stays for the owner": async ({ store, id, run, another }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    await run(store.sendMessage({ destination: id(), topic: "t", payload: '"m"' }))
    const claimed = await run((await another()).claimWorkflow(id(), "exec-b", claimOpts))
    assert.equal(claimed.record?.epoch, 2)
    await expectFenced(run(store.receiveMessage(id(), 1, "t", done(0, "recv"))))
    const got = await run(store.receiveMessage(id(), 2, "t", done(0, "recv")))
    assert.equal(got?.output, '"m"')
    await run(store.cancelWorkflow(id(), "cancelled"))
    await run(store.sendMessage({ destination: id(), topic: "t", payload: '"late"' }))
    await expectFenced(run(store.receiveMessage(id(), 2, "t", done(1, "recv"))), "CANCELLED")
  },

  "concurrent receives never hand out one message twice": async ({ store, id, run, another }) => {
    const other = await another()
    await run(store.createWorkflow(newWorkflow(id())))
    for (let i = 0; i < 10; i++) await run(store.sendMessage({ destination: id(), topic: "t", payload: String(i) }))
    const got = await Promise.all(
      Array.from({ length: 12 }, (_, step) => receive(run, step % 2 ? other : store, id(), "t", step)),
    )
    const payloads = got.filter((p) => p !== undefined)
    assert.equal(payloads.length, 10)
    assert.equal(new Set(payloads).size, 10)
  },

  "receiveMessage with a done checkpoint already at the step returns it and consumes nothing": async ({
    store,
    id,
    run,
  }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    await run(store.sendMessage({ destination: id(), topic: "t", payload: '"one"' }))
    await run(store.sendMessage({ destination: id(), topic: "t", payload: '"two"' }))
    const first = await run(store.receiveMessage(id(), 1, "t", done(0, "recv")))
    const retried = await run(store.receiveMessage(id(), 1, "t", done(0, "recv", { seq: 9 })))
    assert.deepEqual(retried, first)
    assert.equal(await receive(run, store, id(), "t", 1), '"two"')
  },

  "sendFromWorkflow writes the message and the sender's checkpoint in one go": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id("sender"))))
    await run(store.createWorkflow(newWorkflow(id("dest"))))
    const message = { destination: id("dest"), topic: "t", payload: '"hi"', idempotencyKey: "send:s:0" }
    assert.deepEqual(await run(store.sendFromWorkflow(id("sender"), 1, message, done(0, "send"))), { _tag: "Sent" })
    // The same key again (a replay whose checkpoint was lost): no second message, but the checkpoint is written.
    const again = await run(store.sendFromWorkflow(id("sender"), 1, message, done(1, "send")))
    assert.equal(again._tag, "Duplicate")
    assert.deepEqual(
      (await run(store.loadCheckpoints(id("sender")))).map((c) => c.stepId),
      [0, 1],
    )
    assert.equal(await receive(run, store, id("dest"), "t", 0), '"hi"')
    assert.equal(await receive(run, store, id("dest"), "t", 1), undefined)
    // NotFound writes nothing.
    const lost = await run(
      store.sendFromWorkflow(id("sender"), 1, { ...message, destination: id("absent") }, done(2, "send")),
    )
    assert.equal(lost._tag, "NotFound")
    assert.equal((await run(store.loadCheckpoints(id("sender")))).length, 2)
    // A fenced sender sends nothing.
    await run(store.claimWorkflow(id("sender"), "exec-b", claimOpts))
    const fenced = { ...message, idempotencyKey: "send:s:3" }
    await expectFenced(run(store.sendFromWorkflow(id("sender"), 1, fenced, done(3, "send"))))
    assert.equal(await receive(run, store, id("dest"), "t", 2), undefined)
  },

  "a message's trace context goes to the receive that consumes it, not into the checkpoint": async ({
    store,
    id,
    run,
  }) => {
    await run(store.createWorkflow(newWorkflow(id("sender"))))
    await run(store.createWorkflow(newWorkflow(id("dest"))))
    const outside = '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'
    const inside = '{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}'
    await run(store.sendMessage({ destination: id("dest"), topic: "t", payload: '"1"', traceContext: outside }))
    await run(store.sendMessage({ destination: id("dest"), topic: "t", payload: '"2"' }))
    const message = { destination: id("dest"), topic: "t", payload: '"3"', idempotencyKey: "send:s:0" }
    await run(store.sendFromWorkflow(id("sender"), 1, { ...message, traceContext: inside }, done(0, "send")))
    const first = await run(store.receiveMessage(id("dest"), 1, "t", done(0, "recv")))
    assert.equal(first?.output, '"1"')
    assert.equal(first?.traceContext, outside)
    const second = await run(store.receiveMessage(id("dest"), 1, "t", done(1, "recv")))
    assert.equal(second?.output, '"2"')
    assert.equal(second?.traceContext, undefined)
    const third = await run(store.receiveMessage(id("dest"), 1, "t", done(2, "recv")))
    assert.equal(third?.traceContext, inside)
    // The recorded checkpoints are the receives' own: the context is not part of the history.
    for (const cp of await run(store.loadCheckpoints(id("dest")))) assert.equal("traceContext" in cp, false)
  },

  "setEvent: last write wins, with its checkpoint; getEvent reads the current value": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    assert.equal(await run(store.getEvent(id(), "status")), undefined)
    assert.equal(await run(store.getEvent(id("absent"), "status")), undefined)
    await run(store.setEvent(id(), 1, "status", '"one"', done(0, "setEvent")))
    await run(store.setEvent(id(), 1, "other", "1", done(1, "setEvent")))
    await run(store.setEvent(id(), 1, "status", '"two"', done(2, "setEvent")))
    assert.equal(await run(store.getEvent(id(), "status")), '"two"')
    assert.equal(await run(store.getEvent(id(), "other")), "1")
    // A retried write of a committed step does not set the value again.
    await run(store.setEvent(id(), 1, "status", '"stale"', done(0, "setEvent")))
    assert.equal(await run(store.getEvent(id(), "status")), '"two"')
    assert.equal((await run(store.loadCheckpoints(id()))).length, 3)
    await run(store.claimWorkflow(id(), "exec-b", claimOpts))
    await expectFenced(run(store.setEvent(id(), 1, "status", '"zombie"', done(3, "setEvent"))))
    assert.equal(await run(store.getEvent(id(), "status")), '"two"')
  },

  "appendStream assigns offsets in order; readStream reads from any offset and reports the close": async ({
    store,
    id,
    run,
  }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    assert.deepEqual(await run(store.readStream(id(), "s", 0, 10)), { values: [], closed: false })
    await run(store.appendStream(id(), 1, [{ key: "s", value: "0" }], done(0, "writeStream")))
    const batch = [
      { key: "s", value: "1" },
      { key: "t", value: '"x"' },
      { key: "s", value: "2" },
    ]
    await run(store.appendStream(id(), 1, batch, done(1, "step")))
    assert.deepEqual(await run(store.readStream(id(), "s", 0, 10)), {
      values: [
        { offset: 0, value: "0" },
        { offset: 1, value: "1" },
        { offset: 2, value: "2" },
      ],
      closed: false,
    })
    assert.deepEqual((await run(store.readStream(id(), "s", 1, 1))).values, [{ offset: 1, value: "1" }])
    assert.deepEqual((await run(store.readStream(id(), "t", 0, 10))).values, [{ offset: 0, value: '"x"' }])
    await run(store.appendStream(id(), 1, [{ key: "s", close: true }], done(2, "closeStream")))
    assert.equal((await run(store.readStream(id(), "s", 0, 10))).closed, true)
    assert.deepEqual(await run(store.readStream(id(), "s", 3, 10)), { values: [], closed: true })
    // Not all values read yet: not closed as far as this reader is concerned.
    assert.equal((await run(store.readStream(id(), "s", 0, 2))).closed, false)
    assert.equal((await run(store.loadCheckpoints(id()))).length, 3)
  },

  "appendStream to a closed key fails with StreamClosedError and writes nothing": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    await run(store.appendStream(id(), 1, [{ key: "s", close: true }], done(0, "closeStream")))
    const refused = (entries: Parameters<Store["appendStream"]>[2], stepId: number) =>
      assert.rejects(run(store.appendStream(id(), 1, entries, done(stepId, "step"))), (e: unknown) => {
        assert.equal((e as { _tag?: string })._tag, "StreamClosedError")
        return true
      })
    await refused(
      [
        { key: "other", value: "1" },
        { key: "s", value: "2" },
      ],
      1,
    )
    await refused([{ key: "s", close: true }], 2)
    // Closed earlier in the same batch.
    await refused(
      [
        { key: "u", close: true },
        { key: "u", value: "3" },
      ],
      3,
    )
    assert.deepEqual(await run(store.readStream(id(), "other", 0, 10)), { values: [], closed: false })
    assert.deepEqual(await run(store.readStream(id(), "u", 0, 10)), { values: [], closed: false })
    assert.equal((await run(store.loadCheckpoints(id()))).length, 1)
  },

  "appendStream is epoch-checked and idempotent per step": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    await run(store.appendStream(id(), 1, [{ key: "s", value: "1" }], done(0, "writeStream")))
    // A retried write of a committed step appends nothing.
    await run(store.appendStream(id(), 1, [{ key: "s", value: "1" }], done(0, "writeStream")))
    await run(store.claimWorkflow(id(), "exec-b", claimOpts))
    await expectFenced(run(store.appendStream(id(), 1, [{ key: "s", value: "z" }], done(1, "writeStream"))))
    assert.deepEqual((await run(store.readStream(id(), "s", 0, 10))).values, [{ offset: 0, value: "1" }])
  },

  "subscribe wakes on a message, an event, stream values and a status change": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const message = nextWake(store, { kind: "message", workflowId: id(), topic: "t" })
    await run(store.sendMessage({ destination: id(), topic: "t", payload: "1" }))
    await message.woken
    const event = nextWake(store, { kind: "event", workflowId: id(), key: "k" })
    await run(store.setEvent(id(), 1, "k", "1", done(0, "setEvent")))
    await event.woken
    const stream = nextWake(store, { kind: "stream", workflowId: id(), key: "s" })
    await run(store.appendStream(id(), 1, [{ key: "s", value: "1" }], done(1, "writeStream")))
    await stream.woken
    const status = nextWake(store, { kind: "status", workflowId: id() })
    await run(store.completeWorkflow(id(), 1, { status: "SUCCESS", output: "1" }))
    await status.woken
    // An unsubscribed listener hears nothing more.
    let heard = 0
    const unsubscribe = store.subscribe({ kind: "message", workflowId: id(), topic: "t" }, () => heard++)
    unsubscribe()
    await run(store.sendMessage({ destination: id(), topic: "t", payload: "2" }))
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(heard, 0)
  },
}
