/** What both per-step rows share: the workflow, its step result (the reference payload), sizes, launching. */
import { defineWorkflow, Durably, jsonSerializer, uuidv7, type LogSink, type Store } from "@durably/core"

export const STEPS = 10

/** What every step returns; the reference INSERT stores exactly its serialized text. */
const stepResult = {
  orderId: "ord_01JBX6Q8W7ZK3M",
  amount: 4200,
  currency: "EUR",
  status: "charged",
  note: "x".repeat(64),
}
export const payload = jsonSerializer.encode(stepResult)

export const tenSteps = defineWorkflow("bench-ten-steps", async (ctx, n: number) => {
  for (let i = 0; i < STEPS; i++) await ctx.step(`step-${i}`, () => stepResult)
  return n
})

export interface Sizes {
  readonly rounds: number
  readonly workflowsPerRound: number
  readonly warmupWorkflows: number
}

export const sizes = (quick: boolean): Sizes =>
  quick
    ? { rounds: 2, workflowsPerRound: 10, warmupWorkflows: 5 }
    : { rounds: 20, workflowsPerRound: 10, warmupWorkflows: 20 }

/** Warnings and errors only: the engine must not print per workflow while it is timed. */
export const quietLogger: LogSink = (entry) => {
  if (entry.level === "warn" || entry.level === "error") console.error(`[durably ${entry.level}] ${entry.message}`)
}

export const launch = (store: Store) =>
  Durably.launch({
    store,
    workflows: [tenSteps],
    executorId: `bench-${uuidv7()}`,
    appVersion: "bench",
    logger: quietLogger,
  })

/** Client CPU (user + system) milliseconds that `fn` used, added to `into.ms`. */
export const withCpu = async (into: { ms: number }, fn: () => Promise<void>) => {
  const before = process.cpuUsage()
  await fn()
  const used = process.cpuUsage(before)
  into.ms += (used.user + used.system) / 1000
}
