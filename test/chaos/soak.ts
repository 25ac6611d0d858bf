/**
 * One soak: a throwaway Postgres cluster, worker processes on it, a driver (this process) starting a mixed
 * workload, and the seeded fault loop, for `seconds`; then faults stop, everything is let finish, and the
 * checker reads the history. Used by `pnpm chaos` (run.ts) and by the CI test (chaos.test.ts).
 */
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import postgres from "postgres"
import { startCluster, type Cluster } from "../durability/support/cluster.ts"
import { prng } from "../durability/support/prng.ts"
import { check, historyAround, type History, type StepRow, type Verdict, type WorkflowRow } from "./checker.ts"
import { faultLoop } from "./faults.ts"
import { pickKind, startKind, type KindContext, type Planned } from "./kinds.ts"
import { createLedger, readRuns, readTxRows, unusedLedger, type Sql } from "./ledger.ts"
import { limitedQueues } from "./limits.ts"
import { startWorkers } from "./workers.ts"
import { chaosWorkflows, tickSchedule } from "./workflows.ts"

export interface SoakOptions {
  readonly seconds: number
  readonly seed: number
  readonly workers?: number
  /** How long, after the faults stop, everything may take to finish. */
  readonly settleSeconds?: number
  readonly log?: (line: string) => void
}

export interface SoakResult {
  readonly seed: number
  readonly verdict: Verdict
  /** The report as printed: figures, limits, violations with their history. */
  readonly report: string
}

const HEARTBEAT = { intervalMs: 300, leaseMs: 1500 }
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

const readSystem = async (sql: Sql) => {
  const workflows: WorkflowRow[] = (
    await sql`SELECT id, name, status, parent_id, output, error, executor_id, epoch, recovery_attempts, started_ms, queue
      FROM durably.workflows ORDER BY id`
  ).map((r) => ({
    startedMs: r["started_ms"] === null ? undefined : Number(r["started_ms"]),
    queue: (r["queue"] as string | null) ?? undefined,
    executorId: (r["executor_id"] as string | null) ?? undefined,
    epoch: Number(r["epoch"]),
    recoveryAttempts: Number(r["recovery_attempts"]),
    id: r["id"] as string,
    name: r["name"] as string,
    status: r["status"] as string,
    parentId: (r["parent_id"] as string | null) ?? undefined,
    output: (r["output"] as string | null) ?? undefined,
    error: (r["error"] as string | null) ?? undefined,
  }))
  const steps: StepRow[] = (
    await sql`SELECT workflow_id, step_id, name, kind, state, output FROM durably.steps ORDER BY workflow_id, step_id`
  ).map((r) => ({
    workflowId: r["workflow_id"] as string,
    stepId: Number(r["step_id"]),
    name: r["name"] as string,
    kind: r["kind"] as string,
    state: r["state"] as string,
    output: (r["output"] as string | null) ?? undefined,
  }))
  const streams = new Map<string, unknown[]>()
  for (const r of await sql`SELECT workflow_id, value FROM durably.stream_values WHERE key = 'values' ORDER BY workflow_id, stream_offset`)
    streams.set(r["workflow_id"] as string, [
      ...(streams.get(r["workflow_id"] as string) ?? []),
      JSON.parse(r["value"] as string),
    ])
  const events = new Map<string, unknown>()
  for (const r of await sql`SELECT workflow_id, value FROM durably.events WHERE key = 'stage'`)
    events.set(r["workflow_id"] as string, JSON.parse(r["value"] as string))
  return { workflows, steps, streams, events }
}

/** Wait until nothing is left to run (every workflow terminal), or the time is up. */
const settle = async (sql: Sql, ms: number, log: (line: string) => void) => {
  const deadline = Date.now() + ms
  for (;;) {
    const [row] = await sql`SELECT count(*)::int AS n FROM durably.workflows
      WHERE status NOT IN ('SUCCESS', 'ERROR', 'CANCELLED', 'DEAD')`.catch(() => [{ n: -1 }])
    const open = Number(row?.["n"])
    if (open === 0) return
    if (Date.now() > deadline) {
      log(`settle: ${open} workflows still not finished after ${ms / 1000} s`)
      return
    }
    await pause(500)
  }
}

/**
 * Wait for the driver's activities, including those tracked while waiting: a kind started just before the
 * workload stopped tracks its reader or sender only once its enqueue went through.
 */
const drain = async (tracked: Array<Promise<unknown>>, ms: number, log: (line: string) => void) => {
  const deadline = Date.now() + ms
  for (let awaited = -1; awaited < tracked.length;) {
    awaited = tracked.length
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), deadline - Date.now())))
    const outcome = await Promise.race([Promise.all(tracked.slice(0, awaited)), late])
    clearTimeout(timer)
    if (outcome === "late") {
      log(`driver activities still running after ${ms / 1000} s`)
      return
    }
  }
}

export const runSoak = async (options: SoakOptions): Promise<SoakResult> => {
  const log = options.log ?? ((line: string) => console.log(`[chaos] ${line}`))
  const random = prng(options.seed)
  const faultRandom = prng(options.seed ^ 0x5eed)
  log(`seed ${options.seed}, ${options.seconds} s (replay with --seed ${options.seed})`)
  const cluster: Cluster = await startCluster()
  let sql: Sql | undefined
  let durably: Durably | undefined
  let workers: ReturnType<typeof startWorkers> | undefined
  try {
    // No array-type fetch on connect (see packages/postgres/src/arrayTypes.ts): a DB crash then would kill us.
    sql = postgres(cluster.url, { max: 2, onnotice: () => undefined, fetch_types: false })
    await createLedger(sql)
    workers = startWorkers(options.workers ?? 3, { url: cluster.url, heartbeat: HEARTBEAT }, log)
    await workers.ready()
    const wf = chaosWorkflows(unusedLedger)
    // Without the tick workflow (a process that has it fires the schedule's ticks) and the debounced one (a
    // process that has it claims the due runs from `@debounce`): the driver runs nothing.
    const { tick: _ticksRunOnWorkers, debounced: _debouncedRunOnWorkers, ...driven } = wf
    durably = await Durably.launch({
      store: postgresStore({ url: `${cluster.url}?application_name=chaos-driver`, max: 4, pollInterval: 500 }),
      workflows: Object.values(driven),
      queues: Object.values(limitedQueues),
      executorId: "driver",
      appVersion: "chaos",
      heartbeat: false,
      recover: false,
      serveQueues: false,
      logger: false,
    })
    const tracked: Array<Promise<unknown>> = []
    const ctx: KindContext = {
      durably,
      wf,
      random,
      track: (p) => tracked.push(p.catch((e: unknown) => log(`driver activity failed: ${String(e)}`))),
      persist: async (what, action) => {
        for (let attempt = 1; ; attempt++)
          try {
            return await action()
          } catch (e) {
            if (attempt >= 60) throw new Error(`${what}: gave up after ${attempt} attempts: ${String(e)}`)
            await pause(500)
          }
      },
    }
    const end = Date.now() + options.seconds * 1000
    const planned: Planned[] = []
    const faults = faultLoop(
      { random: faultRandom, cluster, workers, leaseMs: HEARTBEAT.leaseMs, gapMs: [1500, 5000], log },
      () => Date.now() >= end,
    )
    let n = 0
    while (Date.now() < end) {
      const kind = pickKind(random)
      const id = `${kind}-${++n}`
      ctx.track(startKind(ctx, kind, id).then((p) => planned.push(...[p].flat())))
      await pause(100 + Math.floor(random() * 300))
    }
    // No ticks after the workload: what is left must finish, and the ticks' instants must be complete.
    await ctx.persist("pause the ticks", () => durably!.schedules.pause(tickSchedule.name))
    const injected = await faults
    log(`workload stopped: ${n} workflows started, ${injected.length} faults; letting everything finish`)
    const settleMs = (options.settleSeconds ?? 120) * 1000
    await drain(tracked, settleMs, log)
    await settle(sql, settleMs, log)
    // A reader sees the end of its stream just after its workflow ends.
    await drain(tracked, 30_000, log)
    const system = await readSystem(sql)
    const history: History = {
      planned,
      ...system,
      runs: await readRuns(sql),
      tx: await readTxRows(sql),
      faults: injected,
      lives: workers.lives,
      unexpected: workers.unexpected,
      logs: workers.logs(),
    }
    const verdict = check(history)
    return { seed: options.seed, verdict, report: describe(options, history, verdict, workers.launchFailures()) }
  } finally {
    await durably?.shutdown({ timeout: "2 seconds" }).catch(() => undefined)
    await workers?.stop().catch(() => undefined)
    await sql?.end({ timeout: 1 }).catch(() => undefined)
    await cluster.destroy()
  }
}

const describe = (options: SoakOptions, h: History, v: Verdict, launchFailures: number): string => {
  const lines = [`chaos soak: seed ${options.seed}, ${options.seconds} s`]
  for (const [k, value] of Object.entries(v.figures)) lines.push(`  ${k}: ${value}`)
  lines.push(`  worker launches retried while the database was down: ${launchFailures}`)
  lines.push("  queue limits (allowed / worst observed):")
  for (const l of v.limits) lines.push(`    ${l.queue} ${l.limit}: ${l.allowed} / ${l.observed} (${l.where})`)
  if (v.known.length > 0) {
    lines.push(`  known issues seen (${v.known.length}):`)
    for (const k of v.known) lines.push(`    [${k.issue}] ${k.message}`)
  }
  if (v.violations.length === 0) lines.push("  every invariant held")
  else {
    lines.push(`  VIOLATIONS (${v.violations.length}); replay with --seed ${options.seed}:`)
    for (const f of v.violations.slice(0, 20))
      lines.push(`  - ${f.invariant}: ${f.workflowId ?? ""} ${f.message}\n${historyAround(h, f)}`)
  }
  return lines.join("\n")
}
