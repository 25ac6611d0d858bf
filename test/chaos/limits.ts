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
  // A process's execution of a task ends, for the limits, when another process took the task over (its first
  // body there): from then on the store counts the task against the taker. A body the old process still runs
  // is a zombie's, which the step invariants judge.
  const takenOverAt = new Map<string, number[]>()
  for (const group of groups.values()) {
    const first = group[0]!
    takenOverAt.set(first.workflowId, [
      ...(takenOverAt.get(first.workflowId) ?? []),
      Math.min(...group.map((r) => r.startedMs)),
    ])
  }
  const out = new Map<LimitedQueue, Span[]>()
  for (const group of groups.values()) {
    const first = group[0]!
    const task = tasks.get(first.workflowId)!
    const life = lives.get(first.pid)
    const ownStart = Math.min(...group.map((r) => r.startedMs))
    const next = (takenOverAt.get(first.workflowId) ?? []).filter((t) => t > ownStart)
    const cut = (startedMs: number, endMs: number) => {
      let end = Math.min(endMs, ...next)
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
    { queue: "chaos-per-worker", limit: "workerConcurrency", allowed: 2, observed: w[1], where: `in ${w[0]}` },
    {
      queue: "chaos-rate",
      limit: `rateLimit (claims per ${period} ms, database clock)`,
      allowed: 4,
      observed: r.max,
      where: `from ${r.fromMs}`,
    },
    { queue: "chaos-partitioned", limit: "partition concurrency", allowed: 1, observed: p[1], where: `in ${p[0]}` },
  ]
}
