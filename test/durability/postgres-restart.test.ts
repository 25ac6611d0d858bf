/**
 * Postgres restart: the Durably store lives on a throwaway cluster the test starts itself (the ledger stays on
 * the shared server, like any external system the steps talk to). While a worker runs workflows the test
 *
 * - holds commits (synchronous replication to a standby that does not exist: each commit is durable locally
 *   but its client waits) and restarts Postgres with `pg_ctl restart -m fast`: the worker's in-flight writes
 *   fail although they committed — the ambiguous commit that a dropped connection produces;
 * - crashes Postgres (`pg_ctl stop -m immediate`), keeps it down for more than a lease (the worker's heartbeat
 *   fails, so its step gate closes), and starts it again.
 *
 * Every workflow still completes with the right output, and since no worker process died, every step body ran
 * exactly once. Then the worker must be back within a lease of Postgres being back. The second test makes the
 * same ambiguous commit happen to a workflow's creation. The third restarts Postgres while the worker is inside
 * `transaction` bodies (their ledger rows inserted, nothing committed): the worker keeps running, retries
 * them, and each transaction's effect commits exactly once.
 *
 * Scale: DURABILITY_RESTART_WORKFLOWS (default 20).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"
import { startCluster, type Cluster } from "./support/cluster.ts"
import {
  connect,
  createLedger,
  readLedger,
  readSteps,
  readWorkflows,
  waitAllSucceeded,
  type Sql,
} from "./support/db.ts"
import type { WorkerConfig } from "./support/protocol.ts"
import { verifyDurability } from "./support/verify.ts"
import { waitFor } from "./support/wait.ts"
import { killAllWorkers, spawnWorker, type Worker } from "./support/workers.ts"

const WORKFLOWS = Number(process.env["DURABILITY_RESTART_WORKFLOWS"] ?? 20)
const STEPS = 10
const LEASE_MS = 1000

describe("postgres restart", () => {
  let url: string
  let sql: Sql
  let cluster: Cluster | undefined
  const schemas: string[] = []
  const clients = new Set<Sql>()

  beforeAll(async () => {
    url = await databaseUrl()
    sql = connect(url)
    cluster = await startCluster()
  }, 120_000)

  afterEach(async () => {
    await killAllWorkers()
    await closeAll()
    // A test that failed while commits were held must not leave the hold to the next one.
    const admin = open(cluster!.adminUrl)
    await admin`ALTER SYSTEM RESET synchronous_standby_names`
    await admin`SELECT pg_reload_conf()`
    await closeAll()
  })

  afterAll(async () => {
    await cluster?.destroy()
    await sql?.end({ timeout: 1 })
    for (const schema of schemas) await dropSchema(url, schema)
  })

  /** A connection to the cluster, closed after the test; open a new one after each restart. */
  const open = (to: string) => {
    const client = connect(to)
    clients.add(client)
    return client
  }
  const closeAll = async () => {
    const all = [...clients]
    clients.clear()
    await Promise.all(all.map((c) => c.end({ timeout: 1 })))
  }

  /** Commits on the cluster stay durable locally but their clients wait (for a standby that never comes). */
  const holdCommits = async (admin: Sql) => {
    await admin`ALTER SYSTEM SET synchronous_standby_names = 'nobody'`
    await admin`SELECT pg_reload_conf()`
  }
  /** Undo the hold for the next start, without reloading: the held commits stay held until the restart. */
  const releaseOnRestart = async (admin: Sql) => {
    await admin`ALTER SYSTEM RESET synchronous_standby_names`
  }
  const heldWrites = async (admin: Sql, like: string) =>
    Number(
      (
        await admin`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE wait_event = 'SyncRep' AND datname = 'durability' AND query LIKE ${like}`
      )[0]?.["n"],
    )
  /** What Postgres logs when a shutdown ends a commit's wait: the commit stands, its client gets an error. */
  const ambiguousCommits = (c: Cluster) => c.logCount("The transaction has already committed locally")
  const heartbeatFailures = (w: Worker) =>
    w.lines.filter((l) => l.startsWith("LOG ") && l.includes("heartbeat failed")).length

  const setup = async (extra: Partial<WorkerConfig>) => {
    const c = cluster!
    const ledgerSchema = freshSchema("dur_restart")
    schemas.push(ledgerSchema)
    const ledger = await createLedger(sql, ledgerSchema)
    const schema = freshSchema("dur_restart")
    const worker = spawnWorker({
      url: c.url,
      schema,
      ledgerUrl: url,
      ledgerTable: ledger,
      executorId: `restart-${schema}`,
      heartbeat: { intervalMs: 200, leaseMs: LEASE_MS },
      stepMs: [60, 120],
      ...extra,
    })
    return { c, schema, ledger, worker }
  }

  it("every workflow completes, each step body once, across a restart with commits in flight and a crash", async () => {
    const ids = Array.from({ length: WORKFLOWS }, (_, i) => `r-${String(i).padStart(2, "0")}`)
    const { c, schema, ledger, worker } = await setup({ start: { ids, steps: STEPS } })
    const context = () => worker.tail()
    try {
      let db = open(c.url)
      const recorded = async () => (await readSteps(db, schema)).length
      await worker.waitForEvent("STARTED")
      await waitFor("40 steps recorded", async () => (await recorded()) >= 40, { intervalMs: 10, detail: context })

      // 1. Commits in flight when Postgres restarts: they are durable, their answers are lost.
      const admin = open(c.adminUrl)
      await holdCommits(admin)
      // A store has one checkpoint statement in flight at a time (group commit): the held one is a single
      // checkpoint (WITH owner …) or several workflows' together (WITH c …), and the others queue behind it.
      await waitFor(
        "a checkpoint write to wait on its commit",
        async () => (await heldWrites(admin, "WITH owner AS%")) + (await heldWrites(admin, "WITH c AS%")) >= 1,
        {
          intervalMs: 10,
          detail: context,
        },
      )
      const ambiguousBefore = ambiguousCommits(c)
      const atRestart = await recorded()
      await releaseOnRestart(admin)
      await closeAll()
      await c.restart()
      expect(ambiguousCommits(c) - ambiguousBefore, "commits whose answer the restart cut off").toBeGreaterThanOrEqual(
        1,
      )
      db = open(c.url)
      const afterRestart = await recorded()
      expect(afterRestart, "the held commits are durable").toBeGreaterThanOrEqual(atRestart)
      expect(afterRestart, "the run ended before the first restart").toBeLessThan(WORKFLOWS * STEPS)

      // 2. A crash, and down for longer than a lease: the worker's heartbeats fail meanwhile.
      await waitFor("40 more steps recorded", async () => (await recorded()) >= afterRestart + 40, {
        intervalMs: 10,
        detail: context,
      })
      await closeAll()
      const failuresBefore = heartbeatFailures(worker)
      await c.stop("immediate")
      await waitFor(
        "six failed heartbeats (more than a lease)",
        () => heartbeatFailures(worker) - failuresBefore >= 6,
        {
          detail: context,
        },
      )
      await c.start()
      const backAt = Date.now()
      db = open(c.url)
      expect(await recorded(), "the run ended before the crash").toBeLessThan(WORKFLOWS * STEPS)

      await waitAllSucceeded(db, schema, ids, { context })
      expect((await worker.stop()).code, worker.tail()).toBe(0)
      const verdict = verifyDurability({
        ids,
        steps: STEPS,
        workflows: await readWorkflows(db, schema),
        checkpoints: await readSteps(db, schema),
        ledger: await readLedger(sql, ledger),
        interrupted: new Set(),
      })
      const firstBeat = worker.events("BEAT").find((b) => b.at >= backAt)
      const silentMs = (firstBeat?.at ?? Infinity) - backAt
      console.log(
        `[postgres restart] body runs per step: ${JSON.stringify(verdict.runsHistogram)}; ${heartbeatFailures(worker)} failed heartbeats; first heartbeat ${silentMs} ms after Postgres was back`,
      )
      expect(verdict.violations, worker.tail(60)).toEqual([])

      // Liveness: once Postgres is back, the executor must heartbeat again within its lease, or other executors
      // take its workflows over although it is alive (and it starts no step meanwhile: its gate is closed).
      expect(
        silentMs,
        `the worker's first successful heartbeat came ${silentMs} ms after Postgres was back, more than its ${LEASE_MS} ms lease`,
      ).toBeLessThanOrEqual(LEASE_MS)
    } catch (e) {
      console.log(`[postgres restart] server log:\n${await c.log()}`)
      throw e
    }
  }, 180_000)

  it("a workflow whose creation committed but whose answer was lost to a restart still runs", async () => {
    const ids = Array.from({ length: 4 }, (_, i) => `c-${String(i).padStart(2, "0")}`)
    const { c, schema, ledger, worker } = await setup({
      start: { ids, steps: 3 },
      startOnSignal: true,
      stepMs: [5, 20],
    })
    try {
      await worker.waitForEvent("READY")
      const admin = open(c.adminUrl)
      await holdCommits(admin)
      worker.signal("SIGUSR2")
      await waitFor(
        "the first workflow's creation to wait on its commit",
        async () => (await heldWrites(admin, "INSERT INTO%workflows%")) >= 1,
        { intervalMs: 10, detail: () => worker.tail() },
      )
      const ambiguousBefore = ambiguousCommits(c)
      await releaseOnRestart(admin)
      await closeAll()
      await c.restart()
      // At least the creation's; other writes of the worker (its heartbeat, a concurrent creation) may be held too.
      expect(
        ambiguousCommits(c) - ambiguousBefore,
        "the creation's commit whose answer the restart cut off",
      ).toBeGreaterThanOrEqual(1)
      await worker.waitForEvent("STARTED", undefined, { detail: () => worker.tail() })
      const db = open(c.url)
      await waitAllSucceeded(db, schema, ids, { timeoutMs: 30_000, context: () => worker.tail() })
      expect((await worker.stop()).code, worker.tail()).toBe(0)
      const verdict = verifyDurability({
        ids,
        steps: 3,
        workflows: await readWorkflows(db, schema),
        checkpoints: await readSteps(db, schema),
        ledger: await readLedger(sql, ledger),
        interrupted: new Set(),
      })
      expect(verdict.violations, worker.tail(60)).toEqual([])
    } catch (e) {
      console.log(`[postgres restart] server log:\n${await c.log()}`)
      throw e
    }
  }, 120_000)

  it("a restart while the worker is inside transaction bodies: it keeps running, each effect commits once", async () => {
    const c = cluster!
    const ids = Array.from({ length: 6 }, (_, i) => `t-${String(i).padStart(2, "0")}`)
    const steps = 6
    const schema = freshSchema("dur_restart_tx")
    // The ledger lives in the store's own database: the transaction's effect is its ledger row.
    const ledger = await createLedger(open(c.url), schema)
    await closeAll()
    const worker = spawnWorker({
      url: c.url,
      schema,
      ledgerUrl: c.url,
      ledgerTable: ledger,
      executorId: `restart-${schema}`,
      heartbeat: { intervalMs: 200, leaseMs: LEASE_MS },
      bodies: "transaction",
      // Long bodies, so that the restart finds several open transactions.
      stepMs: [150, 300],
      start: { ids, steps },
    })
    const context = () => worker.tail()
    try {
      await worker.waitForEvent("STARTED")
      const admin = open(c.adminUrl)
      const inBodies = async () =>
        Number(
          (
            await admin`SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = 'durability' AND state = 'idle in transaction' AND query LIKE 'INSERT INTO%ledger%'`
          )[0]?.["n"],
        )
      let db = open(c.url)
      const recorded = async () => (await readSteps(db, schema)).length
      await waitFor("6 steps recorded", async () => (await recorded()) >= 6, { intervalMs: 10, detail: context })
      await waitFor("three transactions open inside their bodies", async () => (await inBodies()) >= 3, {
        intervalMs: 5,
        detail: context,
      })
      await closeAll()
      await c.restart()
      db = open(c.url)
      expect(await recorded(), "the run ended before the restart").toBeLessThan(ids.length * steps)

      await waitAllSucceeded(db, schema, ids, { timeoutMs: 60_000, context })
      expect((await worker.stop()).code, worker.tail()).toBe(0)
      const rows = await readLedger(db, ledger)
      const verdict = verifyDurability({
        ids,
        steps,
        workflows: await readWorkflows(db, schema),
        checkpoints: await readSteps(db, schema),
        ledger: rows,
        interrupted: new Set(),
      })
      console.log(
        `[postgres restart] transactions: ${rows.length} ledger rows for ${ids.length * steps} steps; ${heartbeatFailures(worker)} failed heartbeats`,
      )
      expect(rows.length, "one committed effect per transaction").toBe(ids.length * steps)
      expect(verdict.violations, worker.tail(60)).toEqual([])
    } catch (e) {
      console.log(`[postgres restart] server log:\n${await c.log()}`)
      throw e
    }
  }, 120_000)
})
