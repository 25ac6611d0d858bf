/**
 * A lapse of the lease (the process paused or cut off past it) and what may run after it: no step body
 * starts on an executor that has lost its workflow, including an execution created from a store answer that
 * arrived after the workflow was taken over (a create whose reply came late), and one whose heartbeat reached
 * the store only after its lease had run out (a beat held in flight).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore, StoreError, type LogEntry, type Store } from "../src/index.ts"
import { until } from "../src/testing/until.ts"

const heartbeat = { interval: 20, lease: 150 }

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
      await until(() => beats >= beatsBefore + 2, "two heartbeats after the lapse")
      answer()
      await starting
      // A's execution either ran its step again (the bug) or was stopped as fenced before it.
      const stopped = () =>
        logsA.some(
          (e) => e.workflowId === "late-reply" && /fenced|moved on|stopp/i.test(`${e.message} ${JSON.stringify(e)}`),
        )
      await until(() => bodies.length > 1 || stopped(), "the late execution to step or stop")
      expect(bodies).toEqual(["late-reply"])
    } finally {
      answer()
      await ea.shutdown()
      await eb.shutdown()
    }
  })

  it("a heartbeat that reached the store after the lease ran out is a lapse: the workflow taken meanwhile takes no step here", async () => {
    const shared = memoryStore()
    // A's lease lapses between two of its beats only if a beat is late: its interval is most of the lease.
    const slowBeat = { interval: 1_000, lease: 1_200 }
    let beats = 0
    let holdNext = false
    let sent = false
    let arrive!: () => void
    const arrived = new Promise<void>((r) => (arrive = r))
    // Process A: the beat after `holdNext` is sent, then held on its way (a stalled connection) and reaches
    // the store only when the test says so, within the beat's timeout (the lease) counted from its sending.
    const a: Store = {
      ...shared,
      heartbeat: (beat) =>
        Effect.tap(
          holdNext
            ? Effect.andThen(
                Effect.promise(async () => {
                  holdNext = false
                  sent = true
                  await arrived
                }),
                shared.heartbeat(beat),
              )
            : shared.heartbeat(beat),
          () => Effect.sync(() => void beats++),
        ),
      close: () => Effect.void,
    }
    const b: Store = { ...shared, close: () => Effect.void }
    const bodies: string[] = []
    const wf = (executor: string) =>
      defineWorkflow("lapse-late-beat", async (ctx) => {
        // The first attempt fails; the retry is due after A's lease ran out, so it waits at the gate until a beat
        // succeeds. Nothing is written between the two attempts: only the gate stands before the second.
        await ctx.step(
          "side effect",
          () => {
            bodies.push(executor)
            if (bodies.length === 1) throw new Error("first attempt fails")
          },
          { retry: { maxAttempts: 2, initialDelay: slowBeat.lease + 100 } },
        )
        return executor
      })
    const [wfA, wfB] = [wf("a"), wf("b")]
    const logsA: LogEntry[] = []
    const ea = await Durably.launch({
      store: a,
      workflows: [wfA],
      executorId: "late-a",
      heartbeat: slowBeat,
      logger: (e) => logsA.push(e),
    })
    const eb = await Durably.launch({ store: b, workflows: [wfB], executorId: "late-b", heartbeat, logger: false })
    try {
      // Right after one of A's beats, so the next one is a whole interval away and its timeout further still.
      const beatsBefore = beats
      await until(() => beats > beatsBefore, "a heartbeat of A")
      holdNext = true
      const h = await ea.start(wfA, undefined, { id: "late-beat" })
      await until(() => sent, "A's next heartbeat to be sent")
      // A's lease runs out while its beat is on the way; B takes the workflow over.
      await until(
        async () => (await Effect.runPromise(shared.getWorkflow(h.id)))?.executorId === "late-b",
        "B to take the workflow over",
      )
      // The beat arrives and is answered within its timeout: A is healthy again, the workflow is B's.
      arrive()
      expect(await eb.handle(h.id).result()).toBe("b")
      await until(
        () => bodies.filter((on) => on === "a").length > 1 || logsA.some((e) => /moved on/.test(e.message)),
        "A's execution to retry its step or be stopped",
      )
      // Dated by when it was sent, the beat looked fresh (sent within the lease of the previous one): no lapse,
      // and A began the retry on a workflow it no longer owned.
      expect(bodies).toEqual(["a", "b"])
    } finally {
      arrive()
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
  it("a check after a lapse that never answers does not stop the heartbeats: the next beat checks again and the workflow goes on", async () => {
    const shared = memoryStore()
    let frozen = false
    let failedBeats = 0
    let hangNextList = false
    let hung = 0
    // A cut-off process: its heartbeats fail while frozen; after it, the first read of its workflows never
    // answers (a statement lost on a connection the outage broke).
    const store: Store = {
      ...shared,
      heartbeat: (beat) =>
        frozen
          ? Effect.fail(new StoreError({ operation: "heartbeat", cause: new Error("cut off"), retryable: true })).pipe(
              Effect.tapError(() => Effect.sync(() => void failedBeats++)),
            )
          : shared.heartbeat(beat),
      listWorkflows: (filter) => {
        if (!hangNextList) return shared.listWorkflows(filter)
        hangNextList = false
        hung++
        return Effect.never
      },
      close: () => Effect.void,
    }
    const attempts: number[] = []
    const wf = defineWorkflow("lapse-unanswered-check", async (ctx) => {
      // The first attempt fails; the retry is due after the outage, so it must pass the gate after the lapse.
      await ctx.step(
        "side effect",
        (info) => {
          attempts.push(info.attempt)
          if (info.attempt === 1) throw new Error("first attempt fails")
        },
        { retry: { maxAttempts: 2, initialDelay: heartbeat.lease * 2 } },
      )
      return "done"
    })
    const engine = await Durably.launch({ store, workflows: [wf], executorId: "unanswered", heartbeat, logger: false })
    try {
      const h = await engine.start(wf, undefined)
      await until(() => attempts.length === 1, "the first attempt")
      frozen = true
      hangNextList = true
      // Silent for longer than the lease: the next successful beat is a lapse.
      await until(() => failedBeats * heartbeat.interval > heartbeat.lease * 1.5, "the lease to lapse")
      frozen = false
      // Before the fix the heartbeat loop waited on the unanswered check forever, so the gate never reopened.
      expect(await h.result()).toBe("done")
      expect(hung).toBe(1)
      expect(attempts).toEqual([1, 2])
    } finally {
      await engine.shutdown()
    }
  })
})
