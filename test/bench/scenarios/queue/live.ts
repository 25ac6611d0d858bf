/**
 * The drain as users run it: the worker is already running when the work arrives, and the process that
 * enqueues it may await every result (the indexing pipeline: enqueue one task per URL, then gather what each
 * returned). The pre-filled drain in ./durably.ts and ./graphile.ts starts a worker on a full queue, which
 * lets it claim a hundred at a time from the first poll; here the claims follow the enqueues, and waiting for
 * results costs what it costs.
 *
 * Both sides, in one process, each with its own pools: the worker (Durably engine serving the queue at
 * `workerConcurrency: concurrency` / graphile runner at `concurrency`) is launched and idle before the clock
 * starts; the enqueuer (a Durably client engine serving no queue / graphile's WorkerUtils) then adds `jobs` in
 * calls of `batchSize` (`enqueueMany` / `addJobs`), each call awaited before the next. The time runs from the
 * first enqueue until:
 *
 * - `awaiting: false`: the last one finished (Durably: nothing of the queue ENQUEUED or PENDING; graphile: its
 *   jobs table empty), polled every millisecond on a connection of our own once every body has run here;
 * - `awaiting: true` (Durably only; graphile-worker has no result to await): every `handle.result()` the
 *   enqueuer asked for, as soon as each call returned its handles, has resolved with the step's value.
 */
import { randomBytes } from "node:crypto"
import { Logger, makeWorkerUtils, run, type AddJobsJobSpec, type Runner, type WorkerUtils } from "graphile-worker"
import { defineWorkflow, Durably, uuidv7, type WorkflowHandle } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { defineQueue } from "@durably/scheduler"
import { benchSchema, type Series } from "../../harness.ts"
import { connect, pause, quietLogger, within } from "../scaling/support.ts"

export interface LiveOptions {
  readonly jobs: number
  readonly concurrency: number
  readonly batchSize: number
  readonly log: (line: string) => void
}

export interface LiveMeasure {
  readonly drain: Series
  readonly details: Record<string, unknown>
}

const QUEUE = "bench-live"
const TASK = "bench_noop"

const series = (label: string, ops: number, totalMs: number): Series => ({
  label,
  ops,
  totalMs,
  perOpMs: totalMs / ops,
})

/** Resolves (with the instant) once `jobs` distinct inputs ran here. */
const counter = (jobs: number) => {
  const ran = new Set<number>()
  let resolveAll: (at: number) => void = () => undefined
  const allRan = new Promise<number>((resolve) => (resolveAll = resolve))
  const saw = (i: number) => {
    ran.add(i)
    if (ran.size === jobs) resolveAll(performance.now())
  }
  return { allRan, saw, ran }
}

/** Poll `query` on a connection of our own every millisecond until it counts 0. */
const untilZero = async (sql: ReturnType<typeof connect>, query: string, params: string[]) => {
  for (;;) {
    const [row] = await sql.unsafe<{ n: number }[]>(query, params, { prepare: true })
    if (row?.n === 0) return performance.now()
    await pause(1)
  }
}

export const measureDurablyLive = async (
  url: string,
  options: LiveOptions & { readonly awaiting: boolean; readonly sameEngine?: boolean },
): Promise<LiveMeasure> => {
  const { jobs, concurrency, batchSize, awaiting, log } = options
  const schema = benchSchema()
  const sql = connect(url)
  const launched: Durably[] = []
  try {
    const count = counter(jobs)
    const task = defineWorkflow("bench-live", async (ctx, input: { i: number }) =>
      ctx.step("work", () => {
        count.saw(input.i)
        return input.i
      }),
    )
    const queue = defineQueue(QUEUE, { workerConcurrency: concurrency })
    const worker = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [task],
      queues: [queue],
      executorId: `bench-live-worker-${uuidv7()}`,
      appVersion: "bench",
      logger: quietLogger,
    })
    launched.push(worker)
    const enqueuer = options.sameEngine
      ? worker
      : await Durably.launch({
          store: postgresStore({ url, schema }),
          workflows: [task],
          queues: [queue],
          serveQueues: false,
          executorId: `bench-live-enqueuer-${uuidv7()}`,
          appVersion: "bench",
          heartbeat: false,
          recover: false,
          logger: quietLogger,
        })
    launched.push(enqueuer)
    // Untimed: the first statements of each pool (connections, plans) fall outside the clock.
    await Promise.all((await enqueuer.enqueueMany(queue, task, [{ i: -1 }])).map((h) => h.result()))

    const results: Array<Promise<number>> = []
    const start = performance.now()
    for (let done = 0; done < jobs; done += batchSize) {
      const inputs = Array.from({ length: Math.min(batchSize, jobs - done) }, (_, k) => ({ i: done + k }))
      const handles: ReadonlyArray<WorkflowHandle<number>> =
        batchSize === 1
          ? [await enqueuer.enqueue(queue, task, inputs[0]!)]
          : await enqueuer.enqueueMany(queue, task, inputs)
      if (awaiting) for (const h of handles) results.push(h.result())
    }
    const enqueuedAt = performance.now()
    const deadlineMs = 60_000 + jobs * 20
    const lastStepAt = await within(deadlineMs, `running ${jobs} workflows`, count.allRan)
    let doneAt: number
    if (awaiting) {
      const values = await within(deadlineMs, "every result", Promise.all(results))
      doneAt = performance.now()
      const wrong = values.filter((v, i) => v !== i).length
      if (wrong > 0) throw new Error(`${wrong} results were not their input's`)
    } else
      doneAt = await within(
        deadlineMs,
        "the last completions",
        untilZero(
          sql,
          `SELECT (SELECT count(*) FROM "${schema}".workflows WHERE queue = $1 AND status = 'ENQUEUED')::int +
            (SELECT count(*) FROM "${schema}".workflows WHERE queue = $1 AND status = 'PENDING')::int AS n`,
          [QUEUE],
        ),
      )
    const [row] = await sql.unsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "${schema}".workflows WHERE queue = $1 AND status = 'SUCCESS'`,
      [QUEUE],
    )
    if (row?.n !== jobs + 1) throw new Error(`after the drain: ${row?.n} SUCCESS, not ${jobs + 1}`)
    const drain = series(
      `durably, live${awaiting ? ", awaiting results" : ""} (workerConcurrency ${concurrency})`,
      jobs,
      doneAt - start,
    )
    log(
      `  durably live${awaiting ? " awaiting" : ""}: ${jobs} in ${drain.totalMs.toFixed(0)} ms (${((jobs / drain.totalMs) * 1000).toFixed(0)}/s), ` +
        `enqueued by ${(enqueuedAt - start).toFixed(0)} ms, last step ${(lastStepAt - start).toFixed(0)} ms`,
    )
    return {
      drain,
      details: {
        schema,
        awaiting,
        enqueuedMs: enqueuedAt - start,
        lastStepMs: lastStepAt - start,
        doneMs: doneAt - start,
        perSecond: (jobs / drain.totalMs) * 1000,
      },
    }
  } finally {
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  durably live cleanup: ${String(e)}`))
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 5 })
  }
}

const graphileQuiet = new Logger(() => () => undefined)

export const measureGraphileLive = async (url: string, options: LiveOptions): Promise<LiveMeasure> => {
  const { jobs, concurrency, batchSize, log } = options
  const schema = `gw_live_${randomBytes(5).toString("hex")}`
  const sql = connect(url)
  let utils: WorkerUtils | undefined
  let runner: Runner | undefined
  try {
    utils = await makeWorkerUtils({ connectionString: url, schema, logger: graphileQuiet })
    const count = counter(jobs)
    runner = await run({
      connectionString: url,
      schema,
      concurrency,
      noHandleSignals: true,
      logger: graphileQuiet,
      taskList: { [TASK]: (payload) => count.saw((payload as { i: number }).i) },
    })
    const stopped = runner.promise.then(() => {
      throw new Error("the graphile-worker runner stopped before the queue was drained")
    })
    stopped.catch(() => undefined)
    // Untimed warm-up of the enqueuing pool.
    await utils.addJobs([{ identifier: TASK, payload: { i: -1 } }])
    await within(30_000, "the warm-up job", untilZero(sql, `SELECT count(*)::int AS n FROM "${schema}".jobs`, []))

    const start = performance.now()
    for (let done = 0; done < jobs; done += batchSize) {
      const specs: AddJobsJobSpec[] = Array.from({ length: Math.min(batchSize, jobs - done) }, (_, k) => ({
        identifier: TASK,
        payload: { i: done + k },
      }))
      if (batchSize === 1) await utils.addJob(TASK, specs[0]!.payload)
      else await utils.addJobs(specs)
    }
    const enqueuedAt = performance.now()
    const deadlineMs = 60_000 + jobs * 20
    const lastTaskAt = await within(deadlineMs, `running ${jobs} jobs`, Promise.race([count.allRan, stopped]))
    const doneAt = await within(
      deadlineMs,
      "the last job deletions",
      untilZero(sql, `SELECT count(*)::int AS n FROM "${schema}".jobs`, []),
    )
    const drain = series(`graphile-worker, live (concurrency ${concurrency})`, jobs, doneAt - start)
    log(
      `  graphile live: ${jobs} in ${drain.totalMs.toFixed(0)} ms (${((jobs / drain.totalMs) * 1000).toFixed(0)}/s), ` +
        `enqueued by ${(enqueuedAt - start).toFixed(0)} ms, last task ${(lastTaskAt - start).toFixed(0)} ms`,
    )
    return {
      drain,
      details: {
        schema,
        enqueuedMs: enqueuedAt - start,
        lastTaskMs: lastTaskAt - start,
        doneMs: doneAt - start,
        perSecond: (jobs / drain.totalMs) * 1000,
      },
    }
  } finally {
    await runner?.stop().catch((e: unknown) => log(`  graphile live cleanup: ${String(e)}`))
    await Promise.resolve(utils?.release()).catch(() => undefined)
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 5 })
  }
}
