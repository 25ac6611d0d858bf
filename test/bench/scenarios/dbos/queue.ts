/**
 * DBOS Transact's queue (runs in the child process, ./child.ts), measured the way ../queue/durably.ts
 * measures Durably's: enqueue one per call, and drain a pre-filled queue of one-step workflows.
 *
 * - Settings: DBOS's defaults (system database pool of 10, LISTEN/NOTIFY on, queue polling from 1 s with
 *   its own backoff, 3 dispatch lanes), the queue registered with `DBOS.registerQueue(name,
 *   { workerConcurrency: concurrency })`, the per-process limit Durably's queue and graphile's runner have.
 * - Payload: every workflow's input is `{ i }`; its one step (`DBOS.runStep`) returns `i`.
 * - Drain: DBOS launched with `listenQueues: []` (it dequeues nothing) enqueues with
 *   `DBOS.startWorkflow(task, { queueName })`, ten calls in flight (DBOS has no batch enqueue; this part is
 *   not timed), and shuts down. The time runs from the worker's `DBOS.launch` call (then `registerQueue`, as
 *   an application does at every start) until no workflow of the queue is ENQUEUED or PENDING: once every step
 *   body has run here (an in-process count), one connection of ours polls that count, which DBOS's partial
 *   index answers, every millisecond, as ../queue/durably.ts does. Every workflow is checked SUCCESS after.
 * - Enqueue one per call: on a second fresh system database, DBOS launched with `listenQueues: []` (nothing
 *   serves the queue, as Durably's client and graphile's utils), each `startWorkflow` awaited in turn, after
 *   untimed warm-up calls; every one is checked ENQUEUED after.
 *
 * DBOS is one singleton per process: it is shut down and launched again between the parts (supported).
 */
import { DBOS } from "@dbos-inc/dbos-sdk"
import postgres from "postgres"
import type { Series } from "../../harness.ts"
import { SYSTEM_SCHEMA, type DbosQueueMeasure, type QueueRequest } from "./common.ts"
import {
  describeStatements,
  instrumentPg,
  launchDbos,
  pause,
  perWorkflow,
  settingsOf,
  statusCounts,
  within,
  type Sql,
} from "./runtime.ts"

const QUEUE = "bench-queue"

/** Untimed calls before the enqueue series, as in ../queue/durably.ts. */
const WARMUP = 20

/** Enqueue calls in flight while filling the queue for the drain (DBOS's pool has 10 connections). */
const FILL_IN_FLIGHT = 10

const series = (label: string, ops: number, totalMs: number): Series => ({
  label,
  ops,
  totalMs,
  perOpMs: totalMs / ops,
})

// The step bodies that ran in this process, and a wait for all `target` of them.
const ran = new Set<number>()
let target = Number.POSITIVE_INFINITY
let resolveAll: (at: number) => void = () => undefined
const allRan = new Promise<number>((resolve) => (resolveAll = resolve))

const task = DBOS.registerWorkflow(
  async (input: { i: number }) =>
    DBOS.runStep(
      async () => {
        ran.add(input.i)
        if (ran.size === target) resolveAll(performance.now())
        return input.i
      },
      { name: "work" },
    ),
  { name: "bench-task" },
)

const enqueue = (i: number) => DBOS.startWorkflow(task, { queueName: QUEUE })({ i })

export const measureQueue = async (request: QueueRequest): Promise<DbosQueueMeasure> => {
  const { jobs, concurrency, enqueueCount } = request
  for (const [name, value] of Object.entries({ jobs, concurrency, enqueueCount }))
    if (!Number.isInteger(value) || value < 1) throw new Error(`measureQueue: ${name} must be a positive integer`)
  const log = (line: string) => process.stdout.write(`${line}\n`)
  const stats = instrumentPg()
  // Our own connection to each system database, outside DBOS's pool.
  const drainSql: Sql = postgres(request.drainDatabaseUrl, { max: 1, onnotice: () => undefined, connect_timeout: 10 })
  const enqueueSql: Sql = postgres(request.enqueueDatabaseUrl, {
    max: 1,
    onnotice: () => undefined,
    connect_timeout: 10,
  })
  let launched = false
  const launch = async (url: string, listenNowhere: boolean) => {
    await launchDbos(url, listenNowhere ? { listenQueues: [] } : {})
    launched = true
    await DBOS.registerQueue(QUEUE, { workerConcurrency: concurrency })
  }
  const shutdown = async () => {
    launched = false
    await DBOS.shutdown()
  }
  try {
    const settings = await settingsOf(drainSql)
    log(`  DBOS queue: synchronous_commit = ${settings.synchronousCommit}, fsync = ${settings.fsync}`)

    // Drain: fill with a DBOS that serves no queue, shut it down, then time a worker from its launch.
    await launch(request.drainDatabaseUrl, true)
    let next = 0
    await Promise.all(
      Array.from({ length: FILL_IN_FLIGHT }, async () => {
        while (next < jobs) await enqueue(next++)
      }),
    )
    await shutdown()
    const before = await statusCounts(drainSql, QUEUE)
    if (before["ENQUEUED"] !== jobs) throw new Error(`expected ${jobs} ENQUEUED, found ${JSON.stringify(before)}`)

    target = jobs
    stats.clear()
    const start = performance.now()
    await launch(request.drainDatabaseUrl, false)
    const launchedAt = performance.now()
    const deadlineMs = 60_000 + jobs * 50
    const lastStepAt = await within(deadlineMs, `draining ${jobs} workflows`, allRan)
    const unfinished = `SELECT count(*)::int AS n FROM "${SYSTEM_SCHEMA}".workflow_status
      WHERE queue_name = $1 AND status IN ('ENQUEUED', 'PENDING')`
    const doneAt = await within(
      deadlineMs,
      "the last completions",
      (async () => {
        for (;;) {
          const [row] = await drainSql.unsafe<{ n: number }[]>(unfinished, [QUEUE], { prepare: true })
          if (row?.n === 0) return performance.now()
          await pause(1)
        }
      })(),
    )
    const drainStatements = perWorkflow(stats, jobs)
    const stopStart = performance.now()
    await shutdown()
    const stopMs = performance.now() - stopStart
    const after = await statusCounts(drainSql, QUEUE)
    if (after["SUCCESS"] !== jobs) throw new Error(`after the drain: ${JSON.stringify(after)}, not ${jobs} SUCCESS`)
    if (ran.size !== jobs) throw new Error(`${ran.size} step bodies ran for ${jobs} workflows`)
    const drain = series(`DBOS drain (workerConcurrency ${concurrency})`, jobs, doneAt - start)
    // Dequeue transactions: DBOS marks the workflows it claims PENDING in one UPDATE per poll that finds work.
    const claims = Object.entries(drainStatements)
      .filter(([k]) => k.startsWith("UPDATE workflow_status"))
      .map(([k, s]) => `${k} ${(s.count * jobs).toFixed(0)}`)
    log(
      `  DBOS drain: ${jobs} workflows in ${drain.totalMs.toFixed(0)} ms (${((jobs / drain.totalMs) * 1000).toFixed(0)} workflows/s), ` +
        `launch took ${(launchedAt - start).toFixed(0)} ms, last step ${(doneAt - lastStepAt).toFixed(1)} ms before the last SUCCESS`,
    )

    // Enqueue one per call, on a database of its own, nothing serving the queue.
    await launch(request.enqueueDatabaseUrl, true)
    for (let i = 0; i < WARMUP; i++) await enqueue(-1 - i)
    const oneStart = performance.now()
    for (let i = 0; i < enqueueCount; i++) await enqueue(i)
    const enqueueOne = series("DBOS.startWorkflow on a queue", enqueueCount, performance.now() - oneStart)
    await shutdown()
    const enqueued = await statusCounts(enqueueSql, QUEUE)
    if (enqueued["ENQUEUED"] !== enqueueCount + WARMUP)
      throw new Error(`after the enqueue series: ${JSON.stringify(enqueued)}, not ${enqueueCount + WARMUP} ENQUEUED`)
    log(`  DBOS enqueue: ${enqueueCount} workflows, ${enqueueOne.perOpMs.toFixed(3)} ms per workflow`)

    return {
      enqueueOne,
      drain,
      details: {
        settings: {
          note: "DBOS defaults; the queue has workerConcurrency = concurrency",
          queue: { workerConcurrency: concurrency },
          minPollingIntervalMs: "default (1000)",
          systemDatabasePoolSize: "default (10)",
          listenNotify: "default (on)",
        },
        synchronousCommit: settings.synchronousCommit,
        fsync: settings.fsync,
        workflow: "one step (DBOS.runStep) returning i; input { i }",
        sizes: { jobs, concurrency, enqueueCount, warmupSingle: WARMUP, fillInFlight: FILL_IN_FLIGHT },
        drain: {
          timed: "from the worker's DBOS.launch call until no workflow of the queue is ENQUEUED or PENDING",
          launchMs: launchedAt - start,
          lastStepMs: lastStepAt - start,
          doneMs: doneAt - start,
          stopMs,
          workflowsPerSecond: (jobs / drain.totalMs) * 1000,
          statuses: after,
          statementsPerWorkflow: drainStatements,
          statementsPerWorkflowText: describeStatements(drainStatements, 8),
          claimStatements: claims,
        },
        enqueue: "by a DBOS launched with listenQueues: [] (it dequeues nothing), each call awaited before the next",
      },
    }
  } finally {
    if (launched) await DBOS.shutdown().catch(() => undefined)
    await drainSql.end({ timeout: 5 })
    await enqueueSql.end({ timeout: 5 })
  }
}
