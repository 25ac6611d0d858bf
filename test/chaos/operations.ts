/**
 * The workload kinds that operate on workflows from the driver while the faults go on: fork a finished
 * workflow from one of its steps, resume a cancelled or timed-out one, and debounce a burst of calls. Each
 * records what the checker must find (checkOperations.ts).
 */
import { between } from "../durability/support/prng.ts"
import type { KindContext, Planned } from "./kinds.ts"
import { limitedQueues } from "./limits.ts"
import type { DebouncedInput } from "./workflows.ts"

const open = limitedQueues.open
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Poll the workflow's status until `done` says so (a status read can fail while the database is down). */
const waitFor = async (c: KindContext, id: string, done: (status: string) => boolean) =>
  c.persist(`wait for ${id}`, async () => {
    for (;;) {
      const w = await c.durably.workflows.get(id)
      if (done(w.status)) return w.status
      await pause(200)
    }
  })

/**
 * A multi-step workflow, and once it succeeded a fork of it from step s_k onto the open queue: the fork reuses
 * s_0 … s_k-1 (their rows are the source's, and the fork runs none of them) and runs s_k … on its own.
 */
export const startFork = async (c: KindContext, id: string): Promise<Planned[]> => {
  const { durably, wf, random, persist } = c
  const n = between(random, 3, 4)
  const from = between(random, 1, n - 1)
  const steps = Array.from({ length: n }, (_, i) => `s${i}`)
  await persist(`enqueue ${id}`, () =>
    durably.enqueue(open, wf.steps, { steps: n, bodyMs: between(random, 10, 100) }, { id }),
  )
  const forkId = `${id}.fork`
  const fork = { sourceId: id, from, forkedAtMs: undefined as number | undefined }
  c.track(
    (async () => {
      await waitFor(c, id, (s) => s === "SUCCESS")
      await persist(`fork ${id}`, async () => {
        // An earlier attempt may have committed before its answer was lost: the fork is there already.
        const existing = await durably.workflows.get(forkId).catch(() => undefined)
        if (existing === undefined)
          await durably.workflows.fork(id, { fromStep: `s${from}`, id: forkId, queue: open.name })
      })
      fork.forkedAtMs = Date.now()
    })(),
  )
  return [
    { id, kind: "fork", expect: "SUCCESS", steps },
    { id: forkId, kind: "forked", expect: "SUCCESS", steps: steps.slice(from), fork },
  ]
}

/**
 * A workflow that cannot finish until it is resumed: cancelled by the driver, or timed out by its own
 * deadline, while it waits; then resumed (back on its queue) and sent "go".
 */
export const startResume = async (c: KindContext, id: string): Promise<Planned> => {
  const { durably, wf, random, persist } = c
  const how = random() < 0.5 ? ("cancel" as const) : ("timeout" as const)
  const timeoutMs = between(random, 200, 1500)
  await persist(`enqueue ${id}`, () =>
    durably.enqueue(
      open,
      wf.resumable,
      { bodyMs: between(random, 10, 100) },
      { id, ...(how === "timeout" ? { timeout: `${timeoutMs} millis` } : {}) },
    ),
  )
  const resume = { how, resumedAtMs: undefined as number | undefined }
  c.track(
    (async () => {
      if (how === "cancel") {
        await pause(between(random, 100, 2000))
        await persist(`cancel ${id}`, () => durably.cancel(id))
      }
      await waitFor(c, id, (s) => s === "CANCELLED")
      await persist(`resume ${id}`, async () => {
        // An earlier attempt may have resumed it before its answer was lost.
        if ((await durably.workflows.get(id)).status === "CANCELLED") await durably.workflows.resume(id)
      })
      resume.resumedAtMs = Date.now()
      await persist(`send go to ${id}`, () => durably.send(id, "go", "go", { idempotencyKey: `${id}:go` }))
    })(),
  )
  return { id, kind: "resume", expect: "SUCCESS", steps: ["r0", "r1"], resume }
}

/**
 * A burst of debounce calls with one key, each sooner after the last than the delay: one run with the last
 * call's input, unless a fault delayed a call past the delay (the run had started: the call begins a new burst).
 * Resolves with one plan per run the calls were told of.
 */
export const startDebounce = async (c: KindContext, id: string): Promise<Planned[]> => {
  const { durably, wf, random, persist } = c
  const delayMs = between(random, 300, 800)
  const calls = between(random, 2, 5)
  const returned: string[] = []
  const answeredAtMs: number[] = []
  let retried = false
  for (let call = 0; call < calls; call++) {
    let attempts = 0
    const input: DebouncedInput = { key: id, call }
    const h = await persist(`debounce ${id} #${call}`, () => {
      attempts++
      return durably.debounce(wf.debounced, id, input, { delay: `${delayMs} millis` })
    })
    if (attempts > 1) retried = true
    answeredAtMs.push(Date.now())
    returned.push(h.id)
    await pause(between(random, 0, Math.floor(delayMs / 3)))
  }
  const runs = [...new Set(returned)]
  return runs.map((runId) => ({
    id: runId,
    kind: "debounce",
    expect: "SUCCESS",
    steps: ["d0"],
    debounce: { key: id, returned, answeredAtMs, last: returned.lastIndexOf(runId), retried },
  }))
}
