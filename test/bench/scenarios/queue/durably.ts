/**
 * Durably's queue, measured the way ./graphile.ts measures graphile-worker, so the two line up field by
 * field (the same QueueMeasure): enqueue one per call (`durably.enqueue`, each awaited), enqueue in batches
 * (`durably.enqueueMany`), and drain a pre-filled queue of one-step workflows.
 *
 * - Settings: the store's and the engine's defaults (pool of 10 like graphile's maxPoolSize, NOTIFY on,
 *   heartbeats on, fallback poll 1 s, the dispatcher's own claim batch); the queue is defined with
 *   `workerConcurrency: concurrency`, the per-process limit that graphile's per-runner `concurrency` is.
 * - Payload: every workflow's input is `{ i }`, graphile's job payload; the workflow's one step returns `i`.
 * - Drain: the jobs are enqueued by a client engine that serves no queue (`serveQueues: false`) and is shut
 *   down before the worker launches; the time runs from the `Durably.launch` call of the worker to the moment
 *   no workflow of the queue is ENQUEUED or PENDING (each one SUCCESS, checked after the clock stopped).
 *   Watching costs the database nothing until every step body has run here (an in-process count, as
 *   graphile's task counter); from then on one connection of our own polls a count that two partial
 *   indexes answer, every millisecond, as ./graphile.ts polls its jobs table. To say where the time goes,
 *   a second connection of ours samples pg_stat_activity ten times a second during the drain.
 * - Every measurement has a fresh schema of its own (one for the drain, one for the enqueue series),
 *   dropped at the end; nothing is left running (engines shut down, pools ended, the embedded directory removed).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { describeWaits, pause, sampleWaits } from "../scaling/support.ts"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import postgres from "postgres"
import { defineWorkflow, Durably, uuidv7, type Store } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { embeddedStore } from "@durably/postgres/embedded"
import { defineQueue } from "@durably/scheduler"
import { benchSchema, type Series } from "../../harness.ts"
import { quietLogger } from "../perStep/common.ts"
import type { QueueMeasure } from "./graphile.ts"

type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

export interface DurablyOptions {
  readonly jobs: number
  readonly concurrency: number
  readonly enqueueCount: number
  readonly batchSize: number
  readonly log: (line: string) => void
}

export const QUEUE = "bench-queue"

/** Untimed calls before each enqueue series, as in ./graphile.ts. */
const WARMUP = 20

const series = (label: string, ops: number, totalMs: number): Series => ({
  label,
  ops,
  totalMs,
  perOpMs: totalMs / ops,
})

/** `promise`, or a rejection after `ms`; the timer never outlives the race. */
export const within = async <T>(ms: number, what: string, promise: Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The one-step workflow and the in-process count of its step bodies: `allRan` resolves (with the instant)
 * once `jobs` distinct inputs have run their step here.
 */
const benchTask = (jobs: number) => {
  const ran = new Set<number>()
  let resolveAll: (at: number) => void = () => undefined
  const allRan = new Promise<number>((resolve) => (resolveAll = resolve))
  const task = defineWorkflow("bench-task", async (ctx, input: { i: number }) =>
    ctx.step("work", () => {
      ran.add(input.i)
      if (ran.size === jobs) resolveAll(performance.now())
      return input.i
    }),
  )
  return { task, allRan, ran }
}

const inputs = (from: number, count: number) => Array.from({ length: count }, (_, k) => ({ i: from + k }))

/** `count` workflows in `enqueueMany` calls of at most `batchSize`, each awaited before the next. */
const enqueueInBatches = async (
  durably: Durably,
  queue: ReturnType<typeof defineQueue>,
  task: ReturnType<typeof benchTask>["task"],
  from: number,
  count: number,
  batchSize: number,
) => {
  for (let done = 0; done < count; done += batchSize)
    await durably.enqueueMany(queue, task, inputs(from + done, Math.min(batchSize, count - done)))
}

/** At most `concurrency` running in this process: the per-runner limit graphile's `concurrency` is. */
export const benchQueue = (concurrency: number) => defineQueue(QUEUE, { workerConcurrency: concurrency })

/** Wait until no workflow of the queue is ENQUEUED or PENDING (both counts answered by partial indexes). */
const unfinished = (schema: string) =>
  `SELECT (SELECT count(*) FROM "${schema}".workflows WHERE queue = $1 AND status = 'ENQUEUED')::int +
     (SELECT count(*) FROM "${schema}".workflows WHERE queue = $1 AND status = 'PENDING')::int AS n`

const statusCounts = async (sql: Sql, schema: string) =>
  Object.fromEntries(
    (
      await sql.unsafe<{ status: string; n: number }[]>(
        `SELECT status, count(*)::int AS n FROM "${schema}".workflows WHERE queue = $1 GROUP BY status`,
        [QUEUE],
      )
    ).map((r) => [r.status, r.n]),
  ) as Record<string, number>

const WAIT_SAMPLE_MS = 100

/** The client that enqueues: it serves no queue, runs nothing, recovers nothing. */
const launchClient = (store: Store, task: ReturnType<typeof benchTask>["task"], concurrency: number) =>
  Durably.launch({
    store,
    workflows: [task],
    queues: [benchQueue(concurrency)],
    serveQueues: false,
    executorId: `bench-enqueuer-${uuidv7()}`,
    appVersion: "bench",
    heartbeat: false,
    recover: false,
    logger: quietLogger,
  })

export const measureDurably = async (url: string, options: DurablyOptions): Promise<QueueMeasure> => {
  const { jobs, concurrency, enqueueCount, batchSize, log } = options
  for (const [name, value] of Object.entries({ jobs, concurrency, enqueueCount, batchSize }))
    if (!Number.isInteger(value) || value < 1) throw new Error(`measureDurably: ${name} must be a positive integer`)
  const sql: Sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 })
  const schemas: string[] = []
  const launched: Durably[] = []
  let waits: ReturnType<typeof sampleWaits> | undefined
  const shut = async (d: Durably) => {
    launched.splice(launched.indexOf(d), 1)
    await d.shutdown()
  }
  try {
    const setting = async (name: string) =>
      (await sql.unsafe<{ v: string }[]>(`SELECT current_setting($1) AS v`, [name]))[0]?.v ?? "?"
    const synchronousCommit = await setting("synchronous_commit")
    const fsync = await setting("fsync")

    // Drain: enqueue with a client, shut it down, then time a worker from its launch to the last SUCCESS.
    const drainSchema = benchSchema()
    schemas.push(drainSchema)
    log(`  durably, schema ${drainSchema}: synchronous_commit = ${synchronousCommit}, fsync = ${fsync}`)
    const bench = benchTask(jobs)
    const client = await launchClient(postgresStore({ url, schema: drainSchema }), bench.task, concurrency)
    launched.push(client)
    await enqueueInBatches(client, benchQueue(concurrency), bench.task, 0, jobs, batchSize)
    await shut(client)
    const before = await statusCounts(sql, drainSchema)
    if (before["ENQUEUED"] !== jobs) throw new Error(`expected ${jobs} ENQUEUED, found ${JSON.stringify(before)}`)

    waits = sampleWaits(url, drainSchema, WAIT_SAMPLE_MS)
    const start = performance.now()
    const worker = await Durably.launch({
      store: postgresStore({ url, schema: drainSchema }),
      workflows: [bench.task],
      queues: [benchQueue(concurrency)],
      executorId: `bench-worker-${uuidv7()}`,
      appVersion: "bench",
      logger: quietLogger,
    })
    launched.push(worker)
    const launchedAt = performance.now()
    const deadlineMs = 60_000 + jobs * 20
    const lastStepAt = await within(deadlineMs, `draining ${jobs} workflows`, bench.allRan)
    const unfinishedSql = unfinished(drainSchema)
    const doneAt = await within(
      deadlineMs,
      "the last completions",
      (async () => {
        for (;;) {
          const [row] = await sql.unsafe<{ n: number }[]>(unfinishedSql, [QUEUE], { prepare: true })
          if (row?.n === 0) return performance.now()
          await pause(1)
        }
      })(),
    )
    const waited = await waits.stop()
    const stopStart = performance.now()
    await shut(worker)
    const stopMs = performance.now() - stopStart
    const after = await statusCounts(sql, drainSchema)
    if (after["SUCCESS"] !== jobs) throw new Error(`after the drain: ${JSON.stringify(after)}, not ${jobs} SUCCESS`)
    const drain = series(`durably drain (workerConcurrency ${concurrency})`, jobs, doneAt - start)
    log(
      `  drain: ${jobs} workflows in ${drain.totalMs.toFixed(0)} ms (${((jobs / drain.totalMs) * 1000).toFixed(0)} workflows/s), ` +
        `launch took ${(launchedAt - start).toFixed(0)} ms, last step ${(doneAt - lastStepAt).toFixed(1)} ms before the last SUCCESS`,
    )
    log(`  server backends of the drain, sampled every ${WAIT_SAMPLE_MS} ms: ${describeWaits(waited, 3)}`)

    // Enqueue series, on a schema of their own with nothing serving the queue (as graphile's: no worker running).
    const enqueueSchema = benchSchema()
    schemas.push(enqueueSchema)
    const enq = benchTask(enqueueCount)
    const enqueuer = await launchClient(postgresStore({ url, schema: enqueueSchema }), enq.task, concurrency)
    launched.push(enqueuer)
    const queue = benchQueue(concurrency)
    for (let i = 0; i < WARMUP; i++) await enqueuer.enqueue(queue, enq.task, { i: -1 - i })
    const oneStart = performance.now()
    for (let i = 0; i < enqueueCount; i++) await enqueuer.enqueue(queue, enq.task, { i })
    const enqueueOne = series("durably.enqueue", enqueueCount, performance.now() - oneStart)
    log(`  enqueue: ${enqueueCount} workflows, ${enqueueOne.perOpMs.toFixed(3)} ms per workflow`)

    await enqueueInBatches(enqueuer, queue, enq.task, -WARMUP * batchSize, WARMUP * batchSize, batchSize)
    const batchStart = performance.now()
    await enqueueInBatches(enqueuer, queue, enq.task, 0, enqueueCount, batchSize)
    const enqueueBatch = series(`durably.enqueueMany ×${batchSize}`, enqueueCount, performance.now() - batchStart)
    log(
      `  enqueueMany: ${enqueueCount} workflows in batches of ${batchSize}, ${enqueueBatch.perOpMs.toFixed(3)} ms per workflow`,
    )
    await shut(enqueuer)

    return {
      enqueueOne,
      enqueueBatch,
      drain,
      details: {
        schemas,
        settings: {
          note: "store and engine defaults; the queue has workerConcurrency = concurrency",
          queue: { workerConcurrency: concurrency },
          poolMax: 10,
          notifications: true,
          heartbeat: "default (2 s interval, 10 s lease)",
        },
        synchronousCommit,
        fsync,
        workflow: "one step returning i; input { i }",
        sizes: { jobs, concurrency, enqueueCount, batchSize, warmupSingle: WARMUP, warmupBatches: WARMUP },
        drain: {
          timed: "from the worker's Durably.launch call until no workflow of the queue is ENQUEUED or PENDING",
          launchMs: launchedAt - start,
          lastStepMs: lastStepAt - start,
          doneMs: doneAt - start,
          stopMs,
          workflowsPerSecond: (jobs / drain.totalMs) * 1000,
          statuses: after,
          waits: waited,
        },
        enqueue: "by a client engine serving no queue, each call awaited before the next",
      },
    }
  } finally {
    await waits?.stop().catch(() => undefined)
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  durably cleanup: shutdown failed: ${String(e)}`))
    for (const schema of schemas)
      await sql
        .unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        .catch((e: unknown) => log(`  durably cleanup: dropping ${schema} failed: ${String(e)}`))
    await sql.end({ timeout: 5 })
  }
}

export interface EmbeddedMeasure {
  readonly drain: Series
  readonly reference: Series
  readonly details: Record<string, unknown>
}

/**
 * The embedded store: drain `jobs` pre-enqueued one-step workflows at `workerConcurrency: concurrency`.
 * A client engine opens the directory, migrates and enqueues, and shuts down; the time runs from the worker's
 * `Durably.launch` (which opens PGlite again, as a restarted process would) until every workflow is SUCCESS.
 * One process owns the directory, so the end is told in-process: the bench watches each workflow's status
 * on the worker's store before the launch (an in-process subscription, no statement), and the store
 * announces each completion once it has committed.
 *
 * Reference: on the same database (the store's directory, reopened with PGlite once the worker has shut
 * down), one autocommitted INSERT per job of its payload `{"i":n}` into a table with a primary key, each
 * awaited — the least a durable job can cost there (PGlite runs one statement at a time, so concurrency
 * cannot hide it), where a durable workflow needs at least three writes (claim, checkpoint, completion).
 */
export const measureEmbedded = async (options: {
  readonly jobs: number
  readonly concurrency: number
  readonly batchSize: number
  readonly log: (line: string) => void
}): Promise<EmbeddedMeasure> => {
  const { jobs, concurrency, batchSize, log } = options
  for (const [name, value] of Object.entries({ jobs, concurrency, batchSize }))
    if (!Number.isInteger(value) || value < 1) throw new Error(`measureEmbedded: ${name} must be a positive integer`)
  const dir = mkdtempSync(join(tmpdir(), "durably-bench-queue-"))
  const storeDir = join(dir, "store")
  const launched: Durably[] = []
  let db: PGlite | undefined
  try {
    const bench = benchTask(jobs)
    const queue = benchQueue(concurrency)
    const client = await launchClient(embeddedStore({ dir: storeDir }), bench.task, concurrency)
    launched.push(client)
    const ids: string[] = []
    for (let done = 0; done < jobs; done += batchSize)
      for (const h of await client.enqueueMany(queue, bench.task, inputs(done, Math.min(batchSize, jobs - done))))
        ids.push(h.id)
    launched.pop()
    await client.shutdown()

    const store = embeddedStore({ dir: storeDir })
    const statuses = new Map<string, string>()
    let succeeded = 0
    let resolveDone: (at: number) => void = () => undefined
    const allDone = new Promise<number>((resolve) => (resolveDone = resolve))
    const unwatch = ids.map((id) =>
      store.watch(id, (status) => {
        if (statuses.get(id) === status) return
        statuses.set(id, status)
        if (status === "SUCCESS" && ++succeeded === jobs) resolveDone(performance.now())
      }),
    )
    const start = performance.now()
    const worker = await Durably.launch({
      store,
      workflows: [bench.task],
      queues: [queue],
      executorId: `bench-worker-${uuidv7()}`,
      appVersion: "bench",
      logger: quietLogger,
    })
    launched.push(worker)
    const launchedAt = performance.now()
    const deadlineMs = 60_000 + jobs * 50
    const lastStepAt = await within(deadlineMs, `draining ${jobs} workflows`, bench.allRan)
    const doneAt = await within(deadlineMs, "the last completions", allDone)
    unwatch.forEach((u) => u())
    launched.pop()
    await worker.shutdown()
    const drain = series(`durably drain (workerConcurrency ${concurrency})`, jobs, doneAt - start)
    log(
      `  embedded drain: ${jobs} workflows in ${drain.totalMs.toFixed(0)} ms (${((jobs / drain.totalMs) * 1000).toFixed(0)} workflows/s), ` +
        `launch took ${(launchedAt - start).toFixed(0)} ms, last step ${(doneAt - lastStepAt).toFixed(1)} ms before the last SUCCESS`,
    )

    // The same database, reopened: check the outcome, then time the reference.
    db = await PGlite.create(join(storeDir, "pgdata"))
    const counts = Object.fromEntries(
      (
        await db.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM durably.workflows WHERE queue = $1 GROUP BY status`,
          [QUEUE],
        )
      ).rows.map((r) => [r.status, r.n]),
    ) as Record<string, number>
    if (counts["SUCCESS"] !== jobs) throw new Error(`after the drain: ${JSON.stringify(counts)}, not ${jobs} SUCCESS`)
    await db.exec(`CREATE TABLE bench_jobs (id text PRIMARY KEY, payload text NOT NULL)`)
    const insert = `INSERT INTO bench_jobs (id, payload) VALUES ($1, $2)`
    for (let i = 0; i < WARMUP; i++) await db.query(insert, [uuidv7(), JSON.stringify({ i: -1 - i })])
    const refStart = performance.now()
    for (let i = 0; i < jobs; i++) await db.query(insert, [uuidv7(), JSON.stringify({ i })])
    const reference = series("INSERT per job (same PGlite)", jobs, performance.now() - refStart)
    log(`  reference: ${jobs} INSERTs, ${reference.perOpMs.toFixed(3)} ms each`)
    return {
      drain,
      reference,
      details: {
        workflow: "one step returning i; input { i }",
        queue: { workerConcurrency: concurrency },
        sizes: { jobs, concurrency, batchSize },
        drain: {
          timed: "from the worker's Durably.launch call (which reopens PGlite) until every workflow is SUCCESS",
          watched: "in-process status subscriptions on the worker's store, no statement",
          launchMs: launchedAt - start,
          lastStepMs: lastStepAt - start,
          doneMs: doneAt - start,
          workflowsPerSecond: (jobs / drain.totalMs) * 1000,
          statuses: counts,
        },
        reference: "autocommitted INSERT per job, each awaited, on the store's database reopened after the drain",
      },
    }
  } finally {
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  embedded cleanup: shutdown failed: ${String(e)}`))
    await db?.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}
