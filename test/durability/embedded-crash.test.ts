/**
 * Embedded store, crash anywhere: one worker process on `embeddedStore({ dir })` (PGlite in a temp
 * directory) runs 10 workflows of 8 chained steps, whose bodies append a line to a ledger file (fsynced
 * before the body goes on), and is SIGKILLed again and again at seeded points: inside a body, before a
 * checkpoint, while one is being written, right after one, while a restarted process recovers, and around
 * completion. Each restart reopens the directory, taking over the lock the dead owner left behind. At the
 * end, with the last worker shut down, the test opens the store itself and checks the shared durability
 * rule (support/verify.ts) against the ledger: every workflow SUCCESS with the right output, every step's
 * body ran at least once and at most once more per crash that interrupted it, and none after its step was
 * recorded. First, a second process started while a worker holds the directory is refused, naming the owner.
 *
 * The fault plan comes from a seeded PRNG (printed; DURABILITY_SEED replays it). Scale:
 * DURABILITY_EMBEDDED_WORKFLOWS (default 10), DURABILITY_EMBEDDED_ROUNDS (default 8, at least 5).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { embeddedStore } from "@durably/postgres/embedded"
import { stepName, type ChainOutput, type StepResult } from "./support/chain.ts"
import type { LedgerRow, StepRow, WorkflowRow } from "./support/db.ts"
import { between, prng, runSeed, shuffle } from "./support/prng.ts"
import type { EmbeddedWorkerConfig, Fault, FaultEvent, FaultKind, LedgerLine } from "./support/protocol.ts"
import { verifyDurability } from "./support/verify.ts"
import { waitFor } from "./support/wait.ts"
import { killAllWorkers, spawnEmbeddedWorker, type Exit } from "./support/workers.ts"

const WORKFLOWS = Number(process.env["DURABILITY_EMBEDDED_WORKFLOWS"] ?? 10)
const ROUNDS = Math.max(5, Number(process.env["DURABILITY_EMBEDDED_ROUNDS"] ?? 6))
const STEPS = 8

const stepKinds: FaultKind[] = ["body", "beforeCheckpoint", "duringCheckpoint", "afterCheckpoint", "duringRecovery"]
const completionKinds: FaultKind[] = ["beforeComplete", "duringComplete", "afterComplete"]

/**
 * Step-phase faults first (each at least once when there are rounds enough), then completion faults: all
 * three from 8 rounds on, else one picked by the seed. The first round has nothing to recover.
 */
const makePlan = (random: () => number, rounds: number): FaultKind[] => {
  const completion = rounds >= 8 ? completionKinds : [completionKinds[between(random, 0, 2)]!]
  const early = shuffle(random, [...stepKinds])
  while (early.length < rounds - completion.length) early.push(stepKinds[between(random, 0, 3)]!)
  early.length = rounds - completion.length
  if (early[0] === "duringRecovery") [early[0], early[1]] = [early[1]!, early[0]]
  return [...early, ...completion]
}

const root = mkdtempSync(join(tmpdir(), "durably-embedded-crash-"))
const dir = join(root, "db")
const ledgerFile = join(root, "ledger.jsonl")
const lockFile = join(dir, "durably.lock")
/** The pid the lock file names; undefined when there is none (or it is being written). */
const lockOwner = (): number | undefined => {
  try {
    return (JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number }).pid
  } catch {
    return undefined
  }
}

const readLedgerFile = (): LedgerRow[] =>
  (existsSync(ledgerFile) ? readFileSync(ledgerFile, "utf8") : "")
    .split("\n")
    .filter((l) => l !== "")
    .map((text, i) => {
      const l = JSON.parse(text) as LedgerLine
      return { ...l, id: i + 1, at: new Date(l.atMs) }
    })

/** The store's view, read in this process once no worker has the directory open. */
const readStore = async (ids: ReadonlyArray<string>) => {
  const store = embeddedStore({ dir })
  try {
    const records = await Effect.runPromise(store.listWorkflows({ ids }))
    const workflows: WorkflowRow[] = records.map((w) => ({
      id: w.id,
      status: w.status,
      output: w.output === undefined ? undefined : (JSON.parse(w.output) as ChainOutput),
      error: w.error,
      executorId: w.executorId,
      epoch: w.epoch,
      recoveryAttempts: w.recoveryAttempts,
    }))
    const checkpoints: StepRow[] = []
    for (const id of ids)
      for (const c of await Effect.runPromise(store.loadCheckpoints(id)))
        checkpoints.push({
          workflowId: id,
          stepId: c.stepId,
          name: c.name,
          state: c.state,
          output: c.output === undefined ? undefined : (JSON.parse(c.output) as StepResult),
          completedMs: c.completedAt,
        })
    return { workflows, checkpoints }
  } finally {
    await Effect.runPromise(store.close())
  }
}

interface Round {
  readonly index: number
  readonly pid: number
  readonly fault: Fault
  readonly exit: Exit | "finished"
  readonly event: FaultEvent | undefined
  /** From spawn to exit. */
  readonly ms: number
}

describe("embedded store, crash anywhere", () => {
  afterAll(async () => {
    await killAllWorkers()
    rmSync(root, { recursive: true, force: true })
  })

  it(`SIGKILLed ${ROUNDS} times, ${WORKFLOWS} workflows × ${STEPS} steps on PGlite end SUCCESS and no recorded step runs again`, async () => {
    const seed = runSeed("embedded crash")
    const random = prng(seed)
    const plan = makePlan(random, ROUNDS)
    const ids = Array.from({ length: WORKFLOWS }, (_, i) => `em-${String(i).padStart(2, "0")}`)
    const config = (fault?: Fault, start = ids): EmbeddedWorkerConfig => ({
      dir,
      ledgerFile,
      executorId: "embedded-worker",
      heartbeat: { intervalMs: 200, leaseMs: 1000 },
      start: { ids: start, steps: STEPS },
      stepMs: [2, 20],
      ...(fault ? { fault } : {}),
    })

    let deadOwner: number | undefined
    let lockCheckMs = 0

    const rounds: Round[] = []
    for (const [index, kind] of plan.entries()) {
      // The dead owner's lock is still there: this round's process has to take it over.
      if (index > 0) expect(lockOwner(), `round ${index}: the lock left by pid ${deadOwner}`).toBe(deadOwner)
      const ledger = readLedgerFile()
      const started = (id: string) => ledger.some((l) => l.workflowId === id)
      const unfinished = ids.filter(
        (id) => started(id) && !ledger.some((l) => l.workflowId === id && l.stepIndex === STEPS - 1),
      )
      const remainingSteps = WORKFLOWS * STEPS - new Set(ledger.map((l) => `${l.workflowId}/${l.step}`)).size
      const earlyLeft = plan.slice(index).filter((k) => stepKinds.includes(k)).length
      const share = Math.max(1, Math.floor(remainingSteps / (earlyLeft + 2)))
      const nth =
        kind === "body"
          ? between(random, 1, Math.min(15, share + WORKFLOWS))
          : kind === "duringRecovery"
            ? between(random, 1, Math.max(1, unfinished.length))
            : stepKinds.includes(kind)
              ? between(random, 1, Math.min(10, share))
              : 1
      const fault: Fault = {
        kind,
        nth,
        signal: "SIGKILL",
        ...(kind === "duringCheckpoint" || kind === "duringComplete" ? { delayMs: between(random, 0, 4) } : {}),
      }
      const spawnedAt = Date.now()
      const worker = spawnEmbeddedWorker({ ...config(fault), startOnSignal: index === 0 })
      if (index === 0) {
        // One process per directory: while this one holds it (its workflows not started yet, so its fault
        // cannot fire), a second process is refused with an error naming it.
        await waitFor(
          "the first worker to take the lock",
          () => {
            if (worker.exited()) throw new Error(`worker ${worker.pid} exited before taking the lock${worker.tail()}`)
            return lockOwner() === worker.pid
          },
          { detail: () => worker.tail() },
        )
        const intruder = spawnEmbeddedWorker(config(undefined, []))
        expect(await intruder.exit, intruder.tail()).toEqual({ code: 3, signal: null })
        const locked = await waitFor("the refused process's LOCKED line", () => intruder.events("LOCKED")[0])
        expect(locked.error).toBe("DirectoryLocked")
        expect(locked.message).toContain(`in use by process ${worker.pid}`)
        expect(lockOwner()).toBe(worker.pid)
        lockCheckMs = Date.now() - spawnedAt
        await worker.waitForEvent("READY")
        worker.signal("SIGUSR2")
      }
      const ended = await waitFor(
        `round ${index} (${kind} #${nth}) to kill worker ${worker.pid}, or every workflow to finish`,
        () => worker.exited() ?? (worker.events("FINISHED").length > 0 && ("finished" as const)),
        { intervalMs: 20, detail: () => worker.tail() },
      )
      // Every workflow finished; the fault may still land (e.g. right after the last completion) before the stop.
      const stopped = ended === "finished" ? await worker.stop() : ended
      const exit = ended === "finished" && worker.events("FAULT").length === 0 ? ("finished" as const) : stopped
      if (exit === "finished") expect(stopped.code, worker.tail()).toBe(0)
      else if (exit.signal !== "SIGKILL")
        throw new Error(
          `round ${index}: worker ${worker.pid} exited without its fault: ${JSON.stringify(exit)}${worker.tail()}`,
        )
      else deadOwner = worker.pid
      rounds.push({ index, pid: worker.pid, fault, exit, event: worker.events("FAULT")[0], ms: Date.now() - spawnedAt })
      if (exit === "finished") break
    }

    const lastAt = Date.now()
    const last = spawnEmbeddedWorker(config())
    const finished = await last.waitForEvent("FINISHED")
    expect(finished.statuses, last.tail()).toEqual({ SUCCESS: WORKFLOWS })
    expect(await last.stop(), last.tail()).toEqual({ code: 0, signal: null })
    expect(lockOwner(), "a graceful shutdown releases the lock").toBeUndefined()

    const lastMs = Date.now() - lastAt
    const readAt = Date.now()
    const { workflows, checkpoints } = await readStore(ids)
    const readMs = Date.now() - readAt
    const rows = readLedgerFile()
    const killed = rounds.filter((r) => r.exit !== "finished")
    const order = new Map([...rounds.map((r) => [r.pid, r.index] as const), [last.pid, rounds.length]])
    // For the faults whose outcome is open: did the write in progress commit before the kill?
    const outcomeOf = (r: Round) => {
      const e = r.event
      if (e?.kind === "duringCheckpoint")
        return checkpoints.some((c) => c.workflowId === e.workflowId && c.name === e.step && c.output?.pid === r.pid)
          ? " (the checkpoint committed)"
          : " (the checkpoint was lost)"
      if (e?.kind === "duringComplete")
        return workflows.some((w) => w.id === e.workflowId && w.output?.pid === r.pid)
          ? " (the completion committed)"
          : " (the completion was lost)"
      return ""
    }
    const summary = rounds
      .map(
        (r) =>
          `  round ${r.index} (${r.ms} ms): pid ${r.pid} ${r.fault.kind} #${r.fault.nth}${r.fault.delayMs === undefined ? "" : ` +${r.fault.delayMs}ms`} → ${
            r.exit === "finished"
              ? "did not fire (all finished)"
              : `killed at ${r.event?.workflowId ?? "?"} ${r.event?.step ?? ""}${outcomeOf(r)}`
          }`,
      )
      .join("\n")
    console.log(
      `[embedded crash] seed ${seed}; lock check ${lockCheckMs} ms\n${summary}\n  final (${lastMs} ms): pid ${last.pid}; reading the store here: ${readMs} ms`,
    )

    const violations: string[] = []
    for (const r of killed) if (!r.event) violations.push(`round ${r.index}: killed without a FAULT event`)
    if (killed.length < 5) violations.push(`only ${killed.length} kill rounds fired`)
    for (const kind of new Set(plan))
      if (!killed.some((r) => r.fault.kind === kind)) violations.push(`fault kind ${kind} was never hit`)
    for (const r of killed) {
      const e = r.event
      if (!e?.workflowId) continue
      const at = `round ${r.index} (${e.kind} #${e.nth} at ${e.workflowId} ${e.step ?? ""})`
      const writer = checkpoints.find((c) => c.workflowId === e.workflowId && c.name === e.step)?.output?.pid
      const ranHere = rows.some((l) => l.workflowId === e.workflowId && l.step === e.step && l.pid === r.pid)
      const laterRuns = rows.filter((l) => l.workflowId === e.workflowId && (order.get(l.pid) ?? -1) > r.index)
      if ((e.kind === "body" || e.kind === "beforeCheckpoint") && (!ranHere || writer === r.pid))
        violations.push(
          `${at}: expected a ledger line from the killed process (${ranHere}) and another writer (${writer})`,
        )
      if (e.kind === "afterCheckpoint" && (writer !== r.pid || laterRuns.some((l) => l.step === e.step)))
        violations.push(
          `${at}: the committed checkpoint is not the killed process's (${writer}), or the step ran again`,
        )
      if (e.kind.endsWith("Complete") && laterRuns.length > 0)
        violations.push(`${at}: steps ran again after all were recorded`)
      if (e.kind === "afterComplete" && workflows.find((w) => w.id === e.workflowId)?.output?.pid !== r.pid)
        violations.push(`${at}: the committed completion is not the killed process's`)
    }
    for (const c of checkpoints)
      for (const l of rows)
        if (
          l.workflowId === c.workflowId &&
          l.step === c.name &&
          (order.get(l.pid) ?? -1) > (order.get(c.output?.pid ?? -1) ?? -1)
        )
          violations.push(`${c.workflowId} ${c.name}: ran in pid ${l.pid} after pid ${c.output?.pid} recorded it`)

    const verdict = verifyDurability({
      ids,
      steps: STEPS,
      workflows,
      checkpoints,
      ledger: rows,
      interrupted: new Set(killed.map((r) => r.pid)),
    })
    console.log(
      `[embedded crash] body runs per step: ${JSON.stringify(verdict.runsHistogram)}; ${killed.length} kills; ${rows.length} ledger lines for ${WORKFLOWS * STEPS} steps (${stepName(STEPS - 1)} last)`,
    )
    expect([...violations, ...verdict.violations], `seed ${seed}\n${summary}`).toEqual([])
  }, 120_000)
})
