/**
 * Wake-ups on Postgres: LISTEN/NOTIFY between stores (each its own pool, as separate processes), the
 * latency it gives, and the fallbacks: polling when notifications are off, catching up when the LISTEN
 * connection is lost and comes back, and nothing at all while nothing is subscribed.
 */
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import type { Store, Wake } from "@durably/core"
import { postgresStore } from "../src/index.ts"
import { pgListen } from "../src/pgListen.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { done, newWorkflow, run, storesOn, until, woken } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("wake")
const stores = storesOn(url, schema)
const sql = postgres(url, { max: 2, onnotice: () => undefined })
afterAll(async () => {
  await stores.closeAll()
  await sql.end()
  await dropSchema(url, schema)
})

const listenQuery = `LISTEN "durably_${schema}"`
const listeners = async () =>
  (await sql.unsafe(`SELECT pid FROM pg_stat_activity WHERE query = $1`, [listenQuery])).map((r) => Number(r["pid"]))

const wakeOf = (store: Store, wake: Wake) => woken((listener) => store.subscribe(wake, listener))
const message = (workflowId: string, topic: string): Wake => ({ kind: "message", workflowId, topic })

describe("LISTEN/NOTIFY", () => {
  // Polls only once a minute: whatever wakes these subscribers within the test is a notification.
  const waiter = stores.store({ pollInterval: 60_000 })
  const writer = stores.store()

  it("a subscriber is woken within milliseconds of a send from another store (p50 printed)", async () => {
    const id = await newWorkflow(writer)
    // The first subscription opens the LISTEN connection; until then there is none.
    expect(await listeners()).toEqual([])
    const first = wakeOf(waiter, message(id, "warm-up"))
    await until(async () => (await listeners()).length === 1)
    await run(writer.sendMessage({ destination: id, topic: "warm-up", payload: "0" }))
    await first
    const latencies: number[] = []
    for (let i = 0; i < 100; i++) {
      const wake = wakeOf(waiter, message(id, `t${i}`))
      const start = performance.now()
      await run(writer.sendMessage({ destination: id, topic: `t${i}`, payload: String(i) }))
      latencies.push((await wake) - start)
    }
    latencies.sort((a, b) => a - b)
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2)
    console.log(`notify latency, send → wake across pools: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms`)
  })

  it("events, streams and status changes (completion, cancel, dead) wake their subscribers", async () => {
    const id = await newWorkflow(writer)
    const event = wakeOf(waiter, { kind: "event", workflowId: id, key: "k" })
    await run(writer.setEvent(id, 1, "k", "1", done(0, "setEvent")))
    await event
    const stream = wakeOf(waiter, { kind: "stream", workflowId: id, key: "s" })
    await run(writer.appendStream(id, 1, [{ key: "s", value: "v" }], done(1, "writeStream")))
    await stream

    const statuses: string[] = []
    const seen = (status: string) => until(async () => statuses.includes(status))
    const unwatch = waiter.watch(id, (s) => statuses.push(s))
    await run(writer.completeWorkflow(id, 1, { status: "SUCCESS", output: "1" }))
    await seen("SUCCESS")
    const other = await newWorkflow(writer)
    const unwatchOther = waiter.watch(other, (s) => statuses.push(s))
    await run(writer.cancelWorkflow(other, "cancelled"))
    await seen("CANCELLED")
    const dying = await newWorkflow(writer)
    const unwatchDying = waiter.watch(dying, (s) => statuses.push(s))
    await run(writer.claimWorkflow(dying, "exec-b", { countRecovery: true, maxRecoveryAttempts: 0 }))
    await seen("DEAD")
    unwatch()
    unwatchOther()
    unwatchDying()
    expect(statuses).toEqual(["SUCCESS", "CANCELLED", "DEAD"])
  })

  it("a lost LISTEN connection is re-established, and what happened meanwhile wakes its subscribers", async () => {
    const id = await newWorkflow(writer)
    const before = wakeOf(waiter, message(id, "before"))
    await until(async () => (await listeners()).length === 1)
    const [pid] = await listeners()
    await sql.unsafe("SELECT pg_terminate_backend($1)", [pid!])
    // Sent while nobody listens: heard of when the store listens again (about a second later).
    await run(writer.sendMessage({ destination: id, topic: "before", payload: "1" }))
    await before
    await until(async () => (await listeners()).length === 1)
    expect(await listeners()).not.toContain(pid)
    const after = wakeOf(waiter, message(id, "after"))
    await run(writer.sendMessage({ destination: id, topic: "after", payload: "2" }))
    await after
  })

  it("a name too long for a NOTIFY payload still wakes its subscriber (by a look at every subscription)", async () => {
    const id = await newWorkflow(writer)
    const topic = "€".repeat(3000) // 9,000 bytes
    const wake = wakeOf(waiter, message(id, topic))
    await run(writer.sendMessage({ destination: id, topic, payload: "1" }))
    await wake
  })

  it("works on your own postgres.js instance, listening on a connection of its own", async () => {
    const own = postgres(url, { max: 2, onnotice: () => undefined })
    const store = postgresStore({ sql: own, schema, pollInterval: 60_000 })
    try {
      const id = await newWorkflow(writer)
      const wake = wakeOf(store, message(id, "t"))
      await run(writer.sendMessage({ destination: id, topic: "t", payload: "1" }))
      await wake
    } finally {
      await run(store.close())
      await own.end()
    }
  })
})

describe("the LISTEN connection", () => {
  it("counts as listening only once a probe NOTIFY came back on it (a pooler may swallow them)", async () => {
    const pool = postgres(url, { max: 1, onnotice: () => undefined })
    const channel = `durably_probe_${schema}`
    const events: string[] = []
    const handlers = { payload: () => undefined, up: () => events.push("up"), down: () => events.push("down") }
    // A pool whose NOTIFYs never arrive, as behind a pooler in transaction mode.
    let probes = 0
    const swallowing = { options: pool.options, unsafe: async () => void probes++ } as unknown as typeof pool
    const deaf = pgListen(swallowing, channel, { retryMs: 50, probeTimeoutMs: 100 })
    const working = pgListen(pool, channel, { retryMs: 50, probeTimeoutMs: 5000 })
    try {
      deaf.start(handlers)
      await until(async () => probes >= 3) // probed, timed out, listened again, probed again …
      expect(events).toEqual([])
      working.start(handlers)
      await until(async () => events.length > 0)
      expect(events).toEqual(["up"])
    } finally {
      await deaf.close()
      await working.close()
      await pool.end()
    }
  })
})

describe("without notifications (for poolers that cannot LISTEN)", () => {
  it("subscribers poll (about once a second), and this store's own writes wake them at once", async () => {
    const polling = stores.store({ notifications: false })
    const writer = stores.store()
    const id = await newWorkflow(writer)
    const start = performance.now()
    const remote = wakeOf(polling, message(id, "t"))
    await run(writer.sendMessage({ destination: id, topic: "t", payload: "1" }))
    console.log(`polling fallback: woken ${((await remote) - start).toFixed(0)} ms after subscribing`)

    const local = wakeOf(polling, message(id, "u"))
    await run(polling.sendMessage({ destination: id, topic: "u", payload: "2" }))
    await local
    const unwatchDone = woken((l) => polling.watch(id, (s) => s === "SUCCESS" && l()))
    await run(writer.completeWorkflow(id, 1, { status: "SUCCESS" }))
    await unwatchDone
  })

  it("an idle store issues nothing: polling stops when the last subscriber leaves", async () => {
    let statements = 0
    const own = postgres(url, { max: 2, onnotice: () => undefined, debug: () => void statements++ })
    const store = postgresStore({ sql: own, schema, notifications: false, pollInterval: 50 })
    try {
      const id = await newWorkflow(store)
      const unsubscribe = store.subscribe(message(id, "t"), () => undefined)
      const subscribed = statements
      await until(async () => statements >= subscribed + 3)
      unsubscribe()
      const idle = statements
      await new Promise((r) => setTimeout(r, 500))
      expect(statements).toBe(idle)
    } finally {
      await run(store.close())
      await own.end()
    }
  })
})
