/**
 * The workload kinds, as the driver starts and observes them. Every top-level workflow is enqueued (so any
 * worker may run it, and a dead worker's work goes back to its queue); what the driver itself does (send,
 * read a stream, cancel) happens from this other process while workers run. Each kind records what the
 * checker must find at the end.
 */
import type { Durably } from "@durably/core"
import { between } from "../durability/support/prng.ts"
import { limitedQueueNames, limitedQueues, type LimitedQueue } from "./limits.ts"
import { startDebounce, startFork, startResume } from "./operations.ts"
import { STREAM, TOPIC, type ChaosWorkflows, type Received } from "./workflows.ts"

export type KindName =
  | "steps"
  | "tx"
  | "messages"
  | "publisher"
  | "parent"
  | "cancel-waiter"
  | "cancel-race"
  | "task"
  | "fork"
  | "resume"
  | "debounce"

/** What the end state must be: the status of the workflow and of everything it started. */
export type Expect = "SUCCESS" | "CANCELLED" | "SUCCESS_OR_CANCELLED"

export interface Planned {
  readonly id: string
  /** The kind that planned it ("forked": the fork a "fork" made of its workflow). */
  readonly kind: KindName | "forked"
  readonly expect: Expect
  /** Steps of its ledger: each must have run and be checkpointed when it succeeds. */
  readonly steps?: ReadonlyArray<string>
  readonly txSteps?: number
  readonly queue?: LimitedQueue
  readonly partition?: string
  /** Messages: what was sent to this receiver, per sender, in send order. */
  readonly sent?: Map<string, number[]>
  /** Streams: what the driver's reader saw, and how often it had to resume after an error. */
  readonly read?: { values: unknown[]; resumes: number; done: boolean }
  readonly values?: number
  /** A fork: of which workflow, from which step index (s_from), and when the driver's fork call returned. */
  readonly fork?: { readonly sourceId: string; readonly from: number; readonly forkedAtMs: number | undefined }
  /** Resumed after a cancellation by the driver or a timeout; when the resume call returned. */
  readonly resume?: { readonly how: "cancel" | "timeout"; readonly resumedAtMs: number | undefined }
  /**
   * A debounced run: its key, the run id each call of the burst was given (in call order), the last call that
   * joined this run, and whether a call was retried (its first attempt may have started a run nobody heard of).
   */
  readonly debounce?: {
    readonly key: string
    readonly returned: ReadonlyArray<string>
    /** When each call's answer came (driver clock). */
    readonly answeredAtMs: ReadonlyArray<number>
    readonly last: number
    readonly retried: boolean
  }
}

export interface KindContext {
  readonly durably: Durably
  readonly wf: ChaosWorkflows
  readonly random: () => number
  /** Runs `action` until it succeeds (a driver call can fail while the database is down), or gives up. */
  readonly persist: <A>(what: string, action: () => Promise<A>) => Promise<A>
  /** Keep this background activity (a reader, a sender) until the soak ends. */
  readonly track: (p: Promise<unknown>) => void
}

const open = limitedQueues.open
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The mix: a kind picked with these weights at each start. */
const weights: ReadonlyArray<readonly [KindName, number]> = [
  ["steps", 3],
  ["tx", 2],
  ["messages", 2],
  ["publisher", 2],
  ["parent", 2],
  ["cancel-waiter", 1],
  ["cancel-race", 1],
  ["task", 5],
  ["fork", 1],
  ["resume", 1],
  ["debounce", 1],
]
const totalWeight = weights.reduce((a, [, w]) => a + w, 0)

export const pickKind = (random: () => number): KindName => {
  let r = random() * totalWeight
  for (const [kind, w] of weights) if ((r -= w) < 0) return kind
  return "steps"
}

/** Start a workflow of `kind` (a burst of them for tasks); resolves once enqueued (observers keep running). */
export const startKind = async (c: KindContext, kind: KindName, id: string): Promise<Planned | Planned[]> => {
  const { durably, wf, random, persist } = c
  switch (kind) {
    case "steps": {
      const n = between(random, 2, 4)
      const failFirst = random() < 0.5 ? between(random, 0, n - 1) : undefined
      const sleepMs = random() < 0.5 ? between(random, 100, 2000) : undefined
      await persist(`enqueue ${id}`, () =>
        durably.enqueue(
          open,
          wf.steps,
          {
            steps: n,
            bodyMs: between(random, 10, 150),
            ...(failFirst === undefined ? {} : { failFirst }),
            ...(sleepMs === undefined ? {} : { sleepMs }),
          },
          { id },
        ),
      )
      return { id, kind, expect: "SUCCESS", steps: Array.from({ length: n }, (_, i) => `s${i}`) }
    }
    case "tx": {
      const n = between(random, 1, 3)
      await persist(`enqueue ${id}`, () => durably.enqueue(open, wf.tx, { steps: n }, { id }))
      return { id, kind, expect: "SUCCESS", txSteps: n }
    }
    case "messages": {
      const fromDriver = between(random, 1, 3)
      const fromWorkflow = between(random, 1, 3)
      const senderId = `${id}.sender`
      const sent = new Map<string, number[]>([
        ["driver", []],
        [senderId, Array.from({ length: fromWorkflow }, (_, i) => i)],
      ])
      const expect = fromDriver + fromWorkflow
      await persist(`enqueue ${id}`, () => durably.enqueue(open, wf.receiver, { expect }, { id }))
      await persist(`enqueue ${senderId}`, () =>
        durably.enqueue(open, wf.sender, { to: id, count: fromWorkflow }, { id: senderId }),
      )
      c.track(
        (async () => {
          for (let i = 0; i < fromDriver; i++) {
            const message: Received = { from: "driver", i }
            // Twice with one idempotency key: delivered once.
            for (let dup = 0; dup < 2; dup++)
              await persist(`send ${id} #${i}`, () =>
                durably.send(id, TOPIC, message, { idempotencyKey: `${id}:driver:${i}` }),
              )
            sent.get("driver")!.push(i)
            await pause(between(random, 0, 200))
          }
        })(),
      )
      return { id, kind, expect: "SUCCESS", sent }
    }
    case "publisher": {
      const values = between(random, 3, 10)
      await persist(`enqueue ${id}`, () => durably.enqueue(open, wf.publisher, { values }, { id }))
      const read = { values: [] as unknown[], resumes: 0, done: false }
      c.track(
        (async () => {
          // A reader in another process: resumes from where it was after an error (the database went away).
          for (;;)
            try {
              for await (const v of durably.readStream(id, STREAM, { from: read.values.length })) read.values.push(v)
              read.done = true
              return
            } catch {
              read.resumes++
              await pause(200)
            }
        })(),
      )
      return { id, kind, expect: "SUCCESS", read, values }
    }
    case "parent":
      await persist(`enqueue ${id}`, () =>
        durably.enqueue(open, wf.parent, { bodyMs: between(random, 10, 100) }, { id }),
      )
      return { id, kind, expect: "SUCCESS" }
    case "cancel-waiter": {
      await persist(`enqueue ${id}`, () =>
        durably.enqueue(open, wf.waiter, { bodyMs: between(random, 10, 100) }, { id }),
      )
      const after = between(random, 100, 3000)
      c.track(pause(after).then(() => persist(`cancel ${id}`, () => durably.cancel(id))))
      return { id, kind, expect: "CANCELLED" }
    }
    case "cancel-race": {
      const n = between(random, 2, 4)
      await persist(`enqueue ${id}`, () =>
        durably.enqueue(open, wf.steps, { steps: n, bodyMs: between(random, 10, 150) }, { id }),
      )
      const after = between(random, 0, 1000)
      c.track(pause(after).then(() => persist(`cancel ${id}`, () => durably.cancel(id))))
      return { id, kind, expect: "SUCCESS_OR_CANCELLED", steps: Array.from({ length: n }, (_, i) => `s${i}`) }
    }
    case "fork":
      return startFork(c, id)
    case "resume":
      return startResume(c, id)
    case "debounce":
      return startDebounce(c, id)
    case "task": {
      // A burst on one queue, so that its limit is actually pressed.
      const queue = limitedQueueNames[Math.floor(random() * limitedQueueNames.length)]!
      const burst: Planned[] = []
      for (let k = 0; k < between(random, 2, 6); k++) {
        const taskId = `${id}.${k}`
        const partition = queue === "partitioned" ? `p${between(random, 0, 3)}` : undefined
        await persist(`enqueue ${taskId}`, () =>
          durably.enqueue(
            limitedQueues[queue],
            wf.task,
            { bodyMs: between(random, 30, 200), ...(partition === undefined ? {} : { partition }) },
            { id: taskId, ...(partition === undefined ? {} : { partitionKey: partition }) },
          ),
        )
        burst.push({
          id: taskId,
          kind,
          expect: "SUCCESS",
          steps: ["q0", "q1"],
          queue,
          ...(partition === undefined ? {} : { partition }),
        })
      }
      return burst
    }
  }
}
