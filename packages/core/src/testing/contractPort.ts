/** Contract cases for each Store port method, and races on one workflow. */
import assert from "node:assert/strict"
import type { Checkpoint, NewWorkflow } from "../store/Store.ts"
import { expectFenced, type ContractTest } from "./contract.ts"

const newWorkflow = (id: string, over: Partial<NewWorkflow> = {}): NewWorkflow => ({
  id,
  name: "wf",
  input: '{"n":1}',
  appVersion: "1.0.0",
  executorId: "exec-a",
  ...over,
})

const done = (stepId: number, over: Partial<Checkpoint> = {}): Checkpoint => ({
  stepId,
  name: `s${stepId}`,
  kind: "step",
  state: "done",
  seq: stepId,
  attempts: 1,
  output: `"out-${stepId}"`,
  startedAt: 1_000 + stepId,
  completedAt: 2_000 + stepId,
  ...over,
})

const claimOpts = { countRecovery: true, maxRecoveryAttempts: 10 }

export const portContract: Record<string, ContractTest> = {
  "createWorkflow creates a PENDING workflow owned by its executor at epoch 1": async ({ store, id, run }) => {
    const r = await run(store.createWorkflow(newWorkflow(id(), { deadline: 5_000_000 })))
    assert.equal(r._tag, "Created")
    assert.equal(r.record.status, "PENDING")
    assert.equal(r.record.epoch, 1)
    assert.equal(r.record.executorId, "exec-a")
    assert.equal(r.record.input, '{"n":1}')
    assert.equal(r.record.deadline, 5_000_000)
    assert.equal(r.record.recoveryAttempts, 0)
    assert.ok(r.record.createdAt > 0 && r.record.updatedAt >= r.record.createdAt)
  },

  "createWorkflow of an existing id returns it unchanged": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const again = await run(
      store.createWorkflow(newWorkflow(id(), { input: "2", name: "other", executorId: "exec-b" })),
    )
    assert.equal(again._tag, "Existing")
    assert.equal(again.record.input, '{"n":1}')
    assert.equal(again.record.name, "wf")
    assert.equal(again.record.executorId, "exec-a")
  },

  "concurrent creates of one id: exactly one is Created": async ({ store, id, run, another }) => {
    const other = await another()
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        run((i % 2 ? other : store).createWorkflow(newWorkflow(id(), { input: String(i) }))),
      ),
    )
    assert.equal(results.filter((r) => r._tag === "Created").length, 1)
    assert.equal(new Set(results.map((r) => r.record.input)).size, 1)
  },

  "claimWorkflow bumps the epoch, takes ownership and counts recoveries": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const c = await run(store.claimWorkflow(id(), "exec-b", claimOpts))
    assert.equal(c._tag, "Claimed")
    assert.equal(c.record?.epoch, 2)
    assert.equal(c.record?.executorId, "exec-b")
    assert.equal(c.record?.recoveryAttempts, 1)
    const again = await run(store.claimWorkflow(id(), "exec-b", { countRecovery: false, maxRecoveryAttempts: 10 }))
    assert.equal(again.record?.epoch, 3)
    assert.equal(again.record?.recoveryAttempts, 1)
    assert.equal((await run(store.claimWorkflow(id("absent"), "exec-b", claimOpts)))._tag, "NotClaimable")
  },

  "claimWorkflow past the recovery limit marks the workflow DEAD": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const opts = { countRecovery: true, maxRecoveryAttempts: 2 }
    assert.equal((await run(store.claimWorkflow(id(), "x", opts)))._tag, "Claimed")
    assert.equal((await run(store.claimWorkflow(id(), "x", opts)))._tag, "Claimed")
    const dead = await run(store.claimWorkflow(id(), "x", opts))
    assert.equal(dead._tag, "Dead")
    assert.equal(dead.record?.status, "DEAD")
    assert.equal((await run(store.getWorkflow(id())))?.status, "DEAD")
    assert.equal((await run(store.claimWorkflow(id(), "x", opts)))._tag, "NotClaimable")
  },

  "racing claims: epochs are distinct and only the last claimer can write": async ({ store, id, run, another }) => {
    const other = await another()
    await run(store.createWorkflow(newWorkflow(id())))
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) => run((i % 2 ? other : store).claimWorkflow(id(), `exec-${i}`, claimOpts))),
    )
    const epochs = claims.map((c) => c.record?.epoch ?? -1)
    assert.equal(new Set(epochs).size, 8)
    const last = Math.max(...epochs)
    for (const e of epochs.filter((e) => e !== last)) await expectFenced(run(store.writeCheckpoint(id(), e, done(0))))
    await run(store.writeCheckpoint(id(), last, done(0)))
  },

  "writeCheckpoint checks the epoch and status": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    await run(store.claimWorkflow(id(), "exec-a", claimOpts))
    await expectFenced(run(store.writeCheckpoint(id(), 1, done(0))))
    await run(store.writeCheckpoint(id(), 2, done(0)))
    await expectFenced(run(store.writeCheckpoint(id("absent"), 1, done(0))))
  },

  "recovery attempts count claims without progress and restart after progress": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    assert.equal((await run(store.claimWorkflow(id(), "x", claimOpts))).record?.recoveryAttempts, 1)
    assert.equal((await run(store.claimWorkflow(id(), "x", claimOpts))).record?.recoveryAttempts, 2)
    await run(store.writeCheckpoint(id(), 3, done(0)))
    assert.equal((await run(store.claimWorkflow(id(), "x", claimOpts))).record?.recoveryAttempts, 1)
    // a pending checkpoint replaced by another is not progress
    const pending: Checkpoint = {
      stepId: 1,
      name: "s1",
      kind: "step",
      state: "pending",
      attempts: 1,
      wakeAt: 5,
      startedAt: 1,
    }
    await run(store.writeCheckpoint(id(), 4, pending))
    assert.equal((await run(store.claimWorkflow(id(), "x", claimOpts))).record?.recoveryAttempts, 1)
    await run(store.writeCheckpoint(id(), 5, { ...pending, attempts: 2 }))
    assert.equal((await run(store.claimWorkflow(id(), "x", claimOpts))).record?.recoveryAttempts, 2)
  },

  "heartbeat reports another process's nonce on the same executor id": async ({ store, id, run }) => {
    const beat = { executorId: id("exec"), appVersion: "1", nonce: "n1", leaseMs: 10_000 }
    assert.deepEqual(await run(store.heartbeat(beat)), {})
    assert.deepEqual(await run(store.heartbeat(beat)), {})
    const other = await run(store.heartbeat({ ...beat, nonce: "n2" }))
    assert.equal(other.previousNonce, "n1")
    assert.ok(other.previousAgeMs !== undefined && other.previousAgeMs >= 0 && other.previousAgeMs < 10_000)
    await run(store.removeExecutor(id("exec"), "n1")) // not the current nonce: kept
    assert.equal((await run(store.heartbeat({ ...beat, nonce: "n2" }))).previousNonce, undefined)
  },

  "takeOver claims unowned, expired and (optionally) own workflows, of known names and version only": async ({
    store,
    id,
    run,
  }) => {
    const names = [id("name")]
    const mk = (suffix: string, over: Partial<NewWorkflow>) =>
      run(store.createWorkflow(newWorkflow(id(suffix), { name: names[0]!, ...over })))
    const live = id("live")
    const dead = id("dead")
    const me = id("me")
    await run(store.heartbeat({ executorId: live, appVersion: "1.0.0", nonce: "a", leaseMs: 60_000 }))
    await run(store.heartbeat({ executorId: dead, appVersion: "1.0.0", nonce: "b", leaseMs: 1 }))
    await mk("of-live", { executorId: live })
    await mk("of-dead", { executorId: dead })
    await mk("of-nobody", { executorId: dead })
    await run(store.releaseWorkflows(dead, [id("of-nobody")]))
    await mk("mine", { executorId: me })
    await mk("other-version", { executorId: dead, appVersion: "2.0.0" })
    await mk("other-name", { executorId: dead, name: id("unknown-name") })
    await new Promise((r) => setTimeout(r, 20))
    const opts = { appVersion: "1.0.0", names, limit: 100, maxRecoveryAttempts: 10 }
    const first = await run(store.takeOver(me, { ...opts, includeOwn: true, includeExpired: false }))
    assert.deepEqual(first.map((c) => c.record?.id).sort(), [id("mine"), id("of-nobody")].sort())
    const second = await run(store.takeOver(me, { ...opts, includeOwn: false, includeExpired: true }))
    assert.deepEqual(
      second.map((c) => c.record?.id),
      [id("of-dead")],
    )
    for (const c of [...first, ...second]) {
      assert.equal(c._tag, "Claimed")
      assert.equal(c.record?.executorId, me)
    }
    assert.equal((await run(store.takeOver(me, { ...opts, includeOwn: false, includeExpired: true }))).length, 0)
  },

  "racing takeOvers: each workflow has exactly one taker": async ({ store, id, run, another }) => {
    const other = await another()
    const name = id("name")
    for (let i = 0; i < 20; i++)
      await run(store.createWorkflow(newWorkflow(id(`w${i}`), { name, executorId: id("gone") })))
    await run(store.releaseWorkflows(id("gone")))
    const opts = {
      appVersion: "1.0.0",
      names: [name],
      limit: 7,
      includeOwn: false,
      includeExpired: true,
      maxRecoveryAttempts: 10,
    }
    for (let i = 0; i < 6; i++)
      await run(store.heartbeat({ executorId: id(`taker${i}`), appVersion: "1.0.0", nonce: "n", leaseMs: 60_000 }))
    const batches = await Promise.all(
      Array.from({ length: 6 }, (_, i) => run((i % 2 ? other : store).takeOver(id(`taker${i}`), opts))),
    )
    const ids = batches.flat().map((c) => c.record?.id)
    assert.equal(ids.length, 20)
    assert.equal(new Set(ids).size, 20)
    for (const b of batches) assert.ok(b.length <= 7)
  },

  "writeCheckpoint is idempotent: a second done write returns the first": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const first = await run(store.writeCheckpoint(id(), 1, done(0)))
    const second = await run(store.writeCheckpoint(id(), 1, done(0, { output: '"other"', seq: 7 })))
    assert.deepEqual(second, first)
    const all = await run(store.loadCheckpoints(id()))
    assert.equal(all.length, 1)
    assert.equal(all[0]?.output, '"out-0"')
  },

  "a pending checkpoint is replaced by a later pending or done one": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const pending: Checkpoint = {
      stepId: 0,
      name: "s0",
      kind: "step",
      state: "pending",
      attempts: 1,
      attemptErrors: '["e1"]',
      wakeAt: 9_000,
      startedAt: 1_000,
    }
    assert.deepEqual(await run(store.writeCheckpoint(id(), 1, pending)), pending)
    const pending2 = { ...pending, attempts: 2, attemptErrors: '["e1","e2"]', wakeAt: 12_000 }
    await run(store.writeCheckpoint(id(), 1, pending2))
    assert.deepEqual(await run(store.loadCheckpoints(id())), [pending2])
    const final = done(0, { attempts: 3, attemptErrors: '["e1","e2"]' })
    await run(store.writeCheckpoint(id(), 1, final))
    assert.deepEqual(await run(store.loadCheckpoints(id())), [final])
  },

  "loadCheckpoints returns every checkpoint in step order, fields intact": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const cps: Checkpoint[] = [
      done(2, { kind: "sleep", name: "sleep", output: "null", wakeAt: 99_000 }),
      done(0, { error: '{"message":"ünïcødé ✓"}', output: undefined as never }),
      done(1, { kind: "now", name: "now", output: '"' + "x".repeat(100_000) + '"' }),
    ].map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as Checkpoint)
    await Promise.all(cps.map((c) => run(store.writeCheckpoint(id(), 1, c))))
    const loaded = await run(store.loadCheckpoints(id()))
    assert.deepEqual(
      loaded.map((c) => c.stepId),
      [0, 1, 2],
    )
    assert.deepEqual(loaded, [cps[1], cps[2], cps[0]])
    assert.deepEqual(await run(store.loadCheckpoints(id("absent"))), [])
  },

  "completeWorkflow records the outcome once; afterwards checkpoints are refused": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    await expectFenced(run(store.completeWorkflow(id(), 7, { status: "SUCCESS", output: "1" })))
    const r = await run(store.completeWorkflow(id(), 1, { status: "SUCCESS", output: '"ok"' }))
    assert.equal(r.status, "SUCCESS")
    assert.equal(r.output, '"ok"')
    assert.ok(r.completedAt !== undefined)
    await expectFenced(run(store.writeCheckpoint(id(), 1, done(0))), "SUCCESS")
    // Completing again at the same epoch (a retry after an ambiguous commit) returns what stands.
    const again = await run(store.completeWorkflow(id(), 1, { status: "ERROR", error: "x" }))
    assert.equal(again.status, "SUCCESS")
    assert.equal(again.output, '"ok"')
    await run(store.createWorkflow(newWorkflow(id("e"))))
    const e = await run(store.completeWorkflow(id("e"), 1, { status: "ERROR", error: '"boom"' }))
    assert.equal(e.status, "ERROR")
    assert.equal(e.error, '"boom"')
  },

  "cancelWorkflow cancels unfinished workflows only": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const c = await run(store.cancelWorkflow(id(), "timeout"))
    assert.equal(c?.status, "CANCELLED")
    assert.equal(c?.cancelReason, "timeout")
    await expectFenced(run(store.writeCheckpoint(id(), 1, done(0))), "CANCELLED")
    await run(store.createWorkflow(newWorkflow(id("done"))))
    await run(store.completeWorkflow(id("done"), 1, { status: "SUCCESS", output: "1" }))
    assert.equal((await run(store.cancelWorkflow(id("done"), "cancelled")))?.status, "SUCCESS")
    assert.equal(await run(store.cancelWorkflow(id("absent"), "cancelled")), undefined)
  },

  "listWorkflows filters by ids, status, owner, no owner, name and limit": async ({ store, id, run }) => {
    const name = id("name")
    for (const [suffix, exec] of [
      ["a", "e1"],
      ["b", "e1"],
      ["c", "e2"],
    ] as const)
      await run(store.createWorkflow(newWorkflow(id(suffix), { name, executorId: exec })))
    await run(store.completeWorkflow(id("b"), 1, { status: "SUCCESS", output: "1" }))
    await run(store.releaseWorkflows("e2"))
    const ids = async (f: Parameters<typeof store.listWorkflows>[0]) =>
      (await run(store.listWorkflows({ name, ...f }))).map((r) => r.id).sort()
    assert.deepEqual(await ids({}), [id("a"), id("b"), id("c")])
    assert.deepEqual(await ids({ status: ["PENDING"] }), [id("a"), id("c")])
    assert.deepEqual(await ids({ status: ["PENDING"], executorId: "e1" }), [id("a")])
    assert.deepEqual(await ids({ executorId: null }), [id("c")])
    assert.equal((await ids({ limit: 2 })).length, 2)
    assert.deepEqual(await ids({ ids: [id("a"), id("c"), id("absent")] }), [id("a"), id("c")])
  },

  "releaseWorkflows lets go of the executor's PENDING workflows, all or some": async ({ store, id, run }) => {
    for (const s of ["a", "b", "c"]) await run(store.createWorkflow(newWorkflow(id(s), { executorId: id("exec") })))
    await run(store.createWorkflow(newWorkflow(id("other"), { executorId: id("other-exec") })))
    assert.equal(await run(store.releaseWorkflows(id("exec"), [id("a")])), 1)
    assert.equal((await run(store.getWorkflow(id("a"))))?.executorId, undefined)
    assert.equal((await run(store.getWorkflow(id("b"))))?.executorId, id("exec"))
    assert.equal(await run(store.releaseWorkflows(id("exec"))), 2)
    assert.equal((await run(store.getWorkflow(id("other"))))?.executorId, id("other-exec"))
  },

  "watch reports status changes until unsubscribed": async ({ store, id, run }) => {
    await run(store.createWorkflow(newWorkflow(id())))
    const seen: string[] = []
    let wake: () => void = () => undefined
    const unsubscribe = store.watch(id(), (status) => {
      seen.push(status)
      wake()
    })
    const next = () => new Promise<void>((r) => (wake = r))
    const cancelled = next()
    await run(store.cancelWorkflow(id(), "cancelled"))
    await Promise.race([
      cancelled,
      new Promise((_, reject) => setTimeout(() => reject(new Error("no notification within 5 s")), 5000)),
    ])
    assert.ok(seen.includes("CANCELLED"))
    unsubscribe()
  },
}
