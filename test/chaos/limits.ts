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

/**
 * A claim starts the task's first body a little later; starts are only compared within windows this much
 * shorter than the rate period, so that a late start cannot be counted in the next period's window.
 */
const START_SLACK_MS = 300

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

/** Each task's executions as intervals; a row that never ended ends at the first fault after it started. */
export const taskSpans = (
  runs: ReadonlyArray<Run>,
  tasks: ReadonlyMap<string, { readonly queue: LimitedQueue; readonly partition?: string }>,
  lives: ReadonlyMap<number, ProcessLife>,
  faultTimes: ReadonlyArray<number>,
): Map<LimitedQueue, Span[]> => {
  const groups = new Map<string, Run[]>()
  for (const r of runs) {
    if (!tasks.has(r.workflowId)) continue
    const key = `${r.workflowId}\u0000${r.pid}`
    groups.set(key, [...(groups.get(key) ?? []), r])
  }
  const out = new Map<LimitedQueue, Span[]>()
  for (const group of groups.values()) {
    const first = group[0]!
    const task = tasks.get(first.workflowId)!
    const life = lives.get(first.pid)
    const cut = (startedMs: number, endMs: number) => {
      let end = endMs
      if (life?.diedMs !== undefined) end = Math.min(end, life.diedMs)
      for (const f of life?.frozen ?? []) if (f.fromMs >= startedMs && f.fromMs < end) end = f.fromMs
      return Math.max(end, startedMs)
    }
    let endMs = -Infinity
    for (const r of group) {
      const nextFault = faultTimes.find((t) => t >= r.startedMs) ?? r.startedMs
      endMs = Math.max(endMs, cut(r.startedMs, r.finishedMs ?? nextFault))
    }
    const startMs = Math.min(...group.map((r) => r.startedMs))
    // A process frozen before the task's first body and never thawed holds nothing.
    out.set(task.queue, [
      ...(out.get(task.queue) ?? []),
      {
        task: first.workflowId,
        seq: 0,
        executor: first.executor,
        partition: task.partition,
        priority: undefined,
        startMs,
        endMs,
      },
    ])
  }
  return out
}

/** Every limit's figure: what the queue allows and the worst the ledger shows. */
export const limitFigures = (spans: ReadonlyMap<LimitedQueue, ReadonlyArray<Span>>): LimitFigure[] => {
  const get = (q: LimitedQueue) => spans.get(q) ?? []
  const worst = (m: Map<string, number>) => [...m].reduce((a, b) => (b[1] > a[1] ? b : a), ["-", 0] as [string, number])
  const g = maxOverlap(get("global"))
  const openAt = (all: ReadonlyArray<Span>, t: number) =>
    all
      .filter((x) => x.startMs <= t && t < x.endMs)
      .map((x) => `${x.task}@${x.executor} ${x.startMs}..${x.endMs}`)
      .join(", ")
  const w = worst(maxOverlapBy(get("perWorker"), (s) => s.executor))
  const p = worst(maxOverlapBy(get("partitioned"), (s) => s.partition ?? "-"))
  const period = 1000 - START_SLACK_MS
  // Only each task's first start: a worker restarted with its executor id resumes the tasks it had claimed
  // without claiming them again, so a later start is not always a claim; a first one always follows one.
  const firsts = new Map<string, number>()
  for (const s of get("rate")) firsts.set(s.task, Math.min(firsts.get(s.task) ?? Infinity, s.startMs))
  const r = maxStartsInWindow([...firsts.values()], period)
  return [
    {
      queue: "chaos-global",
      limit: "concurrency",
      allowed: 3,
      observed: g.max,
      where: `at ${g.atMs}: ${openAt(get("global"), g.atMs)}`,
    },
    { queue: "chaos-per-worker", limit: "workerConcurrency", allowed: 2, observed: w[1], where: `in ${w[0]}` },
    {
      queue: "chaos-rate",
      limit: `rateLimit (starts per ${period} ms)`,
      allowed: 4,
      observed: r.max,
      where: `from ${r.fromMs}`,
    },
    { queue: "chaos-partitioned", limit: "partition concurrency", allowed: 1, observed: p[1], where: `in ${p[0]}` },
  ]
}
