/**
 * The worker whose memory is measured: one engine on the bench's schema (store and engine defaults). It
 * warms up (runs `warmup` workflows that wait for nothing), reports its idle memory, then on `start` starts
 * `n` workflows that wait (half sleep, half recv or awaiting a child that waits in recv) and holds them. On `measure` it reports its memory after
 * a full GC (run with --expose-gc), then after a last-resort one (which also compacts the heap and gives
 * V8's pooled free pages back); on `steady`, once V8 has collected on its own (no GC forced); on `snapshot` it writes a heap snapshot; on `cpu` its CPU time so far; on
 * `exit` it shuts down.
 *
 *   node --conditions=@durably/source --expose-gc worker.ts '{"url":…,"schema":…,"n":…,"warmup":…,"window":…}'
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { tmpdir } from "node:os"
import { getHeapStatistics, writeHeapSnapshot } from "node:v8"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { childSide, pause, quietLogger } from "../scaling/support.ts"
import { hooks, idOf, waitOf, waiting, waitingChild } from "./workflow.ts"

export interface MemoryWorkerConfig {
  readonly url: string
  readonly schema: string
  readonly n: number
  readonly warmup: number
  /** Starts in flight at once. */
  readonly window: number
  readonly executorId: string
}

export interface MemorySample {
  /** RSS before any collection. */
  readonly rssBeforeGc: number
  /** After a full (major, synchronous) GC: what the brief calls RSS after GC. */
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
  readonly mallocedMemory: number
  /** After a last-resort GC (compacting, releasing V8's pooled pages): the floor for what is live. */
  readonly rssCompacted: number
  readonly heapUsedCompacted: number
  readonly heapTotalCompacted: number
  /** Resident pages backed by files (the node binary's code), from /proc/self/status; -1 off Linux. */
  readonly rssFile: number
  readonly gc: boolean
}

const { config, say, on } = childSide<MemoryWorkerConfig>()
const gc = (globalThis as { gc?: (options?: object) => void }).gc

const rssFile = () => {
  try {
    const line = readFileSync("/proc/self/status", "utf8")
      .split("\n")
      .find((l) => l.startsWith("RssFile:"))
    return Number(/(\d+)/.exec(line ?? "")?.[1] ?? -1024) * 1024
  } catch {
    return -1
  }
}

const memory = async (): Promise<MemorySample> => {
  const rssBeforeGc = process.memoryUsage.rss()
  // Twice, with a pause between: what one collection frees can let the next free more (weak references).
  gc?.()
  await pause(100)
  gc?.()
  const m = process.memoryUsage()
  gc?.({ type: "major", execution: "sync", flavor: "last-resort" })
  const c = process.memoryUsage()
  return {
    rssBeforeGc,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    mallocedMemory: getHeapStatistics().malloced_memory,
    rssCompacted: c.rss,
    heapUsedCompacted: c.heapUsed,
    heapTotalCompacted: c.heapTotal,
    rssFile: rssFile(),
    gc: gc !== undefined,
  }
}

const cpu = () => {
  const c = process.cpuUsage()
  return { cpuMs: (c.user + c.system) / 1000, elu: performance.eventLoopUtilization() }
}

let after = 0
hooks.onAfter = () => void after++
// Executions in memory now (a parked one has ended here): one shared watcher, so it costs nothing per workflow.
let live = 0
const watcher = { end: () => void live-- }
const counting = {
  execution: () => {
    live++
    return watcher
  },
}

const durably = await Durably.launch({
  store: postgresStore({ url: config.url, schema: config.schema }),
  workflows: [waiting, waitingChild],
  executorId: config.executorId,
  appVersion: "bench",
  logger: quietLogger,
  observers: [counting],
})
for (let from = 0; from < config.warmup; from += config.window)
  await Promise.all(
    Array.from({ length: Math.min(config.window, config.warmup - from) }, (_, k) =>
      durably.run(waiting, { i: -1 - from - k, wait: "none" }),
    ),
  )
after = 0
// A clean slate after the warm-up (as a worker idle for a while would have, once V8's memory reducer ran).
gc?.({ type: "major", execution: "sync", flavor: "last-resort" })
await pause(1000)
say({ type: "baseline", memory: await memory(), ...cpu() })

on("start", async () => {
  const start = performance.now()
  for (let from = 0; from < config.n; from += config.window)
    await Promise.all(
      Array.from({ length: Math.min(config.window, config.n - from) }, (_, k) => {
        const i = from + k
        return durably.start(waiting, { i, wait: waitOf(i) }, { id: idOf(i) })
      }),
    )
  say({ type: "started", ms: performance.now() - start })
})
on("measure", async () => say({ type: "measured", memory: await memory(), ...cpu() }))
/**
 * The steady state, with no collection forced: wait until V8 collects on its own and gives the pages back (the
 * heap in use and the heap committed both fall by a third: its memory reducer) and the RSS has been still for
 * 5 s, then sample. A GC that an allocation triggered shrinks the heap in use but keeps the pages: taking that
 * for the steady state once read 1.23 GB for 100,000 waiting, with 172 MB of heap in use.
 * The forced full GC of `measure` does not give back the pages V8 pooled while the workflows started; V8 does
 * once the process has been quiet for a while, as a worker holding waiting workflows for hours is.
 */
on("steady", async (message) => {
  const maxMs = Number(message["maxMs"])
  const t0 = performance.now()
  const start = process.memoryUsage()
  let collectedAt: number | undefined
  let lastRss = start.rss
  let stillSince = performance.now()
  for (;;) {
    await pause(1000)
    const m = process.memoryUsage()
    if (collectedAt === undefined && m.heapUsed < (start.heapUsed * 2) / 3 && m.heapTotal < (start.heapTotal * 2) / 3)
      collectedAt = performance.now() - t0
    if (Math.abs(m.rss - lastRss) > 1024 * 1024) stillSince = performance.now()
    lastRss = m.rss
    const done = collectedAt !== undefined && performance.now() - stillSince >= 5000
    if (done || performance.now() - t0 > maxMs) {
      say({
        type: "steady",
        collected: collectedAt !== undefined,
        collectedAfterMs: collectedAt ?? -1,
        waitedMs: performance.now() - t0,
        rssAtStart: start.rss,
        heapUsedAtStart: start.heapUsed,
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
      })
      return
    }
  }
})
on("cpu", () => say({ type: "cpu", ...cpu() }))
on("snapshot", () => {
  const file = writeHeapSnapshot(join(tmpdir(), `durably-bench-${process.pid}-${Date.now()}.heapsnapshot`))
  say({ type: "snapshot", file })
})
on("exit", async () => {
  await durably.shutdown({ timeout: "5 seconds" })
  process.exit(0)
})
setInterval(() => say({ type: "progress", after, live }), 100)
