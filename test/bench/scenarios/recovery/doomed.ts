/**
 * The executor that dies. It launches on the bench's schema with its own executor id, starts `n` workflows
 * (even `i`: hang in step "second"; odd `i`: wait in `ctx.recv`), reports how far they got, and waits to be
 * SIGKILLed by the bench: nothing is released, its lease simply stops being renewed.
 *
 *   node --conditions=@durably/source doomed.ts '{"url":…,"schema":…,"n":…,"executorId":…,"heartbeat":{"interval":ms,"lease":ms},"window":…}'
 */
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { childSide, quietLogger } from "../scaling/support.ts"
import { hooks, idOf, recovering } from "./workflow.ts"

export interface DoomedConfig {
  readonly url: string
  readonly schema: string
  readonly n: number
  readonly executorId: string
  readonly heartbeat: { readonly interval: number; readonly lease: number }
  /** Starts in flight at once. */
  readonly window: number
}

const { config, say } = childSide<DoomedConfig>()

let hanging = 0
hooks.blockSecond = true
hooks.onSecond = () => void hanging++

const durably = await Durably.launch({
  store: postgresStore({ url: config.url, schema: config.schema }),
  workflows: [recovering],
  executorId: config.executorId,
  appVersion: "bench",
  heartbeat: config.heartbeat,
  logger: quietLogger,
})
say({ type: "launched" })
const start = performance.now()
for (let from = 0; from < config.n; from += config.window) {
  const batch = Array.from({ length: Math.min(config.window, config.n - from) }, (_, k) => from + k)
  await Promise.all(
    batch.map((i) => durably.start(recovering, { i, wait: i % 2 === 0 ? "step" : "recv" }, { id: idOf(i) })),
  )
}
say({ type: "started", ms: performance.now() - start })
const report = () => say({ type: "progress", hanging, ms: performance.now() - start })
setInterval(report, 100)
report()
