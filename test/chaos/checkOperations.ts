/**
 * The checker's part for what the driver does to workflows (operations.ts) and for the results workflows
 * record: a fork reuses the steps before its fork point and runs the rest itself; a resumed workflow
 * completes once, through the resume; a debounced key's calls make one run per burst, with the burst's last
 * input; and every result is made of the runs the checkpoints keep (a fenced execution's completion is never
 * accepted).
 */
import type { History } from "./checker.ts"
import type { Planned } from "./kinds.ts"
import type { DebouncedInput } from "./workflows.ts"

type Fail = (invariant: string, message: string, workflowId?: string, atMs?: number) => void

const parse = <A>(text: string | undefined): A | undefined => (text === undefined ? undefined : (JSON.parse(text) as A))

/** A debounced run's key, from its id (`@debounce:<workflow>:<key>:<uuid>`). */
export const debounceKey = (id: string): string | undefined => /^@debounce:chaos-debounced:(.+):[^:]+$/.exec(id)?.[1]

/** Which rows a successful workflow's result names, per step (for the workflows whose result is their rows). */
const resultRows = (name: string, output: string | undefined): Array<[string, number]> | undefined => {
  const out = parse<unknown>(output)
  switch (name) {
    case "chaos-steps":
    case "chaos-task":
      return Array.isArray(out) ? out.map((row, i) => [`${name === "chaos-task" ? "q" : "s"}${i}`, Number(row)]) : []
    case "chaos-child":
      return [["c0", Number(out)]]
    case "chaos-resumable": {
      const rows = (out as { rows?: number[] } | undefined)?.rows ?? []
      return rows.map((row, i) => [`r${i}`, row])
    }
    default:
      return undefined
  }
}

export const checkOperations = (h: History, fail: Fail): Record<string, number | string> => {
  const byId = new Map(h.workflows.map((w) => [w.id, w]))
  const runById = new Map(h.runs.map((r) => [r.id, r]))
  const keptRow = new Map<string, number | undefined>()
  for (const s of h.steps)
    if (s.kind === "step" && s.state === "done" && !keptRow.has(`${s.workflowId}\u0000${s.name}`))
      keptRow.set(`${s.workflowId}\u0000${s.name}`, parse<{ row?: number }>(s.output)?.row)

  // Results: each row a result names is the one its step's checkpoint keeps.
  let results = 0
  for (const w of h.workflows) {
    if (w.status !== "SUCCESS") continue
    const rows = resultRows(w.name, w.output)
    if (!rows) continue
    results++
    for (const [step, row] of rows) {
      const kept = keptRow.get(`${w.id}\u0000${step}`)
      if (kept !== row)
        fail(
          "no fenced write accepted",
          `its result gives ${step} row ${row}, its checkpoint keeps ${kept}`,
          w.id,
          runById.get(row)?.startedMs,
        )
    }
  }

  // Forks: the steps before the fork point are the source's, not run again; the others are the fork's own.
  let forks = 0
  let reused = 0
  let rerun = 0
  for (const p of h.planned) {
    if (!p.fork) continue
    const w = byId.get(p.id)
    const source = byId.get(p.fork.sourceId)
    if (w?.status !== "SUCCESS" || source?.status !== "SUCCESS") continue // the terminal status check says so
    forks++
    const out = parse<number[]>(w.output) ?? []
    const from = parse<number[]>(source.output) ?? []
    if (out.length !== from.length)
      fail("forks", `its result has ${out.length} rows, its source's ${from.length}`, p.id)
    for (const [i, row] of out.entries()) {
      if (i < p.fork.from) {
        reused++
        if (row !== from[i])
          fail("forks", `s${i}, before the fork point, gives row ${row}, the source ${from[i]}`, p.id)
        continue
      }
      rerun++
      const run = runById.get(row)
      if (run?.workflowId !== p.id || run.step !== `s${i}` || run.outcome !== "ok")
        fail("forks", `s${i}, from the fork point on, gives row ${row}, not a finished run of the fork's own`, p.id)
    }
    for (const r of h.runs)
      if (r.workflowId === p.id && Number(r.step.slice(1)) < p.fork.from)
        fail("forks", `ran ${r.step} (run ${r.id}), a step before its fork point s${p.fork.from}`, p.id, r.startedMs)
  }

  // Resumes: it completed through the resume (its second step ran only once it was resumed and sent "go"),
  // and the steps checkpointed before the cancellation were not run again (the steps invariants count reruns).
  let resumed = 0
  let keptAcross = 0
  for (const p of h.planned) {
    if (!p.resume) continue
    const w = byId.get(p.id)
    if (w?.status !== "SUCCESS") continue
    resumed++
    const at = p.resume.resumedAtMs
    if (at === undefined) fail("resumes", "it succeeded, but the driver never resumed it", p.id)
    if (parse<{ go?: string }>(w.output)?.go !== "go") fail("resumes", `its result is ${w.output}`, p.id)
    for (const r of h.runs.filter((x) => x.workflowId === p.id))
      if (r.step === "r1" && at !== undefined && r.startedMs < at - 1000)
        fail("resumes", `r1 (run ${r.id}) started before it was resumed (${at})`, p.id, r.startedMs)
    const r0 = runById.get(keptRow.get(`${p.id}\u0000r0`) ?? -1)
    if (r0 && at !== undefined && r0.startedMs < at) {
      keptAcross++
      // Checkpointed before the resume: the resumed execution replays it, it never runs it again.
      for (const r of h.runs)
        if (r.workflowId === p.id && r.step === "r0" && r.startedMs > at)
          fail("resumes", `r0 ran again (run ${r.id}) after the resume, though run ${r0.id} was its checkpoint`, p.id)
    }
  }

  // Debounce: per key, the calls' runs in bursts (a run's calls consecutive), each run once with the last
  // input of its burst, and no run nobody was told of. (Whether a new burst began only once the previous run
  // had started cannot be judged from the final stamps: a re-claim after a takeover moves them later.)
  const plans = new Map<string, Planned>()
  const keys = new Map<string, NonNullable<Planned["debounce"]>>()
  for (const p of h.planned)
    if (p.debounce) {
      plans.set(p.id, p)
      keys.set(p.debounce.key, p.debounce)
    }
  let debounceRuns = 0
  let unheard = 0
  for (const [key, d] of keys) {
    for (let i = 1; i < d.returned.length; i++) {
      const [prev, cur] = [d.returned[i - 1]!, d.returned[i]!]
      if (prev === cur) continue
      if (d.returned.indexOf(cur) < i)
        fail("debounce", `call ${i} of key ${key} joined run ${cur} after a later burst began`, cur)
    }
  }
  for (const w of h.workflows.filter((x) => x.name === "chaos-debounced")) {
    const p = plans.get(w.id)
    if (!p?.debounce) {
      const key = debounceKey(w.id)
      if (key !== undefined && keys.get(key)?.retried) unheard++
      else fail("debounce", `a run none of the calls of key ${key} was given`, w.id)
      continue
    }
    debounceRuns++
    const out = parse<DebouncedInput>(w.output)
    if (w.status === "SUCCESS" && (out?.key !== p.debounce.key || out.call !== p.debounce.last))
      fail("debounce", `ran with ${w.output}; the last call of its burst was ${p.debounce.last}`, w.id)
  }
  const keysWithOneRun = [...keys.values()].filter((d) => new Set(d.returned).size === 1).length

  return {
    "results made of the kept runs": results,
    forks,
    "fork steps reused / run again": `${reused} / ${rerun}`,
    "workflows resumed after a cancel or timeout": resumed,
    "steps kept across a resume": keptAcross,
    "debounced keys / runs": `${keys.size} / ${debounceRuns}`,
    "debounced keys with one run": keysWithOneRun,
    "debounced runs no call heard of (a call retried)": unheard,
  }
}
