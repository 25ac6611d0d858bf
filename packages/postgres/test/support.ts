/** Small helpers for the SQL-level store tests: stores on one schema, workflows, checkpoints. */
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import type { Checkpoint, OperationKind, Store } from "@durably/core"
import { postgresStore, type PostgresStoreOptions } from "../src/index.ts"

export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** The failure of an effect (fails the test if it succeeded). */
export const failure = async <A, E>(effect: Effect.Effect<A, E>): Promise<E> => Effect.runPromise(Effect.flip(effect))

/** Stores on one schema, each its own pool (as separate processes would have); all closed by `closeAll`. */
export const storesOn = (url: string, schema: string) => {
  const open: Store[] = []
  return {
    store: (options: Omit<PostgresStoreOptions, "url" | "schema"> = {}) => {
      const s = postgresStore({ url, schema, max: 4, ...options })
      open.push(s)
      return s
    },
    closeAll: async () => {
      for (const s of open.splice(0)) await run(s.close())
    },
  }
}

/** A fresh PENDING workflow owned by `executor` at epoch 1; returns its id. */
export const newWorkflow = async (store: Store, prefix = "wf", executor = "exec-a"): Promise<string> => {
  const id = `${prefix}-${randomUUID()}`
  await run(store.createWorkflow({ id, name: "wf", input: "null", appVersion: "1", executorId: executor }))
  return id
}

/** A done checkpoint of kind `kind` at `stepId`. */
export const done = (stepId: number, kind: OperationKind, over: Partial<Checkpoint> = {}): Checkpoint => ({
  stepId,
  name: `${kind}-${stepId}`,
  kind,
  state: "done",
  seq: stepId,
  attempts: 1,
  startedAt: 1_000 + stepId,
  completedAt: 2_000 + stepId,
  ...over,
})

/** Resolves when `listener` is called, or rejects after `ms`. */
export const woken = (subscribe: (listener: () => void) => () => void, ms = 10_000) => {
  let unsubscribe: () => void = () => undefined
  let timer: NodeJS.Timeout | undefined
  const promise = new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`not woken within ${ms} ms`)), ms)
    unsubscribe = subscribe(() => resolve(performance.now()))
  }).finally(() => {
    clearTimeout(timer)
    unsubscribe()
  })
  return promise
}

/** Wait until `check` holds, polling every 20 ms, for at most `ms`. */
export const until = async (check: () => Promise<boolean>, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
