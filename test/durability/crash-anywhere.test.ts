/**
 * Crash anywhere: one worker process runs 20 workflows of 10 chained steps and is SIGKILLed, again and
 * again, at points covering every phase of an execution: inside a step body, after a body returned but
 * before its checkpoint, while a checkpoint is on the wire, right after a checkpoint committed (between
 * checkpoints), around completion, and while a restarted process is recovering. Each restart uses the same
 * executorId and takes its workflows back at launch. The fault plan comes from a seeded PRNG (printed;
 * DURABILITY_SEED replays the plan — the interleavings are real and vary). At the end every workflow is
 * SUCCESS with the right output, and the ledger of step bodies obeys the durability rule (support/verify.ts).
 *
 * Scale: DURABILITY_WORKFLOWS (default 20) and DURABILITY_ROUNDS (default 12, at least 10).
 */
import { describe, expect, it } from "vitest"
import { allSucceeded, readLedger, readSteps, readWorkflows, waitAllSucceeded } from "./support/db.ts"
import { between, prng, runSeed, shuffle } from "./support/prng.ts"
import type { Fault, FaultEvent, FaultKind, WorkerConfig } from "./support/protocol.ts"
import { useLedgerDb } from "./support/ledgerDb.ts"
import { verifyDurability } from "./support/verify.ts"
import { waitFor } from "./support/wait.ts"
import { killAllWorkers, spawnWorker, type Exit } from "./support/workers.ts"

const WORKFLOWS = Number(process.env["DURABILITY_WORKFLOWS"] ?? 20)
const ROUNDS = Math.max(10, Number(process.env["DURABILITY_ROUNDS"] ?? 12))
const STEPS = 10

const completionKinds: FaultKind[] = ["beforeComplete", "duringComplete", "afterComplete"]
const stepKinds: FaultKind[] = ["body", "beforeCheckpoint", "duringCheckpoint", "afterCheckpoint", "duringRecovery"]

/**
 * Every kind at least once. Step-phase faults come first (a completion fault lets every workflow run to its
 * end, so it would leave later rounds nothing to interrupt); the first round has nothing to recover.
 */
const makePlan = (random: () => number, rounds: number): FaultKind[] => {
  const early = [...stepKinds]
  while (early.length < rounds - completionKinds.length) early.push(stepKinds[between(random, 0, 3)]!)
  shuffle(random, early)
  const firstRecovery = early.indexOf("duringRecovery")
  if (firstRecovery === 0) [early[0], early[1]] = [early[1]!, early[0]!]
  return [...early, ...completionKinds]
}

interface Round {
  readonly index: number
  readonly pid: number
  readonly fault: Fault
  readonly exit: Exit | "finished"
  readonly event: FaultEvent | undefined
}

describe("crash anywhere", () => {
  const db = useLedgerDb("dur_crash", killAllWorkers)

  it(`SIGKILLed ${ROUNDS} times at every phase, ${WORKFLOWS} workflows × ${STEPS} steps end SUCCESS and no recorded step runs again`, async () => {
    const seed = runSeed("crash anywhere")
    const random = prng(seed)
    const plan = makePlan(random, ROUNDS)
    const ids = Array.from({ length: WORKFLOWS }, (_, i) => `wf-${String(i).padStart(2, "0")}`)
    const config = (fault?: Fault): WorkerConfig => ({
      url: db.url,
      schema: db.schema,
      ledgerUrl: db.url,
      ledgerTable: db.ledger,
      executorId: "crash-worker",
      heartbeat: { intervalMs: 200, leaseMs: 1000 },
      start: { ids, steps: STEPS },
      stepMs: [2, 25],
      ...(fault ? { fault } : {}),
    })

    const rounds: Round[] = []
    for (const [index, kind] of plan.entries()) {
      const workflows = await readWorkflows(db.sql, db.schema)
      const checkpoints = (await readSteps(db.sql, db.schema)).length
      const remainingSteps = WORKFLOWS * STEPS - checkpoints
      const pending = workflows.filter((w) => w.status === "PENDING").length
      const unfinished = WORKFLOWS - workflows.filter((w) => w.status === "SUCCESS").length
      const earlyLeft = plan.slice(index).filter((k) => !completionKinds.includes(k)).length
      const share = Math.max(1, Math.floor(remainingSteps / (earlyLeft + 2)))
      const nth =
        kind === "body"
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
        ...(kind.startsWith("during") && kind !== "duringRecovery" ? { delayMs: between(random, 0, 3) } : {}),
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
    const lastExit = await last.stop()
    expect(lastExit.code, last.tail()).toBe(0)

    const workflows = await readWorkflows(db.sql, db.schema)
    const checkpoints = await readSteps(db.sql, db.schema)
    const rows = await readLedger(db.sql, db.ledger)
    const killed = rounds.filter((r) => r.exit !== "finished")
    const order = new Map([...rounds.map((r) => [r.pid, r.index] as const), [last.pid, rounds.length]])
    // For the faults whose outcome is open: did the write on the wire commit before the kill?
    const outcomeOf = (r: Round) => {
      const e = r.event
      if (!e?.workflowId) return ""
      if (e.kind === "duringCheckpoint")
        return checkpoints.some((c) => c.workflowId === e.workflowId && c.name === e.step && c.output?.pid === r.pid)
          ? " (the checkpoint committed)"
          : " (the checkpoint was lost)"
      if (e.kind === "duringComplete")
        return workflows.some((w) => w.id === e.workflowId && w.output?.pid === r.pid)
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
    console.log(`[crash anywhere] seed ${seed}\n${summary}\n  final: pid ${last.pid}`)

    const violations: string[] = []
    // Every kill round died by its own fault, and every phase was hit at least once.
    for (const r of killed) if (!r.event) violations.push(`round ${r.index}: killed without a FAULT event`)
    for (const kind of [...stepKinds, ...completionKinds])
      if (!killed.some((r) => r.fault.kind === kind)) violations.push(`fault kind ${kind} was never hit`)
    if (killed.length < 10) violations.push(`only ${killed.length} kill rounds fired`)

    // What each fault implies for the workflow (and step) it hit.
    const checkpointOf = (workflowId: string, step: string) =>
      checkpoints.find((c) => c.workflowId === workflowId && c.name === step)
    for (const r of killed) {
      const e = r.event
      if (!e?.workflowId) continue
      const at = `round ${r.index} (${e.kind} #${e.nth} at ${e.workflowId} ${e.step ?? ""})`
      const writer = e.step ? checkpointOf(e.workflowId, e.step)?.output?.pid : undefined
      const ranHere = rows.some((l) => l.workflowId === e.workflowId && l.step === e.step && l.pid === r.pid)
      const completedBy = workflows.find((w) => w.id === e.workflowId)?.output?.pid
      const laterRuns = rows.filter((l) => l.workflowId === e.workflowId && (order.get(l.pid) ?? -1) > r.index)
      switch (e.kind) {
        case "body":
        case "beforeCheckpoint":
          if (!ranHere) violations.push(`${at}: no ledger row from the killed process`)
          if (writer === r.pid) violations.push(`${at}: the killed process is recorded as the step's writer`)
          break
        case "afterCheckpoint":
          if (writer !== r.pid)
            violations.push(`${at}: the committed checkpoint is not the killed process's (${writer})`)
          if (laterRuns.some((l) => l.step === e.step))
            violations.push(`${at}: the step ran again after its checkpoint committed`)
          break
        case "beforeComplete":
          if (completedBy === r.pid) violations.push(`${at}: completed by the killed process`)
          if (laterRuns.length > 0) violations.push(`${at}: steps ran again after all were recorded`)
          break
        case "afterComplete":
          if (completedBy !== r.pid) violations.push(`${at}: the committed completion is not the killed process's`)
          if (laterRuns.length > 0) violations.push(`${at}: steps ran again after the workflow completed`)
          break
        case "duringComplete":
          if (laterRuns.length > 0) violations.push(`${at}: steps ran again after all were recorded`)
          break
        default:
          break
      }
    }

    // No body ran in a later process than the one that recorded its step.
    for (const c of checkpoints) {
      const writerIndex = order.get(c.output?.pid ?? -1)
      for (const l of rows)
        if (l.workflowId === c.workflowId && l.step === c.name && (order.get(l.pid) ?? -1) > (writerIndex ?? -1))
          violations.push(`${c.workflowId} ${c.name}: ran in pid ${l.pid} after pid ${c.output?.pid} recorded it`)
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
      `[crash anywhere] body runs per step: ${JSON.stringify(verdict.runsHistogram)}; ${killed.length} kills; ${rows.length} db.ledger rows for ${WORKFLOWS * STEPS} steps`,
    )
    expect([...violations, ...verdict.violations], `seed ${seed}\n${summary}`).toEqual([])
  }, 240_000)
})
