/**
 * Retention: the `retention` launch option prunes old finished workflows periodically, in bounded batches.
 * Every executor may run it; the store lets one prune at a time (an advisory lock on Postgres), so a fleet
 * does the work once per interval, not once per executor.
 */
import { Effect } from "effect"
import { prune } from "../management/api.ts"
import type { WorkflowStatus } from "../store/Store.ts"
import type { Host } from "./Host.ts"

export interface RetentionConfig {
  readonly olderThanMs: number
  readonly status: ReadonlyArray<WorkflowStatus>
  readonly intervalMs: number
  readonly batchSize: number
}

/** Start pruning every `intervalMs` (the first run one interval after launch); returns a stop function. */
export const startRetention = (host: Host, config: RetentionConfig): (() => void) => {
  const stop = new AbortController()
  const round = async () => {
    const deleted = await prune(
      { management: host.store.management, call: (e) => host.storeCall(e, stop.signal) },
      {
        before: host.clock.currentTimeMillisUnsafe() - config.olderThanMs,
        status: config.status,
        limit: config.batchSize,
        exclusive: true,
      },
    )
    if (deleted > 0)
      host.log({
        level: "info",
        message: `retention: deleted ${deleted} workflow(s) finished more than ${config.olderThanMs} ms ago`,
      })
  }
  void (async () => {
    for (;;) {
      try {
        await host.runEffect(Effect.sleep(config.intervalMs), stop.signal)
      } catch {
        return // stopped
      }
      try {
        await round()
      } catch (e) {
        if (!stop.signal.aborted) host.log({ level: "warn", message: `retention: pruning failed: ${String(e)}` })
      }
    }
  })()
  return () => stop.abort()
}
