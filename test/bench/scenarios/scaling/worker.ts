/**
 * One worker process of the scaling scenario. It loads everything, says `ready`, and on `go` launches an
 * engine on the bench's schema that serves the bench queue (`workerConcurrency` per process; store and engine
 * defaults otherwise), counting the step bodies it runs. It reports `progress` every 50 ms; on `exit` it
 * reports its CPU time and shuts down.
 *
 *   node --conditions=@durably/source worker.ts '{"url":…,"schema":…,"executorId":…,"workerConcurrency":…}'
 */
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { childSide, quietLogger } from "./support.ts"
import { benchQueue, hooks, oneStep } from "./workflow.ts"

export interface ScalingWorkerConfig {
  readonly url: string
  readonly schema: string
  readonly executorId: string
  readonly workerConcurrency: number
}

const { config, say, on } = childSide<ScalingWorkerConfig>()

let ran = 0
hooks.onStep = () => void ran++
let durably: Durably | undefined
let cpuAtGo: NodeJS.CpuUsage | undefined
let eluAtGo: ReturnType<typeof performance.eventLoopUtilization> | undefined

on("go", async () => {
  cpuAtGo = process.cpuUsage()
  eluAtGo = performance.eventLoopUtilization()
  durably = await Durably.launch({
    store: postgresStore({ url: config.url, schema: config.schema }),
    workflows: [oneStep],
    queues: [benchQueue(config.workerConcurrency)],
    executorId: config.executorId,
    appVersion: "bench",
    logger: quietLogger,
  })
  say({ type: "launched" })
})
on("exit", async () => {
  const cpu = process.cpuUsage(cpuAtGo)
  const elu = performance.eventLoopUtilization(eluAtGo)
  say({ type: "stats", ran, cpuMs: (cpu.user + cpu.system) / 1000, elu: elu.utilization })
  await durably?.shutdown()
  process.exit(0)
})
setInterval(() => say({ type: "progress", ran }), 50)
say({ type: "ready" })
