/**
 * Queues across real processes: WORKERS worker processes (fixtures/queueWorker.ts, each its own executor)
 * serve one queue on the test server; the test enqueues through its own client engine (serves nothing) and
 * waits for every task to be SUCCESS. Each task's step bodies write their own ledger row with the instants
 * they started and finished (support/queueLedger.ts), and every property is measured from those rows:
 *
 * 1. every task runs, and each completed step exactly once (every test);
 * 2. `concurrency` is never exceeded across processes, nor `workerConcurrency` in one process;
 * 3. a rate limit: no window of the period (on the database's claim stamps) holds more
 *    starts than the limit;
 * 4. `partition.concurrency: 1`: a partition's tasks never overlap and start in enqueue order;
 * 5. `priority`: on a queue of concurrency 1, a backlog starts in priority order (lower first);
 * 6. fairness: a backlog over 20 partitions is served partition after partition in turn, none left behind
 *    (whether the backlog was enqueued round by round or partition by partition);
 * 7. SIGKILL: a worker killed mid-task; its tasks go back on the queue and finish elsewhere, no completed
 *    step runs twice, and the limits hold throughout (workerConcurrency included).
 *
 * Every test prints what it measured (`[queues:…]` lines). Scale: DURABILITY_QUEUE_WORKERS (default 3),
 * DURABILITY_QUEUE_SCALE (default 1, multiplies the task counts).
 */
import { describe, expect, it } from "vitest"
import type { Durably, EnqueueOptions } from "@durably/core"
import { killAllFixtures } from "./support/fixtureProcess.ts"
import { useLedgerDb } from "./support/ledgerDb.ts"
import {
  fastLease,
  launchClient,
  spawnQueueWorkers,
  stopQueueWorkers,
  workerProblems,
  type QueueWorker,
} from "./support/queueCluster.ts"
import {
  createQueueLedger,
  readQueueLedger,
  readStepRows,
  waitQueueDrained,
  type QueueLedgerRow,
} from "./support/queueLedger.ts"
import {
  exactlyOnce,
  fairness,
  firstStarts,
  maxOverlap,
  maxOverlapBy,
  maxStartsInWindow,
  spans,
  type Span,
} from "./support/queueMeasure.ts"
import { taskForEnqueue, type QueueSpec, type QueueWorkerEvents, type TaskInput } from "./support/queueProtocol.ts"
import { waitFor } from "./support/wait.ts"

const WORKERS = Number(process.env["DURABILITY_QUEUE_WORKERS"] ?? 3)
const SCALE = Number(process.env["DURABILITY_QUEUE_SCALE"] ?? 1)
const scaled = (n: number) => Math.max(1, Math.round(n * SCALE))

/** A deterministic spread of sleeps: task `seq` sleeps between min and max ms. */
const sleepOf = (seq: number, min: number, max: number) => min + ((seq * 7919) % (max - min + 1))

interface Task {
  readonly input: TaskInput
  readonly options: EnqueueOptions
  /** Tasks are enqueued in one `enqueueMany` per batch, batches in order (default: all in batch 0). */
  readonly batch?: number
}

interface Outcome {
  readonly rows: QueueLedgerRow[]
  readonly spans: Span[]
  readonly ids: string[]
  readonly workers: ReadonlyArray<QueueWorker>
  /** The claims that took work, as the workers reported them (diagnostics only). */
  readonly claims: ReadonlyArray<QueueWorkerEvents["CLAIM"]>
  /** From the enqueue (or the workers' launch, whichever came later) to the last SUCCESS. */
  readonly drainMs: number
  readonly reruns: number
}

describe("queues across worker processes", () => {
  const db = useLedgerDb("dur_queues", killAllFixtures)
  let ledgerTable = ""
  const cluster = () => ({ url: db.url, schema: db.schema, ledgerTable })

  /**
   * Run a scenario: launch the workers and enqueue the tasks in one `enqueueMany` (or enqueue first, so the
   * whole backlog is stored before any worker claims), let `meanwhile` act on the workers (a SIGKILL: it
   * returns when each killed executor died), wait for every task to be SUCCESS, stop the workers, and check
   * exactly-once from the ledger and the checkpoints.
   */
  const run = async (scenario: {
    readonly queue: QueueSpec
    readonly tasks: ReadonlyArray<Task>
    readonly enqueueFirst?: boolean
    readonly meanwhile?: (workers: ReadonlyArray<QueueWorker>) => Promise<ReadonlyMap<string, number>>
    readonly timeoutMs?: number
  }): Promise<Outcome> => {
    if (!ledgerTable) ledgerTable = await createQueueLedger(db.sql, db.schema)
    const { queue, tasks } = scenario
    const ids = tasks.map((t) => `${queue.name}-${String(t.input.seq).padStart(4, "0")}`)
    const client: Durably = await launchClient(cluster(), queue)
    let workers: QueueWorker[] = []
    try {
      // One enqueueMany per batch, in order.
      const enqueue = async () => {
        const batches = [...new Set(tasks.map((t) => t.batch ?? 0))].sort((a, b) => a - b)
        for (const batch of batches) {
          const mine = tasks.flatMap((t, i) => ((t.batch ?? 0) === batch ? [{ t, id: ids[i]! }] : []))
          await client.enqueueMany(
            queue.name,
            taskForEnqueue,
            mine.map(({ t }) => t.input),
            (_input, i) => ({ ...mine[i]!.t.options, id: mine[i]!.id }),
          )
        }
      }
      if (scenario.enqueueFirst) await enqueue()
      workers = await spawnQueueWorkers(cluster(), queue, WORKERS)
      const started = performance.now()
      if (!scenario.enqueueFirst) await enqueue()
      const killedAt = (await scenario.meanwhile?.(workers)) ?? new Map<string, number>()
      await waitQueueDrained(db.sql, db.schema, queue.name, tasks.length, {
        timeoutMs: scenario.timeoutMs ?? 60_000,
        context: () => workers.map((w) => w.tail(10)).join(""),
      })
      const drainMs = performance.now() - started
      await stopQueueWorkers(workers)

      const claims = workers.flatMap((w) => w.events("CLAIM")).sort((a, b) => a.askedMs - b.askedMs)
      const rows = await readQueueLedger(db.sql, ledgerTable, queue.name)
      const checkpoints = await readStepRows(db.sql, db.schema, ids)
      const steps = tasks[0]!.input.steps
      const once = exactlyOnce({ tasks: ids, steps, rows, checkpoints, killed: new Set(killedAt.keys()) })
      const measured = spans(rows, killedAt)
      const violations = [
        ...once.violations,
        ...measured.unexplained.map((r) => `row ${r.id} (${r.task} step ${r.step}) never finished in ${r.executor}`),
      ]
      expect(violations, workerProblems(workers).join("\n")).toEqual([])
      expect(new Set(rows.map((r) => r.task)).size).toBe(tasks.length)
      return { rows, spans: measured.spans, ids, workers, claims, drainMs, reruns: once.reruns }
    } finally {
      await Promise.all(workers.map((w) => w.stop()))
      await client.shutdown()
    }
  }

  const log = (scenario: string, line: string) => console.log(`[queues:${scenario}] ${line}`)

  it(`concurrency 5 and workerConcurrency 2 hold across ${WORKERS} processes; every step runs once`, async () => {
    const CONCURRENCY = 5
    const PER_WORKER = 2
    const queue: QueueSpec = {
      name: "q_limits",
      settings: { concurrency: CONCURRENCY, workerConcurrency: PER_WORKER },
    }
    const tasks = Array.from({ length: scaled(40) }, (_, seq) => ({
      input: { seq, steps: 2, sleepMs: sleepOf(seq, 30, 110) },
      options: {},
    }))
    const out = await run({ queue, tasks })
    const global = maxOverlap(out.spans)
    const perExecutor = maxOverlapBy(out.spans, (s) => s.executor)
    log(
      "limits",
      `${tasks.length} tasks × 2 steps on ${WORKERS} workers in ${Math.round(out.drainMs)} ms: ` +
        `max running at once ${global.max} (limit ${CONCURRENCY}); per executor ${JSON.stringify(Object.fromEntries(perExecutor))} (limit ${PER_WORKER})`,
    )
    expect(global.max).toBeLessThanOrEqual(CONCURRENCY)
    for (const [executor, max] of perExecutor) expect(max, executor).toBeLessThanOrEqual(PER_WORKER)
    // The limits were reached, not merely unchallenged: the backlog kept every slot busy.
    expect(global.max).toBeGreaterThanOrEqual(Math.min(CONCURRENCY, WORKERS * PER_WORKER) - 1)
    expect(perExecutor.size, "every worker took part").toBe(WORKERS)
  }, 90_000)

  it("a rate limit of 10 per second: no window of a second holds more than 10 starts", async () => {
    const LIMIT = 10
    const PERIOD_MS = 1000
    const queue: QueueSpec = { name: "q_rate", settings: { rateLimit: { limit: LIMIT, period: "1 second" } } }
    const tasks = Array.from({ length: scaled(35) }, (_, seq) => ({
      input: { seq, steps: 1, sleepMs: sleepOf(seq, 5, 40) },
      options: {},
    }))
    const out = await run({ queue, tasks })
    // The limit is enforced on the database's start stamps (workflows.started_ms, its own clock, read under
    // the claim's lock): every window of a period holds at most `limit` of them. The bodies' starts (the
    // ledger) follow each claim's answer by a lag that a loaded machine stretches unevenly, so they are
    // printed, not checked.
    const stamps = await db.sql.unsafe(`SELECT started_ms FROM ${db.schema}.workflows WHERE queue = $1`, [queue.name])
    const starts = stamps.map((r) => Number(r["started_ms"]))
    expect(starts.length).toBe(tasks.length)
    const window = maxStartsInWindow(starts, PERIOD_MS)
    const bodyStarts = firstStarts(out.rows).map((r) => r.startedMs)
    const bodies = maxStartsInWindow(bodyStarts, PERIOD_MS)
    const spanMs = Math.max(...starts) - Math.min(...starts)
    const bursts = burstsOf(out.rows, out.claims)
    log(
      "rate",
      `${tasks.length} tasks in ${Math.round(out.drainMs)} ms: most claim stamps in any ${PERIOD_MS} ms window ${window.max} (limit ${LIMIT}); ` +
        `most step-body starts in any such window ${bodies.max}; first to last stamp ${spanMs} ms`,
    )
    log(
      "rate",
      `bursts (a claim asked, ms from the first; then its answer and its bodies' starts, ms after it asked): ${bursts
        .map(
          (b) =>
            `${b.size} asked at ${b.askedMs}, answered +${b.answeredMs - b.askedMs}, started +${b.firstStartMs - b.askedMs}–${b.lastStartMs - b.askedMs}`,
        )
        .join("; ")}`,
    )
    const t0 = Math.min(...starts)
    expect(
      window.max,
      `the busiest window from ${window.fromMs - t0} ms; starts (ms from the first): ${[...starts]
        .sort((a, b) => a - b)
        .map((s) => s - t0)
        .join(",")}`,
    ).toBeLessThanOrEqual(LIMIT)
    // The limit is what paced the queue: 35 tasks take 4 windows, so their stamps span more than 3 periods.
    expect(spanMs).toBeGreaterThan((Math.ceil(tasks.length / LIMIT) - 1) * PERIOD_MS - 1)
  }, 90_000)

  it("partition concurrency 1: a partition's tasks never overlap and start in enqueue order", async () => {
    const PARTITIONS = 4
    const queue: QueueSpec = { name: "q_partitions", settings: { partition: { concurrency: 1 } } }
    const tasks = Array.from({ length: scaled(32) }, (_, seq) => {
      const partition = `p${seq % PARTITIONS}`
      return {
        input: { seq, partition, steps: 1, sleepMs: sleepOf(seq, 20, 70) },
        options: { partitionKey: partition },
      }
    })
    const out = await run({ queue, tasks })
    const perPartition = maxOverlapBy(out.spans, (s) => s.partition!)
    const global = maxOverlap(out.spans)
    const order = new Map<string, number[]>()
    for (const r of firstStarts(out.rows)) order.set(r.partition!, [...(order.get(r.partition!) ?? []), r.seq])
    log(
      "partitions",
      `${tasks.length} tasks over ${PARTITIONS} partitions in ${Math.round(out.drainMs)} ms: most at once per partition ` +
        `${JSON.stringify(Object.fromEntries(perPartition))} (limit 1), across partitions ${global.max}`,
    )
    for (const [partition, max] of perPartition) expect(max, partition).toBe(1)
    for (const [partition, seqs] of order)
      expect(seqs, `start order of ${partition}`).toEqual([...seqs].sort((a, b) => a - b))
    // Partitions ran side by side: the limit is per partition, not a global one.
    expect(global.max).toBeGreaterThan(1)
  }, 90_000)

  it("priority: on a queue of concurrency 1, a backlog starts lowest priority first", async () => {
    const queue: QueueSpec = { name: "q_priority", settings: { concurrency: 1, priority: true } }
    // Priorities 0–6 in a scrambled order, several tasks each.
    const priorityOf = (seq: number) => (seq * 5) % 7
    const tasks = Array.from({ length: scaled(24) }, (_, seq) => ({
      input: { seq, priority: priorityOf(seq), steps: 1, sleepMs: 5 },
      options: { priority: priorityOf(seq) },
    }))
    // The backlog is stored before any worker runs: every claim chooses among all of it.
    const out = await run({ queue, tasks, enqueueFirst: true })
    const started = firstStarts(out.rows)
    log(
      "priority",
      `${tasks.length} tasks in ${Math.round(out.drainMs)} ms, started as priority:seq ${started.map((r) => `${r.priority}:${r.seq}`).join(" ")}; ` +
        `most at once ${maxOverlap(out.spans).max}`,
    )
    expect(maxOverlap(out.spans).max).toBe(1)
    expect(started.map((r) => r.priority)).toEqual(tasks.map((t) => t.input.priority).sort((a, b) => a - b))
    // Among equal priorities, enqueue order.
    for (let p = 0; p < 7; p++) {
      const seqs = started.filter((r) => r.priority === p).map((r) => r.seq)
      expect(seqs, `priority ${p}`).toEqual([...seqs].sort((a, b) => a - b))
    }
  }, 90_000)

  /**
   * 20 partitions × PER_PARTITION tasks of 40 ms, at most 6 at once and 1 per partition, stored before any
   * worker runs. How they are enqueued: all in one `enqueueMany`, round by round (each partition's first
   * task, then each one's second, …), or one `enqueueMany` per partition, each with all its tasks.
   */
  const fairBacklog = (name: string, order: "one batch" | "partition by partition") => {
    const PARTITIONS = 20
    const PER_PARTITION = scaled(10)
    const key = (p: number) => `f${String(p).padStart(2, "0")}`
    const queue: QueueSpec = { name, settings: { concurrency: 6, partition: { concurrency: 1 } } }
    const tasks = Array.from({ length: PARTITIONS * PER_PARTITION }, (_, seq): Task => {
      const blocks = order === "partition by partition"
      const p = blocks ? Math.floor(seq / PER_PARTITION) : seq % PARTITIONS
      return {
        input: { seq, partition: key(p), steps: 1, sleepMs: 40 },
        options: { partitionKey: key(p) },
        batch: blocks ? p : 0,
      }
    })
    return { queue, tasks, PARTITIONS, PER_PARTITION }
  }

  /** Run a fair backlog, check its limits held, and print how evenly the partitions were served. */
  const runFairness = async (scenario: string, order: Parameters<typeof fairBacklog>[1]) => {
    const { queue, tasks, PARTITIONS, PER_PARTITION } = fairBacklog(`q_fair_${scenario}`, order)
    const out = await run({ queue, tasks, enqueueFirst: true })
    const f = fairness(out.rows)
    const global = maxOverlap(out.spans).max
    const perPartition = Math.max(...maxOverlapBy(out.spans, (s) => s.partition!).values())
    const kthSpread = (k: number) => {
      const places = f.partitions.map((p) => f.kth.get(p)![k - 1]!)
      return `${Math.min(...places)}–${Math.max(...places)}`
    }
    const tag = `fairness:${scenario}`
    log(
      tag,
      `${tasks.length} tasks over ${PARTITIONS} partitions (enqueued ${order}) in ${Math.round(out.drainMs)} ms; ` +
        `most at once ${global} (limit 6), per partition ${perPartition} (limit 1)`,
    )
    log(
      tag,
      `completions per partition at the halfway point: ${f.partitions.map((p) => f.halfwayCounts.get(p)).join(" ")} ` +
        `→ spread (most − fewest) ${f.halfway}; worst spread during the run ${f.worst}`,
    )
    log(tag, `each partition's first start, its place among all starts: ${[...f.firstStartPlace.values()].join(" ")}`)
    log(
      tag,
      `each partition's k-th completion, its place among all completions (earliest–latest partition): ` +
        Array.from({ length: PER_PARTITION }, (_, k) => `k=${k + 1}: ${kthSpread(k + 1)}`).join(", "),
    )
    expect(global).toBeLessThanOrEqual(6)
    expect(perPartition).toBe(1)
    return { f, PARTITIONS }
  }

  it("fairness: a backlog over 20 partitions (one enqueueMany) is served partition after partition in turn", async () => {
    const { f, PARTITIONS } = await runFairness("batch", "one batch")
    expect(f.halfway, "spread at the halfway point").toBeLessThanOrEqual(FAIR_SPREAD)
    expect(f.worst, "worst spread").toBeLessThanOrEqual(FAIR_SPREAD)
    // Every partition had its first start within the first round (20 starts, plus the 6 running).
    expect(Math.max(...f.firstStartPlace.values())).toBeLessThanOrEqual(PARTITIONS + 6)
  }, 90_000)

  /*
   * The same backlog enqueued partition by partition (all of f00's tasks, then all of f01's, …): partitions
   * still take turns, since each claim serves first the partition that started a task longest ago.
   */
  it("fairness: a backlog over 20 partitions enqueued partition by partition is still served in turn", async () => {
    const { f } = await runFairness("blocks", "partition by partition")
    expect(f.halfway, "spread at the halfway point").toBeLessThanOrEqual(FAIR_SPREAD)
    expect(f.worst, "worst spread").toBeLessThanOrEqual(FAIR_SPREAD)
  }, 90_000)

  it("SIGKILL: a worker killed mid-task; its tasks finish on the others, no completed step runs twice", async () => {
    const CONCURRENCY = 6
    const PER_WORKER = 2
    const queue: QueueSpec = {
      name: "q_kill",
      settings: { concurrency: CONCURRENCY, workerConcurrency: PER_WORKER },
    }
    const tasks = Array.from({ length: scaled(30) }, (_, seq) => ({
      input: { seq, steps: 2, sleepMs: sleepOf(seq, 100, 300) },
      options: {},
    }))
    let killedAtMs = 0
    let inFlight: QueueLedgerRow[] = []
    const victimOf = (workers: ReadonlyArray<QueueWorker>) => workers[0]!
    const out = await run({
      queue,
      tasks,
      meanwhile: async (workers) => {
        const victim = victimOf(workers)
        // Mid-run: the victim has finished some steps, and a body started less than 50 ms ago (bodies sleep
        // 100 ms or more, so the kill lands while it runs).
        inFlight = await waitFor(
          `${victim.label} to be running a step just started, after finishing some`,
          async () => {
            const rows = (await readQueueLedger(db.sql, ledgerTable, queue.name)).filter(
              (r) => r.executor === victim.executorId,
            )
            const running = rows.filter((r) => r.finishedMs === undefined)
            const fresh = running.some((r) => Date.now() - r.startedMs < 50)
            return rows.length - running.length >= 2 && fresh ? running : undefined
          },
          { intervalMs: 10, detail: () => victim.tail() },
        )
        victim.signal("SIGKILL")
        const exit = await victim.exit
        killedAtMs = Date.now()
        expect(exit.signal).toBe("SIGKILL")
        return new Map([[victim.executorId, killedAtMs]])
      },
    })
    const victim = victimOf(out.workers)
    // Interrupted: a body of the task was running in the victim when it died. Taken over: the task has runs in
    // the victim and, after the kill, in a survivor (interrupted ones, and any whose last step had finished
    // but whose checkpoint or completion the kill prevented).
    const interrupted = new Set(
      out.rows.filter((r) => r.executor === victim.executorId && r.finishedMs === undefined).map((r) => r.task),
    )
    const victimTasks = new Set(out.rows.filter((r) => r.executor === victim.executorId).map((r) => r.task))
    const resumed = out.rows.filter((r) => victimTasks.has(r.task) && r.executor !== victim.executorId)
    const takenOver = new Set(resumed.map((r) => r.task))
    const firstResume = Math.min(...resumed.map((r) => r.startedMs))
    const lastDone = Math.max(...resumed.map((r) => r.finishedMs!))
    const global = maxOverlap(out.spans)
    const perExecutor = maxOverlapBy(out.spans, (s) => s.executor)
    const beforeKill = maxOverlapBy(
      out.spans.filter((s) => s.startMs < killedAtMs),
      (s) => s.executor,
    )
    log(
      "sigkill",
      `${tasks.length} tasks × 2 steps; ${victim.label} killed with ${inFlight.length} step bodies running; ` +
        `${interrupted.size} tasks interrupted, ${takenOver.size} taken over by ` +
        `${[...new Set(resumed.map((r) => r.executor))].join(", ")}: first resumed step ${firstResume - killedAtMs} ms ` +
        `after the kill, all done ${lastDone - killedAtMs} ms after it (heartbeat ${fastLease.intervalMs} ms, lease ${fastLease.leaseMs} ms); ` +
        `all ${tasks.length} SUCCESS ${Math.round(out.drainMs)} ms after the enqueue; step bodies run again: ${out.reruns}`,
    )
    log(
      "sigkill",
      `most running at once ${global.max} (limit ${CONCURRENCY}); per executor ${JSON.stringify(Object.fromEntries(perExecutor))}, ` +
        `counting only executions started before the kill ${JSON.stringify(Object.fromEntries(beforeKill))} (limit ${PER_WORKER})`,
    )
    expect(interrupted.size, "the kill interrupted a running body").toBeGreaterThanOrEqual(1)
    for (const task of interrupted) expect(takenOver.has(task), `${task} resumed by a survivor`).toBe(true)
    expect(resumed.every((r) => r.startedMs > killedAtMs)).toBe(true)
    // Not before the victim's lease ran out (its last heartbeat plus the lease, on the database's clock), and
    // not long after.
    const [beat] = await db.sql.unsafe(`SELECT heartbeat_at FROM "${db.schema}".executors WHERE id = $1`, [
      victim.executorId,
    ])
    const expiry = (beat?.["heartbeat_at"] as Date).getTime() + fastLease.leaseMs
    const early = resumed.filter((r) => r.insertedAt.getTime() < expiry)
    expect(
      early.map((r) => `row ${r.id} at ${r.insertedAt.toISOString()}`),
      "resumed before the lease expired",
    ).toEqual([])
    expect(firstResume - killedAtMs).toBeLessThan(10_000)
    expect(global.max).toBeLessThanOrEqual(CONCURRENCY)
    for (const [executor, max] of beforeKill) expect(max, executor).toBeLessThanOrEqual(PER_WORKER)
    // A dead executor's queued workflows go back on the queue: survivors take them under their own limit.
    for (const [executor, max] of perExecutor) expect(max, executor).toBeLessThanOrEqual(PER_WORKER)
  }, 90_000)
})

/**
 * Most minus fewest completions across partitions that still counts as "in turn". Served in enqueue order,
 * a partition's (k+1)-th task waits for every partition's k-th that can start; with 6 running at once the
 * spread is 0–2 (measured: 0 at the halfway point, 1–2 at worst), one more if a task runs long while another
 * partition gets two of its own done. Served partition after partition, it reaches the tasks per partition.
 */
const FAIR_SPREAD = 3

/**
 * The starts of a rate-limited queue come in bursts, one claim each: for every claim that took work (as the
 * worker reported it), how many it took, when it was asked (the instant the store stamps as their start) and
 * when its bodies started, all in ms from the first claim.
 */
const burstsOf = (rows: ReadonlyArray<QueueLedgerRow>, claims: ReadonlyArray<QueueWorkerEvents["CLAIM"]>) => {
  const t0 = claims[0]?.askedMs ?? 0
  const starts = new Map(firstStarts(rows).map((r) => [r.task, r.startedMs]))
  return claims.map((c) => {
    const mine = c.ids.map((id) => starts.get(id) ?? NaN)
    return {
      size: c.ids.length,
      askedMs: c.askedMs - t0,
      answeredMs: c.answeredMs - t0,
      firstStartMs: Math.min(...mine) - t0,
      lastStartMs: Math.max(...mine) - t0,
    }
  })
}
