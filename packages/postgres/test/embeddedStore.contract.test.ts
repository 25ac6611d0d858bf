/**
 * The store contract on the embedded store, in a fresh directory. "Another process" is the same store
 * object: a second PGlite on one directory is exactly what must never happen (embeddedLock.test.ts checks
 * that it is refused). Then what is particular to PGlite's single connection.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, type Store } from "@durably/core"
import { storeContract } from "@durably/core/testing"
import { embeddedStore } from "../src/embedded.ts"
import { sqlStoreInternals, type SqlStoreInternals } from "../src/sqlStore.ts"
import { transaction } from "../src/transaction.ts"

const dir = mkdtempSync(join(tmpdir(), "durably-embedded-contract-"))
const store = embeddedStore({ dir, pollInterval: 100 })
const client = (store as { [sqlStoreInternals]?: SqlStoreInternals })[sqlStoreInternals]!.client
// PGlite's start and the migrations take seconds (tens of seconds on a loaded machine): paid here, in a hook
// with its own budget, not by whichever case happens to run first.
beforeAll(async () => {
  await Effect.runPromise(store.getWorkflow("warm-up"))
}, 120_000)
afterAll(async () => {
  await Effect.runPromise(store.close())
  rmSync(dir, { recursive: true, force: true })
})

// Engines close their store on shutdown, and the tests' engines share this one: they get a view of it
// whose close does nothing.
const shared: Store = { ...store, close: () => Effect.void }

storeContract({
  name: "embedded (PGlite)",
  makeStore: () => shared,
  reopen: (s) => s,
  describe,
  it,
})

describe("embedded store: one connection", () => {
  it("queries wait for an open transaction, which never waits for them", async () => {
    await client.exec("CREATE TABLE IF NOT EXISTS one_conn (n int)")
    let entered!: () => void
    const inside = new Promise<void>((r) => (entered = r))
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const tx = client.transaction(async (t) => {
      await t.query("INSERT INTO one_conn VALUES (1)")
      entered()
      await gate
      await t.query("INSERT INTO one_conn VALUES (2)")
      return "committed"
    })
    await inside
    // Another workflow's statements, issued while the transaction is open: they queue behind it.
    let finished = 0
    const others = Array.from({ length: 20 }, () =>
      client.query<{ n: number }>("SELECT count(*)::int AS n FROM one_conn").then((rows) => (finished++, rows)),
    )
    await new Promise((r) => setTimeout(r, 20))
    expect(finished).toBe(0)
    release()
    expect(await tx).toBe("committed")
    for (const rows of await Promise.all(others)) expect(rows).toEqual([{ n: 2 }])
  })

  it("the store's own client used inside a transaction fails at once instead of deadlocking", async () => {
    await expect(client.transaction(async () => client.query("SELECT 1"))).rejects.toThrow(
      /from inside one of its own transactions/,
    )
    await expect(client.transaction(async (tx) => tx.query<{ one: number }>("SELECT 1 AS one"))).resolves.toEqual([
      { one: 1 },
    ])
  })

  it("transaction(ctx) in one workflow while another checkpoints: both finish", async () => {
    await client.exec("CREATE TABLE IF NOT EXISTS tx_ledger (id text PRIMARY KEY)")
    let entered!: () => void
    const inside = new Promise<void>((r) => (entered = r))
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const steps: number[] = []
    const pay = defineWorkflow("embedded-pay", async (ctx, id: string) =>
      transaction(ctx, "insert", async (sql) => {
        await sql`INSERT INTO tx_ledger VALUES (${id})`
        entered()
        await gate
        return id
      }),
    )
    const busy = defineWorkflow("embedded-busy", async (ctx) => {
      for (let i = 0; i < 5; i++) await ctx.step(`s${i}`, () => steps.push(i))
      return steps.length
    })
    const durably = await Durably.launch({ store: shared, workflows: [pay, busy], logger: false })
    try {
      const paid = await durably.start(pay, "order-1")
      await inside
      const other = durably.run(busy, undefined) // its start and checkpoints queue behind the transaction
      await new Promise((r) => setTimeout(r, 20))
      release()
      expect(await paid.result()).toBe("order-1")
      expect(await other).toBe(5)
      expect(await client.query("SELECT id FROM tx_ledger")).toEqual([{ id: "order-1" }])
    } finally {
      release()
      await durably.shutdown()
    }
  })
})
