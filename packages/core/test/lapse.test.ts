/**
 * A lapse of the lease (the process paused or cut off past it) and what may run after it: no step body
 * starts on an executor that has lost its workflow, including an execution created from a store answer that
 * arrived after the workflow was taken over (a create whose reply came late).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore, StoreError, type LogEntry, type Store } from "../src/index.ts"

const heartbeat = { interval: 20, lease: 150 }

const until = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached")
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe("a lapse of the lease", () => {
  it("an execution created from a create answered after a takeover never starts its step: the zombie is stopped", async () => {
    const shared = memoryStore()
    let frozen = false
    let beats = 0
    let holdCreates = false
    let created!: () => void
    const createCommitted = new Promise<void>((r) => (created = r))
    let answer!: () => void
    const answered = new Promise<void>((r) => (answer = r))
    // Process A: its heartbeats fail while frozen; a create's answer reaches it only when the test says so.
    const a: Store = {
      ...shared,
      heartbeat: (beat) =>
        frozen
          ? Effect.fail(new StoreError({ operation: "heartbeat", cause: new Error("frozen"), retryable: true }))
          : Effect.tap(shared.heartbeat(beat), () => Effect.sync(() => void beats++)),
      createWorkflow: (init) =>
        Effect.tap(shared.createWorkflow(init), () =>
          holdCreates
            ? Effect.promise(async () => {
                created()
                await answered
              })
            : Effect.void,
        ),
      close: () => Effect.void,
    }
    const b: Store = { ...shared, close: () => Effect.void }
    const bodies: string[] = []
    const wf = defineWorkflow("lapse-child", async (ctx) => {
      await ctx.step("side effect", () => void bodies.push(ctx.workflowId))
      return "done"
    })
    const logsA: LogEntry[] = []
    const ea = await Durably.launch({
      store: a,
      workflows: [wf],
      executorId: "a",
      heartbeat,
      logger: (e) => logsA.push(e),
    })
    const eb = await Durably.launch({ store: b, workflows: [wf], executorId: "b", heartbeat, logger: false })
    try {
      holdCreates = true
      const starting = ea.start(wf, undefined, { id: "late-reply" })
      await createCommitted
      // A falls silent; B takes the workflow over and finishes it.
      frozen = true
      expect(await eb.handle("late-reply").result()).toBe("done")
      expect(bodies).toEqual(["late-reply"])
      // A wakes: its heartbeat succeeds after the lapse, and only then does the create's answer arrive.
      const beatsBefore = beats
      frozen = false
      // The lapse was handled (its check found nothing of A's running) when the first beat after it returned.
      await until(() => beats >= beatsBefore + 2)
      answer()
      await starting
      // A's execution either ran its step again (the bug) or was stopped as fenced before it.
      const stopped = () =>
        logsA.some(
          (e) => e.workflowId === "late-reply" && /fenced|moved on|stopp/i.test(`${e.message} ${JSON.stringify(e)}`),
        )
      await until(() => bodies.length > 1 || stopped())
      expect(bodies).toEqual(["late-reply"])
    } finally {
      answer()
      await ea.shutdown()
      await eb.shutdown()
    }
  })

  it("a process stalled after the gate opened and before the body began waits for a new heartbeat", async () => {
    const shared = memoryStore()
    // When the last heartbeat that succeeded was sent: the store counts the lease from about then.
    let lastBeatSent = Date.now()
    const store: Store = {
      ...shared,
      heartbeat: (beat) => {
        const sent = Date.now()
        return Effect.tap(shared.heartbeat(beat), () => Effect.sync(() => void (lastBeatSent = sent)))
      },
      close: () => Effect.void,
    }
    const sinceBeat: number[] = []
    const wf = defineWorkflow("stalled-before-body", async (ctx) => {
      await ctx.step("side effect", () => void sinceBeat.push(Date.now() - lastBeatSent))
      return "done"
    })
    // The observer of the attempt runs after the gate opened and before the body: blocking the event loop
    // there past the lease is a process stopped in that window (SIGSTOP, a long GC pause).
    const stall = heartbeat.lease + 100
    const engine = await Durably.launch({
      store,
      workflows: [wf],
      executorId: "stalled",
      heartbeat,
      logger: false,
      observers: [
        {
          execution: () => ({
            operation: (op) => {
              if (op.attempt === 1) {
                const end = Date.now() + stall
                while (Date.now() < end);
              }
              return undefined
            },
            end: () => undefined,
          }),
        },
      ],
    })
    try {
      expect(await (await engine.start(wf, undefined)).result()).toBe("done")
      // Before the fix the body began at once, a whole stall after the last beat, with the lease lapsed.
      expect(sinceBeat).toHaveLength(1)
      expect(sinceBeat[0]!).toBeLessThanOrEqual(heartbeat.lease)
    } finally {
      await engine.shutdown()
    }
  })
})
