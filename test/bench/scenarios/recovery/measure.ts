/**
 * One recovery measurement and its reference, each on a fresh schema of its own.
 *
 * Recovery: a child process (./doomed.ts, executor A) starts `n` workflows and reports; the bench waits until
 * the database shows every workflow's step "first" done and every recv's pending checkpoint written, and the
 * child says every step "second" body has been entered (and hangs) — then SIGKILLs it. It checks that all
 * `n` are PENDING and owned by A, and sends the recv half their message (a client engine that runs nothing;
 * untimed). Then a fresh engine (executor B, same appVersion and heartbeat settings) is launched in this
 * process, and the clock runs until no workflow is PENDING. The hooks of ./workflow.ts say when each
 * workflow was resumed here (the workflow function began: claimed and its checkpoints loaded), so the time
 * to the first takeover and the takeover rounds are read off in-process, with no extra statement.
 *
 * Reference: the same workflow, all `n` through the step path (step, step, step: no message needed), started
 * on a fresh engine with the same settings in this process (`durably.start`, `window` calls in flight) and
 * timed from the first start until no workflow is PENDING: how fast the same worker runs them normally.
 */
import { fileURLToPath } from "node:url"
import { Durably, uuidv7 } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { benchSchema, type Series } from "../../harness.ts"
import {
  attribute,
  connect,
  describeWaits,
  dropSchema,
  fmtCores,
  measureCpu,
  pollUntil,
  quietLogger,
  sampleWaits,
  spawnChild,
  statusCounts,
  within,
  type Child,
  type CpuUse,
  type Sql,
  type Waits,
} from "../scaling/support.ts"
import type { DoomedConfig } from "./doomed.ts"
import { GO, hooks, idOf, recovering } from "./workflow.ts"

const doomedScript = fileURLToPath(new URL("./doomed.ts", import.meta.url))

export interface Heartbeat {
  readonly interval: number
  readonly lease: number
}

export interface RecoveryOptions {
  readonly n: number
  readonly heartbeat: Heartbeat
  /** `durably.start` calls in flight at once, in the doomed process and in the reference. */
  readonly window: number
  readonly log: (line: string) => void
}

export interface Round {
  readonly size: number
  /** Since the recovering engine's launch call: first and last workflow resumed, last one's step "third". */
  readonly firstMs: number
  readonly lastMs: number
  readonly doneMs: number
}

export interface RecoveryMeasure {
  /** From the first workflow resumed until none is PENDING. */
  readonly drain: Series
  readonly launchMs: number
  /** Since the launch call: the first workflow resumed here (lease expired, grace over, claimed, loaded). */
  readonly firstTakeoverMs: number
  /** Since the launch call: when the dead executor's lease ran out (its last heartbeat + lease; DB clock). */
  readonly leaseExpiredMs: number
  readonly totalMs: number
  readonly rounds: ReadonlyArray<Round>
  readonly setupMs: number
  readonly waits: Waits
  readonly cpu: CpuUse
  readonly details: Record<string, unknown>
}

const series = (label: string, ops: number, totalMs: number): Series => ({
  label,
  ops,
  totalMs,
  perOpMs: totalMs / ops,
})

/** In-process observation of the engine's workflows through the hooks. */
const observe = (n: number, onFirstBegin: () => void = () => undefined) => {
  const begins: Array<{ i: number; at: number }> = []
  const thirdAt = new Map<number, number>()
  let resolveAll: (at: number) => void = () => undefined
  const allThird = new Promise<number>((resolve) => (resolveAll = resolve))
  hooks.blockSecond = false
  hooks.onBegin = (i) => {
    if (begins.length === 0) onFirstBegin()
    begins.push({ i, at: performance.now() })
  }
  hooks.onSecond = () => undefined
  hooks.onThird = (i) => {
    if (thirdAt.has(i)) return
    const at = performance.now()
    thirdAt.set(i, at)
    if (thirdAt.size === n) resolveAll(at)
  }
  return {
    begins,
    thirdAt,
    allThird,
    reset: () => {
      hooks.onBegin = () => undefined
      hooks.onThird = () => undefined
    },
  }
}

const pendingCount = (sql: Sql, schema: string) => async () => {
  const [row] = await sql.unsafe<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM "${schema}".workflows WHERE status = 'PENDING'`,
    [],
    { prepare: true },
  )
  return row?.n ?? -1
}

/** Poll (every 2 ms) until no workflow of the schema is PENDING; the instant it saw none. */
const untilNonePending = async (sql: Sql, schema: string, ms: number) => {
  const count = pendingCount(sql, schema)
  return within(
    ms,
    "the last completions",
    (async () => {
      for (;;) {
        if ((await count()) === 0) return performance.now()
        await new Promise((r) => setTimeout(r, 2))
      }
    })(),
  )
}

/** Split resumptions into takeover rounds: a gap of more than `gapMs` starts a new round. */
const roundsOf = (
  begins: ReadonlyArray<{ i: number; at: number }>,
  thirdAt: ReadonlyMap<number, number>,
  t0: number,
  gapMs: number,
): Round[] => {
  const sorted = [...begins].sort((a, b) => a.at - b.at)
  const rounds: Array<{ members: number[]; first: number; last: number }> = []
  for (const b of sorted) {
    const current = rounds.at(-1)
    if (current && b.at - current.last <= gapMs) {
      current.members.push(b.i)
      current.last = b.at
    } else rounds.push({ members: [b.i], first: b.at, last: b.at })
  }
  return rounds.map((r) => ({
    size: r.members.length,
    firstMs: r.first - t0,
    lastMs: r.last - t0,
    doneMs: Math.max(...r.members.map((i) => thirdAt.get(i) ?? Number.NaN)) - t0,
  }))
}

export const describeRounds = (rounds: ReadonlyArray<Round>): string => {
  if (rounds.length === 0) return "no rounds"
  const sizes = new Map<number, number>()
  for (const r of rounds) sizes.set(r.size, (sizes.get(r.size) ?? 0) + 1)
  const gaps = rounds.slice(1).map((r, k) => r.firstMs - rounds[k]!.firstMs)
  const busy = rounds.map((r) => r.doneMs - r.firstMs)
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN)
  return (
    `${rounds.length} takeover round(s) of ${[...sizes].map(([s, k]) => `${s}${k > 1 ? `×${k}` : ""}`).join(", ")} workflows` +
    (gaps.length ? `, one every ${avg(gaps).toFixed(0)} ms (min ${Math.min(...gaps).toFixed(0)})` : "") +
    `; a round takes ${avg(busy).toFixed(0)} ms on average from its first resumption to its last step "third" ` +
    `(max ${Math.max(...busy).toFixed(0)}), resumptions spread over ${avg(rounds.map((r) => r.lastMs - r.firstMs)).toFixed(0)} ms`
  )
}

export const measureRecovery = async (url: string, o: RecoveryOptions): Promise<RecoveryMeasure> => {
  const { n, heartbeat, window, log } = o
  if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new Error("measureRecovery: n must be an even integer ≥ 2")
  const nStep = n / 2
  const nRecv = n / 2
  const schema = benchSchema()
  const sql = connect(url, 2)
  const doomedId = `bench-doomed-${uuidv7()}`
  const launched: Durably[] = []
  let child: Child | undefined
  let waits: ReturnType<typeof sampleWaits> | undefined
  // CPU and the backends' waits are sampled over the drain: from the first takeover on.
  let cpu: ReturnType<typeof measureCpu> | undefined
  const seen = observe(n, () => {
    cpu = measureCpu()
    waits = sampleWaits(url, schema)
  })
  try {
    // The executor that dies.
    const setupStart = performance.now()
    const config: DoomedConfig = { url, schema, n, executorId: doomedId, heartbeat, window }
    child = spawnChild(doomedScript, config)
    await child.next("launched", 60_000)
    const started = await child.next("started", 60_000 + n * 20)
    const doomed = child
    await pollUntil(60_000 + n * 10, 50, `workflows of the doomed executor to reach step 2`, async () => {
      const [row] = await sql.unsafe<{ first: number; recv: number; later: number }[]>(
        `SELECT count(*) FILTER (WHERE step_id = 0 AND state = 'done')::int AS first,
                count(*) FILTER (WHERE step_id = 1 AND kind = 'recv' AND state = 'pending')::int AS recv,
                count(*) FILTER (WHERE step_id > 1 OR (step_id = 1 AND state = 'done'))::int AS later
           FROM "${schema}".steps`,
      )
      const hanging = Number(doomed.last("progress")?.["hanging"] ?? 0)
      if (row?.later) throw new Error(`${row.later} checkpoints past step 2 before the kill: the setup is wrong`)
      if (row?.first === n && row.recv === nRecv && hanging === nStep) return true
      return `step "first" done ${row?.first}/${n}, recv waiting ${row?.recv}/${nRecv}, step "second" bodies hanging ${hanging}/${nStep}`
    })
    await child.kill()
    const setupMs = performance.now() - setupStart
    const killedAt = Date.now()
    const [owned] = await sql.unsafe<{ owned: number; all: number }[]>(
      `SELECT count(*) FILTER (WHERE status = 'PENDING' AND executor_id = $1)::int AS owned, count(*)::int AS all
         FROM "${schema}".workflows`,
      [doomedId],
    )
    if (owned?.owned !== n || owned.all !== n)
      throw new Error(
        `after the kill: ${owned?.owned} of ${owned?.all} workflows PENDING on the dead executor, not ${n}`,
      )
    log(
      `  doomed executor (pid ${child.pid}): ${n} started in ${Number(started["ms"]).toFixed(0)} ms, all in step 2 after ${setupMs.toFixed(0)} ms; SIGKILLed`,
    )

    // The recv half's messages arrive while nobody runs them (untimed).
    const sendStart = performance.now()
    const sender = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [recovering],
      executorId: `bench-sender-${uuidv7()}`,
      appVersion: "bench",
      heartbeat: false,
      recover: false,
      logger: quietLogger,
    })
    launched.push(sender)
    const recvIds = Array.from({ length: nRecv }, (_, k) => 2 * k + 1)
    for (let from = 0; from < recvIds.length; from += 100)
      await Promise.all(recvIds.slice(from, from + 100).map((i) => sender.send(idOf(i), GO, i)))
    launched.pop()
    await sender.shutdown()
    const sendMs = performance.now() - sendStart

    const [lease] = await sql.unsafe<{ expires: number }[]>(
      `SELECT (extract(epoch FROM heartbeat_at) * 1000 + lease_ms)::float8 AS expires FROM "${schema}".executors WHERE id = $1`,
      [doomedId],
    )
    if (lease === undefined) throw new Error("the dead executor has no heartbeat row")

    // The recovering engine: launched here, timed until nothing is PENDING.
    const wall0 = Date.now()
    const t0 = performance.now()
    const worker = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [recovering],
      executorId: `bench-recoverer-${uuidv7()}`,
      appVersion: "bench",
      heartbeat,
      logger: quietLogger,
    })
    launched.push(worker)
    const launchMs = performance.now() - t0
    const deadline = 60_000 + heartbeat.lease * 2 + Math.ceil(n / 500 + 5) * (heartbeat.interval + 5_000)
    await within(deadline, `recovering ${n} workflows`, seen.allThird)
    const doneAt = await untilNonePending(sql, schema, 60_000)
    const cpuSample = cpu!.stop()
    const waited = await waits!.stop()
    const cpuUse = attribute(cpuSample, waited.pids)
    // A sample of results, through the engine that ran them.
    for (const i of [0, 1, n - 2, n - 1]) {
      const result = await within(10_000, `result of ${idOf(i)}`, worker.handle<number>(idOf(i)).result())
      if (result !== 2 * i) throw new Error(`${idOf(i)} returned ${result}, not ${2 * i}`)
    }
    launched.pop()
    await worker.shutdown()
    const after = await statusCounts(sql, schema)
    if (after["SUCCESS"] !== n) throw new Error(`after recovery: ${JSON.stringify(after)}, not ${n} SUCCESS`)

    const firstBegin = Math.min(...seen.begins.map((b) => b.at))
    const resumed = new Map<number, number>()
    for (const b of seen.begins) resumed.set(b.i, (resumed.get(b.i) ?? 0) + 1)
    const resumedTwice = [...resumed.values()].filter((k) => k > 1).length
    const rounds = roundsOf(seen.begins, seen.thirdAt, t0, Math.max(50, heartbeat.interval * 0.4))
    const drainMs = doneAt - firstBegin
    const measure: RecoveryMeasure = {
      drain: series(`recovery drain after 1st takeover (hb ${heartbeat.interval}/${heartbeat.lease} ms)`, n, drainMs),
      launchMs,
      firstTakeoverMs: firstBegin - t0,
      leaseExpiredMs: lease.expires - wall0,
      totalMs: doneAt - t0,
      rounds,
      setupMs,
      waits: waited,
      cpu: cpuUse,
      details: {
        schema,
        n,
        heartbeat,
        workflow:
          'step "first"; then step "second" (even i; its body hung in the dead process) or ctx.recv("go", { timeout: "1 hour" }) (odd i; the message was sent after the kill); then step "third"',
        setupMs,
        startMs: started["ms"],
        sendMs,
        killedToLaunchMs: wall0 - killedAt,
        launchMs,
        firstTakeoverMs: firstBegin - t0,
        leaseExpiredMs: lease.expires - wall0,
        drainMs,
        totalMs: doneAt - t0,
        workflowsPerSecond: (n / drainMs) * 1000,
        resumedTwice,
        rounds,
        cpu: cpuUse,
        waits: waited,
        statuses: after,
      },
    }
    log(
      `  recovery: launch ${launchMs.toFixed(0)} ms, dead lease expired at ${measure.leaseExpiredMs.toFixed(0)} ms, first takeover at ${measure.firstTakeoverMs.toFixed(0)} ms, ` +
        `then ${n} SUCCESS in ${drainMs.toFixed(0)} ms (${((n / drainMs) * 1000).toFixed(0)} workflows/s); total ${measure.totalMs.toFixed(0)} ms`,
    )
    log(`  ${describeRounds(rounds)}`)
    log(
      `  CPU during recovery (cores): machine ${fmtCores(cpuUse.machineCores)}, postgres ${fmtCores(cpuUse.postgresCores)} (our backends ${fmtCores(cpuUse.backendCores)}), bench process ${fmtCores(cpuUse.benchCores)}; backends: ${describeWaits(waited)}`,
    )
    return measure
  } finally {
    seen.reset()
    await waits?.stop().catch(() => undefined)
    await child?.kill()
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  cleanup: shutdown failed: ${String(e)}`))
    await dropSchema(sql, schema, log)
    await sql.end({ timeout: 5 })
  }
}

export interface FreshMeasure {
  readonly run: Series
  readonly waits: Waits
  readonly cpu: CpuUse
  readonly details: Record<string, unknown>
}

/** The reference: `n` workflows started and run on a fresh engine with the same settings, start → SUCCESS. */
export const measureFresh = async (url: string, o: RecoveryOptions): Promise<FreshMeasure> => {
  const { n, heartbeat, window, log } = o
  const schema = benchSchema()
  const sql = connect(url, 2)
  const launched: Durably[] = []
  let waits: ReturnType<typeof sampleWaits> | undefined
  const seen = observe(n)
  try {
    const worker = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [recovering],
      executorId: `bench-fresh-${uuidv7()}`,
      appVersion: "bench",
      heartbeat,
      logger: quietLogger,
    })
    launched.push(worker)
    waits = sampleWaits(url, schema)
    const cpu = measureCpu()
    const t0 = performance.now()
    for (let from = 0; from < n; from += window) {
      const batch = Array.from({ length: Math.min(window, n - from) }, (_, k) => from + k)
      await Promise.all(batch.map((i) => worker.start(recovering, { i, wait: "step" }, { id: idOf(i) })))
    }
    const startedAt = performance.now()
    await within(60_000 + n * 20, `running ${n} workflows`, seen.allThird)
    const doneAt = await untilNonePending(sql, schema, 60_000)
    const cpuSample = cpu.stop()
    const waited = await waits.stop()
    const cpuUse = attribute(cpuSample, waited.pids)
    launched.pop()
    await worker.shutdown()
    const after = await statusCounts(sql, schema)
    if (after["SUCCESS"] !== n) throw new Error(`after the fresh run: ${JSON.stringify(after)}, not ${n} SUCCESS`)
    const totalMs = doneAt - t0
    log(
      `  reference: ${n} started and run to SUCCESS on a fresh engine in ${totalMs.toFixed(0)} ms (${((n / totalMs) * 1000).toFixed(0)} workflows/s; starts took ${(startedAt - t0).toFixed(0)} ms); ` +
        `CPU machine ${fmtCores(cpuUse.machineCores)}, postgres ${fmtCores(cpuUse.postgresCores)} (our backends ${fmtCores(cpuUse.backendCores)}), bench ${fmtCores(cpuUse.benchCores)}`,
    )
    return {
      run: series(`fresh start→SUCCESS (same settings)`, n, totalMs),
      waits: waited,
      cpu: cpuUse,
      details: {
        schema,
        n,
        heartbeat,
        window,
        workflow: 'step "first", step "second", step "third" (all n through the step path)',
        startsMs: startedAt - t0,
        totalMs,
        workflowsPerSecond: (n / totalMs) * 1000,
        cpu: cpuUse,
        waits: waited,
        statuses: after,
      },
    }
  } finally {
    seen.reset()
    await waits?.stop().catch(() => undefined)
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  cleanup: shutdown failed: ${String(e)}`))
    await dropSchema(sql, schema, log)
    await sql.end({ timeout: 5 })
  }
}
