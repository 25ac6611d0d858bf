/** The checker the durability tests rely on must itself catch what it claims to: synthetic histories. */
import { describe, expect, it } from "vitest"
import { expectedValues, stepName } from "./support/chain.ts"
import type { LedgerRow, StepRow, WorkflowRow } from "./support/db.ts"
import { verifyDurability, type Observed } from "./support/verify.ts"

const id = "wf"
const steps = 3
const values = expectedValues(id, steps)
let nextRow = 1
const row = (stepIndex: number, pid: number): LedgerRow => ({
  id: nextRow,
  startedMs: nextRow++,
  workflowId: id,
  step: stepName(stepIndex),
  stepIndex,
  pid,
  executor: "x",
  attempt: 1,
  value: values[stepIndex]!,
  at: new Date(0),
})
const checkpoint = (stepIndex: number, pid: number): StepRow => ({
  workflowId: id,
  stepId: stepIndex,
  name: stepName(stepIndex),
  state: "done",
  output: { v: values[stepIndex]!, pid },
  completedMs: undefined,
})
const workflow: WorkflowRow = {
  id,
  status: "SUCCESS",
  output: { v: values.at(-1)!, pid: 2 },
  error: undefined,
  executorId: "x",
  epoch: 2,
  recoveryAttempts: 0,
}
const observed = (ledger: LedgerRow[], checkpoints: StepRow[], interrupted: number[] = [1]): Observed => ({
  ids: [id],
  steps,
  workflows: [workflow],
  checkpoints,
  ledger,
  interrupted: new Set(interrupted),
})

describe("verifyDurability", () => {
  it("accepts a step re-run after the process running it was killed", () => {
    const v = verifyDurability(
      observed([row(0, 1), row(1, 1), row(1, 2), row(2, 2)], [checkpoint(0, 1), checkpoint(1, 2), checkpoint(2, 2)]),
    )
    expect(v.violations).toEqual([])
    expect(v.runsHistogram).toEqual({ 1: 2, 2: 1 })
  })

  it("rejects a recorded step whose body ran again", () => {
    const v = verifyDurability(
      observed([row(0, 1), row(0, 2), row(1, 2), row(2, 2)], [checkpoint(0, 1), checkpoint(1, 2), checkpoint(2, 2)]),
    )
    expect(v.violations.join("\n")).toMatch(/wf s0: the checkpoint was written by pid 1.*last body run is pid 2/)
  })

  it("rejects a body started after its step was recorded (a zombie's), even by an interrupted process", () => {
    const v = verifyDurability(
      observed(
        [{ ...row(0, 2), startedMs: 5 }, { ...row(0, 1), startedMs: 50 }, row(1, 2), row(2, 2)],
        [{ ...checkpoint(0, 2), completedMs: 40 }, checkpoint(1, 2), checkpoint(2, 2)],
      ),
    )
    expect(v.violations.join("\n")).toMatch(/wf s0: pid 1 started the body 10 ms after pid 2 recorded the step/)
  })

  it("accepts a body that started before the takeover but logged its side effect after the taker's", () => {
    const v = verifyDurability(
      observed(
        [{ ...row(0, 2), startedMs: 20 }, { ...row(0, 1), startedMs: 10 }, row(1, 2), row(2, 2)],
        [{ ...checkpoint(0, 2), completedMs: 40 }, checkpoint(1, 2), checkpoint(2, 2)],
      ),
    )
    expect(v.violations).toEqual([])
  })

  it("rejects a re-run in a process that was not interrupted, and two runs in one process", () => {
    const v = verifyDurability(
      observed(
        [row(0, 3), row(0, 2), row(1, 2), row(1, 2), row(2, 2)],
        [checkpoint(0, 2), checkpoint(1, 2), checkpoint(2, 2)],
      ),
    )
    expect(v.violations.join("\n")).toMatch(/wf s0: the body ran in pid 3, which was not interrupted/)
    expect(v.violations.join("\n")).toMatch(/wf s1: the body ran more than once in one process/)
  })

  it("rejects a checkpoint no body run produced, a missing step and a wrong output", () => {
    const v = verifyDurability({
      ...observed([row(0, 2)], [checkpoint(0, 2), { ...checkpoint(1, 2), output: { v: 1, pid: 2 } }]),
      workflows: [{ ...workflow, output: { v: 0, pid: 2 } }],
    })
    const text = v.violations.join("\n")
    expect(text).toMatch(/wf: output/)
    expect(text).toMatch(/wf: 2 checkpoints, expected 3/)
    expect(text).toMatch(/wf s1: checkpoint holds v=1/)
    expect(text).toMatch(/wf s1: checkpointed, but its body never ran/)
    expect(text).toMatch(/wf s2: no done checkpoint/)
  })
})
