/**
 * Failover: two worker processes with different executorIds each start and run their share of the
 * workflows; one is SIGKILLed mid-run. The survivor takes the dead one's workflows over once its lease has
 * expired (judged by the database clock) and finishes them: they end SUCCESS, owned by the survivor, and no
 * recorded step ran again.
 */
import { describe, expect, it } from "vitest"
import { readLedger, readSteps, readWorkflows, waitAllSucceeded } from "./support/db.ts"
import type { WorkerConfig } from "./support/protocol.ts"
import { useLedgerDb } from "./support/ledgerDb.ts"
import { verifyDurability } from "./support/verify.ts"
import { waitFor } from "./support/wait.ts"
import { killAllWorkers, spawnWorker } from "./support/workers.ts"

const PER_WORKER = Number(process.env["DURABILITY_FAILOVER_WORKFLOWS"] ?? 10)
const STEPS = 10
const LEASE_MS = 1000

describe("failover", () => {
  const db = useLedgerDb("dur_failover", killAllWorkers)

  it("a SIGKILLed worker's workflows are finished by the survivor after its lease expires", async () => {
    const idsA = Array.from({ length: PER_WORKER }, (_, i) => `a-${String(i).padStart(2, "0")}`)
    const idsB = Array.from({ length: PER_WORKER }, (_, i) => `b-${String(i).padStart(2, "0")}`)
    const config = (executorId: string, ids: string[]): WorkerConfig => ({
      url: db.url,
      schema: db.schema,
      ledgerUrl: db.url,
      ledgerTable: db.ledger,
      executorId,
      heartbeat: { intervalMs: 200, leaseMs: LEASE_MS },
      start: { ids, steps: STEPS },
      stepMs: [40, 80],
    })
    const a = spawnWorker(config("failover-a", idsA))
    const b = spawnWorker(config("failover-b", idsB))
    await a.waitForEvent("STARTED")
    await b.waitForEvent("STARTED")

    // Mid-run: A has recorded a good part of its work, and none of its workflows is finished.
    await waitFor(
      "worker A to record 25 steps",
      async () => (await readSteps(db.sql, db.schema)).filter((s) => s.workflowId.startsWith("a-")).length >= 25,
      { intervalMs: 10, detail: () => a.tail() },
    )
    a.signal("SIGKILL")
    const exitA = await a.exit
    expect(exitA.signal).toBe("SIGKILL")
    const [killedAt] = await db.sql`SELECT clock_timestamp() AS t`
    const atKill = await readWorkflows(db.sql, db.schema)
    const unfinishedA = atKill.filter((w) => w.id.startsWith("a-") && w.status !== "SUCCESS").map((w) => w.id)
    expect(unfinishedA.length, "A's workflows were all finished before the kill: the test needs slower steps").toBe(
      PER_WORKER,
    )

    await waitAllSucceeded(db.sql, db.schema, [...idsA, ...idsB], { context: () => b.tail() })
    expect((await b.stop()).code, b.tail()).toBe(0)

    const workflows = await readWorkflows(db.sql, db.schema)
    const checkpoints = await readSteps(db.sql, db.schema)
    const rows = await readLedger(db.sql, db.ledger)
    const violations: string[] = []
    for (const id of unfinishedA) {
      const w = workflows.find((x) => x.id === id)
      if (w?.executorId !== "failover-b") violations.push(`${id}: owned by ${w?.executorId}, not the survivor`)
      if (w?.output?.pid !== b.pid) violations.push(`${id}: completed by pid ${w?.output?.pid}, not the survivor`)
      if (!checkpoints.some((c) => c.workflowId === id && c.output?.pid === b.pid))
        violations.push(`${id}: the survivor recorded none of its steps`)
    }
    // The survivor touched A's work only after A's lease ran out (database clock).
    const [beat] = await db.sql`SELECT heartbeat_at FROM ${db.sql(db.schema)}.executors WHERE id = 'failover-a'`
    const expiry = new Date((beat?.["heartbeat_at"] as Date).getTime() + LEASE_MS)
    const early = rows.filter((r) => r.workflowId.startsWith("a-") && r.pid === b.pid && r.at < expiry)
    if (early.length > 0)
      violations.push(`the survivor ran A's steps before A's lease expired at ${expiry.toISOString()}: ${early.length}`)
    const firstTakeover = rows.find((r) => r.workflowId.startsWith("a-") && r.pid === b.pid)
    console.log(
      `[failover] A killed at ${(killedAt?.["t"] as Date).toISOString()}, its lease expired at ${expiry.toISOString()}, the survivor's first step of A's work at ${firstTakeover?.at.toISOString()}`,
    )

    const verdict = verifyDurability({
      ids: [...idsA, ...idsB],
      steps: STEPS,
      workflows,
      checkpoints,
      ledger: rows,
      interrupted: new Set([a.pid]),
    })
    console.log(`[failover] body runs per step: ${JSON.stringify(verdict.runsHistogram)}`)
    expect([...violations, ...verdict.violations]).toEqual([])
  }, 120_000)
})
