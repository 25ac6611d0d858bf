/**
 * The durability rule, checked from the ledger (what step bodies did) against the store (what was recorded):
 *
 * - every workflow is SUCCESS with the output its inputs determine, and every step has exactly one `done`
 *   checkpoint, in order, holding the value its body computes;
 * - every step's body ran at least once, and the checkpoint holds the result of a body run: the process that
 *   wrote it (its pid is in the result) has a ledger row for the step with the same value;
 * - no body ran twice in one process, and a body ran in a process other than the writer only if that process
 *   was interrupted (SIGKILLed or fenced) while the step was in flight, and before the checkpoint was written:
 *   the writer's run is the step's last to start, and no run started after the step was recorded. So rows per
 *   step = 1 + the interrupted processes in which it was in flight, and a completed step never runs again.
 */
import { expectedValues, stepName } from "./chain.ts"
import type { LedgerRow, StepRow, WorkflowRow } from "./db.ts"

export interface Observed {
  readonly ids: ReadonlyArray<string>
  readonly steps: number
  readonly workflows: ReadonlyArray<WorkflowRow>
  readonly checkpoints: ReadonlyArray<StepRow>
  readonly ledger: ReadonlyArray<LedgerRow>
  /** Processes that were interrupted (killed, or fenced as zombies): they may leave a body run behind. */
  readonly interrupted: ReadonlySet<number>
}

export interface Verdict {
  readonly violations: string[]
  /** How many steps had their body run once, twice, … */
  readonly runsHistogram: Record<number, number>
}

const key = (workflowId: string, step: string) => `${workflowId}/${step}`

export const verifyDurability = (o: Observed): Verdict => {
  const violations: string[] = []
  const runsHistogram: Record<number, number> = {}
  const workflows = new Map(o.workflows.map((w) => [w.id, w]))
  const byStep = new Map<string, LedgerRow[]>()
  for (const row of o.ledger) {
    const k = key(row.workflowId, row.step)
    const list = byStep.get(k) ?? []
    list.push(row)
    byStep.set(k, list)
  }
  const show = (rows: ReadonlyArray<LedgerRow>) =>
    rows
      .map(
        (r) =>
          `#${r.id} pid=${r.pid} ${r.executor} value=${r.value} started=${r.startedMs} inserted=${r.at.toISOString()}`,
      )
      .join(" | ")

  for (const id of o.ids) {
    const expected = expectedValues(id, o.steps)
    const w = workflows.get(id)
    if (!w) {
      violations.push(`${id}: no workflow row`)
      continue
    }
    if (w.status !== "SUCCESS") violations.push(`${id}: status ${w.status} ${w.error ?? ""}`)
    else if (w.output?.v !== expected.at(-1))
      violations.push(`${id}: output ${JSON.stringify(w.output)}, expected v=${expected.at(-1)}`)
    const cps = o.checkpoints.filter((c) => c.workflowId === id)
    if (cps.length !== o.steps) violations.push(`${id}: ${cps.length} checkpoints, expected ${o.steps}`)
    for (let i = 0; i < o.steps; i++) {
      const step = stepName(i)
      const cp = cps.find((c) => c.stepId === i)
      // In the order the bodies started (worker clocks, one machine): a body that was already running when
      // its process froze may write its ledger row after another process's run.
      const rows = [...(byStep.get(key(id, step)) ?? [])].sort((a, b) => a.startedMs - b.startedMs || a.id - b.id)
      runsHistogram[rows.length] = (runsHistogram[rows.length] ?? 0) + 1
      const where = `${id} ${step}`
      if (!cp || cp.state !== "done" || cp.name !== step || !cp.output) {
        violations.push(`${where}: no done checkpoint named ${step} at step id ${i} (${JSON.stringify(cp)})`)
        continue
      }
      if (cp.output.v !== expected[i])
        violations.push(`${where}: checkpoint holds v=${cp.output.v}, expected ${expected[i]}`)
      if (rows.length === 0) {
        violations.push(`${where}: checkpointed, but its body never ran (no ledger row)`)
        continue
      }
      const writer = cp.output.pid
      const last = rows.at(-1)!
      if (last.pid !== writer || last.value !== cp.output.v)
        violations.push(
          `${where}: the checkpoint was written by pid ${writer} with v=${cp.output.v}, but the last body run is pid ${last.pid} v=${last.value} (a body ran after its step was recorded, or the record is not the result of a run): ${show(rows)}`,
        )
      for (const r of rows)
        if (cp.completedMs !== undefined && r.startedMs > cp.completedMs)
          violations.push(
            `${where}: pid ${r.pid} started the body ${r.startedMs - cp.completedMs} ms after pid ${writer} recorded the step: ${show(rows)}`,
          )
      const pids = rows.map((r) => r.pid)
      if (new Set(pids).size !== pids.length)
        violations.push(`${where}: the body ran more than once in one process: ${show(rows)}`)
      for (const r of rows)
        if (r.pid !== writer && !o.interrupted.has(r.pid))
          violations.push(
            `${where}: the body ran in pid ${r.pid}, which was not interrupted and did not record the step: ${show(rows)}`,
          )
      for (const r of rows)
        if (r.value !== expected[i])
          violations.push(`${where}: a body run computed ${r.value}, expected ${expected[i]}`)
    }
  }
  for (const k of byStep.keys()) {
    const [id] = k.split("/")
    if (!o.ids.includes(id ?? "")) violations.push(`ledger rows for unknown workflow step ${k}`)
  }
  return { violations, runsHistogram }
}
