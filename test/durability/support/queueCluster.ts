/**
 * The processes of a queue test: worker processes serving one queue (fixtures/queueWorker.ts), and the
 * test's own client engine that enqueues on it and serves nothing.
 */
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { spawnFixture, type FixtureProcess } from "./fixtureProcess.ts"
import {
  queueOf,
  taskForEnqueue,
  type QueueSpec,
  type QueueWorkerConfig,
  type QueueWorkerEvents,
} from "./queueProtocol.ts"

export type QueueWorker = FixtureProcess<QueueWorkerEvents> & { readonly executorId: string }

/** Heartbeat every 200 ms, lease 1 s, as the other failover tests: a killed worker's tasks move on soon. */
export const fastLease = { intervalMs: 200, leaseMs: 1000 } as const

export interface ClusterDb {
  readonly url: string
  readonly schema: string
  readonly ledgerTable: string
}

/** Start `count` workers on the queue, all at once, and wait until each has launched (and stored the queue). */
export const spawnQueueWorkers = async (db: ClusterDb, queue: QueueSpec, count: number): Promise<QueueWorker[]> => {
  const workers = Array.from({ length: count }, (_, i) => {
    const config: QueueWorkerConfig = {
      url: db.url,
      schema: db.schema,
      ledgerTable: db.ledgerTable,
      executorId: `${queue.name}-w${i}`,
      queue,
      heartbeat: fastLease,
    }
    return Object.assign(spawnFixture<QueueWorkerEvents>("queueWorker.ts", config, config.executorId), {
      executorId: config.executorId,
    })
  })
  await Promise.all(workers.map((w) => w.waitForEvent("READY", undefined, { timeoutMs: 30_000 })))
  return workers
}

/** SIGTERM every worker still running and check each shut down cleanly. */
export const stopQueueWorkers = async (workers: ReadonlyArray<QueueWorker>): Promise<void> => {
  const exits = await Promise.all(workers.map(async (w) => ({ w, killed: w.exited(), exit: await w.stop() })))
  const unclean = exits.filter(({ killed, exit }) => !killed && exit.code !== 0)
  if (unclean.length > 0)
    throw new Error(
      `workers did not shut down cleanly: ${unclean.map(({ w, exit }) => `${w.label} ${JSON.stringify(exit)}${w.tail()}`).join("\n")}`,
    )
}

/** Warnings and errors the workers logged, for failure messages and the test output. */
export const workerProblems = (workers: ReadonlyArray<QueueWorker>): string[] =>
  workers.flatMap((w) =>
    w
      .events("LOG")
      .filter((l) => l.level === "warn" || l.level === "error")
      .map((l) => `${w.label}: ${l.level} ${l.message}`),
  )

/**
 * The test's client: it knows the queue (the same settings as the workers, so its launch changes nothing),
 * enqueues, and never runs or recovers anything (no heartbeat, no recovery, serves no queue).
 */
export const launchClient = (db: ClusterDb, queue: QueueSpec) =>
  Durably.launch({
    store: postgresStore({ url: db.url, schema: db.schema, max: 2 }),
    workflows: [taskForEnqueue],
    queues: [queueOf(queue)],
    serveQueues: false,
    executorId: `${queue.name}-client`,
    appVersion: "durability-test",
    heartbeat: false,
    recover: false,
    logger: false,
  })
