/**
 * A takeover racing the expired executor's next heartbeat, on the Postgres server. Whichever commits first
 * must be what the other sees: a heartbeat that lands while a takeover of its workflows is uncommitted waits
 * for it (so the executor, told its lease is back, re-reads its workflows and finds them taken); a takeover
 * that runs while the heartbeat is uncommitted waits for it and takes nothing. Before, the takeover judged
 * the lease on its snapshot alone: the executor could re-check its workflow before the takeover committed,
 * start a step body, and be fenced only after it ran (a zombie's body, seen by the chaos soak).
 */
import { randomUUID } from "node:crypto"
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import { postgresStore } from "../src/index.ts"
import { channelOf } from "../src/notify.ts"
import { makeQueries } from "../src/queries.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { run } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("takeover_race")
const store = postgresStore({ url, schema, max: 4 })
const sql = postgres(url, { max: 2, onnotice: () => undefined })
afterAll(async () => {
  await run(store.close())
  await sql.end()
  await dropSchema(url, schema)
})

const leaseMs = 200
const beat = (executorId: string) => run(store.heartbeat({ executorId, appVersion: "1", nonce: randomUUID(), leaseMs }))

/** A PENDING workflow owned by an executor whose lease has expired. */
const expiredOwner = async () => {
  const owner = `owner-${randomUUID()}`
  const id = `wf-${randomUUID()}`
  await beat(owner)
  await run(store.createWorkflow({ id, name: "wf", input: "null", appVersion: "1", executorId: owner }))
  await new Promise((r) => setTimeout(r, leaseMs + 100))
  return { owner, id }
}

/** Whether `p` is still unsettled after `ms`. */
const stillPending = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms))])

const takeOverParams = (taker: string) => [taker, "1", ["wf"], false, true, 10, 100, Date.now(), null]

describe("a takeover racing the expired executor's heartbeat", () => {
  it("a heartbeat waits for an uncommitted takeover, and the executor then reads its workflow taken", async () => {
    const { owner, id } = await expiredOwner()
    const q = makeQueries(schema, channelOf(schema))
    let commit!: () => void
    const held = new Promise<void>((r) => (commit = r))
    let taken!: () => void
    const tookIt = new Promise<void>((r) => (taken = r))
    const takeover = sql.begin(async (tx) => {
      const rows = await tx.unsafe(q.takeOver, takeOverParams("taker") as never[])
      expect(rows.map((r) => r["id"])).toEqual([id])
      taken()
      await held
    })
    await tookIt
    const heartbeat = beat(owner)
    expect(await stillPending(heartbeat, 500), "the heartbeat waits for the takeover to commit").toBe(true)
    commit()
    await takeover
    await heartbeat
    const record = await run(store.getWorkflow(id))
    expect([record?.executorId, record?.epoch]).toEqual(["taker", 2])
  })

  it("a takeover waits for an uncommitted heartbeat, then takes nothing", async () => {
    const { owner, id } = await expiredOwner()
    let commit!: () => void
    const held = new Promise<void>((r) => (commit = r))
    let beaten!: () => void
    const beatIt = new Promise<void>((r) => (beaten = r))
    const renewal = sql.begin(async (tx) => {
      await tx.unsafe(`UPDATE ${schema}.executors SET heartbeat_at = now() WHERE id = $1`, [owner])
      beaten()
      await held
    })
    await beatIt
    const takeover = run(
      store.takeOver("taker", {
        appVersion: "1",
        names: ["wf"],
        includeOwn: false,
        includeExpired: true,
        limit: 10,
        maxRecoveryAttempts: 100,
      }),
    )
    expect(await stillPending(takeover, 500), "the takeover waits for the heartbeat to commit").toBe(true)
    commit()
    await renewal
    expect(await takeover).toEqual([])
    const record = await run(store.getWorkflow(id))
    expect([record?.executorId, record?.epoch]).toEqual([owner, 1])
  })
})
