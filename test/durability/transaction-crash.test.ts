/**
 * Transactions, crash anywhere: like crash-anywhere.test.ts, but every step is a `transaction(ctx, …)`
 * whose body inserts its ledger row through the `sql` it is given (the ledger is a table in the store's own
 * database and schema), so the claim is exactly once: the row commits with the step's checkpoint or not at
 * all. One worker process is SIGKILLed, again and again, inside a transaction body (row inserted, nothing
 * committed), after the checkpoint was written in the transaction but before COMMIT, while COMMIT is on the
 * wire, right after the commit returned, while a restarted process recovers, and around completion. The
 * fault plan comes from a seeded PRNG (printed; DURABILITY_SEED replays it). At the end every workflow is
 * SUCCESS with the right output and every step has exactly one ledger row: the one its checkpoint records.
 *
 * Scale: DURABILITY_WORKFLOWS (default 16) and DURABILITY_ROUNDS (default 12, at least 10).
 */
import { describe, expect, it } from "vitest"
import { stepName } from "./support/chain.ts"
import { allSucceeded, readLedger, readSteps, readWorkflows, waitAllSucceeded } from "./support/db.ts"
import { between, prng, runSeed, shuffle } from "./support/prng.ts"
import type { Fault, FaultEvent, FaultKind, WorkerConfig } from "./support/protocol.ts"
import { useLedgerDb } from "./support/ledgerDb.ts"
import { verifyDurability } from "./support/verify.ts"
import { waitFor } from "./support/wait.ts"
import { killAllWorkers, spawnWorker, type Exit } from "./support/workers.ts"

const WORKFLOWS = Number(process.env["DURABILITY_WORKFLOWS"] ?? 16)
const ROUNDS = Math.max(10, Number(process.env["DURABILITY_ROUNDS"] ?? 12))
const STEPS = 8

const completionKinds: FaultKind[] = ["beforeComplete", "duringComplete", "afterComplete"]
const stepKinds: FaultKind[] = ["txBody", "beforeCommit", "duringCommit", "afterCommit", "duringRecovery"]

/** Every kind at least once; step-phase faults first, and the first round has nothing to recover. */
const makePlan = (random: () => number, rounds: number): FaultKind[] => {
  const early = [...stepKinds]
  while (early.length < rounds - completionKinds.length) early.push(stepKinds[between(random, 0, 3)]!)
  shuffle(random, early)
  if (early[0] === "duringRecovery") [early[0], early[1]] = [early[1]!, early[0]]
  return [...early, ...completionKinds]
}

interface Round {
  readonly index: number
  readonly pid: number
  readonly fault: Fault
  readonly exit: Exit | "finished"
  readonly event: FaultEvent | undefined
}

describe("transactions, crash anywhere", () => {
  const db = useLedgerDb("dur_txcrash", killAllWorkers)

  it(`SIGKILLed ${ROUNDS} times in and around transactions, ${WORKFLOWS} workflows × ${STEPS} transactions: every step's ledger row commits exactly once`, async () => {
    const seed = runSeed("transaction crash")
    const random = prng(seed)
    const plan = makePlan(random, ROUNDS)
    const ids = Array.from({ length: WORKFLOWS }, (_, i) => `tx-${String(i).padStart(2, "0")}`)
    const config = (fault?: Fault): WorkerConfig => ({
      url: db.url,
      schema: db.schema,
      ledgerUrl: db.url,
      ledgerTable: db.ledger,
      executorId: "tx-crash-worker",
      heartbeat: { intervalMs: 200, leaseMs: 1000 },
      start: { ids, steps: STEPS },
      stepMs: [2, 20],
      bodies: "transaction",
      ...(fault ? { fault } : {}),
    })

    const rounds: Round[] = []
    for (const [index, kind] of plan.entries()) {
      const workflows = await readWorkflows(db.sql, db.schema)
      const remainingSteps = WORKFLOWS * STEPS - (await readSteps(db.sql, db.schema)).length
      const pending = workflows.filter((w) => w.status === "PENDING").length
      const unfinished = WORKFLOWS - workflows.filter((w) => w.status === "SUCCESS").length
      const earlyLeft = plan.slice(index).filter((k) => !completionKinds.includes(k)).length
      const share = Math.max(1, Math.floor(remainingSteps / (earlyLeft + 2)))
      const nth =
        kind === "txBody"
          ? between(random, 1, Math.min(25, share + WORKFLOWS))
          : kind === "duringRecovery"
            ? between(random, 1, Math.max(1, pending))
            : kind === "beforeComplete"
              ? between(random, 1, Math.max(1, Math.min(2, unfinished)))
              : completionKinds.includes(kind)
                ? 1
                : between(random, 1, Math.min(15, share))
      const fault: Fault = {
        kind,
        nth,
        signal: "SIGKILL",
        ...(kind === "duringCommit" || kind === "duringComplete" ? { delayMs: between(random, 0, 3) } : {}),
      }
      const worker = spawnWorker(config(fault))
      const exit = await waitFor(
        `round ${index} (${kind} #${nth}) to kill worker ${worker.pid}, or every workflow to finish`,
        async () => worker.exited() ?? ((await allSucceeded(db.sql, db.schema, ids)) && ("finished" as const)),
        { intervalMs: 25, detail: () => worker.tail() },
      )
      if (exit === "finished") await worker.stop()
      else if (exit.signal !== "SIGKILL")
        throw new Error(
          `round ${index}: worker ${worker.pid} exited without its fault: ${JSON.stringify(exit)}${worker.tail()}`,
        )
      rounds.push({ index, pid: worker.pid, fault, exit, event: worker.events("FAULT")[0] })
    }

    const last = spawnWorker(config())
    await waitAllSucceeded(db.sql, db.schema, ids, { context: () => last.tail() })
    // Its own starts (each attaching to a workflow that exists) may still be running when all have succeeded:
    // stopping it then would make them fail with EngineStopped.
    await last.waitForEvent("STARTED")
    expect((await last.stop()).code, last.tail()).toBe(0)

    const workflows = await readWorkflows(db.sql, db.schema)
    const checkpoints = await readSteps(db.sql, db.schema)
    const rows = await readLedger(db.sql, db.ledger)
    const killed = rounds.filter((r) => r.exit !== "finished")
    const order = new Map([...rounds.map((r) => [r.pid, r.index] as const), [last.pid, rounds.length]])
    const checkpointOf = (workflowId: string, step: string | undefined) =>
      checkpoints.find((c) => c.workflowId === workflowId && c.name === step)
    const rowsOf = (workflowId: string, step: string | undefined) =>
      rows.filter((l) => l.workflowId === workflowId && l.step === step)
    const outcomeOf = (r: Round) => {
      const e = r.event
      if (e?.kind === "duringCommit" && e.workflowId)
        return checkpointOf(e.workflowId, e.step)?.output?.pid === r.pid ? " (the commit landed)" : " (rolled back)"
      if (e?.kind === "duringComplete" && e.workflowId)
        return workflows.find((w) => w.id === e.workflowId)?.output?.pid === r.pid
          ? " (the completion committed)"
          : " (the completion was lost)"
      return ""
    }
    const summary = rounds
      .map(
        (r) =>
          `  round ${r.index}: pid ${r.pid} ${r.fault.kind} #${r.fault.nth}${r.fault.delayMs === undefined ? "" : ` +${r.fault.delayMs}ms`} → ${
            r.exit === "finished"
              ? "did not fire (all finished)"
              : `killed at ${r.event?.workflowId ?? "?"} ${r.event?.step ?? ""}${outcomeOf(r)}`
          }`,
      )
      .join("\n")
    console.log(`[transaction crash] seed ${seed}\n${summary}\n  final: pid ${last.pid}`)

    const violations: string[] = []
    for (const r of killed) if (!r.event) violations.push(`round ${r.index}: killed without a FAULT event`)
    for (const kind of [...stepKinds, ...completionKinds])
      if (!killed.some((r) => r.fault.kind === kind)) violations.push(`fault kind ${kind} was never hit`)
    if (killed.length < 10) violations.push(`only ${killed.length} kill rounds fired`)

    // Exactly once: one ledger row per step, the one of the process its checkpoint names, with its value.
    for (const id of ids)
      for (let i = 0; i < STEPS; i++) {
        const step = stepName(i)
        const mine = rowsOf(id, step)
        const cp = checkpointOf(id, step)
        const show = mine.map((l) => `#${l.id} pid=${l.pid} v=${l.value}`).join(" | ")
        if (mine.length !== 1)
          violations.push(`${id} ${step}: ${mine.length} db.ledger rows, expected exactly 1: ${show}`)
        else if (mine[0]!.pid !== cp?.output?.pid || mine[0]!.value !== cp.output.v)
          violations.push(
            `${id} ${step}: the ledger row (${show}) is not the checkpoint's ${JSON.stringify(cp?.output)}`,
          )
      }
    if (rows.length !== WORKFLOWS * STEPS)
      violations.push(`${rows.length} db.ledger rows in all, expected ${WORKFLOWS * STEPS}`)

    // What each fault implies for the step (or workflow) it hit.
    for (const r of killed) {
      const e = r.event
      if (!e?.workflowId) continue
      const at = `round ${r.index} (${e.kind} #${e.nth} at ${e.workflowId} ${e.step ?? ""})`
      const writer = checkpointOf(e.workflowId, e.step)?.output?.pid
      const rowHere = rowsOf(e.workflowId, e.step).some((l) => l.pid === r.pid)
      const completedBy = workflows.find((w) => w.id === e.workflowId)?.output?.pid
      const laterRuns = rows.filter((l) => l.workflowId === e.workflowId && (order.get(l.pid) ?? -1) > r.index)
      switch (e.kind) {
        case "txBody":
        case "beforeCommit":
          if (rowHere) violations.push(`${at}: the killed process's uncommitted ledger row is there`)
          if (writer === r.pid) violations.push(`${at}: the killed process is recorded as the step's writer`)
          break
        case "duringCommit":
          if (rowHere !== (writer === r.pid))
            violations.push(
              `${at}: half a transaction: db.ledger row ${rowHere}, checkpoint by the killed pid ${writer === r.pid}`,
            )
          break
        case "afterCommit":
          if (!rowHere || writer !== r.pid)
            violations.push(
              `${at}: the committed transaction is not the killed process's (row ${rowHere}, writer ${writer})`,
            )
          break
        case "beforeComplete":
        case "duringComplete":
        case "afterComplete":
          if (e.kind === "beforeComplete" && completedBy === r.pid)
            violations.push(`${at}: completed by the killed process`)
          if (e.kind === "afterComplete" && completedBy !== r.pid)
            violations.push(`${at}: the committed completion is not the killed process's`)
          if (laterRuns.length > 0) violations.push(`${at}: transactions ran again after all were recorded`)
          break
        default:
          break
      }
    }

    const verdict = verifyDurability({
      ids,
      steps: STEPS,
      workflows,
      checkpoints,
      ledger: rows,
      interrupted: new Set(killed.map((r) => r.pid)),
    })
    console.log(
      `[transaction crash] ${killed.length} kills; ${rows.length} db.ledger rows for ${WORKFLOWS * STEPS} steps`,
    )
    expect([...violations, ...verdict.violations], `seed ${seed}\n${summary}`).toEqual([])
  }, 120_000)
})
