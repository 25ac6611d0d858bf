/**
 * The soak's queues and the limits the checker holds them to. Limits are measured from the ledger, not from
 * the library: a task's execution in one process is an interval from its first body's start to its last
 * body's end (support/queueMeasure.ts), cut where the process was killed or frozen, since from then on it
 * held nothing the claim counts (its workflow is taken over once its lease lapses).
 */
import { defineQueue } from "@durably/scheduler"
import { maxOverlap, maxOverlapBy, maxStartsInWindow, type Span } from "../durability/support/queueMeasure.ts"
import type { Run } from "./ledger.ts"

export const limitedQueues = {
  /** No limits: the top-level work of every kind, and ctx.enqueue's children. */
  open: defineQueue("chaos-open"),
  global: defineQueue("chaos-global", { concurrency: 3 }),
  perWorker: defineQueue("chaos-per-worker", { workerConcurrency: 2 }),
  rate: defineQueue("chaos-rate", { rateLimit: { limit: 4, period: "1 second" } }),
  partitioned: defineQueue("chaos-partitioned", { partition: { concurrency: 1 } }),
}

export type LimitedQueue = Exclude<keyof typeof limitedQueues, "open">
export const limitedQueueNames: ReadonlyArray<LimitedQueue> = ["global", "perWorker", "rate", "partitioned"]

export interface ProcessLife {
  readonly pid: number
  readonly executor: string
  /** SIGKILLed at (or found dead at). */
  readonly diedMs?: number
  /** SIGSTOP intervals. */
  readonly frozen: ReadonlyArray<{ readonly fromMs: number; readonly toMs: number }>
}

export interface LimitFigure {
  readonly queue: string
  readonly limit: string
  readonly allowed: number
  readonly observed: number
  readonly where: string
}

/**
 * Each task's executions as intervals. A process holds a task from a body's start until another process takes
 * it over (that one's first body after it), the process is killed or frozen, or its last body there ends; a
 * process that takes the task back later (the other one died) holds it again from then on: one interval per
 * stretch. A row that never ended ends at the first fault after it started, or where the process's next body
 * of the task started (its retry), whichever is first.
 */
export const taskSpans = (
  runs: ReadonlyArray<Run>,
  tasks: ReadonlyMap<string, { readonly queue: LimitedQueue; readonly partition?: string }>,
  lives: ReadonlyMap<number, ProcessLife>,
  faultTimes: ReadonlyArray<number>,
): Map<LimitedQueue, Span[]> => {
  const byTask = new Map<string, Run[]>()
  for (const r of runs) if (tasks.has(r.workflowId)) byTask.set(r.workflowId, [...(byTask.get(r.workflowId) ?? []), r])
  const out = new Map<LimitedQueue, Span[]>()
  for (const [taskId, all] of byTask) {
    const task = tasks.get(taskId)!
    const sorted = [...all].sort((a, b) => a.startedMs - b.startedMs || a.id - b.id)
    // Stretches: consecutive runs of one process, none of another process between them.
    const stretches: Run[][] = []
    for (const r of sorted) {
      const last = stretches.at(-1)
      if (last && last[0]!.pid === r.pid) last.push(r)
      else stretches.push([r])
    }
    // Each stretch ends, for the limits, where a later stretch of another process began (a takeover); a body
    // the old process still runs then is a zombie's, which the step invariants judge.
    const merged = new Map<number, Array<{ runs: Run[]; cutAt: number }>>()
    for (const [i, stretch] of stretches.entries()) {
      const later = stretches.slice(i + 1).find((x) => x[0]!.pid !== stretch[0]!.pid)
      const own = merged.get(stretch[0]!.pid) ?? []
      own.push({ runs: stretch, cutAt: later ? later[0]!.startedMs : Infinity })
      merged.set(stretch[0]!.pid, own)
    }
    for (const [pid, own] of merged) {
      const life = lives.get(pid)
      for (const [seq, { runs: stretch, cutAt }] of own.entries()) {
        const startMs = stretch[0]!.startedMs
        const cut = (startedMs: number, endMs: number) => {
          let end = Math.min(endMs, cutAt)
          if (life?.diedMs !== undefined) end = Math.min(end, life.diedMs)
          for (const f of life?.frozen ?? []) if (f.fromMs >= startedMs && f.fromMs < end) end = f.fromMs
          return Math.max(end, startedMs)
        }
        let endMs = -Infinity
        for (const [k, r] of stretch.entries()) {
          // A body that never ended was cut off by a fault, and before the process's next body of it began.
          const nextFault = faultTimes.find((t) => t >= r.startedMs) ?? r.startedMs
          const unfinished = Math.min(nextFault, stretch[k + 1]?.startedMs ?? Infinity)
          endMs = Math.max(endMs, cut(r.startedMs, r.finishedMs ?? unfinished))
        }
        out.set(task.queue, [
          ...(out.get(task.queue) ?? []),
          {
            task: taskId,
            seq,
            executor: stretch[0]!.executor,
            partition: task.partition,
            priority: undefined,
            startMs,
            endMs,
          },
        ])
      }
    }
  }
  return out
}

/** Every limit's figure: what the queue allows and the worst the ledger shows. */
export const limitFigures = (
  spans: ReadonlyMap<LimitedQueue, ReadonlyArray<Span>>,
  /** When the rate-limited queue's claims started its tasks (workflows.started_ms). */
  rateStarts: ReadonlyArray<number>,
): LimitFigure[] => {
  const get = (q: LimitedQueue) => spans.get(q) ?? []
  const worst = (m: Map<string, number>) => [...m].reduce((a, b) => (b[1] > a[1] ? b : a), ["-", 0] as [string, number])
  const g = maxOverlap(get("global"))
  const openAt = (all: ReadonlyArray<Span>, t: number) =>
    all
      .filter((x) => x.startMs <= t && t < x.endMs)
      .map((x) => `${x.task}@${x.executor} ${x.startMs}..${x.endMs}`)
      .join(", ")
  /** Where a group's worst overlap is, and what was open then (for the report). */
  const worstAt = (group: ReadonlyArray<Span>, label: string) => {
    const at = maxOverlap(group).atMs
    return `${label} at ${at}: ${openAt(group, at)}`
  }
  const w = worst(maxOverlapBy(get("perWorker"), (s) => s.executor))
  const p = worst(maxOverlapBy(get("partitioned"), (s) => s.partition ?? "-"))
  // Rate: the database's own start stamps (its clock, read under the claim's lock), a task's latest claim each;
  // a re-claim only moves a stamp later, so every window of the final stamps holds what the claim allowed.
  const period = 1000
  const r = maxStartsInWindow(rateStarts, period)
  return [
    {
      queue: "chaos-global",
      limit: "concurrency",
      allowed: 3,
      observed: g.max,
      where: `at ${g.atMs}: ${openAt(get("global"), g.atMs)}`,
    },
    {
      queue: "chaos-per-worker",
      limit: "workerConcurrency",
      allowed: 2,
      observed: w[1],
      where: worstAt(
        get("perWorker").filter((x) => x.executor === w[0]),
        `in ${w[0]}`,
      ),
    },
    {
      queue: "chaos-rate",
      limit: `rateLimit (claims per ${period} ms, database clock)`,
      allowed: 4,
      observed: r.max,
      where: `from ${r.fromMs}`,
    },
    {
      queue: "chaos-partitioned",
      limit: "partition concurrency",
      allowed: 1,
      observed: p[1],
      where: worstAt(
        get("partitioned").filter((x) => (x.partition ?? "-") === p[0]),
        `in ${p[0]}`,
      ),
    },
  ]
}
