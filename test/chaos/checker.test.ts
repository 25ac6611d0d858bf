/**
 * The history checker catches what it exists to catch: each invariant is shown a history that breaks it (a
 * doubled step, a zombie's write kept, a doubled transaction row, a message twice, a limit exceeded, a stuck
 * workflow …) and must name it, while the clean history passes.
 */
import { describe, expect, it } from "vitest"
import { check, type History, type StepRow, type WorkflowRow } from "./checker.ts"
import type { Fault } from "./faults.ts"
import type { Planned } from "./kinds.ts"
import type { Run } from "./ledger.ts"

const wf = (id: string, name: string, status = "SUCCESS", over: Partial<WorkflowRow> = {}): WorkflowRow => ({
  id,
  name,
  status,
  parentId: undefined,
  output: undefined,
  error: undefined,
  ...over,
})

let nextRun = 1
const run = (workflowId: string, step: string, startedMs: number, over: Partial<Run> = {}): Run => ({
  id: nextRun++,
  workflowId,
  step,
  attempt: 1,
  executor: "w0",
  pid: 100,
  startedMs,
  finishedMs: startedMs + 10,
  outcome: "ok",
  ...over,
})

const cp = (workflowId: string, stepId: number, name: string, row: number, kind = "step"): StepRow => ({
  workflowId,
  stepId,
  name,
  kind,
  state: "done",
  output: JSON.stringify({ row }),
})

/** A clean history: a two-step workflow, a transaction workflow, a receiver, a publisher and two queue tasks. */
const clean = (): History & {
  runs: Run[]
  steps: StepRow[]
  faults: Fault[]
  tx: Array<{ workflowId: string; step: string }>
} => {
  nextRun = 1
  const a0 = run("a", "s0", 1_000)
  const a1 = run("a", "s1", 1_100)
  const t0 = run("t.0", "q0", 2_000)
  const t1 = run("t.0", "q1", 2_020)
  const u0 = run("t.1", "q0", 2_040)
  const u1 = run("t.1", "q1", 2_060)
  const planned: Planned[] = [
    { id: "a", kind: "steps", expect: "SUCCESS", steps: ["s0", "s1"] },
    { id: "x", kind: "tx", expect: "SUCCESS", txSteps: 1 },
    { id: "m", kind: "messages", expect: "SUCCESS", sent: new Map([["driver", [0, 1]]]) },
    { id: "p", kind: "publisher", expect: "SUCCESS", values: 2, read: { values: [0, 1], resumes: 0, done: true } },
    { id: "t.0", kind: "task", expect: "SUCCESS", steps: ["q0", "q1"], queue: "partitioned", partition: "p0" },
    { id: "t.1", kind: "task", expect: "SUCCESS", steps: ["q0", "q1"], queue: "partitioned", partition: "p0" },
  ]
  return {
    planned,
    workflows: [
      wf("a", "chaos-steps"),
      wf("x", "chaos-tx"),
      wf("m", "chaos-receiver", "SUCCESS", {
        output: JSON.stringify({
          got: [
            { from: "driver", i: 0 },
            { from: "driver", i: 1 },
          ],
          timedOut: true,
        }),
      }),
      wf("p", "chaos-publisher"),
      wf("t.0", "chaos-task"),
      wf("t.1", "chaos-task"),
    ],
    steps: [
      cp("a", 0, "s0", a0.id),
      cp("a", 1, "s1", a1.id),
      cp("x", 0, "t0", 0, "transaction"),
      cp("t.0", 0, "q0", t0.id),
      cp("t.0", 1, "q1", t1.id),
      cp("t.1", 0, "q0", u0.id),
      cp("t.1", 1, "q1", u1.id),
    ],
    runs: [a0, a1, t0, t1, u0, u1],
    tx: [{ workflowId: "x", step: "t0" }],
    streams: new Map([["p", [0, 1]]]),
    events: new Map([["p", 1]]),
    faults: [],
    lives: new Map(),
    unexpected: [],
  }
}

const invariants = (h: History) => check(h).violations.map((v) => v.invariant)

describe("the chaos soak's history checker", () => {
  it("passes a clean history", () => {
    expect(check(clean()).violations).toEqual([])
  })

  it("a step body run again with no fault in progress", () => {
    const h = clean()
    h.runs.push(run("a", "s0", 1_010, { finishedMs: 1_020 }))
    // The extra run started after the kept one: also a kept run that is not the last one started.
    expect(invariants(h)).toContain("steps once")
  })

  it("accepts an extra run while a fault was in progress, one per fault", () => {
    const h = clean()
    const first = run("a", "s0", 900, { finishedMs: undefined, outcome: undefined, pid: 99 })
    h.runs.push(first)
    h.faults.push({ kind: "kill-same-id", atMs: 950, endMs: 960, detail: "" })
    expect(check(h).violations).toEqual([])
    h.runs.push(run("a", "s0", 920, { finishedMs: undefined, outcome: undefined, pid: 99 }))
    expect(invariants(h)).toContain("steps once")
  })

  it("a checkpoint that keeps an older run than another one started (a zombie's write accepted)", () => {
    const h = clean()
    h.runs.push(run("a", "s0", 1_050, { executor: "w1", pid: 200 }))
    h.faults.push({ kind: "freeze", atMs: 1_000, endMs: 3_000, detail: "" })
    expect(invariants(h)).toContain("no fenced write accepted")
  })

  it("a step run again after the next step started", () => {
    const h = clean()
    h.faults.push({ kind: "freeze", atMs: 0, endMs: 3_000, detail: "" })
    h.runs.push(run("a", "s0", 1_200, { outcome: "threw" }))
    expect(invariants(h)).toContain("no run after checkpoint")
    // In a process frozen before it: the zombie bug the correctness issue tracks, reported as known.
    const zombie = {
      ...h,
      lives: new Map([[100, { pid: 100, executor: "w0", frozen: [{ fromMs: 1_150, toMs: 1_190 }] }]]),
    }
    expect(invariants(zombie)).not.toContain("no run after checkpoint")
    expect(check(zombie).known.map((k) => k.issue)).toEqual([expect.stringContaining("issue 10 #3")])
  })

  it("a transaction row twice, or one without its checkpoint", () => {
    const h = clean()
    h.tx.push({ workflowId: "x", step: "t0" })
    expect(invariants(h)).toContain("transaction once")
    const g = clean()
    g.steps.splice(2, 1)
    expect(invariants(g)).toContain("transaction once")
  })

  it("a message received twice, out of order, or a timeout that did not expire", () => {
    const twice = clean()
    const m = (got: unknown, timedOut = true) => JSON.stringify({ got, timedOut })
    const withOutput = (h: History, output: string): History => ({
      ...h,
      workflows: h.workflows.map((w) => (w.id === "m" ? { ...w, output } : w)),
    })
    expect(
      invariants(
        withOutput(
          twice,
          m([
            { from: "driver", i: 0 },
            { from: "driver", i: 0 },
            { from: "driver", i: 1 },
          ]),
        ),
      ),
    ).toContain("messages once, in order")
    expect(
      invariants(
        withOutput(
          clean(),
          m([
            { from: "driver", i: 1 },
            { from: "driver", i: 0 },
          ]),
        ),
      ),
    ).toContain("messages once, in order")
    expect(
      invariants(
        withOutput(
          clean(),
          m(
            [
              { from: "driver", i: 0 },
              { from: "driver", i: 1 },
            ],
            false,
          ),
        ),
      ),
    ).toContain("messages once, in order")
  })

  it("a stream reader that missed or doubled a value, and a wrong last event", () => {
    const h = clean()
    h.planned[3]!.read!.values.push(1)
    expect(invariants(h)).toContain("stream readers")
    const g = clean()
    expect(invariants({ ...g, events: new Map([["p", 0]]) })).toContain("events")
  })

  it("two tasks of one partition at once, but not when one ran in a process killed before the other started", () => {
    const h = clean()
    h.runs.push(run("t.1", "q0", 2_005, { pid: 300, executor: "w2", finishedMs: 2_030 }))
    h.faults.push({ kind: "kill-same-id", atMs: 2_000, endMs: 2_001, detail: "" })
    expect(invariants(h)).toContain("queue limits")
    const killed = clean()
    killed.runs.push(run("t.1", "q0", 1_990, { pid: 300, executor: "w2", finishedMs: undefined, outcome: undefined }))
    killed.faults.push({ kind: "kill-same-id", atMs: 1_995, endMs: 1_996, detail: "" })
    const lives = new Map([[300, { pid: 300, executor: "w2", diedMs: 1_995, frozen: [] }]])
    expect(check({ ...killed, lives }).violations).toEqual([])
  })

  it("a workflow stuck, lost, or ended otherwise than expected", () => {
    const stuck = clean()
    expect(
      invariants({ ...stuck, workflows: stuck.workflows.map((w) => (w.id === "a" ? { ...w, status: "PENDING" } : w)) }),
    ).toContain("terminal status")
    const lost = clean()
    expect(invariants({ ...lost, workflows: lost.workflows.filter((w) => w.id !== "x") })).toContain("terminal status")
    const cancelled = clean()
    expect(
      invariants({
        ...cancelled,
        workflows: [...cancelled.workflows, wf("a.child", "chaos-child", "CANCELLED", { parentId: "a" })],
      }),
    ).toContain("terminal status")
  })

  it("a schedule tick missed or run twice", () => {
    const ticks = (instants: number[]) => {
      const h = clean()
      return {
        ...h,
        workflows: [
          ...h.workflows,
          ...instants.map((t) => wf(`@schedule:chaos-ticks:${new Date(t).toISOString()}`, "chaos-tick", "SUCCESS")),
        ],
      }
    }
    expect(check(ticks([1_000, 2_000, 3_000])).violations).toEqual([])
    expect(invariants(ticks([1_000, 3_000]))).toContain("schedule ticks once")
    expect(invariants(ticks([1_000, 2_000, 2_000]))).toContain("schedule ticks once")
  })
})
