/**
 * One memory measurement. A worker process (./worker.ts, run with --expose-gc) launches an engine with the
 * store's and engine's defaults on a fresh schema, warms up, and reports its idle memory after a full GC:
 * the reference. It then starts `n` workflows (half `ctx.sleep("1 hour")`, 40% `ctx.recv("go")`, 10% awaiting
 * the result of a child that waits in `ctx.recv("go")`: see ./workflow.ts); once the database shows every
 * sleep's pending checkpoint and the waiters have had time to look for their message and settle (and, where
 * the engine parks waits, the workflows it holds in memory have stopped falling), the bench takes a quiet window (the worker's CPU, and the statements the schema's tables saw,
 * from pg_stat_user_tables) and then the worker's memory after a full GC: the subject.
 *
 * Then the waiters are woken: a client engine here sends "go" to each recv waiter and to each awaited child
 * (100 sends in flight), and the time until the worker has run all their last steps, and the database shows
 * them (and the children) SUCCESS, is reported. The
 * sleepers are left sleeping; the worker shuts down and the schema is dropped.
 */
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Durably, uuidv7 } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { benchSchema } from "../../harness.ts"
import {
  attribute,
  connect,
  dropSchema,
  fmtCores,
  measureCpu,
  measureWal,
  pause,
  pollUntil,
  quietLogger,
  sampleWaits,
  spawnChild,
  statusCounts,
  type Child,
  type CpuUse,
  type Sql,
  type Waits,
  type WalUse,
} from "../scaling/support.ts"
import { summarizeHeapSnapshot, type HeapSummary } from "./heapSummary.ts"
import type { MemorySample, MemoryWorkerConfig } from "./worker.ts"
import { GO, recipientsOf, waitOf, waiting, waitingChild } from "./workflow.ts"

const workerScript = fileURLToPath(new URL("./worker.ts", import.meta.url))

export interface MemoryOptions {
  readonly n: number
  readonly warmup: number
  readonly window: number
  /** The quiet window over which the waiting worker's load is measured. */
  readonly quietMs: number
  /** Over this RSS (projected to `goal.n` workflows), a heap snapshot of the holding worker is summarized. */
  readonly goal: { readonly mb: number; readonly n: number }
  /** "always" summarizes a snapshot whatever the RSS (quick runs: the summarizer must not rot). */
  readonly snapshot: "over-goal" | "always" | "never"
  /** How long to wait for V8 to collect on its own before the steady-state sample (see the worker's `steady`). */
  readonly steadyMaxMs: number
  readonly log: (line: string) => void
}

export interface SteadySample {
  readonly collected: boolean
  readonly collectedAfterMs: number
  readonly waitedMs: number
  readonly rssAtStart: number
  readonly heapUsedAtStart: number
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
}

export interface TableActivity {
  /** Index and sequential scans, tuples inserted/updated/deleted, per table, during the window. */
  readonly scans: number
  readonly writes: number
  readonly perTable: Record<string, { scans: number; writes: number }>
}

export interface MemoryMeasure {
  readonly baseline: MemorySample
  readonly holding: MemorySample
  /** With no GC forced, once V8 collected on its own (or when the wait ran out: `collected` false). */
  readonly steady: SteadySample
  readonly afterWake: MemorySample
  readonly startMs: number
  readonly quiet: {
    /** The window of the table counters, and the (shorter) one of the worker's CPU. */
    readonly ms: number
    readonly cpuMs: number
    readonly workerCpuMs: number
    readonly workerElu: number
    readonly tables: TableActivity
    /** The machine meanwhile (Postgres, our backends), and where our backends were. */
    readonly machine: CpuUse
    readonly waits: Waits
    /** Server-wide WAL flushes and bytes, this database's transactions, over the window `wal.ms`. */
    readonly wal: WalUse | undefined
  }
  readonly wakeMs: number
  /** The sends alone (100 in flight), and how many workflows the wake finished (waiters and children). */
  readonly sendMs: number
  readonly woken: number
  /** Executions the worker held in memory while the workflows waited. */
  readonly liveWhileWaiting: number
  /** RSS after a full GC, projected to `goal.n` workflows. */
  readonly projectedRss: number
  readonly heap: HeapSummary | undefined
  readonly details: Record<string, unknown>
}

type Counters = Map<string, { scans: number; writes: number }>

const tableCounters = async (sql: Sql, schema: string): Promise<Counters> =>
  new Map(
    (
      await sql.unsafe<{ relname: string; scans: string; writes: string }[]>(
        `SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans,
                n_tup_ins + n_tup_upd + n_tup_del AS writes
           FROM pg_stat_user_tables WHERE schemaname = $1`,
        [schema],
      )
    ).map((r) => [r.relname, { scans: Number(r.scans), writes: Number(r.writes) }]),
  )

const activity = (a: Counters, b: Counters): TableActivity => {
  const perTable: Record<string, { scans: number; writes: number }> = {}
  let scans = 0
  let writes = 0
  for (const [table, end] of b) {
    const start = a.get(table) ?? { scans: 0, writes: 0 }
    const d = { scans: end.scans - start.scans, writes: end.writes - start.writes }
    if (d.scans === 0 && d.writes === 0) continue
    perTable[table] = d
    scans += d.scans
    writes += d.writes
  }
  return { scans, writes, perTable }
}

const asSample = (m: unknown) => m as MemorySample

export const measureMemory = async (url: string, o: MemoryOptions): Promise<MemoryMeasure> => {
  const { n, warmup, window, quietMs, goal, log } = o
  if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new Error("measureMemory: n must be an even integer ≥ 2")
  const schema = benchSchema()
  const sql = connect(url, 1)
  const launched: Durably[] = []
  let child: Child | undefined
  try {
    const config: MemoryWorkerConfig = { url, schema, n, warmup, window, executorId: `bench-memory-${uuidv7()}` }
    child = spawnChild(workerScript, config, ["--expose-gc"])
    const baseline = await child.next("baseline", 60_000)
    if (!asSample(baseline["memory"]).gc) throw new Error("the worker has no gc(): --expose-gc did not reach it")
    log(`  worker pid ${child.pid}, schema ${schema}: idle RSS ${mb(asSample(baseline["memory"]).rss)} MB`)

    const sent = child.messages.length
    child.send({ type: "start" })
    const started = await child.next("started", 60_000 + n * 20, sent)
    const children = Array.from({ length: n }, (_, i) => waitOf(i)).filter((w) => w === "child").length
    await pollUntil(60_000 + n, 100, "every sleep to record its wake-up", async () => {
      const [row] = await sql.unsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM "${schema}".steps WHERE kind = 'sleep' AND state = 'pending'`,
      )
      return row?.n === n / 2 ? true : `${row?.n} of ${n / 2}`
    })
    // A recv without a timeout writes nothing while it waits: give every one time to have looked for its
    // message (one look at start, then the fallback poll's) before the quiet window.
    await pause(3_000)
    // Parked waits leave memory once they have waited a while (10 s by default): wait until the count of
    // executions held has not changed for longer than that.
    const worker0 = child
    const liveNow = () => Number(worker0.last("progress")?.["live"] ?? 0)
    let lastLive = liveNow()
    let changedAt = performance.now()
    // At most this long: on a loaded machine, workflows taken back after a lapsed heartbeat keep it moving.
    const settleBy = performance.now() + 60_000 + n
    while (performance.now() - changedAt < 12_000 && performance.now() < settleBy) {
      await pause(500)
      const now = liveNow()
      if (now !== lastLive) changedAt = performance.now()
      lastLive = now
    }
    const liveWhileWaiting = liveNow()
    const statuses = await statusCounts(sql, schema)
    if (statuses["PENDING"] !== n + children)
      throw new Error(`while waiting: ${JSON.stringify(statuses)}, not ${n + children} PENDING`)

    // The quiet window: what holding them costs while nothing happens.
    const cpuAt = async () => {
      const from = child!.messages.length
      child!.send({ type: "cpu" })
      return child!.next("cpu", 10_000, from)
    }
    const c0 = await cpuAt()
    const s0 = await tableCounters(sql, schema)
    const waits = sampleWaits(url, schema)
    const wal = await measureWal(sql)
    const cpu = measureCpu()
    const q0 = performance.now()
    await pause(quietMs)
    const c1 = await cpuAt()
    const cpuSample = cpu.stop()
    const cpuWall = performance.now() - q0
    const waited = await waits.stop()
    const machine = attribute(cpuSample, waited.pids)
    // Backends report their table counters at most once a second: wait for the last report.
    await pause(1_200)
    const s1 = await tableCounters(sql, schema)
    const walUse = await wal.stop()
    const quietWall = performance.now() - q0
    const elu = (m: typeof c0) => m["elu"] as { idle: number; active: number }
    const e0 = elu(c0)
    const e1 = elu(c1)
    const quiet = {
      ms: quietWall,
      cpuMs: cpuWall,
      workerCpuMs: Number(c1["cpuMs"]) - Number(c0["cpuMs"]),
      workerElu: (e1.active - e0.active) / (e1.active - e0.active + (e1.idle - e0.idle)),
      tables: activity(s0, s1),
      machine,
      waits: waited,
      wal: walUse,
    }

    // Before any forced GC (which would change what V8 does next): the steady state.
    let from = child.messages.length
    child.send({ type: "steady", maxMs: o.steadyMaxMs })
    const steady = (await child.next("steady", o.steadyMaxMs + 30_000, from)) as unknown as SteadySample
    log(
      `  steady state (no GC forced): RSS ${mb(steady.rssAtStart)} → ${mb(steady.rss)} MB, heap used ${mb(steady.heapUsedAtStart)} → ${mb(steady.heapUsed)} MB; ` +
        (steady.collected
          ? `V8 collected on its own ${(steady.collectedAfterMs / 1000).toFixed(0)} s into the wait`
          : `V8 did not collect on its own within ${(steady.waitedMs / 1000).toFixed(0)} s`),
    )

    from = child.messages.length
    child.send({ type: "measure" })
    const holding = asSample((await child.next("measured", 60_000, from))["memory"])
    log(
      `  holding ${n} waiting: RSS ${mb(holding.rss)} MB (+${mb(holding.rss - asSample(baseline["memory"]).rss)} MB, ` +
        `${kb((holding.rss - asSample(baseline["memory"]).rss) / n)} KB each), heap used ${mb(holding.heapUsed)} MB; ` +
        `quiet ${(quiet.ms / 1000).toFixed(1)} s: worker CPU ${((quiet.workerCpuMs / quiet.cpuMs) * 100).toFixed(0)}% of a core, ` +
        `its backends ${fmtCores(machine.backendCores)} cores, ` +
        `${((quiet.tables.scans / quiet.ms) * 1000).toFixed(0)} table scans/s (${Object.entries(quiet.tables.perTable)
          .map(([t, d]) => `${t} ${((d.scans / quiet.ms) * 1000).toFixed(0)}`)
          .join(", ")})`,
    )

    // Over the goal: which objects the heap holds.
    const projectedRss =
      asSample(baseline["memory"]).rss + ((holding.rss - asSample(baseline["memory"]).rss) * goal.n) / n
    let heap: HeapSummary | undefined
    if (o.snapshot === "always" || (o.snapshot === "over-goal" && projectedRss / 1024 / 1024 > goal.mb)) {
      from = child.messages.length
      const h0 = performance.now()
      child.send({ type: "snapshot" })
      const file = String((await child.next("snapshot", 300_000, from))["file"])
      try {
        heap = await summarizeHeapSnapshot(file, 25)
      } finally {
        rmSync(file, { force: true })
      }
      log(
        `  heap snapshot of ${heap.nodes} objects, ${mb(heap.selfBytes)} MB, summarized in ${(performance.now() - h0).toFixed(0)} ms; biggest: ` +
          heap.groups
            .slice(0, 6)
            .map((g) => `${g.type} ${g.name} ×${g.count} ${mb(g.selfBytes)} MB`)
            .join(", "),
      )
    }

    // Wake the recv half: they are live.
    const client = await Durably.launch({
      store: postgresStore({ url, schema }),
      workflows: [waiting, waitingChild],
      executorId: `bench-waker-${uuidv7()}`,
      appVersion: "bench",
      heartbeat: false,
      recover: false,
      logger: quietLogger,
    })
    launched.push(client)
    const recipients = recipientsOf(n)
    const w0 = performance.now()
    for (let k = 0; k < recipients.length; k += 100)
      await Promise.all(recipients.slice(k, k + 100).map((id) => client.send(id, GO, k)))
    const sendMs = performance.now() - w0
    const worker = child
    await pollUntil(60_000 + n * 10, 5, "the recv half to finish in the worker", async () => {
      const after = Number(worker.last("progress")?.["after"] ?? 0)
      return after >= n / 2 ? true : `${after} of ${n / 2}`
    })
    await pollUntil(60_000, 5, "the recv half to be SUCCESS", async () => {
      const [row] = await sql.unsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM "${schema}".workflows WHERE status = 'SUCCESS'`,
      )
      return row?.n === n / 2 + children + warmup ? true : `${row?.n} of ${n / 2 + children + warmup}`
    })
    const wakeMs = performance.now() - w0
    launched.pop()
    await client.shutdown()
    from = child.messages.length
    child.send({ type: "measure" })
    const afterWake = asSample((await child.next("measured", 60_000, from))["memory"])
    const final = await statusCounts(sql, schema)
    log(
      `  woke the ${n / 2} waiters (and ${children} children): sends took ${sendMs.toFixed(0)} ms, all SUCCESS after ${wakeMs.toFixed(0)} ms; ` +
        `then RSS ${mb(afterWake.rss)} MB, heap used ${mb(afterWake.heapUsed)} MB`,
    )
    await child.stop(20_000)
    return {
      baseline: asSample(baseline["memory"]),
      holding,
      steady,
      afterWake,
      startMs: Number(started["ms"]),
      quiet,
      wakeMs,
      sendMs,
      woken: n / 2 + children,
      liveWhileWaiting,
      projectedRss,
      heap,
      details: {
        schema,
        n,
        warmup,
        window,
        workflow:
          'half ctx.sleep("1 hour"), 40% ctx.recv("go"), 10% awaiting a child in ctx.recv("go"), each then one step; store and engine defaults',
        children,
        liveWhileWaiting,
        baseline: asSample(baseline["memory"]),
        holding,
        steady,
        afterWake,
        startMs: Number(started["ms"]),
        quiet,
        sendMs,
        wakeMs,
        projectedRss,
        heap,
        statuses: final,
      },
    }
  } finally {
    await child?.kill()
    for (const d of launched.reverse())
      await d.shutdown().catch((e: unknown) => log(`  cleanup: shutdown failed: ${String(e)}`))
    await dropSchema(sql, schema, log)
    await sql.end({ timeout: 5 })
  }
}

export const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
export const kb = (bytes: number) => (bytes / 1024).toFixed(1)
