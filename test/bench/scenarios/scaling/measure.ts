/**
 * One drain of the scaling scenario: `jobs` one-step workflows pre-enqueued on a fresh schema (by a client
 * engine that serves no queue, shut down before the drain), drained by `workers` separate worker processes
 * (./worker.ts), each serving the queue with `workerConcurrency` (a per-process limit, so total concurrency
 * grows with the processes, as adding machines would) and the store's and engine's defaults (pool of 10,
 * NOTIFY on, heartbeats on).
 *
 * The processes are started and have loaded their code before the clock starts; the time runs from the
 * `go` sent to all of them (each then calls `Durably.launch`, inside the timed drain as in ../queue) until
 * no workflow of the schema is ENQUEUED or PENDING. Progress is counted in the workers (their step bodies,
 * reported every 50 ms over IPC, no statement); once every step ran, one connection polls a count every
 * millisecond for the last completions. During the drain, pg_stat_activity is sampled 10 times a second and
 * the machine's CPU is read from /proc (machine, all of the Postgres server, this process; the workers
 * report their own).
 */
import { fileURLToPath } from "node:url"
import { Durably, uuidv7 } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { benchSchema, type Series } from "../../harness.ts"
import {
  attribute,
  connect,
  measureWal,
  dropSchema,
  measureCpu,
  pause,
  pollUntil,
  quietLogger,
  sampleWaits,
  spawnChild,
  statusCounts,
  within,
  type Child,
  type CpuUse,
  type Waits,
  type WalUse,
} from "./support.ts"
import type { ScalingWorkerConfig } from "./worker.ts"
import { benchQueue, oneStep } from "./workflow.ts"

const workerScript = fileURLToPath(new URL("./worker.ts", import.meta.url))

export interface DrainOptions {
  readonly jobs: number
  readonly workers: number
  readonly workerConcurrency: number
  readonly log: (line: string) => void
}

export interface WorkerStats {
  readonly ran: number
  readonly cpuMs: number
  readonly elu: number
  readonly launchedMs: number
}

export interface DrainMeasure {
  readonly drain: Series
  readonly waits: Waits
  readonly cpu: CpuUse
  /**
   * Server-wide WAL flushes and this database's committed transactions (read-only ones too), from just
   * before `go` until the workers have exited (divided by the drain's time: what the drain caused, plus
   * the workers' shutdowns and others' load).
   */
  readonly wal: WalUse | undefined
  readonly workers: ReadonlyArray<WorkerStats>
  readonly details: Record<string, unknown>
}

export const measureDrain = async (url: string, o: DrainOptions): Promise<DrainMeasure> => {
  const { jobs, workers, workerConcurrency, log } = o
  const schema = benchSchema()
  const sql = connect(url, 1)
  const launched: Durably[] = []
  const children: Child[] = []
  let waits: ReturnType<typeof sampleWaits> | undefined
  try {
    // Enqueue with a client that serves nothing, and shut it down.
    const client = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [oneStep],
      queues: [benchQueue(workerConcurrency)],
      serveQueues: false,
      executorId: `bench-enqueuer-${uuidv7()}`,
      appVersion: "bench",
      heartbeat: false,
      recover: false,
      logger: quietLogger,
    })
    launched.push(client)
    for (let from = 0; from < jobs; from += 500)
      await client.enqueueMany(
        benchQueue(workerConcurrency),
        oneStep,
        Array.from({ length: Math.min(500, jobs - from) }, (_, k) => ({ i: from + k })),
      )
    launched.pop()
    await client.shutdown()
    const before = await statusCounts(sql, schema)
    if (before["ENQUEUED"] !== jobs) throw new Error(`expected ${jobs} ENQUEUED, found ${JSON.stringify(before)}`)

    // The worker processes, loaded and waiting for `go`.
    for (let w = 0; w < workers; w++) {
      const config: ScalingWorkerConfig = {
        url,
        schema,
        executorId: `bench-scaling-${w}-${uuidv7()}`,
        workerConcurrency,
      }
      children.push(spawnChild(workerScript, config))
    }
    await Promise.all(children.map((c) => c.next("ready", 60_000)))

    waits = sampleWaits(url, schema)
    const wal = await measureWal(sql)
    const cpu = measureCpu()
    const t0 = performance.now()
    const launchedAt: number[] = children.map(() => Number.NaN)
    for (const c of children) c.send({ type: "go" })
    const launches = Promise.all(
      children.map((c, k) => c.next("launched", 60_000).then(() => (launchedAt[k] = performance.now() - t0))),
    )
    const ranSum = () => children.reduce((a, c) => a + Number(c.last("progress")?.["ran"] ?? 0), 0)
    const deadline = 60_000 + jobs * 20
    await pollUntil(deadline, 5, `draining ${jobs} workflows with ${workers} worker(s)`, async () => {
      for (const c of children) if (!c.alive()) throw new Error(`worker ${c.pid} exited during the drain`)
      const ran = ranSum()
      return ran >= jobs ? true : `${ran} of ${jobs} steps run`
    })
    const unfinished = `SELECT count(*)::int AS n FROM "${schema}".workflows WHERE status IN ('ENQUEUED', 'PENDING')`
    const doneAt = await within(
      60_000,
      "the last completions",
      (async () => {
        for (;;) {
          const [row] = await sql.unsafe<{ n: number }[]>(unfinished, [], { prepare: true })
          if (row?.n === 0) return performance.now()
          await pause(1)
        }
      })(),
    )
    const cpuSample = cpu.stop()
    const waited = await waits.stop()
    const cpuUse = attribute(cpuSample, waited.pids)
    await launches
    const stats = await Promise.all(
      children.map(async (c, k): Promise<WorkerStats> => {
        const from = c.messages.length
        c.send({ type: "exit" })
        const s = await c.next("stats", 30_000, from)
        return { ran: Number(s["ran"]), cpuMs: Number(s["cpuMs"]), elu: Number(s["elu"]), launchedMs: launchedAt[k]! }
      }),
    )
    await Promise.all(children.map((c) => c.stop(20_000)))
    // Read once the workers' connections have closed: a backend reports its counters when it exits (while
    // it is idle, only some seconds later).
    const walUse = await wal.stop()
    const after = await statusCounts(sql, schema)
    if (after["SUCCESS"] !== jobs) throw new Error(`after the drain: ${JSON.stringify(after)}, not ${jobs} SUCCESS`)
    const totalMs = doneAt - t0
    const ranTotal = stats.reduce((a, s) => a + s.ran, 0)
    log(
      `  ${workers} worker(s): ${jobs} in ${totalMs.toFixed(0)} ms (${((jobs / totalMs) * 1000).toFixed(0)}/s); steps per worker ${stats.map((s) => s.ran).join("/")}` +
        `${ranTotal > jobs ? ` (${ranTotal - jobs} run twice)` : ""}; launches ${stats.map((s) => s.launchedMs.toFixed(0)).join("/")} ms; ` +
        `${walUse ? `WAL flushes ${((walUse.syncs / totalMs) * 1000).toFixed(0)}/s, transactions ${((walUse.commits / totalMs) * 1000).toFixed(0)}/s; ` : ""}CPU cores: machine ${cpuUse.machineCores?.toFixed(2) ?? "?"}, postgres ${cpuUse.postgresCores?.toFixed(2) ?? "?"} (our backends ${cpuUse.backendCores?.toFixed(2) ?? "?"}), workers ${stats.map((s) => (s.cpuMs / totalMs).toFixed(2)).join("+")}`,
    )
    return {
      drain: { label: `${workers} worker process(es)`, ops: jobs, totalMs, perOpMs: totalMs / jobs },
      waits: waited,
      cpu: cpuUse,
      wal: walUse,
      workers: stats,
      details: {
        schema,
        jobs,
        workers,
        workerConcurrency,
        totalMs,
        workflowsPerSecond: (jobs / totalMs) * 1000,
        workerStats: stats,
        cpu: cpuUse,
        wal: walUse,
        waits: waited,
        statuses: after,
      },
    }
  } finally {
    await waits?.stop().catch(() => undefined)
    await Promise.all(children.map((c) => c.kill()))
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  cleanup: shutdown failed: ${String(e)}`))
    await dropSchema(sql, schema, log)
    await sql.end({ timeout: 5 })
  }
}
