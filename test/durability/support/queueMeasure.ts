/**
 * What the queue tests compute from the ledger (support/queueLedger.ts), as plain functions of its rows:
 * executions as time intervals, their largest overlap (globally, per executor, per partition), starts in
 * sliding windows, the order tasks started in, and whether every completed step ran exactly once.
 */
import type { QueueLedgerRow } from "./queueLedger.ts"

/** One execution of a task in one process: from its first step body's start to its last one's end. */
export interface Span {
  readonly task: string
  readonly seq: number
  readonly executor: string
  readonly partition: string | undefined
  readonly priority: number | undefined
  readonly startMs: number
  readonly endMs: number
}

/**
 * The executions in the ledger. A body that never finished must belong to a killed executor: it ran until the
 * kill (`killedAt`, the instant the test saw the process gone). Returns them, and the unfinished rows of
 * executors that were not killed (a violation).
 */
export const spans = (
  rows: ReadonlyArray<QueueLedgerRow>,
  killedAt: ReadonlyMap<string, number> = new Map(),
): { readonly spans: Span[]; readonly unexplained: QueueLedgerRow[] } => {
  const groups = new Map<string, QueueLedgerRow[]>()
  for (const r of rows) {
    const key = `${r.task}\u0000${r.executor}`
    groups.set(key, [...(groups.get(key) ?? []), r])
  }
  const unexplained: QueueLedgerRow[] = []
  const out: Span[] = []
  for (const group of groups.values()) {
    const first = group[0]!
    let end = -Infinity
    for (const r of group) {
      const finished = r.finishedMs ?? killedAt.get(r.executor)
      if (finished === undefined) unexplained.push(r)
      end = Math.max(end, finished ?? r.startedMs)
    }
    out.push({
      task: first.task,
      seq: first.seq,
      executor: first.executor,
      partition: first.partition,
      priority: first.priority,
      startMs: Math.min(...group.map((r) => r.startedMs)),
      endMs: end,
    })
  }
  return { spans: out, unexplained }
}

/**
 * The most intervals open at one instant, and when. An interval is [start, end): one that ends at the
 * millisecond another starts does not overlap it (a slot freed by a completion can be taken in the same ms).
 */
export const maxOverlap = (intervals: ReadonlyArray<Span>): { readonly max: number; readonly atMs: number } => {
  const events = intervals.flatMap((s) => [
    { t: s.startMs, d: 1 },
    { t: s.endMs, d: -1 },
  ])
  events.sort((a, b) => a.t - b.t || a.d - b.d)
  let open = 0
  let max = 0
  let atMs = 0
  for (const e of events) {
    open += e.d
    if (open > max) {
      max = open
      atMs = e.t
    }
  }
  return { max, atMs }
}

/** maxOverlap per value of `key` (executor, partition, …). */
export const maxOverlapBy = (all: ReadonlyArray<Span>, key: (s: Span) => string): Map<string, number> => {
  const groups = new Map<string, Span[]>()
  for (const s of all) groups.set(key(s), [...(groups.get(key(s)) ?? []), s])
  return new Map([...groups].map(([k, g]) => [k, maxOverlap(g).max]))
}

/**
 * The most starts in any window [s, s + windowMs) that begins at a start s (the busiest windows always
 * begin at one), and where.
 */
export const maxStartsInWindow = (
  startsMs: ReadonlyArray<number>,
  windowMs: number,
): { readonly max: number; readonly fromMs: number } => {
  const sorted = [...startsMs].sort((a, b) => a - b)
  let max = 0
  let fromMs = sorted[0] ?? 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    if (j < i) j = i
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowMs) j++
    if (j - i > max) {
      max = j - i
      fromMs = sorted[i]!
    }
  }
  return { max, fromMs }
}

/** Each task's first start (its first step body, in whichever process ran it first), in start order. */
export const firstStarts = (rows: ReadonlyArray<QueueLedgerRow>): QueueLedgerRow[] => {
  const first = new Map<string, QueueLedgerRow>()
  for (const r of rows) {
    const seen = first.get(r.task)
    if (r.step === 0 && (!seen || r.startedMs < seen.startedMs || (r.startedMs === seen.startedMs && r.id < seen.id)))
      first.set(r.task, r)
  }
  return [...first.values()].sort((a, b) => a.startedMs - b.startedMs || a.id - b.id)
}

/**
 * Exactly once: every task ran every step, each step's checkpoint keeps a finished ledger row, and that row
 * is the only run of the step, except for runs in executors that were SIGKILLed (a body killed mid-run, or
 * one that finished but whose checkpoint the kill prevented, is run again elsewhere). Returns the violations
 * and how many bodies ran again.
 */
export const exactlyOnce = (options: {
  readonly tasks: ReadonlyArray<string>
  readonly steps: number
  readonly rows: ReadonlyArray<QueueLedgerRow>
  readonly checkpoints: ReadonlyArray<{ readonly task: string; readonly stepId: number; readonly row: number }>
  readonly killed?: ReadonlySet<string>
}): { readonly violations: string[]; readonly reruns: number } => {
  const killed = options.killed ?? new Set<string>()
  const violations: string[] = []
  let reruns = 0
  const byId = new Map(options.rows.map((r) => [r.id, r]))
  const runs = new Map<string, QueueLedgerRow[]>()
  for (const r of options.rows) runs.set(`${r.task}#${r.step}`, [...(runs.get(`${r.task}#${r.step}`) ?? []), r])
  const kept = new Map(options.checkpoints.map((c) => [`${c.task}#${c.stepId}`, c.row]))
  const known = new Set(options.tasks)
  for (const r of options.rows) if (!known.has(r.task)) violations.push(`row ${r.id}: a task the test never enqueued`)
  for (const task of options.tasks)
    for (let step = 0; step < options.steps; step++) {
      const key = `${task}#${step}`
      const all = runs.get(key) ?? []
      const keptId = kept.get(key)
      const keptRow = keptId === undefined ? undefined : byId.get(keptId)
      if (all.length === 0) {
        violations.push(`${key}: never ran`)
        continue
      }
      if (!keptRow) {
        violations.push(`${key}: no checkpoint naming one of its ${all.length} ledger rows`)
        continue
      }
      if (keptRow.finishedMs === undefined)
        violations.push(`${key}: its checkpoint keeps row ${keptRow.id}, unfinished`)
      const others = all.filter((r) => r.id !== keptRow.id)
      reruns += others.length
      for (const r of others)
        if (!killed.has(r.executor))
          violations.push(
            `${key}: ran again (row ${r.id} in ${r.executor}, ${r.finishedMs === undefined ? "unfinished" : "finished"}) besides the kept row ${keptRow.id} in ${keptRow.executor}`,
          )
      if (others.some((r) => r.startedMs > keptRow.startedMs))
        violations.push(`${key}: a run started after the run its checkpoint keeps`)
    }
  return { violations, reruns }
}

/**
 * How evenly a backlog over several partitions was served, from the order tasks finished: the spread (most
 * minus fewest completions across partitions) at the halfway point and at its worst over the run, when
 * each partition first started (its place among all starts), and when each completed its k-th task.
 */
export const fairness = (rows: ReadonlyArray<QueueLedgerRow>) => {
  const firsts = firstStarts(rows)
  const finished = rows
    .filter((r) => r.step === 0 && r.finishedMs !== undefined)
    .sort((a, b) => a.finishedMs! - b.finishedMs! || a.id - b.id)
  const partitions = [...new Set(rows.map((r) => r.partition!))].sort()
  const counts = new Map(partitions.map((p) => [p, 0]))
  const spreadOf = () => Math.max(...counts.values()) - Math.min(...counts.values())
  const half = Math.floor(finished.length / 2)
  let halfway = 0
  let halfwayCounts = new Map<string, number>()
  let worst = 0
  /** The place (1-based, among all completions) of each partition's k-th completion. */
  const kth = new Map(partitions.map((p) => [p, [] as number[]]))
  finished.forEach((r, i) => {
    counts.set(r.partition!, counts.get(r.partition!)! + 1)
    kth.get(r.partition!)!.push(i + 1)
    worst = Math.max(worst, spreadOf())
    if (i + 1 === half) {
      halfway = spreadOf()
      halfwayCounts = new Map(counts)
    }
  })
  const firstStartPlace = new Map(partitions.map((p) => [p, firsts.findIndex((r) => r.partition === p) + 1]))
  return { partitions, halfway, halfwayCounts, worst, kth, firstStartPlace }
}
