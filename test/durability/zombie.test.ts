/**
 * Zombie: a worker is frozen with SIGSTOP past its lease while it runs workflows, another worker takes them
 * over, then the first is resumed with SIGCONT. The zombie must start no new step body (a body that was
 * already running when it froze may finish), its writes must be refused (FencedError), and no step is
 * recorded twice or by the zombie after the takeover.
 *
 * Two ways to freeze it: the test sends SIGSTOP while step bodies are in flight; and the worker stops itself
 * right after a checkpoint committed, so that one of its workflows is about to start its next step when it
 * wakes up (while the others are inside step bodies) — and the test wakes it only once the taker has recorded
 * that next step.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"
import {
  connect,
  createLedger,
  readLedger,
  readSteps,
  readWorkflows,
  waitAllSucceeded,
  type Sql,
} from "./support/db.ts"
import type { Fault, WorkerConfig } from "./support/protocol.ts"
import { verifyDurability } from "./support/verify.ts"
import { waitFor } from "./support/wait.ts"
import { killAllWorkers, spawnWorker, type Worker } from "./support/workers.ts"

const WORKFLOWS = 8
const STEPS = 6
const LEASE_MS = 1000

describe("zombie", () => {
  let url: string
  let sql: Sql
  const schemas: string[] = []

  beforeAll(async () => {
    url = await databaseUrl()
    sql = connect(url)
  })

  afterEach(async () => {
    await killAllWorkers()
  })

  afterAll(async () => {
    await sql?.end({ timeout: 1 })
    for (const schema of schemas) await dropSchema(url, schema)
  })

  const scenario = async (freeze: "external" | Fault) => {
    const schema = freshSchema("dur_zombie")
    schemas.push(schema)
    const ledger = await createLedger(sql, schema)
    const ids = Array.from({ length: WORKFLOWS }, (_, i) => `z-${String(i).padStart(2, "0")}`)
    const config = (executorId: string, extra: Partial<WorkerConfig>): WorkerConfig => ({
      url,
      schema,
      ledgerUrl: url,
      ledgerTable: ledger,
      executorId,
      heartbeat: { intervalMs: 200, leaseMs: LEASE_MS },
      stepMs: [150, 300],
      ...extra,
    })
    // The taker is up first, so its own grace period (one lease) is over when the zombie's lease runs out.
    const taker = spawnWorker(config("zombie-taker", {}))
    await taker.waitForEvent("READY")
    const zombie = spawnWorker(
      config("zombie", { start: { ids, steps: STEPS }, ...(freeze === "external" ? {} : { fault: freeze }) }),
    )

    if (freeze === "external") {
      // Freeze it mid-run while step bodies are in flight (a ledger row whose step is not recorded yet).
      await waitFor(
        "the zombie to be mid-run with step bodies in flight",
        async () => {
          const recorded = await readSteps(sql, schema)
          const rows = await readLedger(sql, ledger)
          const inFlight = rows.filter(
            (r) => !recorded.some((c) => c.workflowId === r.workflowId && c.name === r.step),
          ).length
          return recorded.length >= WORKFLOWS && inFlight >= 2
        },
        { intervalMs: 10, detail: () => zombie.tail() },
      )
      zombie.signal("SIGSTOP")
    } else await zombie.waitForEvent("FAULT")
    await waitFor("the zombie to be stopped", () => zombie.state() === "T", { detail: () => zombie.tail() })
    const frozen = (await readWorkflows(sql, schema)).filter((w) => w.status === "PENDING").map((w) => w.id)
    const rowsAtFreeze = await readLedger(sql, ledger)
    const recordedAtFreeze = await readSteps(sql, schema)
    const inFlightAtFreeze = rowsAtFreeze.filter(
      (r) => r.pid === zombie.pid && !recordedAtFreeze.some((c) => c.workflowId === r.workflowId && c.name === r.step),
    )
    expect(frozen.length, "the zombie had finished its work before it froze").toBeGreaterThan(0)

    // The taker claims every workflow the zombie was running once the zombie's lease has run out.
    await waitFor(
      "the taker to take over every workflow the zombie was running",
      async () =>
        (await readWorkflows(sql, schema)).every((w) => !frozen.includes(w.id) || w.executorId === "zombie-taker"),
      { detail: () => taker.tail() },
    )
    if (freeze !== "external") {
      // The zombie froze right after recording a step; let the taker record the next one before waking it,
      // so that any body the zombie starts now is the body of a step that is already recorded.
      const at = zombie.events("FAULT")[0]
      const next = at?.step === undefined ? undefined : `s${Number(at.step.slice(1)) + 1}`
      if (at && next !== undefined && Number(next.slice(1)) < STEPS)
        await waitFor(
          `the taker to record ${at.workflowId} ${next}`,
          async () =>
            (await readSteps(sql, schema)).some(
              (c) => c.workflowId === at.workflowId && c.name === next && c.output?.pid === taker.pid,
            ),
          { detail: () => taker.tail() },
        )
    }
    const resumedAt = Date.now()
    zombie.signal("SIGCONT")

    // Let the zombie run into the wall: each of its executions is refused a write, or it has lived well past
    // a lease after waking (five heartbeats) without trying one.
    await waitFor(
      "the zombie to be refused on every workflow it was running, or to have heartbeated 5 times since SIGCONT",
      () =>
        frozen.every((id) => zombie.events("FENCED").some((f) => f.workflowId === id)) ||
        zombie.events("BEAT").filter((b) => b.at >= resumedAt).length >= 5,
      { detail: () => zombie.tail() },
    )
    await waitAllSucceeded(sql, schema, ids, { context: () => taker.tail() })
    const zombieExit = await zombie.stop()
    const takerExit = await taker.stop()

    const workflows = await readWorkflows(sql, schema)
    const checkpoints = await readSteps(sql, schema)
    const rows = await readLedger(sql, ledger)
    const fenced = zombie.events("FENCED")
    const violations: string[] = []
    const zombieStarts = rows.filter((r) => r.pid === zombie.pid && r.startedMs >= resumedAt)
    const firstBeat = zombie.events("BEAT").find((b) => b.at >= resumedAt)
    for (const r of zombieStarts) {
      const others = rows.filter((x) => x.workflowId === r.workflowId && x.step === r.step && x.id !== r.id)
      violations.push(
        `the zombie (pid ${zombie.pid}) started the body of ${r.workflowId} ${r.step} ${r.startedMs - resumedAt} ms after SIGCONT, ` +
          `after the taker owned the workflow (the zombie's first heartbeat after SIGCONT succeeded at +${(firstBeat?.at ?? NaN) - resumedAt} ms; ` +
          `other runs of that step: ${others.map((x) => `pid ${x.pid} at +${x.startedMs - resumedAt} ms`).join(", ") || "none"})`,
      )
    }
    for (const c of checkpoints)
      if (c.output?.pid === zombie.pid && (c.completedMs ?? 0) >= resumedAt)
        violations.push(`the zombie recorded ${c.workflowId} ${c.name} after SIGCONT`)
    for (const id of frozen) {
      const w = workflows.find((x) => x.id === id)
      if (w?.executorId !== "zombie-taker") violations.push(`${id}: owned by ${w?.executorId}, not the taker`)
      if (w?.output?.pid !== taker.pid) violations.push(`${id}: completed by pid ${w?.output?.pid}, not the taker`)
    }
    if (inFlightAtFreeze.length > 0 && !fenced.some((f) => f.op === "writeCheckpoint"))
      violations.push(
        `${inFlightAtFreeze.length} step bodies were in flight in the zombie, yet none of its checkpoint writes was refused`,
      )
    const verdict = verifyDurability({
      ids,
      steps: STEPS,
      workflows,
      checkpoints,
      ledger: rows,
      interrupted: new Set([zombie.pid]),
    })
    console.log(
      `[zombie ${freeze === "external" ? "external SIGSTOP" : `self-SIGSTOP ${freeze.kind} #${freeze.nth}`}] ` +
        `${frozen.length} workflows running at the freeze, ${inFlightAtFreeze.length} bodies in flight; ` +
        `${fenced.length} writes refused after SIGCONT (${fenced.map((f) => `${f.op} ${f.workflowId} ${f.step ?? ""} → ${f.status ?? "epoch moved"}`).join("; ")}); ` +
        `${zombieStarts.length} bodies started by the zombie after SIGCONT; runs per step ${JSON.stringify(verdict.runsHistogram)}`,
    )
    expect([...violations, ...verdict.violations], logsOf(zombie)).toEqual([])
    expect(takerExit.code, taker.tail()).toBe(0)
    expect(zombieExit.code, zombie.tail()).toBe(0)
  }

  it("frozen by SIGSTOP while step bodies run: starts nothing after SIGCONT, its writes are refused", async () => {
    await scenario("external")
  }, 120_000)

  it("frozen right after a checkpoint committed: does not start the next step after SIGCONT", async () => {
    await scenario({ kind: "afterCheckpoint", nth: WORKFLOWS + 2, signal: "SIGSTOP" })
  }, 120_000)
})

const logsOf = (w: Worker) =>
  `zombie pid ${w.pid} events:\n${w.lines
    .filter((l) => !l.startsWith("BEAT "))
    .slice(-40)
    .join("\n")}`
