/** Chain worker processes under test (fixtures/worker.ts, fixtures/embeddedWorker.ts), on support/fixtureProcess.ts. */
import { killAllFixtures, spawnFixture, type FixtureProcess } from "./fixtureProcess.ts"
import type { EmbeddedWorkerConfig, Events, WorkerConfig } from "./protocol.ts"

export type { Exit } from "./fixtureProcess.ts"

export type Worker<C extends { readonly executorId: string } = WorkerConfig> = FixtureProcess<Events> & {
  readonly config: C
}

const spawnScript = <C extends { readonly executorId: string }>(script: string, config: C): Worker<C> => ({
  ...spawnFixture<Events>(script, config, `worker ${config.executorId}`, (line) => line.startsWith("BEAT ")),
  config,
})

/** A worker process on Postgres (fixtures/worker.ts). */
export const spawnWorker = (config: WorkerConfig): Worker => spawnScript("worker.ts", config)

/** A worker process on the embedded store (fixtures/embeddedWorker.ts). */
export const spawnEmbeddedWorker = (config: EmbeddedWorkerConfig): Worker<EmbeddedWorkerConfig> =>
  spawnScript("embeddedWorker.ts", config)

/** SIGKILL every worker this test process started that is still running (after a failure). */
export const killAllWorkers = killAllFixtures
