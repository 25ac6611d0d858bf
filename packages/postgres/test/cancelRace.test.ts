/**
 * A parent's cancellation racing the creation of its child on the Postgres server (the chaos soak found a
 * child that a cancelled workflow had enqueued still ENQUEUED at the end). The interleaving is forced: another
 * transaction holds an uncommitted row with the child's id, so the child's INSERT (which read its parent as
 * still running) waits; the cancellation runs meanwhile; then that row is rolled back and the child is
 * inserted. Whatever the order, a non-detached child of a cancelled parent must end up CANCELLED, never run.
 * (The memory store and PGlite run one operation at a time: the race cannot happen there.)
 */
import { afterAll, describe, expect, it } from "vitest"
import postgres from "postgres"
import type { Store } from "@durably/core"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { newWorkflow, run, storesOn, until } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("cancel_race")
const stores = storesOn(url, schema)
afterAll(async () => {
  await stores.closeAll()
  await dropSchema(url, schema)
})

/** Sessions of this schema's stores waiting for a lock (the probe's own session excluded). */
const waiting = async (sql: postgres.Sql) => {
  const [row] = await sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query LIKE ${`%${schema}%`} AND pid <> pg_backend_pid()`
  return row!.n
}

/**
 * Create `childId` under a fresh parent with `create` while a cancellation of the parent runs; returns the
 * child's status at the end and whether the cancellation had to wait for the child's insert.
 */
const race = async (
  prefix: string,
  create: (s: Store, parentId: string, childId: string) => Promise<unknown>,
  cancel: (s: Store, parentId: string) => Promise<unknown>,
) => {
  const s = stores.store()
  const sql = postgres(url, { max: 2, onnotice: () => undefined })
  try {
    const parentId = await newWorkflow(s, prefix)
    const childId = `${parentId}.child`
    let held!: () => void
    let release!: () => void
    const holding = new Promise<void>((r) => (held = r))
    const released = new Promise<void>((r) => (release = r))
    // The other transaction: its uncommitted row makes the child's INSERT wait, then it rolls back.
    const blocker = sql
      .begin(async (tx) => {
        await tx.unsafe(
          `INSERT INTO "${schema}".workflows (id, name, status, input, app_version, created_ms, updated_ms)
           VALUES ($1, 'blocker', 'SUCCESS', 'null', '1', 0, 0)`,
          [childId],
        )
        held()
        await released
        throw new Error("roll back")
      })
      .catch(() => undefined)
    await holding
    const created = create(s, parentId, childId)
    await until(async () => (await waiting(sql)) === 1)
    let cancelDone = false
    const cancelled = cancel(s, parentId).then(() => (cancelDone = true))
    // The cancellation either finishes (it did not see the child) or waits for the child's insert to commit.
    await until(async () => cancelDone || (await waiting(sql)) === 2)
    const cancelWaited = !cancelDone
    release()
    await Promise.all([blocker, created, cancelled])
    const [row] = await sql<Array<{ status: string; cancel_reason: string | null }>>`
      SELECT status, cancel_reason FROM ${sql(schema)}.workflows WHERE id = ${childId}`
    return { status: row?.status, reason: row?.cancel_reason, cancelWaited }
  } finally {
    await sql.end()
  }
}

const startChild = (s: Store, parentId: string, childId: string) =>
  run(
    s.createWorkflow({
      id: childId,
      name: "child",
      input: "null",
      appVersion: "1",
      executorId: "exec-a",
      parent: { id: parentId, step: 1, detached: false },
    }),
  )

const enqueueChild = async (s: Store, parentId: string, childId: string) => {
  await run(s.registerQueue({ name: "cancel-race", priority: false }, "1"))
  return run(
    s.enqueue({
      queue: "cancel-race",
      items: [{ id: childId, name: "child", input: "null", parentStep: 1 }],
      appVersion: "1",
      parentId,
    }),
  )
}

const cancelOne = (s: Store, parentId: string) => run(s.cancelWorkflow(parentId, "cancelled"))
const cancelMany = (s: Store, parentId: string) => run(s.management.cancel([parentId], { children: true }))

describe("a parent's cancellation racing its child's creation (Postgres)", () => {
  it("a child started (ctx.start, ctx.run) while its parent is cancelled is CANCELLED", async () => {
    const r = await race("start", startChild, cancelOne)
    expect(r).toEqual({ status: "CANCELLED", reason: "cancelled", cancelWaited: true })
  })

  it("a child enqueued (ctx.enqueue) while its parent is cancelled is CANCELLED", async () => {
    const r = await race("enqueue", enqueueChild, cancelOne)
    expect(r.status).toBe("CANCELLED")
    expect(r.reason).toBe("cancelled")
  })

  it("the same through management's cancel with children", async () => {
    expect((await race("many-start", startChild, cancelMany)).status).toBe("CANCELLED")
    expect((await race("many-enqueue", enqueueChild, cancelMany)).status).toBe("CANCELLED")
  })
})
