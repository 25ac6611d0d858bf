/**
 * Parked waits across real processes: a worker (fixtures/parkedWorker.ts) runs inbox workflows waiting in
 * `ctx.recv`, a reader waiting in `ctx.getEvent` on a publisher (itself waiting in `ctx.recv`), and a parent
 * awaiting a child that waits in `ctx.recv`; all of them park (leave memory) after 200 ms. This test process
 * wakes them from outside with `durably.send` on its own store, so every wake-up reaches the parked workflow
 * through Postgres NOTIFY:
 *
 * 1. a first share of the inboxes is woken while parked in the first worker;
 * 2. the worker is SIGKILLed, a second share is sent while no worker runs;
 * 3. a new worker with the same executor id takes them back at launch: the second share finishes, the rest
 *    park again and are woken there, with the publisher (whose event wakes the parked reader) and the child
 *    (whose end wakes the parked parent).
 *
 * Every workflow ends SUCCESS with what was sent, and the transactional ledger shows each inbox's steps ran
 * exactly once whatever parked, crashed and replayed. A wake-up a parked workflow does not hear leaves it
 * PENDING, and the test fails on its bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"
import {
  childId,
  inboxId,
  parentId,
  publisherId,
  readerId,
  type ParkedWorkerConfig,
  type ParkedWorkerEvents,
} from "./support/parked.ts"
import { connect, createLedger, type Sql } from "./support/db.ts"
import { killAllFixtures, spawnFixture, type FixtureProcess } from "./support/fixtureProcess.ts"
import { waitFor } from "./support/wait.ts"

const N = 12
const db = {} as { url: string; schema: string; sql: Sql; ledger: string }
let client: Durably | undefined

beforeAll(async () => {
  db.url = await databaseUrl()
  db.schema = freshSchema("dur_parked")
  db.sql = connect(db.url)
  db.ledger = await createLedger(db.sql, db.schema)
})
afterAll(async () => {
  await killAllFixtures()
  await client?.shutdown()
  await db.sql?.end({ timeout: 1 })
  if (db.url && db.schema) await dropSchema(db.url, db.schema)
})

type Worker = FixtureProcess<ParkedWorkerEvents>

const spawnWorker = (start: boolean): Worker => {
  const config: ParkedWorkerConfig = {
    url: db.url,
    schema: db.schema,
    ledgerTable: db.ledger,
    executorId: "parked-worker",
    n: N,
    start,
  }
  return spawnFixture<ParkedWorkerEvents>("parkedWorker.ts", config, `parked-worker-${start ? "first" : "again"}`)
}

const parkedIn = (w: Worker) => new Set(w.events("PARKED").map((e) => e.id))

const statusOf = async (id: string) =>
  (await db.sql.unsafe(`SELECT status FROM ${db.schema}.workflows WHERE id = $1`, [id]))[0]?.["status"] as string

const allParked = (w: Worker, ids: ReadonlyArray<string>) =>
  waitFor(`${ids.length} workflows to park in ${w.label}`, () => ids.every((id) => parkedIn(w).has(id)), {
    timeoutMs: 90_000,
  })

const succeeded = (ids: ReadonlyArray<string>) =>
  waitFor(
    `${ids.length} workflows to be SUCCESS`,
    async () => (await Promise.all(ids.map(statusOf))).every((s) => s === "SUCCESS"),
    { timeoutMs: 90_000, intervalMs: 100 },
  )

describe("parked waits under SIGKILL", () => {
  it("parked recv, getEvent and child waits wake on wake-ups from another process, before and after a crash", async () => {
    const inboxes = Array.from({ length: N }, (_, i) => inboxId(i))
    const first = inboxes.slice(0, N / 3)
    const whileDown = inboxes.slice(N / 3, (2 * N) / 3)
    const last = inboxes.slice((2 * N) / 3)
    client = await Durably.launch({
      store: postgresStore({ url: db.url, schema: db.schema, max: 2 }),
      workflows: [],
      executorId: "parked-sender",
      heartbeat: false,
      recover: false,
      logger: false,
    })
    const sendAll = (ids: ReadonlyArray<string>) => Promise.all(ids.map((id) => client!.send(id, "go", `to ${id}`)))

    const a = spawnWorker(true)
    await a.waitForEvent("READY", undefined, { timeoutMs: 60_000 })
    await allParked(a, [...inboxes, publisherId, readerId, parentId, childId])

    // 1. Woken while parked, from this process.
    await sendAll(first)
    await succeeded(first)
    expect(new Set(a.events("DONE").map((e) => e.id))).toEqual(new Set(first))

    // 2. A crash; messages sent while nothing runs.
    a.signal("SIGKILL")
    await a.exit
    await sendAll(whileDown)

    // 3. Taken back at launch: the share sent meanwhile finishes, the rest park again and are woken there.
    const b = spawnWorker(false)
    await b.waitForEvent("READY", undefined, { timeoutMs: 60_000 })
    await succeeded(whileDown)
    await allParked(b, [...last, publisherId, readerId, parentId, childId])
    await sendAll(last)
    await client.send(publisherId, "publish", true)
    await client.send(childId, "go", "from the child")
    await succeeded([...last, publisherId, readerId, childId, parentId])

    for (const id of inboxes) expect(await client.handle(id).result()).toBe(`to ${id}`)
    expect(await client.handle(readerId).result()).toBe("published")
    expect(await client.handle(parentId).result()).toBe("from the child")
    // Each inbox's steps ran once: a transactional row commits with its checkpoint or not at all.
    const rows = await db.sql.unsafe(
      `SELECT workflow_id, step, count(*)::int AS n FROM ${db.ledger} GROUP BY workflow_id, step`,
    )
    expect(rows.length).toBe(2 * N)
    for (const r of rows) expect(r["n"]).toBe(1)
    await b.stop()
  }, 300_000)
})
