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
  planned: Planned[]
  workflows: WorkflowRow[]
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
      wf("a", "chaos-steps", "SUCCESS", { output: JSON.stringify([a0.id, a1.id]) }),
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

/** The row the source's s0 was not: any other run's id. */
const a0Of = (h: History) => h.runs.find((r) => r.workflowId === "a")!.id

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
    // In a process frozen before it (a zombie) too: issue 10's fix is in, nothing is exempt any more.
    const zombie = {
      ...h,
      lives: new Map([[100, { pid: 100, executor: "w0", frozen: [{ fromMs: 1_150, toMs: 1_190 }] }]]),
    }
    expect(invariants(zombie)).toContain("no run after checkpoint")
    expect(check(zombie).known).toEqual([])
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

  it("a process that takes a task back (its taker died) holds it again only from then on", () => {
    const h = clean()
    // t.0: q0 cut off in pid 100 by a dropped connection, run by pid 300 (killed at 2 021 after its checkpoint),
    // and q1 run by pid 100 again, after t.1 of the same partition ran there.
    const at = (step: string) => h.runs.findIndex((r) => r.workflowId === "t.0" && r.step === step)
    h.runs[at("q0")] = { ...h.runs[at("q0")]!, finishedMs: undefined, outcome: undefined }
    h.runs.splice(at("q1"), 1)
    const taken = run("t.0", "q0", 2_015, { pid: 300, executor: "w2", finishedMs: 2_020 })
    const back = run("t.0", "q1", 2_080, { finishedMs: 2_090 })
    h.runs.push(taken, back)
    h.steps = h.steps.filter((x) => x.workflowId !== "t.0")
    h.steps.push(cp("t.0", 0, "q0", taken.id), cp("t.0", 1, "q1", back.id))
    h.faults.push(
      { kind: "drop-connections", atMs: 2_005, endMs: 2_006, detail: "" },
      { kind: "kill-same-id", atMs: 2_021, endMs: 2_022, detail: "" },
    )
    const lives = new Map([[300, { pid: 300, executor: "w2", diedMs: 2_021, frozen: [] }]])
    expect(check({ ...h, lives }).violations).toEqual([])
  })

  it("a body cut off by a fault ended, for the limits, no later than its retry in the same process", () => {
    const h = clean()
    // t.0's q0: a first attempt whose end was never stamped (the database restarted under it), then its retry.
    const at = h.runs.findIndex((r) => r.workflowId === "t.0" && r.step === "q0")
    h.runs[at] = { ...h.runs[at]!, finishedMs: undefined, outcome: undefined }
    const retry = run("t.0", "q0", 2_005, { attempt: 2, finishedMs: 2_010 })
    h.runs.push(retry)
    h.steps = h.steps.map((x) => (x.workflowId === "t.0" && x.name === "q0" ? cp("t.0", 0, "q0", retry.id) : x))
    h.faults.push(
      { kind: "crash-db", atMs: 1_990, endMs: 1_995, detail: "" },
      { kind: "pause-db", atMs: 5_000, endMs: 5_100, detail: "" },
    )
    expect(check(h).violations).toEqual([])
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

  it("a result that names a run its checkpoint does not keep (a fenced execution's completion accepted)", () => {
    const h = clean()
    const stale = run("a", "s1", 1_050, { executor: "w1", pid: 200 })
    h.runs.push(stale)
    h.faults.push({ kind: "freeze", atMs: 1_000, endMs: 3_000, detail: "" })
    const workflows = h.workflows.map((w) => (w.id === "a" ? { ...w, output: JSON.stringify([1, stale.id]) } : w))
    expect(check({ ...h, workflows }).violations).toContainEqual(
      expect.objectContaining({ invariant: "no fenced write accepted", message: expect.stringContaining("result") }),
    )
  })

  /** A source "f" of three steps and its fork "f.fork" from s1: s0 reused, s1 and s2 its own. */
  const forked = () => {
    const h = clean()
    const f = [run("f", "s0", 5_000), run("f", "s1", 5_100), run("f", "s2", 5_200)]
    const g = [run("f.fork", "s1", 6_100), run("f.fork", "s2", 6_200)]
    h.runs.push(...f, ...g)
    h.steps.push(...f.map((r, i) => cp("f", i, r.step, r.id)))
    h.steps.push(cp("f.fork", 0, "s0", f[0]!.id), ...g.map((r, i) => cp("f.fork", i + 1, r.step, r.id)))
    const output = (rows: number[]) => ({ output: JSON.stringify(rows) })
    h.planned.push(
      { id: "f", kind: "fork", expect: "SUCCESS", steps: ["s0", "s1", "s2"] },
      {
        id: "f.fork",
        kind: "forked",
        expect: "SUCCESS",
        steps: ["s1", "s2"],
        fork: { sourceId: "f", from: 1, forkedAtMs: 6_000 },
      },
    )
    h.workflows.push(
      wf("f", "chaos-steps", "SUCCESS", output(f.map((r) => r.id))),
      wf("f.fork", "chaos-steps", "SUCCESS", output([f[0]!.id, g[0]!.id, g[1]!.id])),
    )
    return h
  }

  it("a fork that ran a step before its fork point, or whose result is not the source's up to it", () => {
    expect(check(forked()).violations).toEqual([])
    const again = forked()
    again.runs.push(run("f.fork", "s0", 6_050))
    expect(invariants(again)).toContain("forks")
    const wrong = forked()
    const workflows = wrong.workflows.map((w) =>
      w.id === "f.fork" ? { ...w, output: JSON.stringify([a0Of(wrong), ...JSON.parse(w.output!).slice(1)]) } : w,
    )
    expect(invariants({ ...wrong, workflows })).toContain("forks")
  })

  /** "r", cancelled while it waited and resumed at 4000: r0 before, r1 after. */
  const resumed = () => {
    const h = clean()
    const r0 = run("r", "r0", 1_000)
    const r1 = run("r", "r1", 5_000)
    h.runs.push(r0, r1)
    h.steps.push(cp("r", 0, "r0", r0.id), cp("r", 2, "r1", r1.id))
    h.planned.push({
      id: "r",
      kind: "resume",
      expect: "SUCCESS",
      steps: ["r0", "r1"],
      resume: { how: "cancel", resumedAtMs: 4_000 },
    })
    h.workflows.push(
      wf("r", "chaos-resumable", "SUCCESS", { output: JSON.stringify({ rows: [r0.id, r1.id], go: "go" }) }),
    )
    return h
  }

  it("a resumed workflow: completes once through the resume; a body its cancellation cut off may run again once", () => {
    expect(check(resumed()).violations).toEqual([])
    const early = resumed()
    early.runs.push(run("r", "r1", 1_500, { outcome: "threw" }))
    expect(invariants(early)).toContain("resumes")
    const cut = resumed()
    cut.runs.push(run("r", "r0", 900, { finishedMs: undefined, outcome: undefined }))
    expect(check(cut).violations).toEqual([])
    cut.runs.push(run("r", "r0", 950, { finishedMs: undefined, outcome: undefined }))
    expect(invariants(cut)).toContain("steps once")
    // A step checkpointed before the resume run again after it: the resumed execution did not replay it.
    const again = resumed()
    again.runs.push(run("r", "r0", 4_500))
    expect(invariants(again)).toContain("resumes")
  })

  /** Key "d": calls answered with `returned`, each run's d0 once, its result the last call that joined it. */
  const debounced = (returned: string[], results: Record<string, number> = {}) => {
    const h = clean()
    const ids = [...new Set(returned)]
    for (const [i, id] of ids.entries()) {
      const d0 = run(id, "d0", 10_000 + 1_000 * i)
      h.runs.push(d0)
      h.steps.push(cp(id, 0, "d0", d0.id))
      const last = returned.lastIndexOf(id)
      h.workflows.push(
        wf(id, "chaos-debounced", "SUCCESS", {
          output: JSON.stringify({ key: "d", call: results[id] ?? last }),
          startedMs: 10_000 + 1_000 * i,
        }),
      )
      h.planned.push({
        id,
        kind: "debounce",
        expect: "SUCCESS",
        steps: ["d0"],
        debounce: { key: "d", returned, answeredAtMs: returned.map((_, j) => 8_000 + 1_000 * j), last, retried: false },
      })
    }
    return h
  }
  const X = "@debounce:chaos-debounced:d:x"
  const Y = "@debounce:chaos-debounced:d:y"

  it("a debounced key: one run per burst with its last input, none that no call was given", () => {
    expect(check(debounced([X, X, X])).violations).toEqual([])
    expect(invariants(debounced([X, X, X], { [X]: 1 }))).toContain("debounce")
    expect(invariants(debounced([X, Y, X]))).toContain("debounce")
    expect(check(debounced([X, X, Y])).violations).toEqual([])
    const unheard = debounced([X, X])
    unheard.workflows.push(wf(Y, "chaos-debounced", "SUCCESS", { output: JSON.stringify({ key: "d", call: 0 }) }))
    expect(invariants(unheard)).toContain("debounce")
  })
})
