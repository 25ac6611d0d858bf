/**
 * The engine's side of queue dispatch: the DispatchHost a dispatcher (from `@durably/scheduler`) works
 * through, and the wiring that starts one dispatcher per factory with the queues this engine serves.
 */
import { Effect } from "effect"
import type { Dispatcher, DispatchHost, DispatcherFactory, QueueClaimOutcome, QueueDefinition } from "../queues.ts"
import type { Engine } from "./Engine.ts"
import { supersedes, type Runner } from "./takeovers.ts"
import { noteFailures } from "./orphans.ts"

export interface QueueDispatch {
  /** A workflow ended here (of `queue`, if queued): this process has room again. */
  readonly freed: (queue: string | undefined) => void
  readonly stop: () => Promise<void>
}

export const startDispatch = (engine: Engine, queues: ReadonlyArray<QueueDefinition>): QueueDispatch | undefined => {
  if (queues.length === 0) return undefined
  const freedListeners = new Set<(queue: string | undefined) => void>()
  const host: DispatchHost = {
    executorId: engine.executorId,
    log: engine.config.log,
    claim: (queue, max) => engine.claimQueued(queue, max),
    room: () => engine.room,
    subscribe: (queue, listener) => engine.store.subscribe({ kind: "queue", queue }, listener),
    now: () => engine.host.clock.currentTimeMillisUnsafe(),
    sleep: (ms, signal) => engine.host.runEffect(Effect.sleep(Math.max(0, ms)), signal),
    onFreed: (l) => {
      freedListeners.add(l)
      return () => freedListeners.delete(l)
    },
  }
  const groups = new Map<DispatcherFactory, QueueDefinition[]>()
  for (const q of queues) groups.set(q.dispatcher, [...(groups.get(q.dispatcher) ?? []), q])
  const dispatchers: Dispatcher[] = [...groups].map(([factory, qs]) => factory(host, qs))
  return {
    freed: (queue) => freedListeners.forEach((l) => l(queue)),
    stop: async () => {
      await Promise.all(dispatchers.map((d) => d.stop()))
    },
  }
}

/**
 * Claim up to `max` workflows of a queue (the store enforces its limits) and run them. A fresh workflow has
 * no history; one put back on its queue by a takeover (a recovery), resumed onto it or forked onto it has,
 * and it is loaded.
 */
export const claimQueued = async (runner: Runner, queue: string, max: number): Promise<QueueClaimOutcome> => {
  const { host, config, definitions } = runner
  if (!runner.running || max <= 0) return { started: 0 }
  const lost = { value: false }
  const claim = await host.storeCall(
    noteFailures(
      host.store.claimQueue({
        queue,
        executorId: config.executorId,
        max,
        names: [...definitions.keys()],
        appVersion: config.appVersion,
      }),
      lost,
    ),
  )
  await runner.claiming.hold(
    claim.claimed.map((r) => r.id),
    () =>
      Promise.all(
        claim.claimed.map(async (record) => {
          const def = definitions.get(record.name)
          if (!def || !supersedes(runner, record)) return
          const history =
            record.recoveryAttempts > 0 || (record.priorCheckpoints ?? 0) > 0
              ? await host.storeCall(host.store.loadCheckpoints(record.id))
              : []
          if (runner.running) runner.execute(def, record, history, "queue")
        }),
      ),
  )
  if (lost.value) runner.adoptOrphans()
  return {
    started: claim.claimed.length,
    ...(claim.retryAt === undefined ? {} : { retryAt: claim.retryAt }),
    ...(claim.waiting ? { waiting: true } : {}),
  }
}
