/**
 * A soak worker process: Durably on the soak's Postgres with every workflow and queue of the workload, its
 * step bodies writing the ledger over their own connections. Its connections are named `chaos-worker`, so
 * the fault loop can kill exactly those. SIGTERM shuts it down gracefully; the soak SIGKILLs and SIGSTOPs it.
 *
 *   node --conditions=@durably/source worker.ts '<WorkerConfig as JSON>'
 */
import postgres from "postgres"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { readConfig, stopOnSigterm } from "../durability/fixtures/lifecycle.ts"
import { say } from "../durability/fixtures/say.ts"
import { workerLedger } from "./ledger.ts"
import { limitedQueues } from "./limits.ts"
import type { WorkerConfig, WorkerEvents } from "./protocol.ts"
import { chaosWorkflows, tickSchedule } from "./workflows.ts"

const config = readConfig<WorkerConfig>()
const emit = <T extends keyof WorkerEvents>(tag: T, data: WorkerEvents[T]) => say<WorkerEvents, T>(tag, data)

const named = `${config.url}?application_name=chaos-worker`
// The ledger sends no arrays: no array-type fetch on connect, whose failure (a connection the fault loop kills
// then) the driver leaves unhandled, which would kill this worker (see packages/postgres/src/arrayTypes.ts).
const sql = postgres(named, { max: 3, onnotice: () => undefined, fetch_types: false })
const workflows = chaosWorkflows(workerLedger(sql, config.executorId))

const durably = await Durably.launch({
  store: postgresStore({ url: named, max: 4, pollInterval: 500 }),
  workflows: Object.values(workflows),
  queues: Object.values(limitedQueues),
  schedules: [tickSchedule],
  executorId: config.executorId,
  appVersion: "chaos",
  heartbeat: { interval: config.heartbeat.intervalMs, lease: config.heartbeat.leaseMs },
  logger: (entry) => {
    if (entry.level === "error" || entry.level === "warn")
      emit("LOG", {
        level: entry.level,
        message: entry.message,
        ...(entry.workflowId === undefined ? {} : { workflowId: entry.workflowId }),
      })
  },
})
emit("READY", { pid: process.pid, executorId: config.executorId })
stopOnSigterm(
  durably,
  () => emit("STOPPED", { pid: process.pid }),
  () => sql.end({ timeout: 1 }),
)
