/**
 * graphile-worker plain jobs, the reference our queue is measured against: enqueue one job per call, enqueue
 * in batches, and drain a pre-filled queue. graphile-worker keeps its defaults except `concurrency` (what it
 * resolves to is read from its own preset and recorded in `details`), so the numbers are what a user gets out
 * of the box. The task does nothing but return, the equivalent of a one-step workflow; every payload is
 * `{ i }`. Each call works in a schema of its own, migrated by graphile-worker and dropped at the end.
 */
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import {
  Logger,
  makeWorkerUtils,
  run,
  WorkerPreset,
  type AddJobsJobSpec,
  type Runner,
  type TaskList,
  type WorkerUtils,
} from "graphile-worker"
import postgres from "postgres"
import type { Series } from "../../harness.ts"

export interface QueueMeasure {
  /** enqueue one job per call (await each), n jobs */
  readonly enqueueOne: Series
  /** enqueue in batches (graphile's addJobs / a single call with many jobs), n jobs total */
  readonly enqueueBatch: Series
  /** time from worker start until all `jobs` pre-enqueued jobs completed, at concurrency `concurrency`; perOpMs = ms per job */
  readonly drain: Series
  readonly details: Record<string, unknown>
}

export interface GraphileOptions {
  readonly jobs: number
  readonly concurrency: number
  readonly enqueueCount: number
  readonly batchSize: number
  readonly log: (line: string) => void
}

const TASK = "bench_noop"

/** Untimed calls before each enqueue series, so connecting and first-statement planning fall outside it. */
const WARMUP = 20

// graphile-worker would print a line per job; a timed run must not write to the terminal.
const quietLogger = new Logger(() => () => undefined)

const series = (label: string, ops: number, totalMs: number): Series => ({
  label,
  ops,
  totalMs,
  perOpMs: totalMs / ops,
})

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// The package's exports hide package.json; it sits one level above the resolved entry point (dist/index.js).
const graphileVersion = (): string => {
  try {
    const pkg: unknown = JSON.parse(
      readFileSync(new URL("../package.json", import.meta.resolve("graphile-worker")), "utf8"),
    )
    return typeof pkg === "object" && pkg !== null && "version" in pkg ? String(pkg.version) : "?"
  } catch {
    return "?"
  }
}

/** `promise`, or a rejection after `ms`; the timer never outlives the race. */
const within = async <T>(ms: number, what: string, promise: Promise<T>): Promise<T> => {
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

const specs = (from: number, count: number): AddJobsJobSpec[] =>
  Array.from({ length: count }, (_, k) => ({ identifier: TASK, payload: { i: from + k } }))

/** `count` jobs in `addJobs` calls of at most `batchSize`, each awaited before the next. */
const addInBatches = async (utils: WorkerUtils, from: number, count: number, batchSize: number) => {
  for (let done = 0; done < count; done += batchSize)
    await utils.addJobs(specs(from + done, Math.min(batchSize, count - done)))
}

export const measureGraphile = async (url: string, options: GraphileOptions): Promise<QueueMeasure> => {
  const { jobs, concurrency, enqueueCount, batchSize, log } = options
  for (const [name, value] of Object.entries({ jobs, concurrency, enqueueCount, batchSize }))
    if (!Number.isInteger(value) || value < 1) throw new Error(`measureGraphile: ${name} must be a positive integer`)
  const schema = `gw_bench_${randomBytes(5).toString("hex")}`
  const defaults = WorkerPreset.worker ?? {}
  // Our own connection, outside graphile's pools, so watching the queue empty takes none of their clients.
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 })
  let utils: WorkerUtils | undefined
  let runner: Runner | undefined
  try {
    // Migrates the fresh schema; its pool also does every enqueue below.
    utils = await makeWorkerUtils({ connectionString: url, schema, logger: quietLogger })
    const setting = async (name: "synchronous_commit" | "fsync") => {
      const result = await utils!.withPgClient((client) => client.query<Record<string, string>>(`SHOW ${name}`))
      return result.rows[0]?.[name] ?? "?"
    }
    const synchronousCommit = await setting("synchronous_commit")
    const fsync = await setting("fsync")
    log(
      `  graphile-worker ${graphileVersion()}, schema ${schema}: synchronous_commit = ${synchronousCommit}, fsync = ${fsync}`,
    )
    if (synchronousCommit !== "on")
      log(`  warning: synchronous_commit is ${synchronousCommit}, commits do not wait for the WAL flush`)

    // Drain first, on the pristine table, so the enqueue series below leave nothing behind that it would see.
    await addInBatches(utils, 0, jobs, batchSize)
    let ran = 0
    let allRan: (at: number) => void = () => undefined
    const allRanAt = new Promise<number>((resolve) => (allRan = resolve))
    const taskList: TaskList = {
      [TASK]: () => {
        if (++ran === jobs) allRan(performance.now())
      },
    }
    const start = performance.now()
    runner = await run({
      connectionString: url,
      schema,
      concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      taskList,
    })
    const startedAt = performance.now()
    const stopped = runner.promise.then(() => {
      throw new Error("the graphile-worker runner stopped before the queue was drained")
    })
    stopped.catch(() => undefined)
    const deadlineMs = 60_000 + jobs * 20
    const lastTaskAt = await within(deadlineMs, `draining ${jobs} jobs`, Promise.race([allRanAt, stopped]))
    // A worker deletes its job after the task returns without waiting for it: the drain is over when the table is.
    const emptyAt = await within(
      deadlineMs,
      "the last job deletions",
      (async () => {
        for (;;) {
          const [row] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${schema}".jobs`)
          if (row?.n === 0) return performance.now()
          await pause(1)
        }
      })(),
    )
    const stopStart = performance.now()
    await runner.stop()
    runner = undefined
    const stopMs = performance.now() - stopStart
    if (ran !== jobs) throw new Error(`${ran} task runs for ${jobs} jobs`)
    const drain = series(`graphile-worker drain (concurrency ${concurrency})`, jobs, emptyAt - start)
    log(
      `  drain: ${jobs} jobs in ${drain.totalMs.toFixed(0)} ms (${((jobs / drain.totalMs) * 1000).toFixed(0)} jobs/s), ` +
        `run() took ${(startedAt - start).toFixed(0)} ms, last task ${(emptyAt - lastTaskAt).toFixed(1)} ms before the table was empty`,
    )

    for (let i = 0; i < WARMUP; i++) await utils.addJob(TASK, { i: -1 - i })
    const oneStart = performance.now()
    for (let i = 0; i < enqueueCount; i++) await utils.addJob(TASK, { i })
    const enqueueOne = series("graphile-worker addJob", enqueueCount, performance.now() - oneStart)
    log(`  addJob: ${enqueueCount} jobs, ${enqueueOne.perOpMs.toFixed(3)} ms per job`)

    await addInBatches(utils, -WARMUP * batchSize, WARMUP * batchSize, batchSize)
    const batchStart = performance.now()
    await addInBatches(utils, 0, enqueueCount, batchSize)
    const enqueueBatch = series(`graphile-worker addJobs ×${batchSize}`, enqueueCount, performance.now() - batchStart)
    log(`  addJobs: ${enqueueCount} jobs in batches of ${batchSize}, ${enqueueBatch.perOpMs.toFixed(3)} ms per job`)

    return {
      enqueueOne,
      enqueueBatch,
      drain,
      details: {
        graphileWorker: graphileVersion(),
        schema,
        settings: {
          note: "graphile-worker defaults except concurrency",
          concurrency,
          pollIntervalMs: defaults.pollInterval,
          maxPoolSize: defaults.maxPoolSize,
          preparedStatements: defaults.preparedStatements,
          localQueueSize: defaults.localQueue?.size ?? -1,
          completeJobBatchDelay: defaults.completeJobBatchDelay ?? -1,
          pools: "one for the runner, one for the enqueuing WorkerUtils, each of maxPoolSize",
        },
        synchronousCommit,
        fsync,
        task: "returns at once (one-step equivalent); payload { i }",
        sizes: { jobs, concurrency, enqueueCount, batchSize, warmupSingle: WARMUP, warmupBatches: WARMUP },
        drain: {
          timed: "from the run() call until the jobs table is empty",
          runStartMs: startedAt - start,
          lastTaskMs: lastTaskAt - start,
          emptyMs: emptyAt - start,
          stopMs,
          jobsPerSecond: (jobs / drain.totalMs) * 1000,
        },
        enqueue: "with no worker running, each call awaited before the next",
      },
    }
  } finally {
    const cleanup: Array<[string, () => Promise<unknown>]> = [
      ["stopping the runner", async () => runner?.stop()],
      ["releasing the worker utils", async () => utils?.release()],
      ["dropping the schema", () => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)],
      ["closing the connection", () => sql.end({ timeout: 5 })],
    ]
    for (const [what, step] of cleanup)
      try {
        await step()
      } catch (e) {
        log(`  graphile cleanup: ${what} failed: ${e instanceof Error ? e.message : String(e)}`)
      }
  }
}
