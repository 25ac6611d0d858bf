/**
 * Triggers across real processes on the test server: three worker processes (fixtures/triggerWorker.ts)
 * fire one per-second schedule. Each tick's workflow records one ledger row in the transaction of its step,
 * so the ledger counts runs. Midway one worker is SIGKILLed, with ticks in flight: the others take them
 * over. Every tick from the first to the last runs exactly once — no tick missing, none twice.
 *
 * Debounce: three workers call `durably.debounce` on the same keys in bursts (each worker several times per
 * key per burst); every burst of every key makes exactly one run, with an input from that burst.
 */
import { mkdtempSync, renameSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DebounceWorkerConfig, DebounceWorkerEvents } from "./fixtures/debounceWorker.ts"
import type { TriggerWorkerConfig, TriggerWorkerEvents } from "./fixtures/triggerWorker.ts"
import { connect, type Sql } from "./support/db.ts"
import { killAllFixtures, spawnFixture, type FixtureProcess } from "./support/fixtureProcess.ts"
import { waitFor } from "./support/wait.ts"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"

const WORKERS = 3
const fastLease = { intervalMs: 200, leaseMs: 1000 } as const

const db = {} as { url: string; schema: string; sql: Sql; ledger: string }
beforeAll(async () => {
  db.url = await databaseUrl()
  db.schema = freshSchema("triggers")
  db.sql = connect(db.url)
  db.ledger = `${db.schema}.ticks`
  await db.sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`)
  await db.sql.unsafe(
    `CREATE TABLE ${db.ledger} (workflow_id text NOT NULL, scheduled_at text NOT NULL, executor text NOT NULL, pid integer NOT NULL)`,
  )
  await db.sql.unsafe(
    `CREATE TABLE ${db.schema}.digests (workflow_id text NOT NULL, key text NOT NULL, input text NOT NULL, executor text NOT NULL)`,
  )
})
afterAll(async () => {
  await killAllFixtures()
  await db.sql?.end({ timeout: 1 })
  if (db.url && db.schema) await dropSchema(db.url, db.schema)
})

type Worker = FixtureProcess<TriggerWorkerEvents>

const spawnWorker = (i: number): Worker => {
  const config: TriggerWorkerConfig = {
    url: db.url,
    schema: db.schema,
    ledgerTable: db.ledger,
    executorId: `triggers-w${i}`,
    heartbeat: fastLease,
    workMs: 400,
  }
  return spawnFixture<TriggerWorkerEvents>("triggerWorker.ts", config, config.executorId)
}

const ledger = async () =>
  (await db.sql.unsafe(`SELECT workflow_id, scheduled_at, executor FROM ${db.ledger} ORDER BY scheduled_at`)).map(
    (r) => ({ id: r["workflow_id"] as string, at: r["scheduled_at"] as string, executor: r["executor"] as string }),
  )

const tickStatuses = async () =>
  (
    await db.sql.unsafe(
      `SELECT status, count(*)::int AS n FROM ${db.schema}.workflows WHERE id LIKE '@schedule:every-second:%' GROUP BY status`,
    )
  ).map((r) => `${r["status"] as string}=${r["n"] as number}`)

describe("triggers across processes", () => {
  it("3 workers, a per-second schedule for 10 s, one SIGKILLed midway: every tick runs exactly once", async () => {
    const workers = Array.from({ length: WORKERS }, (_, i) => spawnWorker(i))
    await Promise.all(workers.map((w) => w.waitForEvent("READY", undefined, { timeoutMs: 30_000 })))
    const started = Date.now()
    // Let ticks flow, then kill a worker that has ticks in flight (each tick works 400 ms before recording).
    await waitFor("4 recorded ticks", async () => (await ledger()).length >= 4, { timeoutMs: 30_000 })
    const victim = workers[0]!
    // Kill it while it runs a tick (PENDING, owned by it, not yet recorded).
    const inFlight = await waitFor(
      "a tick in flight on worker 0",
      async () =>
        (
          await db.sql.unsafe(
            `SELECT id FROM ${db.schema}.workflows WHERE status = 'PENDING' AND executor_id = 'triggers-w0' AND id LIKE '@schedule:%' LIMIT 1`,
          )
        )[0]?.["id"] as string | undefined,
      { timeoutMs: 30_000, intervalMs: 20 },
    )
    victim.signal("SIGKILL")
    await victim.exit
    const killedAt = Date.now()
    await waitFor("10 s of ticks", () => Date.now() - started >= 10_000, { timeoutMs: 30_000 })
    // Stop firing: pause through the database as an operator would (a survivor is woken and stops).
    await db.sql.unsafe(
      `UPDATE ${db.schema}.schedules SET paused = true, updated_ms = updated_ms + 1 WHERE name = 'every-second'`,
    )
    await db.sql.unsafe(`SELECT pg_notify('durably_${db.schema}', '["c","",""]')`)
    // Every tick that was created finishes, the killed worker's included (taken over after its lease).
    await waitFor(
      "every tick workflow SUCCESS",
      async () => {
        const s = await tickStatuses()
        return s.length === 1 && s[0]!.startsWith("SUCCESS=")
      },
      { timeoutMs: 60_000, detail: async () => (await tickStatuses()).join(", ") },
    )
    await Promise.all(workers.slice(1).map((w) => w.stop()))

    const rows = await ledger()
    const created = Number((await tickStatuses())[0]!.split("=")[1])
    const instants = rows.map((r) => Date.parse(r.at))
    const gaps = instants.slice(1).map((t, i) => t - instants[i]!)
    const byExecutor = new Map<string, number>()
    for (const r of rows) byExecutor.set(r.executor, (byExecutor.get(r.executor) ?? 0) + 1)
    console.log(
      `[triggers] ${rows.length} ticks over ${((instants.at(-1)! - instants[0]!) / 1000).toFixed(0)} s, ${created} tick workflows; by executor: ${[
        ...byExecutor,
      ]
        .map(([e, n]) => `${e}=${n}`)
        .join(" ")}; worker 0 killed with ${inFlight} in flight ${((killedAt - started) / 1000).toFixed(1)} s in`,
    )
    // Exactly once: one row per tick workflow, one tick workflow per instant.
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length)
    expect(new Set(rows.map((r) => r.at)).size).toBe(rows.length)
    expect(rows.length).toBe(created)
    // None missing: consecutive seconds from the first to the last, across the kill.
    expect(gaps.every((g) => g === 1000)).toBe(true)
    expect(rows.length).toBeGreaterThanOrEqual(9)
    expect(rows.every((r) => r.id === `@schedule:every-second:${r.at}`)).toBe(true)
    // The tick it was running when killed was finished, once, by another worker.
    const taken = rows.filter((r) => r.id === inFlight)
    expect(taken).toHaveLength(1)
    expect(taken[0]!.executor).not.toBe("triggers-w0")
  }, 120_000)
})

describe("debounce across processes", () => {
  it("3 workers debouncing the same keys: one run per burst and key, with that burst's input", async () => {
    const keys = ["alice", "bob", "carol"]
    const bursts = 4
    // Bursts begin at one wall-clock instant for every worker, given once all have launched.
    const goFile = join(mkdtempSync(join(tmpdir(), "durably-debounce-")), "go")
    const workers = Array.from({ length: WORKERS }, (_, i) => {
      const config: DebounceWorkerConfig = {
        url: db.url,
        schema: db.schema,
        ledgerTable: `${db.schema}.digests`,
        executorId: `debounce-w${i}`,
        goFile,
        bursts,
        burstEveryMs: 3_000,
        keys,
        calls: 3,
        spacingMs: 150,
        delayMs: 700,
      }
      return spawnFixture<DebounceWorkerEvents>("debounceWorker.ts", config, config.executorId)
    })
    await Promise.all(workers.map((w) => w.waitForEvent("READY", undefined, { timeoutMs: 60_000 })))
    writeFileSync(`${goFile}.tmp`, String(Date.now() + 1_000))
    renameSync(`${goFile}.tmp`, goFile)
    await Promise.all(workers.map((w) => w.waitForEvent("DONE", undefined, { timeoutMs: 60_000 })))
    const digests = async () =>
      (await db.sql.unsafe(`SELECT workflow_id, key, input FROM ${db.schema}.digests`)).map((r) => ({
        id: r["workflow_id"] as string,
        key: r["key"] as string,
        input: JSON.parse(r["input"] as string) as { burst: number; by: string },
      }))
    await waitFor("one run per burst and key", async () => (await digests()).length >= bursts * keys.length, {
      timeoutMs: 30_000,
      detail: async () =>
        `${(await digests()).length} runs: ${JSON.stringify(await digests())}; @debounce: ${JSON.stringify(
          await db.sql.unsafe(
            `SELECT id, status, delay_until_ms, debounce_until_ms, executor_id, updated_ms FROM ${db.schema}.workflows WHERE queue = '@debounce'`,
          ),
        )}; now ${Date.now()}`,
    })
    // Nothing more comes: every run that was asked for has ended.
    await waitFor("no debounced run left waiting", async () => {
      const [row] = await db.sql.unsafe(
        `SELECT count(*)::int AS n FROM ${db.schema}.workflows WHERE queue = '@debounce' AND status <> 'SUCCESS'`,
      )
      return row?.["n"] === 0
    })
    await Promise.all(workers.map((w) => w.stop()))
    const rows = await digests()
    const calls = workers.flatMap((w) => w.events("CALLED"))
    console.log(
      `[debounce] ${calls.length} calls from ${WORKERS} processes → ${rows.length} runs (${bursts} bursts × ${keys.length} keys); ${
        [...new Set(rows.map((r) => r.id))].length
      } distinct run ids`,
    )
    expect(rows).toHaveLength(bursts * keys.length)
    for (const key of keys)
      expect(
        rows
          .filter((r) => r.key === key)
          .map((r) => r.input.burst)
          .sort(),
      ).toEqual([0, 1, 2, 3])
    // Every call of a burst got the handle of that burst's run.
    for (const r of rows) {
      const ids = new Set(calls.filter((c) => c.key === r.key && c.burst === r.input.burst).map((c) => c.id))
      expect([...ids]).toEqual([r.id])
    }
  }, 120_000)
})
