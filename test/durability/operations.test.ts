/**
 * Operating workflows across real processes on the test server (fixtures/opsWorker.ts), through a client
 * that has no workflow code, as an operator's script would: fork failed payments after a "bug fix", resume
 * a DEAD workflow, a deploy that strands the old version's waiting workflows (reported, listed, moved),
 * cancelling a parent whose child runs on another worker, and new code deployed behind `ctx.patched` (histories
 * of the old code verified against it, and finished by it on their old path). Step bodies record ledger rows
 * in their step's transaction, so the ledger proves what ran once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Durably, NonDeterminismError, type DurablyClient } from "@durably/core"
import { testEngine } from "@durably/core/testing"
import { postgresStore } from "@durably/postgres"
import type { OpsWorkerConfig, OpsWorkerEvents } from "./fixtures/opsWorker.ts"
import { shipment, type ShipmentCode } from "./fixtures/shipment.ts"
import { connect, type Sql } from "./support/db.ts"
import { killAllFixtures, spawnFixture, type FixtureProcess } from "./support/fixtureProcess.ts"
import { waitFor } from "./support/wait.ts"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"

const fastLease = { intervalMs: 200, leaseMs: 1000 } as const
const db = {} as { url: string; schema: string; sql: Sql; ledger: string; client: DurablyClient }

beforeAll(async () => {
  db.url = await databaseUrl()
  db.schema = freshSchema("operations")
  db.sql = connect(db.url)
  db.ledger = `${db.schema}.ledger`
  await db.sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`)
  await db.sql.unsafe(
    `CREATE TABLE ${db.ledger} (workflow_id text NOT NULL, step text NOT NULL, executor text NOT NULL, pid integer NOT NULL)`,
  )
  db.client = await Durably.client({ store: postgresStore({ url: db.url, schema: db.schema, max: 2 }), logger: false })
})
afterAll(async () => {
  await killAllFixtures()
  await db.client?.close()
  await db.sql?.end({ timeout: 1 })
  if (db.url && db.schema) await dropSchema(db.url, db.schema)
})

type Worker = FixtureProcess<OpsWorkerEvents>

const spawnWorker = (over: Partial<OpsWorkerConfig> & { executorId: string }): Worker => {
  const config: OpsWorkerConfig = {
    url: db.url,
    schema: db.schema,
    ledgerTable: db.ledger,
    appVersion: "1",
    heartbeat: fastLease,
    paymentsWork: true,
    crash: false,
    serveChildren: false,
    ...over,
  }
  return spawnFixture<OpsWorkerEvents>("opsWorker.ts", config, config.executorId)
}

const ready = (w: Worker) => w.waitForEvent("READY", undefined, { timeoutMs: 30_000 })

const rows = async (id: string) =>
  (await db.sql.unsafe(`SELECT step, executor FROM ${db.ledger} WHERE workflow_id = $1`, [id])).map(
    (r) => r["step"] as string,
  )

const status = async (id: string) => (await db.client.workflows.get(id)).status

describe("operating workflows across processes", () => {
  it("failed payments, found by time window and forked from the payment step after the fix, each charge once", async () => {
    const orders = Array.from({ length: 5 }, (_, i) => `order-${i}`)
    const windowStart = new Date()
    const broken = spawnWorker({ executorId: "ops-pay-1", paymentsWork: false, start: { payments: orders } })
    await ready(broken)
    await waitFor(
      "5 failed payments",
      async () => (await db.client.workflows.count({ name: "payment", status: "ERROR" })) === 5,
      { timeoutMs: 30_000 },
    )
    await broken.stop()
    const fixed = spawnWorker({ executorId: "ops-pay-2", paymentsWork: true })
    await ready(fixed)
    const failed = await db.client.workflows.list({
      name: "payment",
      status: "ERROR",
      createdAfter: windowStart,
      createdBefore: new Date(),
      includeOutput: true,
    })
    expect(failed.workflows.map((w) => w.id).sort()).toEqual(orders)
    expect(String(failed.workflows[0]!.error)).toMatch(/provider down/)
    const forks: string[] = []
    for (const w of failed.workflows) forks.push(await db.client.workflows.fork(w.id, { fromStep: "pay" }))
    for (const [i, id] of forks.entries())
      expect(await db.client.handle(id).result()).toBe(`paid ${failed.workflows[i]!.id}`)
    for (const order of orders) {
      expect(await rows(order)).toEqual(["reserve"]) // the original: reserved, never charged
      const fork = forks[failed.workflows.findIndex((w) => w.id === order)]!
      expect(await rows(fork)).toEqual(["charge"]) // the fork reused the reservation and charged once
      expect((await db.client.workflows.get(fork)).forkedFrom).toBe(order)
    }
    await fixed.stop()
  }, 120_000)

  it("a DEAD workflow (a step that kills its process) is resumed by an operator once the bug is fixed", async () => {
    const crashy = (start?: OpsWorkerConfig["start"]) =>
      spawnWorker({ executorId: "ops-dead", crash: true, maxRecoveryAttempts: 1, ...(start ? { start } : {}) })
    // Launch 1 starts it and dies in its step; launch 2 recovers it (attempt 1) and dies; launch 3 marks it DEAD.
    const first = crashy({ crashers: ["poison"] })
    expect((await first.exit).signal).toBe("SIGKILL")
    const second = crashy()
    expect((await second.exit).signal).toBe("SIGKILL")
    const third = crashy()
    await ready(third)
    await waitFor("DEAD", async () => (await status("poison")) === "DEAD", { timeoutMs: 30_000 })
    await third.stop()
    const healthy = spawnWorker({ executorId: "ops-healthy", crash: false })
    await ready(healthy)
    await db.client.workflows.resume("poison")
    expect(await db.client.handle("poison").result()).toBe("survived")
    expect(await rows("poison")).toEqual(["survived"])
    expect((await db.client.workflows.get("poison")).executorId).toBe("ops-healthy")
    await healthy.stop()
  }, 120_000)

  it("a deploy strands version 1's waiting workflows: reported at launch, listed, moved to version 2, completed", async () => {
    const waiters = Array.from({ length: 5 }, (_, i) => `waiter-${i}`)
    const v1 = spawnWorker({ executorId: "ops-v1", appVersion: "1", start: { waiters } })
    await ready(v1)
    await waitFor(
      "every waiter recorded its first step",
      async () => (await db.sql.unsafe(`SELECT 1 FROM ${db.ledger} WHERE step = 'before'`)).length === 5,
      { timeoutMs: 30_000 },
    )
    v1.signal("SIGKILL")
    await v1.exit
    // Its lease runs out: nothing live runs version 1 any more.
    await waitFor(
      "version 1's executor past its lease",
      async () => !(await db.client.executors.list()).some((e) => e.executorId === "ops-v1" && e.alive),
      { timeoutMs: 30_000 },
    )
    const v2 = spawnWorker({ executorId: "ops-v2", appVersion: "2" })
    await ready(v2)
    const warning = await v2.waitForEvent("WARN", (e) => e.message.includes('app version "1"'))
    expect(warning.message).toMatch(/^5 PENDING workflow\(s\) of app version "1" have no live executor/)
    expect(await db.client.workflows.stranded()).toEqual([{ appVersion: "1", count: 5 }])
    const listed = await db.client.workflows.list({ status: "PENDING", appVersion: "1" })
    expect(listed.workflows.map((w) => w.id).sort()).toEqual(waiters)
    for (const id of waiters) expect(await status(id)).toBe("PENDING") // not taken by version 2 on its own
    const moved = await db.client.workflows.resumeMany({ status: "PENDING", appVersion: "1" }, { appVersion: "2" })
    expect([...moved.ids].sort()).toEqual(waiters)
    for (const id of waiters) await db.client.send(id, "go", `go ${id}`)
    for (const id of waiters) {
      expect(await db.client.handle(id).result()).toBe(`go ${id}`)
      expect(await rows(id)).toEqual(["before", "after"]) // the first step was not run again
      expect((await db.client.workflows.get(id)).appVersion).toBe("2")
    }
    expect(await db.client.workflows.stranded()).toEqual([])
    await v2.stop()
  }, 120_000)

  it("cancel reaches a child running on another worker; with children: false the child runs on", async () => {
    const parents = spawnWorker({ executorId: "ops-parents", start: { parents: ["family-1", "family-2"] } })
    const kids = spawnWorker({ executorId: "ops-kids", serveChildren: true })
    await Promise.all([ready(parents), ready(kids)])
    const kid = (p: string) => `@child:${p}:0`
    await kids.waitForEvent("CHILD_RUNNING", (e) => e.id === kid("family-1"), { timeoutMs: 30_000 })
    await kids.waitForEvent("CHILD_RUNNING", (e) => e.id === kid("family-2"), { timeoutMs: 30_000 })
    expect((await db.client.workflows.get(kid("family-1"))).executorId).toBe("ops-kids")

    await db.client.workflows.cancel("family-1")
    expect(await status("family-1")).toBe("CANCELLED")
    expect(await status(kid("family-1"))).toBe("CANCELLED")
    expect((await db.client.handle(kid("family-1")).outcome()).status).toBe("CANCELLED")

    await db.client.workflows.cancel("family-2", { children: false })
    expect(await status("family-2")).toBe("CANCELLED")
    expect(await status(kid("family-2"))).toBe("PENDING")
    await db.client.send(kid("family-2"), "never", "after all")
    await waitFor("the child finished", async () => (await status(kid("family-2"))) === "SUCCESS", {
      timeoutMs: 30_000,
    })
    expect(await rows(kid("family-2"))).toEqual(["child started", "child ended"])
    expect(await rows(kid("family-1"))).toEqual(["child started"])
    expect(await rows("family-1")).toEqual([])
    await Promise.all([parents.stop(), kids.stop()])
  }, 120_000)

  it("ctx.patched: histories recorded by the old code verify against the patched code, which finishes them on their old path", async () => {
    const ledger = async (id: string) =>
      (await db.sql.unsafe(`SELECT step, executor FROM ${db.ledger} WHERE workflow_id = $1`, [id])).map(
        (r) => `${r["step"] as string} by ${r["executor"] as string}`,
      )
    // A test engine on the same database that runs nothing (recover: false): verifyReplay replays a stored
    // history against this code, running no step (a step that ran would write a ledger row "by ops-verifier").
    const verifier = (code: ShipmentCode) =>
      testEngine({
        store: postgresStore({ url: db.url, schema: db.schema, max: 2 }),
        workflows: [shipment(code, db.ledger, "ops-verifier")],
        executorId: "ops-verifier",
        recover: false,
      })
    const v1 = spawnWorker({
      executorId: "ops-ship-v1",
      shipmentCode: "v1",
      start: { shipments: ["old-done", "old-waiting"] },
    })
    await v1.waitForEvent("STARTED", undefined, { timeoutMs: 30_000 })
    for (const topic of ["ship", "deliver"]) await db.client.send("old-done", topic, true)
    expect(await db.client.handle("old-done").result()).toBe("shipped old-done")
    // The waiting one's history goes past the patch point before the deploy: it waits for its second message.
    await db.client.send("old-waiting", "ship", true)
    await waitFor("old-waiting shipped", async () => (await rows("old-waiting")).includes("ship"), {
      timeoutMs: 30_000,
    })
    v1.signal("SIGKILL")
    await v1.exit

    const unguarded = await verifier("unguarded")
    const refused = await unguarded.verifyReplay("old-done")
    expect(refused.ok).toBe(false)
    if (!refused.ok) {
      expect(refused.error).toBeInstanceOf(NonDeterminismError)
      expect(refused.error.message).toMatch(/history has recv "ship", the code now calls transaction "insure"/)
    }
    await unguarded.shutdown()
    const patched = await verifier("patched")
    expect(await patched.verifyReplay("old-done")).toEqual({ ok: true })

    // The patched code deployed under the same app version: its worker takes over the old one's workflows.
    const v2 = spawnWorker({ executorId: "ops-ship-v2", shipmentCode: "patched", start: { shipments: ["new"] } })
    await v2.waitForEvent("STARTED", undefined, { timeoutMs: 30_000 })
    for (const topic of ["ship", "deliver"]) await db.client.send("new", topic, true)
    await db.client.send("old-waiting", "deliver", true)
    expect(await db.client.handle("new").result()).toBe("insured new")
    expect(await db.client.handle("old-waiting").result()).toBe("shipped old-waiting")
    expect(await ledger("old-done")).toEqual(["pack by ops-ship-v1", "ship by ops-ship-v1", "deliver by ops-ship-v1"])
    // The old path: no insurance, though the patched code finished it.
    expect(await ledger("old-waiting")).toEqual([
      "pack by ops-ship-v1",
      "ship by ops-ship-v1",
      "deliver by ops-ship-v2",
    ])
    expect(await ledger("new")).toEqual([
      "pack by ops-ship-v2",
      "insure by ops-ship-v2",
      "ship by ops-ship-v2",
      "deliver by ops-ship-v2",
    ])
    expect((await db.client.workflows.steps("new")).map((s) => `${s.kind} ${s.name}`)).toContain("patch insure")
    for (const id of ["old-done", "old-waiting", "new"])
      expect(await patched.verifyReplay(id), id).toEqual({ ok: true })
    await patched.shutdown()
    expect(await db.sql.unsafe(`SELECT 1 FROM ${db.ledger} WHERE executor = 'ops-verifier'`)).toHaveLength(0)
    await v2.stop()
  }, 120_000)
})
